//! BEP 14 Local Service Discovery: one session task that announces the running public
//! torrents on the LAN's multicast groups (239.192.152.143:6771, `[ff15::efc0:988f]:6771`)
//! and hands the peers it hears to the torrents they name (`Event::LsdPeer`, shown as "from
//! LSD"). On by default, as in qBittorrent and Transmission; `--no-lsd` / `lsd = false` turn
//! it off; never under a proxy (everything goes through it), never for a private torrent
//! (`torrent/open.rs` does not register one).
//!
//! Which links: only interfaces that are up, have the MULTICAST flag and are not loopback,
//! with an address of the family (and the `--interface` / `--bind` one when given). On
//! loopback a "LAN" is this machine, and the test suite runs every binary in a namespace
//! whose only link is `lo`: there LSD is inert (no socket is even opened), so no test and no
//! `ttui demo` (loopback peers; it also turns LSD off) sends or hears a multicast datagram.
//! Interfaces are looked at again every `RESCAN`, so a link that comes up later is joined.
//!
//! What goes out: each registered torrent at once, then every `ANNOUNCE_EVERY` (libtorrent's
//! default interval), up to `HASHES_PER_DATAGRAM` hashes a datagram and `BURST` datagrams a
//! second per link; multicast TTL / hop limit 1, so nothing is routed off the link. Our
//! cookie (a random number, in hex as libtorrent writes it) tells our own datagrams apart when
//! the group loops them back. What comes in is parsed by `protocol::lsd` (bounded) and
//! accepted at most `PER_SOURCE` times a `WINDOW` from one address (`Admission`).

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio::sync::{mpsc, Notify};
use tokio::task::JoinHandle;

use crate::engine::torrent::shared::Event;
use crate::engine::torrent::start::Discovery;
use crate::protocol::lsd::{self, Family};

/// How often each torrent is announced again (libtorrent's `local_service_announce_interval`).
pub(crate) const ANNOUNCE_EVERY: Duration = Duration::from_secs(5 * 60);
/// How often the interfaces are looked at again.
const RESCAN: Duration = Duration::from_secs(30);
/// Info hashes in one datagram (BEP 14 allows several; ~560 bytes).
const HASHES_PER_DATAGRAM: usize = 8;
/// Datagrams a second on each link, at most.
const BURST: usize = 4;
/// Announces accepted from one address in a `WINDOW`; more are dropped.
pub(crate) const PER_SOURCE: u32 = 20;
pub(crate) const WINDOW: Duration = Duration::from_secs(60);
/// Addresses remembered by `Admission`; a new one beyond is refused until windows expire.
pub(crate) const MAX_SOURCES: usize = 256;

/// What torrents registered: their event channel and when each is next announced.
#[derive(Default)]
pub(crate) struct Lsd {
    torrents: Mutex<HashMap<[u8; 20], Entry>>,
    wake: Notify,
}

struct Entry {
    events: mpsc::UnboundedSender<Event>,
    due: Instant,
}

fn lock(
    m: &Mutex<HashMap<[u8; 20], Entry>>,
) -> std::sync::MutexGuard<'_, HashMap<[u8; 20], Entry>> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Discovery for Lsd {
    fn register(&self, info_hash: [u8; 20], events: mpsc::UnboundedSender<Event>) {
        let entry = Entry {
            events,
            due: Instant::now(),
        };
        lock(&self.torrents).insert(info_hash, entry);
        self.wake.notify_one();
    }

    fn unregister(&self, info_hash: &[u8; 20]) {
        lock(&self.torrents).remove(info_hash);
    }
}

impl Lsd {
    /// Hashes due for an announce at `now` (at most `max`), marked as announced.
    fn take_due(&self, now: Instant, max: usize) -> Vec<[u8; 20]> {
        let mut map = lock(&self.torrents);
        map.retain(|_, e| !e.events.is_closed());
        let mut due: Vec<([u8; 20], Instant)> = map
            .iter()
            .filter(|(_, e)| e.due <= now)
            .map(|(h, e)| (*h, e.due))
            .collect();
        due.sort_by_key(|(_, d)| *d);
        due.truncate(max);
        for (h, _) in &due {
            if let Some(e) = map.get_mut(h) {
                e.due = now + ANNOUNCE_EVERY;
            }
        }
        due.into_iter().map(|(h, _)| h).collect()
    }

    /// Hands `peer` to the torrent `info_hash` names; false when none of ours does.
    fn deliver(&self, info_hash: &[u8; 20], peer: SocketAddr) -> bool {
        let mut map = lock(&self.torrents);
        match map.get(info_hash) {
            Some(e) if e.events.send(Event::LsdPeer(peer)).is_ok() => true,
            Some(_) => {
                map.remove(info_hash);
                false
            }
            None => false,
        }
    }
}

