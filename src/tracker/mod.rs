//! Trackers: HTTP(S) (BEP 3, BEP 23 compact), UDP (BEP 15), WebSocket (WebTorrent's: ws, wss),
//! tiers (BEP 12).
//! The items marked CONTRACT are what engine/ and the `ttui peers` command build on. The
//! task reports plain results (its own status and log types); the engine turns them into
//! the UI's rows, so this module does not depend on the UI's types.
//!
//! `announce` does one request to one URL. `spawn` runs the tracker task for a torrent
//! (task.rs): tiers in parallel, fail-over within a tier, re-announces and back-off.

pub mod http;
pub(crate) mod pace;
pub(crate) mod task;
pub mod udp;
pub(crate) mod websocket;

pub(crate) use task::{spawn_with_config, TaskConfig};

use std::net::{IpAddr, SocketAddr};
use std::sync::OnceLock;
use std::time::Duration;

/// Most peers taken from one reply: far more than a client dials, and a hostile tracker
/// listing hundreds of thousands costs a bounded amount. Beyond it a random sample is kept.
pub const MAX_PEERS_PER_REPLY: usize = 2000;

/// How much a log line matters (the tracker's lines and every other in a torrent's log).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum LogLevel {
    Info,
    Warn,
    Error,
}

/// Where one tracker stands.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum TrackerStatus {
    NotContacted,
    Announcing,
    /// The last announce worked and named this many distinct peers (kept).
    Ok {
        peers: usize,
    },
    Failed(String),
}

impl TrackerStatus {
    /// Its one word in scripts' JSON (`ttui show --json`): not-contacted, updating, working
    /// or error.
    pub fn word(&self) -> &'static str {
        match self {
            TrackerStatus::NotContacted => "not-contacted",
            TrackerStatus::Announcing => "updating",
            TrackerStatus::Ok { .. } => "working",
            TrackerStatus::Failed(_) => "error",
        }
    }

    /// What a person reads: "not contacted", "announcing…", "ok: 3 peers", "failed" (the
    /// reason is shown apart).
    pub fn words(&self) -> String {
        match self {
            TrackerStatus::NotContacted => "not contacted".into(),
            TrackerStatus::Announcing => "announcing…".into(),
            TrackerStatus::Ok { peers } => format!("ok: {peers} peers"),
            TrackerStatus::Failed(_) => "failed".into(),
        }
    }
}

/// One tracker's state, as the tracker task reports it and the snapshot shows it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrackerRow {
    pub url: String,
    pub tier: usize,
    pub status: TrackerStatus,
    /// Time since the last announce finished.
    pub last_announce: Option<Duration>,
    pub next_announce: Option<Duration>,
    pub seeders: Option<u32>,
    pub leechers: Option<u32>,
    pub warning: Option<String>,
    /// The `uploaded=` and `downloaded=` of the last announce it answered in this run.
    #[serde(default)]
    pub last_counts: Option<(u64, u64)>,
}

impl AnnounceResponse {
    /// The tracker's vote for our external address, when it gave one and we know who it is.
    pub fn seen_as(&self) -> Option<SeenAs> {
        Some(SeenAs {
            ip: self.external_ip?,
            voter: self.tracker_ip?,
        })
    }
}

/// Someone (`voter`) told us the address it sees us at (`ip`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeenAs {
    pub ip: std::net::IpAddr,
    pub voter: std::net::IpAddr,
}

impl TrackerRow {
    /// A tracker before its first announce.
    pub fn not_contacted(url: String, tier: usize) -> TrackerRow {
        TrackerRow {
            url,
            tier,
            status: TrackerStatus::NotContacted,
            last_announce: None,
            next_announce: None,
            seeders: None,
            leechers: None,
            warning: None,
            last_counts: None,
        }
    }
}

/// The HTTP client for announces, one for the whole process (a clone shares it: reqwest's
/// client is an `Arc`). Building one loads the TLS roots and sets up a resolver, which every
/// torrent's tracker task paid for itself, again at each wake-up of a dormant torrent. No
/// connection pooling: announces are minutes apart, and trackers such as opentracker close the
/// connection after each reply, so a pooled one is usually dead when it is reused and the
/// announce fails with "connection reset" (and no pooled connection outlives the runtime that
/// opened it).
pub(crate) fn http_client() -> reqwest::Result<reqwest::Client> {
    http_client_from(&Egress::default())
}

