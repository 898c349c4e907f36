//! Saved torrents back into torrents to start: every torrent and magnet in the store, each
//! with its check plan, a move or rename a stop interrupted finished first.

use super::*;

/// Every saved torrent with its check plan. Torrents whose .torrent cannot be read are logged
/// and left where they are (never deleted), so a later version may read them.
pub(super) fn load_all(store: &Store) -> (Vec<SavedTorrent>, Vec<SavedMagnet>) {
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
pub(super) enum Loaded {
    Torrent(Box<SavedTorrent>),
    Magnet(Box<SavedMagnet>),
}

/// A saved torrent ready to start, or None (logged) when its .torrent cannot be used.
pub(super) fn load_one(saved: Saved) -> Option<Loaded> {
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
pub(super) fn magnet_of(link: String, r: &Resume) -> SavedMagnet {
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
pub(super) fn kept_of(r: &Resume) -> Kept {
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
        borrowed: r.borrowed.clone(),
        borrowed_from: String::new(),
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

pub(super) fn from_resume(mut meta: Metainfo, mut r: Resume) -> SavedTorrent {
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
            last_activity: r.last_activity,
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
