//! The explainer's `family` check, in a file of its own as every check is (pure, as all
//! of explain.rs).

use super::*;

/// Peers listed at IPv6 addresses on a machine with no IPv6 route are never tried: when they
/// are all there is, that is why nothing comes; beside reachable ones, they are a warning.
pub(super) fn family(s: &Snapshot, _: &ExplainContext) -> Option<Finding> {
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
