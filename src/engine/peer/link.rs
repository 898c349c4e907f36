//! What a connection sees of its torrent, and all it may ask of it.
//!
//! A peer task never names the torrent's picker or state: it holds an `Arc<dyn TorrentLink>`,
//! which the torrent implements (`torrent::shared`). Through it the connection reads the
//! facts every connection of the torrent shares (`TorrentFacts`: the metainfo, our id, the
//! session's policies, the counters) and makes the few calls that touch the torrent's block
//! book-keeping, each one lock of the torrent's download state. It tells the torrent what
//! happened as `PeerEvent`s; the torrent tells it what to do as `PeerCmd`s, and reads its
//! counters from `PeerLive` without waiting on it.
//!
//! Why a trait object rather than a generic over the torrent: one peer task type for every
//! torrent (and a small test double is easy), and every call sits next to a lock anyway.

use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::broadcast;

use crate::engine::api::{ChokeFlags, PeerEnd, PeerStage};
use crate::engine::disk::backlog::WriteBacklog;
use crate::engine::disk::{DiskError, Storage};
use crate::engine::peer::pex::PexEvent;
use crate::engine::peer::rate::TorrentRates;
use crate::protocol::bitfield::Bitfield;
use crate::protocol::geometry::BlockRef;
use crate::protocol::merkle::proof::HashRequest;
use crate::protocol::metainfo::Info;

/// What every connection of one torrent reads: set when the torrent starts (the listen port,
/// pause flag and counters change under atomics).
pub(crate) struct TorrentFacts {
    pub info: Arc<Info>,
    pub info_hash: [u8; 20],
    /// A hybrid's v2 hash cut to 20 bytes: the name peers of its v2 swarm are dialed under.
    pub hybrid_v2: Option<[u8; 20]>,
    /// The raw `info` dictionary, for peers that fetch metadata from us (BEP 9).
    pub info_bytes: Bytes,
    /// The files' hash trees of a v2 or hybrid torrent (BEP 52): peers' hash requests are
    /// answered from them, and our handshakes carry the v2 bit while there are any.
    pub piece_layers: Option<Arc<crate::protocol::merkle::layers::PieceLayers>>,
    pub our_id: [u8; 20],
    /// Source address for outgoing connections (`--bind`), when one was given.
    pub bind: Option<std::net::IpAddr>,
    /// MSE/PE for the connections we dial.
    pub encryption: crate::net::EncryptionPolicy,
    /// Which transports we dial: uTP first when `utp` is set and allowed, TCP as the fallback.
    pub transport: crate::engine::api::TransportPolicy,
    /// The session's uTP endpoint (None with `--transport tcp` or without a UDP socket).
    pub utp: Option<crate::net::utp::UtpSocket>,
    /// Peer exchange for this torrent: the session allows it and the torrent is not private.
    pub pex: bool,
    /// The port peers are told to dial: the session's, shared by every torrent, changed by
    /// the port mapper when the router maps us to another external port.
    pub listen_port: std::sync::Arc<AtomicU16>,
    /// The session's DHT node, unless the DHT is off or the torrent is private (BEP 27):
    /// nothing about a private torrent ever reaches the node.
    pub dht: Option<crate::dht::Dht>,
    pub storage: Arc<Storage>,
    /// Each verified piece, once, to every connection (each sends `have` where needed).
    pub verified: broadcast::Sender<u32>,
    /// Each verified piece found gone from disk, once, to every connection (each sends BEP
    /// 54's `lt_donthave` where it had announced the piece).
    pub lost: broadcast::Sender<u32>,
    pub paused: AtomicBool,
    /// BEP 16 super-seeding is on and the torrent complete: a connection that starts now
    /// hides our pieces and offers only what the coordinator picks (`torrent/superseed.rs`).
    pub super_seeding: AtomicBool,
    pub downloaded: AtomicU64,
    pub uploaded: AtomicU64,
    pub wasted: AtomicU64,
    /// This torrent's rate limiters (its buckets under the session's).
    pub rates: TorrentRates,
    /// The session's blocklist (`ip_filter.rs`).
    pub ip_filter: Arc<crate::engine::peer::ip_filter::IpFilter>,
    /// The session's SOCKS5 proxy (`--proxy`): every TCP dial goes through it.
    pub proxy: Option<Arc<crate::engine::peer::proxy::Proxy>>,
    /// The session's WebRTC for WebSocket trackers' offers; None for a private torrent.
    pub webrtc: Option<crate::tracker::websocket::WebRtcPeers>,
    /// Why its WebSocket trackers are not announced to (private, WebTorrent off).
    pub ws_off: Option<&'static str>,
}

