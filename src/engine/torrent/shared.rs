//! State shared between the coordinator and the peer tasks.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use tokio::sync::{broadcast, mpsc};

use crate::engine::api::{ChokeFlags, PeerEnd};
use crate::engine::disk::pool::DiskPool;
use crate::engine::disk::Storage;
use crate::engine::peer::stream::PeerStream;
use crate::engine::torrent::download::Download;
use crate::protocol::metainfo::Info;

/// What the coordinator tells a peer task.
#[derive(Debug)]
pub(crate) enum PeerCmd {
    /// Another peer delivered this block (endgame): cancel our request for it.
    Cancel {
        index: u32,
        begin: u32,
    },
    Choke,
    Unchoke,
    Pause,
    Resume,
    Disconnect(PeerEnd),
    /// A `ut_pex` payload to send, when the peer takes it.
    SendPex(Bytes),
}

/// What peer tasks and blocking jobs tell the coordinator.
#[derive(Debug)]
pub(crate) enum Event {
    Stage {
        conn: u64,
        stage: crate::engine::api::PeerStage,
    },
    Handshaken {
        conn: u64,
        peer_id: [u8; 20],
        elapsed: std::time::Duration,
        encryption: crate::net::Encryption,
        transport: Option<crate::net::TransportKind>,
        /// Set when the first way of starting the connection was refused (see PeerRow).
        encryption_note: Option<String>,
    },
    Client {
        conn: u64,
        name: String,
    },
    /// The peer became interested or not (the choker may want to act at once).
    Interest {
        conn: u64,
    },
    Ended {
        conn: u64,
        end: PeerEnd,
    },
    /// A piece was hashed; when `ok` it is written, marked verified in the picker and
    /// announced to the connections.
    PieceDone {
        index: u32,
        ok: bool,
        contributors: Vec<u64>,
    },
    /// An endgame block arrived: the others who were asked for it should get a cancel.
    BlockDone {
        index: u32,
        begin: u32,
        conn: u64,
    },
    /// Typed, so the coordinator can tell a full or failing disk (the torrent stops) from
    /// one bad request (the connection already ended; the storage is fine).
    DiskError(crate::engine::disk::DiskError),
    /// A connection the session routed to this torrent by the info hash of its handshake.
    /// Boxed: every torrent's channel preallocates a block of 32 events, and the stream would
    /// make each slot 240 bytes instead of under 100 (7.5 KiB per idle torrent).
    Incoming {
        stream: Box<PeerStream>,
        addr: SocketAddr,
        handshake: crate::protocol::handshake::Handshake,
        /// When it was accepted (the handshake time shown is counted from here).
        since: std::time::Instant,
    },
    /// Peer exchange: the peer's extensions, or a list it sent.
    Pex {
        conn: u64,
        event: crate::engine::peer::pex::PexEvent,
    },
}

/// Counters and flags a peer task updates and the coordinator reads for snapshots and the
/// choker; plain atomics so neither side waits on the other.
#[derive(Debug, Default)]
pub(crate) struct PeerLive {
    pub downloaded: AtomicU64,
    pub uploaded: AtomicU64,
    pub in_flight: AtomicU32,
    pub pieces: AtomicU32,
    flags: AtomicU8,
    /// The connection's uTP figures, when it runs over uTP (set before the stream is split).
    pub utp: std::sync::OnceLock<crate::net::utp::UtpStatsHandle>,
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

pub(crate) struct Shared {
    pub info: Arc<Info>,
    pub info_hash: [u8; 20],
    /// The raw `info` dictionary, for peers that fetch metadata from us (BEP 9).
    pub info_bytes: Bytes,
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
    pub listen_port: AtomicU16,
    /// The session's DHT node, unless the DHT is off or the torrent is private (BEP 27):
    /// nothing about a private torrent ever reaches the node.
    pub dht: Option<crate::dht::Dht>,
    /// Block states and the bytes of pieces being received; see `download::Download`.
    pub download: Mutex<Download>,
    pub storage: Arc<Storage>,
    /// The session's hashing and writing threads.
    pub pool: Arc<DiskPool>,
    /// Each verified piece, once, to every connection (each sends `have` where needed).
    pub verified: broadcast::Sender<u32>,
    pub paused: AtomicBool,
    pub downloaded: AtomicU64,
    pub uploaded: AtomicU64,
    pub wasted: AtomicU64,
    /// This torrent's rate limiters (its buckets under the session's).
    pub rates: crate::engine::peer::rate::TorrentRates,
    pub events: mpsc::UnboundedSender<Event>,
}

impl Shared {
    /// A poisoned lock means a task panicked mid-update; the picker's data is still the best we
    /// have, and the panic itself is reported where the task is caught.
    pub(crate) fn download(&self) -> MutexGuard<'_, Download> {
        self.download.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn send(&self, e: Event) {
        // The coordinator outlives every peer task; a send after it stopped has no one to tell.
        let _ = self.events.send(e);
    }
}
