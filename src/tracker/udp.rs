//! UDP tracker protocol (BEP 15): connect, announce, error packets.
//!
//! The BEP retransmits after 15·2^n s, which is minutes of silence for a person watching a
//! status row. We keep its shape but with a short schedule (2 s, 4 s, 8 s by default) and an
//! overall deadline equal to the schedule's sum.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;

use crate::net::socks_relay::{SocksRelay, TrackerReplies};

use super::{
    announce_key, clamp_intervals, clean_text, AnnounceEvent, AnnounceRequest, AnnounceResponse,
    TrackerError,
};

const PROTOCOL_ID: u64 = 0x0417_2710_1980;
const ACTION_CONNECT: u32 = 0;
const ACTION_ANNOUNCE: u32 = 1;
const ACTION_ERROR: u32 = 3;
/// BEP 15: a connection id may be used for one minute after it was received.
pub const CONNECTION_ID_LIFETIME: Duration = Duration::from_secs(60);
/// Replies larger than this are cut; that is over 10 000 IPv4 peers.
const RECV_BUF: usize = 65_536;

/// How long to wait for each try; the number of entries is the number of tries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdpSchedule {
    pub timeouts: Vec<Duration>,
}

impl Default for UdpSchedule {
    fn default() -> Self {
        UdpSchedule::doubling(Duration::from_secs(2), 3)
    }
}

impl UdpSchedule {
    /// `first`, 2·first, 4·first, … for `tries` tries.
    pub fn doubling(first: Duration, tries: u32) -> Self {
        let timeouts = (0..tries.min(16))
            .map(|n| first.saturating_mul(1 << n))
            .collect();
        UdpSchedule { timeouts }
    }

    /// The most one announce can take.
    pub fn total(&self) -> Duration {
        self.timeouts
            .iter()
            .fold(Duration::ZERO, |a, b| a.saturating_add(*b))
    }
}

/// Connection ids by tracker address. A tracker ties the id to our IP, not our port, so
/// it survives our per-announce sockets.
fn cache() -> &'static Mutex<HashMap<SocketAddr, (u64, Instant)>> {
    static CACHE: OnceLock<Mutex<HashMap<SocketAddr, (u64, Instant)>>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

fn cached_id(addr: SocketAddr) -> Option<u64> {
    let map = cache().lock().unwrap_or_else(|e| e.into_inner());
    map.get(&addr)
        .filter(|(_, at)| at.elapsed() < CONNECTION_ID_LIFETIME)
        .map(|(id, _)| *id)
}

fn store_id(addr: SocketAddr, id: u64) {
    let mut map = cache().lock().unwrap_or_else(|e| e.into_inner());
    if map.len() > 256 {
        map.retain(|_, (_, at)| at.elapsed() < CONNECTION_ID_LIFETIME);
    }
    map.insert(addr, (id, Instant::now()));
}

/// One connect at a time per tracker: the announces of many torrents that find no id (a
/// library waking torrents in a burst, the first minute after a restart) wait for the one
/// connecting and share its id, so a tracker sees one connection id from us, not one per
/// torrent.
fn connect_gate(addr: SocketAddr) -> Arc<tokio::sync::Mutex<()>> {
    type Gates = Mutex<HashMap<SocketAddr, Arc<tokio::sync::Mutex<()>>>>;
    static GATES: OnceLock<Gates> = OnceLock::new();
    let mut map = GATES
        .get_or_init(|| Mutex::new(HashMap::new()))
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if map.len() > 256 {
        // Gates nobody waits on go; a tracker's next connect makes its gate again.
        map.retain(|_, g| Arc::strong_count(g) > 1);
    }
    Arc::clone(map.entry(addr).or_default())
}

/// Drops the cached connection id of `addr` (the next announce connects again).
pub fn forget_connection(addr: SocketAddr) {
    cache()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&addr);
}

