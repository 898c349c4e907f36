//! Port mapping as a face sets it (`port_mapping`, `--no-port-mapping`) and shows it (the
//! header, `show --json`, the explainer). The mapper itself is the session's
//! (`engine/session/port_mapping/`).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use super::ValueError;

/// What the session asks routers for, and which routers it may ask.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortMapSettings {
    /// The NAT-PMP/PCP server to ask; None: the gateway of the default route, on port 5351.
    pub gateway: Option<SocketAddr>,
    /// Whether the default route's gateway may be asked when `gateway` names none. Off under
    /// `TTUI_NO_PUBLIC_ROUTERS` (tests, benchmarks, the demo): only a named server is asked.
    pub discover: bool,
    /// The UPnP IGD's description URL to ask; None: the IGD an SSDP search finds, when
    /// `discover` allows one (tests name a loopback IGD here, as `gateway` for NAT-PMP).
    pub igd: Option<String>,
    /// The lease asked for; the mapping is renewed at half of what the router grants.
    pub lease: Duration,
}

/// Test only: a file in the form of /proc/net/route that the mapper reads in its place. A
/// test namespace cannot route by a gateway on 127/8 (the kernel refuses a next hop that is a
/// local address), so the route-change test writes the table it wants the mapper to see;
/// under `TTUI_NO_PUBLIC_ROUTERS` its default route's gateway is asked when it is on loopback.
pub const TEST_ROUTE_TABLE_ENV: &str = "TTUI_TEST_ROUTE_TABLE";

/// The lease asked for by default: two hours, as libtorrent and Transmission's libnatpmp ask
/// for about that, and the RFC recommends 7200 s.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(7200);

impl Default for PortMapSettings {
    fn default() -> Self {
        PortMapSettings {
            gateway: None,
            igd: None,
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
    /// "PCP", "NAT-PMP", "UPnP IGD2" or "UPnP IGD1" once a router mapped us; None before.
    pub protocol: Option<String>,
    /// The router asked ("127.0.0.2:5351", or the IGD's description URL for UPnP); None
    /// while none is known.
    pub gateway: Option<String>,
    /// The router's external address, as it told us.
    pub external_ip: Option<IpAddr>,
    pub tcp: Option<MappedPort>,
    pub udp: Option<MappedPort>,
    /// Why the last attempt failed, with the router's own answer ("PCP result 2
    /// (NOT_AUTHORIZED)") or "no answer from 127.0.0.2:5351"; None while it works.
    pub error: Option<String>,
    /// What the router did other than asked while it mapped us ("UPnP error 718
    /// (ConflictInMappingEntry) from 127.0.0.6:5000: mapped 51001 instead").
    #[serde(default)]
    pub note: Option<String>,
}

/// Reads `--port-mapping-igd`: an http:// URL with a host (UPnP 1.x has no https).
pub fn parse_igd_url(s: &str) -> Result<String, ValueError> {
    let host = igd_host(s).ok_or_else(|| ValueError::NotAnIgdUrl(s.to_owned()))?;
    if host.is_empty() {
        return Err(ValueError::NoIgdHost(s.to_owned()));
    }
    Ok(s.to_string())
}

/// The host of an http:// URL as written (brackets kept off an IPv6 address), or None.
fn igd_host(url: &str) -> Option<&str> {
    let rest = url
        .get(..7)
        .filter(|p| p.eq_ignore_ascii_case("http://"))
        .map(|_| &url[7..])?;
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    if authority.contains('@') {
        return None;
    }
    if let Some(v6) = authority.strip_prefix('[') {
        return v6.split_once(']').map(|(h, _)| h);
    }
    Some(authority.split(':').next().unwrap_or(""))
}

/// Whether the IGD URL names a loopback address (all tests may ask).
pub fn igd_is_loopback(url: &str) -> bool {
    igd_host(url)
        .and_then(|h| h.parse::<IpAddr>().ok())
        .is_some_and(|ip| ip.is_loopback())
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
    fn igd_urls_are_http_with_a_host() {
        let url = "http://127.0.0.6:5000/rootDesc.xml";
        assert_eq!(parse_igd_url(url).as_deref(), Ok(url));
        assert!(igd_is_loopback(url));
        assert!(igd_is_loopback("http://[::1]:80/d.xml"));
        assert!(!igd_is_loopback("http://192.168.1.1:5000/d.xml"));
        assert!(
            !igd_is_loopback("http://localhost:5000/d.xml"),
            "names are not trusted"
        );
        assert!(!igd_is_loopback("http://127.0.0.1@10.0.0.1/"));
        assert!(parse_igd_url("https://127.0.0.6/").is_err());
        assert!(parse_igd_url("http:///x").is_err());
        assert!(parse_igd_url("http://u@router/x").is_err());
    }

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
