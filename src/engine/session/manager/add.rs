//! Torrents come into the session: added by a request (a .torrent or a magnet link), or
//! brought back from the store at start. Either way a torrent gets a slot, parked until the
//! queue lets it run (`policy.rs`); a magnet's task starts at once to fetch its metadata.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::watch;

use super::launch::TaskEnds;
use super::sleep::Asleep;
use super::slot_rates::SlotRates;
use super::state::SlotState;
use super::{lines, policy, Manager, Resumed, Slot};
use crate::engine::api::{
    AddFiles, AddSource, Added, RequestError, TorrentId, TorrentLine, TorrentState,
};
use crate::engine::session::persist::{Kept, KeptBox, SavedTorrent};
use crate::engine::torrent;
use crate::engine::torrent::options::Options;
use crate::engine::torrent::priorities::FilePlan;
use crate::engine::torrent::report::{unix_now, Lifetime, ResumePoint};
use crate::engine::torrent::snapshot::Snapshots;
use crate::engine::torrent::Start;
use crate::protocol::bitfield::Bitfield;
use crate::protocol::magnet::Magnet;
use crate::protocol::metainfo::Metainfo;

impl Manager {
    /// Starts every torrent the store kept, in the order they were added.
    pub(super) async fn restore(&mut self) {
        self.load_ledger();
        let Some(persist) = &self.persist else {
            return;
        };
        let (saved, magnets) = persist.load_all().await;
        // A large library's torrents that start asleep get one line together: a line each
        // (at 100,000, 20 MB of log written a line at a time by the session's loop) was a
        // tenth of a restart, and pushed the rest of the log out of its file. Each one's own
        // line is then at the debug level; a torrent with something to say says it alone.
        let each = saved.len() <= SAY_EACH_DORMANT;
        let mut dormant = 0usize;
        for t in saved {
            if !self.start_saved(t) {
                continue;
            }
            dormant += 1;
            let Some(slot) = self.slots.last() else {
                continue;
            };
            if each {
                tracing::info!("{}", said_asleep(slot));
            } else if tracing::enabled!(tracing::Level::DEBUG) {
                tracing::debug!("{}", said_asleep(slot));
            }
        }
        if !each && dormant > 0 {
            tracing::info!(
                "{dormant} torrent(s) back complete from their saved resume data (files \
                 unchanged), dormant until a peer, its announce or a command wakes them"
            );
        }
        for m in magnets {
            self.start_saved_magnet(m);
        }
        self.renumber();
        self.evaluate(false);
    }

    /// Starts a saved torrent; true when it starts asleep (the last slot).
    fn start_saved(&mut self, t: SavedTorrent) -> bool {
        let (moved, downloaded) = (t.moved, t.lifetime.downloaded);
        // Complete in the incomplete directory, and stopped before its move began: it
        // begins now.
        let move_now = t.kept.target.is_some()
            && t.lifetime.completed.is_some()
            && t.to_check.is_empty()
            && t.trusted.as_ref().is_some_and(|b| b.is_complete());
        let paused = t.paused;
        let id = self.new_slot_id();
        let save_path = t
            .save_path
            .clone()
            .unwrap_or_else(|| self.opts.output.clone());
        let start_meta = Arc::new(t.meta);
        let resume = Resumed {
            queue_position: Some(t.queue_position),
            trusted: t.trusted,
            to_check: t.to_check,
            lifetime: t.lifetime,
            notes: t.notes,
            files: t.files,
            kept: t.kept,
            rates: t.rates,
        };
        let asleep = self.launch(id, start_meta, save_path, t.added, paused, resume);
        if moved {
            // Its move out of the incomplete directory was finished at start: what was
            // still to do after it is done now (the journal closed, `on_complete` run).
            let i = self.slots.len() - 1;
            let span = self.slots[i].span();
            span.in_scope(|| tracing::info!("finished its move out of the incomplete directory"));
            self.save_policy(i);
            self.run_on_complete(i, downloaded);
        } else if move_now {
            self.on_completed(self.slots.len() - 1, downloaded);
        }
        asleep
    }

