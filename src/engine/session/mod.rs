//! What a process has once, whatever the number of torrents: our peer id, the listening
//! sockets (TCP, and one UDP socket that carries the DHT and uTP), the DHT node, the router
//! that hands an incoming connection to the torrent its handshake names, global limits, the
//! pool where pieces are hashed and written, and the budget of open files that every
//! torrent's storage takes its descriptors from.

pub(crate) mod accept_budget;
pub(crate) mod blocklist;
pub(crate) mod store;
pub(crate) mod udp;
mod udp_associate;

pub(crate) mod dormancy;
pub(crate) mod goals;
mod incoming;
pub(crate) mod interface;
pub(crate) mod lsd;
pub(crate) mod manager;
pub(crate) mod on_complete;
pub(crate) mod persist;
mod port_mapping;
mod publish;
pub(crate) mod queue;
mod routes;
pub(crate) mod single;

#[cfg(test)]
use incoming::{accept, route};
use incoming::{accept_loop, utp_accept_loop};
pub(crate) use manager::{spawn, SessionHandle};
pub(crate) use persist::Persist;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use std::time::Instant;

use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::dht::{Dht, DhtConfig, Sockets};
use crate::engine::api::LogLevel;
use crate::engine::disk::pool::DiskPool;
use crate::engine::disk::OpenFiles;
use crate::engine::peer::connect::{read_handshake, HANDSHAKE_TIMEOUT};
use crate::engine::peer::ip_filter::IpFilter;
use crate::engine::peer::proxy::Proxy;
use crate::engine::peer::stream::{PeerStream, Transport};
use crate::engine::torrent::options::Options;
use crate::engine::torrent::shared::Event;
use crate::engine::torrent::start::{Limits, Routing, SessionCtx};
use crate::net::utp::{UtpConfig, UtpListener, UtpSocket};
use crate::net::{self, EncryptionPolicy};
use crate::protocol::handshake::Handshake;
use crate::protocol::mse_codec;
use crate::protocol::peer_id;

#[cfg(test)]
use routes::route_to_task;
use routes::{lock, Route, RouteTo, Routes, MAX_PENDING};
use udp::UdpCounters;

/// What a process has once. Torrents get a `SessionCtx`; the session itself stays with whoever
/// started it and is closed once, after its torrents.
pub(crate) struct Session {
    pub ctx: SessionCtx,
    /// The UDP socket on the listen port's number, when it could be bound.
    #[allow(dead_code)] // kept so the socket lives as long as the session
    pub udp: Option<Arc<tokio::net::UdpSocket>>,
    #[allow(dead_code)] // counted by the receive loop; shown in a later step
    pub udp_counters: Arc<UdpCounters>,
    accept_tasks: Vec<JoinHandle<()>>,
    /// Incoming connections by the info hash of their handshake (torrents reach it through
    /// `ctx` as `Routing`; the dormant routes are the manager's).
    routes: Arc<Mutex<Routes>>,
    /// Asks the router to forward the listen port; None when `port_mapping` is off.
    port_mapper: Option<port_mapping::PortMapper>,
    /// The STUN server as set, for the explainer (the driver knows only its address).
    stun_server: Option<String>,
}

impl Session {
    /// What the router said to our port mapping; None while it is off.
    pub(crate) fn port_mapping(&self) -> Option<crate::engine::api::PortMappingStatus> {
        self.port_mapper.as_ref().map(|m| m.status())
    }

    /// While a torrent is dormant, connections naming it (or its `alias`, a hybrid's v2
    /// hash) wake it through `wake`.
    pub(crate) fn route_dormant(
        &self,
        info_hash: [u8; 20],
        alias: Option<[u8; 20]>,
        wake: mpsc::UnboundedSender<[u8; 20]>,
    ) {
        let mut routes = lock(&self.routes);
        if let Some(alias) = alias {
            routes.alias(alias, info_hash);
        }
        routes.wake.get_or_insert(wake);
        routes.by_hash.insert(
            info_hash,
            Route {
                req2: mse_codec::req2(&info_hash),
                to: RouteTo::Dormant(None),
            },
        );
    }

    /// Takes any route away (a dormant torrent removed, paused or queued): waiting
    /// connections are closed.
    pub(crate) fn unroute_dormant(&self, info_hash: &[u8; 20]) {
        let mut routes = lock(&self.routes);
        if matches!(
            routes.by_hash.get(info_hash),
            Some(Route {
                to: RouteTo::Dormant(_),
                ..
            })
        ) {
            routes.remove(info_hash);
        }
    }

