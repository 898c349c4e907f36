//! What the coordinator publishes: counted time and lifetime totals, the torrent's line in
//! the session's list, resume points, and the full snapshot while someone watches.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::engine::api::*;
use crate::engine::peer::descriptors;
use crate::engine::torrent::coordinator::Coordinator;
use crate::engine::torrent::report::{self, Lifetime, Report, ResumePoint};
use crate::engine::torrent::snapshot::{self, Totals};

/// The ticks (of 250 ms) the Snapshot's `disk.held` is the share of: 5 s, long enough that a
/// writer catching up for a moment between two full backlogs does not hide them.
const HELD_WINDOW_TICKS: u32 = 20;
/// A connection refused for want of a place this recently still holds the torrent back
/// (the explainer's `descriptors` line).
const PLACES_RECENT: Duration = Duration::from_secs(60);
const HELD_WINDOW_MASK: u32 = (1 << HELD_WINDOW_TICKS) - 1;

impl Coordinator {
    /// Adds the time since the last count to seeding or active time (not while paused).
    pub(super) fn count_time(&mut self, now: Instant) {
        let moved = self.shared.downloaded.load(Ordering::Relaxed)
            + self.shared.uploaded.load(Ordering::Relaxed);
        if moved != self.shown.moved {
            self.shown.moved = moved;
            self.link.lifetime.last_activity = report::unix_now();
        }
        let secs = now.duration_since(self.link.counted_until).as_secs();
        if secs == 0 {
            return;
        }
        self.link.counted_until += Duration::from_secs(secs);
        if self.run.paused || self.run.fatal.is_some() || self.run.storage_hold.is_some() {
            return;
        }
        self.link.lifetime.active_secs += secs;
        if self.run.complete {
            self.link.lifetime.seeding_secs += secs;
        }
    }

    /// Lifetime counters: earlier runs plus this one.
    pub(crate) fn lifetime(&self) -> Lifetime {
        Lifetime {
            downloaded: self.link.lifetime.downloaded
                + self.shared.downloaded.load(Ordering::Relaxed),
            uploaded: self.link.lifetime.uploaded + self.shared.uploaded.load(Ordering::Relaxed),
            ..self.link.lifetime
        }
    }

    pub(super) fn state(&self) -> TorrentState {
        if let (Some(hold), None) = (&self.run.storage_hold, &self.run.fatal) {
            return TorrentState::Error(hold.words());
        }
        snapshot::torrent_state(
            &self.shown.snap.state,
            self.run.fatal.as_deref(),
            self.run.paused,
            self.run.complete,
            self.given.opts.seed,
        )
    }

    /// The torrent's line in the session's list.
    pub(crate) fn publish_line(&self) {
        let Some(line) = &self.link.line else {
            return;
        };
        let n = self.shared.info.num_pieces();
        let (mut peers, mut seeds, mut interested) = (0, 0, 0);
        for p in self.peers.active() {
            if p.stage() == PeerStage::Connected {
                peers += 1;
                seeds += u32::from(n > 0 && p.pieces() == n);
                interested += u32::from(p.flags().peer_interested);
            }
        }
        let verified = self.shared.download().picker.verified_bytes();
        let lifetime = self.lifetime();
        let state = self.state();
        let (wanted_bytes, files_why) = self.wanted_words();
        let why = match &state {
            TorrentState::Error(e) => Some(e.clone()),
            // A piece lost to the disk first: the user must hear which file, and where.
            _ if !self.run.lost.is_empty() => self.lost_words(),
            // Found on disk by cross-seeding: how much, while the rest is fetched.
            _ if !self.run.complete && self.run.cross_seed.is_some() => {
                let left = crate::fmt::bytes_short(self.shared.download().picker.left());
                self.run
                    .cross_seed
                    .as_ref()
                    .map(|w| format!("{w}, fetching {left}"))
            }
            // Else a limit at (nearly) full use is what holds the torrent back: say which.
            _ => files_why.or_else(|| {
                self.shared
                    .rates
                    .why(self.shown.down.rate(), self.shown.up.rate())
                    .or_else(|| self.super_seeding_words().map(String::from))
            }),
        };
        let verified = if wanted_bytes < self.given.meta.info.total_length {
            wanted_bytes.saturating_sub(self.shared.download().picker.left())
        } else {
            verified
        };
        let availability = (!self.run.complete).then(|| {
            let d = self.shared.download();
            distributed_copies(d.picker.availability(), d.picker.have())
        });
        line.send_modify(|l| {
            l.id = self.link.id;
            l.info_hash = self.given.meta.info_hash;
            l.info_hash_v2 = self.given.meta.info_hash_v2;
            l.name.clone_from(&self.given.meta.info.name);
            l.state = state;
            l.why = why;
            l.total_bytes = self.given.meta.info.total_length;
            l.wanted_bytes = wanted_bytes;
            l.verified_bytes = verified;
            l.downloaded = lifetime.downloaded;
            l.uploaded = lifetime.uploaded;
            l.down_rate = self.shown.down.rate();
            l.up_rate = self.shown.up.rate();
            l.peers = peers;
            l.seeds = seeds;
            l.peers_interested = interested;
            l.next_announce = self.shown.next_announce;
            l.save_path.clone_from(&self.given.opts.output);
            l.completed = lifetime.completed;
            l.blocked = self.run.blocked;
            l.super_seeding = self.superseed_wanted();
            l.sequential = self.plan.sequential;
            l.first_last = self.plan.first_last;
            // Until its trackers report, a woken task keeps what they said before it slept
            // (its line starts as the slot's).
            if let Some(marks) = &self.shown.tracker_marks {
                if l.trackers.as_ref().map(Arc::as_ptr) != Some(Arc::as_ptr(marks)) {
                    l.trackers = (!marks.is_empty()).then(|| Arc::clone(marks));
                }
            }
            l.availability = availability;
            l.last_activity = lifetime.last_activity;
            l.private = self.given.meta.info.private;
            l.seen_complete = self.shown.seen_complete;
        });
    }

