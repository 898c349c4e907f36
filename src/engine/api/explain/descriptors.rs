//! The explainer's descriptors check: the process's descriptor limit (`ulimit -n`) leaves
//! room for so many peer connections, every torrent's together (`peer/descriptors.rs`), and
//! this torrent found none left in the last minute. Same rules as explain.rs (pure).

use super::*;

/// Holds back while the budget of peer connections refuses this torrent's.
pub(super) fn descriptors(s: &Snapshot, _: &ExplainContext) -> Option<Finding> {
    let d = s.descriptors?;
    Some(finding(
        Check::Descriptors,
        Verdict::HoldingBack,
        format!(
            "the descriptor limit ({}, ulimit -n) leaves room for {} peer connections, all \
             torrents together, and {} are open: this torrent could not connect more",
            d.nofile, d.peers, d.in_use
        ),
        Some(
            "raise the limit (ulimit -n, or LimitNOFILE= in a systemd unit) or run fewer \
             torrents at once; connections go on as others close",
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::api::DescriptorRow;

    #[test]
    fn a_full_budget_holds_back_and_names_the_limit() {
        let mut s = Snapshot::empty("x", 8 << 14, 1 << 14);
        assert_eq!(descriptors(&s, &ExplainContext::default()), None);
        s.descriptors = Some(DescriptorRow {
            nofile: 256,
            peers: 128,
            in_use: 128,
        });
        let f = descriptors(&s, &ExplainContext::default()).unwrap();
        assert_eq!(
            (f.check, f.verdict),
            (Check::Descriptors, Verdict::HoldingBack)
        );
        assert!(
            f.evidence.contains("descriptor limit (256, ulimit -n)")
                && f.evidence.contains("room for 128 peer connections"),
            "{f:?}"
        );
    }
}