/// A bound on announces accepted per source address: `PER_SOURCE` a `WINDOW`, for at most
/// `MAX_SOURCES` addresses at once.
#[derive(Default)]
pub(crate) struct Admission {
    by_source: HashMap<IpAddr, (Instant, u32)>,
}

impl Admission {
    pub(crate) fn allow(&mut self, ip: IpAddr, now: Instant) -> bool {
        if !self.by_source.contains_key(&ip) && self.by_source.len() >= MAX_SOURCES {
            self.by_source
                .retain(|_, (start, _)| now.saturating_duration_since(*start) < WINDOW);
            if self.by_source.len() >= MAX_SOURCES {
                return false;
            }
        }
        let (start, n) = self.by_source.entry(ip).or_insert((now, 0));
        if now.saturating_duration_since(*start) >= WINDOW {
            *start = now;
            *n = 0;
        }
        if *n >= PER_SOURCE {
            return false;
        }
        *n += 1;
        true
    }
}

/// A link LSD runs on.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Link {
    index: u32,
    v4: Option<Ipv4Addr>,
    v6: bool,
}

/// The links to use now: up, multicast, not loopback; only `interface` when given; with a
/// specific `bind` address only the link that has it (and only its family).
fn links(interface: Option<&str>, bind: Option<IpAddr>) -> Vec<Link> {
    use nix::net::if_::InterfaceFlags as F;
    let Ok(all) = nix::ifaddrs::getifaddrs() else {
        return Vec::new();
    };
    let mut by_name: HashMap<String, Link> = HashMap::new();
    for a in all {
        if !a.flags.contains(F::IFF_UP | F::IFF_MULTICAST) || a.flags.contains(F::IFF_LOOPBACK) {
            continue;
        }
        if interface.is_some_and(|i| i != a.interface_name) {
            continue;
        }
        let ip = a.address.and_then(|s| {
            s.as_sockaddr_in()
                .map(|v4| IpAddr::V4(v4.ip()))
                .or_else(|| s.as_sockaddr_in6().map(|v6| IpAddr::V6(v6.ip())))
        });
        let Some(ip) = ip.filter(|ip| !ip.is_loopback() && !ip.is_unspecified()) else {
            continue;
        };
        if bind.is_some_and(|b| b != ip) {
            continue;
        }
        let Ok(index) = nix::net::if_::if_nametoindex(a.interface_name.as_str()) else {
            continue;
        };
        let link = by_name.entry(a.interface_name.clone()).or_insert(Link {
            index,
            v4: None,
            v6: false,
        });
        match ip {
            IpAddr::V4(v4) => {
                link.v4.get_or_insert(v4);
            }
            IpAddr::V6(_) => link.v6 = true,
        }
    }
    let mut out: Vec<Link> = by_name.into_values().collect();
    out.sort_by_key(|l| l.index);
    out
}

/// A UDP socket on the group's port, shared with other LSD clients on the machine.
fn group_socket(family: Family) -> std::io::Result<UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let (domain, any) = match family {
        Family::V4 => (Domain::IPV4, IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
        Family::V6 => (Domain::IPV6, IpAddr::V6(Ipv6Addr::UNSPECIFIED)),
    };
    let s = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))?;
    s.set_reuse_address(true)?;
    match family {
        Family::V4 => {
            s.set_multicast_ttl_v4(1)?;
            s.set_multicast_loop_v4(true)?;
        }
        Family::V6 => {
            s.set_only_v6(true)?;
            s.set_multicast_hops_v6(1)?;
            s.set_multicast_loop_v6(true)?;
        }
    }
    crate::net::device::bind_long_lived(&s)?;
    s.bind(&SocketAddr::new(any, lsd::PORT).into())?;
    s.set_nonblocking(true)?;
    UdpSocket::from_std(s.into())
}

/// The running service: the task and the torrents' side of it.
pub(crate) struct Service {
    pub(crate) lsd: Arc<Lsd>,
    pub(crate) task: JoinHandle<()>,
}

/// Starts the service for peers listening on `port`.
pub(crate) fn spawn(port: u16, interface: Option<String>, bind: Option<IpAddr>) -> Service {
    let lsd: Arc<Lsd> = Arc::default();
    let cookie = format!("{:x}", rand::random::<u32>() & 0x7fff_ffff);
    let task = tokio::spawn(run(Arc::clone(&lsd), port, interface, bind, cookie));
    Service { lsd, task }
}

async fn recv(sock: &Option<UdpSocket>, buf: &mut [u8]) -> std::io::Result<(usize, SocketAddr)> {
    match sock {
        Some(s) => s.recv_from(buf).await,
        None => std::future::pending().await,
    }
}