/// How announces (and web seed requests) leave: from which address, through which proxy,
/// and whether UDP may leave at all.
#[derive(Clone, PartialEq, Eq)]
pub struct Egress {
    /// The address they leave from (`--bind`); None: where the system routes them.
    pub local: Option<IpAddr>,
    /// The SOCKS5 proxy's URL, password in clear (`ProxySpec::url_with_secret`): HTTP goes
    /// through it (`socks5h://` has it resolve the names).
    pub proxy: Option<String>,
    /// False when UDP cannot leave but around the proxy (a proxy and no relay for the
    /// session's socket): a UDP tracker would be reached directly, so it is not.
    pub udp: bool,
    /// The proxy's UDP relay (`--proxy`): UDP announces go through it, never around it.
    pub(crate) udp_relay: Option<std::sync::Arc<crate::net::socks_relay::SocksRelay>>,
    /// WebRTC for WebSocket trackers' offers and answers; None: announces carry no offers
    /// (a private torrent, WebTorrent off, no session).
    pub(crate) webrtc: Option<websocket::WebRtcPeers>,
    /// Why WebSocket trackers are not announced to at all (a private torrent, WebTorrent
    /// off): their rows say it. None: they are.
    pub(crate) ws_off: Option<&'static str>,
}

impl Default for Egress {
    fn default() -> Self {
        Egress {
            local: None,
            proxy: None,
            udp: true,
            udp_relay: None,
            webrtc: None,
            ws_off: None,
        }
    }
}

/// No Debug of the proxy URL: it holds the password.
impl std::fmt::Debug for Egress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Egress")
            .field("local", &self.local)
            .field("proxy", &self.proxy.is_some())
            .field("udp", &self.udp)
            .field("webrtc", &self.webrtc.is_some())
            .finish()
    }
}

/// `http_client` whose connections leave from `local` (`--bind`) and through the proxy, one
/// per (address, proxy) asked for (a process has one or two). With an IPv4 address, a
/// tracker reachable only over IPv6 cannot be reached: leaving from elsewhere is what
/// `--bind` forbids.
pub(crate) fn http_client_from(egress: &Egress) -> reqwest::Result<reqwest::Client> {
    type Key = (Option<IpAddr>, Option<String>);
    type Clients = std::sync::Mutex<Vec<(Key, reqwest::Client)>>;
    static CLIENTS: std::sync::OnceLock<Clients> = std::sync::OnceLock::new();
    let clients = CLIENTS.get_or_init(Default::default);
    let key: Key = (egress.local, egress.proxy.clone());
    let known = |list: &[(Key, reqwest::Client)]| {
        list.iter().find(|(a, _)| *a == key).map(|(_, c)| c.clone())
    };
    if let Some(c) = clients.lock().ok().and_then(|l| known(&l)) {
        return Ok(c);
    }
    let b = with_interface(http_client_builder().local_address(egress.local));
    let c = with_proxy(b, egress)?.build()?;
    if let Ok(mut list) = clients.lock() {
        match known(&list) {
            Some(first) => return Ok(first),
            None => list.push((key, c.clone())),
        }
    }
    Ok(c)
}

/// `b` bound to `--interface`'s device when one is set (SO_BINDTODEVICE on each connection,
/// the proxy's included).
pub(crate) fn with_interface(b: reqwest::ClientBuilder) -> reqwest::ClientBuilder {
    match crate::net::device::bound() {
        Some(d) => b.interface(d.name()),
        None => b,
    }
}

/// `b` sending everything through the egress's proxy, when it has one: no exception for
/// local names, and no system proxy instead (an explicit proxy turns those off).
pub(crate) fn with_proxy(
    b: reqwest::ClientBuilder,
    egress: &Egress,
) -> reqwest::Result<reqwest::ClientBuilder> {
    Ok(match &egress.proxy {
        None => b,
        Some(url) => b.proxy(reqwest::Proxy::all(url.as_str())?),
    })
}

