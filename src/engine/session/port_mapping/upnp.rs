//! One UPnP IGD, asked over HTTP as miniupnpc asks it: its description (from the URL the
//! settings name, or the one an SSDP search found) names the service, best first IGD v2's
//! WANIPConnection:2, then v1's, then WANPPPConnection:1 (`protocol/upnp`); then SOAP calls
//! to its control URL: GetExternalIPAddress, AddPortMapping, DeletePortMapping.
//!
//! The router's quirks handled as miniupnpc and libtorrent handle them:
//! - 725 OnlyPermanentLeasesSupported (IGD v1 routers): asked again with a lease of 0, and
//!   every later call of this IGD asks 0 too;
//! - 718 ConflictInMappingEntry (another client holds the external port): IGD v2 is asked
//!   AddAnyPortMapping, which reserves a free port and says which; v1 is asked the next
//!   ports, `CONFLICT_TRIES` of them. The port granted is the one published.
//!
//! Every request is bounded in time (`TIMEOUT`) and in the bytes read (the parsers' caps);
//! redirects are not followed and no system proxy is used: the router is on our link.
//! The client is bound to the session's `--bind` address when it has one.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::engine::api::MappedPort;
use crate::protocol::natpmp::Proto;
use crate::protocol::upnp::{description, soap};

/// Bound on each HTTP exchange with the router (connect included).
const TIMEOUT: Duration = Duration::from_secs(5);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// External ports asked of an IGD v1 after a conflict on the first (libtorrent asks a few).
const CONFLICT_TRIES: u16 = 8;
/// What the router's mapping table shows for ours.
const DESCRIPTION: &str = "ttui";

/// Why the IGD did not map us.
#[derive(Debug, thiserror::Error)]
pub(crate) enum UpnpError {
    #[error("UPnP: no IGD answered the SSDP search")]
    NotFound,
    #[error("UPnP: SSDP search: {0}")]
    Ssdp(std::io::Error),
    #[error("UPnP: the HTTP client: {0}")]
    Client(reqwest::Error),
    #[error("UPnP IGD {url}: {why}")]
    Http { url: String, why: String },
    #[error("UPnP IGD {0}: {1}")]
    Description(String, description::DescriptionError),
    #[error("{err} from {host}")]
    Soap { host: String, err: soap::SoapError },
    #[error("UPnP IGD {0}: no local address reaches it: {1}")]
    Local(String, std::io::Error),
}

/// A mapping an IGD granted.
#[derive(Debug, Clone)]
pub(crate) struct Held {
    pub(crate) proto: Proto,
    pub(crate) port: MappedPort,
    /// Why the external port is not the one first asked (a conflict), kept while it holds.
    pub(crate) note: Option<String>,
}

pub(crate) struct Igd {
    http: reqwest::Client,
    /// The description's URL (shown as the status' gateway).
    pub(crate) location: String,
    service: String,
    control: String,
    /// `host:port` of the IGD, for messages.
    host: String,
    /// Our address as the IGD sees it: the mappings' internal client.
    local: IpAddr,
    /// Set after a 725: this IGD takes only permanent mappings.
    permanent_only: bool,
    pub(crate) external_ip: Option<IpAddr>,
}

impl Igd {
    /// Fetches and reads the description at `location`.
    pub(crate) async fn open(location: &str, bind: Option<IpAddr>) -> Result<Igd, UpnpError> {
        let mut b = reqwest::Client::builder()
            .user_agent(concat!("ttui/", env!("CARGO_PKG_VERSION"), " UPnP/1.1"))
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .pool_max_idle_per_host(0);
        if let Some(ip) = bind {
            b = b.local_address(ip);
        }
        let http = b.build().map_err(UpnpError::Client)?;
        let url = reqwest::Url::parse(location).map_err(|e| UpnpError::Http {
            url: location.into(),
            why: e.to_string(),
        })?;
        let host = match (url.host_str(), url.port_or_known_default()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            _ => location.to_string(),
        };
        let body = fetch(location, http.get(location), description::MAX_DESCRIPTION).await?;
        let found = description::parse(&body, location)
            .map_err(|e| UpnpError::Description(location.into(), e))?;
        let local = match bind {
            Some(ip) => ip,
            None => local_toward(&host)
                .await
                .map_err(|e| UpnpError::Local(location.into(), e))?,
        };
        Ok(Igd {
            http,
            location: location.to_string(),
            service: found.service_type,
            control: found.control_url,
            host,
            local,
            permanent_only: false,
            external_ip: None,
        })
    }

