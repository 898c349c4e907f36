//! WebSocket trackers (`ws://`, `wss://`): the WebTorrent tracker protocol, whose messages
//! `protocol::wt_tracker` encodes and parses, over a WebSocket that stays open.
//!
//! Why `tokio-tungstenite`: it is the WebSocket client of the tokio world (the one `axum` and
//! `reqwest`'s users reach for), small, and kept up with `tungstenite`; its `rustls` feature
//! uses the rustls and webpki roots that reqwest already brings for https trackers, so `wss`
//! adds no second TLS stack; and it runs over a stream we connect ourselves, so `--bind` and
//! `--interface` hold as for HTTP and UDP trackers.
//!
//! Shape. An HTTP or UDP tracker lists us until our entry times out; a WebSocket tracker
//! lists us only while our socket is open (bittorrent-tracker's server announces `stopped`
//! for every swarm of a socket that closes). So the socket outlives the announce: one per
//! (tracker URL, peer id, local address), shared by every torrent of the session that
//! announces there, as the reference client shares one per URL. A task owns it (`Conn`);
//! [`announce`] hands it a request and waits for the answer that names the same info hash,
//! so the tracker task (task.rs) drives it like any other tracker: events, intervals,
//! back-off and `stopped` are its.
//!
//! The socket closes once its last torrent has sent `stopped` (or has not announced for
//! twice its interval: a torrent that went away without a word, removed while dormant). A
//! dormant seed sends no `stopped` and keeps its place on the socket: it wakes to announce. When the tracker drops it, it
//! reconnects with doubling back-off (`RECONNECT_FIRST` to `RECONNECT_MAX`) while torrents
//! remain, and announces each of them again, so the tracker lists them again without waiting
//! for their next interval.
//!
//! WebRTC (`rtc.rs`): an announce whose `Egress` has `webrtc` carries offers (the tracker
//! pairs peers only through offers, and names no addresses); the answers it relays back
//! and the offers it relays from other peers start connections, which go to the session.
//! Without it (a private torrent, WebTorrent off) announces carry none, and what the
//! tracker relays is counted and dropped.
//!
//! Bounds: a message or frame longer than `wt_tracker::MAX_MESSAGE` closes the socket (the
//! tracker's fault, said in the error), the connect and each answer have a timeout, the
//! commands wait in a bounded queue and a torrent has few answers awaited at once. Through a
//! SOCKS proxy a WebSocket tracker is refused: the connection would go around the proxy.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::{self, protocol::WebSocketConfig, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::protocol::wt_tracker::{self, Announced, Event, Id, Request, Response, MAX_MESSAGE};

mod rtc;
pub(crate) use rtc::{Delivered, WebRtcPeers};

/// Why a torrent's WebSocket trackers are not announced to (`Egress::ws_off`).
pub(crate) const WEBTORRENT_OFF: &str = "WebTorrent is off (--no-webtorrent)";
pub(crate) const PRIVATE_NO_BROWSERS: &str = "a private torrent takes no browser peers";

use super::{
    clamp_intervals, clean_text, io_reason, AnnounceEvent, AnnounceRequest, AnnounceResponse,
    Egress, TrackerError, MAX_INTERVAL,
};

/// The TCP connect, the TLS handshake and the WebSocket upgrade together.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long an announce waits for its answer once sent (as an HTTP announce's timeout).
pub(crate) const REPLY_TIMEOUT: Duration = Duration::from_secs(15);
/// First wait before reconnecting a dropped socket; doubles per failed try.
const RECONNECT_FIRST: Duration = Duration::from_secs(5);
const RECONNECT_MAX: Duration = Duration::from_secs(5 * 60);
/// A torrent that has not announced for twice its interval and `FORGET_SLACK`, and at least
/// `FORGET_MIN`, is forgotten: not announced again after a reconnect, and no reason to keep
/// the socket open. The tracker task announces on its interval while it runs, and a dormant
/// seed is woken on its first tracker's schedule or every 30 minutes at the latest
/// (engine/session/dormancy.rs), so only a torrent that went away without `stopped`
/// (removed while dormant) is.
const FORGET_SLACK: Duration = Duration::from_secs(60);
const FORGET_MIN: Duration = Duration::from_secs(60 * 60);
/// Announces queued for one socket's task.
const QUEUE: usize = 64;
/// Answers one torrent awaits at once (the tracker task has one announce out per hash, and a
/// `stopped` beside it at most).
const MAX_WAITING: usize = 4;
/// How long the closing handshake may take when the last torrent left.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;
type Reply = oneshot::Sender<Result<AnnounceResponse, TrackerError>>;
/// Which socket: the tracker's URL, our peer id (the tracker ties a socket to one), and
/// where it leaves from.
type Key = (String, Id, Option<IpAddr>);