/// `http_client`'s settings, for callers that add their own (the demo and the tests, which
/// talk only to loopback, also turn system proxies off).
pub fn http_client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .user_agent(concat!("ttui/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(15))
        .pool_max_idle_per_host(0)
}

/// Why an announce is sent: BEP 3's `event` (BEP 15 numbers them 0 to 3). Named apart from
/// the torrent's `engine::torrent::shared::Event`, which is another idea.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnnounceEvent {
    None,
    Started,
    Completed,
    Stopped,
}

impl AnnounceEvent {
    /// The HTTP `event` value; `None` is omitted from the query.
    pub fn as_str(&self) -> Option<&'static str> {
        match self {
            AnnounceEvent::None => None,
            AnnounceEvent::Started => Some("started"),
            AnnounceEvent::Completed => Some("completed"),
            AnnounceEvent::Stopped => Some("stopped"),
        }
    }
}

/// CONTRACT: what the engine reports to trackers; read fresh before every announce.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    pub uploaded: u64,
    pub downloaded: u64,
    pub left: u64,
}

/// CONTRACT: the hashes a torrent is announced under. A tracker (and the DHT) keeps one
/// swarm per hash, so a hybrid torrent (BEP 52) is announced under both its v1 hash and its
/// v2 hash cut to 20 bytes: a v1-only client finds it under the first, a v2-only client
/// (from a `btmh` magnet) under the second, and ttui gets the peers of both swarms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SwarmHashes {
    /// The hash peers are dialed with: the v1 hash, or a v2-only torrent's short v2 hash.
    pub main: [u8; 20],
    /// A hybrid's short v2 hash; never equal to `main`.
    pub also: Option<[u8; 20]>,
}

impl SwarmHashes {
    pub fn new(main: [u8; 20], also: Option<[u8; 20]>) -> SwarmHashes {
        SwarmHashes {
            main,
            also: also.filter(|a| *a != main),
        }
    }
}

impl From<[u8; 20]> for SwarmHashes {
    fn from(main: [u8; 20]) -> SwarmHashes {
        SwarmHashes { main, also: None }
    }
}

/// CONTRACT
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnounceRequest {
    pub info_hash: [u8; 20],
    pub peer_id: [u8; 20],
    pub port: u16,
    pub progress: Progress,
    pub event: AnnounceEvent,
    pub numwant: u32,
}

/// CONTRACT
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnounceResponse {
    pub interval: Duration,
    pub min_interval: Option<Duration>,
    pub peers: Vec<SocketAddr>,
    pub seeders: Option<u32>,
    pub leechers: Option<u32>,
    pub warning: Option<String>,
    /// Where the tracker saw us (BEP 24 `external ip`): one vote towards our external
    /// address (BEP 40 priorities, BEP 42 node id), once we know whose (`tracker_ip`).
    pub external_ip: Option<std::net::IpAddr>,
    /// The address the reply came from; None through a proxy, or over UDP.
    pub tracker_ip: Option<std::net::IpAddr>,
}

/// CONTRACT: commands from the engine to the tracker task.
#[derive(Debug)]
pub enum TrackerCommand {
    /// Every piece verified: announce `completed` now.
    Completed,
    /// Someone asked for an announce (Transmission's `torrent-reannounce`): every tier
    /// announces now, or, when its tracker asked for a minimum interval, as soon as that has
    /// passed since its last answer.
    Reannounce,
    /// Announce `stopped` to every tracker that had a successful announce (bounded to a few
    /// seconds in all), then end the task and answer on the channel.
    Stop(tokio::sync::oneshot::Sender<()>),
    /// The torrent goes to sleep: announce (no event) to every tracker that had a successful
    /// announce and has not heard the current counts, bounded like `Stop`, then end the task
    /// and answer on the channel.
    Settle(tokio::sync::oneshot::Sender<()>),
}

/// CONTRACT: what the tracker task reports.
#[derive(Debug, Clone)]
pub enum TrackerUpdate {
    /// New peers from one announce (de-duplication against known peers is the engine's job,
    /// but one batch holds no duplicates).
    Peers(Vec<SocketAddr>),
    /// New peers listed under a hybrid's short v2 hash only (the main hash's answer to the
    /// same announce did not list them): they are dialed under that hash.
    PeersUnderV2(Vec<SocketAddr>),
    /// The current state of every tracker, one row each, in tier order.
    Status(Vec<TrackerRow>),
    /// A line for the event log ("announce to http://… ok: 3 peers", "udp://… timed out").
    Log(LogLevel, String),
    /// A tracker said where it sees us (BEP 24).
    SeenAs(SeenAs),
}

