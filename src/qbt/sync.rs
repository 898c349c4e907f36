//! `sync/maindata?rid=N`: qBittorrent's incremental sync (`synccontroller.cpp`). A UI
//! polls it every second; an answer carries only the torrents, fields, categories, tags
//! and `server_state` keys that changed since the `rid` the client last got.
//!
//! Why no per-client copy of what was sent (qBittorrent keeps one per session): a `rid`
//! here is a revision of one shared change log, not a counter per client. The line-up is
//! folded into the log lazily, on the first sync call after the session publishes a new
//! one (once a tick at most, however many clients poll). A fold touches only the lines
//! that changed since the publication folded before: each line carries the publication at
//! which it last changed (`TorrentLine::rev`), so the others are passed over with one
//! comparison of two numbers, and `server_state`'s sums are kept by adding what each
//! changed line changed. A changed line is turned into its object by `torrents::Info`
//! (the object `torrents/info` gives) and diffed key by key. A client at revision `r` then
//! gets the union of the keys changed after `r`, with their current values. So a call's
//! cost grows with what changed, not with the library (at 10,000 torrents the walk and the
//! sums over every line were most of an incremental call: tests/bench/qbt_api.sh), and no
//! state grows with the clients. Every object is built again only when the categories'
//! names change (a row's category and tags depend on them) or the line-up carries no
//! revisions (a test's hand-made one). The catalog comes with the line-up
//! (`SessionSnapshot::catalog`), so a call asks the session nothing.
//! The log keeps [`MAX_REVISIONS`] revisions and at most [`MAX_ENTRIES`] changes; an
//! older, unknown or future `rid` gets a full update, as in qBittorrent.
//!
//! Clock fields (`time_active`, `seeding_time`) move every second for
//! every torrent (a seed's `seeding_time` is read from its line's `SeedClock`);
//! they are not counted as changes (else every poll would carry the whole library), and
//! are read fresh (from the `Clocks` kept beside each object) with a torrent's other
//! changes and in full updates.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};

use serde_json::{json, Map, Value};

use super::torrents::Clocks;
use super::Ctx;
use crate::engine::api::{Catalog, SessionSnapshot, TorrentId, TorrentLine};
use crate::protocol::hex;

/// Revisions the log remembers; a client further behind gets a full update.
pub(crate) const MAX_REVISIONS: usize = 256;
/// Changes (torrent or key) the log holds at most across its revisions.
pub(crate) const MAX_ENTRIES: usize = 200_000;

/// What changed in one revision.
#[derive(Debug, Default)]
struct Revision {
    rev: u64,
    /// Hash → the keys that changed (all keys for a new torrent).
    torrents: HashMap<String, Vec<String>>,
    torrents_removed: Vec<String>,
    categories: Vec<String>,
    categories_removed: Vec<String>,
    tags: Vec<String>,
    tags_removed: Vec<String>,
    server: Vec<String>,
}

impl Revision {
    fn size(&self) -> usize {
        1 + self.torrents.values().map(|k| k.len()).sum::<usize>()
            + self.torrents_removed.len()
            + self.categories.len()
            + self.categories_removed.len()
            + self.tags.len()
            + self.tags_removed.len()
            + self.server.len()
    }

    fn is_empty(&self) -> bool {
        self.size() == 1
    }
}

/// What one torrent adds to `server_state`'s sums.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Counts {
    downloaded: u64,
    uploaded: u64,
    /// What the session's ratio divides by (`SessionSnapshot::ratio`'s base).
    ratio_base: u64,
    peers: u64,
}

impl Counts {
    fn of(t: &TorrentLine) -> Counts {
        Counts {
            downloaded: t.downloaded,
            uploaded: t.uploaded,
            ratio_base: if t.downloaded > 0 {
                t.downloaded
            } else {
                t.verified_bytes
            },
            peers: u64::from(t.peers),
        }
    }

    fn add(&mut self, c: Counts) {
        self.downloaded = self.downloaded.wrapping_add(c.downloaded);
        self.uploaded = self.uploaded.wrapping_add(c.uploaded);
        self.ratio_base = self.ratio_base.wrapping_add(c.ratio_base);
        self.peers = self.peers.wrapping_add(c.peers);
    }