struct Cmd {
    req: AnnounceRequest,
    reply: Reply,
    /// WebRTC for this torrent: None for a private one or with WebTorrent off.
    webrtc: Option<WebRtcPeers>,
}

/// The open sockets' tasks. An entry whose task has ended (its runtime did) is replaced.
fn sockets() -> &'static Mutex<HashMap<Key, mpsc::Sender<Cmd>>> {
    static SOCKETS: std::sync::OnceLock<Mutex<HashMap<Key, mpsc::Sender<Cmd>>>> =
        std::sync::OnceLock::new();
    SOCKETS.get_or_init(Default::default)
}

/// One announce to the WebSocket tracker at `url`, over its shared socket (opened now if
/// none is open).
pub(crate) async fn announce(
    url: &reqwest::Url,
    req: &AnnounceRequest,
    egress: &Egress,
) -> Result<AnnounceResponse, TrackerError> {
    if egress.proxy.is_some() {
        return Err(TrackerError::WebSocketAroundProxy);
    }
    let key: Key = (url.as_str().to_string(), req.peer_id, egress.local);
    // Connecting, sending and the answer are each bounded inside; this bounds the queue too.
    let limit = CONNECT_TIMEOUT + REPLY_TIMEOUT * 2;
    let one = async {
        // Twice at most: a socket's task may end between our lookup and its reading the
        // command (its runtime ended, or its last torrent just left), and then a new one
        // takes the announce.
        for _ in 0..2 {
            let tx = socket_for(&key, url);
            let (reply, answer) = oneshot::channel();
            let cmd = Cmd {
                req: req.clone(),
                reply,
                webrtc: egress.webrtc.clone(),
            };
            if tx.send(cmd).await.is_err() {
                forget(&key, &tx);
                continue;
            }
            match answer.await {
                Ok(result) => return result,
                Err(_) => forget(&key, &tx),
            }
        }
        Err(TrackerError::Connect("the tracker's socket closed".into()))
    };
    match tokio::time::timeout(limit, one).await {
        Ok(r) => r,
        Err(_) => Err(TrackerError::Timeout(format!(
            "no answer in {} s",
            limit.as_secs()
        ))),
    }
}

/// The task of `key`'s socket, started when there is none.
fn socket_for(key: &Key, url: &reqwest::Url) -> mpsc::Sender<Cmd> {
    let mut map = sockets().lock().unwrap_or_else(|e| e.into_inner());
    if let Some(tx) = map.get(key).filter(|tx| !tx.is_closed()) {
        return tx.clone();
    }
    let (tx, rx) = mpsc::channel(QUEUE);
    let conn = Conn::new(key.clone(), url.clone(), tx.clone());
    tokio::spawn(conn.run(rx));
    map.insert(key.clone(), tx.clone());
    tx
}

/// Drops `key`'s entry when it is still `tx`'s (a newer task may have taken its place).
fn forget(key: &Key, tx: &mpsc::Sender<Cmd>) {
    let mut map = sockets().lock().unwrap_or_else(|e| e.into_inner());
    if map.get(key).is_some_and(|t| t.same_channel(tx)) {
        map.remove(key);
    }
}

/// A torrent announced on the socket and not stopped.
struct Joined {
    /// Its last announce, sent again (without its event) after a reconnect.
    last: AnnounceRequest,
    at: Instant,
    /// The tracker's interval for it (`MAX_INTERVAL` until it answers).
    interval: Duration,
    /// It takes WebRTC peers: offers relayed for it are answered.
    webrtc: bool,
}