/// Why one announce failed. Every message is one line, fit for the status row and the log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrackerError {
    #[error("invalid tracker URL: {0}")]
    InvalidUrl(String),
    #[error("unsupported tracker scheme `{0}` (only http, https, udp, ws and wss work)")]
    UnsupportedScheme(String),
    /// The tracker refused us (`failure reason`, or a BEP 15 error packet); its own words.
    #[error("tracker says: {0}")]
    Failure(String),
    #[error("cannot connect: {0}")]
    Connect(String),
    #[error("timed out: {0}")]
    Timeout(String),
    #[error("HTTP status {0}")]
    HttpStatus(u16),
    #[error("bad reply: {0}")]
    BadReply(String),
    #[error("cannot resolve {0}")]
    Resolve(String),
    /// A UDP tracker would be reached around the proxy (it has no relay for us).
    #[error("UDP trackers are off: they would go around the proxy")]
    UdpAroundProxy,
    /// A WebSocket tracker would be reached around the proxy (no WebSocket through SOCKS yet).
    #[error("WebSocket trackers are off: they would go around the proxy")]
    WebSocketAroundProxy,
    /// WebSocket trackers are not used (why): they find browser peers only.
    #[error("not used: {0}")]
    WebSocketOff(&'static str),
    /// The proxy's UDP relay is down now (why); the announce is tried again later.
    #[error("the proxy carries no UDP now: {0}")]
    UdpOff(String),
    /// `--interface` is down: nothing is sent.
    #[error("interface {0} is down: nothing is sent")]
    InterfaceDown(String),
    /// A socket or the HTTP client failed: the kind stays for whoever decides (None when no
    /// `io::Error` lies underneath), the words are `io_reason`'s.
    #[error("i/o error: {reason}")]
    Io {
        kind: Option<std::io::ErrorKind>,
        reason: String,
    },
}

impl TrackerError {
    /// `what` ("send", "bind") failed with `e`.
    pub(crate) fn io(what: &str, e: &std::io::Error) -> Self {
        TrackerError::Io {
            kind: Some(e.kind()),
            reason: format!("{what}: {}", io_reason(e)),
        }
    }
}

/// Intervals below this would hammer the tracker; some trackers send 0 or 1 by mistake.
pub(crate) const MIN_INTERVAL: Duration = Duration::from_secs(30);
/// Intervals above this would starve us of peers for too long if the swarm changes.
pub(crate) const MAX_INTERVAL: Duration = Duration::from_secs(2 * 60 * 60);
/// Used when a reply has no `interval` at all.
pub(crate) const DEFAULT_INTERVAL: Duration = Duration::from_secs(30 * 60);
/// Tracker-controlled text shown in the UI is cut to this many characters.
const MAX_TEXT: usize = 200;

/// Turns raw tracker numbers (seconds) into sane intervals: the interval lies in
/// `MIN_INTERVAL..=MAX_INTERVAL` and is never below the (equally clamped) min interval.
pub(crate) fn clamp_intervals(
    interval: Option<i64>,
    min_interval: Option<i64>,
) -> (Duration, Option<Duration>) {
    let clamp = |secs: i64| {
        Duration::from_secs(secs.max(0).unsigned_abs()).clamp(MIN_INTERVAL, MAX_INTERVAL)
    };
    let min = min_interval.map(clamp);
    let mut interval = interval.map(clamp).unwrap_or(DEFAULT_INTERVAL);
    if let Some(min) = min {
        interval = interval.max(min);
    }
    (interval, min)
}

/// Tracker text goes to a terminal: drop control characters (escape sequences could repaint
/// the screen), squash whitespace and cap the length.
pub(crate) fn clean_text(raw: &[u8]) -> String {
    let lossy = String::from_utf8_lossy(raw);
    let mut out = String::new();
    let mut count = 0;
    let mut last_space = true;
    for c in lossy.chars() {
        let c = if c.is_whitespace() { ' ' } else { c };
        if c.is_control() || (c == ' ' && last_space) {
            continue;
        }
        if count == MAX_TEXT {
            out.push('…');
            break;
        }
        last_space = c == ' ';
        out.push(c);
        count += 1;
    }
    out.trim_end().to_string()
}