    /// Takes away what `add` added (wrapping both ways, so the sums stay exact).
    fn sub(&mut self, c: Counts) {
        self.downloaded = self.downloaded.wrapping_sub(c.downloaded);
        self.uploaded = self.uploaded.wrapping_sub(c.uploaded);
        self.ratio_base = self.ratio_base.wrapping_sub(c.ratio_base);
        self.peers = self.peers.wrapping_sub(c.peers);
    }
}

/// A torrent as last folded.
#[derive(Debug)]
struct Folded {
    hash: String,
    counts: Counts,
}

/// The current state and the log of its changes, shared by every client.
#[derive(Debug, Default)]
pub(crate) struct Log {
    /// The line-up last folded (compared by pointer first).
    last: Option<Arc<SessionSnapshot>>,
    /// Each torrent folded, by id.
    folded: HashMap<TorrentId, Folded>,
    /// Hash → the torrent's object as last folded.
    torrents: HashMap<String, Map<String, Value>>,
    /// Hash → what its clock fields are read from at each answer.
    clocks: HashMap<String, Clocks>,
    /// `server_state`'s sums over `folded`.
    totals: Counts,
    /// The categories' names the objects were built with.
    category_names: Vec<String>,
    categories: BTreeMap<String, Value>,
    tags: BTreeSet<String>,
    server: Map<String, Value>,
    /// The newest revision (0: nothing folded yet).
    rev: u64,
    revisions: VecDeque<Revision>,
    entries: usize,
    /// Torrents' objects built so far: what a fold cost (the tests' measure of it).
    built: u64,
}

pub(crate) type Shared = Arc<Mutex<Log>>;

/// The categories maindata lists: name → `{name, savePath}`, from the session's catalog.
pub(crate) fn categories(catalog: &Catalog) -> BTreeMap<String, Value> {
    catalog
        .categories
        .iter()
        .map(|c| {
            let path = c.save_path.as_ref().map(|d| d.display().to_string());
            (
                c.name.clone(),
                json!({ "name": c.name, "savePath": path.unwrap_or_default() }),
            )
        })
        .collect()
}

/// `server_state` (qBittorrent's keys) from the line-up's head and the sums over its lines.
fn server_state(snap: &SessionSnapshot, totals: Counts, max_peers: usize) -> Map<String, Value> {
    let free = free_space(&snap.default_save_path);
    let ratio = if totals.ratio_base == 0 {
        0.0
    } else {
        totals.uploaded as f64 / totals.ratio_base as f64
    };
    let value = json!({
        "dl_info_speed": snap.down_rate as u64,
        "up_info_speed": snap.up_rate as u64,
        "dl_info_data": totals.downloaded,
        "up_info_data": totals.uploaded,
        "alltime_dl": totals.downloaded,
        "alltime_ul": totals.uploaded,
        "dl_rate_limit": snap.down_limit,
        "up_rate_limit": snap.up_limit,
        "dht_nodes": snap.dht_nodes.unwrap_or(0),
        "connection_status": if snap.listen_port == 0 { "firewalled" } else { "connected" },
        "free_space_on_disk": free,
        "queueing": true,
        "use_alt_speed_limits": snap.turtle,
        "refresh_interval": 1500,
        "global_ratio": format!("{ratio:.2}"),
        "total_peer_connections": totals.peers,
        "use_subcategories": false,
        "max_peers": max_peers,
    });
    match value {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// Free bytes where new torrents are saved (0 when it cannot be told).
fn free_space(dir: &std::path::Path) -> u64 {
    rustix::fs::statvfs(dir).map_or(0, |v| v.f_bavail.saturating_mul(v.f_frsize))
}

fn changed_keys(old: &Map<String, Value>, new: &Map<String, Value>) -> Vec<String> {
    new.iter()
        .filter(|(k, v)| !Clocks::is_clock(k) && old.get(*k) != Some(*v))
        .map(|(k, _)| k.clone())
        .collect()
}

/// Every torrent's object as kept, its clock fields read at `at` (written, not copied).
struct Fresh<'a> {
    log: &'a Log,
    at: u64,
}

impl serde::Serialize for Fresh<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(self.log.torrents.len()))?;
        for (hash, object) in &self.log.torrents {
            let clocks = self.log.clocks.get(hash).map(|c| c.at(self.at));
            map.serialize_entry(hash, &Object { object, clocks })?;
        }
        map.end()
    }
}

