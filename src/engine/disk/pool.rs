//! A bounded set of open files, least recently used closed first.
//!
//! A torrent can hold tens of thousands of files, far more than a process may keep open (1,024
//! is a common soft limit, and sockets need descriptors too). The pool keeps at most
//! `capacity` of them open and reopens the others on demand.
//!
//! The lock guards only the table: the handle is an `Arc<File>` cloned out of it, so reads and
//! writes run without the lock, and a file closed by eviction stays usable by whoever holds it
//! until they finish (its descriptor closes with the last clone). Open files are therefore at
//! most `capacity` plus one per thread in the middle of an operation.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

pub(super) struct FilePool {
    capacity: usize,
    state: Mutex<State>,
}

struct State {
    /// Per torrent file: its handle and last use, while open.
    slots: Vec<Option<Slot>>,
    /// Indices of the open slots, so eviction scans `capacity` entries, not every file.
    open: Vec<usize>,
    clock: u64,
    opens: u64,
}

struct Slot {
    file: Arc<File>,
    last_use: u64,
}

impl FilePool {
    /// A pool for `files` files keeping at most `capacity` (at least 1) open.
    pub(super) fn new(files: usize, capacity: usize) -> FilePool {
        let mut slots = Vec::new();
        slots.resize_with(files, || None);
        FilePool {
            capacity: capacity.max(1),
            state: Mutex::new(State {
                slots,
                open: Vec::new(),
                clock: 0,
                opens: 0,
            }),
        }
    }

    pub(super) fn capacity(&self) -> usize {
        self.capacity
    }

    /// The table stays consistent at every step, so a panic elsewhere while it was held leaves
    /// nothing to repair.
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The handle of file `index` (at `path`), opened for reading and writing if it is not open.
    /// The file must exist: the pool never creates one (that is `Storage::open`'s job, with its
    /// path checks), so a file removed behind our back is an error, not a new empty file.
    pub(super) fn get(&self, index: usize, path: &Path) -> io::Result<Arc<File>> {
        {
            let mut state = self.state();
            state.clock += 1;
            let now = state.clock;
            match state.slots.get_mut(index) {
                Some(Some(slot)) => {
                    slot.last_use = now;
                    return Ok(Arc::clone(&slot.file));
                }
                Some(None) => {}
                None => return Err(io::Error::other(format!("no file {index} in the pool"))),
            }
        }
        // Opening is a syscall that may wait on the disk: not under the lock.
        let file = match open(path) {
            Err(e) if is_out_of_descriptors(&e) => {
                // Descriptors ran out elsewhere in the process (sockets): give back half of
                // ours and try once more.
                let keep = self.state().open.len() / 2;
                self.shrink_to(keep);
                open(path)?
            }
            other => other?,
        };
        let file = Arc::new(file);
        let evicted = {
            let mut state = self.state();
            state.clock += 1;
            state.opens += 1;
            let now = state.clock;
            let State { slots, open, .. } = &mut *state;
            match slots.get_mut(index) {
                // Another thread opened it meanwhile: use theirs, ours closes on return.
                Some(Some(slot)) => {
                    slot.last_use = now;
                    return Ok(Arc::clone(&slot.file));
                }
                Some(empty) => {
                    *empty = Some(Slot {
                        file: Arc::clone(&file),
                        last_use: now,
                    });
                    open.push(index);
                }
                None => return Err(io::Error::other(format!("no file {index} in the pool"))),
            }
            evict_over(&mut state, self.capacity)
        };
        // Closing (the last clone of an evicted handle) happens here, outside the lock.
        drop(evicted);
        Ok(file)
    }

    /// Close the least recently used files until at most `keep` are open.
    pub(super) fn shrink_to(&self, keep: usize) {
        let evicted = evict_over(&mut self.state(), keep);
        drop(evicted);
    }

    #[cfg(test)]
    /// Files open right now.
    pub(super) fn open_count(&self) -> usize {
        self.state().open.len()
    }

    /// Opens done so far, reopens included.
    #[cfg(test)]
    pub(super) fn opens(&self) -> u64 {
        self.state().opens
    }
}

/// Take the least recently used handles out of the table until at most `keep` remain; the
/// caller drops them after releasing the lock.
fn evict_over(state: &mut State, keep: usize) -> Vec<Arc<File>> {
    let mut evicted = Vec::new();
    while state.open.len() > keep {
        let oldest = state
            .open
            .iter()
            .enumerate()
            .min_by_key(|&(_, &i)| {
                state
                    .slots
                    .get(i)
                    .and_then(Option::as_ref)
                    .map_or(0, |s| s.last_use)
            })
            .map(|(pos, _)| pos);
        let Some(pos) = oldest else { break };
        let index = state.open.swap_remove(pos);
        if let Some(slot) = state.slots.get_mut(index).and_then(Option::take) {
            evicted.push(slot.file);
        }
    }
    evicted
}