    /// "UPnP IGD2" for WANIPConnection:2, "UPnP IGD1" for the v1 services.
    pub(crate) fn name(&self) -> &'static str {
        if self.v2() {
            "UPnP IGD2"
        } else {
            "UPnP IGD1"
        }
    }

    fn v2(&self) -> bool {
        self.service.ends_with(":2")
    }

    /// Asks the external address (a router without one still maps: it stays unknown).
    pub(crate) async fn ask_external_ip(&mut self) {
        let body = soap::get_external_ip(&self.service);
        match self.call("GetExternalIPAddress", body).await {
            Ok(reply) => match soap::parse_external_ip(&reply) {
                Ok(ip) => self.external_ip = Some(ip),
                Err(e) => tracing::info!("port mapping: {e} from {}", self.host),
            },
            Err(e) => tracing::info!("port mapping: GetExternalIPAddress: {e}"),
        }
    }

    /// Maps (or renews) `proto`'s `internal` port for `lease` seconds, asking for `prev`'s
    /// external port when there is one.
    pub(crate) async fn map(
        &mut self,
        proto: Proto,
        internal: u16,
        prev: Option<&Held>,
        lease: u32,
    ) -> Result<Held, UpnpError> {
        let first = prev.map_or(internal, |h| h.port.external);
        let mut external = first;
        let mut conflicts = 0u16;
        loop {
            let lease = if self.permanent_only { 0 } else { lease };
            let any = conflicts > 0 && self.v2();
            // IGD2's AddAnyPortMapping lets the router pick another port once ours is taken.
            type Add = fn(&str, u16, &str, u16, std::net::IpAddr, &str, u32) -> String;
            let (add, action): (Add, &str) = if any {
                (soap::add_any_port_mapping, "AddAnyPortMapping")
            } else {
                (soap::add_port_mapping, "AddPortMapping")
            };
            let body = add(
                &self.service,
                external,
                proto.name(),
                internal,
                self.local,
                DESCRIPTION,
                lease,
            );
            let answer = match self.call(action, body).await {
                Ok(reply) if any => soap::parse_reserved_port(&reply).map(Some),
                Ok(reply) => soap::parse_reply(&reply, action).map(|_| None),
                Err(UpnpError::Soap { err, .. }) => Err(err),
                Err(e) => return Err(e),
            };
            match answer {
                Ok(reserved) => {
                    let granted = reserved.unwrap_or(external);
                    // A renewal of a port taken after a conflict keeps the conflict's note.
                    let note = match prev {
                        Some(h) if granted == first => h.note.clone(),
                        _ => (granted != first).then(|| {
                            format!(
                                "UPnP error {} (ConflictInMappingEntry) from {}: mapped {granted} instead of {first}",
                                soap::CONFLICT,
                                self.host
                            )
                        }),
                    };
                    let port = MappedPort {
                        internal,
                        external: granted,
                        lifetime: lease,
                    };
                    return Ok(Held { proto, port, note });
                }
                Err(soap::SoapError::Upnp { code, .. })
                    if code == soap::ONLY_PERMANENT_LEASES && !self.permanent_only =>
                {
                    tracing::info!(
                        "port mapping: {} takes only permanent leases (UPnP error 725)",
                        self.host
                    );
                    self.permanent_only = true;
                }
                Err(soap::SoapError::Upnp { code, .. })
                    if code == soap::CONFLICT && conflicts < CONFLICT_TRIES =>
                {
                    conflicts += 1;
                    if !self.v2() {
                        external = next_port(external);
                    }
                }
                Err(err) => {
                    return Err(UpnpError::Soap {
                        host: self.host.clone(),
                        err,
                    })
                }
            }
        }
    }

    /// Removes a mapping (bounded by `TIMEOUT`; the caller bounds all of them).
    pub(crate) async fn unmap(&self, held: &Held) -> Result<(), UpnpError> {
        let body = soap::delete_port_mapping(&self.service, held.port.external, held.proto.name());
        let reply = self.call("DeletePortMapping", body).await?;
        soap::parse_reply(&reply, "DeletePortMapping")
            .map(drop)
            .map_err(|err| UpnpError::Soap {
                host: self.host.clone(),
                err,
            })
    }

    /// POSTs one SOAP call; the reply's body, a fault's included (a UPnPError comes with
    /// HTTP 500).
    async fn call(&self, action: &str, body: String) -> Result<Vec<u8>, UpnpError> {
        let req = self
            .http
            .post(&self.control)
            .header("Content-Type", "text/xml; charset=\"utf-8\"")
            .header("SOAPAction", soap::action_header(&self.service, action))
            .body(body);
        fetch(&self.control, req, soap::MAX_REPLY).await
    }
}