impl Joined {
    fn forgotten(&self, now: Instant) -> bool {
        let silence = (self.interval * 2 + FORGET_SLACK).max(FORGET_MIN);
        now.saturating_duration_since(self.at) > silence
    }
}

struct Waiter {
    reply: Reply,
    deadline: Instant,
}

/// One socket's task: the socket (when open), its torrents and the answers they await.
struct Conn {
    key: Key,
    url: reqwest::Url,
    /// The URL as logs show it.
    label: String,
    /// Our own sender, to take our entry out of `sockets` when we end.
    me: mpsc::Sender<Cmd>,
    joined: HashMap<Id, Joined>,
    waiting: HashMap<Id, VecDeque<Waiter>>,
    /// Offers and answers the tracker relayed to us.
    relayed: u64,
    /// The session's WebRTC, from the last announce that had it.
    rtc: Option<WebRtcPeers>,
    offers: rtc::Offers,
    /// Messages from the tracker that did not parse.
    bad: u64,
    backoff: Duration,
    /// When to reconnect a dropped socket (torrents remain).
    retry_at: Option<Instant>,
}

impl Conn {
    fn new(key: Key, url: reqwest::Url, me: mpsc::Sender<Cmd>) -> Conn {
        Conn {
            label: clean_text(url.as_str().as_bytes()),
            key,
            url,
            me,
            joined: HashMap::new(),
            waiting: HashMap::new(),
            relayed: 0,
            rtc: None,
            offers: rtc::Offers::default(),
            bad: 0,
            backoff: RECONNECT_FIRST,
            retry_at: None,
        }
    }

    async fn run(mut self, mut rx: mpsc::Receiver<Cmd>) {
        let mut ws: Option<Ws> = None;
        // The announce we were started for is on its way: idle before it is not the end.
        let mut served = false;
        loop {
            // A tracker that leaves an announce unanswered is taken as gone (a connection
            // dead without a word, half-open): the socket is opened again rather than
            // waited on forever.
            if self.expire(Instant::now()) && ws.is_some() {
                let why = format!("no answer in {} s", REPLY_TIMEOUT.as_secs());
                self.dropped(&mut ws, TrackerError::Timeout(why));
            }
            if served && self.joined.is_empty() && self.waiting.is_empty() {
                // Nobody left: announces that raced in are dropped unanswered, and their
                // senders start a new task (`announce`).
                forget(&self.key, &self.me);
                rx.close();
                if let Some(mut w) = ws.take() {
                    let _ = tokio::time::timeout(CLOSE_TIMEOUT, w.close(None)).await;
                }
                tracing::debug!(tracker = %self.label, "websocket tracker: closed, no torrent left");
                return;
            }
            let wake = self.next_wake(ws.is_some());
            tokio::select! {
                cmd = rx.recv() => match cmd {
                    Some(cmd) => {
                        served = true;
                        self.on_announce(cmd, &mut ws).await;
                    }
                    None => return,
                },
                msg = next_message(&mut ws) => match msg {
                    Some(Ok(m)) => self.on_message(m, &mut ws).await,
                    Some(Err(e)) => self.dropped(&mut ws, read_error(e)),
                    None => self.dropped(&mut ws, TrackerError::Connect(
                        "the tracker closed the connection".into(),
                    )),
                },
                _ = tokio::time::sleep_until(wake) => {
                    // An announce given up before it reached us leaves no task idle for long.
                    served = true;
                    let due = self.retry_at.is_some_and(|at| at <= Instant::now());
                    if ws.is_none() && due {
                        self.reconnect(&mut ws).await;
                    }
                }
            }
        }
    }

    /// The next deadline: an awaited answer's, or the reconnect's.
    fn next_wake(&self, open: bool) -> Instant {
        let answers = self.waiting.values().flatten().map(|w| w.deadline).min();
        let retry = if open { None } else { self.retry_at };
        // Forgotten torrents are looked for at least this often.
        let check = Instant::now() + FORGET_SLACK;
        [answers, retry, Some(check)]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(check)
    }

