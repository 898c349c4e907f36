//! The session's side of the store: turning resume points into saved resume data off the
//! reactor, and saved torrents back into torrents to start (`persist/load.rs`).
//!
//! Saves go to one writer thread (fsync and rename are blocking): it keeps only the newest
//! resume point per torrent, so a slow disk coalesces saves instead of queueing them, and a
//! failed save (full disk, read-only state directory) stays pending and is tried again every
//! `RETRY_EVERY` while the session runs on and says why in its snapshot.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{mpsc as std_mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use crate::engine::disk::{DiskError, Storage};
use crate::engine::session::manager::disk_files::DiskFilesError;
use crate::engine::session::store::restart::{plan, stamp_files};
use crate::engine::session::store::resume::{Resume, SeedingTime};
use crate::engine::session::store::{Saved, Store, StoreError};
use crate::engine::torrent::report::{Lifetime, ResumePoint};
use crate::protocol::bitfield::Bitfield;
use crate::protocol::metainfo::Metainfo;

mod load;
use load::load_all;

/// A magnet link or a .torrent the state directory could not keep; the `StoreError` under it
/// tells a full disk from a read-only directory.
#[derive(Debug, thiserror::Error)]
pub(crate) enum KeepError {
    #[error("cannot keep the magnet link in the state directory: {0}")]
    Magnet(#[source] StoreError),
    #[error("cannot keep the torrent in the state directory: {0}")]
    Torrent(#[source] StoreError),
}

/// A move out of the incomplete directory that could not be finished on the way in.
#[derive(Debug, thiserror::Error)]
#[error("finishing the move to {}: {source}; its data stays in {}", target.display(), stays.display())]
pub(crate) struct UnfinishedMove {
    target: PathBuf,
    stays: PathBuf,
    #[source]
    source: DiskFilesError,
}

const RETRY_EVERY: Duration = Duration::from_secs(5);
/// How long `flush` waits for the writer at exit.
const FLUSH_WAIT: Duration = Duration::from_secs(10);

/// A saved torrent, ready to start again.
pub(crate) struct SavedTorrent {
    pub meta: Metainfo,
    /// None when the resume data was lost: the session's download directory.
    pub save_path: Option<PathBuf>,
    pub added: u64,
    pub queue_position: u32,
    pub paused: bool,
    /// Pieces the resume data vouches for (None: check everything).
    pub trusted: Option<Bitfield>,
    /// Pieces to hash again on top of the trusted ones (files changed since the last save).
    pub to_check: Vec<u32>,
    pub lifetime: Lifetime,
    /// Warnings for the torrent's log (damaged resume data, changed files).
    pub notes: Vec<String>,
    pub files: crate::engine::torrent::priorities::FilePlan,
    /// Its queue and seeding-goal settings.
    pub kept: Kept,
    /// The torrent's own rate limits.
    pub rates: crate::engine::api::RatePair,
    /// A move out of the incomplete directory was finished on the way in (`finish_move`):
    /// its `on_complete` is still to run.
    pub moved: bool,
}

/// A magnet link saved before its metadata arrived (resume data without a .torrent).
pub(crate) struct SavedMagnet {
    pub link: String,
    pub save_path: PathBuf,
    pub added: u64,
    pub queue_position: u32,
    pub paused: bool,
    /// Its `--only-files` and `--sequential`, still to apply.
    pub files: crate::engine::api::AddFiles,
    /// Its labels and seeding goals.
    pub kept: Kept,
}

/// A slot's [`Kept`], boxed only once it differs from the defaults: most torrents of a large
/// library have no labels, goals, renames or trackers of their own, and inline it took 256
/// bytes of every slot. Reads of a plain one see [`Kept::PLAIN`]; a write boxes it first.
#[derive(Debug, Default)]
pub(crate) struct KeptBox(Option<Box<Kept>>);

/// What every plain [`KeptBox`] reads.
static PLAIN: Kept = Kept::PLAIN;

impl KeptBox {
    pub(crate) fn new(kept: Kept) -> KeptBox {
        KeptBox((kept != Kept::PLAIN).then(|| Box::new(kept)))
    }
}

impl std::ops::Deref for KeptBox {
    type Target = Kept;
    fn deref(&self) -> &Kept {
        self.0.as_deref().unwrap_or(&PLAIN)
    }
}

impl std::ops::DerefMut for KeptBox {
    fn deref_mut(&mut self) -> &mut Kept {
        self.0.get_or_insert_with(Box::default)
    }
}

/// What the session keeps of a torrent's queue and goal settings (`policy.rs`).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Kept {
    pub goals: crate::engine::session::goals::Overrides,
    pub forced: bool,
    /// BEP 16 super-seeding asked for (active only while the torrent is a complete seed).
    pub super_seeding: bool,
    pub goal_reached: Option<String>,
    /// Set when the session knows better than the torrent's task (a stopped torrent has no
    /// task to say it is paused).
    pub paused: Option<bool>,
    /// Its labels, checked (`api::labels`).
    pub labels: Vec<String>,
    /// Downloading in the incomplete directory: where its data goes once complete.
    pub target: Option<PathBuf>,
    /// The move to `target` is under way: a restart finishes it.
    pub moving: bool,
    /// The move under way is a user's (`ttui move`): finishing it runs no `on_complete`.
    pub user_move: bool,
    /// Its files' names where they differ from the .torrent's (`torrent-rename-path`).
    pub renamed: crate::engine::api::Renamed,
    /// A rename is under way: the names before it (`renamed` holds those after it), saved
    /// before the rename(2) and dropped once that is durable, so a restart after a power cut
    /// takes the names the files are really under (`settle_rename`).
    pub renaming: Option<crate::engine::api::Renamed>,
    /// Its tracker tiers once edited (`api::TrackerEdit`); None: the .torrent's.
    pub trackers: Option<Vec<Vec<String>>>,
    /// Files linked from another torrent's data at its add (cross-seeding), to be proven by
    /// its first check (`Resume::borrowed`).
    pub borrowed: Vec<u32>,
    /// The torrents they came from ("#12"), for its line; not saved.
    pub borrowed_from: String,
}

impl Kept {
    /// Its defaults, as a constant: what a plain [`KeptBox`] reads.
    pub(crate) const PLAIN: Kept = Kept {
        goals: crate::engine::session::goals::Overrides {
            ratio: None,
            seed_time: None,
            idle: None,
            off: 0,
        },
        forced: false,
        super_seeding: false,
        goal_reached: None,
        paused: None,
        labels: Vec::new(),
        target: None,
        moving: false,
        user_move: false,
        renamed: crate::engine::api::Renamed {
            name: None,
            files: std::collections::BTreeMap::new(),
        },
        renaming: None,
        trackers: None,
        borrowed: Vec::new(),
        borrowed_from: String::new(),
    };
}

enum Job {
    /// The newest resume data, and the files to sync before saving it (see
    /// `ResumePoint::durable`).
    Resume(Box<Resume>, Arc<Metainfo>, Option<Arc<Storage>>),
    /// The torrent saved as `.0` is now saved as `.1` (a hybrid's `btmh`-only magnet, whose
    /// metadata names it by its SHA-1): `.0` goes once `.1`'s resume data is on disk, never
    /// before, so a crash in between leaves one of the two, not neither.
    Replaced([u8; 20], [u8; 20]),
    Flush(std_mpsc::Sender<()>),
}

pub(crate) struct Persist {
    store: Arc<Store>,
    jobs: std_mpsc::Sender<Job>,
    /// The last save error, while saves keep failing.
    error: Arc<Mutex<Option<Arc<StoreError>>>>,
    last_retry: Instant,
}

impl Persist {
    pub(crate) fn new(store: Store) -> Persist {
        let store = Arc::new(store);
        let (jobs, rx) = std_mpsc::channel();
        let error: Arc<Mutex<Option<Arc<StoreError>>>> = Arc::default();
        {
            let (store, error) = (Arc::clone(&store), Arc::clone(&error));
            std::thread::Builder::new()
                .name("ttui-store".into())
                .spawn(move || writer(&store, &rx, &error))
                .ok();
        }
        Persist {
            store,
            jobs,
            error,
            last_retry: Instant::now(),
        }
    }