/// A socket error in the words a status line uses: "connection refused" rather than std's
/// "Connection refused (os error 111)", whose errno means nothing to a reader.
pub(crate) fn io_reason(e: &std::io::Error) -> String {
    use std::io::ErrorKind;
    match e.kind() {
        ErrorKind::ConnectionRefused => "connection refused".into(),
        ErrorKind::TimedOut => "timed out".into(),
        ErrorKind::ConnectionReset => "connection reset".into(),
        _ => {
            let text = e.to_string();
            match text.rfind(" (os error ") {
                Some(at) if text.ends_with(')') => text[..at].to_string(),
                _ => text,
            }
        }
    }
}

/// BEP 3/15 `key`: lets a tracker recognise us across IP changes; one per process is enough.
pub(crate) fn announce_key() -> u32 {
    static KEY: OnceLock<u32> = OnceLock::new();
    *KEY.get_or_init(rand::random)
}

/// One announce to one tracker URL (http, https, udp, ws or wss), with the default UDP schedule.
pub async fn announce(
    url: &str,
    req: &AnnounceRequest,
    http: &reqwest::Client,
) -> Result<AnnounceResponse, TrackerError> {
    announce_with(url, req, http, &udp::UdpSchedule::default()).await
}

/// Like [`announce`] with an explicit UDP retransmission schedule.
pub async fn announce_with(
    url: &str,
    req: &AnnounceRequest,
    http: &reqwest::Client,
    schedule: &udp::UdpSchedule,
) -> Result<AnnounceResponse, TrackerError> {
    announce_from(url, req, http, schedule, &Egress::default()).await
}

/// Like [`announce_with`], a UDP announce leaving from `local` (`--bind`; an HTTP one leaves
/// from where `http` was built to: `http_client_from`).
pub(crate) async fn announce_from(
    url: &str,
    req: &AnnounceRequest,
    http: &reqwest::Client,
    schedule: &udp::UdpSchedule,
    egress: &Egress,
) -> Result<AnnounceResponse, TrackerError> {
    // The kill switch: while `--interface` is down no announce is even tried (the session
    // announces again when it is back).
    if let Some(d) = crate::net::device::bound().filter(|d| !d.is_up()) {
        return Err(TrackerError::InterfaceDown(d.name().to_string()));
    }
    let parsed = reqwest::Url::parse(url.trim())
        .map_err(|e| TrackerError::InvalidUrl(format!("{}: {e}", clean_text(url.as_bytes()))))?;
    // A WebSocket tracker names no addresses (peers come through WebRTC offers), so one
    // announce over either family is enough.
    let websocket = matches!(parsed.scheme(), "ws" | "wss");
    let families = match websocket {
        true => None,
        false => both_families(&parsed, egress).await,
    };
    if let Some(families) = families {
        let [v4, v6] = families.map(|local| Egress {
            local: Some(local),
            ..egress.clone()
        });
        let (a, b) = futures::future::join(
            announce_over(url, &parsed, req, schedule, &v4),
            announce_over(url, &parsed, req, schedule, &v6),
        )
        .await;
        return merge_families(a, b);
    }
    announce_to(url, &parsed, req, http, schedule, egress).await
}

/// The local addresses to announce from, one per family, when `url` names its tracker by a
/// host with both an IPv4 and an IPv6 address and both are routed from here: the tracker
/// lists a peer at the address its announce came from, so only an announce over IPv6 makes
/// us known to the swarm's IPv6-only peers (and one over IPv4 to its IPv4-only ones), as
/// libtorrent announces once per family. None for an address literal, under `--bind` or a
/// proxy (they decide how announces leave), or when the name has one family only.
async fn both_families(url: &reqwest::Url, egress: &Egress) -> Option<[IpAddr; 2]> {
    if egress.local.is_some() || egress.proxy.is_some() || egress.udp_relay.is_some() {
        return None;
    }
    let name = url.host_str()?;
    if name.starts_with('[') || name.parse::<IpAddr>().is_ok() {
        return None;
    }
    let port = url.port_or_known_default()?;
    // getaddrinfo can stall; a name that does not answer soon is announced to as before.
    let found = tokio::time::timeout(RESOLVE_BOTH, tokio::net::lookup_host((name, port)))
        .await
        .ok()?
        .ok()?;
    let (mut v4, mut v6) = (None, None);
    for a in found {
        match a {
            SocketAddr::V4(_) if v4.is_none() => v4 = Some(a),
            SocketAddr::V6(_) if v6.is_none() => v6 = Some(a),
            _ => {}
        }
    }
    let (v4, v6) = (v4?, v6?);
    (crate::net::route::routed(&v4) && crate::net::route::reaches(v6.ip())).then_some([
        IpAddr::from(std::net::Ipv4Addr::UNSPECIFIED),
        IpAddr::from(std::net::Ipv6Addr::UNSPECIFIED),
    ])
}