/// The next external port after a conflict, staying above the well-known ones.
fn next_port(p: u16) -> u16 {
    p.checked_add(1).filter(|p| *p >= 1024).unwrap_or(1024)
}

/// Sends `req` and reads at most `max` + 1 bytes of the body (the parsers refuse more).
/// A status other than 200 and 500 is an error; 500 carries SOAP's faults.
async fn fetch(url: &str, req: reqwest::RequestBuilder, max: usize) -> Result<Vec<u8>, UpnpError> {
    let http_err = |why: String| UpnpError::Http {
        url: url.to_string(),
        why,
    };
    let mut resp = req.send().await.map_err(|e| http_err(reason(&e)))?;
    let status = resp.status();
    if status != reqwest::StatusCode::OK && status != reqwest::StatusCode::INTERNAL_SERVER_ERROR {
        return Err(http_err(format!("HTTP {status}")));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| http_err(reason(&e)))? {
        body.extend_from_slice(&chunk);
        if body.len() > max {
            break;
        }
    }
    Ok(body)
}

/// reqwest's error with its causes on one line ("connection refused", "timed out"): its
/// own text names only the URL.
fn reason(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return format!("no answer within {} s", TIMEOUT.as_secs());
    }
    let mut deepest: &dyn std::error::Error = e;
    while let Some(s) = deepest.source() {
        deepest = s;
    }
    deepest.to_string()
}

/// Our address toward `host:port`: a UDP socket connected there (no datagram is sent) has
/// the source address the kernel's routes choose, which is the one a TCP connection to the
/// IGD gets too (miniupnpc reads it from its socket).
async fn local_toward(host: &str) -> std::io::Result<IpAddr> {
    let to = tokio::net::lookup_host(host)
        .await?
        .next()
        .ok_or_else(|| std::io::Error::other("the name resolves to nothing"))?;
    let any: SocketAddr = match to {
        SocketAddr::V4(_) => SocketAddr::from(([0, 0, 0, 0], 0)),
        SocketAddr::V6(_) => SocketAddr::from(([0u16; 8], 0)),
    };
    let sock = tokio::net::UdpSocket::bind(any).await?;
    sock.connect(to).await?;
    Ok(sock.local_addr()?.ip())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_port_stays_off_the_well_known_ones() {
        assert_eq!(next_port(6881), 6882);
        assert_eq!(next_port(u16::MAX), 1024);
        assert_eq!(next_port(80), 1024);
    }
}
