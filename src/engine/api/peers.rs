//! One peer as the faces see it: where its connection stands, why it ended, where we
//! learned of it, its choke flags, and the row the peer table shows.

use super::*;

/// Where a peer's path through connection setup stands.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum PeerStage {
    Queued,
    Connecting,
    Handshaking,
    Connected,
    Disconnected,
    Failed,
}

impl PeerStage {
    pub fn label(&self) -> &'static str {
        match self {
            PeerStage::Queued => "queued",
            PeerStage::Connecting => "connecting",
            PeerStage::Handshaking => "handshaking",
            PeerStage::Connected => "connected",
            PeerStage::Disconnected => "disconnected",
            PeerStage::Failed => "failed",
        }
    }
    /// Failed and disconnected rows are kept for a while, dimmed.
    pub fn is_gone(&self) -> bool {
        matches!(self, PeerStage::Disconnected | PeerStage::Failed)
    }
}

/// Why a connection ended or never came up, in words a person understands.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum PeerEnd {
    #[error("connection refused")]
    Refused,
    #[error("timed out connecting")]
    ConnectTimeout,
    #[error("timed out in handshake")]
    HandshakeTimeout,
    #[error("connection reset")]
    Reset,
    #[error("closed during handshake")]
    ClosedDuringHandshake,
    /// With `--encryption off`: peers that require encryption close a plain handshake.
    #[error("closed during handshake (it may require encryption)")]
    ClosedMayNeedEncryption,
    /// The encrypted (MSE) handshake failed; the reason is the user-facing text.
    #[error("{0}")]
    Encryption(String),
    #[error("closed by peer")]
    ClosedByPeer,
    #[error("wrong info hash")]
    WrongInfoHash,
    #[error("not a BitTorrent peer")]
    NotBitTorrent,
    #[error("connected to ourselves")]
    SelfConnection,
    #[error("already connected")]
    Duplicate,
    #[error("protocol error: {0}")]
    Protocol(String),
    #[error("silent too long")]
    Idle,
    #[error("sent bad data ({0} hash failures)")]
    HashFailures(u32),
    /// Blocks from it differed from the piece that verified later: proof, so it is banned.
    #[error("sent bad blocks ({0} that differ from the verified piece)")]
    BadBlocks(u32),
    /// A v2 magnet's piece-layer hashes from it did not prove its files' roots.
    #[error("sent bad data (piece-layer hashes that do not verify)")]
    BadHashes,
    #[error("dropped by user")]
    DroppedByUser,
    #[error("banned")]
    Banned,
    /// The session's blocklist holds its address (`--blocklist`).
    #[error("blocked by blocklist")]
    Blocklisted,
    /// The SOCKS5 proxy (`--proxy`) could not be reached or refused us: the peer was never
    /// asked, so this says nothing about it.
    #[error("proxy down: {0}")]
    ProxyDown(String),
    #[error("unreachable: {0}")]
    Unreachable(String),
    #[error("i/o error: {0}")]
    Io(String),
    #[error("not needed (both complete)")]
    NotNeeded,
    /// A bug of ours ended the connection (a panic caught at the peer task's edge).
    #[error("internal error: {0}")]
    Internal(String),
    #[error("torrent stopped")]
    Shutdown,
    /// `--interface` went down and we closed the connection: it says nothing about the peer.
    #[error("interface down")]
    InterfaceDown,
    /// `--transport utp`: the peer never answered our uTP SYNs (it may speak only TCP).
    #[error("no answer over uTP (it may speak only TCP)")]
    UtpNoAnswer,
    /// `--transport tcp`: a peer that accepts TCP and then hangs up may be uTP-only.
    #[error("closed during handshake over TCP (it may accept only uTP)")]
    ClosedMayNeedUtp,
    /// A web seed (BEP 19) failed: "HTTP 404", "short body (12 of 262144 bytes)", a timeout.
    #[error("web seed: {0}")]
    WebSeed(String),
    /// A WebRTC connection did not come up, in the stage the words name: "ICE timed out
    /// after 15s", "DTLS failed: …", "the peer closed the connection during data channel".
    #[error("{0}")]
    WebRtc(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum PeerSource {
    Tracker,
    /// Found by a DHT lookup (BEP 5).
    Dht,
    /// Named by another peer (BEP 11 `ut_pex`).
    Pex,
    /// Given with `--peer` on the command line (or a magnet link's `x.pe`).
    Manual,
    /// Connected to us.
    Incoming,
    /// An HTTP server of the torrent's `url-list` (BEP 19); its address is the server's.
    WebSeed,
    /// Heard announcing the torrent on the LAN (BEP 14 Local Service Discovery).
    Lsd,
}

impl std::fmt::Display for PeerSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.word())
    }
}

impl PeerSource {
    /// The word in the peer table's Source column.
    pub fn word(self) -> &'static str {
        match self {
            PeerSource::Tracker => "tracker",
            PeerSource::Dht => "DHT",
            PeerSource::Pex => "PEX",
            PeerSource::Manual => "manual",
            PeerSource::Incoming => "incoming",
            PeerSource::WebSeed => "web seed",
            PeerSource::Lsd => "LSD",
        }
    }
}

/// The four BEP 3 flags. Connections start choked and not interested on both sides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct ChokeFlags {
    pub am_choking: bool,
    pub am_interested: bool,
    pub peer_choking: bool,
    pub peer_interested: bool,
}