    /// Every saved torrent with its check plan, read on a blocking thread (thousands of small
    /// files and a `stat` per payload file).
    pub(crate) async fn load_all(&self) -> (Vec<SavedTorrent>, Vec<SavedMagnet>) {
        let store = Arc::clone(&self.store);
        tokio::task::spawn_blocking(move || load_all(&store))
            .await
            .unwrap_or_default()
    }

    /// Keeps a magnet link that is still fetching its metadata (its resume data, synced now),
    /// so a restart meanwhile fetches it again with the same `--only-files`.
    pub(crate) fn save_magnet(&mut self, r: &Resume) -> Result<(), KeepError> {
        self.store.save_resume(r).map_err(KeepError::Magnet)
    }

    /// Changes a kept magnet link's resume data (synced now); nothing once the metadata has
    /// arrived (its resume data no longer names the link).
    pub(crate) fn update_magnet(&mut self, info_hash: &[u8; 20], change: impl FnOnce(&mut Resume)) {
        let mut r = match self.store.load_resume(info_hash) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!("cannot update the kept magnet link: {e}");
                return;
            }
        };
        if r.magnet.is_none() {
            return;
        }
        change(&mut r);
        if let Err(e) = self.save_magnet(&r) {
            tracing::warn!("{e}");
        }
    }

    /// Keeps the seeding time of the torrents asleep at a clean stop, in one file.
    pub(crate) fn save_seeding(&mut self, times: &[SeedingTime]) -> Result<(), StoreError> {
        self.store.save_seeding(times)
    }

    pub(crate) fn save_torrent(
        &mut self,
        info_hash: &[u8; 20],
        bytes: &[u8],
    ) -> Result<(), KeepError> {
        self.store
            .save_torrent(info_hash, bytes)
            .map_err(KeepError::Torrent)
    }

    /// The store, for a batch of .torrent saves run off the session's loop
    /// (`Store::save_torrents`).
    pub(crate) fn store(&self) -> Arc<Store> {
        Arc::clone(&self.store)
    }

    /// Queues a save of the torrent's resume point (the newest wins).
    pub(crate) fn save_resume(
        &mut self,
        meta: &Arc<Metainfo>,
        save_path: &Path,
        (added, queue_position): (u64, u32),
        point: &ResumePoint,
        kept: &Kept,
    ) {
        let mut r = Resume::new(
            meta.info_hash,
            meta.info.name.clone(),
            save_path.to_path_buf(),
            meta.info.num_pieces(),
        );
        r.added = added;
        r.queue_position = queue_position;
        r.completed = point.lifetime.completed;
        r.paused = kept.paused.unwrap_or(point.paused);
        r.seed_ratio = kept.goals.ratio;
        r.seed_time_secs = kept.goals.seed_time.map(|d| d.as_secs());
        r.seed_idle_secs = kept.goals.idle.map(|d| d.as_secs());
        r.goals_off = kept.goals.off;
        r.forced = kept.forced;
        r.super_seeding = kept.super_seeding;
        r.goal_reached.clone_from(&kept.goal_reached);
        r.labels.clone_from(&kept.labels);
        r.target.clone_from(&kept.target);
        r.moving = kept.moving;
        r.user_move = kept.user_move;
        r.renamed.clone_from(&kept.renamed);
        r.renaming.clone_from(&kept.renaming);
        r.trackers.clone_from(&kept.trackers);
        r.borrowed.clone_from(&kept.borrowed);
        r.set_have(&point.have);
        r.downloaded = point.lifetime.downloaded;
        r.uploaded = point.lifetime.uploaded;
        r.seeding_secs = point.lifetime.seeding_secs;
        r.active_secs = point.lifetime.active_secs;
        r.last_activity = point.lifetime.last_activity;
        r.peers.clone_from(&point.peers);
        r.clean = point.clean;
        r.file_priorities = point.files.saved();
        r.sequential = point.files.sequential;
        r.first_last = point.files.first_last;
        r.down_limit = (point.rates.down != 0).then_some(point.rates.down);
        r.up_limit = (point.rates.up != 0).then_some(point.rates.up);
        let durable = point.durable.clone();
        let _ = self
            .jobs
            .send(Job::Resume(Box::new(r), Arc::clone(meta), durable));
    }

    /// Forgets what was saved under `old` once the resume data queued for `new` is written
    /// (queue this after that save).
    pub(crate) fn replace_after_save(&mut self, old: [u8; 20], new: [u8; 20]) {
        let _ = self.jobs.send(Job::Replaced(old, new));
    }

    pub(crate) fn remove(&mut self, info_hash: &[u8; 20]) {
        if let Err(e) = self.store.remove(info_hash) {
            tracing::warn!("removing saved state: {e}");
        }
    }

    /// Nudges the writer to try failed saves again.
    pub(crate) fn retry_due(&mut self) {
        if self.error().is_some() && self.last_retry.elapsed() >= RETRY_EVERY {
            self.last_retry = Instant::now();
            let (tx, _rx) = std_mpsc::channel();
            let _ = self.jobs.send(Job::Flush(tx));
        }
    }

    /// Waits (bounded) until every queued save has been tried.
    pub(crate) fn flush(&mut self) {
        let (tx, rx) = std_mpsc::channel();
        if self.jobs.send(Job::Flush(tx)).is_ok() {
            let _ = rx.recv_timeout(FLUSH_WAIT);
        }
    }

    pub(crate) fn error(&self) -> Option<Arc<StoreError>> {
        self.error.lock().ok().and_then(|e| e.clone())
    }
}

