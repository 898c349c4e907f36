//! Why is this torrent slow? A checklist evaluated against one Snapshot: sources, availability,
//! peers, our own limits, reachability, and the machine. Pure: no I/O and no clock (time comes
//! in the Snapshot's `elapsed` and the peers' `since`), so every check is a unit test away.
//! What the Snapshot does not carry comes in an `ExplainContext`; a check whose input is
//! missing says nothing rather than guess.

use std::time::Duration;

use super::{PeerEnd, PeerRow, PeerSource, PeerStage, PieceState, Snapshot, TorrentState};
use super::{TrackerStatus, TrackerStatus::Failed};
use crate::fmt;
use crate::net::Encryption;

/// One item of the checklist. `name` is stable: scripts read it from `ttui show --json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Check {
    /// First of all: while `--interface` is down nothing is sent at all.
    Interface,
    /// First: a proxy that is down is why every other source looks dead.
    Proxy,
    /// The process's descriptor limit leaves no room for another peer connection.
    Descriptors,
    /// An open stream (a player) waits for a piece: why.
    Stream,
    Trackers,
    Dht,
    NoPeers,
    Availability,
    Seeds,
    PeerFailures,
    Blocklist,
    Choked,
    Limits,
    Reachability,
    /// Peers listed only at addresses of a family this machine lacks (IPv6 without a route).
    Family,
    UploadSaturation,
    Disk,
    Rc4Cpu,
    SeedingIdle,
    /// BEP 55: the peers reached only through a punched hole, and those not reached even so.
    HolePunch,
    /// WebTorrent: the STUN server that does not answer, browser peers ICE could not reach.
    WebRtc,
}

impl Check {
    pub fn name(self) -> &'static str {
        match self {
            Check::Trackers => "trackers",
            Check::Dht => "dht",
            Check::NoPeers => "no_peers",
            Check::Availability => "availability",
            Check::Seeds => "seeds",
            Check::PeerFailures => "peer_failures",
            Check::Blocklist => "blocklist",
            Check::Proxy => "proxy",
            Check::Interface => "interface",
            Check::Choked => "choked",
            Check::Limits => "limits",
            Check::Reachability => "reachability",
            Check::Family => "family",
            Check::UploadSaturation => "upload_saturation",
            Check::Disk => "disk",
            Check::Rc4Cpu => "rc4_cpu",
            Check::SeedingIdle => "seeding_idle",
            Check::HolePunch => "hole_punch",
            Check::WebRtc => "webrtc",
            Check::Stream => "stream",
            Check::Descriptors => "descriptors",
        }
    }
}

/// Worst first: the order findings are sorted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Verdict {
    HoldingBack,
    Warning,
    Ok,
}

impl Verdict {
    pub fn name(self) -> &'static str {
        match self {
            Verdict::HoldingBack => "holding_back",
            Verdict::Warning => "warning",
            Verdict::Ok => "ok",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub check: Check,
    pub verdict: Verdict,
    /// What was seen, with numbers: "3 pieces: no connected peer has them".
    pub evidence: String,
    /// What the user can do, when anything.
    pub advice: Option<String>,
}

impl Finding {
    /// "evidence — advice", the one-line form the progress line and the header show.
    pub fn line(&self) -> String {
        match &self.advice {
            Some(a) => format!("{} — {a}", self.evidence),
            None => self.evidence.clone(),
        }
    }
}

/// The session's speed limits and queueing (a torrent's own limits are in its Snapshot).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Limits {
    /// Bytes a second, after turtle mode is applied.
    pub down: Option<f64>,
    pub up: Option<f64>,
    /// Which limit `down` is, for the words: "global", "per-torrent", "turtle mode".
    pub down_kind: &'static str,
    pub up_kind: &'static str,
    /// Waiting in the queue for a download slot.
    pub queued: bool,
}

/// What the Snapshot lacks. `Default` knows nothing, and the checks needing it stay silent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExplainContext {
    /// Incoming connections the session accepted within the reachability window (see
    /// `reachability_window`), when counted; else the Snapshot's incoming peers stand in.
    pub incoming_in_window: Option<u32>,
    /// The session's DHT routing table size; else the Snapshot's `dht`.
    pub dht_nodes: Option<usize>,
    pub limits: Option<Limits>,
    /// The session's SOCKS5 proxy, when one is set (`explain/proxied.rs`).
    pub proxy: Option<super::ProxyStatus>,
    /// `--interface`, when one is set (`explain/interface.rs`).
    pub interface: Option<super::InterfaceStatus>,
    /// Incoming connections the session accepted since it started: none ever, and the
    /// port may be closed.
    pub incoming_total: Option<u64>,
    /// The queue's word while it holds the torrent back for a slot ("queued: 2nd for 1 seed
    /// slot" in words).
    pub queued: Option<super::QueueState>,
    /// What the router said to the session's port mapping (`explain/port_mapping.rs`).
    pub port_mapping: Option<super::PortMappingStatus>,
    /// How long without an incoming connection before the port looks closed; None: 30
    /// minutes. Only tests set another (`TEST_REACHABILITY_ENV`), as no test waits 30 minutes.
    pub reachability_window: Option<Duration>,
    /// WebTorrent's WebRTC side and its STUN server (`explain/webrtc.rs`); None while off.
    pub webrtc: Option<super::WebRtcStatus>,
}

