//! What a session hands a torrent it starts: `Start` for this run, and `SessionCtx`, what every
//! torrent uses of its session (defined here, on the torrent's side, so the torrent never
//! names the session). In a file of its own so the magnet fetch, which runs before the
//! torrent proper, can take it without importing the torrent (no cycle).

use std::net::IpAddr;
use std::sync::Arc;

use tokio::sync::{mpsc, watch};

use crate::dht::Dht;
use crate::engine::api::TransportPolicy;
use crate::engine::api::{TorrentId, TorrentLine};
use crate::engine::disk::pool::DiskPool;
use crate::engine::disk::OpenFiles;
use crate::engine::torrent::report::{Lifetime, Report};
use crate::engine::torrent::shared::Event;
pub(crate) use crate::engine::torrent::snapshot::Snapshots;
use crate::net::utp::UtpSocket;
use crate::net::EncryptionPolicy;
use crate::protocol::bitfield::Bitfield;

/// What a torrent started by a session gets besides its metainfo and options.
pub(crate) struct Start {
    pub id: TorrentId,
    pub ctx: SessionCtx,
    /// Pieces the session's store vouches for (their files unchanged since they were saved):
    /// they are not hashed again. None: check everything on disk.
    pub trusted: Option<Bitfield>,
    /// `trusted` is what this torrent's own last run in this session verified (a dormant
    /// torrent woken, a paused one resumed), not what the store saved.
    pub trusted_from_run: bool,
    /// Pieces hashed again on top of `trusted` (their files changed since the last save).
    pub to_check: Vec<u32>,
    /// Lifetime counters from earlier runs.
    pub lifetime: Lifetime,
    pub paused: bool,
    /// File priorities and piece order (empty priorities: every file wanted).
    pub files: crate::engine::torrent::priorities::FilePlan,
    /// BEP 16 super-seeding asked for (the session keeps it; active once complete).
    pub super_seeding: bool,
    /// The torrent's rate limiters (its own limits from its resume data, under the session's).
    pub rates: crate::engine::peer::rate::TorrentRates,
    /// Where its full snapshot goes, once someone subscribes.
    pub snapshots: Snapshots,
    /// The torrent's light line, every tick.
    pub line: watch::Sender<TorrentLine>,
    /// Where resume points go (None: nothing is saved, as in headless runs).
    pub reports: Option<mpsc::UnboundedSender<(TorrentId, Report)>>,
    /// Its files linked from other torrents' data when it was added (cross-seeding), proven
    /// or replaced by its check (`torrent/borrowed.rs`), and the torrents they came from
    /// ("#12"), for its line.
    pub borrowed: (Vec<u32>, String),
}

/// How a torrent's task takes the connections that name it: the session's router, seen
/// from the torrent.
pub(crate) trait Routing: Send + Sync {
    /// Connections naming `info_hash` (in the clear or by MSE's req2) go to `events` until
    /// `unroute`; those that waited for the torrent to wake go there now.
    fn route(&self, info_hash: [u8; 20], events: mpsc::UnboundedSender<Event>);
    /// Takes a task's route away; a dormant torrent's stays (the manager owns that one).
    fn unroute(&self, info_hash: &[u8; 20]);
    /// Connections naming `alias` (a hybrid's v2 hash cut to 20 bytes) go where `main`'s
    /// do, until `main` is unrouted.
    fn alias(&self, alias: [u8; 20], main: [u8; 20]);
}

/// Limits shared by every torrent of the session.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Connections being set up at once, per torrent.
    pub half_open: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { half_open: 16 }
    }
}

