//! The torrent's state that its coordinator, its peer tasks and its writers share. Its side of
//! the peer link (what a connection may ask of it) is `link.rs`.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use tokio::sync::mpsc;

use crate::engine::disk::pool::DiskPool;
use crate::engine::peer::link::{PeerEvent, TorrentFacts};
use crate::engine::peer::stream::PeerStream;
use crate::engine::torrent::download::Download;

/// What the coordinator hears: from its peer tasks and web seeds, its writers, and the session.
#[derive(Debug)]
pub(crate) enum Event {
    Peer(PeerEvent),
    /// A piece was hashed; when `ok` it is written, marked verified in the picker and
    /// announced to the connections.
    PieceDone {
        index: u32,
        ok: bool,
        contributors: Vec<u64>,
        /// Whom to charge: all contributors, nobody yet, or the proven senders of bad blocks.
        blame: crate::engine::torrent::verify::blame::Blame,
    },
    /// Writing a piece failed. Typed, so the coordinator can tell a full or failing disk (the
    /// torrent stops) from one bad request.
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
        /// Our handshake went already: a WebRTC connection, where both sides send theirs
        /// as the data channel opens (as WebTorrent does), whoever offered.
        answered: bool,
    },
    /// A peer on the LAN announced this torrent by Local Service Discovery (BEP 14).
    LsdPeer(SocketAddr),
    /// A WebRTC connection that a WebSocket tracker started for this torrent: its row in
    /// the peer table while it comes up, and its failure's line in the log.
    WebRtcSetup(std::sync::Arc<crate::engine::torrent::rtc_setup::RtcSetup>),
    /// A stream's window moved (a seek) or closed: our requests for these blocks, asked for
    /// the old window and needed by no stream now, are cancelled so the new window's go
    /// first (`stream.rs`).
    StreamDropped(Vec<crate::protocol::geometry::BlockRef>),
    /// A reader jumped (a seek, or a stream opened): the pieces now under it. Peers that have
    /// them cancel what else they have queued, so these are not asked behind a second of
    /// other requests (`peer/pipeline.rs`, `preempt`).
    StreamSeek(std::sync::Arc<[u32]>),
}

impl From<PeerEvent> for Event {
    fn from(e: PeerEvent) -> Event {
        Event::Peer(e)
    }
}

pub(crate) struct Shared {
    /// What every connection reads (`Shared` derefs to it).
    pub facts: TorrentFacts,
    /// Block states and the bytes of pieces being received; see `download::Download`.
    pub download: Mutex<Download>,
    /// The session's hashing and writing threads.
    pub pool: Arc<DiskPool>,
    pub events: mpsc::UnboundedSender<Event>,
    /// This state's own `Arc`, so a block received through the link can start its piece's
    /// writer (which outlives the call) without the connection naming the writer.
    pub(super) me: Weak<Shared>,
}

impl std::ops::Deref for Shared {
    type Target = TorrentFacts;
    fn deref(&self) -> &TorrentFacts {
        &self.facts
    }
}

impl Shared {
    pub(crate) fn new(
        facts: TorrentFacts,
        download: Download,
        pool: Arc<DiskPool>,
        events: mpsc::UnboundedSender<Event>,
    ) -> Arc<Shared> {
        Arc::new_cyclic(|me| Shared {
            facts,
            download: Mutex::new(download),
            pool,
            events,
            me: me.clone(),
        })
    }

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
