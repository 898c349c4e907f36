//! The session's table of torrents: each `Slot` by its id and by its info hash. Looking a
//! torrent up is a hash lookup, not a walk over the list: a request naming each of 10,000
//! torrents (an RPC client's poll) would otherwise walk the list 10,000 times.
//!
//! Invariants, kept by the only methods that change the list (`push`, `insert`, `remove`):
//! - one slot per info hash: `by_hash` names exactly the slots' hashes, each with its id;
//! - `by_id` gives each slot's index in `list`;
//! - an id is never reused while the process runs (`new_id` only counts up).
//!
//! A slot's `id` never changes while it is listed, nor does its `info_hash` but through
//! `rename` (a hybrid's `btmh`-only magnet learns its SHA-1 name with its metadata): the table
//! reads but never otherwise writes them, and no other code does either.

use std::collections::HashMap;
use std::ops::{Deref, Index, IndexMut};

use super::Slot;
use crate::engine::api::TorrentId;

pub(super) struct Slots {
    list: Vec<Slot>,
    by_id: HashMap<TorrentId, usize>,
    by_hash: HashMap<[u8; 20], TorrentId>,
    next_id: u32,
    /// One past the highest queue position listed, or more: where a new torrent goes, known
    /// without a walk over the list (an add to a library of 100,000 would otherwise walk it).
    /// More only after a removal, until the next renumbering: a gap, and the order holds.
    queue_end: u32,
    /// Counts the changes to which slots are listed (`push`, `insert`, `remove`): what is
    /// computed from the whole list (the catalog's tags) is computed again only after one.
    generation: u64,
}

impl Slots {
    pub(super) fn new() -> Slots {
        Slots {
            list: Vec::new(),
            by_id: HashMap::new(),
            by_hash: HashMap::new(),
            next_id: 1,
            queue_end: 0,
            generation: 0,
        }
    }

    /// An id no slot had before.
    pub(super) fn new_id(&mut self) -> TorrentId {
        let id = TorrentId(self.next_id);
        self.next_id += 1;
        id
    }

    /// The index of the slot with this id.
    pub(super) fn index(&self, id: TorrentId) -> Option<usize> {
        self.by_id.get(&id).copied()
    }

    /// The indices of the slots these ids name, in the list's order, each once (ids not
    /// listed are left out): a request naming a few torrents costs a lookup each, not a walk
    /// over the library.
    pub(super) fn indices(&self, ids: &[TorrentId]) -> Vec<usize> {
        let mut at: Vec<usize> = ids.iter().filter_map(|id| self.index(*id)).collect();
        at.sort_unstable();
        at.dedup();
        at
    }

    pub(super) fn find(&self, id: TorrentId) -> Option<&Slot> {
        self.index(id).map(|i| &self.list[i])
    }

    pub(super) fn find_mut(&mut self, id: TorrentId) -> Option<&mut Slot> {
        self.index(id).map(|i| &mut self.list[i])
    }

    /// The id of the torrent with this info hash.
    pub(super) fn id_of(&self, info_hash: &[u8; 20]) -> Option<TorrentId> {
        self.by_hash.get(info_hash).copied()
    }

    /// Lists a new slot last. Its info hash must not be listed yet (callers look first: a
    /// second add of a torrent is answered with the first one's id).
    pub(super) fn push(&mut self, slot: Slot) {
        debug_assert!(!self.by_hash.contains_key(&slot.info_hash));
        self.by_hash.insert(slot.info_hash, slot.id);
        self.by_id.insert(slot.id, self.list.len());
        self.queue_end = self.queue_end.max(slot.queue_position.saturating_add(1));
        self.list.push(slot);
        self.generation += 1;
    }

    /// Puts a slot at index `i` (a restarted torrent's successor where it was).
    pub(super) fn insert(&mut self, i: usize, slot: Slot) {
        debug_assert!(!self.by_hash.contains_key(&slot.info_hash));
        self.by_hash.insert(slot.info_hash, slot.id);
        self.queue_end = self.queue_end.max(slot.queue_position.saturating_add(1));
        self.list.insert(i, slot);
        self.reindex_from(i);
        self.generation += 1;
    }

    /// Changes so far to which slots are listed.
    pub(super) fn generation(&self) -> u64 {
        self.generation
    }

    /// The queue position a new torrent takes: after every other.
    pub(super) fn queue_end(&self) -> u32 {
        self.queue_end
    }

    /// The positions were set anew (renumbered, or one moved): where the queue ends now.
    pub(super) fn positions_changed(&mut self) {
        self.queue_end = self
            .list
            .iter()
            .map(|s| s.queue_position.saturating_add(1))
            .max()
            .unwrap_or(0);
    }

    /// Takes the slot at index `i` out of the table.
    pub(super) fn remove(&mut self, i: usize) -> Slot {
        let slot = self.list.remove(i);
        self.by_hash.remove(&slot.info_hash);
        self.by_id.remove(&slot.id);
        self.reindex_from(i);
        self.generation += 1;
        slot
    }

    /// Names the slot at `i` by `info_hash` from now on. False, and nothing changed, when
    /// another slot has that name already.
    pub(super) fn rename(&mut self, i: usize, info_hash: [u8; 20]) -> bool {
        if self.by_hash.contains_key(&info_hash) {
            return false;
        }
        let slot = &mut self.list[i];
        self.by_hash.remove(&slot.info_hash);
        self.by_hash.insert(info_hash, slot.id);
        slot.info_hash = info_hash;
        true
    }

    pub(super) fn iter_mut(&mut self) -> std::slice::IterMut<'_, Slot> {
        self.list.iter_mut()
    }

    pub(super) fn last_mut(&mut self) -> Option<&mut Slot> {
        self.list.last_mut()
    }

    fn reindex_from(&mut self, i: usize) {
        for (j, s) in self.list.iter().enumerate().skip(i) {
            self.by_id.insert(s.id, j);
        }
    }
}

/// Read access to the list as a slice; changing it goes through the methods above.
impl Deref for Slots {
    type Target = [Slot];
    fn deref(&self) -> &[Slot] {
        &self.list
    }
}

impl Index<usize> for Slots {
    type Output = Slot;
    fn index(&self, i: usize) -> &Slot {
        &self.list[i]
    }
}

impl IndexMut<usize> for Slots {
    fn index_mut(&mut self, i: usize) -> &mut Slot {
        &mut self.list[i]
    }
}

impl<'a> IntoIterator for &'a Slots {
    type Item = &'a Slot;
    type IntoIter = std::slice::Iter<'a, Slot>;
    fn into_iter(self) -> Self::IntoIter {
        self.list.iter()
    }
}
