//! The session's budget of open payload files, shared by every torrent: least recently used
//! closed first, whichever torrent it belongs to.
//!
//! Descriptors are a process-wide resource (RLIMIT_NOFILE). A torrent can hold tens of
//! thousands of files and a session thousands of torrents; were each torrent to keep its own
//! files open, 2,000 one-file torrents would hold 2,000 descriptors and the sockets would
//! starve. So one `OpenFiles` per session, and every torrent's `Storage` takes its descriptors
//! from it through a `TorrentFiles` (its table in the budget).
//!
//! The split of the descriptor limit (see also disk/fds.rs and session/accept_budget.rs):
//! payload files get a quarter (`budget_for`, within 4..=2048), connections in their handshake
//! an eighth (within 4..=256); the rest is for established connections, listeners, the UDP
//! socket, trackers, the state directory and the terminal.
//!
//! The lock guards only the table, and a hit costs one short lock and no allocation: the
//! handle is an `Arc<File>` cloned out, so reads and writes run without the lock. A file in
//! use by a thread (an `Arc` held outside the table) is never chosen for eviction, and room
//! is made before a file is opened, so the descriptors open are the files in the table and
//! those being opened: at most `capacity`, unless more threads than that are in the middle
//! of an operation at once (then one per such thread).

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

/// Index of no node, in the links of the recency list and the torrents' tables.
const NONE: u32 = u32::MAX;

/// How many payload files a process with this descriptor limit keeps open: a quarter of it.
pub(crate) fn budget_for(nofile: u64) -> usize {
    usize::try_from(nofile / 4)
        .unwrap_or(usize::MAX)
        .clamp(4, 2048)
}

/// The budget of a process that has no session (a storage opened by `Storage::open`: tests,
/// the demo), sized from the descriptor limit when first used.
pub(crate) fn process_budget() -> &'static Arc<OpenFiles> {
    static BUDGET: OnceLock<Arc<OpenFiles>> = OnceLock::new();
    BUDGET.get_or_init(|| {
        Arc::new(OpenFiles::new(budget_for(
            crate::engine::disk::fds::nofile_limit(),
        )))
    })
}

/// Open payload files of every torrent of a session, at most `capacity` (but see the module
/// header on files in use).
#[derive(Debug)]
pub(crate) struct OpenFiles {
    capacity: usize,
    state: Mutex<State>,
}

/// Invariants: `tables[t][i]` is the node of file `i` of torrent `t` when that file is open,
/// else `NONE`, and that node's `(table, index)` is `(t, i)`; the nodes in use form one list
/// from `head` (most recently used) to `tail`, `open` long; the others are in `free_nodes`.
#[derive(Debug, Default)]
struct State {
    /// Per registered storage (None once dropped, its index in `free_tables`).
    tables: Vec<Option<Vec<u32>>>,
    free_tables: Vec<usize>,
    nodes: Vec<Node>,
    free_nodes: Vec<u32>,
    head: u32,
    tail: u32,
    open: usize,
    /// Threads between making room for a file and putting it in the table.
    opening: usize,
    opens: u64,
}

#[derive(Debug)]
struct Node {
    file: Option<Arc<File>>,
    table: u32,
    index: u32,
    prev: u32,
    next: u32,
}

/// One storage's share of the budget: its files' places in the table. Dropping it closes
/// them (a torrent removed, or gone dormant, frees its slots).
#[derive(Debug)]
pub(crate) struct TorrentFiles {
    budget: Arc<OpenFiles>,
    table: usize,
}

impl OpenFiles {
    /// A budget of at most `capacity` (at least 1) open files.
    pub(crate) fn new(capacity: usize) -> OpenFiles {
        let capacity = capacity.clamp(1, NONE as usize - 1);
        OpenFiles {
            capacity,
            state: Mutex::new(State {
                // Room for the whole budget up front: opening never grows the list.
                nodes: Vec::with_capacity(capacity.min(4096)),
                head: NONE,
                tail: NONE,
                ..State::default()
            }),
        }
    }

    /// The budget of a process with the current descriptor limit (one per session).
    pub(crate) fn for_this_process() -> OpenFiles {
        OpenFiles::new(budget_for(crate::engine::disk::fds::nofile_limit()))
    }

    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    /// Files open right now, every torrent's.
    pub(crate) fn open_count(&self) -> usize {
        self.state().open
    }

    /// Opens done so far, reopens included.
    #[cfg(test)]
    pub(crate) fn opens(&self) -> u64 {
        self.state().opens
    }

