//! The explainer's word on port mapping, part of the reachability check: a router that
//! refused (or never answered) is said at once with its own answer as the evidence, and
//! when the router did map us but nobody dials in, the address it gave is the evidence (the
//! port may still be closed further up: a second NAT, the provider's). Same rules as
//! explain.rs (pure).

use super::*;
use crate::engine::api::PortMappingStatus;

/// "port mapping failed: <the router's answer>", when the port mapper's last attempt failed.
pub(super) fn failed(m: &PortMappingStatus) -> Option<Finding> {
    let error = m.error.as_deref()?;
    Some(finding(
        Check::Reachability,
        Verdict::Warning,
        format!("port mapping failed: {error}"),
        Some("forward the port on your router by hand, or enable UPnP or NAT-PMP/PCP on it"),
    ))
}

/// The reachability warning when nobody dialed in although the router mapped us; `last` is
/// the window in words ("30 minutes").
pub(super) fn mapped_but_unreached(
    m: &PortMappingStatus,
    port: u16,
    last: &str,
) -> Option<Finding> {
    let ext = m.external()?;
    Some(finding(
        Check::Reachability,
        Verdict::Warning,
        format!(
            "no incoming connection in the last {last} although the router ({}) maps {ext} to \
             your port {port}",
            m.protocol.as_deref().unwrap_or("port mapping"),
        ),
        Some("the router may itself be behind another NAT (its external address is private), or a firewall drops the connections"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::api::MappedPort;

    #[test]
    fn a_refusal_is_the_evidence_and_a_mapping_its_address() {
        let mut m = PortMappingStatus {
            protocol: Some("PCP".into()),
            error: Some("the router refused: PCP result 2 (NOT_AUTHORIZED)".into()),
            ..Default::default()
        };
        let f = failed(&m).unwrap();
        assert_eq!(f.check, Check::Reachability);
        assert_eq!(
            f.evidence,
            "port mapping failed: the router refused: PCP result 2 (NOT_AUTHORIZED)"
        );
        assert!(
            mapped_but_unreached(&m, 6881, "30 minutes").is_none(),
            "nothing mapped"
        );
        m.error = None;
        assert!(failed(&m).is_none());
        m.external_ip = Some("127.0.0.9".parse().unwrap());
        m.tcp = Some(MappedPort {
            internal: 6881,
            external: 40000,
            lifetime: 7200,
        });
        let f = mapped_but_unreached(&m, 6881, "30 minutes").unwrap();
        assert_eq!(
            f.evidence,
            "no incoming connection in the last 30 minutes although the router (PCP) maps \
             127.0.0.9:40000 to your port 6881"
        );
    }

    #[test]
    fn a_upnp_refusal_reads_as_one_line() {
        let m = PortMappingStatus {
            error: Some("UPnP error 606 (Action not authorized) from 127.0.0.6:5000".into()),
            ..Default::default()
        };
        let f = failed(&m).unwrap();
        assert_eq!(
            f.evidence,
            "port mapping failed: UPnP error 606 (Action not authorized) from 127.0.0.6:5000"
        );
        assert!(
            f.advice.as_deref().is_some_and(|h| h.contains("UPnP")),
            "{f:?}"
        );
    }
}