    /// Answers not given in time fail; torrents silent too long are forgotten. True when an
    /// answer was late.
    fn expire(&mut self, now: Instant) -> bool {
        let mut late = false;
        for (hash, queue) in self.waiting.iter_mut() {
            while queue.front().is_some_and(|w| w.deadline <= now) {
                if let Some(w) = queue.pop_front() {
                    late = true;
                    tracing::debug!(tracker = %self.label, info_hash = %hex(hash), "websocket tracker: no answer in time");
                    let _ = w.reply.send(Err(TrackerError::Timeout(format!(
                        "no answer in {} s",
                        REPLY_TIMEOUT.as_secs()
                    ))));
                }
            }
        }
        self.waiting.retain(|_, q| !q.is_empty());
        self.joined.retain(|_, j| !j.forgotten(now));
        if self.joined.is_empty() {
            self.retry_at = None;
        }
        late
    }

    async fn on_announce(&mut self, cmd: Cmd, ws: &mut Option<Ws>) {
        let Cmd { req, reply, webrtc } = cmd;
        let hash = req.info_hash;
        let stopping = req.event == AnnounceEvent::Stopped;
        if webrtc.is_some() {
            self.rtc.clone_from(&webrtc);
        }
        if stopping {
            self.offers.withdraw(self.rtc.as_ref(), &hash).await;
        }
        if ws.is_none() && stopping {
            // The tracker dropped every swarm of the socket when it closed: nothing to say.
            self.joined.remove(&hash);
            let _ = reply.send(Ok(answer_to_stopped()));
            return;
        }
        if self.waiting.get(&hash).map_or(0, VecDeque::len) >= MAX_WAITING {
            let _ = reply.send(Err(TrackerError::Io {
                kind: None,
                reason: format!("{MAX_WAITING} announces of this torrent await an answer"),
            }));
            return;
        }
        if ws.is_none() {
            match connect(&self.url, self.key.2).await {
                Ok(w) => {
                    *ws = Some(w);
                    self.on_connected(ws, Some(hash)).await;
                }
                Err(e) => {
                    tracing::debug!(tracker = %self.label, info_hash = %hex(&hash), "websocket tracker: cannot connect: {e}");
                    let _ = reply.send(Err(e));
                    return;
                }
            }
        }
        // Offers go with `started` and plain announces, never `stopped` or `completed`.
        let offers = match &webrtc {
            Some(w) if req.event == AnnounceEvent::None || req.event == AnnounceEvent::Started => {
                let n = if req.progress.left == 0 {
                    rtc::OFFERS_SEEDING
                } else {
                    rtc::OFFERS_LEECHING.min(req.numwant as usize)
                };
                self.offers.make(w, hash, n).await
            }
            _ => Vec::new(),
        };
        if let Err(e) = send_text(ws, encode_with(&req, offers)).await {
            self.dropped(ws, e.clone());
            let _ = reply.send(Err(e));
            return;
        }
        let now = Instant::now();
        if stopping {
            self.joined.remove(&hash);
        } else {
            let last = AnnounceRequest {
                event: AnnounceEvent::None,
                ..req
            };
            let interval = self.joined.get(&hash).map_or(MAX_INTERVAL, |j| j.interval);
            let joined = Joined {
                last,
                at: now,
                interval,
                webrtc: webrtc.is_some(),
            };
            self.joined.insert(hash, joined);
        }
        self.waiting.entry(hash).or_default().push_back(Waiter {
            reply,
            deadline: now + REPLY_TIMEOUT,
        });
    }

    /// A socket just opened: the torrents it had before it dropped (all but `except`, which
    /// is announcing now) announce again.
    async fn on_connected(&mut self, ws: &mut Option<Ws>, except: Option<Id>) {
        self.backoff = RECONNECT_FIRST;
        self.retry_at = None;
        let again: Vec<AnnounceRequest> = self
            .joined
            .iter()
            .filter(|(h, _)| Some(**h) != except)
            .map(|(_, j)| j.last.clone())
            .collect();
        if !again.is_empty() {
            tracing::info!(tracker = %self.label, torrents = again.len(), "websocket tracker: reconnected, announcing again");
        }
        for req in again {
            if let Err(e) = send(ws, &req).await {
                self.dropped(ws, e);
                return;
            }
        }
    }

