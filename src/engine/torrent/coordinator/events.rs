//! What the coordinator does with each user command, peer event and tracker update.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Instant;

use crate::engine::api::*;
use crate::engine::peer::link::{PeerCmd, PeerEvent};
use crate::engine::peer::stream::PeerStream;
use crate::engine::peer::Start;
use crate::engine::torrent::choker::{self, UPLOAD_SLOTS};
use crate::engine::torrent::coordinator::Coordinator;
use crate::engine::torrent::peers::{Plan, DROP_COOL_DOWN};
use crate::engine::torrent::shared::Event;
use crate::engine::torrent::verify::blame::Blame;
use crate::engine::torrent::{human, pause_wanted};
use crate::protocol::handshake::Handshake;
use crate::protocol::peer_id;
use crate::tracker::{TrackerCommand, TrackerUpdate};

/// Hash failures after which a peer is banned (a piece it alone sent counts double).
const BAN_AFTER_FAILURES: u32 = 4;

impl Coordinator {
    pub(crate) fn on_command(&mut self, c: Command) {
        let now = Instant::now();
        if let Some(paused) = pause_wanted(&c, self.run.paused) {
            return self.set_paused(paused, now);
        }
        match c {
            Command::Quit
            | Command::Sleep
            | Command::Pause
            | Command::Resume
            | Command::TogglePause
            | Command::Refresh
            // The main loop restarts its tracker task (`coordinator.rs`).
            | Command::SetTrackers(_) => {}
            Command::SetFilePriority { files, priority } => {
                self.set_file_priority(&files, priority)
            }
            Command::SetSequential(on) => self.set_sequential(on),
            Command::SetFirstLast(on) => self.set_first_last(on),
            Command::SetSuperSeeding(on) => self.set_super_seeding(on),
            Command::Reannounce => match &self.sources.tracker_tx {
                Some(tx) => {
                    let _ = tx.try_send(TrackerCommand::Reannounce);
                }
                None => self.log(
                    LogLevel::Info,
                    "announce asked for: it has no tracker".into(),
                ),
            },
            Command::AddPeers(addrs) => {
                self.log(
                    LogLevel::Info,
                    format!("{} peers added by the user", addrs.len()),
                );
                self.peers.add(addrs, PeerSource::Manual, now);
                self.dial_new_peers(now);
            }
            Command::DropPeer(addr) => {
                if let Some(p) = self.peers.get_mut(&addr) {
                    p.send(PeerCmd::Disconnect(PeerEnd::DroppedByUser));
                    if p.dial.plan != Plan::Banned {
                        p.dial.plan = Plan::Dropped(now + DROP_COOL_DOWN);
                    }
                    p.set_idle_end(PeerEnd::DroppedByUser);
                    self.log(
                        LogLevel::Info,
                        format!(
                            "dropped {addr} (may return after {}s)",
                            DROP_COOL_DOWN.as_secs()
                        ),
                    );
                }
            }
            Command::BanPeer(addr) => {
                if let Some(p) = self.peers.get_mut(&addr) {
                    p.dial.plan = Plan::Banned;
                    p.send(PeerCmd::Disconnect(PeerEnd::Banned));
                    if !p.has_conn() {
                        p.set_idle_end(PeerEnd::Banned);
                        p.set_stage(PeerStage::Failed, now);
                    }
                    self.journal_peer(addr.ip(), false, "banned by the user");
                    self.log(LogLevel::Warn, format!("banned {addr} for this session"));
                }
            }
        }
    }

    pub(super) fn set_paused(&mut self, paused: bool, now: Instant) {
        if paused == self.run.paused {
            return;
        }
        self.run.paused = paused;
        self.link.resume_due = true;
        if paused {
            self.log(
                LogLevel::Info,
                "paused: no requests, no uploads; connections kept".into(),
            );
        } else {
            self.log(LogLevel::Info, "resumed".into());
        }
        self.apply_pause(now);
    }

