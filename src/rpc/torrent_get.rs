//! torrent-get (rpc-spec 3.3): the torrents `ids` names, with the fields asked, written
//! straight into the answer's JSON: each field's value comes from the table in `fields.rs`
//! and is serialized in place, so a poll of 10,000 torrents builds no `Value` a torrent.
//! What a field needs beyond the line (settings, file counts, full snapshots) is gathered
//! first, each in one request to the session, and only when a field asked needs it.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::activity::Activity;
use super::ctx::Ctx;
use super::error::MethodError;
use super::fields::{self, View};
use super::ids::Ids;
use super::request::Arguments;
use super::torrents::{answer, str_arg, targets, Args};
use crate::engine::api::*;

/// How long torrent-get waits for a running torrent's fresh full snapshot (built on its
/// next tick).
const SNAPSHOT_WAIT: Duration = Duration::from_millis(1500);

pub(crate) async fn get(ctx: &Ctx, args: &Args) -> Result<Arguments, MethodError> {
    let fields: Vec<String> = match args.get("fields") {
        Some(Value::Array(f)) => f
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => return Err(MethodError::BadArgument("no fields specified".into())),
    };
    let table = match str_arg(args, "format") {
        None | Some("objects") => false,
        Some("table") => true,
        Some(_) => return Err(MethodError::BadArgument("format: objects or table".into())),
    };
    let (which, found) = targets(ctx, args)?;
    let snap = ctx.snapshot.borrow().clone();
    let needs = fields::needs(&fields);
    let settings = if needs.settings {
        answer(ctx.client.settings(found.clone())).await?
    } else {
        Settings::default()
    };
    let own: HashMap<TorrentId, &TorrentSettings> =
        settings.torrents.iter().map(|t| (t.id, t)).collect();
    if needs.files {
        count_files(ctx, &found, &snap).await;
    }
    let snaps = if needs.snapshot {
        full_snapshots(ctx, &found).await
    } else {
        HashMap::new()
    };
    let explain_asked = fields.iter().any(|f| f == "ttui-explain");
    let now = crate::engine::api::unix_now();
    let activity = ctx.activity.lock().ok();
    let lines = Lines::new(&snap, &found, activity.as_deref());
    let files = needs
        .files
        .then(|| ctx.file_counts.lock().unwrap_or_else(|e| e.into_inner()));
    let mut w = Writer::new(&fields, table);
    for (i, id) in found.iter().enumerate() {
        let Some(line) = lines.get(&snap, i, *id, activity.as_deref()) else {
            continue;
        };
        let snapshot = snaps.get(id).map(|s| &**s);
        let explain = match snapshot {
            Some(s) if explain_asked => worst_finding(s, &snap),
            _ => None,
        };
        let view = View {
            line,
            session: &settings,
            own: own.get(id).copied(),
            file_count: files.as_ref().and_then(|f| f.get(id).copied()),
            snap: snapshot,
            now,
            max_peers: ctx.facts.max_peers,
            explain,
        };
        w.row(&view, found.len());
    }
    let removed = (which == Ids::RecentlyActive)
        .then(|| activity.as_ref().map_or_else(Vec::new, |a| a.removed(now)));
    Ok(Arguments::Written(w.finish(removed.as_deref())))
}

/// Finds the lines of the torrents asked: all of them in order, a few through the RPC's
/// fold (which knows where each sits in the line-up it folded), else through a map of the
/// line-up made for this call (only when it was published after the fold's last pass).
enum Lines<'a> {
    /// Every torrent, in the line-up's order.
    All,
    Folded,
    Map(HashMap<TorrentId, &'a TorrentLine>),
}

impl<'a> Lines<'a> {
    fn new(
        snap: &'a Arc<SessionSnapshot>,
        found: &[TorrentId],
        activity: Option<&Activity>,
    ) -> Self {
        let all = found.len() == snap.torrents.len()
            && found.iter().zip(&snap.torrents).all(|(id, t)| *id == t.id);
        if all {
            return Lines::All;
        }
        match activity {
            Some(a) if a.has_folded(snap) => Lines::Folded,
            _ => Lines::Map(snap.torrents.iter().map(|t| (t.id, &**t)).collect()),
        }
    }

    /// The line of `id`, the `i`th torrent asked.
    fn get(
        &self,
        snap: &'a Arc<SessionSnapshot>,
        i: usize,
        id: TorrentId,
        activity: Option<&Activity>,
    ) -> Option<&'a TorrentLine> {
        match self {
            Lines::All => snap.torrents.get(i).map(|t| &**t).filter(|t| t.id == id),
            Lines::Folded => activity.and_then(|a| a.line(snap, id).ok().flatten()),
            Lines::Map(m) => m.get(&id).copied(),
        }
    }
}

/// The answer's `arguments` as it is written: `{"torrents":[` rows `]` (and `removed`) `}`.
struct Writer<'f> {
    out: Vec<u8>,
    /// Each distinct field asked, in the order asked, with its key written as JSON
    /// (`"name":`) once for every row.
    keys: Vec<(&'f str, Vec<u8>)>,
    fields: &'f [String],
    table: bool,
    rows: usize,
}