    /// After the back-off: open the socket again for the torrents it had.
    async fn reconnect(&mut self, ws: &mut Option<Ws>) {
        match connect(&self.url, self.key.2).await {
            Ok(w) => {
                *ws = Some(w);
                self.on_connected(ws, None).await;
            }
            Err(e) => {
                self.retry_at = Some(Instant::now() + self.backoff);
                tracing::info!(tracker = %self.label, "websocket tracker: cannot reconnect ({e}); next try in {} s", self.backoff.as_secs());
                self.backoff = (self.backoff * 2).min(RECONNECT_MAX);
            }
        }
    }

    /// The socket failed (`why`): every awaited answer fails with it, and the torrents still
    /// announced here are announced again after the back-off.
    fn dropped(&mut self, ws: &mut Option<Ws>, why: TrackerError) {
        *ws = None;
        for (hash, queue) in self.waiting.drain() {
            for w in queue {
                tracing::debug!(tracker = %self.label, info_hash = %hex(&hash), "websocket tracker: {why}");
                let _ = w.reply.send(Err(why.clone()));
            }
        }
        if !self.joined.is_empty() {
            self.retry_at = Some(Instant::now() + self.backoff);
            tracing::info!(tracker = %self.label, torrents = self.joined.len(), "websocket tracker: {why}; reconnecting in {} s", self.backoff.as_secs());
            self.backoff = (self.backoff * 2).min(RECONNECT_MAX);
        }
    }

    async fn on_message(&mut self, m: Message, ws: &mut Option<Ws>) {
        let bytes: &[u8] = match &m {
            Message::Text(t) => t.as_bytes(),
            // The reference server sends text only; a binary message is read the same way.
            Message::Binary(b) => b,
            // Pings are answered by tungstenite; a close ends the stream next.
            Message::Ping(_) | Message::Pong(_) | Message::Close(_) | Message::Frame(_) => return,
        };
        match wt_tracker::parse(bytes) {
            Ok(Response::Announce(a)) => {
                self.on_relayed(&a, ws).await;
                self.on_announced(a);
            }
            Ok(Response::Failure { info_hash, reason }) => {
                let reason = clean_text(reason.as_bytes());
                // Without a hash (the tracker could not read our message) the oldest
                // announce is the one it speaks of: it answers in order.
                let hash = info_hash.or_else(|| self.oldest_waiting());
                let waiter = hash.and_then(|h| self.take_waiter(&h));
                match waiter {
                    Some(w) => {
                        let _ = w.reply.send(Err(TrackerError::Failure(reason)));
                    }
                    None => {
                        tracing::info!(tracker = %self.label, info_hash = %hash.map(|h| hex(&h)).unwrap_or_default(), "websocket tracker says: {reason}");
                    }
                }
            }
            Ok(Response::Scrape(_)) => {}
            Err(e) => {
                self.bad += 1;
                tracing::debug!(tracker = %self.label, bad = self.bad, "websocket tracker: message dropped: {e}");
            }
        }
    }

    /// An answer to one of our offers, or a peer's offer, relayed by the tracker: a
    /// connection starts, and goes to the session.
    async fn on_relayed(&mut self, a: &Announced, ws: &mut Option<Ws>) {
        if a.offer.is_none() && a.answer.is_none() {
            return;
        }
        self.relayed += 1;
        let hash = a.info_hash;
        let takes = self.joined.get(&hash).is_some_and(|j| j.webrtc);
        let Some(peers) = self.rtc.clone().filter(|_| takes) else {
            self.offers.dropped += 1;
            tracing::debug!(tracker = %self.label, info_hash = %hex(&hash), dropped = self.offers.dropped, "websocket tracker: a WebRTC offer or answer for a torrent that takes none, dropped");
            return;
        };
        if let Some(r) = &a.answer {
            let Some(offer) = self.offers.take(&r.offer_id, &hash) else {
                tracing::debug!(tracker = %self.label, info_hash = %hex(&hash), "websocket tracker: an answer to no offer of ours (expired or unknown), dropped");
                return;
            };
            match rtc::connect(&peers, offer, &r.sdp).await {
                Ok(connecting) => (peers.deliver)(Delivered {
                    info_hash: hash,
                    peer_id: r.peer_id,
                    connecting,
                    we_offered: true,
                }),
                Err(e) => {
                    tracing::info!(tracker = %self.label, info_hash = %hex(&hash), peer_id = %hex(&r.peer_id), "WebRTC: the answer to our offer: {e}")
                }
            }
        }
        if let Some(r) = &a.offer {
            if r.peer_id == self.key.1 || !self.offers.may_answer(Instant::now()) {
                return;
            }
            let (sdp, connecting) = match rtc::answer(&peers, &r.sdp).await {
                Ok(x) => x,
                Err(e) => {
                    tracing::info!(tracker = %self.label, info_hash = %hex(&hash), peer_id = %hex(&r.peer_id), "WebRTC: a peer's offer not answered: {e}");
                    return;
                }
            };
            let answer = Request::Answer {
                info_hash: hash,
                peer_id: self.key.1,
                to_peer_id: r.peer_id,
                offer_id: r.offer_id,
                sdp,
            };
            if let Err(e) = send_text(ws, answer.encode()).await {
                self.dropped(ws, e);
                return;
            }
            (peers.deliver)(Delivered {
                info_hash: hash,
                peer_id: r.peer_id,
                connecting,
                we_offered: false,
            });
        }
    }