    /// Tells the connections whether transfers are held: by the user's pause, or while the
    /// disk is full (`space.rs`); only a change is sent.
    pub(super) fn apply_pause(&mut self, now: Instant) {
        let held = self.run.paused || self.run.space.is_some();
        if held == self.shared.paused.swap(held, Ordering::Relaxed) {
            return;
        }
        let cmd = || {
            if held {
                PeerCmd::Pause
            } else {
                PeerCmd::Resume
            }
        };
        for p in self.peers.values() {
            p.send(cmd());
        }
        if !held {
            self.rechoke(now);
        }
    }

    pub(crate) fn on_event(&mut self, e: Event) {
        let now = Instant::now();
        match e {
            Event::Peer(e) => self.on_peer_event(e, now),
            Event::PieceDone {
                index,
                ok,
                contributors,
                blame,
            } => self.on_piece_done(index, ok, contributors, blame, now),
            Event::DiskError(e) => self.on_disk_error(e),
            Event::Incoming {
                stream,
                addr,
                handshake,
                since,
                answered,
            } => self.on_incoming(*stream, addr, (handshake, answered), since, now),
            Event::StreamDropped(blocks) => {
                for p in self.peers.active().filter(|p| p.in_flight() > 0) {
                    for r in &blocks {
                        p.send(PeerCmd::Cancel {
                            index: r.index,
                            begin: r.begin,
                        });
                    }
                }
            }
            Event::StreamSeek(due) => {
                for p in self.peers.active().filter(|p| p.in_flight() > 0) {
                    p.send(PeerCmd::Preempt(std::sync::Arc::clone(&due)));
                }
            }
            Event::WebRtcSetup(setup) => self.rtc_setups.push(setup),
            Event::LsdPeer(addr) => {
                if self.peers.add([addr], PeerSource::Lsd, now) > 0 {
                    self.log(
                        LogLevel::Info,
                        format!("LSD: peer {addr} on the local network"),
                    );
                    self.dial_new_peers(now);
                }
            }
        }
    }

    fn on_peer_event(&mut self, e: PeerEvent, now: Instant) {
        match e {
            PeerEvent::Stage { conn, stage } => {
                if let Some(p) = self.peers.by_conn(conn) {
                    p.set_stage(stage, now);
                }
            }
            PeerEvent::Handshaken {
                conn,
                peer_id,
                elapsed,
                encryption,
                transport,
                encryption_note,
                v2,
            } => {
                self.block_hashes.handshaken(conn, v2);
                self.on_handshaken(
                    conn,
                    peer_id,
                    elapsed,
                    encryption,
                    transport,
                    encryption_note,
                )
            }
            PeerEvent::Client { conn, name } => {
                if let Some(p) = self.peers.by_conn(conn) {
                    p.known.client = Some(name);
                }
            }
            PeerEvent::YourIp { conn, ip } => {
                let Some(voter) = self.peers.by_conn(conn).map(|p| p.addr.ip()) else {
                    return;
                };
                self.seen_as(ip, voter);
            }
            PeerEvent::Interest { conn } => {
                let slots_free = !self.uploads_held()
                    && choker::unchoke_now(&self.choke_candidates(), UPLOAD_SLOTS);
                let paused = self.run.paused;
                if let Some(p) = self.peers.by_conn(conn) {
                    let f = p.flags();
                    if f.peer_interested && f.am_choking && slots_free && !paused {
                        p.send(PeerCmd::Unchoke);
                    }
                }
            }
            PeerEvent::Ended { conn, end } => {
                self.super_seed_gone(conn);
                self.on_peer_end(conn, end, now);
                self.block_hashes_gone(conn, now);
            }
            PeerEvent::BlockDone { index, begin, conn } => {
                for p in self.peers.active() {
                    if p.conn_id() != Some(conn) && p.in_flight() > 0 {
                        p.send(PeerCmd::Cancel { index, begin });
                    }
                }
            }
            PeerEvent::DiskError(e) => self.on_disk_error(e),
            PeerEvent::PieceGone { index, error } => self.on_piece_gone(index, &error),
            PeerEvent::Pex { conn, event } => self.on_pex(conn, event),
            PeerEvent::Holepunch { conn, msg } => self.on_holepunch(conn, msg, now),
            PeerEvent::Hashes { conn, head, hashes } => {
                self.on_block_hashes(conn, head, hashes, now)
            }
            PeerEvent::HashReject { conn, head } => self.on_hash_reject(conn, head, now),
            PeerEvent::SuperSeed { conn, seen } => self.on_super_seen(conn, seen),
        }
    }