    pub(super) fn add(
        &mut self,
        source: AddSource,
        save_path: Option<PathBuf>,
        (paused, files): (bool, AddFiles),
        labels: &[String],
    ) -> Result<(Added, Option<Vec<u8>>), RequestError> {
        if self.shutting_down {
            return Err(RequestError::Stopping);
        }
        let labels = crate::engine::api::check_labels(labels)?;
        // The session's default order for new torrents (Transmission 4.1's session-wide
        // `sequential_download`); an add that asks for it gets it anyway.
        let files = AddFiles {
            sequential: files.sequential || self.opts.sequential,
            ..files
        };
        let defaults = crate::engine::api::defaults_for(&self.opts.labels, &labels);
        let save_path = save_path
            .or(defaults.save_path)
            .unwrap_or_else(|| self.opts.output.clone());
        let mut kept = Kept {
            labels,
            ..Kept::default()
        };
        let goals = (defaults.seed_ratio, defaults.seed_time, defaults.seed_idle);
        kept.goals.set(goals.0, goals.1, goals.2);
        match source {
            AddSource::Torrent { name, bytes } => {
                let meta = match Metainfo::from_bytes(&bytes) {
                    Ok(meta) => meta,
                    Err(crate::protocol::metainfo::MetainfoError::NeedsLayers(needs)) => {
                        let wanted = (paused, files);
                        return Ok((
                            self.add_needing_layers(*needs, save_path, wanted, kept),
                            None,
                        ));
                    }
                    Err(e) => {
                        return Err(RequestError::BadTorrent(format!(
                            "{}: {e}",
                            crate::protocol::text::shorten(&name)
                        )))
                    }
                };
                if let Some(id) = self.slots.id_of(&meta.info_hash) {
                    let already = Added::Already {
                        id,
                        name: meta.info.name.clone(),
                        info_hash: meta.info_hash,
                    };
                    return Ok((already, None));
                }
                let name = meta.info.name.clone();
                let info_hash = meta.info_hash;
                let lone_file = matches!(&meta.info.files[..], [f] if f.path.len() == 1);
                let save_path = if files.subfolder && lone_file {
                    save_path.join(crate::engine::api::subfolder_of(&name))
                } else {
                    save_path
                };
                let save_path = self.incomplete_place(save_path, Some(&name), &mut kept);
                let mut plan = match &files.only {
                    Some(only) => FilePlan::only(&meta.info, only, files.sequential)
                        .map_err(RequestError::BadFiles)?,
                    None => FilePlan::new(&meta.info, &[], files.sequential),
                };
                plan.first_last = files.first_last;
                let trusted = files
                    .complete
                    .then(|| Bitfield::full(meta.info.num_pieces()));
                // No data of its own yet: its files may be in the data of the torrents the
                // session seeds. Linked here, proven by its first check.
                let mut linked = super::cross_seed::Linked::default();
                if self.opts.cross_seed
                    && !files.complete
                    && !super::cross_seed::has_data(&meta, &save_path)
                {
                    let found = self.find_on_disk(&meta);
                    if !found.is_empty() {
                        linked = super::cross_seed::link(&meta, &save_path, &found);
                        kept.borrowed.clone_from(&linked.files);
                        kept.borrowed_from.clone_from(&linked.from);
                    }
                }
                let id = self.new_slot_id();
                let added = unix_now();
                let asleep = self.launch(
                    id,
                    Arc::new(meta),
                    save_path,
                    added,
                    paused,
                    Resumed {
                        files: plan.clone(),
                        kept,
                        trusted,
                        ..Resumed::default()
                    },
                );
                if asleep {
                    if let Some(slot) = self.slots.find(id) {
                        tracing::info!("{}", said_asleep(slot));
                    }
                }
                if !linked.files.is_empty() {
                    if let Some(slot) = self.slots.find(id) {
                        slot.span().in_scope(|| {
                            tracing::info!(
                                "cross-seed: {} of its files ({}) found on disk in {}, linked; \
                                 its check proves them before they count",
                                linked.files.len(),
                                crate::fmt::bytes_short(linked.bytes),
                                linked.from
                            )
                        });
                    }
                }
                if files.complete {
                    if let Some(slot) = self.slots.find(id) {
                        slot.span().in_scope(|| {
                            tracing::info!(
                                "added as complete: its maker (`ttui create --seed`) hashed \
                                 this data just now, so it is not checked again"
                            )
                        });
                    }
                }
                self.save_now(id, paused, plan);
                let added = Added::New {
                    id,
                    name,
                    info_hash,
                };
                // Answered once its .torrent is kept (`torrent_saves.rs`).
                let keep = self.persist.is_some().then_some(bytes);
                Ok((added, keep))
            }
            AddSource::Magnet(link) => {
                let magnet =
                    Magnet::parse(&link).map_err(|e| RequestError::BadTorrent(e.to_string()))?;
                if let Some(id) = self.slots.id_of(&magnet.info_hash).as_ref() {
                    let name = self.slot(*id).map(|s| s.line.borrow().name.clone());
                    let already = Added::Already {
                        id: *id,
                        name: name.unwrap_or_default(),
                        info_hash: magnet.info_hash,
                    };
                    return Ok((already, None));
                }
                let id = self.new_slot_id();
                let name = magnet
                    .display_name
                    .clone()
                    .unwrap_or_else(|| crate::protocol::hex::encode(&magnet.info_hash));
                let info_hash = magnet.info_hash;
                let save_path = self.incomplete_place(save_path, None, &mut kept);
                self.launch_magnet(id, (magnet, None), save_path, (paused, files.clone()));
                if let Some(slot) = self.slots.last_mut() {
                    slot.policy.kept = KeptBox::new(kept);
                }
                self.save_magnet(id, &link, (paused, &files));
                let added = Added::New {
                    id,
                    name,
                    info_hash,
                };
                Ok((added, None))
            }
        }
    }