/// One object with its clock fields replaced.
struct Object<'a> {
    object: &'a Map<String, Value>,
    clocks: Option<Vec<(&'static str, Value)>>,
}

impl serde::Serialize for Object<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(self.object.len()))?;
        for (k, v) in self.object {
            match self.clocks.iter().flatten().find(|(c, _)| c == k) {
                Some((_, fresh)) => map.serialize_entry(k, fresh)?,
                None => map.serialize_entry(k, v)?,
            }
        }
        map.end()
    }
}

impl Log {
    /// Folds the line-up in if it is new; a revision is made only when something changed.
    fn fold(&mut self, snap: &Arc<SessionSnapshot>, max_peers: usize) {
        if self.last.as_ref().is_some_and(|l| Arc::ptr_eq(l, snap)) {
            return;
        }
        let now = crate::engine::api::unix_now();
        let catalog = &*snap.catalog;
        let names: Vec<String> = catalog.categories.iter().map(|c| c.name.clone()).collect();
        // Only lines that changed after the publication folded before, when the line-up
        // says (the session numbers its publications from 1) and the rows' categories hold.
        let after = match &self.last {
            Some(l) if l.rev > 0 && snap.rev > l.rev && names == self.category_names => Some(l.rev),
            _ => None,
        };
        let mut r = Revision {
            rev: self.rev + 1,
            ..Revision::default()
        };
        for t in &snap.torrents {
            if after.is_some_and(|after| t.rev <= after) {
                continue;
            }
            self.fold_line(t, now, catalog, &mut r);
        }
        // A line passed over was folded before, and every other one is folded now: every
        // torrent listed is folded, so more folded than listed means some went, and only
        // then is there a walk to find them.
        if after.is_none() || self.folded.len() > snap.torrents.len() {
            let listed: HashSet<TorrentId> = snap.torrents.iter().map(|t| t.id).collect();
            let gone: Vec<TorrentId> = self
                .folded
                .keys()
                .filter(|id| !listed.contains(id))
                .copied()
                .collect();
            let gone: Vec<Folded> = gone
                .iter()
                .filter_map(|id| self.folded.remove(id))
                .collect();
            // A torrent removed and added back (a new id, the same hash) keeps its object:
            // only a hash no listed torrent has is gone for the clients.
            let held: HashSet<&str> = if gone.is_empty() {
                HashSet::new()
            } else {
                self.folded.values().map(|f| f.hash.as_str()).collect()
            };
            let mut removed = Vec::new();
            for f in gone {
                self.totals.sub(f.counts);
                if !held.contains(f.hash.as_str()) {
                    removed.push(f.hash);
                }
            }
            for hash in removed {
                self.torrents.remove(&hash);
                self.clocks.remove(&hash);
                r.torrents.remove(&hash);
                r.torrents_removed.push(hash);
            }
        }
        self.last = Some(Arc::clone(snap));
        self.category_names = names;

        let tags: BTreeSet<String> = catalog.tags.iter().cloned().collect();
        let categories = categories(catalog);
        for (name, v) in &categories {
            if self.categories.get(name) != Some(v) {
                r.categories.push(name.clone());
            }
        }
        for name in self.categories.keys() {
            if !categories.contains_key(name) {
                r.categories_removed.push(name.clone());
            }
        }
        self.categories = categories;
        r.tags = tags.difference(&self.tags).cloned().collect();
        r.tags_removed = self.tags.difference(&tags).cloned().collect();
        self.tags = tags;

        let server = server_state(snap, self.totals, max_peers);
        r.server = changed_keys(&self.server, &server);
        self.server = server;

        if r.is_empty() {
            return;
        }
        self.rev = r.rev;
        self.entries += r.size();
        self.revisions.push_back(r);
        while self.revisions.len() > MAX_REVISIONS || self.entries > MAX_ENTRIES {
            match self.revisions.pop_front() {
                Some(old) => self.entries -= old.size(),
                None => break,
            }
        }
    }