    /// Verified piece `index` was found gone from disk by a read to upload it: it is missing
    /// again (fetched again when wanted), every connection hears of it through the `lost`
    /// broadcast (BEP 54's `lt_donthave` to peers that take it), and a complete torrent is
    /// downloading again. Later reports of the same piece change nothing.
    pub(crate) fn on_piece_gone(&mut self, index: u32, e: &crate::engine::disk::DiskError) {
        let (lost, complete) = {
            let mut d = self.shared.download();
            (d.picker.piece_lost(index), d.picker.is_complete())
        };
        if !lost {
            return;
        }
        let _ = self.shared.lost.send(index);
        self.link.resume_due = true;
        self.run.lost.insert(index, e.to_string());
        self.log(
            LogLevel::Warn,
            format!("piece {index} lost ({e}): no longer announced to peers"),
        );
        if self.run.complete && !complete {
            self.run.complete = false;
            self.log(
                LogLevel::Info,
                format!("downloading again: piece {index} lost"),
            );
        }
    }

    pub(super) fn on_disk_error(&mut self, e: crate::engine::disk::DiskError) {
        if let Some(file) = super::space::waits_for_space(&e) {
            let file = file.to_path_buf();
            return self.on_disk_full(&file, &e, Instant::now());
        }
        let msg = format!("disk error: {e}");
        if e.is_fatal() {
            self.log(LogLevel::Error, msg.clone());
            self.run.fatal = Some(msg);
        } else {
            // One bad request (its connection has ended) or a cancel: the storage
            // still works, so the torrent goes on.
            self.log(LogLevel::Warn, msg);
        }
    }

    fn on_handshaken(
        &mut self,
        conn: u64,
        peer_id: [u8; 20],
        elapsed: std::time::Duration,
        encryption: crate::net::Encryption,
        transport: Option<crate::net::TransportKind>,
        encryption_note: Option<String>,
    ) {
        let other = self
            .peers
            .active()
            .find(|p| p.conn_id() != Some(conn) && p.known.peer_id == Some(peer_id))
            .map(|p| (p.addr, p.source == PeerSource::Incoming));
        let we_are_lower = self.shared.our_id < peer_id;
        let Some(p) = self.peers.by_conn(conn) else {
            return;
        };
        p.known.peer_id = Some(peer_id);
        p.known.handshake_time = Some(elapsed);
        p.setup.encryption = Some(encryption);
        p.setup.transport = transport;
        let note_line = encryption_note.as_ref().map(|n| format!("{}: {n}", p.addr));
        p.setup.encryption_note = encryption_note;
        p.known.id_client = peer_id::decode_client(&peer_id);
        if p.known.client.is_none() {
            p.known.client = p.known.id_client.clone();
        }
        // Two connections to one peer (we both dialed at once): both sides keep the one
        // the lower peer id started, so they agree without talking about it.
        if let Some((other_addr, other_incoming)) = other {
            let this_incoming = p.source == PeerSource::Incoming;
            let drop_this = if this_incoming == other_incoming {
                true
            } else {
                // Keep ours (outgoing) when we are lower, theirs (incoming) otherwise.
                this_incoming == we_are_lower
            };
            if drop_this {
                p.send(PeerCmd::Disconnect(PeerEnd::Duplicate));
            } else if let Some(o) = self.peers.get(&other_addr) {
                o.send(PeerCmd::Disconnect(PeerEnd::Duplicate));
            }
        }
        if let Some(line) = note_line {
            self.log(LogLevel::Info, line);
        }
    }

