//! WebRTC data channels as a peer transport: how ttui reaches WebTorrent peers (browsers),
//! whose only way out of a web page is an `RTCPeerConnection` (issue 82).
//!
//! Built on `str0m`, a sans-I/O WebRTC stack (ICE, DTLS, SCTP, data channels) kept by the
//! people who run it in production SFUs: it owns no socket, thread or clock, so the driver
//! here feeds it datagrams and time exactly as the session feeds the DHT and uTP. ICE, DTLS
//! and SCTP are protocols where a hand-written stack is a security hole waiting; we write
//! none of them.
//!
//! Crypto: str0m's `rust-crypto` backend (DTLS 1.2 by `dimpl`, the str0m authors' own DTLS,
//! over the RustCrypto crates). It builds on any machine with a C compiler and no system
//! library (the `openssl` backend would bring a second TLS stack, the system's OpenSSL,
//! beside the rustls every tracker and web seed already uses). Its certificate maker
//! (`rcgen`) still compiles `aws-lc-sys` in this version: a crypto library in the build,
//! not a second TLS stack in the process's sockets.
//!
//! The shape, one driver per UDP socket:
//! ```text
//!  WebRtc (a handle; cloned freely) ──api commands──► driver task ◄── one UDP socket
//!                                                      │ owns one str0m::Rtc per connection
//!  WebRtcStream (AsyncRead + AsyncWrite) ◄─ bytes ─────┤ (at most `max_connections`), the
//!                                         ─ writes ───►│ stage deadlines, the buffers
//! ```
//! Signalling as WebTorrent does it (simple-peer with `trickle: false`): each SDP carries
//! its candidates, and the side that offers creates the one data channel (ordered,
//! reliable, a label of 40 hex characters). Either side may offer:
//! - we offer: [`WebRtc::offer`] gives an offer SDP; its answer goes to
//!   [`WebRtc::connect`];
//! - we answer: [`WebRtc::answer`] takes a remote offer and gives the answer SDP.
//!
//! Both give a [`Connecting`]: its stage ([`Stage`]: ICE, DTLS, data channel) for the peer
//! table, and the connected [`WebRtcStream`] or an error naming the stage that failed.
//!
//! Bounds: connections (`max_connections`), each stage's deadline, the bytes a stream may
//! have queued for sending (`send_buffer`, plus str0m's SCTP buffer) and the bytes received
//! but not yet read (`receive_buffer`; a peer that sends more than its reader takes is
//! cut off as a flood, since a data channel has no receive window of its own to close).
//!
//! A STUN client (`stun.rs`) learns the server-reflexive candidate when a server is set.
//! Not yet: sends
//! from a chosen source address on a socket bound to a wildcard address (the kernel's route
//! picks it; receives do know their address, through IP_PKTINFO), and the tracker's use.

mod driver;
mod sdp;
mod stream;
mod stun;
#[cfg(test)]
mod tests;

use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};

pub use sdp::answer_offer_sdp;
pub use stream::WebRtcStream;

/// The largest message we send on a data channel. Every browser takes 16 KiB (Chromium
/// announces `max-message-size:262144`, Firefox 1 GiB, old Safari and Firefox broke on
/// more than 16 KiB), and a BitTorrent block is 16 KiB: a block and its header go in two
/// messages, which the peer's stream parser joins (WebTorrent's wire is a byte stream).
pub const MAX_MESSAGE: usize = 16 * 1024;

/// The longest SDP we parse: the same bound as the tracker's (`wt_tracker::MAX_SDP`), so
/// an SDP that came in a tracker's message always fits; str0m's parser never sees more.
pub const MAX_SDP: usize = crate::protocol::wt_tracker::MAX_SDP;

/// The stage a connection is in, in order. What follows `Open` (the BitTorrent handshake)
/// is the caller's. The peer table shows it (`PeerRow::webrtc_stage`), so it goes over the
/// control socket too.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum Stage {
    /// We offered and wait for the answer to come back through the tracker.
    Signalling,
    /// Connectivity checks between the candidates.
    Ice,
    /// The DTLS handshake over the pair ICE chose.
    Dtls,
    /// SCTP's association and the data channel's opening (DCEP).
    DataChannel,
    /// The data channel is open: bytes flow.
    Open,
}

impl Stage {
    pub fn word(self) -> &'static str {
        match self {
            Stage::Signalling => "signalling",
            Stage::Ice => "ICE",
            Stage::Dtls => "DTLS",
            Stage::DataChannel => "data channel",
            Stage::Open => "open",
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.word())
    }
}

