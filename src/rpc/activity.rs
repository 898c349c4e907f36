//! What the session's line-up does not keep and Transmission's clients ask: when each
//! torrent was last active (`activityDate`), which torrents were removed lately (`removed`
//! of `recently-active`), and the session's counters since the RPC server started
//! (`session-stats`). Folded from the line-up as it is published (once a tick), on a task of
//! the RPC's own: the engine is never asked. The fold also keeps, for the line-up it
//! folded, where each torrent sits in it and which torrents were active lately, so that a
//! `torrent-get` of `recently-active` (a client's poll every few seconds) costs what it
//! answers, not a walk over the library and a map of it per call.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::engine::api::{SessionSnapshot, TorrentId, TorrentLine, TorrentState};

/// How long a torrent counts as recently active, or a removal as recent (Transmission's
/// `RECENTLY_ACTIVE_SECONDS`).
pub(crate) const RECENT: Duration = Duration::from_secs(60);
/// Removals remembered at most.
const MAX_REMOVED: usize = 10_000;

#[derive(Debug, Clone, PartialEq)]
struct Seen {
    /// Its index in the line-up folded.
    at: usize,
    state: &'static str,
    verified: u64,
    downloaded: u64,
    uploaded: u64,
    /// Unix seconds of the last change of any of the above or a rate above 0.
    active: u64,
}

/// The line-up asked about is not the one folded last (it was just published).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NotFolded;

/// The fold, shared by the RPC's requests.
#[derive(Debug, Default)]
pub(crate) struct Activity {
    seen: HashMap<TorrentId, Seen>,
    /// The line-up folded last.
    folded: Option<Arc<SessionSnapshot>>,
    /// The torrents of `folded` active within [`RECENT`] when it was folded, in its order:
    /// a torrent becomes active only at a fold, so these are all that can be recent now.
    recent: Vec<TorrentId>,
    removed: Vec<(TorrentId, u64)>,
    /// Bytes counted since the server started (lifetime counters' growth).
    pub(crate) downloaded: u64,
    pub(crate) uploaded: u64,
    pub(crate) added: u64,
    primed: bool,
}

pub(crate) type Shared = Arc<Mutex<Activity>>;

impl Activity {
    /// Folds one line-up in at `now` (Unix seconds).
    pub(crate) fn fold(&mut self, snap: &Arc<SessionSnapshot>, now: u64) {
        let mut next = HashMap::with_capacity(snap.torrents.len());
        self.recent.clear();
        for (at, t) in snap.torrents.iter().enumerate() {
            let state = t.state.label();
            let moving = t.down_rate >= 1.0 || t.up_rate >= 1.0;
            let seen = match self.seen.remove(&t.id) {
                Some(old) => {
                    self.downloaded += t.downloaded.saturating_sub(old.downloaded);
                    self.uploaded += t.uploaded.saturating_sub(old.uploaded);
                    let changed = old.state != state
                        || old.verified != t.verified_bytes
                        || old.downloaded != t.downloaded
                        || old.uploaded != t.uploaded;
                    Seen {
                        at,
                        state,
                        verified: t.verified_bytes,
                        downloaded: t.downloaded,
                        uploaded: t.uploaded,
                        active: if changed || moving { now } else { old.active },
                    }
                }
                None => {
                    // New since the first fold: added while the server runs.
                    if self.primed {
                        self.added += 1;
                    }
                    Seen {
                        at,
                        state,
                        verified: t.verified_bytes,
                        downloaded: t.downloaded,
                        uploaded: t.uploaded,
                        active: if moving || matches!(t.state, TorrentState::Checking { .. }) {
                            now
                        } else {
                            t.completed.unwrap_or(t.added).max(t.added)
                        },
                    }
                }
            };
            if now.saturating_sub(seen.active) <= RECENT.as_secs() {
                self.recent.push(t.id);
            }
            next.insert(t.id, seen);
        }
        for id in self.seen.keys() {
            self.removed.push((*id, now));
        }
        self.removed
            .retain(|(_, at)| now.saturating_sub(*at) <= RECENT.as_secs());
        if self.removed.len() > MAX_REMOVED {
            let cut = self.removed.len() - MAX_REMOVED;
            self.removed.drain(..cut);
        }
        self.seen = next;
        self.folded = Some(Arc::clone(snap));
        self.primed = true;
    }

    /// Whether `snap` is the line-up folded last.
    pub(crate) fn has_folded(&self, snap: &Arc<SessionSnapshot>) -> bool {
        self.folded.as_ref().is_some_and(|f| Arc::ptr_eq(f, snap))
    }