/// Each file's stamp wherever it is while a journal is open: a move under way may have put
/// it in its target already, a rename under way may not have given it its new name yet. The
/// restart takes the place and the names the files are found under (`finish_move`,
/// `settle_rename`) and compares these stamps there, so the pieces they vouch for are
/// trusted, not hashed again.
fn stamp_where_they_are(
    store: &Store,
    r: &Resume,
    meta: &Metainfo,
) -> Vec<Option<crate::engine::session::store::resume::FileStamp>> {
    let roots: Vec<&Path> = [
        Some(r.save_path.as_path()),
        r.target.as_deref().filter(|_| r.moving),
    ]
    .into_iter()
    .flatten()
    .collect();
    // The names before the rename: the .torrent's, with the record of then.
    let before = r.renaming.as_ref().and_then(|names| {
        let bytes = std::fs::read(store.torrent_path(&r.info_hash)).ok()?;
        let mut old = Metainfo::from_bytes(&bytes).ok()?;
        names.apply(&mut old.info).ok()?;
        Some(old.info)
    });
    let mut stamps = stamp_files(&r.save_path, &meta.info);
    for root in &roots {
        for info in std::iter::once(&meta.info).chain(before.as_ref()) {
            if stamps.iter().all(Option::is_some) {
                return stamps;
            }
            for (s, found) in stamps.iter_mut().zip(stamp_files(root, info)) {
                if s.is_none() {
                    *s = found;
                }
            }
        }
    }
    stamps
}