    /// The pieces lost to the disk since they verified (`RunState::lost`), in words: the first
    /// one's read error, and how many more.
    pub(super) fn lost_words(&self) -> Option<String> {
        let (index, error) = self.run.lost.iter().next()?;
        let more = match self.run.lost.len() - 1 {
            0 => String::new(),
            n => format!(" (and {n} more)"),
        };
        Some(format!(
            "piece {index} lost{more}: {error}; downloading it again"
        ))
    }

    /// A resume point every `RESUME_EVERY` while pieces get verified or the lifetime counters
    /// move (a slow download with big pieces, or a seed, may go minutes without a piece, and
    /// a crash may lose only `RESUME_EVERY` of its totals), and at once after a state change.
    pub(super) fn maybe_resume(&mut self, now: Instant) {
        if self.link.reports.is_none() {
            return;
        }
        let have = self.shared.download().picker.have().count();
        let bytes = {
            let l = self.lifetime();
            l.downloaded + l.uploaded
        };
        let moved = (have != self.link.resume_have || bytes != self.link.resume_bytes)
            && now.duration_since(self.link.last_resume) >= report::RESUME_EVERY;
        if moved || self.link.resume_due {
            self.send_resume(false);
        }
    }

    /// Tells the session the torrent has just completed, after a resume point with every
    /// piece (the session may move its files at once and must trust them all).
    pub(crate) fn tell_completed(&mut self) {
        if self.link.reports.is_none() {
            return;
        }
        self.send_resume(false);
        if let Some(reports) = &self.link.reports {
            let downloaded = self.lifetime().downloaded;
            let _ = reports.send((self.link.id, Report::Completed { downloaded }));
        }
    }

    /// `clean`: the torrent has stopped and its files are flushed.
    pub(crate) fn send_resume(&mut self, clean: bool) {
        let Some(reports) = &self.link.reports else {
            return;
        };
        let have = self.shared.download().picker.have().clone();
        self.link.resume_have = have.count();
        self.link.last_resume = Instant::now();
        self.link.resume_due = false;
        let mut peers: Vec<_> = self
            .peers
            .values()
            .filter(|p| p.reached_connected())
            .map(|p| p.addr)
            .collect();
        peers.truncate(report::RESUME_PEERS);
        let lifetime = self.lifetime();
        self.link.resume_bytes = lifetime.downloaded + lifetime.uploaded;
        let point = ResumePoint {
            have,
            lifetime,
            paused: self.run.paused,
            peers,
            clean,
            files: self.plan.clone(),
            rates: self.shared.rates.own(),
            durable: Some(Arc::clone(&self.shared.storage)),
        };
        let _ = reports.send((self.link.id, Report::Resume(Box::new(point))));
    }