/// The tracker's address from a `udp://host:port/...` URL: of `local`'s family when the
/// announce leaves from a given address (`--bind`, or one family of a name with both), else
/// IPv4 first.
pub async fn resolve(
    url: &reqwest::Url,
    local: Option<std::net::IpAddr>,
) -> Result<SocketAddr, TrackerError> {
    let port = url.port().ok_or_else(|| {
        TrackerError::InvalidUrl(format!(
            "{} has no port",
            clean_text(url.as_str().as_bytes())
        ))
    })?;
    let host = url.host_str().ok_or_else(|| {
        TrackerError::InvalidUrl(format!(
            "{} has no host",
            clean_text(url.as_str().as_bytes())
        ))
    })?;
    // IPv6 literals come bracketed; lookup_host wants them bare (it parses IP literals itself).
    let name = host.trim_start_matches('[').trim_end_matches(']');
    let mut addrs = tokio::net::lookup_host((name, port))
        .await
        .map_err(|e| TrackerError::Resolve(format!("{}: {e}", clean_text(name.as_bytes()))))?
        .collect::<Vec<_>>();
    // IPv4 first: most trackers only answer there.
    addrs.sort_by_key(|a| !a.is_ipv4());
    if let Some(local) = local {
        addrs.retain(|a| a.is_ipv4() == local.is_ipv4());
    }
    let addr = addrs
        .first()
        .copied()
        .ok_or_else(|| TrackerError::Resolve(clean_text(name.as_bytes())))?;
    Ok(addr)
}

fn connect_packet(txid: u32) -> [u8; 16] {
    let mut p = [0u8; 16];
    p[..8].copy_from_slice(&PROTOCOL_ID.to_be_bytes());
    p[8..12].copy_from_slice(&ACTION_CONNECT.to_be_bytes());
    p[12..].copy_from_slice(&txid.to_be_bytes());
    p
}

fn announce_packet(conn_id: u64, txid: u32, req: &AnnounceRequest) -> Vec<u8> {
    let event: u32 = match req.event {
        AnnounceEvent::None => 0,
        AnnounceEvent::Completed => 1,
        AnnounceEvent::Started => 2,
        AnnounceEvent::Stopped => 3,
    };
    let numwant = i32::try_from(req.numwant).unwrap_or(i32::MAX);
    let mut p = Vec::with_capacity(98);
    p.extend_from_slice(&conn_id.to_be_bytes());
    p.extend_from_slice(&ACTION_ANNOUNCE.to_be_bytes());
    p.extend_from_slice(&txid.to_be_bytes());
    p.extend_from_slice(&req.info_hash);
    p.extend_from_slice(&req.peer_id);
    p.extend_from_slice(&req.progress.downloaded.to_be_bytes());
    p.extend_from_slice(&req.progress.left.to_be_bytes());
    p.extend_from_slice(&req.progress.uploaded.to_be_bytes());
    p.extend_from_slice(&event.to_be_bytes());
    p.extend_from_slice(&0u32.to_be_bytes()); // IP: the sender's
    p.extend_from_slice(&announce_key().to_be_bytes());
    p.extend_from_slice(&numwant.to_be_bytes());
    p.extend_from_slice(&req.port.to_be_bytes());
    p
}

fn be_u32(b: &[u8], at: usize) -> Option<u32> {
    let s: [u8; 4] = b.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(u32::from_be_bytes(s))
}

fn be_u64(b: &[u8], at: usize) -> Option<u64> {
    let s: [u8; 8] = b.get(at..at.checked_add(8)?)?.try_into().ok()?;
    Some(u64::from_be_bytes(s))
}

/// How an announce's datagrams travel: its own socket, or the session's socket through the
/// SOCKS5 proxy's relay (`--proxy`), whose replies from the tracker come by subscription.
enum Way {
    Direct(UdpSocket),
    Relayed(Arc<SocksRelay>, TrackerReplies),
}

