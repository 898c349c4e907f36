//! A WebRTC connection on its way up, as its torrent's peer table shows it: the stage it is
//! in (ICE, DTLS, the data channel, then the BitTorrent handshake) and for how long, and the
//! reason when a stage fails. A WebTorrent peer comes through a tracker's relay, not a dial,
//! so until it joins it has no `PeerEntry`; this is its row meanwhile.
//!
//! The session's task that waits for the connection (`session/incoming.rs`,
//! `webrtc_accept`) writes it; the torrent's coordinator holds it from `Event::WebRtcSetup`
//! on and reads a row from it at each publish, until the peer joins (its own row takes
//! over) or, failed, it has been shown for `KEEP_FAILED`.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::engine::api::{PeerEnd, PeerRow, PeerSource, PeerStage};
use crate::net::webrtc::Stage;
use crate::net::TransportKind;

/// A failed setup's row stays this long: long enough to be read, short because a busy
/// WebSocket tracker relays offers by the dozen.
const KEEP_FAILED: Duration = Duration::from_secs(120);
/// Setups one torrent holds at once (the driver caps connections across the session too):
/// past it, a new one pushes out the oldest failed one, else the oldest.
pub(crate) const MAX_SETUPS: usize = 64;

/// One connection's setup, shared between the task that waits for it and the coordinator.
#[derive(Debug)]
pub(crate) struct RtcSetup {
    /// The client the peer id names ("WebTorrent 3.0").
    client: String,
    peer_id: [u8; 20],
    /// We offered (the peer answered ours); else we answered the peer's offer.
    we_offered: bool,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    step: Step,
    /// When `step` began.
    since: Instant,
    /// Where the peer is: its SDP's address at first, the pair ICE chose once it has.
    addr: Option<SocketAddr>,
    /// Why it failed; set once, and the step stays the one that failed.
    end: Option<PeerEnd>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// ICE, DTLS or the data channel.
    Rtc(Stage),
    /// The data channel is open; the handshakes cross.
    Handshake,
    /// Handed to the torrent: the peer's own row shows it now.
    Joined,
}

