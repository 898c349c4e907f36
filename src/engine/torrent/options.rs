//! What a torrent is started with and how it ends.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct Options {
    pub output: PathBuf,
    /// 0 picks a free port; a busy port is followed by the next few, then a free one.
    pub port: u16,
    pub bind: IpAddr,
    /// Dialed as well as the trackers' peers.
    pub peers: Vec<SocketAddr>,
    /// Keep running and uploading after the download completes.
    pub seed: bool,
    pub max_peers: usize,
    /// Announce to the torrent's trackers.
    pub use_trackers: bool,
    pub check_threads: usize,
    /// MSE/PE for outgoing and incoming connections (the session's listener uses the first
    /// torrent's).
    pub encryption: crate::net::EncryptionPolicy,
    /// Which transports outgoing connections use, and which incoming ones are accepted.
    pub transport: crate::engine::api::TransportPolicy,
    /// Run a DHT node on the session's UDP socket, bootstrapped from these HOST:PORT nodes
    /// (`None`: no DHT). The library never falls back to public routers on its own: the CLI
    /// decides that.
    pub dht: Option<Vec<String>>,
    /// Exchange peers with peers (BEP 11 `ut_pex`).
    pub pex: bool,
    /// BEP 14 Local Service Discovery: announce public torrents on the LAN's multicast group
    /// and dial the peers heard there. Off here; the CLI turns it on unless `--no-lsd`.
    pub lsd: bool,
    /// A torrent added with no data of its own looks for its files in the data of the
    /// session's other torrents (`session/manager/cross_seed.rs`). Off here; the CLI turns it
    /// on unless `--no-cross-seed`.
    pub cross_seed: bool,
    /// WebTorrent: WebSocket trackers' announces carry WebRTC offers, and browser peers
    /// connect over WebRTC data channels. Off here; the CLI turns it on unless
    /// `--no-webtorrent`.
    pub webtorrent: bool,
    /// The STUN server (HOST:PORT) WebRTC asks for our public address; None: none.
    pub stun_server: Option<String>,
    /// Where the DHT routing table is kept between runs (`None`: not kept).
    pub state_dir: Option<PathBuf>,
    /// Bytes a second the DHT node may send in answer to others' queries.
    pub dht_rate_limit: u32,
    /// How many torrents of the session download and seed at once (`session/queue.rs`).
    pub queue: crate::engine::api::QueueSettings,
    /// The session's seeding goals and what reaching one does (`session/goals.rs`).
    pub goals: crate::engine::api::Goals,
    pub goal_action: crate::engine::api::GoalAction,
    /// Payload rate limits of the session (`engine::peer::rate`).
    pub rates: crate::engine::api::RateOptions,
    /// `--only-files` and `--sequential` of a one-torrent run (`engine::start`,
    /// `start_magnet`); a session takes them per add instead.
    pub files: crate::engine::api::AddFiles,
    /// What a label brings to a torrent added with it (`[labels.NAME]` in the config).
    pub labels: crate::engine::api::LabelTable,
    /// A limit and goals for the torrents of a tracker (`[trackers."HOST"]` in the config).
    pub trackers: crate::engine::api::TrackerRules,
    /// Where a session's torrents download until complete, then move to their save path
    /// (`session/manager/completed.rs`); None: in their save path.
    pub incomplete_dir: Option<PathBuf>,
    /// A session's torrents added from now on fetch in order, whatever their add says
    /// (`SettingsChange::sequential`; a one-torrent run has `files.sequential` instead).
    pub sequential: bool,
    /// The command run when a torrent of the session completes (`session/on_complete.rs`).
    pub on_complete: crate::engine::api::OnComplete,
    /// The blocklist's path or URL (`session/blocklist.rs`); None: no list.
    pub blocklist: Option<String>,
    /// How often the blocklist is read again.
    pub blocklist_every: std::time::Duration,
    /// The SOCKS5 proxy every outgoing connection goes through (`--proxy`).
    pub proxy: Option<crate::engine::api::ProxySpec>,
    /// `--proxy-only`: nothing goes out but through the proxy (no listening, no UDP
    /// trackers); see `peer/proxy.rs`.
    pub proxy_only: bool,
    /// `--interface`: every peer, tracker and web seed socket is bound to this device, and
    /// nothing is sent while it is down (`session/interface.rs`).
    pub interface: Option<String>,
    /// Ask the router to forward the listen port (`session/port_mapping/`); None: off, as
    /// in every run not started from the command line (tests in process, the demo).
    pub port_mapping: Option<crate::engine::api::PortMapSettings>,
    /// Peers a magnet's metadata fetch caught sending bad data (piece-layer hashes that do
    /// not verify): banned from the download's start, their rows saying why.
    pub banned: Vec<std::net::SocketAddr>,
    /// The explainer's reachability window, when a test shortens it
    /// (`api::TEST_REACHABILITY_ENV`); None: the explainer's 30 minutes.
    pub reachability_window: Option<std::time::Duration>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            output: PathBuf::from("."),
            port: 6881,
            bind: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            peers: Vec::new(),
            banned: Vec::new(),
            seed: false,
            max_peers: 50,
            use_trackers: true,
            check_threads: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            encryption: crate::net::EncryptionPolicy::default(),
            transport: crate::engine::api::TransportPolicy::default(),
            dht: None,
            pex: true,
            lsd: false,
            cross_seed: false,
            webtorrent: false,
            stun_server: None,
            state_dir: None,
            dht_rate_limit: crate::dht::budget::DEFAULT_REPLY_BUDGET,
            queue: Default::default(),
            goals: Default::default(),
            goal_action: Default::default(),
            rates: crate::engine::api::RateOptions::default(),
            files: Default::default(),
            labels: Default::default(),
            trackers: Default::default(),
            incomplete_dir: None,
            sequential: false,
            on_complete: Default::default(),
            blocklist: None,
            blocklist_every: std::time::Duration::from_secs(24 * 3600),
            proxy: None,
            proxy_only: false,
            interface: None,
            port_mapping: None,
            reachability_window: None,
        }
    }
}

/// How a torrent's run ended (a peer's connection ending is `PeerEnd`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TorrentEnd {
    /// Every piece verified (and not seeding).
    Complete,
    /// Stopped by the user.
    Quit,
    Failed(String),
}
