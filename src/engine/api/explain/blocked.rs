//! The explainer's blocklist check: a list that holds much of a swarm starves the download,
//! and the user should hear it from us rather than guess. Same rules as explain.rs (pure).

use super::*;

/// Fewer peers than this learned: too few to speak of a share.
const MIN_LEARNED: usize = 4;

/// Holds back (or warns) when the blocklist holds at least half of the peers learned.
pub(super) fn blocklist(s: &Snapshot, _: &ExplainContext) -> Option<Finding> {
    let learned = s.peers.len();
    let blocked = s
        .peers
        .iter()
        .filter(|p| p.end == Some(PeerEnd::Blocklisted))
        .count();
    if learned < MIN_LEARNED || blocked * 2 < learned {
        return None;
    }
    let verdict = if connected(s).next().is_none() {
        Verdict::HoldingBack
    } else {
        Verdict::Warning
    };
    let e = format!(
        "{} blocked by your blocklist: {blocked} of the {learned} peers learned ({} dials refused)",
        plural(blocked, "peer", "peers"),
        s.blocked
    );
    Some(finding(
        Check::Blocklist,
        verdict,
        e,
        Some("check the blocklist (`ttui config` names it): one that holds most of a swarm may be too broad"),
    ))
}