impl Default for ChokeFlags {
    fn default() -> Self {
        ChokeFlags {
            am_choking: true,
            am_interested: false,
            peer_choking: true,
            peer_interested: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PeerRow {
    pub addr: PeerAddr,
    pub source: PeerSource,
    /// Decoded client name and version ("Transmission 3.00"), from the BEP 10 `v` string when
    /// sent, else from the peer id.
    pub client: Option<String>,
    /// The client named by the peer id alone. Apps built on a library send their own `v`
    /// ("lt_client/2.0.8.0") with the library's peer id (`-LT2080-`); showing both tells what
    /// software really runs. Compare with `client` before showing it twice.
    pub id_client: Option<String>,
    pub peer_id: Option<[u8; 20]>,
    pub stage: PeerStage,
    /// Set when stage is Failed or Disconnected.
    pub end: Option<PeerEnd>,
    /// While a retry dials or handshakes (Connecting, Handshaking): how the attempt before it
    /// ended. A row keeps its reason through its retries (`failure`).
    #[serde(default)]
    pub retry_after: Option<PeerEnd>,
    /// Time since the stage last changed.
    pub since: Duration,
    pub flags: ChokeFlags,
    /// Payload bytes per second, from them / to them.
    pub down_rate: f64,
    pub up_rate: f64,
    pub downloaded: u64,
    pub uploaded: u64,
    /// Fraction of the torrent's pieces the peer has (0.0..=1.0).
    pub progress: f32,
    /// Our block requests to this peer not answered yet.
    pub requests_in_flight: u32,
    /// Hash failures of pieces this peer contributed to.
    pub hash_failures: u32,
    /// Connection attempts so far.
    pub attempts: u32,
    /// Handshake round trip (connect + handshake), when it completed.
    pub handshake_time: Option<Duration>,
    /// The payload encryption the handshake settled on (MSE/PE), once handshaken.
    pub encryption: Option<crate::net::Encryption>,
    /// TCP or uTP, once connected.
    pub transport: Option<crate::net::TransportKind>,
    /// uTP's smoothed round-trip time, while connected over uTP with a sample taken.
    pub utp_rtt: Option<Duration>,
    /// Packets uTP sent again (timeouts and fast retransmits), while connected over uTP.
    pub utp_retransmits: Option<u64>,
    /// In play: a connection runs or another dial is planned; false once ttui has given up
    /// on it (it rests until a source lists it again, or is never dialed again). The engine's
    /// `PeerEntry::in_play` is the same idea. The wire keeps the field's first name, so a
    /// client and a session of protocol version 1 read each other's rows.
    #[serde(rename = "alive")]
    pub in_play: bool,
    /// How the connection's encryption was settled when the first way was refused, e.g.
    /// "plain after encrypted refused (…)"; shown in the row's detail and logged.
    pub encryption_note: Option<String>,
    /// The connected peer said it only uploads (BEP 21 `upload_only`): a seed, or a partial
    /// seed with every piece it wants. Absent from rows of older sessions: false.
    #[serde(default)]
    pub upload_only: bool,
    /// The connection came through a hole punched by BEP 55: the relay that introduced us.
    /// Absent from rows of older sessions: none.
    #[serde(default)]
    pub hole_punched_via: Option<std::net::IpAddr>,
    /// A WebRTC connection still coming up (`transport` says WebRTC): the stage it is in, or
    /// failed in (ICE, DTLS, the data channel). Once the data channel is open the row is
    /// Handshaking with none; once the peer joins, its own row takes over. Absent from rows
    /// of older sessions: none.
    #[serde(default)]
    pub webrtc_stage: Option<crate::net::webrtc::Stage>,
}

impl PeerRow {
    /// Why its last attempt failed, while that still stands: a failed row's end, or the end
    /// of the attempt before a retry that has not connected yet.
    pub fn failure(&self) -> Option<&PeerEnd> {
        match self.stage {
            PeerStage::Failed => self.end.as_ref(),
            PeerStage::Connecting | PeerStage::Handshaking => self.retry_after.as_ref(),
            _ => None,
        }
    }

    /// A row with nothing known yet but its address, source and stage; tests fill in the rest
    /// with struct update syntax.
    pub fn new(addr: PeerAddr, source: PeerSource, stage: PeerStage) -> Self {
        PeerRow {
            addr,
            source,
            client: None,
            id_client: None,
            peer_id: None,
            stage,
            end: None,
            retry_after: None,
            since: Duration::ZERO,
            flags: ChokeFlags::default(),
            down_rate: 0.0,
            up_rate: 0.0,
            downloaded: 0,
            uploaded: 0,
            progress: 0.0,
            requests_in_flight: 0,
            hash_failures: 0,
            attempts: 0,
            handshake_time: None,
            encryption: None,
            transport: None,
            utp_rtt: None,
            utp_retransmits: None,
            in_play: false,
            encryption_note: None,
            upload_only: false,
            hole_punched_via: None,
            webrtc_stage: None,
        }
    }

    /// How the peer was reached, for the row's detail: "hole punched via 203.0.113.5", else
    /// its source's word.
    pub fn how_reached(&self) -> String {
        match self.hole_punched_via {
            Some(ip) => format!("hole punched via {ip}"),
            None => self.source.word().to_string(),
        }
    }

    /// The peer-id decode when it names another client than `client` (shown beside it).
    pub fn other_id_client(&self) -> Option<&str> {
        let id = self.id_client.as_deref()?;
        match self.client.as_deref() {
            Some(c) if c == id => None,
            _ => Some(id),
        }
    }
}