/// Why a WebRTC connection did not come up, or went down.
#[derive(Debug, thiserror::Error)]
pub enum WebRtcError {
    #[error("bad SDP: {0}")]
    BadSdp(String),
    #[error("{stage} timed out after {after:?}")]
    Timeout { stage: Stage, after: Duration },
    #[error("{stage} failed: {reason}")]
    Failed { stage: Stage, reason: String },
    #[error("the peer closed the connection during {0}")]
    Closed(Stage),
    #[error("the peer sent more than {0} bytes that were not read yet (a flood)")]
    Flood(usize),
    #[error("at most {0} WebRTC connections at once")]
    TooMany(usize),
    #[error("no offer waits for this answer (answered already, expired or unknown)")]
    UnknownOffer,
    #[error("the WebRTC driver has stopped")]
    DriverGone,
    #[error("the WebRTC socket: {0}")]
    Io(#[from] io::Error),
}

impl WebRtcError {
    /// The stage that failed, when one did.
    pub fn stage(&self) -> Option<Stage> {
        match self {
            WebRtcError::Timeout { stage, .. }
            | WebRtcError::Failed { stage, .. }
            | WebRtcError::Closed(stage) => Some(*stage),
            WebRtcError::BadSdp(_) => Some(Stage::Signalling),
            WebRtcError::Flood(_) => Some(Stage::Open),
            _ => None,
        }
    }
}

/// The driver's settings. `Default` is what a session would use; tests shorten the times.
#[derive(Debug, Clone)]
pub struct WebRtcConfig {
    /// The UDP socket's address: the address ttui binds (port 0 picks one).
    pub bind: SocketAddr,
    /// Host candidates' addresses. Empty: the bound address when it is not a wildcard,
    /// else the addresses of the machine's interfaces of its family (loopback and
    /// link-local ones only when there is nothing else).
    pub host_addrs: Vec<IpAddr>,
    /// A server-reflexive candidate (our address as a STUN server saw it), when known.
    pub reflexive: Option<SocketAddr>,
    /// The STUN server asked for it (`stun.rs`), when set: what it answers replaces
    /// `reflexive`.
    pub stun: Option<SocketAddr>,
    /// Connections at once, connecting or open (offers waiting for answers count).
    pub max_connections: usize,
    /// How long an offer of ours waits for its answer. bittorrent-tracker's client drops
    /// its offers after 50 s; a little more, so ours are never the first to go.
    pub answer_timeout: Duration,
    pub ice_timeout: Duration,
    pub dtls_timeout: Duration,
    pub channel_timeout: Duration,
    /// Bytes received and not yet read by the stream's reader, at most.
    pub receive_buffer: usize,
    /// Bytes written to the stream and not yet taken by SCTP, at most (a writer waits).
    pub send_buffer: usize,
    /// Bytes SCTP holds unacknowledged per connection, at most (str0m's own bound).
    pub sctp_buffer: usize,
}

impl Default for WebRtcConfig {
    fn default() -> Self {
        WebRtcConfig {
            bind: SocketAddr::from(([0, 0, 0, 0], 0)),
            host_addrs: Vec::new(),
            reflexive: None,
            stun: None,
            max_connections: 64,
            answer_timeout: Duration::from_secs(60),
            ice_timeout: Duration::from_secs(15),
            dtls_timeout: Duration::from_secs(10),
            channel_timeout: Duration::from_secs(10),
            // A BitTorrent peer sends what we asked for (our pipeline's depth in blocks);
            // 4 MiB is far above any pipeline we keep, and bounds a peer that floods.
            receive_buffer: 4 << 20,
            send_buffer: 256 << 10,
            sctp_buffer: 512 << 10,
        }
    }
}

/// A handle on the driver: cheap to clone; the driver ends when the last handle and the
/// last connection are gone.
#[derive(Clone)]
pub struct WebRtc {
    commands: mpsc::Sender<driver::Command>,
    local: SocketAddr,
    reflexive: watch::Receiver<StunStatus>,
}

/// What the STUN client knows: the server it asks, the address the server sees us at, and
/// whether the server has gone unanswered through a whole round of resends.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StunStatus {
    pub server: Option<SocketAddr>,
    pub mapped: Option<SocketAddr>,
    /// No answer to the last request and its resends: browser peers behind NATs may not
    /// reach us. Cleared by the next answer.
    pub silent: bool,
    /// A server is set (or its name is being resolved) that has neither answered nor gone
    /// silent yet: an offer made now would lack the server-reflexive candidate.
    pub pending: bool,
}