    /// Incoming connections handed to a torrent since the session started.
    pub(crate) fn incoming(&self) -> u64 {
        lock(&self.routes).incoming
    }

    /// What the session as a whole says of itself, without its torrents' lines: the port,
    /// the DHT, the limits in force, the proxy, the port mapping and the interface. The
    /// manager's list and a one-torrent run both publish it, so the explainer hears the same
    /// causes in every mode.
    /// `window`: the reachability window the explainer judges by (None: its default).
    pub(crate) async fn head(
        &self,
        window: Option<std::time::Duration>,
    ) -> crate::engine::api::SessionSnapshot {
        let ctx = &self.ctx;
        let (dht_nodes, dht_nodes6) = match &ctx.dht {
            Some(d) => {
                let s = d.stats().await.unwrap_or_default();
                (Some(s.all_nodes()), Some(s.nodes6))
            }
            None => (None, None),
        };
        crate::engine::api::SessionSnapshot {
            listen_port: ctx.listen_port,
            dht_nodes,
            dht_nodes6,
            families: ctx.families,
            incoming: self.incoming(),
            incoming_in_window: Some(
                lock(&self.routes)
                    .recent
                    .within(window.unwrap_or(crate::engine::api::explain::REACHABILITY_WINDOW)),
            ),
            reachability_window: window,
            down_limit: ctx.rates.down.rate(),
            up_limit: ctx.rates.up.rate(),
            turtle: ctx.rates.view().turtle,
            restored: true,
            proxy: ctx.proxy.as_ref().map(|p| p.status()),
            port_mapping: self.port_mapping(),
            interface: self.interface(),
            webrtc: self.webrtc(),
            read_cache: self.read_cache(),
            ..Default::default()
        }
    }

    /// WebTorrent's WebRTC side and what its STUN server said; None while it is off.
    fn webrtc(&self) -> Option<crate::engine::api::WebRtcStatus> {
        let rtc = &self.ctx.webrtc.as_ref()?.rtc;
        let stun = rtc.stun_status();
        Some(crate::engine::api::WebRtcStatus {
            stun_server: self.stun_server.clone(),
            reflexive: stun.mapped,
            stun_silent: stun.silent,
        })
    }

    /// The read cache's figures; units idle too long go here, since a head is made every
    /// tick whether or not anything reads.
    fn read_cache(&self) -> crate::engine::api::ReadCacheStats {
        let cache = crate::engine::disk::read_cache::read_cache();
        let now = std::time::Instant::now();
        cache.expire(now);
        let f = cache.stats();
        let stats = crate::engine::api::ReadCacheStats {
            capacity: f.capacity,
            held: f.held,
            hits: f.hits,
            misses: f.misses,
            read: f.read,
        };
        if let Some(words) = stats.words().filter(|_| cache.log_due(now)) {
            tracing::info!("{words}");
        }
        stats
    }