impl<'f> Writer<'f> {
    fn new(fields: &'f [String], table: bool) -> Self {
        let mut seen = HashSet::new();
        let keys = fields
            .iter()
            .filter(|f| seen.insert(f.as_str()))
            .map(|f| {
                let mut key = json(&f.as_str());
                key.push(b':');
                (f.as_str(), key)
            })
            .collect();
        let mut out = b"{\"torrents\":[".to_vec();
        if table {
            // The first row of a table names its columns, as asked.
            out.extend_from_slice(&json(&fields));
        }
        Writer {
            out,
            keys,
            fields,
            table,
            rows: 0,
        }
    }

    /// One torrent's row; after the first, room for all `total` of its size is made at once.
    fn row(&mut self, view: &View, total: usize) {
        let start = self.out.len();
        if self.rows > 0 || self.table {
            self.out.push(b',');
        }
        if self.table {
            self.out.push(b'[');
            for (i, f) in self.fields.iter().enumerate() {
                if i > 0 {
                    self.out.push(b',');
                }
                match fields::value(f, view) {
                    Some(v) => write(&mut self.out, &v),
                    None => self.out.extend_from_slice(b"null"),
                }
            }
            self.out.push(b']');
        } else {
            self.out.push(b'{');
            let mut first = true;
            for (f, key) in &self.keys {
                let Some(v) = fields::value(f, view) else {
                    continue;
                };
                if !first {
                    self.out.push(b',');
                }
                first = false;
                self.out.extend_from_slice(key);
                write(&mut self.out, &v);
            }
            self.out.push(b'}');
        }
        if self.rows == 0 {
            let size = self.out.len() - start;
            self.out
                .reserve(size.saturating_mul(total) + size * total / 8);
        }
        self.rows += 1;
    }

    fn finish(mut self, removed: Option<&[u32]>) -> Vec<u8> {
        self.out.push(b']');
        if let Some(r) = removed {
            self.out.extend_from_slice(b",\"removed\":");
            self.out.extend_from_slice(&json(&r));
        }
        self.out.push(b'}');
        self.out
    }
}

/// Serializes into the answer: into a `Vec` it cannot fail for the values the fields hold
/// (no map has keys that are not strings).
fn write(out: &mut Vec<u8>, v: &impl serde::Serialize) {
    let _ = serde_json::to_writer(out, v);
}

fn json(v: &impl serde::Serialize) -> Vec<u8> {
    let mut out = Vec::new();
    write(&mut out, v);
    out
}

/// The explainer's worst finding that holds the torrent back or warns, in one line.
fn worst_finding(s: &Snapshot, session: &SessionSnapshot) -> Option<String> {
    let ctx = ExplainContext::from_session(session, s.id);
    explain(s, &ctx)
        .into_iter()
        .filter(|f| f.verdict != Verdict::Ok)
        .min_by_key(|f| f.verdict)
        .map(|f| f.line())
}

/// Counts the files of the torrents not counted yet, padding left out, into
/// `ctx.file_counts`. A torrent's files never change once its metadata is known, so the
/// counts are kept (for the torrents still listed; a session never reuses an id) and only a
/// torrent not counted yet costs the session a request: a request a torrent on every poll of
/// Sonarr's fields was some 40 % of that torrent-get's CPU at 10,000.
async fn count_files(ctx: &Ctx, ids: &[TorrentId], snap: &SessionSnapshot) {
    let missing: Vec<TorrentId> = {
        let known = ctx.file_counts.lock().unwrap_or_else(|e| e.into_inner());
        ids.iter()
            .filter(|id| !known.contains_key(id))
            .copied()
            .collect()
    };
    if missing.is_empty() {
        return;
    }
    let fresh = file_lists(ctx, &missing).await;
    let mut known = ctx.file_counts.lock().unwrap_or_else(|e| e.into_inner());
    for (id, files) in fresh {
        known.insert(id, files.iter().filter(|f| !f.padding).count());
    }
    if known.len() > snap.torrents.len() {
        let listed: HashSet<TorrentId> = snap.torrents.iter().map(|t| t.id).collect();
        known.retain(|id, _| listed.contains(id));
    }
}

async fn file_lists(ctx: &Ctx, ids: &[TorrentId]) -> HashMap<TorrentId, Vec<FileLine>> {
    let asks = ids.iter().map(|&id| async move {
        let files = answer(ctx.client.files(id)).await;
        (id, files.ok().flatten())
    });
    futures::future::join_all(asks)
        .await
        .into_iter()
        .filter_map(|(id, f)| f.map(|f| (id, f)))
        .collect()
}

/// Each torrent's full snapshot, in one request for them all (`Client::read_snapshots`:
/// nothing is woken to answer).
async fn full_snapshots(ctx: &Ctx, ids: &[TorrentId]) -> HashMap<TorrentId, Arc<Snapshot>> {
    answer(ctx.client.read_snapshots(ids.to_vec(), SNAPSHOT_WAIT))
        .await
        .unwrap_or_default()
        .into_iter()
        .collect()
}
