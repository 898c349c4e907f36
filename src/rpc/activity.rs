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
    id: TorrentId,
    state: &'static str,
    verified: u64,
    downloaded: u64,
    uploaded: u64,
    /// A rate at or above 1 B/s: active at every fold while its line says so.
    moving: bool,
    /// Unix seconds of the last change of any of the above or a rate above 0.
    active: u64,
}

impl Seen {
    /// A torrent seen for the first time.
    fn first(t: &TorrentLine, now: u64) -> Self {
        let moving = t.down_rate >= 1.0 || t.up_rate >= 1.0;
        Seen {
            id: t.id,
            state: t.state.label(),
            verified: t.verified_bytes,
            downloaded: t.downloaded,
            uploaded: t.uploaded,
            moving,
            active: if moving || matches!(t.state, TorrentState::Checking { .. }) {
                now
            } else {
                t.completed.unwrap_or(t.added).max(t.added)
            },
        }
    }

    /// The same torrent's line again.
    fn next(&self, t: &TorrentLine, now: u64) -> Self {
        let mut seen = Seen::first(t, now);
        let changed = self.state != seen.state
            || self.verified != seen.verified
            || self.downloaded != seen.downloaded
            || self.uploaded != seen.uploaded;
        seen.active = if changed || seen.moving {
            now
        } else {
            self.active
        };
        seen
    }

    fn recent(&self, now: u64) -> bool {
        now.saturating_sub(self.active) <= RECENT.as_secs()
    }
}

/// The line-up asked about is not the one folded last (it was just published).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NotFolded;

/// The fold, shared by the RPC's requests.
#[derive(Debug, Default)]
pub(crate) struct Activity {
    /// Per line of `folded`, in its order.
    seen: Vec<Seen>,
    /// Where each torrent sits in `folded`.
    at: HashMap<TorrentId, usize>,
    /// The line-up folded last.
    folded: Option<Arc<SessionSnapshot>>,
    /// The lines of `folded` active within [`RECENT`] when it was folded, in its order: a
    /// torrent becomes active only at a fold, so these are all that can be recent now.
    recent: Vec<usize>,
    /// The lines of `folded` whose rates said they were moving.
    moving: Vec<usize>,
    removed: Vec<(TorrentId, u64)>,
    /// Bytes counted since the server started (lifetime counters' growth).
    pub(crate) downloaded: u64,
    pub(crate) uploaded: u64,
    pub(crate) added: u64,
    primed: bool,
}

pub(crate) type Shared = Arc<Mutex<Activity>>;

impl Activity {
    /// Folds one line-up in at `now` (Unix seconds). The session shares each line it did
    /// not change between two line-ups, so when the torrents are those folded last (more
    /// may have come at the end), only the lines it made anew are read: at 100,000 torrents
    /// a fold of every line into a new map, twice a second, was a sixth of a core.
    pub(crate) fn fold(&mut self, snap: &Arc<SessionSnapshot>, now: u64) {
        if !self.fold_changes(snap, now) {
            self.fold_all(snap, now);
        }
        self.finish(snap, now);
    }

    /// What every fold ends with: removals forgotten after a while, the line-up kept.
    fn finish(&mut self, snap: &Arc<SessionSnapshot>, now: u64) {
        self.removed
            .retain(|(_, at)| now.saturating_sub(*at) <= RECENT.as_secs());
        if self.removed.len() > MAX_REMOVED {
            let cut = self.removed.len() - MAX_REMOVED;
            self.removed.drain(..cut);
        }
        self.folded = Some(Arc::clone(snap));
        self.primed = true;
    }

    /// Folds in the lines changed since the line-up folded last; false (and nothing
    /// changed) when the torrents are not those, in the same order.
    fn fold_changes(&mut self, snap: &Arc<SessionSnapshot>, now: u64) -> bool {
        let Some(old) = &self.folded else {
            return false;
        };
        let (old, new) = (&old.torrents, &snap.torrents);
        if new.len() < old.len() || self.seen.len() != old.len() {
            return false;
        }
        let changed: Vec<usize> = (0..old.len())
            .filter(|&i| !Arc::ptr_eq(&old[i], &new[i]))
            .collect();
        if changed.iter().any(|&i| new[i].id != self.seen[i].id) {
            return false;
        }
        let mut recent: Vec<usize> = std::mem::take(&mut self.recent);
        let mut moving = Vec::new();
        for &i in &changed {
            let seen = self.seen[i].next(&new[i], now);
            self.downloaded += seen.downloaded.saturating_sub(self.seen[i].downloaded);
            self.uploaded += seen.uploaded.saturating_sub(self.seen[i].uploaded);
            self.seen[i] = seen;
        }
        // A line shared unchanged whose rates said it moved is active still.
        for &i in &self.moving {
            if Arc::ptr_eq(&old[i], &new[i]) {
                self.seen[i].active = now;
            }
        }
        for t in &new[old.len()..] {
            self.added += u64::from(self.primed);
            self.at.insert(t.id, self.seen.len());
            self.seen.push(Seen::first(t, now));
        }
        recent.extend(changed.iter().copied());
        recent.extend(old.len()..new.len());
        recent.extend(self.moving.iter().copied());
        recent.sort_unstable();
        recent.dedup();
        recent.retain(|&i| self.seen[i].recent(now));
        moving.extend(
            changed
                .into_iter()
                .chain(self.moving.iter().copied())
                .chain(old.len()..new.len())
                .filter(|&i| self.seen[i].moving),
        );
        moving.sort_unstable();
        moving.dedup();
        self.recent = recent;
        self.moving = moving;
        true
    }

