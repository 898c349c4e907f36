//! The session's side of the store: turning resume points into saved resume data off the
//! reactor, and saved torrents back into torrents to start.
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
        r.set_have(&point.have);
        r.downloaded = point.lifetime.downloaded;
        r.uploaded = point.lifetime.uploaded;
        r.seeding_secs = point.lifetime.seeding_secs;
        r.active_secs = point.lifetime.active_secs;
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

/// Every saved torrent with its check plan. Torrents whose .torrent cannot be read are logged
/// and left where they are (never deleted), so a later version may read them.
fn load_all(store: &Store) -> (Vec<SavedTorrent>, Vec<SavedMagnet>) {
    let started = std::time::Instant::now();
    let mut saved = store.load_all();
    let read = started.elapsed();
    let seeding = store.load_seeding();
    if !seeding.is_empty() {
        for s in &mut saved {
            if let (Ok(r), Some(&(added, secs))) = (&mut s.resume, seeding.get(&s.info_hash)) {
                if added == r.added {
                    r.seeding_secs = r.seeding_secs.max(secs);
                }
            }
        }
    }
    let mut out = Vec::new();
    let mut magnets = Vec::new();
    let count = saved.len();
    for l in saved.into_iter().filter_map(load_one) {
        match l {
            Loaded::Torrent(t) => out.push(*t),
            Loaded::Magnet(m) => magnets.push(*m),
        }
    }
    // What a start costs, in the log: reading the state directory, then parsing each
    // .torrent and looking at its files. (On more than one thread the parse was slower: its
    // many small allocations then wait on the one malloc arena, `alloc::tune`.)
    if count > 0 {
        tracing::info!(
            "state directory: {count} saved torrent(s) read in {} ms, ready to start in {} ms",
            read.as_millis(),
            started.elapsed().as_millis()
        );
    }
    (out, magnets)
}

/// One saved torrent, made ready to start.
enum Loaded {
    Torrent(Box<SavedTorrent>),
    Magnet(Box<SavedMagnet>),
}

/// A saved torrent ready to start, or None (logged) when its .torrent cannot be used.
fn load_one(saved: Saved) -> Option<Loaded> {
    let hex = crate::protocol::hex::encode(&saved.info_hash);
    if let (Err(_), Ok(r)) = (&saved.torrent, &saved.resume) {
        if let Some(link) = &r.magnet {
            return Some(Loaded::Magnet(Box::new(magnet_of(link.clone(), r))));
        }
    }
    let meta = match saved
        .torrent
        .map_err(|e| e.to_string())
        .and_then(|b| Metainfo::from_bytes(&b).map_err(|e| e.to_string()))
    {
        Ok(m) if m.info_hash == saved.info_hash => m,
        Ok(_) => {
            tracing::error!("saved torrent {hex}: its .torrent has another info hash");
            return None;
        }
        // A power cut on a file system that does not keep the order of writes can leave the
        // .torrent empty or torn while its resume data is whole. The torrent comes back as
        // its magnet link (its name, its trackers if it kept its own list): listed, fetching
        // its metadata from peers, its files checked once that arrives. The bad file is left
        // where it is until then, for whoever wants to look at it.
        Err(e) => match &saved.resume {
            Ok(r) => {
                let trackers: Vec<String> =
                    r.trackers.iter().flatten().flatten().cloned().collect();
                let link = crate::protocol::magnet::format_magnet(
                    Some(&saved.info_hash),
                    None,
                    &r.name,
                    &trackers,
                );
                let span = tracing::info_span!("torrent", name = %r.name);
                span.in_scope(|| {
                    tracing::warn!(
                        "its saved .torrent ({hex}) cannot be read ({e}): fetching its metadata \
                         from peers again, as a magnet link"
                    )
                });
                return Some(Loaded::Magnet(Box::new(magnet_of(link, r))));
            }
            Err(_) => {
                tracing::error!("saved torrent {hex} not started: {e}");
                return None;
            }
        },
    };
    Some(Loaded::Torrent(Box::new(match saved.resume {
        Ok(r) => from_resume(meta, r),
        Err(e) => SavedTorrent {
            save_path: None,
            added: crate::engine::torrent::report::unix_now(),
            queue_position: u32::MAX,
            paused: false,
            trusted: None,
            to_check: Vec::new(),
            lifetime: Lifetime::default(),
            notes: vec![format!("{e}: every piece is checked")],
            files: Default::default(),
            kept: Kept::default(),
            meta,
            rates: Default::default(),
            moved: false,
        },
    })))
}

