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
    search_at(SocketAddr::V4(ssdp::MULTICAST), bind).await
}

/// `search` sent to `to` (the unit tests send it to a loopback socket, never the group).
async fn search_at(to: SocketAddr, bind: Option<IpAddr>) -> Result<String, UpnpError> {
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
        sock.send_to(msg.as_bytes(), to)
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
                // As libtorrent: a device is taken only at the address it answered from, so
                // no answer can send our HTTP to another host.
                Ok(a) if !location_is_at(&a.location, from.ip()) => tracing::debug!(
                    "port mapping: SSDP answer from {from} names another host: {}",
                    a.location
                ),
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

/// Whether the URL's host is the address `ip`.
fn location_is_at(location: &str, ip: IpAddr) -> bool {
    let host = reqwest::Url::parse(location)
        .ok()
        .and_then(|u| u.host_str().map(|h| h.trim_matches(['[', ']']).to_string()));
    host.and_then(|h| h.parse::<IpAddr>().ok()) == Some(ip)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_location_must_be_where_the_answer_came_from() {
        let ip: IpAddr = "192.168.1.1".parse().unwrap();
        assert!(location_is_at("http://192.168.1.1:5000/rootDesc.xml", ip));
        assert!(!location_is_at("http://192.168.1.2:5000/rootDesc.xml", ip));
        assert!(!location_is_at("http://router.lan:5000/rootDesc.xml", ip));
        assert!(location_is_at(
            "http://[fe80::1]:5000/d.xml",
            "fe80::1".parse().unwrap()
        ));
        assert!(!location_is_at("not a url", ip));
    }

    /// A device on loopback answers the search (sent to it, not to the group).
    #[tokio::test]
    async fn the_first_answer_names_the_description() {
        let device = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let to = device.local_addr().unwrap();
        let answer = tokio::spawn(async move {
            let mut buf = [0u8; 1024];
            let (n, from) = device.recv_from(&mut buf).await.unwrap();
            let search = String::from_utf8_lossy(&buf[..n]).into_owned();
            let reply = format!(
                "HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=120\r\nST: {}\r\n\
                 LOCATION: http://127.0.0.1:5000/rootDesc.xml\r\n\r\n",
                ssdp::ST_IGD
            );
            device.send_to(reply.as_bytes(), from).await.unwrap();
            search
        });
        let got = search_at(to, Some("127.0.0.1".parse().unwrap())).await;
        let search = answer.await.unwrap();
        assert!(search.starts_with("M-SEARCH * HTTP/1.1\r\n"), "{search}");
        assert!(
            search.contains(&format!("ST: {}\r\n", ssdp::ST_IGD)),
            "{search}"
        );
        assert_eq!(got.unwrap(), "http://127.0.0.1:5000/rootDesc.xml");
    }
}