/// What a connection may ask of its torrent. Each call is short (one lock of the torrent's
/// download state at most) and never waits on the network or the disk.
pub(crate) trait TorrentLink: std::ops::Deref<Target = TorrentFacts> + Send + Sync {
    /// The pieces we have verified.
    fn have(&self) -> Bitfield;
    fn has_piece(&self, index: u32) -> bool;
    fn is_complete(&self) -> bool;
    /// The peer's pieces are `new` from now on, where they were `old`: availability follows.
    /// Returns whether it has a piece we want.
    fn peer_pieces(&self, old: &Bitfield, new: &Bitfield) -> bool;
    /// The peer announced one more piece (`have`); returns whether we want it.
    fn peer_got(&self, index: u32) -> bool;
    /// Whether a peer with these pieces has one we want.
    fn wants_any(&self, has: &Bitfield) -> bool;
    /// Requests this peer will not answer (rejected, cancelled, given up on) go back.
    fn release(&self, blocks: Vec<BlockRef>);
    /// The connection ended: its requests go back and its pieces stop counting.
    fn peer_gone(&self, asked: Vec<BlockRef>, had: &Bitfield);
    /// Picks blocks to request into `out` (cleared by the caller).
    fn pick(&self, ask: Ask<'_>, out: &mut Vec<BlockRef>) -> Picked;
    /// A requested block arrived from connection `conn`: recorded, and its piece written and
    /// checked when due.
    fn receive(&self, r: BlockRef, data: Bytes, conn: u64) -> Delivered;
    /// The session's writers are behind: a connection stops reading blocks until they catch up.
    fn writers_behind(&self) -> bool;
    /// What tells a held-back connection that the writers caught up.
    fn writers_backlog(&self) -> Arc<WriteBacklog>;
    fn send(&self, e: PeerEvent);
}

/// A connection's request for blocks.
pub(crate) struct Ask<'a> {
    /// The connection asking.
    pub conn: u64,
    /// The peer's pieces.
    pub has: &'a Bitfield,
    /// How many blocks to pick; `endgame_room` instead when the torrent is in endgame (the
    /// connection's own rule: copies go to a peer close to running dry).
    pub room: usize,
    pub endgame_room: usize,
    /// Blocks already asked of this peer (endgame never duplicates onto the same peer).
    pub asked: &'a dyn Fn(BlockRef) -> bool,
    /// Nothing is asked of this peer now.
    pub none_asked: bool,
}

/// What a pick found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Picked {
    /// The writers are behind: nothing was picked, and the connection reads nothing more.
    pub held_back: bool,
    /// Nothing picked, nothing asked, and the peer has nothing we want: not interested.
    pub nothing_wanted: bool,
}

/// What a received block came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Delivered {
    /// We already had it (wasted).
    pub duplicate: bool,
    /// The torrent was in endgame: the others asked for it get a cancel.
    pub endgame: bool,
    /// The writers are behind now.
    pub held_back: bool,
}

/// What the torrent tells a peer task.
#[derive(Debug)]
pub(crate) enum PeerCmd {
    /// Another peer delivered this block (endgame): cancel our request for it.
    Cancel {
        index: u32,
        begin: u32,
    },
    /// A stream jumped to these pieces: if the peer has one, cancel our other queued requests
    /// and ask for them first.
    Preempt(std::sync::Arc<[u32]>),
    Choke,
    Unchoke,
    Pause,
    Resume,
    Disconnect(PeerEnd),
    /// A `ut_pex` payload to send, when the peer takes it.
    SendPex(Bytes),
    /// A BEP 55 `ut_holepunch` message to send, when the peer takes it.
    SendHolepunch(crate::protocol::holepunch::HoleMsg),
    /// BEP 16: announce this piece (a `have`) to a peer we hide our pieces from; it may ask
    /// for the pieces offered so far and no others.
    Offer(u32),
    /// BEP 16 ended for this peer: announce every piece we have, serve any.
    Unhide,
    /// Send a BEP 52 `hash request` (block hashes of a piece that failed its check); the
    /// answer comes back as `PeerEvent::Hashes` or `PeerEvent::HashReject`.
    AskHashes(HashRequest),
}