    fn on_peer_end(&mut self, conn: u64, end: PeerEnd, now: Instant) {
        let complete = self.run.complete;
        let n = self.shared.info.num_pieces();
        let Some(p) = self.peers.end_conn(conn) else {
            return;
        };
        // Remembered past this connection: a seeding torrent does not dial it back.
        if n > 0 && p.pieces() == n {
            p.known.seed = true;
        }
        let stage = p.finish(&end, complete, now);
        let addr = p.addr;
        let text = match stage {
            PeerStage::Failed => format!("{addr}: failed: {end}"),
            _ => format!(
                "{addr} ({}): disconnected: {end}",
                p.known.client.as_deref().unwrap_or("?")
            ),
        };
        // Blocks it sent may yet be proven bad (`bad_blocks.rs`): its address is kept for that.
        self.shared.download().sender_gone(conn, addr);
        let quiet = matches!(end, PeerEnd::Shutdown | PeerEnd::Duplicate);
        if !quiet {
            let level = match end {
                PeerEnd::Internal(_) => LogLevel::Error,
                PeerEnd::Protocol(_)
                | PeerEnd::HashFailures(_)
                | PeerEnd::BadBlocks(_)
                | PeerEnd::WrongInfoHash => LogLevel::Warn,
                _ => LogLevel::Info,
            };
            self.log(level, text);
        }
        if stage == PeerStage::Failed {
            self.ask_for_punch(addr, now);
        }
    }

    fn on_incoming(
        &mut self,
        stream: PeerStream,
        addr: SocketAddr,
        (hs, answered): (Handshake, bool),
        since: Instant,
        now: Instant,
    ) {
        let active = self.peers.active().count();
        // A banned or recently dropped peer that dials back from another port stays out: the
        // user said so, and the cool-down promised in the log holds for incoming connections
        // too.
        let refused = self.peers.refuses_ip(addr.ip(), now);
        if active >= self.given.opts.max_peers || refused || hs.peer_id == self.shared.our_id {
            return;
        }
        if self
            .peers
            .get(&addr)
            .is_some_and(|p| p.has_conn() || p.is_banned())
        {
            return;
        }
        if self.peers.incoming_entry(addr, now).is_none() {
            return;
        }
        let start = Start::Accepted {
            stream: Box::new(stream),
            handshake: hs,
            since,
            answered,
        };
        self.spawn_peer(addr, start, PeerStage::Handshaking, now);
    }

    fn on_piece_done(
        &mut self,
        index: u32,
        ok: bool,
        contributors: Vec<u64>,
        blame: Blame,
        now: Instant,
    ) {
        let deferred = blame == Blame::Deferred;
        let blame = match blame {
            Blame::Proven(culprits) => {
                self.on_bad_blocks(index, culprits);
                None
            }
            Blame::Narrow {
                width,
                leaves,
                senders,
            } => Some((width, leaves, senders)),
            _ => None,
        };
        if let (Some((width, leaves, senders)), false) = (blame, ok) {
            // Held until its bad blocks are known (or it is given up on).
            let names: Vec<String> = contributors
                .iter()
                .filter_map(|c| self.sender(*c))
                .collect();
            let names = names.join(", ");
            return self.narrow_failed_piece(index, &names, width, leaves, senders, now);
        }
        if ok {
            self.run.lost.remove(&index);
            // The connections heard of it through the `verified` broadcast already.
            if !self.run.complete && self.shared.download().picker.is_complete() {
                self.on_complete();
                self.tell_completed();
            }
            return;
        }
        if deferred {
            let names: Vec<String> = contributors
                .iter()
                .filter_map(|c| self.sender(*c))
                .collect();
            self.log(
                LogLevel::Warn,
                format!(
                    "piece {index} failed its hash check (from {}); fetching it again, to \
                     see whose blocks were bad once it verifies",
                    names.join(", ")
                ),
            );
            return;
        }
        let sole = contributors.len() == 1;
        let mut names = Vec::new();
        let mut to_ban = Vec::new();
        for conn in &contributors {
            if self.peers.by_conn(*conn).is_none() {
                // Gone already: named, though there is nothing left to charge.
                if let Some(a) = self.shared.download().gone_sender(*conn) {
                    names.push(a.to_string());
                }
            }
            if let Some(p) = self.peers.by_conn(*conn) {
                p.known.hash_failures += if sole { 2 } else { 1 };
                names.push(p.addr.to_string());
                if p.known.hash_failures >= BAN_AFTER_FAILURES {
                    to_ban.push((p.addr, p.known.hash_failures));
                }
            }
            if let Some(w) = self.webseeds.iter_mut().find(|w| w.conn == *conn) {
                names.push(w.url.clone());
                // Given up on, it says so in its row and in the log on the next tick.
                w.hash_failed(sole, BAN_AFTER_FAILURES);
            }
        }
        self.log(
            LogLevel::Warn,
            format!(
                "piece {index} failed its hash check (from {}); fetching it again",
                names.join(", ")
            ),
        );
        for (addr, n) in to_ban {
            if let Some(p) = self.peers.get_mut(&addr) {
                p.dial.plan = Plan::Banned;
                p.send(PeerCmd::Disconnect(PeerEnd::HashFailures(n.div_ceil(2))));
            }
            self.journal_peer(addr.ip(), false, "repeated hash failures");
            self.log(
                LogLevel::Warn,
                format!("banned {addr}: repeated hash failures"),
            );
        }
    }

