//! Port mapping as a face sets it (`port_mapping`, `--no-port-mapping`) and shows it (the
//! header, `show --json`, the explainer). The mapper itself is the session's
//! (`engine/session/port_mapping/`).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// What the session asks routers for, and which routers it may ask.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortMapSettings {
    /// The NAT-PMP/PCP server to ask; None: the gateway of the default route, on port 5351.
    pub gateway: Option<SocketAddr>,
    /// Whether the default route's gateway may be asked when `gateway` names none. Off under
    /// `TTUI_NO_PUBLIC_ROUTERS` (tests, benchmarks, the demo): only a named server is asked.
    pub discover: bool,
    /// The lease asked for; the mapping is renewed at half of what the router grants.
    pub lease: Duration,
}

/// The lease asked for by default: two hours, as libtorrent and Transmission's libnatpmp ask
/// for about that, and the RFC recommends 7200 s.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(7200);

impl Default for PortMapSettings {
    fn default() -> Self {
        PortMapSettings {
            gateway: None,
            discover: true,
            lease: DEFAULT_LEASE,
        }
    }
}

/// One mapping a router granted.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MappedPort {
    /// Our port (the listen port).
    pub internal: u16,
    /// The port peers dial on the router's external address.
    pub external: u16,
    /// Seconds the router granted.
    pub lifetime: u32,
}

/// The port mapper's state.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PortMappingStatus {
    /// "NAT-PMP" or "PCP" once a router answered; None before.
    pub protocol: Option<String>,
    /// The router asked ("127.0.0.2:5351"); None while none is known.
    pub gateway: Option<String>,
    /// The router's external address, as it told us.
    pub external_ip: Option<IpAddr>,
    pub tcp: Option<MappedPort>,
    pub udp: Option<MappedPort>,
    /// Why the last attempt failed, with the router's own answer ("PCP result 2
    /// (NOT_AUTHORIZED)") or "no answer from 127.0.0.2:5351"; None while it works.
    pub error: Option<String>,
}

impl PortMappingStatus {
    /// Where peers outside can dial us (address and the TCP port), once both are known.
    pub fn external(&self) -> Option<SocketAddr> {
        Some(SocketAddr::new(
            self.external_ip?,
            self.tcp.as_ref()?.external,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_external_address_needs_both_halves() {
        let mut s = PortMappingStatus::default();
        assert_eq!(s.external(), None);
        s.external_ip = Some("127.0.0.9".parse().unwrap());
        assert_eq!(s.external(), None);
        s.tcp = Some(MappedPort {
            internal: 6881,
            external: 40000,
            lifetime: 60,
        });
        assert_eq!(s.external(), Some("127.0.0.9:40000".parse().unwrap()));
    }
}