/// A magnet link to start again, with the settings its resume data keeps.
fn magnet_of(link: String, r: &Resume) -> SavedMagnet {
    SavedMagnet {
        link,
        save_path: r.save_path.clone(),
        added: r.added,
        queue_position: r.queue_position,
        paused: r.paused,
        files: crate::engine::api::AddFiles {
            complete: false,
            only: r
                .only_files
                .as_ref()
                .map(|l| l.iter().map(|i| *i as usize).collect()),
            sequential: r.sequential,
            first_last: r.first_last,
            subfolder: false,
        },
        kept: kept_of(r),
    }
}

/// The session's settings of a torrent, as its resume data keeps them.
fn kept_of(r: &Resume) -> Kept {
    Kept {
        goals: crate::engine::session::goals::Overrides {
            ratio: r.seed_ratio,
            seed_time: r.seed_time_secs.map(Duration::from_secs),
            idle: r.seed_idle_secs.map(Duration::from_secs),
            off: r.goals_off,
        },
        forced: r.forced,
        super_seeding: r.super_seeding,
        goal_reached: r.goal_reached.clone(),
        paused: None,
        labels: r.labels.clone(),
        target: r.target.clone(),
        moving: r.moving,
        user_move: r.user_move,
        renamed: r.renamed.clone(),
        renaming: r.renaming.clone(),
        trackers: r.trackers.clone(),
    }
}

/// A move out of the incomplete directory that a stop interrupted (its journal, `moving`,
/// is in the resume data), finished before the files are looked at: the files still in the
/// incomplete directory follow the ones already moved, so no verified piece is fetched
/// again. On failure the torrent stays where its data is, and the error is the note.
pub(crate) fn finish_move(r: &mut Resume, meta: &Metainfo) -> Result<(), UnfinishedMove> {
    r.moving = false;
    let Some(target) = r.target.take() else {
        return Ok(());
    };
    if r.save_path != target {
        let moved =
            crate::engine::session::manager::disk_files::finish_moving(&r.save_path, &target, meta);
        if let Err(source) = moved {
            let why = UnfinishedMove {
                target: target.clone(),
                stays: r.save_path.clone(),
                source,
            };
            r.target = Some(target);
            return Err(why);
        }
        r.save_path = target;
    }
    Ok(())
}

/// Which names a rename that was under way at a stop left the files under: `after` when any
/// file it renames is under its new name in one of `roots` (the save path, and the target of
/// a move under way), else `before` when any is under its old name, else `after` (nothing
/// on disk yet: the files are made under the new names). The rename on disk is one rename(2)
/// of a file or folder, so the files are all under one or all under the other. Returns the
/// names taken and what was found, in words for the torrent's log.
pub(crate) fn settle_rename(
    info: &crate::protocol::metainfo::Info,
    roots: &[&Path],
    after: &crate::engine::api::Renamed,
    before: crate::engine::api::Renamed,
) -> (crate::engine::api::Renamed, String) {
    let paths = |names: &crate::engine::api::Renamed| {
        let mut i = info.clone();
        names.apply(&mut i).ok().map(|()| {
            i.files
                .into_iter()
                .map(|f| f.relative_path())
                .collect::<Vec<_>>()
        })
    };
    let (Some(new), Some(old)) = (paths(after), paths(&before)) else {
        return (
            after.clone(),
            "a rename was under way at the last stop; its names do not fit".into(),
        );
    };
    let (changed_new, changed_old): (Vec<&PathBuf>, Vec<&PathBuf>) =
        new.iter().zip(&old).filter(|(n, o)| n != o).unzip();
    let any_at = |paths: &[&PathBuf]| {
        paths
            .iter()
            .any(|p| roots.iter().any(|r| r.join(p).exists()))
    };
    if any_at(&changed_new) || !any_at(&changed_old) {
        (
            after.clone(),
            "a rename was under way at the last stop: its files are under the new names".into(),
        )
    } else {
        (
            before,
            "a rename was under way at the last stop and had not reached the disk: its files \
             keep the names they had"
                .into(),
        )
    }
}