impl RtcSetup {
    pub(crate) fn new(
        client: String,
        peer_id: [u8; 20],
        we_offered: bool,
        named: Option<SocketAddr>,
        stage: Stage,
        now: Instant,
    ) -> RtcSetup {
        RtcSetup {
            client,
            peer_id,
            we_offered,
            state: Mutex::new(State {
                step: Step::Rtc(stage),
                since: now,
                addr: named,
                end: None,
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding it cannot leave a State half-written: every write is one
        // field's assignment.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The client the peer id names.
    pub(crate) fn client(&self) -> &str {
        &self.client
    }

    /// Which side offered, in the words of the log.
    pub(crate) fn side(&self) -> &'static str {
        if self.we_offered {
            "our offer"
        } else {
            "its offer"
        }
    }

    /// The connection reached `stage` (the driver's watch said so).
    pub(crate) fn stage(&self, stage: Stage, now: Instant) {
        let mut s = self.state();
        if s.end.is_none() && s.step != Step::Rtc(stage) {
            s.step = if stage == Stage::Open {
                Step::Handshake
            } else {
                Step::Rtc(stage)
            };
            s.since = now;
        }
    }

    /// The data channel is open over the pair ICE chose, to `addr`: the handshakes cross.
    pub(crate) fn open(&self, addr: SocketAddr, now: Instant) {
        let mut s = self.state();
        s.addr = Some(addr);
        if s.step != Step::Handshake {
            s.step = Step::Handshake;
            s.since = now;
        }
    }

    /// It failed in the step it is in.
    pub(crate) fn fail(&self, end: PeerEnd, now: Instant) {
        let mut s = self.state();
        if s.end.is_none() && s.step != Step::Joined {
            s.end = Some(end);
            s.since = now;
        }
    }

    /// The torrent has the connection: its own row shows the peer from now on.
    pub(crate) fn joined(&self) {
        self.state().step = Step::Joined;
    }

    /// What the log says of a failed setup: the peer, who offered, the reason (which names
    /// the stage). None while it has not failed.
    pub(crate) fn failure_words(&self) -> Option<String> {
        let s = self.state();
        let end = s.end.as_ref()?;
        let at = s.addr.map(|a| format!(" at {a}")).unwrap_or_default();
        Some(format!(
            "WebRTC peer {}{at} ({}): {end}",
            self.client,
            self.side()
        ))
    }

    pub(crate) fn failed(&self) -> bool {
        self.state().end.is_some()
    }

    /// Nothing more to show: joined, or failed `KEEP_FAILED` ago.
    pub(crate) fn done(&self, now: Instant) -> bool {
        let s = self.state();
        s.step == Step::Joined
            || (s.end.is_some() && now.saturating_duration_since(s.since) >= KEEP_FAILED)
    }

    /// Its row in the peer table, or None once joined. A peer whose SDP named no address
    /// (browsers without a STUN server name only mDNS ones) shows 0.0.0.0:0 until ICE
    /// chooses its pair, as a web seed does before it resolves.
    pub(crate) fn row(&self, now: Instant) -> Option<PeerRow> {
        let s = self.state();
        let (stage, webrtc_stage) = match (s.step, &s.end) {
            (Step::Joined, _) => return None,
            (Step::Rtc(st), None) => (PeerStage::Connecting, Some(st)),
            (Step::Handshake, None) => (PeerStage::Handshaking, None),
            (Step::Rtc(st), Some(_)) => (PeerStage::Failed, Some(st)),
            (Step::Handshake, Some(_)) => (PeerStage::Failed, None),
        };
        let addr = s
            .addr
            .unwrap_or(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)));
        // Incoming, as the peer's row is once it joins: the tracker relayed it to us, and its
        // address is not one to dial.
        let mut row = PeerRow::new(addr, PeerSource::Incoming, stage);
        row.client = Some(self.client.clone());
        row.id_client = Some(self.client.clone());
        row.peer_id = Some(self.peer_id);
        row.end = s.end.clone();
        row.since = now.saturating_duration_since(s.since);
        row.attempts = 1;
        row.transport = Some(TransportKind::WebRtc);
        row.in_play = s.end.is_none();
        row.webrtc_stage = webrtc_stage;
        Some(row)
    }
}

/// A torrent's setups, at most `MAX_SETUPS` (past it a new one pushes out the oldest failed
/// one, else the oldest), each with whether its failure was logged yet.
#[derive(Debug, Default)]
pub(crate) struct Setups {
    all: Vec<(Arc<RtcSetup>, bool)>,
}

impl Setups {
    pub(crate) fn push(&mut self, new: Arc<RtcSetup>) {
        if self.all.len() >= MAX_SETUPS {
            let at = self.all.iter().position(|(s, _)| s.failed()).unwrap_or(0);
            self.all.remove(at);
        }
        self.all.push((new, false));
    }

    /// Forgets those with nothing more to show; the log lines of failures not logged yet.
    pub(crate) fn tick(&mut self, now: Instant) -> Vec<String> {
        self.all.retain(|(s, _)| !s.done(now));
        self.all
            .iter_mut()
            .filter(|(_, logged)| !*logged)
            .filter_map(|(s, logged)| {
                let words = s.failure_words()?;
                *logged = true;
                Some(words)
            })
            .collect()
    }

    /// Whether one is still coming up, or failed and not logged yet.
    pub(crate) fn coming_up(&self) -> bool {
        self.all
            .iter()
            .any(|(s, logged)| !*logged && !s.done(Instant::now()))
    }

    /// Their rows, but for one at an address a row of the table already shows (the peer
    /// joined between the handshake and this publish).
    pub(crate) fn rows(&self, now: Instant, shown: impl Fn(&SocketAddr) -> bool) -> Vec<PeerRow> {
        self.all
            .iter()
            .filter_map(|(s, _)| s.row(now))
            .filter(|r| !shown(&r.addr))
            .collect()
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.all.len()
    }

