//! The two ways of asking a router, each with what it holds between rounds: PCP/NAT-PMP
//! (`client.rs`, one UDP server) and UPnP IGD (`upnp.rs`, HTTP). A round maps (or renews)
//! every wanted port and says what it got; `release` removes what the way holds. The task
//! (`mod.rs`) decides which way's mappings are published.

use std::net::{IpAddr, SocketAddr};

use super::client::{Client, Held, MapError};
use super::upnp::{self, Igd, UpnpError};
use super::{gateway, ssdp};
use crate::engine::api::{MappedPort, PortMapSettings};
use crate::protocol::natpmp::{Proto, SERVER_PORT};

/// What is wanted of every way.
pub(super) struct Want {
    pub(super) settings: PortMapSettings,
    pub(super) port: u16,
    pub(super) wanted: Vec<Proto>,
    pub(super) bind: Option<IpAddr>,
}

impl Want {
    fn lease(&self) -> u32 {
        u32::try_from(self.settings.lease.as_secs()).unwrap_or(u32::MAX)
    }
    pub(super) fn pmp_on(&self) -> bool {
        self.settings.gateway.is_some() || self.settings.discover || loopback_route().is_some()
    }
    pub(super) fn upnp_on(&self) -> bool {
        self.settings.igd.is_some() || self.settings.discover
    }
}

/// The default route's gateway when it is on loopback (127/8), asked even when `discover` is
/// off, as it reaches no other machine (the route-change test names one through
/// `api::TEST_ROUTE_TABLE_ENV`).
fn loopback_route() -> Option<std::net::Ipv4Addr> {
    gateway::default_gateway().filter(|g| g.is_loopback())
}

/// What one way mapped in a round.
#[derive(Debug, Clone)]
pub(super) struct Mapped {
    pub(super) protocol: &'static str,
    pub(super) gateway: String,
    pub(super) external_ip: Option<IpAddr>,
    pub(super) tcp: Option<MappedPort>,
    pub(super) udp: Option<MappedPort>,
    /// The shortest lease granted; 0: permanent.
    pub(super) lifetime: u32,
    pub(super) note: Option<String>,
}

impl Mapped {
    fn new(protocol: &'static str, gateway: String, external_ip: Option<IpAddr>) -> Mapped {
        Mapped {
            protocol,
            gateway,
            external_ip,
            tcp: None,
            udp: None,
            lifetime: u32::MAX,
            note: None,
        }
    }

    fn add(&mut self, proto: Proto, port: &MappedPort) {
        self.lifetime = self.lifetime.min(port.lifetime);
        match proto {
            Proto::Tcp => self.tcp = Some(port.clone()),
            Proto::Udp => self.udp = Some(port.clone()),
        }
    }
}

/// PCP, else NAT-PMP, with the server `settings.gateway` names or the default route's.
#[derive(Default)]
pub(super) struct Pmp {
    client: Option<Client>,
    held: Vec<Held>,
}

impl Pmp {
    fn server(want: &Want) -> Result<SocketAddr, MapError> {
        if let Some(g) = want.settings.gateway {
            return Ok(g);
        }
        let route = if want.settings.discover {
            gateway::default_gateway()
        } else {
            loopback_route()
        };
        route
            .map(|ip| SocketAddr::new(IpAddr::V4(ip), SERVER_PORT))
            .ok_or(MapError::NoGateway)
    }

    pub(super) async fn round(&mut self, want: &Want) -> Result<Mapped, MapError> {
        let c = match &mut self.client {
            Some(c) => c,
            None => {
                let server = Self::server(want)?;
                self.client.insert(Client::new(server, want.bind).await?)
            }
        };
        let mut got = Mapped::new("", c.server().to_string(), None);
        for &proto in &want.wanted {
            let prev = self.held.iter().position(|h| h.proto == proto);
            let h = c
                .map(proto, want.port, prev.map(|i| &self.held[i]), want.lease())
                .await?;
            got.add(proto, &h.port);
            match prev {
                Some(i) => self.held[i] = h,
                None => self.held.push(h),
            }
        }
        got.protocol = c.dialect.name();
        got.external_ip = c.external_ip;
        Ok(got)
    }

    /// Removes every mapping held (each removal is bounded).
    pub(super) async fn release(&mut self) {
        let Some(c) = self.client.as_mut() else {
            return;
        };
        for h in self.held.drain(..) {
            match c.unmap(&h).await {
                Ok(()) => tracing::info!(
                    "port mapping: removed {} {} -> {}",
                    h.proto,
                    h.port.external,
                    h.port.internal
                ),
                Err(e) => tracing::warn!("port mapping: removing {} failed: {e}", h.proto),
            }
        }
    }
}

/// UPnP IGD: the one `settings.igd` names, else the one an SSDP search finds.
#[derive(Default)]
pub(super) struct Upnp {
    igd: Option<Igd>,
    held: Vec<upnp::Held>,
}

impl Upnp {
    pub(super) async fn round(&mut self, want: &Want) -> Result<Mapped, MapError> {
        let igd = match &mut self.igd {
            Some(igd) => igd,
            None => {
                let location = match &want.settings.igd {
                    Some(url) => url.clone(),
                    None if want.settings.discover => ssdp::search(want.bind).await?,
                    None => return Err(UpnpError::NotFound.into()),
                };
                self.igd.insert(Igd::open(&location, want.bind).await?)
            }
        };
        let result = Self::map_all(igd, &mut self.held, want).await;
        if let Err(UpnpError::Http { .. }) = &result {
            // The IGD is gone or moved (a router reboots with a new control URL): its
            // description is read again next round.
            self.igd = None;
        }
        Ok(result?)
    }

    async fn map_all(
        igd: &mut Igd,
        held: &mut Vec<upnp::Held>,
        want: &Want,
    ) -> Result<Mapped, UpnpError> {
        if igd.external_ip.is_none() {
            igd.ask_external_ip().await;
        }
        let mut got = Mapped::new(igd.name(), igd.location.clone(), igd.external_ip);
        for &proto in &want.wanted {
            let prev = held.iter().position(|h| h.proto == proto);
            let g = igd
                .map(proto, want.port, prev.map(|i| &held[i]), want.lease())
                .await?;
            got.add(proto, &g.port);
            got.note = got.note.or_else(|| g.note.clone());
            match prev {
                Some(i) => held[i] = g,
                None => held.push(g),
            }
        }
        Ok(got)
    }

    /// Removes every mapping held (each removal is bounded).
    pub(super) async fn release(&mut self) {
        let Some(igd) = self.igd.as_ref() else {
            return;
        };
        for h in self.held.drain(..) {
            match igd.unmap(&h).await {
                Ok(()) => tracing::info!(
                    "port mapping: removed {} {} -> {} ({})",
                    h.proto,
                    h.port.external,
                    h.port.internal,
                    igd.name()
                ),
                Err(e) => tracing::warn!("port mapping: removing {} failed: {e}", h.proto),
            }
        }
    }
}
