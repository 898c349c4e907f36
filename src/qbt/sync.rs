//! `sync/maindata?rid=N`: qBittorrent's incremental sync (`synccontroller.cpp`). A UI
//! polls it every second; an answer carries only the torrents, fields, categories, tags
//! and `server_state` keys that changed since the `rid` the client last got.
//!
//! Why no per-client copy of what was sent (qBittorrent keeps one per session): a `rid`
//! here is a revision of one shared change log, not a counter per client. The line-up is
//! folded into the log lazily, on the first sync call after the session publishes a new
//! one (once a tick at most, however many clients poll): lines are compared with the
//! previous line-up's (`TorrentLine: PartialEq`, cheap) and only a changed line is turned
//! into its JSON object, by `torrents::info_of` (the object `torrents/info` gives, so what
//! that gains flows in here), and diffed key by key. A client at revision `r` then gets the
//! union of the keys changed after `r`, with their current values: the cost of a call
//! grows with what changed, not with the library, and no state grows with the clients.
//! The log keeps [`MAX_REVISIONS`] revisions and at most [`MAX_ENTRIES`] changes; an
//! older, unknown or future `rid` gets a full update, as in qBittorrent.
//!
//! Clock fields (`time_active`, `last_activity`, `seeding_time`) move every second for
//! every torrent (a seed's `seeding_time` is read from its line's `SeedClock`);
//! they are not counted as changes (else every poll would carry the whole library), and
//! are sent fresh with a torrent's other changes and in full updates.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use serde_json::{json, Map, Value};

use super::Ctx;
use crate::engine::api::{Catalog, SessionSnapshot, TorrentId};
use crate::protocol::hex;

/// Revisions the log remembers; a client further behind gets a full update.
pub(crate) const MAX_REVISIONS: usize = 256;
/// Changes (torrent or key) the log holds at most across its revisions.
pub(crate) const MAX_ENTRIES: usize = 200_000;

/// Keys of a torrent's object that are not counted as changes (see the header).
const CLOCK_KEYS: &[&str] = &["time_active", "last_activity", "seeding_time"];

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

/// The current state and the log of its changes, shared by every client.
#[derive(Debug, Default)]
pub(crate) struct Log {
    /// The line-up last folded (compared by pointer first).
    last: Option<Arc<SessionSnapshot>>,
    /// Where each torrent sat in `last`.
    index: HashMap<TorrentId, usize>,
    /// Hash → the torrent's object as last folded.
    torrents: HashMap<String, Map<String, Value>>,
    hash_of: HashMap<TorrentId, String>,
    categories: BTreeMap<String, Value>,
    tags: BTreeSet<String>,
    server: Map<String, Value>,
    /// The newest revision (0: nothing folded yet).
    rev: u64,
    revisions: VecDeque<Revision>,
    entries: usize,
}

pub(crate) type Shared = Arc<Mutex<Log>>;

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

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

/// `server_state` from the line-up (qBittorrent's keys).
fn server_state(ctx: &Ctx, snap: &SessionSnapshot) -> Map<String, Value> {
    let (down, up) = snap
        .torrents
        .iter()
        .fold((0u64, 0u64), |(d, u), t| (d + t.downloaded, u + t.uploaded));
    let free = free_space(&snap.default_save_path);
    let value = json!({
        "dl_info_speed": snap.down_rate as u64,
        "up_info_speed": snap.up_rate as u64,
        "dl_info_data": down,
        "up_info_data": up,
        "alltime_dl": down,
        "alltime_ul": up,
        "dl_rate_limit": snap.down_limit,
        "up_rate_limit": snap.up_limit,
        "dht_nodes": snap.dht_nodes.unwrap_or(0),
        "connection_status": if snap.listen_port == 0 { "firewalled" } else { "connected" },
        "free_space_on_disk": free,
        "queueing": true,
        "use_alt_speed_limits": snap.turtle,
        "refresh_interval": 1500,
        "global_ratio": format!("{:.2}", snap.ratio()),
        "total_peer_connections": snap.torrents.iter().map(|t| u64::from(t.peers)).sum::<u64>(),
        "use_subcategories": false,
        "max_peers": ctx.facts.max_peers,
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
        .filter(|(k, v)| !CLOCK_KEYS.contains(&k.as_str()) && old.get(*k) != Some(*v))
        .map(|(k, _)| k.clone())
        .collect()
}

impl Log {
    /// Folds the line-up in if it is new; a revision is made only when something changed.
    fn fold(&mut self, ctx: &Ctx, snap: &Arc<SessionSnapshot>, catalog: &Catalog) {
        if self.last.as_ref().is_some_and(|l| Arc::ptr_eq(l, snap)) {
            return;
        }
        let now = unix_now();
        let mut r = Revision {
            rev: self.rev + 1,
            ..Revision::default()
        };
        let last = self.last.take();
        let mut index = HashMap::with_capacity(snap.torrents.len());
        let mut tags = BTreeSet::new();
        for (i, t) in snap.torrents.iter().enumerate() {
            index.insert(t.id, i);
            let before = last
                .as_ref()
                .and_then(|l| self.index.get(&t.id).and_then(|&j| l.torrents.get(j)));
            if before == Some(t) {
                continue;
            }
            let hash = hex::encode(&t.info_hash);
            let Value::Object(object) = super::torrents::row(t, now, catalog) else {
                continue;
            };
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
            self.hash_of.insert(t.id, hash.clone());
            self.torrents.insert(hash, object);
        }
        let gone: Vec<TorrentId> = self
            .hash_of
            .keys()
            .filter(|id| !index.contains_key(id))
            .copied()
            .collect();
        for id in gone {
            if let Some(hash) = self.hash_of.remove(&id) {
                self.torrents.remove(&hash);
                r.torrents.remove(&hash);
                r.torrents_removed.push(hash);
            }
        }
        self.index = index;
        self.last = Some(Arc::clone(snap));

        tags.extend(catalog.tags.iter().cloned());
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

        let server = server_state(ctx, snap);
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

    /// Whether changes since `rid` are all in the log.
    fn knows(&self, rid: u64) -> bool {
        let oldest = self.revisions.front().map_or(self.rev, |r| r.rev - 1);
        rid != 0 && rid <= self.rev && rid >= oldest
    }

    fn full(&self) -> Value {
        let torrents: Map<String, Value> = self
            .torrents
            .iter()
            .map(|(h, o)| (h.clone(), Value::Object(o.clone())))
            .collect();
        json!({
            "rid": self.rev,
            "full_update": true,
            "torrents": torrents,
            "categories": self.categories,
            "tags": self.tags,
            "server_state": self.server,
        })
    }

    fn since(&self, rid: u64) -> Value {
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
            for k in CLOCK_KEYS {
                if let Some(v) = now.get(*k) {
                    o.insert(k.to_string(), v.clone());
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
/// changed since.
pub(crate) fn maindata(ctx: &Ctx, rid: Option<i64>, catalog: &Catalog) -> Value {
    let snap = ctx.client.head();
    let Ok(mut log) = ctx.sync.lock() else {
        return json!({ "rid": 0, "full_update": true });
    };
    log.fold(ctx, &snap, catalog);
    match rid {
        Some(rid) if rid > 0 && log.knows(rid as u64) => log.since(rid as u64),
        _ => log.full(),
    }
}