    /// A share for a storage of `files` files, none open.
    pub(crate) fn register(self: &Arc<Self>, files: usize) -> TorrentFiles {
        let mut state = self.state();
        let table = vec![NONE; files];
        let index = match state.free_tables.pop() {
            Some(i) => {
                if let Some(slot) = state.tables.get_mut(i) {
                    *slot = Some(table);
                }
                i
            }
            None => {
                state.tables.push(Some(table));
                state.tables.len() - 1
            }
        };
        TorrentFiles {
            budget: Arc::clone(self),
            table: index,
        }
    }

    /// The table stays consistent at every step, so a panic elsewhere while it was held leaves
    /// nothing to repair.
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Close the least recently used files not in use until at most `keep` are open.
    pub(crate) fn shrink_to(&self, keep: usize) {
        let mut evicted = Vec::new();
        {
            let mut state = self.state();
            while state.open > keep {
                match state.evict_one() {
                    Some(file) => evicted.push(file),
                    None => break,
                }
            }
        }
        // Closing happens here, outside the lock.
        drop(evicted);
    }
}

impl TorrentFiles {
    /// The handle of file `index` (at `path`), opened for reading and writing if it is not
    /// open, closing the least recently used file of the session when the budget is full.
    /// The file must exist: this never creates one (that is `Storage::open`'s job, with its
    /// path checks), so a file removed behind our back is an error, not a new empty file.
    pub(crate) fn get(&self, index: usize, path: &Path) -> io::Result<Arc<File>> {
        self.get_with(index, path, open)
    }

    /// `get`, opening with `opener` when the file is not open: `Storage` creates a file it
    /// left for its first use this way, so even that descriptor counts in the budget.
    pub(crate) fn get_with(
        &self,
        index: usize,
        path: &Path,
        opener: impl Fn(&Path) -> io::Result<File>,
    ) -> io::Result<Arc<File>> {
        let capacity = self.budget.capacity;
        let evicted = {
            let mut state = self.budget.state();
            if let Some(file) = state.hit(self.table, index)? {
                return Ok(file);
            }
            // Room is made before the open, so the new descriptor never comes on top of a
            // full budget, not even for a moment.
            state.opening += 1;
            if state.open + state.opening > capacity {
                state.evict_one()
            } else {
                None
            }
        };
        // The evicted handle's descriptor closes here, outside the lock.
        drop(evicted);
        // Opening is a syscall that may wait on the disk: not under the lock.
        let opened = match opener(path) {
            Err(e) if is_out_of_descriptors(&e) => {
                // Descriptors ran out elsewhere in the process (sockets): give back half of
                // ours and try once more.
                let keep = self.budget.open_count() / 2;
                self.budget.shrink_to(keep);
                opener(path)
            }
            other => other,
        };
        let mut state = self.budget.state();
        state.opening = state.opening.saturating_sub(1);
        let (file, unused) = state.insert(self.table, index, Arc::new(opened?), capacity)?;
        drop(state);
        drop(unused);
        Ok(file)
    }

    /// The handle of file `index` if it is open now. Never opens one (an open may wait on the
    /// device): for reads on an async thread (`Storage::read_block_cached`).
    pub(crate) fn get_open(&self, index: usize) -> io::Result<Option<Arc<File>>> {
        self.budget.state().hit(self.table, index)
    }

    #[cfg(test)]
    /// This storage's files open right now.
    pub(crate) fn open_count(&self) -> usize {
        let state = self.budget.state();
        state
            .tables
            .get(self.table)
            .and_then(Option::as_ref)
            .map_or(0, |t| t.iter().filter(|&&n| n != NONE).count())
    }

    pub(crate) fn budget(&self) -> &OpenFiles {
        &self.budget
    }

    /// Closes every file of this storage that is open (the next use opens it again): after
    /// its file system was gone and is back, the old descriptors point at nothing.
    pub(crate) fn close_all(&self) {
        let mut closed = Vec::new();
        {
            let mut state = self.budget.state();
            let nodes: Vec<u32> = state
                .tables
                .get_mut(self.table)
                .and_then(Option::as_mut)
                .map(|t| t.iter_mut().map(|n| std::mem::replace(n, NONE)).collect())
                .unwrap_or_default();
            for node in nodes.into_iter().filter(|&n| n != NONE) {
                closed.extend(state.release(node));
            }
        }
        drop(closed);
    }
}

impl Drop for TorrentFiles {
    fn drop(&mut self) {
        let mut closed = Vec::new();
        {
            let mut state = self.budget.state();
            let nodes = state
                .tables
                .get_mut(self.table)
                .and_then(Option::take)
                .unwrap_or_default();
            for node in nodes.into_iter().filter(|&n| n != NONE) {
                closed.extend(state.release(node));
            }
            state.free_tables.push(self.table);
        }
        drop(closed);
    }
}

