//! One tier's side of an announce: an answer moves the URL to the front (BEP 12) and sets
//! the next announce; a failure tries the next URL or backs off. Pure state, no I/O, so the
//! log lines are gathered and written by the task.

use super::*;

impl Tier {
    /// `trackers[pos]` answered: it moves to the front (BEP 12) and the tier waits the
    /// tracker's interval. Returns the peers it listed, capped and without repeats.
    pub(super) fn on_answer(
        &mut self,
        pos: usize,
        mut resp: AnnounceResponse,
        sent: &Sent,
        complete: bool,
        now: Instant,
        logs: &mut Logs,
    ) -> Vec<SocketAddr> {
        let mut t = self.trackers.remove(pos);
        let peers = peer_list(std::mem::take(&mut resp.peers), &t.url, logs);
        t.status = TrackerStatus::Ok { peers: peers.len() };
        t.last_done = Some(now);
        t.seeders = resp.seeders;
        t.leechers = resp.leechers;
        t.warning = resp.warning.clone();
        t.min_interval = resp.min_interval;
        if let Some(w) = t.also_warning.take() {
            t.warning.get_or_insert(w);
        }
        if let (Some(s), Some(l)) = (t.also_counts.0.take(), t.also_counts.1.take()) {
            // Two swarms of one torrent mostly hold the same peers: the larger is the
            // better guess, their sum would count each hybrid client twice.
            t.seeders = t.seeders.map(|x| x.max(s));
            t.leechers = t.leechers.map(|x| x.max(l));
        }
        t.main.answered(sent.event, sent.left, sent.counts);
        // A `completed` that arrived while `started` was in flight goes out at once.
        let owe_completed = complete
            && ((t.main.started_ok && !t.main.completed_ok)
                || (sent.also_event.is_some() && t.also.started_ok && !t.also.completed_ok));
        let url = t.url.clone();
        self.trackers.insert(0, t);
        self.cursor = 0;
        self.failed_rounds = 0;
        self.next_at = if owe_completed {
            now
        } else {
            now + spread(resp.interval)
        };
        let counts = match (resp.seeders, resp.leechers) {
            (Some(s), Some(l)) => format!(" ({s} seeders, {l} leechers)"),
            _ => String::new(),
        };
        let ev = event_note(sent.event);
        logs.push((
            LogLevel::Info,
            format!("announce{ev} to {url} ok: {} peers{counts}", peers.len()),
        ));
        if let Some(w) = resp.warning {
            logs.push((LogLevel::Warn, format!("tracker {url} warns: {w}")));
        }
        peers
    }

    /// The answer under a hybrid's v2 hash, to `trackers[pos]`: what it acknowledged is
    /// kept apart from the main hash's (a `started` it missed is sent again next time),
    /// its peers join the main answer's, a failure is logged and shown as the tracker's
    /// warning. The tier's schedule follows the main hash alone.
    pub(super) fn on_also(
        &mut self,
        pos: usize,
        result: Result<AnnounceResponse, TrackerError>,
        sent: &Sent,
        event: AnnounceEvent,
        logs: &mut Logs,
    ) -> Vec<SocketAddr> {
        let Some(t) = self.trackers.get_mut(pos) else {
            return Vec::new();
        };
        let ev = event_note(event);
        match result {
            Ok(resp) => {
                t.also.answered(event, sent.left, sent.counts);
                t.also_counts = (resp.seeders, resp.leechers);
                t.also_warning = None;
                let peers = peer_list(resp.peers, &t.url, logs);
                logs.push((
                    LogLevel::Info,
                    format!(
                        "announce{ev} to {} under the v2 hash ok: {} peers",
                        t.url,
                        peers.len()
                    ),
                ));
                peers
            }
            Err(e) => {
                t.also_counts = (None, None);
                t.also_warning = Some(format!("the v2 hash's announce failed: {e}"));
                logs.push((
                    LogLevel::Warn,
                    format!("announce{ev} to {} under the v2 hash failed: {e}", t.url),
                ));
                Vec::new()
            }
        }
    }