/// What a torrent uses of its session: cheap to clone (handles and `Arc`s), so every torrent
/// holds one and none owns the process's sockets.
#[derive(Clone)]
pub(crate) struct SessionCtx {
    pub our_id: [u8; 20],
    /// Source address for outgoing connections (`--bind`), when one was given.
    pub bind: Option<IpAddr>,
    /// MSE/PE for every connection of the session, dialed or accepted.
    pub encryption: EncryptionPolicy,
    /// Which transports are dialed and accepted.
    pub transport: TransportPolicy,
    /// BEP 11 peer exchange for every torrent that is not private.
    pub pex: bool,
    /// 0 when not listening.
    pub listen_port: u16,
    /// The port peers are told to dial (handshakes, trackers, the DHT): the listen port, or
    /// the external port the router mapped it to (`session/port_mapping/`).
    pub announce_port: Arc<std::sync::atomic::AtomicU16>,
    pub limits: Limits,
    /// The session's rate buckets, under which every torrent's hang.
    pub rates: Arc<crate::engine::peer::rate::SessionRates>,
    pub pool: Arc<DiskPool>,
    /// Payload files open at once, all torrents together (disk/open_files.rs).
    pub open_files: Arc<OpenFiles>,
    /// uTP on the session's UDP socket, unless `--transport tcp`.
    pub utp: Option<UtpSocket>,
    /// The DHT node on the session's UDP socket, unless `--no-dht`.
    pub dht: Option<Dht>,
    /// Where connections naming this torrent are sent (the session's router).
    pub router: Arc<dyn Routing>,
    /// The session's blocklist, read at every dial and accept.
    pub ip_filter: Arc<crate::engine::peer::ip_filter::IpFilter>,
    /// The SOCKS5 proxy every outgoing connection goes through (`--proxy`).
    pub proxy: Option<Arc<crate::engine::peer::proxy::Proxy>>,
    /// WebRTC for WebSocket trackers (WebTorrent peers), unless `--no-webtorrent`.
    pub webrtc: Option<crate::tracker::websocket::WebRtcPeers>,
    /// `--no-webtorrent` was not given: WebSocket trackers are announced to.
    pub webtorrent: bool,
    /// `--interface` is set (the device and its state are `net::device`'s).
    pub interface: bool,
    /// The address families peers are reached over.
    pub families: crate::engine::api::Families,
    /// Local Service Discovery (BEP 14), unless `--no-lsd`: public torrents register here.
    pub lsd: Option<Arc<dyn Discovery>>,
    /// The session's open file streams: a torrent attaches here when its task starts.
    pub streams: Arc<crate::engine::torrent::stream::Streams>,
    /// The session's log ring (`journal.rs`): each torrent's log lines and refused peers.
    pub journal: Arc<crate::engine::torrent::journal::Journal>,
    /// The session's accounting (`engine/ledger.rs`): each torrent adds what its announces
    /// carry.
    pub ledger: Arc<crate::engine::ledger::Ledger>,
}

/// The session's Local Service Discovery (`session/lsd.rs`) as a torrent sees it: a public
/// torrent registers its info hash and event channel while it runs; the session announces it
/// on the LAN and sends it `Event::LsdPeer` for each peer heard announcing it.
pub(crate) trait Discovery: Send + Sync {
    fn register(&self, info_hash: [u8; 20], events: mpsc::UnboundedSender<Event>);
    fn unregister(&self, info_hash: &[u8; 20]);
}

/// How announces and web seed requests leave: from `bind`, through `proxy` (UDP through its
/// relay, or not at all).
pub(crate) fn egress(
    bind: Option<IpAddr>,
    proxy: Option<&crate::engine::peer::proxy::Proxy>,
    webrtc: Option<&crate::tracker::websocket::WebRtcPeers>,
    ws_off: Option<&'static str>,
) -> crate::tracker::Egress {
    let udp_relay = proxy.and_then(|p| p.udp_relay()).cloned();
    crate::tracker::Egress {
        local: bind,
        proxy: proxy.map(|p| p.spec().url_with_secret()),
        // Under a proxy UDP leaves only through its relay.
        udp: proxy.is_none() || udp_relay.is_some(),
        udp_relay,
        // Never under a proxy: ICE would go around it.
        webrtc: webrtc.filter(|_| proxy.is_none()).cloned(),
        ws_off,
    }
}

impl SessionCtx {
    pub(crate) fn egress(&self) -> crate::tracker::Egress {
        egress(
            self.bind,
            self.proxy.as_deref(),
            self.webrtc.as_ref(),
            (!self.webtorrent).then_some(crate::tracker::websocket::WEBTORRENT_OFF),
        )
    }

    pub(crate) fn route(&self, info_hash: [u8; 20], events: mpsc::UnboundedSender<Event>) {
        self.router.route(info_hash, events);
    }

    pub(crate) fn unroute(&self, info_hash: &[u8; 20]) {
        self.router.unroute(info_hash);
        if let Some(lsd) = &self.lsd {
            lsd.unregister(info_hash);
        }
    }

    pub(crate) fn alias(&self, alias: [u8; 20], main: [u8; 20]) {
        self.router.alias(alias, main);
    }
}