impl State {
    /// File `index` of `table` if it is open, made the most recently used.
    fn hit(&mut self, table: usize, index: usize) -> io::Result<Option<Arc<File>>> {
        let node = self.node_of(table, index)?;
        if node == NONE {
            return Ok(None);
        }
        self.unlink(node);
        self.push_front(node);
        Ok(self
            .nodes
            .get(node as usize)
            .and_then(|n| n.file.as_ref())
            .map(Arc::clone))
    }

    /// Puts `file` in the table as file `index` of `table` (or returns the handle another
    /// thread put there meanwhile), evicting one if that goes over `capacity` (room was made
    /// before the open, unless every file was in use). Returns the handle to use and the one
    /// to close, for the caller to drop after the lock.
    fn insert(
        &mut self,
        table: usize,
        index: usize,
        file: Arc<File>,
        capacity: usize,
    ) -> io::Result<(Arc<File>, Option<Arc<File>>)> {
        self.opens += 1;
        // Another thread opened it meanwhile: use theirs, ours closes on return.
        if let Some(theirs) = self.hit(table, index)? {
            return Ok((theirs, Some(file)));
        }
        let new = Node {
            file: Some(Arc::clone(&file)),
            table: table as u32,
            index: index as u32,
            prev: NONE,
            next: NONE,
        };
        let node = match self.free_nodes.pop() {
            Some(n) => {
                if let Some(slot) = self.nodes.get_mut(n as usize) {
                    *slot = new;
                }
                n
            }
            None => {
                self.nodes.push(new);
                (self.nodes.len() - 1) as u32
            }
        };
        if let Some(slot) = self.slot(table, index) {
            *slot = node;
        }
        self.push_front(node);
        self.open += 1;
        let evicted = if self.open + self.opening > capacity {
            self.evict_one()
        } else {
            None
        };
        Ok((file, evicted))
    }

    fn node_of(&self, table: usize, index: usize) -> io::Result<u32> {
        self.tables
            .get(table)
            .and_then(Option::as_ref)
            .and_then(|t| t.get(index))
            .copied()
            .ok_or_else(|| io::Error::other(format!("no file {index} in the storage")))
    }

    fn slot(&mut self, table: usize, index: usize) -> Option<&mut u32> {
        self.tables
            .get_mut(table)
            .and_then(Option::as_mut)
            .and_then(|t| t.get_mut(index))
    }

    /// The least recently used file no thread holds, taken out of the table; None when every
    /// open file is in use.
    fn evict_one(&mut self) -> Option<Arc<File>> {
        let mut node = self.tail;
        while node != NONE {
            let n = self.nodes.get(node as usize)?;
            // Handles are cloned out only under the lock, so a count of one (ours) cannot
            // grow behind our back: nobody holds this file.
            let idle = n.file.as_ref().is_some_and(|f| Arc::strong_count(f) == 1);
            let (table, index, prev) = (n.table as usize, n.index as usize, n.prev);
            if idle {
                if let Some(slot) = self.slot(table, index) {
                    *slot = NONE;
                }
                return self.release(node);
            }
            node = prev;
        }
        None
    }

    /// Takes `node` out of the list (its table slot is the caller's) and returns its handle.
    fn release(&mut self, node: u32) -> Option<Arc<File>> {
        self.unlink(node);
        self.free_nodes.push(node);
        self.open = self.open.saturating_sub(1);
        self.nodes.get_mut(node as usize)?.file.take()
    }

    fn unlink(&mut self, node: u32) {
        let Some(n) = self.nodes.get(node as usize) else {
            return;
        };
        let (prev, next) = (n.prev, n.next);
        match self.nodes.get_mut(prev as usize) {
            Some(p) => p.next = next,
            None => self.head = next,
        }
        match self.nodes.get_mut(next as usize) {
            Some(n) => n.prev = prev,
            None => self.tail = prev,
        }
        if let Some(n) = self.nodes.get_mut(node as usize) {
            n.prev = NONE;
            n.next = NONE;
        }
    }

    fn push_front(&mut self, node: u32) {
        let old = self.head;
        if let Some(n) = self.nodes.get_mut(node as usize) {
            n.prev = NONE;
            n.next = old;
        }
        match self.nodes.get_mut(old as usize) {
            Some(o) => o.prev = node,
            None => self.tail = node,
        }
        self.head = node;
    }
}

fn open(path: &Path) -> io::Result<File> {
    OpenOptions::new().read(true).write(true).open(path)
}

fn is_out_of_descriptors(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
}

#[cfg(test)]
mod tests;