/// How long `both_families` waits for the name's addresses.
const RESOLVE_BOTH: Duration = Duration::from_secs(5);

/// One announce over the family of `egress.local` (its own HTTP client, bound there).
async fn announce_over(
    url: &str,
    parsed: &reqwest::Url,
    req: &AnnounceRequest,
    schedule: &udp::UdpSchedule,
    egress: &Egress,
) -> Result<AnnounceResponse, TrackerError> {
    let http = http_client_from(egress).map_err(|e| TrackerError::Io {
        kind: None,
        reason: format!("HTTP client: {e}"),
    })?;
    announce_to(url, parsed, req, &http, schedule, egress).await
}

/// The answers of an announce made over IPv4 (`v4`) and over IPv6 (`v6`) as one: the IPv4
/// one's interval, counts and addresses with the IPv6 one's new peers, or whichever
/// succeeded; both failed, the IPv4 one's error.
pub(crate) fn merge_families(
    v4: Result<AnnounceResponse, TrackerError>,
    v6: Result<AnnounceResponse, TrackerError>,
) -> Result<AnnounceResponse, TrackerError> {
    match (v4, v6) {
        (Ok(mut a), Ok(b)) => {
            let known: std::collections::HashSet<SocketAddr> = a.peers.iter().copied().collect();
            a.peers
                .extend(b.peers.into_iter().filter(|p| !known.contains(p)));
            a.seeders = a.seeders.max(b.seeders);
            a.leechers = a.leechers.max(b.leechers);
            a.warning = a.warning.or(b.warning);
            Ok(a)
        }
        (Ok(a), Err(_)) | (Err(_), Ok(a)) => Ok(a),
        (Err(e), Err(_)) => Err(e),
    }
}

