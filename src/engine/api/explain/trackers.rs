//! The explainer's `trackers` check, in a file of its own as every check is (pure, as all
//! of explain.rs).

use super::*;

pub(super) fn trackers(s: &Snapshot, _: &ExplainContext) -> Option<Finding> {
    if s.trackers.is_empty() {
        return None;
    }
    let failed: Vec<_> = s
        .trackers
        .iter()
        .filter_map(|t| match &t.status {
            // Not asked on purpose (WebTorrent off): not failing; `no_peers` says it.
            Failed(_) if super::no_peers::websocket_off(t) => None,
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
