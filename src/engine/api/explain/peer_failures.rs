//! The explainer's `peer_failures` check, in a file of its own as every check is (pure, as all
//! of explain.rs).

use super::*;

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
pub(super) fn failure_advice(end: &PeerEnd) -> Option<(&'static str, &'static str)> {
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

pub(super) fn peer_failures(s: &Snapshot, _: &ExplainContext) -> Option<Finding> {
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