    /// Listens on `opts.port` (or the next few, or any free one) at `opts.bind`; with the
    /// default "any" address, on IPv6 too. UDP is bound on the same port number for the DHT
    /// and uTP. Returns the lines for the log saying how that went.
    pub(crate) async fn start(opts: &Options) -> (Session, Vec<(LogLevel, String)>) {
        let (port, bind, encryption, transport) =
            (opts.port, opts.bind, opts.encryption, opts.transport);
        let proxy = opts
            .proxy
            .clone()
            .map(|spec| Arc::new(Proxy::new(spec, opts.proxy_only)));
        let mut logs = Vec::new();
        let cache = crate::engine::disk::read_cache::session_bound();
        crate::engine::disk::read_cache::read_cache().set_capacity(cache);
        logs.push((
            LogLevel::Info,
            format!(
                "read cache: up to {} for pieces read from the disk to seed",
                crate::fmt::bytes(cache as u64)
            ),
        ));
        // First: every socket below is bound to the interface, and the first look at it is
        // taken before any is opened.
        let watcher = opts
            .interface
            .as_deref()
            .map(|name| interface::spawn(name, (!bind.is_unspecified()).then_some(bind)));
        if let Some(p) = &proxy {
            logs.push((
                LogLevel::Info,
                format!(
                    "proxy {}: peers, trackers and web seeds go through it, the DHT, uTP and \
                     UDP trackers through its UDP relay (off while it has none){}",
                    p.spec(),
                    if p.only() {
                        "; proxy only: not listening"
                    } else {
                        ""
                    }
                ),
            ));
        }
        let (listeners, log) = if proxy.as_ref().is_some_and(|p| p.only()) {
            (
                Vec::new(),
                (
                    LogLevel::Info,
                    "not listening for peers (proxy only)".to_string(),
                ),
            )
        } else {
            bind_listeners(port, bind).await
        };
        logs.push(log);
        let listen_port = listeners
            .first()
            .and_then(|l| l.local_addr().ok())
            .map(|a| a.port())
            .unwrap_or(0);
        let routes: Arc<Mutex<Routes>> = Arc::default();
        let ip_filter: Arc<IpFilter> = Arc::default();
        // With `--transport utp` the TCP listener only fixed the port number.
        let mut accept_tasks: Vec<JoinHandle<()>> = if transport.tcp() {
            listeners
                .into_iter()
                .map(|l| {
                    let door = (Arc::clone(&routes), Arc::clone(&ip_filter));
                    tokio::spawn(accept_loop(l, door, encryption))
                })
                .collect()
        } else {
            Vec::new()
        };
        accept_tasks.extend(watcher);
        // Under a proxy UDP trackers use the session's socket too (through the relay); with
        // no listener (proxy only) it takes any port, since nobody reaches it but the relay.
        let want_udp = transport.utp() || opts.dht.is_some() || proxy.is_some();
        let udp = match (want_udp, listen_port) {
            (false, _) => None,
            (_, 0) if proxy.is_none() => None,
            (true, p) => match udp::bind(bind, p) {
                Ok(s) => Some(s),
                Err(e) => {
                    logs.push((
                        LogLevel::Warn,
                        format!("no UDP on port {p} (no DHT, no uTP): {e}"),
                    ));
                    None
                }
            },
        };
        let udp_counters: Arc<UdpCounters> = Arc::default();
        let (mut utp, mut dht) = (None, None);
        if let Some(sock) = &udp {
            // Under a proxy every datagram goes through its relay, never around it.
            let relay = proxy
                .as_ref()
                .map(|p| udp_associate::start(p, sock, bind, &mut accept_tasks));
            // BEP 32, and uTP to IPv6 peers: with the default "any" address the DHT and uTP
            // run over IPv6 as well, on an IPv6-only socket of the same port number (as the
            // TCP listeners), when IPv6 can reach anything. Never under a proxy: all goes
            // through its relay.
            let v6 = match (&relay, bind) {
                (None, IpAddr::V4(v4)) if v4.is_unspecified() => {
                    let mut known = Vec::new();
                    if let Some(bootstrap) = opts.dht.as_ref() {
                        known = udp::literal_addrs(bootstrap);
                        if let Some(saved) = opts
                            .state_dir
                            .as_deref()
                            .and_then(crate::dht::persist::load)
                        {
                            known.extend(saved.1.iter().map(|n| n.addr));
                        }
                    }
                    udp::bind_dht6(listen_port, &known)
                }
                _ => None,
            };
            if transport.utp() {
                let (socket, listener) = UtpSocket::relayed(
                    Arc::clone(sock),
                    v6.clone(),
                    relay.clone(),
                    UtpConfig::default(),
                );
                accept_tasks.push(tokio::spawn(utp_accept_loop(
                    listener,
                    (Arc::clone(&routes), Arc::clone(&ip_filter)),
                    encryption,
                )));
                utp = Some(socket);
            }
            if let Some(bootstrap) = opts.dht.as_ref() {
                let cfg = DhtConfig {
                    bootstrap: bootstrap.clone(),
                    state_dir: opts.state_dir.clone(),
                    node: None,
                    reply_budget_bytes_per_sec: opts.dht_rate_limit,
                };
                let (node, task) = match &relay {
                    Some(r) => Dht::spawn(cfg, Arc::clone(r)),
                    None => {
                        let mut sockets = Sockets::one(Arc::clone(sock));
                        if let Some(v6) = &v6 {
                            sockets.v6 = Some(Arc::clone(v6));
                        }
                        Dht::spawn(cfg, sockets)
                    }
                };
                accept_tasks.push(task);
                dht = Some(node);
            }
            // The IPv6 socket carries the DHT's IPv6 half and uTP with IPv6 peers.
            if let Some(v6) = v6 {
                accept_tasks.push(tokio::spawn(udp::recv_loop(
                    v6,
                    dht.clone(),
                    utp.clone(),
                    Arc::clone(&udp_counters),
                    None,
                )));
            }
            accept_tasks.push(tokio::spawn(udp::recv_loop(
                Arc::clone(sock),
                dht.clone(),
                utp.clone(),
                Arc::clone(&udp_counters),
                relay,
            )));
        }
        // BEP 14 on the LAN, never around a proxy (libtorrent does the same).
        let lsd = (opts.lsd && listen_port != 0 && proxy.is_none()).then(|| {
            let bound = (!bind.is_unspecified()).then_some(bind);
            let svc = lsd::spawn(listen_port, opts.interface.clone(), bound);
            accept_tasks.push(svc.task);
            logs.push((
                LogLevel::Info,
                "local service discovery (LSD) on: public torrents are announced on the LAN"
                    .to_string(),
            ));
            svc.lsd as Arc<dyn crate::engine::torrent::start::Discovery>
        });
        let our_id = peer_id::our_peer_id();
        // WebTorrent's peers (browsers): WebRTC on a UDP socket of its own, never around a
        // proxy (ICE would go around it).
        let webrtc = match (opts.webtorrent, &proxy) {
            (true, None) => {
                let config = crate::net::webrtc::WebRtcConfig {
                    bind: SocketAddr::new(bind, 0),
                    ..Default::default()
                };
                match crate::net::webrtc::WebRtc::bind(config).await {
                    Ok(rtc) => {
                        logs.push((
                            LogLevel::Info,
                            format!(
                                "WebTorrent on: browser peers over WebRTC (UDP {}), found \
                                 through WebSocket trackers",
                                rtc.local_addr()
                            ),
                        ));
                        // The torrent's name goes in as each connection starts; DHT as the
                        // session has it (no private torrent takes WebRTC peers).
                        if let Some(name) = opts.stun_server.clone() {
                            // Before any announce can make offers: they wait for its answer.
                            rtc.expect_stun(true).await;
                            accept_tasks.push(tokio::spawn(ask_stun(rtc.clone(), name)));
                        }
                        let ours = Handshake::new([0; 20], our_id).with_dht(opts.dht.is_some());
                        let deliver = incoming::webrtc_delivery(
                            Arc::clone(&routes),
                            Arc::clone(&ip_filter),
                            ours,
                        );
                        Some(crate::tracker::websocket::WebRtcPeers { rtc, deliver })
                    }
                    Err(e) => {
                        logs.push((
                            LogLevel::Warn,
                            format!("no WebRTC, so no browser peers: {e}"),
                        ));
                        None
                    }
                }
            }
            _ => None,
        };
        let ctx = SessionCtx {
            our_id,
            bind: (!bind.is_unspecified()).then_some(bind),
            encryption,
            transport,
            pex: opts.pex,
            listen_port,
            announce_port: Arc::new(std::sync::atomic::AtomicU16::new(listen_port)),
            limits: Limits::default(),
            rates: crate::engine::peer::rate::session_rates(&opts.rates, &opts.trackers),
            pool: Arc::new(DiskPool::new(opts.check_threads)),
            open_files: Arc::new(OpenFiles::for_this_process()),
            utp,
            dht,
            router: Arc::clone(&routes) as Arc<dyn Routing>,
            ip_filter,
            families: families(bind, proxy.is_some()),
            proxy,
            interface: opts.interface.is_some(),
            lsd,
            webrtc,
            webtorrent: opts.webtorrent,
            streams: Arc::default(),
            journal: Arc::default(),
            ledger: Arc::default(),
        };
        let port_mapper = match (&opts.port_mapping, listen_port) {
            (Some(settings), p) if p != 0 => Some(port_mapping::PortMapper::spawn(
                settings.clone(),
                p,
                udp.is_some(),
                ctx.bind,
                Arc::clone(&ctx.announce_port),
            )),
            _ => None,
        };
        let session = Session {
            ctx,
            udp,
            udp_counters,
            accept_tasks,
            routes,
            port_mapper,
            stun_server: opts.stun_server.clone().filter(|_| opts.webtorrent),
        };
        (session, logs)
    }

