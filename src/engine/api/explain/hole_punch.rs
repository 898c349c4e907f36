//! The explainer's `hole_punch` check, in a file of its own as every check is (pure, as all
//! of explain.rs).

use super::*;

/// Peers dialed through a hole a relay punched (BEP 55): reached only this way (dialing them
/// had failed), or not reached even so.
pub(super) fn hole_punch(s: &Snapshot, _: &ExplainContext) -> Option<Finding> {
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