    /// An announce asked for by hand: due now, unless the tracker that answered last gave a
    /// minimum interval that has not passed (announcing earlier gets us refused or dropped).
    /// A tier that was backing off after failures starts over. Returns when it is due.
    pub(super) fn reannounce(&mut self, now: Instant) -> Instant {
        self.failed_rounds = 0;
        let earliest = self
            .trackers
            .first()
            .and_then(|t| match (&t.status, t.last_done) {
                (TrackerStatus::Ok { .. }, Some(done)) => t.min_interval.map(|m| done + m),
                _ => None,
            });
        self.next_at = earliest.map_or(now, |e| e.max(now));
        self.next_at
    }

    /// `trackers[pos]` failed: the next URL of the tier is tried at once (returns true), or,
    /// when it was the last, the tier backs off, doubling per failed round.
    pub(super) fn on_failure(
        &mut self,
        pos: usize,
        e: &TrackerError,
        sent: &Sent,
        config: &TaskConfig,
        now: Instant,
        logs: &mut Logs,
    ) -> bool {
        if let Some(t) = self.trackers.get_mut(pos) {
            t.status = TrackerStatus::Failed(e.to_string());
            t.last_done = Some(now);
        }
        let next = pos + 1;
        let len = self.trackers.len();
        let url = &sent.url;
        let ev = event_note(sent.event);
        if next < len {
            self.cursor = next;
            logs.push((LogLevel::Warn, format!("announce{ev} to {url} failed: {e}")));
            return true;
        }
        self.cursor = 0;
        self.failed_rounds = self.failed_rounds.saturating_add(1);
        let shift = self.failed_rounds.saturating_sub(1).min(16);
        let wait = config
            .backoff_first
            .saturating_mul(1u32 << shift)
            .min(config.backoff_max);
        self.next_at = now + spread(wait);
        let what = if len > 1 {
            "every tracker of its tier failed; "
        } else {
            ""
        };
        logs.push((
            LogLevel::Warn,
            format!(
                "announce{ev} to {url} failed: {e} ({what}retry in {})",
                fmt_secs(wait)
            ),
        ));
        false
    }
}

/// `wait` plus up to a tenth of it (at most 5 min), at random. Torrents that start together
/// (a session restart with a library on one tracker) would otherwise announce in the same
/// instant every interval, or retry a dead tracker in lockstep, for as long as they run: the
/// process-wide slots bound how many go at once, this spreads them. Never earlier than the
/// tracker asked, so `min interval` holds and the announce stays well within the window
/// trackers keep a peer for (about twice the interval).
pub(super) fn spread(wait: Duration) -> Duration {
    let max = (wait / 10).min(Duration::from_secs(300));
    wait + max.mul_f64(rand::random::<f64>())
}

/// The peers a reply listed, at most [`MAX_PEERS_PER_REPLY`] of them (a random pick when
/// there are more), each once.
fn peer_list(mut listed: Vec<SocketAddr>, url: &str, logs: &mut Logs) -> Vec<SocketAddr> {
    if listed.len() > MAX_PEERS_PER_REPLY {
        logs.push((
            LogLevel::Warn,
            format!(
                "tracker {url} listed {} peers; keeping {MAX_PEERS_PER_REPLY}",
                listed.len()
            ),
        ));
        let (kept, _) = listed.partial_shuffle(&mut rand::thread_rng(), MAX_PEERS_PER_REPLY);
        listed = kept.to_vec();
    }
    let mut seen = HashSet::new();
    listed.into_iter().filter(|p| seen.insert(*p)).collect()
}

/// " (started)" and the like, after "announce" in the log; nothing for a plain re-announce.
fn event_note(event: AnnounceEvent) -> String {
    match event.as_str() {
        Some(e) => format!(" ({e})"),
        None => String::new(),
    }
}

pub(super) fn fmt_secs(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 60 && s.is_multiple_of(60) {
        format!("{} min", s / 60)
    } else if s >= 1 {
        format!("{s} s")
    } else {
        format!("{} ms", d.as_millis())
    }
}
