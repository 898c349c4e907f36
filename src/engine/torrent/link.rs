//! The torrent's side of the peer link (`peer::link::TorrentLink`): what a connection may ask
//! of the torrent's block book-keeping, each call one lock of `Shared::download`. Apart from
//! `shared.rs` because a received block can start its piece's writer (`verify.rs`), which
//! itself works on `Shared`.

use std::sync::Arc;

use bytes::Bytes;

use crate::engine::disk::backlog::WriteBacklog;
use crate::engine::peer::link::{Ask, Delivered, PeerEvent, Picked, TorrentLink};
use crate::engine::torrent::download::Received;
use crate::engine::torrent::shared::{Event, Shared};
use crate::engine::torrent::verify;
use crate::protocol::bitfield::Bitfield;
use crate::protocol::geometry::BlockRef;

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
            // Blocks of a failed piece go to another peer than their last sender for a while
            // (`Download::retry_elsewhere`): skipped here as if already asked.
            let elsewhere = d.retry_elsewhere(ask.conn, std::time::Instant::now());
            if elsewhere.is_empty() {
                d.picker.pick(ask.has, room, ask.asked, out);
            } else {
                let skip = |r: BlockRef| (ask.asked)(r) || elsewhere.contains(&(r.index, r.begin));
                d.picker.pick(ask.has, room, &skip, out);
            }
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