    fn on_announced(&mut self, a: Announced) {
        // An offer or answer alone says nothing of our announce: only counts or an
        // interval answer it.
        let answers = a.interval.is_some() || a.complete.is_some() || a.incomplete.is_some();
        if !answers {
            return;
        }
        let answer = response_of(&a);
        if let Some(j) = self.joined.get_mut(&a.info_hash) {
            j.interval = answer.interval;
        }
        match self.take_waiter(&a.info_hash) {
            Some(w) => {
                let _ = w.reply.send(Ok(answer));
            }
            // The answer to an announce made again after a reconnect.
            None => {
                tracing::debug!(tracker = %self.label, info_hash = %hex(&a.info_hash), "websocket tracker: answer with nobody waiting")
            }
        }
    }

    fn take_waiter(&mut self, hash: &Id) -> Option<Waiter> {
        let queue = self.waiting.get_mut(hash)?;
        let w = queue.pop_front();
        if queue.is_empty() {
            self.waiting.remove(hash);
        }
        w
    }

    fn oldest_waiting(&self) -> Option<Id> {
        self.waiting
            .iter()
            .filter_map(|(h, q)| Some((q.front()?.deadline, *h)))
            .min()
            .map(|(_, h)| h)
    }
}

/// The socket's next message; never, while it is closed.
async fn next_message(ws: &mut Option<Ws>) -> Option<Result<Message, tungstenite::Error>> {
    match ws {
        Some(w) => w.next().await,
        None => std::future::pending().await,
    }
}

/// Sends `req` without offers (announced again after a reconnect), bounded in time.
async fn send(ws: &mut Option<Ws>, req: &AnnounceRequest) -> Result<(), TrackerError> {
    send_text(ws, encode(req)).await
}

/// Sends one message, bounded in time.
async fn send_text(ws: &mut Option<Ws>, text: String) -> Result<(), TrackerError> {
    let Some(w) = ws.as_mut() else {
        return Err(TrackerError::Connect("not connected".into()));
    };
    match tokio::time::timeout(REPLY_TIMEOUT, w.send(Message::text(text))).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(read_error(e)),
        Err(_) => Err(TrackerError::Timeout("the tracker does not read".into())),
    }
}

/// The announce's message, without offers.
pub(crate) fn encode(req: &AnnounceRequest) -> String {
    encode_with(req, Vec::new())
}

/// The announce's message with `offers` (their ids and SDPs).
fn encode_with(req: &AnnounceRequest, offers: Vec<(Id, String)>) -> String {
    let event = match req.event {
        AnnounceEvent::None => None,
        AnnounceEvent::Started => Some(Event::Started),
        AnnounceEvent::Completed => Some(Event::Completed),
        AnnounceEvent::Stopped => Some(Event::Stopped),
    };
    Request::Announce {
        info_hash: req.info_hash,
        peer_id: req.peer_id,
        uploaded: req.progress.uploaded,
        downloaded: req.progress.downloaded,
        left: req.progress.left,
        event,
        offers,
    }
    .encode()
}