    pub(crate) fn on_complete(&mut self) {
        self.run.complete = true;
        self.link.resume_due = true;
        if self.link.lifetime.completed.is_none() {
            self.link.lifetime.completed = Some(crate::engine::torrent::report::unix_now());
        }
        let n = self.shared.info.num_pieces();
        let downloaded = self.shared.downloaded.load(Ordering::Relaxed);
        self.log(
            LogLevel::Info,
            format!(
                "complete: all {n} pieces verified ({} downloaded this session)",
                human(downloaded)
            ),
        );
        if let Some(tx) = &self.sources.tracker_tx {
            let _ = tx.try_send(TrackerCommand::Completed);
        }
        for p in self.peers.active() {
            if p.pieces() == n {
                p.send(PeerCmd::Disconnect(PeerEnd::NotNeeded));
            }
        }
    }

    /// Peers a tracker listed; `under_v2`: in a hybrid's v2 swarm only.
    /// `voter` (a peer's `yourip`, a tracker's BEP 24 `external ip`) sees us at `ip`: BEP 40
    /// priorities are reckoned from it, and the DHT takes a BEP 42 id once enough voters
    /// agree.
    fn seen_as(&mut self, ip: std::net::IpAddr, voter: std::net::IpAddr) {
        self.peers.set_external(ip);
        if let Some(dht) = &self.shared.dht {
            dht.vote_external(ip, voter);
        }
    }

    fn on_tracker_peers(&mut self, addrs: Vec<SocketAddr>, under_v2: bool) {
        let now = Instant::now();
        let complete = self.run.complete;
        let mut fresh = Vec::new();
        for addr in addrs {
            if self.is_our_addr(&addr) {
                continue;
            }
            if self.peers.get(&addr).is_some() {
                self.peers.relisted(&addr, complete, now);
            } else {
                fresh.push(addr);
            }
        }
        let added = self
            .peers
            .add(fresh.iter().copied(), PeerSource::Tracker, now);
        if under_v2 {
            self.peers.mark_v2_swarm(&fresh);
        }
        if added > 0 {
            tracing::debug!("{added} new peers from trackers");
            self.dial_new_peers(now);
        }
    }

    pub(crate) fn on_tracker(&mut self, u: TrackerUpdate) {
        match u {
            TrackerUpdate::Peers(addrs) => self.on_tracker_peers(addrs, false),
            TrackerUpdate::PeersUnderV2(addrs) => self.on_tracker_peers(addrs, true),
            TrackerUpdate::SeenAs(seen) => self.seen_as(seen.ip, seen.voter),
            TrackerUpdate::Status(rows) => {
                let due = rows.iter().filter_map(|r| r.next_announce).min();
                let at = due.map(|d| crate::engine::torrent::report::unix_now() + d.as_secs());
                // Rows computed a second apart name the same due time ±1 s.
                let moved = match (at, self.shown.next_announce) {
                    (Some(a), Some(b)) => a.abs_diff(b) > 1,
                    (a, b) => a != b,
                };
                if moved {
                    self.shown.next_announce = at;
                }
                let before = self.shown.tracker_marks.as_deref();
                let marks = crate::engine::api::TrackerMark::of(&rows, before);
                if before != Some(&marks[..]) {
                    self.shown.tracker_marks = Some(marks.into());
                }
                self.shown.snap.trackers = rows;
            }
            TrackerUpdate::Log(level, text) => self.log(level, text),
        }
    }
}

mod bad_blocks;
pub(super) mod block_hashes;

#[cfg(test)]
mod tests;