/// The writer thread: newest resume per torrent, its files synced to the device first (so
/// the pieces it claims survive a power cut, not only a crash), stamped after the bitfield
/// was taken (so a write that lands in between shows as a change, never as a verified piece
/// that is not there), saved crash-safe; failures stay pending.
///
/// The sync is one `fdatasync` per file written since the last save, at most every
/// `RESUME_EVERY` per torrent: durability trails the download by that much, and the resume
/// data trails the sync, never the other way round.
fn writer(store: &Store, jobs: &std_mpsc::Receiver<Job>, error: &Mutex<Option<Arc<StoreError>>>) {
    type Entry = (Box<Resume>, Arc<Metainfo>, Vec<Arc<Storage>>);
    let mut pending: HashMap<[u8; 20], Entry> = HashMap::new();
    // Old names to forget once their successor's resume data is written.
    let mut replaced: Vec<([u8; 20], [u8; 20])> = Vec::new();
    while let Ok(job) = jobs.recv() {
        let mut flushed = Vec::new();
        let mut take = |job: Job, pending: &mut HashMap<_, _>| match job {
            Job::Resume(r, meta, durable) => {
                // A newer save must not drop the sync an older one still owes (a setting
                // saved by the session has no files of its own; a restarted torrent's new
                // task has other ones): its `have` came from that point, and would
                // otherwise be written before those pieces are durable.
                let mut owed = pending
                    .remove(&r.info_hash)
                    .map(|e: Entry| e.2)
                    .unwrap_or_default();
                owed.extend(durable);
                pending.insert(r.info_hash, (r, meta, owed));
            }
            Job::Replaced(old, new) => replaced.push((old, new)),
            Job::Flush(done) => flushed.push(done),
        };
        take(job, &mut pending);
        while let Ok(job) = jobs.try_recv() {
            take(job, &mut pending);
        }
        let mut failed = None;
        let mut written = false;
        // One fsync of the directory for the whole batch, not one per torrent: at a clean
        // stop every torrent saves at once (10,000 directory syncs took seconds).
        pending.retain(|_, entry| match save_entry(store, entry) {
            Ok(w) => {
                written |= w;
                false
            }
            Err(e) => {
                failed.get_or_insert(e);
                true
            }
        });
        if written {
            if let Err(e) = store.sync() {
                failed.get_or_insert(Arc::new(e));
            }
        }
        if failed.is_none() {
            replaced.retain(|(old, new)| {
                if pending.contains_key(new) {
                    return true;
                }
                if let Err(e) = store.remove(old) {
                    tracing::warn!("forgetting the magnet's first name: {e}");
                }
                false
            });
        }
        if let Ok(mut slot) = error.lock() {
            if let Some(e) = &failed {
                if slot.as_ref().map(|s| s.to_string()) != Some(e.to_string()) {
                    tracing::warn!("saving resume data failed (retrying): {e}");
                }
            } else if slot.is_some() {
                tracing::info!("resume data saved again");
            }
            *slot = failed;
        }
        for done in flushed {
            let _ = done.send(());
        }
    }
}