    /// A v2-only .torrent whose piece layers its peers must send first: it runs as a magnet
    /// of its hash whose info is known (only the layers are fetched, its line says so), and is
    /// kept as that magnet until they arrive; then its .torrent, layers included, is kept as
    /// a magnet's is (`Report::Metadata`), so a restart asks nobody.
    fn add_needing_layers(
        &mut self,
        needs: crate::protocol::metainfo::layers::NeedsLayers,
        save_path: PathBuf,
        (paused, files): (bool, AddFiles),
        mut kept: Kept,
    ) -> Added {
        let meta = needs.summary();
        let (name, info_hash) = (meta.info.name.clone(), meta.info_hash);
        if let Some(id) = self.slots.id_of(&info_hash) {
            return Added::Already {
                id,
                name,
                info_hash,
            };
        }
        let link = needs.magnet_link();
        let mut magnet = needs.magnet();
        if !self.opts.use_trackers {
            magnet.trackers.clear();
        }
        let id = self.new_slot_id();
        let save_path = self.incomplete_place(save_path, Some(&name), &mut kept);
        tracing::info!("torrent {id} ({name}): {}", needs.words());
        let known = Some(Arc::new(needs));
        self.launch_magnet(id, (magnet, known), save_path, (paused, files.clone()));
        if let Some(slot) = self.slots.last_mut() {
            slot.policy.kept = KeptBox::new(kept);
        }
        self.save_magnet(id, &link, (paused, &files));
        Added::New {
            id,
            name,
            info_hash,
        }
    }

