//! The explainer's `dht` check, in a file of its own as every check is (pure, as all
//! of explain.rs).

use super::*;

pub(super) fn dht(s: &Snapshot, ctx: &ExplainContext) -> Option<Finding> {
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