fn from_resume(mut meta: Metainfo, mut r: Resume) -> SavedTorrent {
    let mut notes = Vec::new();
    // A rename a stop or a power cut interrupted: the names the files are really under.
    if let Some(before) = r.renaming.take() {
        let roots: Vec<&Path> = [Some(r.save_path.as_path()), r.target.as_deref()]
            .into_iter()
            .flatten()
            .collect();
        let (names, note) = settle_rename(&meta.info, &roots, &r.renamed, before);
        r.renamed = names;
        tracing::info!("{}: {note}", meta.info.name);
        notes.push(note);
    }
    // The files are where they were renamed to, before anything looks for them.
    if let Err(why) = r.renamed.apply(&mut meta.info) {
        notes.push(format!("its files keep the torrent's names: {why}"));
        r.renamed = Default::default();
    }
    // Its trackers as last edited, over the .torrent's (which stays as it came).
    if let Some(tiers) = &r.trackers {
        meta.trackers.clone_from(tiers);
    }
    let mut moved = false;
    if r.moving {
        let from = r.save_path.clone();
        let user_move = std::mem::take(&mut r.user_move);
        match finish_move(&mut r, &meta) {
            // A user's move has no `on_complete` after it; its journal is closed by the
            // first save, which no longer says `moving`.
            Ok(()) if user_move => {
                let note = format!(
                    "a move a stop interrupted was finished: its data is in {} (was {})",
                    r.save_path.display(),
                    from.display()
                );
                tracing::info!("{}: {note}", meta.info.name);
                notes.push(note);
            }
            Ok(()) => moved = true,
            Err(why) => {
                // Its data stays whole where it was; a user's move is not tried again later.
                if user_move {
                    r.target = None;
                }
                tracing::warn!("{}: {why}", meta.info.name);
                notes.push(why.to_string());
            }
        }
    }
    let stamps = stamp_files(&r.save_path, &meta.info);
    let plan = plan(&meta.info, &r, &stamps);
    if let Some(why) = &plan.why {
        notes.push(why.clone());
    }
    SavedTorrent {
        save_path: Some(r.save_path.clone()),
        added: r.added,
        queue_position: r.queue_position,
        paused: r.paused,
        trusted: Some(plan.trusted),
        to_check: plan.to_check,
        lifetime: Lifetime {
            downloaded: r.downloaded,
            uploaded: r.uploaded,
            seeding_secs: r.seeding_secs,
            active_secs: r.active_secs,
            completed: r.completed,
        },
        notes,
        files: crate::engine::torrent::priorities::FilePlan {
            first_last: r.first_last,
            ..crate::engine::torrent::priorities::FilePlan::new(
                &meta.info,
                &r.file_priorities,
                r.sequential,
            )
        },
        kept: kept_of(&r),
        meta,
        rates: crate::engine::api::RatePair {
            down: r.down_limit.unwrap_or(0),
            up: r.up_limit.unwrap_or(0),
        },
        moved,
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
    // will say missing, and its pieces are not trusted.
    let unsynced = durable
        .iter()
        .filter_map(|files| files.flush().err())
        .find(|e| !e.is_missing_data());
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
mod tests {
    use super::*;

    #[test]
    fn a_torrent_that_cannot_be_kept_says_why_and_keeps_the_io_kind() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let hash = [7u8; 20];
        // A directory where the .torrent goes: the rename over it fails.
        std::fs::create_dir(store.torrent_path(&hash)).unwrap();
        let mut p = Persist::new(store);
        let e = p.save_torrent(&hash, b"d4:infod4:name1:xee").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("cannot keep the torrent in the state directory: cannot "),
            "{e}"
        );
        let KeepError::Torrent(store_error) = &e else {
            panic!("{e:?}");
        };
        assert_eq!(store_error.kind(), std::io::ErrorKind::IsADirectory);
    }

    /// A torrent "pack" (a.bin, sub/b.bin) of 16 KiB pieces; its files are not written.
    fn pack() -> (Metainfo, Vec<u8>, Vec<u8>) {
        use crate::protocol::metainfo::{encode_torrent, hash_pieces};
        let (a, b) = (vec![1u8; 20_000], vec![2u8; 15_000]);
        let files = vec![
            (vec!["a.bin".to_string()], a.len() as u64),
            (vec!["sub".to_string(), "b.bin".to_string()], b.len() as u64),
        ];
        let hashes = hash_pieces(&[a.as_slice(), b.as_slice()].concat(), 16 * 1024);
        let bytes = encode_torrent("pack", &files, 16 * 1024, &hashes, &[], false, None);
        (Metainfo::from_bytes(&bytes).unwrap(), a, b)
    }

    /// A power cut during a user's move and a rename of one file (issue 58): the file is in
    /// the move's target already, still under its old name. The restart finds the torrent
    /// where its data is, under the names its file has, and trusts every saved piece: the
    /// stamps were taken where the files were.
    #[test]
    fn a_cut_amid_a_move_and_a_rename_finds_the_data_where_it_is_and_trusts_it() {
        let dir = tempfile::tempdir().unwrap();
        let (old, new) = (dir.path().join("old"), dir.path().join("new"));
        let store = Store::open(&dir.path().join("state")).unwrap();
        let (meta, a, b) = pack();
        store
            .save_torrent(&meta.info_hash, &torrent_file_of(&meta))
            .unwrap();
        // Moved (its one rename(2) done), not renamed yet.
        std::fs::create_dir_all(new.join("pack/sub")).unwrap();
        std::fs::write(new.join("pack/a.bin"), &a).unwrap();
        std::fs::write(new.join("pack/sub/b.bin"), &b).unwrap();
        let mut after = crate::engine::api::Renamed::default();
        after.files.insert(0, vec!["a2.bin".into()]);
        let mut renamed = meta.clone();
        after.apply(&mut renamed.info).unwrap();
        let mut r = Resume::new(meta.info_hash, "pack".into(), old.clone(), 3);
        (r.target, r.moving, r.user_move) = (Some(new.clone()), true, true);
        r.renamed = after;
        r.renaming = Some(Default::default());
        r.set_have(&Bitfield::full(3));
        r.files = stamp_where_they_are(&store, &r, &renamed);
        assert!(r.files.iter().all(Option::is_some), "{:?}", r.files);

        let t = from_resume(meta.clone(), r);
        assert_eq!(t.save_path.as_deref(), Some(new.as_path()));
        assert_eq!(t.meta.info.files[0].path, ["pack", "a.bin"]);
        assert!(t.trusted.as_ref().is_some_and(Bitfield::is_complete));
        assert!(t.to_check.is_empty(), "{:?}", t.notes);
        assert!(!t.moved, "a user's move runs no on_complete");
        assert!(t.kept.target.is_none() && !t.kept.moving && t.kept.renaming.is_none());
        assert!(
            t.notes.iter().any(|n| n.contains("keep the names")),
            "{:?}",
            t.notes
        );
        assert!(
            t.notes
                .iter()
                .any(|n| n.contains("move a stop interrupted")),
            "{:?}",
            t.notes
        );
    }

    /// Which names a rename under way at a cut leaves: those the files are under; the new
    /// ones when no file is anywhere yet.
    #[test]
    fn a_rename_under_way_takes_the_names_the_files_are_under() {
        let dir = tempfile::tempdir().unwrap();
        let (meta, a, _) = pack();
        let mut after = crate::engine::api::Renamed::default();
        after.files.insert(0, vec!["a2.bin".into()]);
        let before = crate::engine::api::Renamed::default();
        let root = [dir.path()];
        let (names, _) = settle_rename(&meta.info, &root, &after, before.clone());
        assert_eq!(names, after, "nothing on disk yet: the new names");
        std::fs::create_dir_all(dir.path().join("pack")).unwrap();
        std::fs::write(dir.path().join("pack/a.bin"), &a).unwrap();
        let (names, note) = settle_rename(&meta.info, &root, &after, before.clone());
        assert_eq!(names, before, "{note}");
        std::fs::rename(
            dir.path().join("pack/a.bin"),
            dir.path().join("pack/a2.bin"),
        )
        .unwrap();
        let (names, note) = settle_rename(&meta.info, &root, &after, before);
        assert_eq!(names, after, "{note}");
    }

    #[test]
    fn a_move_stopped_halfway_is_finished_from_its_journal() {
        let dir = tempfile::tempdir().unwrap();
        let (inc, fin) = (dir.path().join("incomplete"), dir.path().join("final"));
        let (meta, a, b) = pack();
        // a.bin made it before the stop; sub/b.bin did not.
        std::fs::create_dir_all(fin.join("pack")).unwrap();
        std::fs::create_dir_all(inc.join("pack/sub")).unwrap();
        std::fs::write(fin.join("pack/a.bin"), &a).unwrap();
        std::fs::write(inc.join("pack/sub/b.bin"), &b).unwrap();
        let mut r = Resume::new(meta.info_hash, "pack".into(), inc.clone(), 3);
        (r.target, r.moving) = (Some(fin.clone()), true);
        finish_move(&mut r, &meta).unwrap();
        assert_eq!(
            (r.save_path.as_path(), r.target.as_ref(), r.moving),
            (fin.as_path(), None, false)
        );
        assert_eq!(std::fs::read(fin.join("pack/a.bin")).unwrap(), a);
        assert_eq!(std::fs::read(fin.join("pack/sub/b.bin")).unwrap(), b);
        assert!(!inc.join("pack").exists());
        // Saved again after the move but before the journal closed: nothing left to do.
        let mut again = Resume::new(meta.info_hash, "pack".into(), fin.clone(), 3);
        (again.target, again.moving) = (Some(fin.clone()), true);
        finish_move(&mut again, &meta).unwrap();
        assert_eq!(
            (again.save_path, again.target, again.moving),
            (fin, None, false)
        );
    }
}