/// An announce answer as the tracker task reads every tracker's: no peers (they come
/// through offers), the counts, the interval, a warning.
fn response_of(a: &Announced) -> AnnounceResponse {
    let (interval, min_interval) = clamp_intervals(a.interval.map(i64::from), None);
    AnnounceResponse {
        interval,
        min_interval,
        peers: Vec::new(),
        seeders: a.complete,
        leechers: a.incomplete,
        warning: a.warning.as_deref().map(|w| clean_text(w.as_bytes())),
        external_ip: None,
        tracker_ip: None,
    }
}

/// What a `stopped` gets when the socket is already closed: nothing to report.
fn answer_to_stopped() -> AnnounceResponse {
    AnnounceResponse {
        interval: super::DEFAULT_INTERVAL,
        min_interval: None,
        peers: Vec::new(),
        seeders: None,
        leechers: None,
        warning: None,
        external_ip: None,
        tracker_ip: None,
    }
}

/// A socket error in a status line's words.
fn read_error(e: tungstenite::Error) -> TrackerError {
    use tungstenite::error::CapacityError;
    use tungstenite::Error as E;
    match e {
        E::Capacity(CapacityError::MessageTooLong { size, max_size }) => TrackerError::BadReply(
            format!("a {size}-byte message (at most {max_size}): connection closed"),
        ),
        E::Capacity(c) => TrackerError::BadReply(format!("{c}: connection closed")),
        E::ConnectionClosed
        | E::AlreadyClosed
        | E::Protocol(tungstenite::error::ProtocolError::ResetWithoutClosingHandshake) => {
            TrackerError::Connect("the tracker closed the connection".into())
        }
        E::Io(io) => TrackerError::io("websocket", &io),
        E::Protocol(p) => TrackerError::BadReply(format!("websocket: {p}")),
        other => TrackerError::BadReply(clean_text(other.to_string().as_bytes())),
    }
}

/// The socket's limits: no message or frame past `MAX_MESSAGE`.
fn config() -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE))
        .max_frame_size(Some(MAX_MESSAGE))
}

/// Opens a socket to `url` from `local`, bounded by `CONNECT_TIMEOUT`.
async fn connect(url: &reqwest::Url, local: Option<IpAddr>) -> Result<Ws, TrackerError> {
    if let Some(d) = crate::net::device::bound().filter(|d| !d.is_up()) {
        return Err(TrackerError::InterfaceDown(d.name().to_string()));
    }
    let limit = CONNECT_TIMEOUT;
    match tokio::time::timeout(limit, connect_now(url, local)).await {
        Ok(r) => r,
        Err(_) => Err(TrackerError::Timeout(format!(
            "no connection in {} s",
            limit.as_secs()
        ))),
    }
}

async fn connect_now(url: &reqwest::Url, local: Option<IpAddr>) -> Result<Ws, TrackerError> {
    let shown = || clean_text(url.as_str().as_bytes());
    let port = url
        .port_or_known_default()
        .ok_or_else(|| TrackerError::InvalidUrl(shown()))?;
    let host = url
        .host_str()
        .ok_or_else(|| TrackerError::InvalidUrl(shown()))?;
    // An IPv6 literal comes in brackets.
    let literal = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<SocketAddr> = match literal.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => tokio::net::lookup_host((host, port))
            .await
            .map_err(|_| TrackerError::Resolve(clean_text(host.as_bytes())))?
            .collect(),
    };
    let mut last = TrackerError::Resolve(shown());
    // A few of the name's addresses, in the resolver's order.
    for addr in addrs.into_iter().take(4) {
        let stream = match crate::net::tcp::tcp_connect(addr, local).await {
            Ok(s) => s,
            Err(e) => {
                last = TrackerError::Connect(io_reason(&e));
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        return tokio_tungstenite::client_async_tls_with_config(
            url.as_str(),
            stream,
            Some(config()),
            None,
        )
        .await
        .map(|(ws, _)| ws)
        .map_err(|e| match e {
            tungstenite::Error::Http(r) => TrackerError::HttpStatus(r.status().as_u16()),
            other => read_error(other),
        });
    }
    Err(last)
}

fn hex(id: &Id) -> String {
    crate::protocol::hex::encode(id)
}

#[cfg(test)]
mod tests;