    /// Removes the port mappings, saves the DHT's routing table (when it has a state
    /// directory) and stops its node.
    pub(crate) async fn close(&mut self) {
        // The mappings go first: the router stops sending peers to a port about to close.
        if let Some(m) = self.port_mapper.as_mut() {
            m.close().await;
        }
        if let Some(dht) = self.ctx.dht.take() {
            if let Err(e) = dht.save().await {
                tracing::warn!("saving the DHT routing table: {e}");
            }
            dht.shutdown().await;
        }
        self.shutdown();
    }

    /// `--interface` as the watcher last saw it; None without one.
    pub(crate) fn interface(&self) -> Option<crate::engine::api::InterfaceStatus> {
        self.ctx.interface.then(interface::status).flatten()
    }

    /// Stops listening.
    pub(crate) fn shutdown(&mut self) {
        for t in self.accept_tasks.drain(..) {
            t.abort();
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Binds the peer port: the one asked for, else the next few, else any free one. With the
/// default "any" address, the same port is also bound on IPv6 when the machine has it.
async fn bind_listeners(port: u16, bind: IpAddr) -> (Vec<TcpListener>, (LogLevel, String)) {
    let ports: Vec<u16> = if port == 0 {
        vec![0]
    } else {
        (port..port.saturating_add(9)).chain([0]).collect()
    };
    let mut last_err = String::new();
    for port in ports {
        match listen(SocketAddr::new(bind, port)) {
            Ok(l) => {
                let port = l.local_addr().map(|a| a.port()).unwrap_or(port);
                let mut listeners = vec![l];
                let mut text = format!("listening for peers on port {port}");
                if bind == IpAddr::V4(Ipv4Addr::UNSPECIFIED) {
                    match bind_v6_only(port) {
                        Ok(l6) => {
                            listeners.push(l6);
                            text.push_str(" (IPv4 and IPv6)");
                        }
                        Err(e) => tracing::info!("no IPv6 listener: {e}"),
                    }
                }
                return (listeners, (LogLevel::Info, text));
            }
            Err(e) => last_err = e.to_string(),
        }
    }
    (
        Vec::new(),
        (
            LogLevel::Warn,
            format!("cannot listen for peers: {last_err}"),
        ),
    )
}

/// A TCP listener at `addr`, bound to `--interface`'s device when one is set: it then
/// accepts only what arrives on the interface, and on the unspecified address it outlives a
/// change of the interface's address (no rebind when a VPN comes back with another one).
fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let s = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if addr.is_ipv6() {
        s.set_only_v6(true)?;
    }
    // As `TcpListener::bind`: a restart may take the port back at once.
    s.set_reuse_address(true)?;
    crate::net::device::bind_long_lived(&s)?;
    s.bind(&addr.into())?;
    s.listen(1024)?;
    s.set_nonblocking(true)?;
    TcpListener::from_std(s.into())
}

/// An IPv6-only socket, so it can share the port with the IPv4 listener whatever the
/// `net.ipv6.bindv6only` setting is.
fn bind_v6_only(port: u16) -> std::io::Result<TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let s = Socket::new(Domain::IPV6, Type::STREAM, Some(Protocol::TCP))?;
    s.set_only_v6(true)?;
    s.set_reuse_address(true)?;
    crate::net::device::bind_long_lived(&s)?;
    s.bind(&SocketAddr::new(IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED), port).into())?;
    s.listen(128)?;
    s.set_nonblocking(true)?;
    TcpListener::from_std(s.into())
}