    /// The torrents of `snap` active within [`RECENT`] of `now`, in its order; None when
    /// `snap` is not the line-up folded last (just published: the caller walks it).
    pub(crate) fn recently_active(
        &self,
        snap: &Arc<SessionSnapshot>,
        now: u64,
    ) -> Option<Vec<TorrentId>> {
        if !self.has_folded(snap) {
            return None;
        }
        Some(
            self.recent
                .iter()
                .filter(|id| self.recent(**id, now))
                .copied()
                .collect(),
        )
    }

    /// Torrent `id`'s line in `snap`, found without a walk when `snap` is the line-up
    /// folded last (else the caller finds it another way).
    pub(crate) fn line<'a>(
        &self,
        snap: &'a Arc<SessionSnapshot>,
        id: TorrentId,
    ) -> Result<Option<&'a TorrentLine>, NotFolded> {
        if !self.has_folded(snap) {
            return Err(NotFolded);
        }
        let at = self.seen.get(&id).map(|s| s.at);
        Ok(at
            .and_then(|i| snap.torrents.get(i))
            .map(|t| &**t)
            .filter(|t| t.id == id))
    }

    /// Unix seconds of the torrent's last activity (0: never seen).
    pub(crate) fn active(&self, id: TorrentId) -> u64 {
        self.seen.get(&id).map_or(0, |s| s.active)
    }

    pub(crate) fn recent(&self, id: TorrentId, now: u64) -> bool {
        self.seen
            .get(&id)
            .is_some_and(|s| now.saturating_sub(s.active) <= RECENT.as_secs())
    }

    /// Torrents removed within [`RECENT`] of `now`.
    pub(crate) fn removed(&self, now: u64) -> Vec<u32> {
        self.removed
            .iter()
            .filter(|(_, at)| now.saturating_sub(*at) <= RECENT.as_secs())
            .map(|(id, _)| id.0)
            .collect()
    }
}

/// Folds every line-up the session publishes until it stops.
pub(crate) async fn follow(
    mut snapshot: tokio::sync::watch::Receiver<Arc<SessionSnapshot>>,
    shared: Shared,
) {
    loop {
        let snap = snapshot.borrow_and_update().clone();
        if let Ok(mut a) = shared.lock() {
            a.fold(&snap, crate::engine::api::unix_now());
        }
        if snapshot.changed().await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::api::TorrentLine;

    fn line(id: u32) -> TorrentLine {
        TorrentLine {
            added: 1000,
            state: TorrentState::Seeding,
            ..TorrentLine::placeholder(TorrentId(id))
        }
    }

    #[test]
    fn activity_removals_and_counters_follow_the_line_up() {
        let mut a = Activity::default();
        let mut snap = SessionSnapshot {
            torrents: vec![Arc::new(line(1)), Arc::new(line(2))],
            ..SessionSnapshot::default()
        };
        let folded = Arc::new(snap.clone());
        a.fold(&folded, 5000);
        assert_eq!(a.active(TorrentId(1)), 1000);
        assert!(!a.recent(TorrentId(1), 5000));
        assert_eq!(a.recently_active(&folded, 5000), Some(vec![]));
        Arc::make_mut(&mut snap.torrents[0]).uploaded = 300;
        let folded = Arc::new(snap.clone());
        a.fold(&folded, 5010);
        assert_eq!(a.active(TorrentId(1)), 5010);
        assert!(a.recent(TorrentId(1), 5020));
        assert_eq!(a.recently_active(&folded, 5020), Some(vec![TorrentId(1)]));
        assert_eq!(
            a.recently_active(&folded, 5010 + 61),
            Some(vec![]),
            "a minute on"
        );
        let other = Arc::new(snap.clone());
        assert_eq!(a.recently_active(&other, 5020), None, "not the one folded");
        assert_eq!(
            a.line(&folded, TorrentId(2)).map(|l| l.map(|t| t.id)),
            Ok(Some(TorrentId(2)))
        );
        assert_eq!(
            a.line(&folded, TorrentId(9)).map(|l| l.is_some()),
            Ok(false)
        );
        assert!(a.line(&other, TorrentId(2)).is_err());
        assert_eq!(a.uploaded, 300);
        snap.torrents.remove(1);
        a.fold(&Arc::new(snap.clone()), 5020);
        assert_eq!(a.removed(5030), vec![2]);
        assert!(a.removed(5020 + 61).is_empty());
    }
}
