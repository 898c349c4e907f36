//! The explainer's `availability` check, in a file of its own as every check is (pure, as all
//! of explain.rs).

use super::*;

pub(super) fn availability(s: &Snapshot, _: &ExplainContext) -> Option<Finding> {
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
    if let Some(ago) = s.full_copy_seen_ago {
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
pub(super) fn piece_list(sorted: &[usize]) -> String {
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
