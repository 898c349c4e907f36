//! Finding the IGD as miniupnpc does: one SSDP M-SEARCH multicast to 239.255.255.250:1900,
//! and the first answer that names a description URL. Called only when the settings allow
//! looking for routers (`PortMapSettings::discover`), which they never do under
//! `TTUI_NO_PUBLIC_ROUTERS`: tests, benchmarks and the demo send no multicast; they name
//! their IGD (`--port-mapping-igd`).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::time::{timeout_at, Instant};

use super::upnp::UpnpError;
use crate::protocol::upnp::ssdp;

/// How long answers are awaited; devices answer within MX seconds.
const MX: u8 = 2;
const LISTEN: Duration = Duration::from_secs(3);
/// Searches sent (UDP may lose one), a second apart.
const SENDS: u32 = 2;

/// The description URL of the first IGD that answers.
pub(crate) async fn search(bind: Option<IpAddr>) -> Result<String, UpnpError> {
    let local = match bind {
        Some(IpAddr::V4(ip)) => SocketAddr::from((ip, 0)),
        // SSDP here is IPv4's group: a v6-only bind has no IGD to find this way.
        Some(IpAddr::V6(_)) => return Err(UpnpError::NotFound),
        None => SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
    };
    let sock = UdpSocket::bind(local).await.map_err(UpnpError::Ssdp)?;
    // The IGD is on our link; a router may be one hop further at most.
    sock.set_multicast_ttl_v4(2).map_err(UpnpError::Ssdp)?;
    let msg = ssdp::m_search(ssdp::ST_IGD, MX);
    let deadline = Instant::now() + LISTEN;
    let mut buf = [0u8; ssdp::MAX_RESPONSE + 1];
    for i in 0..SENDS {
        sock.send_to(msg.as_bytes(), SocketAddr::V4(ssdp::MULTICAST))
            .await
            .map_err(UpnpError::Ssdp)?;
        let until = if i + 1 == SENDS {
            deadline
        } else {
            Instant::now() + Duration::from_secs(1)
        };
        while let Ok(got) = timeout_at(until, sock.recv_from(&mut buf)).await {
            let (n, from) = got.map_err(UpnpError::Ssdp)?;
            match ssdp::parse_answer(&buf[..n]) {
                Ok(a) => {
                    tracing::info!("port mapping: SSDP: an IGD at {} ({from})", a.location);
                    return Ok(a.location);
                }
                Err(e) => tracing::debug!("port mapping: SSDP answer from {from}: {e}"),
            }
        }
    }
    Err(UpnpError::NotFound)
}