/// Sends `packet` once and waits until `deadline` for the reply carrying `txid`. Datagrams
/// from elsewhere, too short, or with another transaction id (late answers to earlier tries)
/// are skipped. `None` means no reply in time.
async fn exchange(
    way: &mut Way,
    addr: SocketAddr,
    packet: &[u8],
    txid: u32,
    deadline: tokio::time::Instant,
) -> Result<Option<(u32, Vec<u8>)>, TrackerError> {
    let sock = match way {
        Way::Direct(sock) => sock,
        Way::Relayed(relay, replies) => {
            if !relay.send(packet, addr) {
                return Err(TrackerError::UdpOff(relay.off().unwrap_or_default()));
            }
            loop {
                let data = match tokio::time::timeout_at(deadline, replies.rx.recv()).await {
                    Err(_) | Ok(None) => return Ok(None),
                    Ok(Some(d)) => d,
                };
                match (be_u32(&data, 0), be_u32(&data, 4)) {
                    (Some(action), Some(id)) if id == txid => return Ok(Some((action, data))),
                    _ => continue,
                }
            }
        }
    };
    sock.send_to(packet, addr)
        .await
        .map_err(|e| TrackerError::io("send", &e))?;
    let mut buf = vec![0u8; RECV_BUF];
    loop {
        let (n, from) = match tokio::time::timeout_at(deadline, sock.recv_from(&mut buf)).await {
            Err(_) => return Ok(None),
            Ok(Ok(x)) => x,
            // An ICMP error surfacing on some platforms; wait out the rest of the try.
            Ok(Err(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::ConnectionReset
                ) =>
            {
                tokio::time::sleep_until(deadline).await;
                return Ok(None);
            }
            Ok(Err(e)) => return Err(TrackerError::io("receive", &e)),
        };
        if from != addr {
            continue;
        }
        let data = buf.get(..n).unwrap_or_default();
        match (be_u32(data, 0), be_u32(data, 4)) {
            (Some(action), Some(id)) if id == txid => return Ok(Some((action, data.to_vec()))),
            _ => continue,
        }
    }
}

fn error_text(reply: &[u8]) -> String {
    let text = clean_text(reply.get(8..).unwrap_or_default());
    if text.is_empty() {
        "(no reason given)".into()
    } else {
        text
    }
}

/// One announce to a `udp://` tracker.
pub(crate) async fn announce(
    url: &reqwest::Url,
    req: &AnnounceRequest,
    schedule: &UdpSchedule,
    local: Option<std::net::IpAddr>,
    relay: Option<&Arc<SocksRelay>>,
) -> Result<AnnounceResponse, TrackerError> {
    let total = schedule.total();
    // getaddrinfo can stall for many seconds; it shares the announce's time budget.
    let addr = tokio::time::timeout(total, resolve(url, local))
        .await
        .map_err(|_| {
            TrackerError::Resolve(format!(
                "{}: timed out",
                clean_text(url.host_str().unwrap_or_default().as_bytes())
            ))
        })??;
    let timed_out = || {
        TrackerError::Timeout(format!(
            "no reply from {addr} in {} tries ({:.1} s)",
            schedule.timeouts.len(),
            total.as_secs_f64()
        ))
    };
    let end = tokio::time::Instant::now() + total;
    match tokio::time::timeout_at(end, exchange_all(addr, req, schedule, end, local, relay)).await {
        Ok(Ok(Some(r))) => Ok(r),
        Ok(Ok(None)) | Err(_) => {
            forget_connection(addr);
            Err(timed_out())
        }
        Ok(Err(e)) => Err(e),
    }
}

/// A socket for `addr`: from `--bind`'s address when it is of the tracker's family (as TCP to
/// peers), on `--interface`'s device and from its address when one is set.
fn udp_socket(addr: SocketAddr, local: Option<std::net::IpAddr>) -> std::io::Result<UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let bind: SocketAddr = match crate::net::device::source_for(addr, local)? {
        Some(ip) => SocketAddr::new(ip, 0),
        None if addr.is_ipv4() => SocketAddr::from(([0, 0, 0, 0], 0)),
        None => SocketAddr::from(([0u16; 8], 0)),
    };
    let s = Socket::new(Domain::for_address(bind), Type::DGRAM, Some(Protocol::UDP))?;
    crate::net::device::bind_socket(&s)?;
    s.bind(&bind.into())?;
    s.set_nonblocking(true)?;
    UdpSocket::from_std(s.into())
}

