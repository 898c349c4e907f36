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
            Check::Stream => "stream",
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
    /// Time since a connected peer (or set of peers) last held every piece.
    pub full_copy_seen_ago: Option<Duration>,
    /// Verified pieces waiting to be written to disk.
    pub pending_writes: Option<u32>,
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
}

/// Test only: seconds of the reachability window (`ExplainContext::reachability_window`) in
/// place of 30 minutes. Read once when a session starts (the CLI's `options`) and carried to
/// the explainer in the `SessionSnapshot`, so the explainer itself reads no environment and
/// no clock.
pub const TEST_REACHABILITY_ENV: &str = "TTUI_TEST_REACHABILITY_SECS";

impl ExplainContext {
    /// What the session knows of torrent `id` that its Snapshot lacks: the session's DHT, its
    /// rate limits (turtle mode's when on) and whether the torrent waits in the queue.
    pub fn from_session(session: &super::SessionSnapshot, id: super::TorrentId) -> Self {
        let line = session.torrents.iter().find(|t| t.id == id);
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
            queued,
            reachability_window: session.reachability_window,
            ..ExplainContext::default()
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
            blocklist,
            interface,
            proxy,
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
            reachability,
            seeding_idle,
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

fn trackers(s: &Snapshot, _: &ExplainContext) -> Option<Finding> {
    if s.trackers.is_empty() {
        return None;
    }
    let failed: Vec<_> = s
        .trackers
        .iter()
        .filter_map(|t| match &t.status {
            Failed(e) => Some((t, e)),
            _ => None,
        })
        .collect();
    let working = s
        .trackers
        .iter()
        .filter(|t| matches!(t.status, TrackerStatus::Ok { .. }))
        .count();
    let Some((t, err)) = failed.first() else {
        return (working > 0).then(|| {
            let e = format!("{} working", plural(working, "tracker", "trackers"));
            finding(Check::Trackers, Verdict::Ok, e, None)
        });
    };
    // The host alone: a full announce URL carries a passkey on private trackers.
    let rest = t.url.split_once("://").map_or(t.url.as_str(), |(_, r)| r);
    let host = rest.split(['/', '?']).next().unwrap_or(rest);
    let n = failed.len();
    let what = format!(
        "{} of {} failing",
        n,
        plural(s.trackers.len(), "tracker", "trackers")
    );
    let evidence = format!(
        "{what} ({}: {})",
        fmt::outside(host, 60),
        fmt::outside(err, 80)
    );
    let verdict = if working == 0 && connected(s).next().is_none() {
        Verdict::HoldingBack
    } else {
        Verdict::Warning
    };
    let advice = (working == 0)
        .then_some("check the tracker URL and your network; the DHT and PEX can still find peers");
    Some(finding(Check::Trackers, verdict, evidence, advice))
}

fn dht(s: &Snapshot, ctx: &ExplainContext) -> Option<Finding> {
    let nodes = ctx.dht_nodes.or(s.dht.as_ref().map(|d| d.nodes))?;
    if nodes > 0 {
        let e = format!("DHT: {}", plural(nodes, "node", "nodes"));
        return Some(finding(Check::Dht, Verdict::Ok, e, None));
    }
    // Only worth a word once it had time to bootstrap.
    if s.elapsed < Duration::from_secs(60) {
        return None;
    }
    let verdict = if s.trackers.is_empty() && s.peers.is_empty() {
        Verdict::HoldingBack
    } else {
        Verdict::Warning
    };
    let e = "DHT has no nodes: it cannot find peers".to_string();
    Some(finding(
        Check::Dht,
        verdict,
        e,
        Some("check that UDP is not blocked, or pass --dht-bootstrap HOST:PORT"),
    ))
}

/// Peers dialed through a hole a relay punched (BEP 55): reached only this way (dialing them
/// had failed), or not reached even so.
fn hole_punch(s: &Snapshot, _: &ExplainContext) -> Option<Finding> {
    let punched = || s.peers.iter().filter(|p| p.hole_punched_via.is_some());
    let reached = punched()
        .filter(|p| matches!(p.stage, PeerStage::Connected | PeerStage::Disconnected))
        .count();
    let failed = punched().filter(|p| p.stage == PeerStage::Failed).count();
    if reached + failed == 0 {
        return None;
    }
    let e = format!(
        "hole punching: {} reached only this way, {} not reached even so",
        plural(reached, "peer", "peers"),
        failed
    );
    let advice = (reached == 0).then_some(
        "a NAT that changes its port for every destination cannot be punched; a forwarded port (or UPnP/NAT-PMP) lets peers dial in",
    );
    Some(finding(Check::HolePunch, Verdict::Ok, e, advice))
}

fn no_peers(s: &Snapshot, _: &ExplainContext) -> Option<Finding> {
    // Peers listed only where we cannot go are `family`'s to tell.
    if !s.peers.is_empty() || s.unroutable_peers > 0 || s.elapsed < Duration::from_secs(30) {
        return None;
    }
    let advice = if s.trackers.is_empty() && s.dht.is_none() {
        "no tracker and no DHT: add a tracker, run without --no-dht, or name a peer with --peer"
    } else {
        "wait for the trackers and the DHT to find some, or name one with --peer"
    };
    let e = "no peers known at all".to_string();
    Some(finding(
        Check::NoPeers,
        Verdict::HoldingBack,
        e,
        Some(advice),
    ))
}

/// Peers listed at IPv6 addresses on a machine with no IPv6 route are never tried: when they
/// are all there is, that is why nothing comes; beside reachable ones, they are a warning.
fn family(s: &Snapshot, _: &ExplainContext) -> Option<Finding> {
    let n = s.unroutable_peers;
    if n == 0 {
        return None;
    }
    let advice = Some("give this machine IPv6 (most home routers and phones offer it)");
    if connected(s).next().is_none() {
        let e = format!(
            "{} listed only at IPv6 addresses, and this machine has no IPv6 route: none tried",
            plural(n, "peer is", "peers are")
        );
        return Some(finding(Check::Family, Verdict::HoldingBack, e, advice));
    }
    let e = format!(
        "{} at IPv6 addresses out of reach: this machine has no IPv6 route",
        plural(n, "peer", "peers")
    );
    Some(finding(Check::Family, Verdict::Warning, e, advice))
}

fn availability(s: &Snapshot, ctx: &ExplainContext) -> Option<Finding> {
    // No peer connected: that is the peer checks' story, not availability's.
    connected(s).next()?;
    let needed = |i: &usize| s.pieces.get(*i).is_some_and(|p| *p != PieceState::Verified);
    let missing = (0..s.pieces.len()).filter(needed).count();
    let lacking: Vec<usize> = (0..s.pieces.len())
        .filter(needed)
        .filter(|i| s.availability.get(*i).copied().unwrap_or(0) == 0)
        .collect();
    let unavailable = lacking.len();
    if unavailable == 0 {
        return (missing > 0).then(|| {
            let e = "every missing piece is on a connected peer".to_string();
            finding(Check::Availability, Verdict::Ok, e, None)
        });
    }
    let mut e = format!(
        "{}: no connected peer has them ({})",
        plural(unavailable, "piece", "pieces"),
        piece_list(&lacking)
    );
    if let Some(ago) = ctx.full_copy_seen_ago {
        e.push_str(&format!(
            "; a full copy was last seen {} ago",
            fmt::duration(ago)
        ));
    }
    let verdict = if unavailable == missing {
        Verdict::HoldingBack
    } else {
        Verdict::Warning
    };
    Some(finding(
        Check::Availability,
        verdict,
        e,
        Some("wait for a peer that has them (a seed) to come online"),
    ))
}

/// Which pieces, in runs, so the user can match them to files ("pieces 61–63"; "pieces 2, 9,
/// 40–47 and 5 more"): the count alone does not say that it is the end of the torrent.
fn piece_list(sorted: &[usize]) -> String {
    const RUNS: usize = 3;
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for &i in sorted {
        match runs.last_mut() {
            Some((_, end)) if *end + 1 == i => *end = i,
            _ => runs.push((i, i)),
        }
    }
    let shown: Vec<String> = runs
        .iter()
        .take(RUNS)
        .map(|&(a, b)| {
            if a == b {
                a.to_string()
            } else {
                format!("{a}–{b}")
            }
        })
        .collect();
    let listed: usize = runs.iter().take(RUNS).map(|(a, b)| b - a + 1).sum();
    let more = sorted.len() - listed;
    let word = if sorted.len() == 1 { "piece" } else { "pieces" };
    match more {
        0 => format!("{word} {}", shown.join(", ")),
        n => format!("{word} {} and {n} more", shown.join(", ")),
    }
}

fn seeds(s: &Snapshot, _: &ExplainContext) -> Option<Finding> {
    let connected_seeds = connected(s).filter(|p| p.progress >= 1.0).count();
    let tracker_seeds = s.trackers.iter().filter_map(|t| t.seeders).max();
    if connected_seeds > 0 || tracker_seeds.is_some_and(|n| n > 0) {
        let n = connected_seeds.max(tracker_seeds.unwrap_or(0) as usize);
        let e = format!("{} in the swarm", plural(n, "seed", "seeds"));
        return Some(finding(Check::Seeds, Verdict::Ok, e, None));
    }
    // Say "none" only when someone could have told us: a tracker's count, or connected peers.
    if tracker_seeds.is_none() && connected(s).next().is_none() {
        return None;
    }
    let e = "no seeds in the swarm: only peers that are downloading too".to_string();
    Some(finding(
        Check::Seeds,
        Verdict::Warning,
        e,
        Some("the download can finish only if the peers together hold every piece"),
    ))
}

/// Why peers failed, most frequent first (ties in first-seen order): the first one is usually
/// the whole story. Each reason keeps one `PeerEnd` it came from, for its advice.
pub fn failure_reasons(peers: &[PeerRow]) -> Vec<(String, Option<PeerEnd>, usize)> {
    let mut reasons: Vec<(String, Option<PeerEnd>, usize)> = Vec::new();
    for p in peers.iter().filter(|p| p.stage.is_gone()) {
        let why = p
            .end
            .as_ref()
            .map_or_else(|| p.stage.label().to_string(), |e| e.to_string());
        match reasons.iter_mut().find(|(r, _, _)| *r == why) {
            Some((_, _, n)) => *n += 1,
            None => reasons.push((why, p.end.clone(), 1)),
        }
    }
    reasons.sort_by_key(|r| std::cmp::Reverse(r.2));
    reasons
}

/// The fix for one way of failing, when there is one the user can apply.
fn failure_advice(end: &PeerEnd) -> Option<(&'static str, &'static str)> {
    // (what it means, what to do)
    Some(match end {
        PeerEnd::ClosedMayNeedEncryption => (
            "closed the plain handshake: they may require encryption",
            "run with `--encryption prefer`",
        ),
        PeerEnd::Encryption(_) => (
            "failed the encrypted handshake",
            "run with `--encryption prefer` (not `require`)",
        ),
        PeerEnd::ClosedMayNeedUtp => (
            "closed the TCP handshake: they may accept only uTP",
            "run with `--transport both`",
        ),
        PeerEnd::UtpNoAnswer => (
            "never answered over uTP: they may speak only TCP",
            "run with `--transport both`",
        ),
        PeerEnd::Refused | PeerEnd::ConnectTimeout | PeerEnd::Unreachable(_) => (
            "could not be reached",
            "they may be offline or behind NAT; more peers come from trackers, DHT and PEX",
        ),
        _ => return None,
    })
}

fn peer_failures(s: &Snapshot, _: &ExplainContext) -> Option<Finding> {
    let dialed: Vec<&PeerRow> = s
        .peers
        .iter()
        // The blocklist's refusals are its own check's story.
        .filter(|p| p.source != PeerSource::Incoming && p.end != Some(PeerEnd::Blocklisted))
        .collect();
    // A peer being retried counts by the attempt before (its reason stands until the retry
    // answers), as one that failed.
    let failed_rows: Vec<PeerRow> = dialed
        .iter()
        .filter_map(|p| {
            let end = p.failure()?.clone();
            Some(PeerRow {
                stage: PeerStage::Failed,
                end: Some(end),
                ..(*p).clone()
            })
        })
        .collect();
    let failed = failed_rows.len();
    if dialed.is_empty() || failed * 2 <= dialed.len() {
        return None;
    }
    let reasons = failure_reasons(&failed_rows);
    let (text, end, n) = reasons.first()?;
    let peers = plural(*n, "peer", "peers");
    let (evidence, advice) = match end.as_ref().and_then(failure_advice) {
        Some((meaning, fix)) => (format!("{peers} {meaning}"), Some(fix)),
        None => (format!("{peers} failed: {}", fmt::outside(text, 80)), None),
    };
    let evidence = format!("{evidence} ({failed} of {} dialed failed)", dialed.len());
    let working = connected(s).any(|p| p.down_rate >= 1.0);
    let verdict = if working || s.peers.iter().any(|p| hopeful(p) && p.failure().is_none()) {
        Verdict::Warning
    } else {
        Verdict::HoldingBack
    };
    Some(finding(Check::PeerFailures, verdict, evidence, advice))
}

fn choked(s: &Snapshot, _: &ExplainContext) -> Option<Finding> {
    let useful: Vec<&PeerRow> = connected(s)
        .filter(|p| p.flags.am_interested && p.since >= CHOKE_GRACE)
        .collect();
    if useful.is_empty() {
        return None;
    }
    let choking = useful.iter().filter(|p| p.flags.peer_choking).count();
    if choking < useful.len() {
        let e = format!(
            "{} of {} useful peers unchoke us",
            useful.len() - choking,
            useful.len()
        );
        return Some(finding(Check::Choked, Verdict::Ok, e, None));
    }
    let e = format!("every peer that has what we need is choking us ({choking} of {choking})");
    Some(finding(
        Check::Choked,
        Verdict::HoldingBack,
        e,
        Some("peers unchoke those that upload to them: keep uploading, or wait for more peers"),
    ))
}

mod blocked;
mod interface;
mod local;
mod port_mapping;
mod proxied;
mod seeding;
mod stream;
use blocked::blocklist;
use interface::interface;
use local::{disk, limits, rc4_cpu, reachability, upload_saturation};
use proxied::proxy;
use seeding::seeding_idle;
use stream::stream;

#[cfg(test)]
mod tests;