/// One announce to `parsed` as `egress` says it leaves.
async fn announce_to(
    url: &str,
    parsed: &reqwest::Url,
    req: &AnnounceRequest,
    http: &reqwest::Client,
    schedule: &udp::UdpSchedule,
    egress: &Egress,
) -> Result<AnnounceResponse, TrackerError> {
    match parsed.scheme() {
        "http" | "https" => http::announce(url.trim(), req, http).await,
        "udp" if !egress.udp => Err(TrackerError::UdpAroundProxy),
        "udp" => {
            let relay = egress.udp_relay.as_ref();
            udp::announce(parsed, req, schedule, egress.local, relay).await
        }
        "ws" | "wss" => match egress.ws_off {
            Some(why) => Err(TrackerError::WebSocketOff(why)),
            None => websocket::announce(parsed, req, egress).await,
        },
        other => Err(TrackerError::UnsupportedScheme(clean_text(
            other.as_bytes(),
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(peers: &[&str], seeders: u32) -> AnnounceResponse {
        AnnounceResponse {
            interval: Duration::from_secs(1800),
            min_interval: None,
            peers: peers.iter().map(|p| p.parse().unwrap()).collect(),
            seeders: Some(seeders),
            leechers: None,
            warning: None,
            external_ip: None,
            tracker_ip: None,
        }
    }

    #[test]
    fn a_name_announced_over_both_families_gives_one_answer() {
        let v4 = answer(&["192.0.2.1:6881", "[2001:db8::1]:6881"], 3);
        let v6 = answer(&["[2001:db8::1]:6881", "[2001:db8::2]:51413"], 5);
        let both = merge_families(Ok(v4.clone()), Ok(v6.clone())).unwrap();
        let peers: Vec<String> = both.peers.iter().map(|p| p.to_string()).collect();
        assert_eq!(
            peers,
            [
                "192.0.2.1:6881",
                "[2001:db8::1]:6881",
                "[2001:db8::2]:51413"
            ]
        );
        assert_eq!(both.seeders, Some(5));
        let down = || TrackerError::Resolve("down".into());
        assert_eq!(merge_families(Err(down()), Ok(v6.clone())).unwrap(), v6);
        assert_eq!(merge_families(Ok(v4.clone()), Err(down())).unwrap(), v4);
        assert!(merge_families(Err(down()), Err(down())).is_err());
    }

    #[test]
    fn intervals_are_clamped() {
        assert_eq!(clamp_intervals(Some(0), None), (MIN_INTERVAL, None));
        assert_eq!(clamp_intervals(Some(-5), None), (MIN_INTERVAL, None));
        assert_eq!(clamp_intervals(Some(i64::MAX), None), (MAX_INTERVAL, None));
        assert_eq!(clamp_intervals(None, None), (DEFAULT_INTERVAL, None));
        let (i, m) = clamp_intervals(Some(60), Some(300));
        assert_eq!(
            (i, m),
            (Duration::from_secs(300), Some(Duration::from_secs(300)))
        );
        let (i, m) = clamp_intervals(Some(900), Some(1));
        assert_eq!((i, m), (Duration::from_secs(900), Some(MIN_INTERVAL)));
    }

    #[test]
    fn tracker_text_is_cleaned() {
        assert_eq!(clean_text(b"bad\x1b[2J  torrent\n"), "bad[2J torrent");
        assert_eq!(clean_text(b"\xff ok"), "\u{fffd} ok");
        let long = vec![b'a'; 1000];
        assert_eq!(clean_text(&long).chars().count(), MAX_TEXT + 1);
    }

    #[test]
    fn socket_errors_read_as_words() {
        use std::io::{Error, ErrorKind};
        let refused = Error::from_raw_os_error(libc::ECONNREFUSED);
        assert!(refused.to_string().contains("(os error"), "{refused}");
        assert_eq!(io_reason(&refused), "connection refused");
        assert_eq!(io_reason(&Error::from(ErrorKind::TimedOut)), "timed out");
        assert_eq!(
            io_reason(&Error::from(ErrorKind::ConnectionReset)),
            "connection reset"
        );
        let denied = Error::from_raw_os_error(libc::EACCES);
        assert_eq!(io_reason(&denied), "Permission denied");
        let own = Error::other("no route (os error ahead");
        assert_eq!(io_reason(&own), "no route (os error ahead");
    }

    #[test]
    fn a_socket_error_keeps_its_kind_under_the_same_words() {
        let e = TrackerError::io(
            "send",
            &std::io::Error::from_raw_os_error(libc::ECONNREFUSED),
        );
        assert_eq!(e.to_string(), "i/o error: send: connection refused");
        assert!(matches!(
            e,
            TrackerError::Io {
                kind: Some(std::io::ErrorKind::ConnectionRefused),
                ..
            }
        ));
    }

    #[tokio::test]
    async fn a_closed_http_tracker_is_connection_refused() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("http://127.0.0.1:{port}/announce");
        // No proxy: the request stays on loopback whatever the environment says.
        let http = http_client_builder().no_proxy().build().unwrap();
        let e = announce(&url, &request(), &http).await.unwrap_err();
        assert_eq!(e.to_string(), "cannot connect: connection refused");
    }

    fn request() -> AnnounceRequest {
        AnnounceRequest {
            info_hash: [1; 20],
            peer_id: [2; 20],
            port: 1,
            progress: Progress::default(),
            event: AnnounceEvent::None,
            numwant: 1,
        }
    }

    #[tokio::test]
    async fn unknown_scheme_is_a_clear_error() {
        let http = reqwest::Client::new();
        let req = request();
        let e = announce("gopher://example.invalid/announce", &req, &http)
            .await
            .unwrap_err();
        assert_eq!(e, TrackerError::UnsupportedScheme("gopher".into()));
        let e = announce("not a url", &req, &http).await.unwrap_err();
        assert!(matches!(e, TrackerError::InvalidUrl(_)), "{e:?}");
    }
}