    pub(super) fn build_snapshot(&mut self) -> Snapshot {
        let now = Instant::now();
        let d = self.shared.download();
        let mut pieces = std::mem::take(&mut self.shown.snap.pieces);
        d.picker.piece_states(&mut pieces);
        let availability = d.picker.availability().to_vec();
        crate::engine::torrent::priorities::fill_done(
            &self.shared.info,
            d.picker.have(),
            &mut self.shown.snap.files,
        );
        let verified = d.picker.verified_bytes();
        let (backlog, _, _) = d.disk_state();
        drop(d);
        let n = self.shared.info.num_pieces();
        let mut peers: Vec<PeerRow> = self
            .peers
            .values()
            .map(|p| snapshot::peer_row(p, now, n))
            .chain(self.webseeds.iter().map(|w| w.row(now, n)))
            .collect();
        peers.extend(
            self.rtc_setups
                .rows(now, |addr| self.peers.get(addr).is_some()),
        );
        let state = self.state();
        let own = self.shared.storage.read_waits.figures(now);
        let reads = self.shared.storage.device_waits.figures(now);
        let totals = Totals {
            verified,
            downloaded: self.shared.downloaded.load(Ordering::Relaxed),
            uploaded: self.shared.uploaded.load(Ordering::Relaxed),
            wasted: self.shared.wasted.load(Ordering::Relaxed),
            down_rate: self.shown.down.rate(),
            up_rate: self.shown.up.rate(),
            elapsed: self.shown.started.elapsed(),
            listen_port: self.shared.listen_port.load(Ordering::Relaxed),
            since_upload: now.saturating_duration_since(self.shown.last_upload.1),
            full_copy_seen_ago: self
                .shown
                .full_copy_seen
                .map(|at| now.saturating_duration_since(at)),
            own_limits: self.shared.rates.own(),
            limits_held: self.shared.rates.held(now),
            disk: DiskRow {
                backlog,
                held: (self.shown.held_ticks & HELD_WINDOW_MASK).count_ones() as f32
                    / HELD_WINDOW_TICKS as f32,
                write_rate: self.shown.written.rate(),
                down_peak: self.shown.down_peak,
                reads_here: own.waiting > 0 || own.average.is_some(),
                reads_waiting: reads.waiting,
                read_waited: reads.waited,
                read_average: reads.average,
            },
            uplink: self.shown.uplink.row(),
        };
        let log = snapshot::log_tail(&self.shown.log);
        let mut snap = snapshot::build(
            &self.shown.snap,
            state,
            totals,
            pieces,
            availability,
            peers,
            log,
        );
        self.shown.snap.pieces = snap.pieces.clone();
        snap.blocked = self.run.blocked;
        snap.unroutable_peers = self.peers.unroutable();
        if let Some(streams) = &self.streams {
            snap.streams = streams.rows(&self.shared.info_hash);
        }
        snap.introductions = self.run.introductions;
        snap.relay_bytes = self.run.relay_bytes;
        snap.descriptors = self
            .run
            .out_of_places
            .filter(|at| now.saturating_duration_since(*at) < PLACES_RECENT)
            .map(|_| {
                let u = descriptors::peers().usage();
                DescriptorRow {
                    nofile: u.nofile,
                    peers: u.capacity,
                    in_use: u.in_use,
                }
            });
        snap
    }
}

impl Coordinator {
    /// Notes now as when a full copy was last among the peers and ourselves (each tick).
    pub(super) fn see_full_copy(&mut self, now: Instant) {
        let d = self.shared.download();
        let whole = self.run.complete
            || distributed_copies(d.picker.availability(), d.picker.have()) >= 1.0;
        drop(d);
        if whole {
            self.shown.full_copy_seen = Some(now);
        }
        self.shown.seen_complete = self.shown.seen_complete.next(whole, report::unix_now());
    }
}

/// Distributed copies as libtorrent counts them: the rarest piece's count among the peers
/// (ourselves counted where we have it), plus the share of pieces more common than that, to
/// hundredths.
fn distributed_copies(peers_with: &[u16], have: &crate::protocol::bitfield::Bitfield) -> f32 {
    let count = |(i, &n): (usize, &u16)| u32::from(n) + u32::from(have.get(i as u32));
    let Some(min) = peers_with.iter().enumerate().map(count).min() else {
        return 0.0;
    };
    let above = peers_with
        .iter()
        .enumerate()
        .map(count)
        .filter(|&n| n > min)
        .count();
    let share = above as f32 / peers_with.len() as f32;
    ((min as f32 + share) * 100.0).floor() / 100.0
}

#[cfg(test)]
mod copies_tests {
    use super::distributed_copies;
    use crate::protocol::bitfield::Bitfield;

    #[test]
    fn distributed_copies_count_the_rarest_piece_and_the_share_above_it() {
        // Four pieces: peers have 1, 2, 0, 3 of them; we have the third.
        let mut have = Bitfield::new(4);
        have.set(2);
        assert_eq!(distributed_copies(&[1, 2, 0, 3], &have), 1.5);
        // No one has the last piece: 0 copies and the share that is there.
        assert_eq!(distributed_copies(&[1, 1, 1, 0], &Bitfield::new(4)), 0.75);
        assert_eq!(distributed_copies(&[], &Bitfield::new(0)), 0.0);
    }
}
