//! The check of what is on disk when a torrent starts: every piece, or only those the restart
//! plan names, hashed off the async threads while the torrent still takes commands (a quit
//! ends it, pause and resume are kept for after).

use super::*;

/// A check of what is on disk: every piece, or `only` these.
pub(super) struct Check<'a> {
    pub(super) storage: &'a Arc<Storage>,
    pub(super) info: &'a Arc<crate::protocol::metainfo::Info>,
    pub(super) threads: usize,
    pub(super) only: Option<&'a [u32]>,
}

impl Check<'_> {
    /// Hashes while commands are still taken: a quit ends it (`Ok(None)`), pause and resume
    /// are remembered for when it ends.
    pub(super) async fn run(
        self,
        snap: &mut Snapshot,
        snapshots: &watch::Sender<Arc<Snapshot>>,
        line: &watch::Sender<TorrentLine>,
        commands: &mut mpsc::UnboundedReceiver<Command>,
        paused_early: &mut bool,
        started: Instant,
    ) -> Result<Option<Bitfield>, String> {
        let checked = Arc::new(AtomicU32::new(0));
        let cancel = Arc::new(AtomicBool::new(false));
        let n = self.info.num_pieces();
        let total = self.only.map_or(n, |o| o.len() as u32);
        let check = {
            let (storage, info, checked, cancel) = (
                Arc::clone(self.storage),
                Arc::clone(self.info),
                Arc::clone(&checked),
                Arc::clone(&cancel),
            );
            let threads = self.threads.max(1);
            let only = self.only.map(<[u32]>::to_vec);
            tokio::task::spawn_blocking(move || {
                let progress = |c| checked.store(c, Ordering::Relaxed);
                match only {
                    None => storage
                        .check_existing(&info, threads, &progress, &cancel)
                        .map(|v| Bitfield::from_bools(&v)),
                    Some(pieces) => storage
                        .check_pieces(&info, &pieces, threads, &progress, &cancel)
                        .map(|good| {
                            let mut have = Bitfield::new(n);
                            for i in good {
                                have.set(i);
                            }
                            have
                        }),
                }
            })
        };
        tokio::pin!(check);
        let mut tick = tokio::time::interval(TICK);
        loop {
            tokio::select! {
                r = &mut check => return match r {
                    Ok(Ok(have)) => Ok(Some(have)),
                    Ok(Err(e)) => Err(e.to_string()),
                    Err(e) => Err(format!("checking files: {e}")),
                },
                c = commands.recv() => match c {
                    None | Some(Command::Quit) => {
                        cancel.store(true, Ordering::Relaxed);
                        return Ok(None);
                    }
                    // Kept for when the check ends; there are no peers to drop or ban yet.
                    Some(c) => *paused_early = pause_wanted(&c, *paused_early).unwrap_or(*paused_early),
                },
                _ = tick.tick() => {
                    snap.state = TorrentState::Checking { checked: checked.load(Ordering::Relaxed), total };
                    snap.elapsed = started.elapsed();
                    line.send_modify(|l| l.state = snap.state.clone());
                    if snapshots.receiver_count() > 0 {
                        let _ = snapshots.send(Arc::new(snap.clone()));
                    }
                }
            }
        }
    }
}