#[cfg(test)]
mod tests;

/// The families peers are reached over: IPv4 when listening on it, IPv6 when bound to an
/// IPv6 address or, on every address, when the machine has an IPv6 route (the documentation
/// prefix stands for "anywhere": its route is the default one). A proxy dials both.
fn families(bind: IpAddr, proxied: bool) -> crate::engine::api::Families {
    let anywhere = IpAddr::from(std::net::Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1));
    crate::engine::api::Families {
        ipv4: proxied || bind.is_ipv4(),
        ipv6: proxied
            || bind.is_ipv6()
            || (bind.is_unspecified() && crate::net::route::reaches(anywhere)),
    }
}

/// Resolves the STUN server's name (bounded) and hands an address of the WebRTC socket's
/// family to the driver, which asks it from then on.
async fn ask_stun(rtc: crate::net::webrtc::WebRtc, name: String) {
    let v4 = rtc.local_addr().is_ipv4();
    let found = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        tokio::net::lookup_host(name.as_str()),
    )
    .await;
    match found {
        Ok(Ok(mut addrs)) => match addrs.find(|a| a.is_ipv4() == v4) {
            Some(a) => return rtc.set_stun(a).await,
            None => tracing::info!("WebRTC: STUN server {name} has no address of our family"),
        },
        Ok(Err(e)) => tracing::info!("WebRTC: STUN server {name} not found: {e}"),
        Err(_) => tracing::info!("WebRTC: STUN server {name} not found in 10 s"),
    }
    // Offers stop waiting for it.
    rtc.expect_stun(false).await;
}