    /// Builds `t`'s object and notes in `r` what changed.
    fn fold_line(&mut self, t: &Arc<TorrentLine>, now: u64, catalog: &Catalog, r: &mut Revision) {
        let hash = hex::encode(&t.info_hash);
        self.built += 1;
        let Value::Object(object) = super::torrents::row(t, now, catalog) else {
            return;
        };
        let counts = Counts::of(t);
        if let Some(before) = self.folded.insert(
            t.id,
            Folded {
                hash: hash.clone(),
                counts,
            },
        ) {
            self.totals.sub(before.counts);
            if before.hash != hash {
                // Renamed (a magnet learned its SHA-1 name): gone under the old name.
                self.torrents.remove(&before.hash);
                self.clocks.remove(&before.hash);
                r.torrents.remove(&before.hash);
                r.torrents_removed.push(before.hash);
            }
        }
        self.totals.add(counts);
        match self.torrents.get(&hash) {
            Some(old) => {
                let keys = changed_keys(old, &object);
                if !keys.is_empty() {
                    r.torrents.insert(hash.clone(), keys);
                }
            }
            None => {
                r.torrents
                    .insert(hash.clone(), object.keys().cloned().collect());
            }
        }
        self.clocks.insert(hash.clone(), Clocks::of(t));
        self.torrents.insert(hash, object);
    }

    /// Whether changes since `rid` are all in the log.
    fn knows(&self, rid: u64) -> bool {
        let oldest = self.revisions.front().map_or(self.rev, |r| r.rev - 1);
        rid != 0 && rid <= self.rev && rid >= oldest
    }

    /// Every torrent, written from the objects kept (none copied).
    fn full(&self) -> Vec<u8> {
        self.full_at(crate::engine::api::unix_now())
    }

    /// A full update with the clock fields as of `at` (Unix seconds).
    fn full_at(&self, at: u64) -> Vec<u8> {
        #[derive(serde::Serialize)]
        struct Full<'a> {
            rid: u64,
            full_update: bool,
            torrents: Fresh<'a>,
            categories: &'a BTreeMap<String, Value>,
            tags: &'a BTreeSet<String>,
            server_state: &'a Map<String, Value>,
        }
        let full = Full {
            rid: self.rev,
            full_update: true,
            torrents: Fresh { log: self, at },
            categories: &self.categories,
            tags: &self.tags,
            server_state: &self.server,
        };
        serde_json::to_vec(&full).unwrap_or_default()
    }

    fn since(&self, rid: u64) -> Value {
        let at = crate::engine::api::unix_now();
        let mut keys: HashMap<&str, BTreeSet<&str>> = HashMap::new();
        let mut removed = BTreeSet::new();
        let (mut cats, mut cats_removed) = (BTreeSet::new(), BTreeSet::new());
        let (mut tags, mut tags_removed) = (BTreeSet::new(), BTreeSet::new());
        let mut server = BTreeSet::new();
        for r in self.revisions.iter().filter(|r| r.rev > rid) {
            for (h, ks) in &r.torrents {
                keys.entry(h.as_str())
                    .or_default()
                    .extend(ks.iter().map(String::as_str));
            }
            removed.extend(r.torrents_removed.iter().map(String::as_str));
            cats.extend(r.categories.iter().map(String::as_str));
            cats_removed.extend(r.categories_removed.iter().map(String::as_str));
            tags.extend(r.tags.iter().map(String::as_str));
            tags_removed.extend(r.tags_removed.iter().map(String::as_str));
            server.extend(r.server.iter().map(String::as_str));
        }
        let mut out = Map::new();
        out.insert("rid".into(), json!(self.rev));
        let mut torrents = Map::new();
        for (h, ks) in keys {
            // Gone again since: only its removal is told.
            let Some(now) = self.torrents.get(h) else {
                continue;
            };
            let mut o: Map<String, Value> = ks
                .iter()
                .filter_map(|k| Some((k.to_string(), now.get(*k)?.clone())))
                .collect();
            if let Some(c) = self.clocks.get(h) {
                for (k, v) in c.at(at) {
                    o.insert(k.to_string(), v);
                }
            }
            torrents.insert(h.to_string(), Value::Object(o));
        }
        // Removed and added back since: it is in `torrents` with all its keys.
        removed.retain(|h| !self.torrents.contains_key(*h));
        cats_removed.retain(|c| !self.categories.contains_key(*c));
        tags.retain(|t| self.tags.contains(*t));
        tags_removed.retain(|t| !self.tags.contains(*t));
        let cats: Map<String, Value> = cats
            .iter()
            .filter_map(|c| Some((c.to_string(), self.categories.get(*c)?.clone())))
            .collect();
        let server: Map<String, Value> = server
            .iter()
            .filter_map(|k| Some((k.to_string(), self.server.get(*k)?.clone())))
            .collect();
        let parts = [
            ("torrents", torrents.is_empty(), Value::Object(torrents)),
            ("torrents_removed", removed.is_empty(), json!(removed)),
            ("categories", cats.is_empty(), Value::Object(cats)),
            (
                "categories_removed",
                cats_removed.is_empty(),
                json!(cats_removed),
            ),
            ("tags", tags.is_empty(), json!(tags)),
            ("tags_removed", tags_removed.is_empty(), json!(tags_removed)),
            ("server_state", server.is_empty(), Value::Object(server)),
        ];
        // Only what changed is named, as in qBittorrent.
        for (key, empty, value) in parts {
            if !empty {
                out.insert(key.into(), value);
            }
        }
        Value::Object(out)
    }
}