async fn run(
    lsd: Arc<Lsd>,
    port: u16,
    interface: Option<String>,
    bind: Option<IpAddr>,
    cookie: String,
) {
    let (mut v4, mut v6): (Option<UdpSocket>, Option<UdpSocket>) = (None, None);
    let mut joined4: HashSet<Ipv4Addr> = HashSet::new();
    let mut joined6: HashSet<u32> = HashSet::new();
    let mut now_links: Vec<Link> = Vec::new();
    let mut next_scan = Instant::now();
    let mut admission = Admission::default();
    let (mut buf4, mut buf6) = (vec![0u8; 2048], vec![0u8; 2048]);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut said_inert = false;
    loop {
        tokio::select! {
            r = recv(&v4, &mut buf4) => {
                if let Ok((n, from)) = r {
                    heard(&lsd, &buf4[..n], from, &cookie, &mut admission);
                }
                continue;
            }
            r = recv(&v6, &mut buf6) => {
                if let Ok((n, from)) = r {
                    heard(&lsd, &buf6[..n], from, &cookie, &mut admission);
                }
                continue;
            }
            _ = tick.tick() => {}
            _ = lsd.wake.notified() => {}
        }
        let now = Instant::now();
        if now >= next_scan {
            next_scan = now + RESCAN;
            now_links = links(interface.as_deref(), bind);
            if now_links.is_empty() && !said_inert {
                said_inert = true;
                tracing::info!("LSD: no multicast link (loopback only): nothing sent");
            }
            for l in &now_links {
                if let Some(a) = l.v4.filter(|a| !joined4.contains(a)) {
                    if v4.is_none() {
                        v4 = group_socket(Family::V4)
                            .map_err(|e| tracing::info!("LSD: no IPv4 socket: {e}"))
                            .ok();
                    }
                    if let Some(s) = &v4 {
                        match s.join_multicast_v4(lsd::GROUP_V4, a) {
                            Ok(()) => {
                                tracing::info!("LSD: joined {} on {a}", lsd::GROUP_V4);
                                joined4.insert(a);
                            }
                            Err(e) => tracing::info!("LSD: joining on {a}: {e}"),
                        }
                    }
                }
                if l.v6 && !joined6.contains(&l.index) {
                    if v6.is_none() {
                        v6 = group_socket(Family::V6)
                            .map_err(|e| tracing::info!("LSD: no IPv6 socket: {e}"))
                            .ok();
                    }
                    if let Some(s) = &v6 {
                        match s.join_multicast_v6(&lsd::GROUP_V6, l.index) {
                            Ok(()) => {
                                tracing::info!("LSD: joined {} on link {}", lsd::GROUP_V6, l.index);
                                joined6.insert(l.index);
                            }
                            Err(e) => tracing::info!("LSD: joining on link {}: {e}", l.index),
                        }
                    }
                }
            }
        }
        if now_links.is_empty() || crate::net::device::is_down() {
            continue;
        }
        let due = lsd.take_due(now, HASHES_PER_DATAGRAM * BURST);
        for chunk in due.chunks(HASHES_PER_DATAGRAM) {
            announce(
                &now_links,
                (&v4, &v6),
                (&joined4, &joined6),
                port,
                chunk,
                &cookie,
            )
            .await;
        }
    }
}

/// Sends one announce of `hashes` on every joined link.
async fn announce(
    links: &[Link],
    (v4, v6): (&Option<UdpSocket>, &Option<UdpSocket>),
    (joined4, joined6): (&HashSet<Ipv4Addr>, &HashSet<u32>),
    port: u16,
    hashes: &[[u8; 20]],
    cookie: &str,
) {
    for l in links {
        if let (Some(s), Some(a)) = (v4, l.v4.filter(|a| joined4.contains(a))) {
            let bytes = lsd::encode(Family::V4, port, hashes, cookie);
            let to = SocketAddr::new(lsd::GROUP_V4.into(), lsd::PORT);
            let sent = socket2::SockRef::from(s).set_multicast_if_v4(&a);
            match sent {
                Ok(()) => match s.send_to(&bytes, to).await {
                    Ok(_) => tracing::debug!("LSD: announced {} torrents on {a}", hashes.len()),
                    Err(e) => tracing::debug!("LSD: sending on {a}: {e}"),
                },
                Err(e) => tracing::debug!("LSD: choosing {a}: {e}"),
            }
        }
        if let Some(s) = v6.as_ref().filter(|_| l.v6 && joined6.contains(&l.index)) {
            let bytes = lsd::encode(Family::V6, port, hashes, cookie);
            let to = SocketAddr::new(lsd::GROUP_V6.into(), lsd::PORT);
            if socket2::SockRef::from(s)
                .set_multicast_if_v6(l.index)
                .is_ok()
            {
                if let Err(e) = s.send_to(&bytes, to).await {
                    tracing::debug!("LSD: sending on link {}: {e}", l.index);
                }
            }
        }
    }
}