/// Test only: seconds of the reachability window (`ExplainContext::reachability_window`) in
/// place of 30 minutes. Read once when a session starts (the CLI's `options`) and carried to
/// the explainer in the `SessionSnapshot`, so the explainer itself reads no environment and
/// no clock.
pub const TEST_REACHABILITY_ENV: &str = "TTUI_TEST_REACHABILITY_SECS";

/// How long without an incoming connection before the port looks closed, unless the context
/// names another (tests: `ExplainContext::reachability_window`); the session counts its
/// incoming connections over the same window (`SessionSnapshot::incoming_in_window`).
pub const REACHABILITY_WINDOW: Duration = Duration::from_secs(30 * 60);

impl ExplainContext {
    /// What the session knows of torrent `id` that its Snapshot lacks: the session's DHT, its
    /// rate limits (turtle mode's when on), whether the torrent waits in the queue, and the
    /// incoming connections it accepted. Every field is named here, none left to `Default`:
    /// a field a real session never sets would be a check that never fires for a user.
    pub fn from_session(session: &super::SessionSnapshot, id: super::TorrentId) -> Self {
        let line = session.line(id);
        let queued = line.and_then(|l| l.queue).filter(|q| q.waits_for_slot());
        let limit = |v: u64| (v > 0).then_some(v as f64);
        ExplainContext {
            dht_nodes: session.dht_nodes,
            port_mapping: session.port_mapping.clone(),
            limits: Some(Limits {
                down: limit(session.down_limit),
                up: limit(session.up_limit),
                down_kind: if session.turtle {
                    "turtle mode"
                } else {
                    "session"
                },
                up_kind: if session.turtle {
                    "turtle mode"
                } else {
                    "session"
                },
                queued: queued.is_some(),
            }),
            proxy: session.proxy.clone(),
            interface: session.interface.clone(),
            incoming_total: Some(session.incoming),
            incoming_in_window: session.incoming_in_window,
            queued,
            reachability_window: session.reachability_window,
            webrtc: session.webrtc.clone(),
        }
    }
}

/// A peer connected this long has had its chance to unchoke us.
const CHOKE_GRACE: Duration = Duration::from_secs(30);

/// The checklist, worst first; checks with nothing to say are left out.
pub fn explain(s: &Snapshot, ctx: &ExplainContext) -> Vec<Finding> {
    let downloading = s.state == TorrentState::Downloading;
    let mut out: Vec<Finding> = Vec::new();
    let checks: &[fn(&Snapshot, &ExplainContext) -> Option<Finding>] = if downloading {
        &[
            stream,
            trackers,
            dht,
            no_peers,
            family,
            availability,
            seeds,
            peer_failures,
            hole_punch,
            webrtc,
            blocklist,
            interface,
            proxy,
            descriptors,
            choked,
            limits,
            reachability,
            upload_saturation,
            disk,
            rc4_cpu,
        ]
    } else if matches!(s.state, TorrentState::Seeding) {
        &[
            trackers,
            interface,
            proxy,
            descriptors,
            reachability,
            webrtc,
            seeding_idle,
            disk,
            rc4_cpu,
        ]
    } else {
        &[]
    };
    out.extend(checks.iter().filter_map(|c| c(s, ctx)));
    out.sort_by_key(|f| (f.verdict, f.check));
    out
}

/// The first finding that is not Ok, if any: what the progress line and header show.
pub fn top(findings: &[Finding]) -> Option<&Finding> {
    findings.first().filter(|f| f.verdict != Verdict::Ok)
}

fn finding(check: Check, verdict: Verdict, evidence: String, advice: Option<&str>) -> Finding {
    Finding {
        check,
        verdict,
        evidence,
        advice: advice.map(str::to_string),
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn connected(s: &Snapshot) -> impl Iterator<Item = &PeerRow> {
    s.peers.iter().filter(|p| p.stage == PeerStage::Connected)
}

/// A peer that might still bring data: connected, on its way, or to be dialed again.
fn hopeful(p: &PeerRow) -> bool {
    p.in_play || !p.stage.is_gone()
}

// One file per check (the checks of the local machine share `local.rs`).
mod availability;
mod blocked;
mod choked;
mod descriptors;
mod dht;
mod family;
mod hole_punch;
mod interface;
mod local;
mod no_peers;
mod peer_failures;
mod port_mapping;
mod proxied;
mod seeding;
mod seeds;
mod stream;
mod trackers;
mod webrtc;
use availability::availability;
#[cfg(test)]
use availability::piece_list;
use blocked::blocklist;
use choked::choked;
use descriptors::descriptors;
use dht::dht;
use family::family;
use hole_punch::hole_punch;
use interface::interface;
use local::{disk, limits, rc4_cpu, reachability, upload_saturation};
use no_peers::no_peers;
pub use peer_failures::failure_reasons;
use peer_failures::peer_failures;
use proxied::proxy;
use seeding::seeding_idle;
use seeds::seeds;
use stream::stream;
use trackers::trackers;
use webrtc::webrtc;

#[cfg(test)]
mod tests;
