//! The explainer's interface check: under `--interface` every socket is bound to it, so while
//! it is down (missing, down, or without its address) nothing is sent at all, and every other
//! check (trackers failing, no peers) is only a consequence. Same rules as explain.rs (pure).

use super::*;

/// Holds back while the interface is down; otherwise says where the traffic goes.
pub(super) fn interface(_: &Snapshot, ctx: &ExplainContext) -> Option<Finding> {
    let i = ctx.interface.as_ref()?;
    Some(match i.down_line() {
        Some(line) => finding(
            Check::Interface,
            Verdict::HoldingBack,
            format!("{line} ({})", i.down.as_deref().unwrap_or("down")),
            Some("no connection, dial or announce until it is up with an address; then everything resumes by itself"),
        ),
        None => finding(
            Check::Interface,
            Verdict::Ok,
            format!(
                "every connection goes through interface {}{}",
                i.name,
                i.address.map(|a| format!(" ({a})")).unwrap_or_default()
            ),
            None,
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::api::InterfaceStatus;

    #[test]
    fn an_interface_down_holds_back_and_an_up_one_is_ok() {
        let s = Snapshot::empty("x", 8 << 14, 1 << 14);
        assert_eq!(interface(&s, &ExplainContext::default()), None);
        let mut ctx = ExplainContext {
            interface: Some(InterfaceStatus {
                name: "wg0".into(),
                up: false,
                address: None,
                down: Some("missing".into()),
            }),
            ..ExplainContext::default()
        };
        let f = interface(&s, &ctx).unwrap();
        assert_eq!(
            (f.check, f.verdict),
            (Check::Interface, Verdict::HoldingBack)
        );
        assert!(
            f.evidence
                .contains("interface wg0 is down: nothing is sent"),
            "{f:?}"
        );
        let i = ctx.interface.as_mut().unwrap();
        (i.up, i.address, i.down) = (true, Some("10.2.0.2".parse().unwrap()), None);
        let f = interface(&s, &ctx).unwrap();
        assert_eq!(f.verdict, Verdict::Ok);
        assert!(f.evidence.contains("wg0 (10.2.0.2)"), "{f:?}");
    }
}
