//! The explainer's `seeds` check, in a file of its own as every check is (pure, as all
//! of explain.rs).

use super::*;

pub(super) fn seeds(s: &Snapshot, _: &ExplainContext) -> Option<Finding> {
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