async fn exchange_all(
    addr: SocketAddr,
    req: &AnnounceRequest,
    schedule: &UdpSchedule,
    end: tokio::time::Instant,
    local: Option<std::net::IpAddr>,
    relay: Option<&Arc<SocksRelay>>,
) -> Result<Option<AnnounceResponse>, TrackerError> {
    let mut way = match relay {
        Some(r) => Way::Relayed(Arc::clone(r), r.tracker_replies(addr)),
        None => Way::Direct(udp_socket(addr, local).map_err(|e| TrackerError::io("bind", &e))?),
    };
    let mut conn = cached_id(addr);
    for wait in &schedule.timeouts {
        let deadline = (tokio::time::Instant::now() + *wait).min(end);
        let gate = connect_gate(addr);
        // Held only while no id is known: another announce may be connecting right now.
        let _turn = match conn {
            Some(_) => None,
            None => {
                let turn = gate.lock().await;
                conn = cached_id(addr);
                Some(turn)
            }
        };
        let conn_id = match conn {
            Some(id) => id,
            None => {
                let txid: u32 = rand::random();
                let Some((action, reply)) =
                    exchange(&mut way, addr, &connect_packet(txid), txid, deadline).await?
                else {
                    continue;
                };
                match action {
                    ACTION_CONNECT => {}
                    ACTION_ERROR => return Err(TrackerError::Failure(error_text(&reply))),
                    a => {
                        return Err(TrackerError::BadReply(format!(
                            "action {a} in reply to connect"
                        )))
                    }
                }
                let id = be_u64(&reply, 8)
                    .ok_or_else(|| TrackerError::BadReply("short connect reply".into()))?;
                store_id(addr, id);
                id
            }
        };
        let txid: u32 = rand::random();
        // The announce gets a full wait of its own even if the connect used part of it.
        let deadline = (tokio::time::Instant::now() + *wait).min(end);
        let Some((action, reply)) = exchange(
            &mut way,
            addr,
            &announce_packet(conn_id, txid, req),
            txid,
            deadline,
        )
        .await?
        else {
            // Maybe the tracker forgot our id: connect again on the next try.
            forget_connection(addr);
            conn = None;
            continue;
        };
        return match action {
            ACTION_ANNOUNCE => parse_announce(&reply, addr.is_ipv6()).map(Some),
            ACTION_ERROR => {
                forget_connection(addr);
                Err(TrackerError::Failure(error_text(&reply)))
            }
            a => Err(TrackerError::BadReply(format!(
                "action {a} in reply to announce"
            ))),
        };
    }
    Ok(None)
}

/// An announce reply: action, txid, interval, leechers, seeders, then peers (6 bytes each, or
/// 18 when we talk to the tracker over IPv6).
pub fn parse_announce(reply: &[u8], v6: bool) -> Result<AnnounceResponse, TrackerError> {
    let field =
        |at| be_u32(reply, at).ok_or_else(|| TrackerError::BadReply("short announce reply".into()));
    let interval = field(8)?;
    let leechers = field(12)?;
    let seeders = field(16)?;
    let mut peers = Vec::new();
    let rest = reply.get(20..).unwrap_or_default();
    if v6 {
        super::http::compact_v6(rest, &mut peers);
    } else {
        super::http::compact_v4(rest, &mut peers);
    }
    let (interval, min_interval) = clamp_intervals(Some(i64::from(interval)), None);
    Ok(AnnounceResponse {
        interval,
        min_interval,
        peers,
        seeders: Some(seeders),
        leechers: Some(leechers),
        warning: None,
        external_ip: None,
        tracker_ip: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(peers: &[u8]) -> Vec<u8> {
        let mut r = Vec::new();
        for word in [ACTION_ANNOUNCE, 7, 1800, 3, 4] {
            r.extend_from_slice(&word.to_be_bytes());
        }
        r.extend_from_slice(peers);
        r
    }

    #[test]
    fn announce_reply_peers_are_capped_per_reply() {
        // As many IPv4 peers as one datagram we read can hold.
        let mut peers = Vec::new();
        for i in 0..((RECV_BUF - 20) / 6) as u32 {
            peers.extend_from_slice(&(0x0a00_0000 | i).to_be_bytes());
            peers.extend_from_slice(&[0x1a, 0xe1]);
        }
        let r = parse_announce(&reply(&peers), false).unwrap();
        assert_eq!(r.peers.len(), super::super::http::MAX_PEERS_PER_REPLY);
        assert_eq!((r.leechers, r.seeders), (Some(3), Some(4)));
    }

    #[test]
    fn short_and_ragged_replies() {
        assert!(parse_announce(&reply(&[])[..19], false).is_err());
        let r = parse_announce(&reply(&[127, 0, 0, 1, 0, 80, 9, 9]), false).unwrap();
        assert_eq!(r.peers, vec!["127.0.0.1:80".parse::<SocketAddr>().unwrap()]);
        let mut v6 = vec![0u8; 15];
        v6.extend_from_slice(&[1, 0x1a, 0xe1]);
        let r = parse_announce(&reply(&v6), true).unwrap();
        assert_eq!(r.peers, vec!["[::1]:6881".parse::<SocketAddr>().unwrap()]);
    }
}