    /// Where a torrent added now downloads: in the incomplete directory when one is set (its
    /// save path kept as its `target`, where it moves once complete), unless its data is in
    /// its save path already (its file or folder `name` there: then it is checked there).
    fn incomplete_place(&self, save_path: PathBuf, name: Option<&str>, kept: &mut Kept) -> PathBuf {
        let Some(inc) = &self.opts.incomplete_dir else {
            return save_path;
        };
        let there = name.is_some_and(|n| save_path.join(n).exists());
        if *inc == save_path || there {
            return save_path;
        }
        kept.target = Some(save_path);
        inc.clone()
    }

    /// A resume point for a torrent that has not sent one yet, so an acknowledged add survives
    /// a crash that comes before its first tick.
    pub(super) fn save_now(&mut self, id: TorrentId, paused: bool, files: FilePlan) {
        let Some(slot) = self.slots.find(id) else {
            return;
        };
        let (Some(meta), Some(p)) = (slot.meta.clone(), self.persist.as_mut()) else {
            return;
        };
        let point = ResumePoint {
            have: Bitfield::new(meta.info.num_pieces()),
            lifetime: Lifetime::default(),
            paused,
            peers: Vec::new(),
            clean: false,
            files,
            rates: slot.rates.own(),
            durable: None,
        };
        p.save_resume(
            &meta,
            &slot.save_path,
            (slot.added, slot.queue_position),
            &point,
            &slot.kept(),
        );
    }

    fn launch(
        &mut self,
        id: TorrentId,
        meta: Arc<Metainfo>,
        save_path: PathBuf,
        added: u64,
        paused: bool,
        resume: Resumed,
    ) -> bool {
        let Resumed {
            queue_position,
            trusted,
            to_check,
            lifetime,
            notes,
            files,
            kept,
            rates,
        } = resume;
        let rates = SlotRates::idle(rates);
        let queue_position = queue_position.unwrap_or_else(|| self.next_queue_position());
        let complete = trusted.as_ref().is_some_and(|b| b.is_complete()) && to_check.is_empty();
        let mut first_line = TorrentLine::placeholder(id);
        first_line.info_hash = meta.info_hash;
        first_line.info_hash_v2 = meta.info_hash_v2;
        first_line.name.clone_from(&meta.info.name);
        first_line.state = TorrentState::Downloading;
        first_line.total_bytes = meta.info.total_length;
        first_line.wanted_bytes = meta.info.total_length;
        first_line.verified_bytes = trusted.as_ref().map_or(0, |b| {
            (u64::from(b.count()) * u64::from(meta.info.piece_length)).min(meta.info.total_length)
        });
        first_line.save_path.clone_from(&save_path);
        first_line.added = added;
        first_line.downloaded = lifetime.downloaded;
        first_line.uploaded = lifetime.uploaded;
        first_line.completed = lifetime.completed;
        first_line.last_activity = lifetime.last_activity;
        first_line.private = meta.info.private;
        // Its own copy is a full one.
        if complete {
            first_line.seen_complete = crate::engine::api::SeenComplete::NOW;
        }
        // Its trackers, not contacted yet: every face lists them before its first announce
        // (qBittorrent's `trackers_count`, a paused torrent's trackers).
        first_line.trackers = crate::engine::api::TrackerMark::listed(&meta.trackers, None);
        // A channel comes with the task when the queue starts one (`policy::relaunch`).
        let policy = policy::SlotPolicy::new(kept, lifetime.seeding_secs);
        // Back complete, with nothing to check or tell: it sleeps from the start (its task
        // starts when a peer, its announce, a command or a subscriber wakes it).
        let dormant = complete && !paused && notes.is_empty() && !self.dormancy.after.is_zero();
        let parked = policy::Parked {
            paused,
            complete,
            stored: Some(Box::new(policy::Stored {
                trusted,
                to_check,
                lifetime,
                notes,
                files,
            })),
            dormant,
            ..policy::Parked::default()
        };
        self.slots.push(Slot {
            id,
            info_hash: meta.info_hash,
            save_path,
            added,
            queue_position,
            commands: self.no_task.clone(),
            snapshots: None,
            line: lines::Line::Own(Arc::new(first_line)),
            state: SlotState::Parked(parked),
            meta: Some(meta),
            last: None,
            ignore_ended: 0,
            policy,
            rates,
        });
        if dormant {
            self.fell_asleep(self.slots.len() - 1, Asleep::Restored);
        }
        dormant
    }