    /// Folds in every line: the first line-up, or one where torrents left or moved.
    fn fold_all(&mut self, snap: &Arc<SessionSnapshot>, now: u64) {
        let mut seen = Vec::with_capacity(snap.torrents.len());
        let mut at = HashMap::with_capacity(snap.torrents.len());
        for (i, t) in snap.torrents.iter().enumerate() {
            let next = match self.at.get(&t.id).and_then(|&j| self.seen.get(j)) {
                Some(old) => {
                    self.downloaded += t.downloaded.saturating_sub(old.downloaded);
                    self.uploaded += t.uploaded.saturating_sub(old.uploaded);
                    old.next(t, now)
                }
                None => {
                    // New since the first fold: added while the server runs.
                    self.added += u64::from(self.primed);
                    Seen::first(t, now)
                }
            };
            seen.push(next);
            at.insert(t.id, i);
        }
        for old in &self.seen {
            if !at.contains_key(&old.id) {
                self.removed.push((old.id, now));
            }
        }
        self.recent = (0..seen.len()).filter(|&i| seen[i].recent(now)).collect();
        self.moving = (0..seen.len()).filter(|&i| seen[i].moving).collect();
        self.seen = seen;
        self.at = at;
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
                .map(|&i| &self.seen[i])
                .filter(|s| s.recent(now))
                .map(|s| s.id)
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
        Ok(self
            .at
            .get(&id)
            .and_then(|&i| snap.torrents.get(i))
            .map(|t| &**t)
            .filter(|t| t.id == id))
    }

    /// Unix seconds of the torrent's last change the fold saw (0: never seen): what
    /// `recently-active` is judged by.
    #[cfg(test)]
    pub(crate) fn active(&self, id: TorrentId) -> u64 {
        self.seen_of(id).map_or(0, |s| s.active)
    }

    pub(crate) fn recent(&self, id: TorrentId, now: u64) -> bool {
        self.seen_of(id).is_some_and(|s| s.recent(now))
    }

    fn seen_of(&self, id: TorrentId) -> Option<&Seen> {
        self.at.get(&id).and_then(|&i| self.seen.get(i))
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

    /// Folding only the changed lines leaves what folding every line leaves, through
    /// lines changed, shared unchanged, moving, added and removed.
    #[test]
    fn a_fold_of_the_changes_is_a_fold_of_everything() {
        use rand::rngs::StdRng;
        use rand::{Rng, SeedableRng};
        let mut rng = StdRng::seed_from_u64(58);
        let mut next_id = 0;
        let mut lines: Vec<Arc<TorrentLine>> = (0..40)
            .map(|_| {
                next_id += 1;
                Arc::new(line(next_id))
            })
            .collect();
        let (mut part, mut all) = (Activity::default(), Activity::default());
        let mut now = 5000;
        for step in 0..2000 {
            now += rng.gen_range(0..20);
            for _ in 0..rng.gen_range(0..4) {
                let i = rng.gen_range(0..lines.len());
                let t = Arc::make_mut(&mut lines[i]);
                match rng.gen_range(0..4) {
                    0 => t.uploaded += 100,
                    1 => t.up_rate = [0.0, 0.5, 200.0][rng.gen_range(0..3)],
                    2 => t.state = TorrentState::Paused,
                    _ => t.name.push('x'),
                }
            }
            if rng.gen_bool(0.1) {
                next_id += 1;
                lines.push(Arc::new(line(next_id)));
            }
            if rng.gen_bool(0.03) && lines.len() > 1 {
                lines.remove(rng.gen_range(0..lines.len()));
            }
            let snap = Arc::new(SessionSnapshot {
                torrents: lines.clone(),
                ..SessionSnapshot::default()
            });
            part.fold(&snap, now);
            all.fold_all(&snap, now);
            all.finish(&snap, now);
            for t in &lines {
                assert_eq!(part.active(t.id), all.active(t.id), "step {step}");
            }
            assert_eq!(
                part.recently_active(&snap, now + 5),
                all.recently_active(&snap, now + 5),
                "step {step}"
            );
            assert_eq!(part.removed(now), all.removed(now), "step {step}");
            assert_eq!(
                (part.uploaded, part.downloaded, part.added),
                (all.uploaded, all.downloaded, all.added),
                "step {step}"
            );
        }
    }
}