/// What a peer task (or a web seed) tells its torrent.
#[derive(Debug)]
pub(crate) enum PeerEvent {
    Stage {
        conn: u64,
        stage: PeerStage,
    },
    Handshaken {
        conn: u64,
        peer_id: [u8; 20],
        elapsed: std::time::Duration,
        encryption: crate::net::Encryption,
        transport: Option<crate::net::TransportKind>,
        /// Set when the first way of starting the connection was refused (see PeerRow).
        encryption_note: Option<String>,
        /// The peer's handshake set the v2 bit (BEP 52): it takes hash requests.
        v2: bool,
    },
    Client {
        conn: u64,
        name: String,
    },
    /// The peer's `yourip` (extended handshake): where it sees us.
    YourIp {
        conn: u64,
        ip: std::net::IpAddr,
    },
    /// The peer became interested or not (the choker may want to act at once).
    Interest {
        conn: u64,
    },
    Ended {
        conn: u64,
        end: PeerEnd,
    },
    /// An endgame block arrived: the others who were asked for it should get a cancel.
    BlockDone {
        index: u32,
        begin: u32,
        conn: u64,
    },
    /// Reading a block to upload failed. Typed, so the torrent can tell a failing disk (it
    /// stops) from one bad request (the connection already ended; the storage is fine).
    DiskError(DiskError),
    /// Peer exchange: the peer's extensions, or a list it sent.
    Pex {
        conn: u64,
        event: PexEvent,
    },
    /// A BEP 55 `ut_holepunch` message from the peer, well-formed.
    Holepunch {
        conn: u64,
        msg: crate::protocol::holepunch::HoleMsg,
    },
    /// BEP 16, from a connection hiding our pieces: what the peer has, for the coordinator's
    /// choice of offers.
    SuperSeed {
        conn: u64,
        seen: SuperSeen,
    },
    /// A BEP 52 `hashes` message: the head it answers and the hashes after it, unchecked
    /// (the torrent knows what it asked and what the hashes must prove).
    Hashes {
        conn: u64,
        head: HashRequest,
        hashes: Bytes,
    },
    /// A BEP 52 `hash reject`.
    HashReject {
        conn: u64,
        head: HashRequest,
    },
    /// Reading verified piece `index` to upload it found its data gone (a file cut short or
    /// deleted under us): the piece is lost, not the torrent.
    PieceGone {
        index: u32,
        error: DiskError,
    },
}

/// What a super-seeded connection (`PeerEvent::SuperSeed`) reports.
#[derive(Debug)]
pub(crate) enum SuperSeen {
    /// It hid our pieces (sent `have_none` or nothing): the coordinator offers it pieces.
    Hidden,
    /// The peer's pieces, from its bitfield, `have_all` or `have_none`.
    Pieces(Bitfield),
    /// The peer announced a piece.
    Have(u32),
}

/// Counters and flags a peer task updates and the torrent reads for snapshots and the
/// choker; plain atomics so neither side waits on the other.
#[derive(Debug, Default)]
pub(crate) struct PeerLive {
    pub downloaded: AtomicU64,
    pub uploaded: AtomicU64,
    pub in_flight: AtomicU32,
    pub pieces: AtomicU32,
    /// The peer said it only uploads (BEP 21), by its handshake or its `upload_only` message.
    pub upload_only: AtomicBool,
    flags: AtomicU8,
    /// The connection's uTP figures, when it runs over uTP (set before the stream is split).
    pub utp: std::sync::OnceLock<crate::net::utp::UtpStatsHandle>,
    /// A TCP connection's smoothed round trip and the lowest it has been on this
    /// connection, in microseconds (0 before the first sample): the explainer's full-uplink
    /// evidence (`torrent/uplink.rs`). The peer task sets both each tick.
    rtt_us: AtomicU32,
    rtt_floor_us: AtomicU32,
}

const AM_CHOKING: u8 = 1;
const AM_INTERESTED: u8 = 2;
const PEER_CHOKING: u8 = 4;
const PEER_INTERESTED: u8 = 8;

impl PeerLive {
    pub(crate) fn new() -> Self {
        let live = PeerLive::default();
        live.set_flags(ChokeFlags::default());
        live
    }

    /// A new round-trip sample: the floor only ever goes down.
    pub(crate) fn set_round_trip(&self, now: Duration, floor: Duration) {
        let us = |d: Duration| u32::try_from(d.as_micros()).unwrap_or(u32::MAX).max(1);
        self.rtt_us.store(us(now), Ordering::Relaxed);
        self.rtt_floor_us
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |old| {
                Some(if old == 0 {
                    us(floor)
                } else {
                    old.min(us(floor))
                })
            })
            .ok();
    }

    /// The smoothed round trip and its floor, once sampled.
    pub(crate) fn round_trip(&self) -> Option<(Duration, Duration)> {
        let (now, floor) = (
            self.rtt_us.load(Ordering::Relaxed),
            self.rtt_floor_us.load(Ordering::Relaxed),
        );
        let us = |v: u32| Duration::from_micros(u64::from(v));
        (now > 0).then(|| (us(now), us(floor.min(now))))
    }

    pub(crate) fn set_flags(&self, f: ChokeFlags) {
        let mut v = 0;
        if f.am_choking {
            v |= AM_CHOKING;
        }
        if f.am_interested {
            v |= AM_INTERESTED;
        }
        if f.peer_choking {
            v |= PEER_CHOKING;
        }
        if f.peer_interested {
            v |= PEER_INTERESTED;
        }
        self.flags.store(v, Ordering::Relaxed);
    }

    pub(crate) fn flags(&self) -> ChokeFlags {
        let v = self.flags.load(Ordering::Relaxed);
        ChokeFlags {
            am_choking: v & AM_CHOKING != 0,
            am_interested: v & AM_INTERESTED != 0,
            peer_choking: v & PEER_CHOKING != 0,
            peer_interested: v & PEER_INTERESTED != 0,
        }
    }
}