/// `sync/maindata`: a full update for `rid` 0 or one the log does not know, else only what
/// changed since; the answer's JSON bytes.
pub(crate) fn maindata(ctx: &Ctx, rid: Option<i64>) -> Vec<u8> {
    let snap = ctx.client.head();
    let Ok(mut log) = ctx.sync.lock() else {
        return br#"{"rid":0,"full_update":true}"#.to_vec();
    };
    answer(&mut log, &snap, ctx.facts.max_peers, rid)
}

/// The answer to `rid` once `snap` is folded into `log`.
fn answer(
    log: &mut Log,
    snap: &Arc<SessionSnapshot>,
    max_peers: usize,
    rid: Option<i64>,
) -> Vec<u8> {
    log.fold(snap, max_peers);
    match rid {
        Some(rid) if rid > 0 && log.knows(rid as u64) => {
            serde_json::to_vec(&log.since(rid as u64)).unwrap_or_default()
        }
        _ => log.full(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::api::{Category, TorrentState};

    /// `n` seeds, each line last changed at publication 1, as the session publishes them.
    fn lineup(n: u32) -> SessionSnapshot {
        let torrents = (1..=n)
            .map(|i| {
                let mut t = TorrentLine::placeholder(TorrentId(i));
                t.info_hash[..4].copy_from_slice(&i.to_be_bytes());
                t.name = format!("t{i}");
                t.state = TorrentState::Seeding;
                (t.total_bytes, t.wanted_bytes, t.verified_bytes) = (10, 10, 10);
                t.uploaded = 1;
                t.rev = 1;
                t
            })
            .map(Arc::new)
            .collect();
        SessionSnapshot {
            torrents,
            rev: 1,
            ..SessionSnapshot::default()
        }
    }

    /// The next publication: `change` applied, every line it changed numbered with it.
    fn next(
        prev: &Arc<SessionSnapshot>,
        change: impl FnOnce(&mut SessionSnapshot),
    ) -> Arc<SessionSnapshot> {
        let mut s = (**prev).clone();
        s.rev = prev.rev + 1;
        change(&mut s);
        for t in &mut s.torrents {
            let before = prev.torrents.iter().find(|p| p.id == t.id);
            if before.is_none_or(|p| {
                TorrentLine {
                    rev: p.rev,
                    ..TorrentLine::clone(t)
                } != **p
            }) {
                Arc::make_mut(t).rev = s.rev;
            }
        }
        Arc::new(s)
    }

    fn call(log: &mut Log, snap: &Arc<SessionSnapshot>, rid: u64) -> Value {
        serde_json::from_slice(&answer(log, snap, 7, Some(rid as i64))).unwrap()
    }

    /// A seed's clock fields move while its line does not: a full update reads them at its
    /// own time, not the fold's.
    #[test]
    fn a_full_update_reads_the_clocks_at_its_own_time() {
        let mut log = Log::default();
        let mut lines = lineup(2);
        let now = crate::engine::api::unix_now();
        Arc::make_mut(&mut lines.torrents[0]).seeding = crate::engine::api::SeedClock::Running {
            zero_at: now - 3600,
        };
        Arc::make_mut(&mut lines.torrents[0]).added = now - 7200;
        Arc::make_mut(&mut lines.torrents[0]).seen_complete = crate::engine::api::SeenComplete::NOW;
        let snap = Arc::new(lines);
        let first = call(&mut log, &snap, 0);
        let hash = hex::encode(&snap.torrents[0].info_hash);
        let seeded = first["torrents"][&hash]["seeding_time"].as_u64().unwrap();
        assert!((3600..3660).contains(&seeded), "{seeded}");
        let later: Value = serde_json::from_slice(&log.full_at(now + 600)).unwrap();
        let t = &later["torrents"][&hash];
        assert_eq!(t["seeding_time"], 4200, "{t}");
        assert_eq!(t["time_active"], 7800, "{t}");
        assert_eq!(t["last_activity"], now - 7200, "{t}");
        // A full copy there now is seen at the answer's time; the other never was (-1).
        assert_eq!(t["seen_complete"], now + 600, "{t}");
        let other = hex::encode(&snap.torrents[1].info_hash);
        assert_eq!(later["torrents"][&other]["seen_complete"], -1, "{later}");
        assert_eq!(t["name"], "t1", "the other keys as kept");
    }

    /// Removed and added back between two polls (a new id, the same hash): the full update
    /// and the next incremental one both keep it; a paused torrent changes nothing else
    /// that would bring it back.
    #[test]
    fn a_torrent_removed_and_added_back_between_polls_stays_listed() {
        let mut log = Log::default();
        let first = Arc::new(lineup(3));
        let full = call(&mut log, &first, 0);
        let rid = full["rid"].as_u64().unwrap();
        let hash = hex::encode(&first.torrents[1].info_hash);
        let second = next(&first, |s| {
            let mut again = TorrentLine::clone(&s.torrents[1]);
            again.id = TorrentId(9);
            s.torrents.remove(1);
            s.torrents.push(Arc::new(again));
        });
        let diff = call(&mut log, &second, rid);
        assert!(
            !diff["torrents_removed"]
                .as_array()
                .is_some_and(|r| r.iter().any(|h| h == hash.as_str())),
            "{diff}"
        );
        let full = call(&mut log, &second, 0);
        assert_eq!(full["torrents"][&hash]["name"], "t2", "{full}");
        assert_eq!(full["torrents"].as_object().map(|t| t.len()), Some(3));
        assert_eq!(full["server_state"]["up_info_data"], 3, "{full}");
        // Removed for good: told once, and gone from the full update.
        let rid = diff["rid"].as_u64().unwrap();
        let third = next(&second, |s| {
            s.torrents.retain(|t| t.id != TorrentId(9));
        });
        let diff = call(&mut log, &third, rid);
        assert_eq!(diff["torrents_removed"], json!([hash]), "{diff}");
        let full = call(&mut log, &third, 0);
        assert_eq!(full["torrents"].as_object().map(|t| t.len()), Some(2));
    }

    #[test]
    fn an_incremental_fold_builds_only_the_lines_that_changed() {
        const N: u32 = 10_000;
        let mut log = Log::default();
        let first = Arc::new(lineup(N));
        let full = call(&mut log, &first, 0);
        assert_eq!(
            full["torrents"].as_object().map(|t| t.len()),
            Some(N as usize)
        );
        assert_eq!(log.built, u64::from(N));
        assert_eq!(full["server_state"]["up_info_data"], u64::from(N));
        let rid = full["rid"].as_u64().unwrap();

        // One torrent uploads: one object built, not 10,000.
        let second = next(&first, |s| {
            Arc::make_mut(&mut s.torrents[1234]).uploaded = 501
        });
        let diff = call(&mut log, &second, rid);
        assert_eq!(
            log.built,
            u64::from(N) + 1,
            "only the changed line is built"
        );
        let torrents = diff["torrents"].as_object().unwrap();
        assert_eq!(torrents.len(), 1, "{diff}");
        let (_, changed) = torrents.iter().next().unwrap();
        assert_eq!(changed["uploaded"], 501);
        assert_eq!(diff["server_state"]["up_info_data"], u64::from(N) + 500);
        let rid = diff["rid"].as_u64().unwrap();

        // Only the head changed: nothing built, no torrent told.
        let third = next(&second, |s| s.down_rate = 5.0);
        let diff = call(&mut log, &third, rid);
        assert_eq!(log.built, u64::from(N) + 1);
        assert_eq!(diff["torrents"], Value::Null, "{diff}");
        let rid = diff["rid"].as_u64().unwrap();

        // One removed and one added: the removal found, the new one built.
        let fourth = next(&third, |s| {
            let gone = s.torrents.remove(10);
            assert_eq!(gone.id, TorrentId(11));
            let mut t = s.torrents[0].clone();
            Arc::make_mut(&mut t).id = TorrentId(N + 1);
            Arc::make_mut(&mut t).info_hash = [0xee; 20];
            Arc::make_mut(&mut t).uploaded = 3;
            s.torrents.push(t);
        });
        let diff = call(&mut log, &fourth, rid);
        assert_eq!(log.built, u64::from(N) + 2);
        let mut gone = [0u8; 20];
        gone[..4].copy_from_slice(&11u32.to_be_bytes());
        assert_eq!(
            diff["torrents_removed"],
            json!([hex::encode(&gone)]),
            "{diff}"
        );
        assert!(diff["torrents"].get("ee".repeat(20)).is_some(), "{diff}");
        // The sums kept by difference are the sums over every line.
        let up: u64 = fourth.torrents.iter().map(|t| t.uploaded).sum();
        assert_eq!(diff["server_state"]["up_info_data"], up);
        let rid = diff["rid"].as_u64().unwrap();

        // A tag more in the catalog: no row depends on tags alone, none built.
        let fifth = next(&fourth, |s| {
            s.catalog = Arc::new(Catalog {
                categories: vec![],
                tags: vec!["hd".into()],
            })
        });
        let diff = call(&mut log, &fifth, rid);
        assert_eq!(log.built, u64::from(N) + 2);
        assert_eq!(diff["tags"], json!(["hd"]));
        let rid = diff["rid"].as_u64().unwrap();

        // A new category: every row's category may change, all are built again.
        let sixth = next(&fifth, |s| {
            s.catalog = Arc::new(Catalog {
                categories: vec![Category {
                    name: "t5".into(),
                    save_path: None,
                    from_config: false,
                }],
                tags: vec!["hd".into()],
            })
        });
        let diff = call(&mut log, &sixth, rid);
        assert_eq!(log.built, u64::from(N) * 2 + 2);
        assert_eq!(diff["categories"]["t5"]["name"], "t5", "{diff}");
    }

    #[test]
    fn a_line_up_without_revisions_is_compared_whole() {
        // A hand-made line-up (rev 0): every fold builds every object, and stays right.
        let mut log = Log::default();
        let mut s = lineup(3);
        s.rev = 0;
        let first = Arc::new(s);
        let rid = call(&mut log, &first, 0)["rid"].as_u64().unwrap();
        let mut s = (*first).clone();
        Arc::make_mut(&mut s.torrents[2]).uploaded = 9;
        let diff = call(&mut log, &Arc::new(s), rid);
        assert_eq!(log.built, 6);
        assert_eq!(
            diff["torrents"].as_object().map(|t| t.len()),
            Some(1),
            "{diff}"
        );
    }
}