/// A failed sync of a torrent's files as the store's error (the disk's own error kept, so a
/// full disk reads as one).
/// Saves one torrent's resume data once the pieces it claims are durable; true when a file
/// was written (the directory then owes an fsync).
fn save_entry(
    store: &Store,
    (r, meta, durable): &mut (Box<Resume>, Arc<Metainfo>, Vec<Arc<Storage>>),
) -> Result<bool, Arc<StoreError>> {
    // A file gone since (moved, or deleted behind our back) holds nothing to sync: its stamp
    // will say missing, and its pieces are not trusted. A storage gone altogether (its torrent
    // is held until it is back: `storage_hold.rs`) neither: the resume point is still saved.
    let unsynced = durable
        .iter()
        .filter_map(|files| files.flush().err())
        .find(|e| !e.is_missing_data() && !matches!(e, DiskError::StorageMissing { .. }));
    if let Some(e) = unsynced {
        return Err(Arc::new(sync_error(&r.save_path, e)));
    }
    durable.clear();
    r.files = stamp_where_they_are(store, r, meta);
    store.save_resume_unsynced(r).map_err(Arc::new)
}

fn sync_error(root: &Path, e: DiskError) -> StoreError {
    let source = match e {
        DiskError::DiskFull { source, .. } | DiskError::Io { source, .. } => source,
        other => std::io::Error::other(other.to_string()),
    };
    StoreError::new("sync the downloaded files in", root, source)
}

/// A magnet's fetched metadata as a .torrent file of its own (the info dictionary, its
/// first tracker and, for a v2-only torrent, the piece layers its peers proved), so a restart
/// needs no peer to know the torrent.
pub(crate) fn torrent_file_of(meta: &Metainfo) -> Vec<u8> {
    let announce = meta.trackers.first().and_then(|t| t.first());
    crate::protocol::metainfo::layers::torrent_with_layers(
        &meta.info_bytes,
        announce.map(String::as_str),
        &crate::protocol::metainfo::layers::layers_of(meta),
    )
}

#[cfg(test)]
mod tests;