/// One datagram heard from `from`: peers for our torrents, unless it is ours or the source
/// sent too many.
fn heard(lsd: &Lsd, data: &[u8], from: SocketAddr, cookie: &str, admission: &mut Admission) {
    let a = match lsd::parse(data) {
        Ok(a) => a,
        Err(e) => return tracing::debug!("LSD: from {from}: {e}"),
    };
    if a.cookie.as_deref() == Some(cookie) {
        return;
    }
    if !admission.allow(from.ip(), Instant::now()) {
        return tracing::debug!("LSD: from {from}: too many announces, dropped");
    }
    let mut peer = SocketAddr::new(from.ip(), a.port);
    if let (SocketAddr::V6(p), SocketAddr::V6(f)) = (&mut peer, from) {
        p.set_scope_id(f.scope_id());
    }
    for h in &a.hashes {
        if lsd.deliver(h, peer) {
            tracing::debug!("LSD: {peer} announces one of ours");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_source_is_bounded_and_the_table_of_sources_too() {
        let mut adm = Admission::default();
        let t0 = Instant::now();
        let ip: IpAddr = Ipv4Addr::new(192, 0, 2, 1).into();
        for _ in 0..PER_SOURCE {
            assert!(adm.allow(ip, t0));
        }
        assert!(!adm.allow(ip, t0), "one more in the window is dropped");
        assert!(!adm.allow(ip, t0 + WINDOW / 2));
        assert!(adm.allow(ip, t0 + WINDOW), "a new window");
        // Many sources: at most MAX_SOURCES remembered; others wait for a window to pass.
        let mut adm = Admission::default();
        for i in 0..MAX_SOURCES as u32 {
            assert!(adm.allow(IpAddr::V4(Ipv4Addr::from(0xc633_6400 + i)), t0));
        }
        let late: IpAddr = Ipv4Addr::new(203, 0, 113, 9).into();
        assert!(!adm.allow(late, t0 + Duration::from_secs(1)));
        assert!(adm.allow(late, t0 + WINDOW));
        assert!(adm.by_source.len() <= MAX_SOURCES);
    }

    #[test]
    fn registered_torrents_are_due_at_once_then_every_interval_and_peers_reach_them() {
        let lsd = Lsd::default();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let (tx2, rx2) = mpsc::unbounded_channel();
        lsd.register([1; 20], tx);
        lsd.register([2; 20], tx2);
        let now = Instant::now() + Duration::from_millis(1);
        let mut due = lsd.take_due(now, 1);
        assert_eq!(due.len(), 1, "bounded burst");
        due.extend(lsd.take_due(now, 10));
        due.sort();
        assert_eq!(due, vec![[1; 20], [2; 20]]);
        assert!(lsd.take_due(now, 10).is_empty());
        assert_eq!(lsd.take_due(now + ANNOUNCE_EVERY, 10).len(), 2);
        // A peer heard for [1; 20] reaches its channel; an unknown hash goes nowhere.
        let peer: SocketAddr = "192.0.2.7:6881".parse().unwrap();
        assert!(lsd.deliver(&[1; 20], peer));
        assert!(matches!(rx.try_recv(), Ok(Event::LsdPeer(p)) if p == peer));
        assert!(!lsd.deliver(&[9; 20], peer));
        // A stopped torrent (channel closed) is dropped; an unregistered one is gone.
        drop(rx2);
        lsd.unregister(&[1; 20]);
        assert!(lsd.take_due(now + 2 * ANNOUNCE_EVERY, 10).is_empty());
    }

    #[test]
    fn our_own_datagram_and_a_flood_are_ignored() {
        let lsd = Lsd::default();
        let (tx, mut rx) = mpsc::unbounded_channel();
        lsd.register([1; 20], tx);
        let mut adm = Admission::default();
        let from: SocketAddr = "192.0.2.7:6771".parse().unwrap();
        let ours = lsd::encode(Family::V4, 6881, &[[1; 20]], "abc");
        heard(&lsd, &ours, from, "abc", &mut adm);
        assert!(rx.try_recv().is_err(), "our own cookie");
        let theirs = lsd::encode(Family::V4, 6881, &[[1; 20]], "def");
        for _ in 0..PER_SOURCE + 5 {
            heard(&lsd, &theirs, from, "abc", &mut adm);
        }
        let mut n = 0;
        while let Ok(Event::LsdPeer(p)) = rx.try_recv() {
            assert_eq!(p, "192.0.2.7:6881".parse().unwrap());
            n += 1;
        }
        assert_eq!(n, PER_SOURCE);
    }
}