    pub(super) fn launch_magnet(
        &mut self,
        id: TorrentId,
        (magnet, known): (
            Magnet,
            Option<Arc<crate::protocol::metainfo::layers::NeedsLayers>>,
        ),
        save_path: PathBuf,
        (paused, files): (bool, AddFiles),
    ) {
        let urls = magnet.trackers.iter().map(String::as_str);
        let rates = self.session.ctx.rates.torrent_of(Default::default(), urls);
        let opts = Options {
            output: save_path.clone(),
            seed: true,
            ..self.opts.clone()
        };
        let first = crate::engine::torrent::magnet::magnet_snapshot(id, &magnet, &save_path);
        let cell = Snapshots::with(watch::channel(Arc::new(first)).0);
        let mut first_line = TorrentLine::placeholder(id);
        first_line.info_hash = magnet.info_hash;
        first_line.info_hash_v2 = magnet.info_hash_v2;
        first_line.name = magnet
            .display_name
            .clone()
            .unwrap_or_else(|| crate::protocol::hex::encode(&magnet.info_hash));
        let phase = crate::engine::torrent::metadata::phase(known.as_deref());
        let (state, why) = crate::engine::torrent::magnet::waiting_state(paused, phase);
        first_line.state = state;
        first_line.why = why.map(Into::into);
        first_line.save_path.clone_from(&save_path);
        // Until the metadata comes, the plan the torrent will start with.
        first_line.sequential = files.sequential;
        first_line.first_last = files.first_last;
        let added = unix_now();
        first_line.added = added;
        let (ends, side) = TaskEnds::new(first_line);
        let start = Start {
            id,
            ctx: self.ctx(),
            trusted: None,
            trusted_from_run: false,
            to_check: Vec::new(),
            lifetime: Lifetime::default(),
            paused,
            files: FilePlan {
                sequential: files.sequential,
                first_last: files.first_last,
                ..FilePlan::default()
            },
            rates: rates.clone(),
            super_seeding: false,
            snapshots: cell.clone(),
            line: side.line,
            reports: Some(self.reports_tx.clone()),
            borrowed: Default::default(),
        };
        let extra = opts.peers.clone();
        let log = self.listen_log.clone();
        let only = files.only;
        let run = torrent::run_magnet(
            start,
            (magnet.clone(), known),
            extra,
            opts,
            false,
            log,
            side.commands,
            only,
        );
        let task = self.spawn_task(id, run);
        self.slots.push(Slot {
            id,
            info_hash: magnet.info_hash,
            save_path,
            added,
            queue_position: self.next_queue_position(),
            commands: ends.commands,
            snapshots: Some(cell),
            line: ends.line,
            state: SlotState::Running { task },
            meta: None,
            last: None,
            ignore_ended: 0,
            policy: policy::SlotPolicy::new(Kept::default(), 0),
            rates: SlotRates::Shared(Box::new(rates)),
        });
    }
}

/// Up to this many saved torrents, each that starts asleep gets its own line in the log.
const SAY_EACH_DORMANT: usize = 1000;

/// What a torrent's task would have said at its start, for one that starts asleep.
fn said_asleep(slot: &Slot) -> String {
    let n = slot.meta.as_ref().map_or(0, |m| m.info.num_pieces());
    let name = slot.meta.as_ref().map_or("", |m| m.info.name.as_str());
    format!(
        "torrent {} ({name}): from the saved resume data (files unchanged): {n} of {n} pieces \
         verified; dormant until a peer, its announce or a command wakes it",
        slot.id
    )
}