fn open(path: &Path) -> io::Result<File> {
    OpenOptions::new().read(true).write(true).open(path)
}

fn is_out_of_descriptors(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
}

/// How many files one torrent keeps open: a quarter of the descriptor limit (sockets, the
/// tracker and the terminal need the rest), within 16..=512.
pub(super) fn default_capacity() -> usize {
    let soft = crate::engine::fds::nofile_limit();
    usize::try_from(soft / 4)
        .unwrap_or(usize::MAX)
        .clamp(16, 512)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::FileExt;
    use std::path::PathBuf;

    fn files(dir: &Path, n: usize) -> Vec<PathBuf> {
        (0..n)
            .map(|i| {
                let p = dir.join(format!("f{i}"));
                std::fs::write(&p, [i as u8; 4]).unwrap();
                p
            })
            .collect()
    }

    fn first_byte(file: &File) -> u8 {
        let mut b = [0u8; 1];
        file.read_exact_at(&mut b, 0).unwrap();
        b[0]
    }

    #[test]
    fn keeps_at_most_capacity_open_and_evicts_the_least_recent() {
        let dir = tempfile::tempdir().unwrap();
        let paths = files(dir.path(), 5);
        let pool = FilePool::new(5, 3);
        for (i, path) in paths.iter().enumerate().take(3) {
            assert_eq!(first_byte(&pool.get(i, path).unwrap()), i as u8);
        }
        assert_eq!(pool.open_count(), 3);
        // Touch 0 so 1 becomes the oldest; opening 3 closes 1.
        pool.get(0, &paths[0]).unwrap();
        pool.get(3, &paths[3]).unwrap();
        assert_eq!(pool.open_count(), 3);
        assert_eq!(pool.opens(), 4);
        let open: Vec<bool> = {
            let state = pool.state();
            state.slots.iter().map(Option::is_some).collect()
        };
        assert_eq!(open, [true, false, true, true, false]);
        // 0, 2 and 3 are served without reopening; 1 is reopened and still reads right.
        for i in [0, 2, 3] {
            pool.get(i, &paths[i]).unwrap();
        }
        assert_eq!(pool.opens(), 4);
        assert_eq!(first_byte(&pool.get(1, &paths[1]).unwrap()), 1);
        assert_eq!(pool.opens(), 5);
        assert_eq!(pool.open_count(), 3);
    }

    #[test]
    fn an_evicted_handle_stays_usable_by_its_holder() {
        let dir = tempfile::tempdir().unwrap();
        let paths = files(dir.path(), 3);
        let pool = FilePool::new(3, 1);
        let held = pool.get(0, &paths[0]).unwrap();
        pool.get(1, &paths[1]).unwrap();
        pool.get(2, &paths[2]).unwrap();
        assert_eq!(pool.open_count(), 1);
        held.write_all_at(&[42], 0).unwrap();
        drop(held);
        assert_eq!(first_byte(&pool.get(0, &paths[0]).unwrap()), 42);
    }

    /// Descriptors of this process open on a file under `dir` (other tests run in parallel
    /// threads, so counting all descriptors would not do).
    fn fds_under(dir: &Path) -> usize {
        std::fs::read_dir("/proc/self/fd")
            .unwrap()
            .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
            .filter(|target| target.starts_with(dir))
            .count()
    }

    #[test]
    fn descriptors_are_really_closed() {
        let dir = tempfile::tempdir().unwrap();
        let dir_path = dir.path().canonicalize().unwrap();
        let paths = files(&dir_path, 40);
        let pool = FilePool::new(40, 4);
        for (i, p) in paths.iter().enumerate() {
            pool.get(i, p).unwrap();
            assert!(fds_under(&dir_path) <= 4);
        }
        assert_eq!(fds_under(&dir_path), 4);
        pool.shrink_to(1);
        assert_eq!(pool.open_count(), 1);
        assert_eq!(fds_under(&dir_path), 1);
    }

    #[test]
    fn errors_name_the_cause_and_leave_the_pool_usable() {
        let dir = tempfile::tempdir().unwrap();
        let paths = files(dir.path(), 2);
        let pool = FilePool::new(2, 1);
        pool.get(0, &paths[0]).unwrap();
        pool.get(1, &paths[1]).unwrap();
        // 0 was evicted; removed behind our back it is not recreated.
        std::fs::remove_file(&paths[0]).unwrap();
        let err = pool.get(0, &paths[0]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert!(!paths[0].exists());
        assert!(pool.get(7, &paths[1]).is_err());
        assert_eq!(first_byte(&pool.get(1, &paths[1]).unwrap()), 1);
        assert_eq!(pool.open_count(), 1);
    }

    #[test]
    fn capacity_follows_the_descriptor_limit() {
        let cap = default_capacity();
        assert!((16..=512).contains(&cap), "{cap}");
        assert_eq!(FilePool::new(3, 0).capacity(), 1);
    }
}
