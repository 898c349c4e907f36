//! The session's line-up as every face reads it: its torrents' lines (shared between
//! publications) and what the session says of itself once, with the index that finds a line
//! (`line_index.rs`). Apart from `session.rs`, which holds the requests and a line's type.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::{Families, TorrentLine};

/// WebTorrent's WebRTC side as the session runs it: the STUN server it asks and what that
/// server said (the explainer's `webrtc` check).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WebRtcStatus {
    /// The STUN server as set (`stun_server`); None when it is off.
    pub stun_server: Option<String>,
    /// Our address as the STUN server sees it, once it answered.
    pub reflexive: Option<std::net::SocketAddr>,
    /// The server did not answer a request and its resends.
    pub stun_silent: bool,
}

/// What the whole session shows: its torrents (in the order they were added) and what the
/// process has once. A line that did not change between two publications is the same `Arc`
/// in both: at 100,000 torrents a publication copies the changed lines only, and the faces
/// that keep the last one (the TUI, the qBittorrent API's sync) hold no second library.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SessionSnapshot {
    pub torrents: Vec<Arc<TorrentLine>>,
    pub down_rate: f64,
    pub up_rate: f64,
    /// 0 when not listening.
    pub listen_port: u16,
    /// Nodes in the DHT's routing tables, IPv4 and IPv6 together; None when the DHT is off.
    pub dht_nodes: Option<usize>,
    /// Of `dht_nodes`, those in the IPv6 table (BEP 32); None when the DHT is off (or the
    /// snapshot comes from a ttui without IPv6 in its DHT), 0 when it runs without IPv6.
    #[serde(default)]
    pub dht_nodes6: Option<usize>,
    /// The address families peers are reached over; both false from a session that does
    /// not say (an older one).
    #[serde(default)]
    pub families: Families,
    /// Incoming connections routed to a torrent since the session started.
    pub incoming: u64,
    /// Of `incoming`, those within the reachability window (`explain::REACHABILITY_WINDOW`,
    /// or `reachability_window`): the explainer's evidence that the port is open. None from
    /// a session that does not count them.
    #[serde(default)]
    pub incoming_in_window: Option<u32>,
    /// Where new torrents are saved unless told otherwise.
    pub default_save_path: PathBuf,
    /// Why the last save of resume data failed ("disk full"), while it keeps failing; the
    /// session keeps running and retries.
    pub save_error: Option<String>,
    /// The session's rate limits in force (bytes/s, 0 = unlimited) and whether they are
    /// turtle mode's.
    #[serde(default)]
    pub down_limit: u64,
    #[serde(default)]
    pub up_limit: u64,
    #[serde(default)]
    pub turtle: bool,
    /// The saved torrents are all in `torrents`: false only in the snapshot a session starts
    /// with, before it has brought them back from its state directory. The control socket
    /// answers after this (`serve::handle`), so a `list` at start never shows a library
    /// half-loaded or empty.
    #[serde(default)]
    pub restored: bool,
    /// The blocklist in force and what it refused; None without `--blocklist`.
    #[serde(default)]
    pub blocklist: Option<crate::engine::api::BlocklistStatus>,
    /// The SOCKS5 proxy (password masked) and whether it is down; None without `--proxy`.
    #[serde(default)]
    pub proxy: Option<crate::engine::api::ProxyStatus>,
    /// What the router said to our port mapping; None while it is off.
    #[serde(default)]
    pub port_mapping: Option<crate::engine::api::PortMappingStatus>,
    /// `--interface` and whether it carries traffic; None without one.
    #[serde(default)]
    pub interface: Option<crate::engine::api::InterfaceStatus>,
    /// WebTorrent's WebRTC side and its STUN server; None while WebTorrent is off.
    #[serde(default)]
    pub webrtc: Option<WebRtcStatus>,
    /// The explainer's reachability window when a test shortened it
    /// (`TEST_REACHABILITY_ENV`); None: 30 minutes.
    #[serde(default)]
    pub reachability_window: Option<Duration>,
    /// The read cache of seeding (`disk/read_cache.rs`): its bound, what it holds, its hits.
    #[serde(default)]
    pub read_cache: crate::engine::api::ReadCacheStats,
    /// Counts the session's publications: every line's `rev` is at most this.
    #[serde(default)]
    pub rev: u64,
    /// The categories and tags as they are with these lines, published with them so that a
    /// face reads them without a round trip to the session (qBittorrent's `torrents/info`
    /// and `sync/maindata` split every torrent's labels by them). The session makes a new
    /// one only when a label or the catalog changed, so a face may compare it by pointer.
    /// A catalog edit is answered only once a line-up carrying it is published.
    #[serde(default, with = "shared_catalog")]
    pub catalog: Arc<crate::engine::api::Catalog>,
    /// Where each torrent stands in `torrents` (`line_index.rs`), made on the first lookup.
    #[serde(skip)]
    pub index: crate::engine::api::LineIndex,
}

/// `Arc<Catalog>` written as the catalog itself (serde's `rc` feature is not on).
mod shared_catalog {
    use std::sync::Arc;

    use crate::engine::api::Catalog;

    pub(super) fn serialize<S: serde::Serializer>(
        c: &Arc<Catalog>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        serde::Serialize::serialize(&**c, s)
    }

    pub(super) fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<Arc<Catalog>, D::Error> {
        <Catalog as serde::Deserialize>::deserialize(d).map(Arc::new)
    }
}

impl SessionSnapshot {
    /// The session's own fields, without its torrents (for a face that sends the lines
    /// apart: cloning the whole snapshot would touch every line's count). Every field is
    /// named, so one added later must be placed here.
    pub fn head(&self) -> SessionSnapshot {
        let SessionSnapshot {
            torrents: _,
            down_rate,
            up_rate,
            listen_port,
            dht_nodes,
            dht_nodes6,
            families,
            incoming,
            incoming_in_window,
            default_save_path,
            save_error,
            down_limit,
            up_limit,
            turtle,
            restored,
            blocklist,
            proxy,
            port_mapping,
            interface,
            webrtc,
            reachability_window,
            read_cache,
            rev,
            catalog,
            index: _,
        } = self;
        SessionSnapshot {
            torrents: Vec::new(),
            down_rate: *down_rate,
            up_rate: *up_rate,
            listen_port: *listen_port,
            dht_nodes: *dht_nodes,
            dht_nodes6: *dht_nodes6,
            families: *families,
            incoming: *incoming,
            incoming_in_window: *incoming_in_window,
            default_save_path: default_save_path.clone(),
            save_error: save_error.clone(),
            down_limit: *down_limit,
            up_limit: *up_limit,
            turtle: *turtle,
            restored: *restored,
            blocklist: blocklist.clone(),
            proxy: proxy.clone(),
            port_mapping: port_mapping.clone(),
            interface: interface.clone(),
            webrtc: webrtc.clone(),
            reachability_window: *reachability_window,
            read_cache: *read_cache,
            rev: *rev,
            catalog: Arc::clone(catalog),
            index: Default::default(),
        }
    }

    /// Uploaded over downloaded across every torrent, each counted as [`TorrentLine::ratio`]
    /// counts it (a torrent added complete counts its size).
    pub fn ratio(&self) -> f64 {
        let (up, base) = self.torrents.iter().fold((0u64, 0u64), |(up, base), t| {
            let b = if t.downloaded > 0 {
                t.downloaded
            } else {
                t.verified_bytes
            };
            (up.saturating_add(t.uploaded), base.saturating_add(b))
        });
        if base == 0 {
            0.0
        } else {
            up as f64 / base as f64
        }
    }
}
