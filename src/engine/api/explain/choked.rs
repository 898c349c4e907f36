//! The explainer's `choked` check, in a file of its own as every check is (pure, as all
//! of explain.rs).

use super::*;

pub(super) fn choked(s: &Snapshot, _: &ExplainContext) -> Option<Finding> {
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