/// An offer of ours, waiting for its answer.
#[derive(Debug)]
pub struct Offer {
    /// The offer's SDP, with our candidates (no trickle).
    pub sdp: String,
    /// Which offer an answer is for ([`WebRtc::connect`]).
    pub id: OfferId,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OfferId(pub(super) u64);

/// A connection on its way up.
#[derive(Debug)]
pub struct Connecting {
    /// The stage now; the peer table shows it.
    pub stage: watch::Receiver<Stage>,
    /// Where the peer's SDP says it is (its server-reflexive candidate, else its first host
    /// one), for the peer table while ICE has not chosen a pair yet. None for a peer that
    /// names no address (only mDNS names, as browsers do without a STUN server).
    pub named: Option<SocketAddr>,
    done: oneshot::Receiver<Result<WebRtcStream, WebRtcError>>,
}

impl Connecting {
    /// The open data channel as a byte stream, or the stage that failed. Bounded by the
    /// driver's deadlines.
    pub async fn established(self) -> Result<WebRtcStream, WebRtcError> {
        self.done.await.map_err(|_| WebRtcError::DriverGone)?
    }
}

impl WebRtc {
    /// Binds the UDP socket and starts the driver on the current runtime.
    pub async fn bind(config: WebRtcConfig) -> Result<WebRtc, WebRtcError> {
        driver::start(config).await
    }

    /// The UDP socket's address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Our address as the STUN server sees it (or as the config gave it), when known.
    pub fn reflexive(&self) -> Option<SocketAddr> {
        self.reflexive.borrow().mapped
    }

    /// The STUN client's state (the explainer's evidence).
    pub fn stun_status(&self) -> StunStatus {
        *self.reflexive.borrow()
    }

    /// Waits, at most `limit`, until the STUN server has answered or gone silent (at once
    /// when none is set or it already has): offers made after it carry the server-reflexive
    /// candidate a peer behind another NAT needs.
    pub async fn stun_settled(&self, limit: Duration) {
        let mut rx = self.reflexive.clone();
        let _ = tokio::time::timeout(limit, rx.wait_for(|s| !s.pending)).await;
    }

    /// A new offer with one data channel; its answer goes to [`WebRtc::connect`].
    pub async fn offer(&self) -> Result<Offer, WebRtcError> {
        let (reply, rx) = oneshot::channel();
        self.send(driver::Command::Offer { reply }).await?;
        rx.await.map_err(|_| WebRtcError::DriverGone)?
    }

    /// Applies the answer to one of our offers and starts connecting.
    pub async fn connect(
        &self,
        offer: OfferId,
        answer_sdp: &str,
    ) -> Result<Connecting, WebRtcError> {
        let (reply, rx) = oneshot::channel();
        self.send(driver::Command::Connect {
            offer,
            sdp: answer_sdp.to_string(),
            reply,
        })
        .await?;
        rx.await.map_err(|_| WebRtcError::DriverGone)?
    }

    /// Answers a remote offer: the answer SDP to send back, and the connection, which
    /// starts at once (the remote side starts its checks when the answer reaches it).
    pub async fn answer(&self, offer_sdp: &str) -> Result<(String, Connecting), WebRtcError> {
        let (reply, rx) = oneshot::channel();
        self.send(driver::Command::Answer {
            sdp: offer_sdp.to_string(),
            reply,
        })
        .await?;
        rx.await.map_err(|_| WebRtcError::DriverGone)?
    }

    /// A STUN server will be set (its name is being resolved): offers wait for it
    /// (`stun_settled`, bounded) until it answers; `false` when it will not come after all.
    pub async fn expect_stun(&self, coming: bool) {
        let (done, rx) = oneshot::channel();
        if self
            .send(driver::Command::ExpectStun { coming, done })
            .await
            .is_ok()
        {
            let _ = rx.await;
        }
    }

    /// Asks `server` (STUN) for our public address from now on (`reflexive`).
    pub async fn set_stun(&self, server: SocketAddr) {
        let _ = self.send(driver::Command::Stun { server }).await;
    }

    /// Drops an offer nobody answered (the tracker's peer went away).
    pub async fn withdraw(&self, offer: OfferId) {
        let _ = self.send(driver::Command::Withdraw { offer }).await;
    }

    async fn send(&self, c: driver::Command) -> Result<(), WebRtcError> {
        self.commands
            .send(c)
            .await
            .map_err(|_| WebRtcError::DriverGone)
    }
}
