//! The torrent's state that its coordinator, its peer tasks and its writers share, and the
//! torrent's side of the peer link (`peer::link::TorrentLink`): what a connection may ask of
//! the torrent's block book-keeping, each call one lock of `download`.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::engine::disk::backlog::WriteBacklog;
use crate::engine::disk::pool::DiskPool;
use crate::engine::peer::link::{Ask, Delivered, PeerEvent, Picked, TorrentFacts, TorrentLink};
use crate::engine::peer::stream::PeerStream;
use crate::engine::torrent::download::{Download, Received};
use crate::engine::torrent::verify;
use crate::protocol::bitfield::Bitfield;
use crate::protocol::geometry::BlockRef;

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
    },
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
    me: Weak<Shared>,
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

impl TorrentLink for Shared {
    fn have(&self) -> Bitfield {
        self.download().picker.have().clone()
    }

    fn has_piece(&self, index: u32) -> bool {
        self.download().picker.have().get(index)
    }

    fn is_complete(&self) -> bool {
        self.download().picker.is_complete()
    }

    fn peer_pieces(&self, old: &Bitfield, new: &Bitfield) -> bool {
        let mut d = self.download();
        d.picker.remove_bitfield(old);
        d.picker.add_bitfield(new);
        d.picker.wants_any(new)
    }

    fn peer_got(&self, index: u32) -> bool {
        let mut d = self.download();
        d.picker.add_availability(index);
        d.picker.wants(index)
    }

    fn wants_any(&self, has: &Bitfield) -> bool {
        self.download().picker.wants_any(has)
    }

    fn release(&self, blocks: Vec<BlockRef>) {
        self.download().picker.release(blocks);
    }

    fn peer_gone(&self, asked: Vec<BlockRef>, had: &Bitfield) {
        let mut d = self.download();
        d.picker.release(asked);
        d.picker.remove_bitfield(had);
    }

    fn pick(&self, ask: Ask<'_>, out: &mut Vec<BlockRef>) -> Picked {
        let mut d = self.download();
        let held_back = d.writers_behind();
        let room = if d.picker.in_endgame() {
            ask.endgame_room
        } else {
            ask.room
        };
        if !held_back && room > 0 {
            d.picker.pick(ask.has, room, ask.asked, out);
        }
        let nothing_wanted = out.is_empty() && ask.none_asked && !d.picker.wants_any(ask.has);
        Picked {
            held_back,
            nothing_wanted,
        }
    }

    fn receive(&self, r: BlockRef, data: Bytes, conn: u64) -> Delivered {
        let mut d = self.download();
        let endgame = d.picker.in_endgame();
        let outcome = d.receive(r, data, conn);
        // Only a block adds to the writers' backlog, so this is where reading stops.
        let held_back = d.writers_behind();
        drop(d);
        let duplicate = match outcome {
            Received::Duplicate => true,
            Received::Stored { wake } => {
                if let (Some(piece), Some(me)) = (wake, self.me.upgrade()) {
                    verify::start(&me, piece);
                }
                false
            }
        };
        Delivered {
            duplicate,
            endgame,
            held_back,
        }
    }

    fn writers_behind(&self) -> bool {
        self.download().writers_behind()
    }

    fn writers_backlog(&self) -> Arc<WriteBacklog> {
        self.download().caught_up()
    }

    fn send(&self, e: PeerEvent) {
        Shared::send(self, Event::Peer(e));
    }
}