    #[cfg(test)]
    fn holds(&self, one: &Arc<RtcSetup>) -> bool {
        self.all.iter().any(|(s, _)| Arc::ptr_eq(s, one))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup(now: Instant) -> RtcSetup {
        RtcSetup::new(
            "WebTorrent 3.0".into(),
            [7; 20],
            false,
            Some("198.51.100.9:50000".parse().unwrap()),
            Stage::Ice,
            now,
        )
    }

    #[test]
    fn each_stage_shows_on_the_row_until_the_peer_joins() {
        let t0 = Instant::now();
        let s = setup(t0);
        let row = s.row(t0 + Duration::from_secs(2)).unwrap();
        assert_eq!(row.stage, PeerStage::Connecting);
        assert_eq!(row.webrtc_stage, Some(Stage::Ice));
        assert_eq!(row.transport, Some(TransportKind::WebRtc));
        assert_eq!(row.since, Duration::from_secs(2));
        assert_eq!(row.addr, "198.51.100.9:50000".parse().unwrap());
        s.stage(Stage::Dtls, t0 + Duration::from_secs(3));
        let row = s.row(t0 + Duration::from_secs(3)).unwrap();
        assert_eq!(row.webrtc_stage, Some(Stage::Dtls));
        assert_eq!(row.since, Duration::ZERO);
        // The pair ICE chose may differ from the SDP's address (a peer-reflexive one).
        let chosen: SocketAddr = "198.51.100.9:50002".parse().unwrap();
        s.open(chosen, t0 + Duration::from_secs(4));
        let row = s.row(t0 + Duration::from_secs(4)).unwrap();
        assert_eq!(row.stage, PeerStage::Handshaking);
        assert_eq!(row.webrtc_stage, None);
        assert_eq!(row.addr, chosen);
        s.joined();
        assert!(s.row(t0 + Duration::from_secs(5)).is_none());
        assert!(s.done(t0 + Duration::from_secs(5)));
    }

    #[test]
    fn a_failed_stage_keeps_its_reason_for_a_while() {
        let t0 = Instant::now();
        let s = setup(t0);
        s.fail(PeerEnd::WebRtc("ICE timed out after 15s".into()), t0);
        // A late stage change does not hide the failure.
        s.stage(Stage::Dtls, t0);
        let row = s.row(t0).unwrap();
        assert_eq!(row.stage, PeerStage::Failed);
        assert_eq!(row.webrtc_stage, Some(Stage::Ice));
        assert_eq!(
            row.failure().unwrap().to_string(),
            "ICE timed out after 15s"
        );
        assert!(!row.in_play);
        assert_eq!(
            s.failure_words().unwrap(),
            "WebRTC peer WebTorrent 3.0 at 198.51.100.9:50000 (its offer): ICE timed out after 15s"
        );
        assert!(!s.done(t0 + KEEP_FAILED - Duration::from_secs(1)));
        assert!(s.done(t0 + KEEP_FAILED));
    }

    #[test]
    fn a_torrent_holds_a_bounded_number_and_drops_failed_ones_first() {
        let t0 = Instant::now();
        let mut all = Setups::default();
        let made: Vec<Arc<RtcSetup>> = (0..MAX_SETUPS).map(|_| Arc::new(setup(t0))).collect();
        for s in &made {
            all.push(Arc::clone(s));
        }
        made[5].fail(PeerEnd::WebRtc("x".into()), t0);
        all.push(Arc::new(setup(t0)));
        assert_eq!(all.len(), MAX_SETUPS);
        assert!(!all.holds(&made[5]));
        all.push(Arc::new(setup(t0)));
        assert_eq!(all.len(), MAX_SETUPS);
        assert!(!all.holds(&made[0]));
        assert!(all.holds(&made[1]));
    }

    #[test]
    fn a_failure_is_logged_once_and_its_row_goes_after_a_while() {
        let t0 = Instant::now();
        let mut all = Setups::default();
        let one = Arc::new(setup(t0));
        all.push(Arc::clone(&one));
        assert!(all.tick(t0).is_empty());
        one.fail(PeerEnd::WebRtc("DTLS timed out after 10s".into()), t0);
        assert_eq!(all.tick(t0).len(), 1);
        assert!(all.tick(t0).is_empty());
        assert_eq!(all.rows(t0, |_| false).len(), 1);
        // A row the table shows already is not shown twice.
        assert!(all
            .rows(t0, |a| *a == "198.51.100.9:50000".parse().unwrap())
            .is_empty());
        all.tick(t0 + KEEP_FAILED);
        assert_eq!(all.len(), 0);
    }
}
