//! The torrent methods of rpc-spec section 3 (and the queue moves of 4.6): each reads its
//! arguments, resolves `ids` against one snapshot of the line-up and sends the session its
//! requests through `engine::api`, waiting (bounded) for the answers that carry one.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use serde_json::{json, Map, Value};
use tokio::sync::oneshot;

use super::error::MethodError;
use super::fields::{self, View};
use super::ids::{self, Ids};
use super::server::Ctx;
use crate::engine::api::*;

pub(crate) type Args = Map<String, Value>;
pub(crate) type Answer = Result<Args, MethodError>;

/// How long torrent-get waits for a torrent's first full snapshot (built on its next tick).
const SNAPSHOT_WAIT: Duration = Duration::from_millis(1500);
/// How long a method waits for the session's answer to one request.
const REPLY_WAIT: Duration = Duration::from_secs(60);

/// Sends a request that answers through a oneshot and waits for the answer (bounded).
pub(crate) async fn ask<T>(
    ctx: &Ctx,
    make: impl FnOnce(oneshot::Sender<T>) -> SessionRequest,
) -> Result<T, MethodError> {
    let (tx, rx) = oneshot::channel();
    ctx.requests.send(make(tx)).map_err(|_| MethodError::Gone)?;
    match tokio::time::timeout(REPLY_WAIT, rx).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(_)) => Err(MethodError::Gone),
        Err(_) => Err(MethodError::Session(
            "the session did not answer in time".into(),
        )),
    }
}

/// `ids` resolved against the line-up now.
pub(crate) fn targets(ctx: &Ctx, args: &Args) -> Result<(Ids, Vec<TorrentId>), MethodError> {
    let which = ids::parse(args.get("ids"))?;
    let snap = ctx.snapshot.borrow().clone();
    let now = super::activity::unix_now();
    let found = match ctx.activity.lock() {
        Ok(a) => ids::resolve(&which, &snap, |id| a.recent(id, now)),
        Err(_) => ids::resolve(&which, &snap, |_| false),
    };
    Ok((which, found))
}

pub(super) fn send(ctx: &Ctx, r: SessionRequest) -> Result<(), MethodError> {
    ctx.requests.send(r).map_err(|_| MethodError::Gone)
}

pub(super) fn bool_arg(args: &Args, key: &str) -> Option<bool> {
    match args.get(key)? {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => Some(n.as_i64() != Some(0)),
        _ => None,
    }
}

pub(super) fn num_arg(args: &Args, key: &str) -> Option<f64> {
    args.get(key)?.as_f64().filter(|v| v.is_finite())
}

pub(super) fn str_arg<'a>(args: &'a Args, key: &str) -> Option<&'a str> {
    args.get(key)?.as_str()
}

/// File indices of a `files-*` or `priority-*` list; an empty list is every file.
pub(super) fn index_list(args: &Args, key: &str) -> Result<Option<Vec<usize>>, MethodError> {
    let Some(v) = args.get(key) else {
        return Ok(None);
    };
    let Value::Array(list) = v else {
        return Err(MethodError::BadArgument(format!(
            "{key}: a list of file indices"
        )));
    };
    list.iter()
        .map(|e| {
            e.as_u64()
                .and_then(|n| usize::try_from(n).ok())
                .ok_or_else(|| MethodError::BadArgument(format!("{key}: a list of file indices")))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// A `labels` list, checked as the session would (a bad one fails the call, naming it).
pub(super) fn label_list(args: &Args) -> Result<Option<Vec<String>>, MethodError> {
    let Some(v) = args.get("labels") else {
        return Ok(None);
    };
    let bad = || MethodError::BadArgument("labels: a list of strings".into());
    let Value::Array(list) = v else {
        return Err(bad());
    };
    if list.len() > crate::engine::api::MAX_LABELS * 4 {
        return Err(bad());
    }
    let raw = list
        .iter()
        .map(|e| e.as_str().ok_or_else(bad))
        .collect::<Result<Vec<_>, _>>()?;
    crate::engine::api::check_labels(&raw)
        .map(Some)
        .map_err(|e| MethodError::BadArgument(format!("labels: {e}")))
}

// ---- torrent-get ----

pub(crate) async fn get(ctx: &Ctx, args: &Args) -> Answer {
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
        ask(ctx, |reply| SessionRequest::Settings {
            ids: found.clone(),
            reply,
        })
        .await?
    } else {
        Settings::default()
    };
    let own: HashMap<TorrentId, &TorrentSettings> =
        settings.torrents.iter().map(|t| (t.id, t)).collect();
    let files = if needs.files {
        file_counts(ctx, &found, &snap).await
    } else {
        HashMap::new()
    };
    let snaps = if needs.snapshot {
        full_snapshots(ctx, &found).await
    } else {
        HashMap::new()
    };
    let now = super::activity::unix_now();
    let by_id: HashMap<TorrentId, &TorrentLine> = snap.torrents.iter().map(|t| (t.id, t)).collect();
    let activity = ctx.activity.lock().ok();
    let mut rows = Vec::with_capacity(found.len() + 1);
    if table {
        rows.push(json!(fields));
    }
    for id in &found {
        let Some(line) = by_id.get(id) else { continue };
        let snapshot = snaps.get(id).map(|s| &**s);
        let explain = match snapshot {
            Some(s) if fields.iter().any(|f| f == "ttui-explain") => worst_finding(s, &snap),
            _ => None,
        };
        let view = View {
            line,
            session: &settings,
            own: own.get(id).copied(),
            file_count: files.get(id).copied(),
            snap: snapshot,
            active: activity.as_ref().map_or(0, |a| a.active(*id)),
            now,
            max_peers: ctx.facts.max_peers,
            explain,
        };
        if table {
            let row: Vec<Value> = fields
                .iter()
                .map(|f| fields::value(f, &view).unwrap_or(Value::Null))
                .collect();
            rows.push(Value::Array(row));
        } else {
            let obj: Map<String, Value> = fields
                .iter()
                .filter_map(|f| fields::value(f, &view).map(|v| (f.clone(), v)))
                .collect();
            rows.push(Value::Object(obj));
        }
    }
    let mut out = Map::new();
    out.insert("torrents".into(), Value::Array(rows));
    if which == Ids::RecentlyActive {
        let removed = activity.as_ref().map_or_else(Vec::new, |a| a.removed(now));
        out.insert("removed".into(), json!(removed));
    }
    Ok(out)
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

/// Each torrent's file count, padding left out. A torrent's files never change once its
/// metadata is known, so the counts are kept (for the torrents still listed; a session never
/// reuses an id) and only a torrent not counted yet costs the session a request: a request a
/// torrent on every poll of Sonarr's fields was some 40 % of that torrent-get's CPU at 10,000.
async fn file_counts(
    ctx: &Ctx,
    ids: &[TorrentId],
    snap: &SessionSnapshot,
) -> HashMap<TorrentId, usize> {
    let missing: Vec<TorrentId> = {
        let known = ctx.file_counts.lock().unwrap_or_else(|e| e.into_inner());
        ids.iter()
            .filter(|id| !known.contains_key(id))
            .copied()
            .collect()
    };
    let fresh = file_lists(ctx, &missing).await;
    let mut known = ctx.file_counts.lock().unwrap_or_else(|e| e.into_inner());
    for (id, files) in fresh {
        known.insert(id, files.iter().filter(|f| !f.padding).count());
    }
    if known.len() > snap.torrents.len() {
        let listed: HashSet<TorrentId> = snap.torrents.iter().map(|t| t.id).collect();
        known.retain(|id, _| listed.contains(id));
    }
    ids.iter()
        .filter_map(|id| known.get(id).map(|&n| (*id, n)))
        .collect()
}

async fn file_lists(ctx: &Ctx, ids: &[TorrentId]) -> HashMap<TorrentId, Vec<FileLine>> {
    let asks = ids.iter().map(|&id| async move {
        let files = ask(ctx, |reply| SessionRequest::Files { id, reply }).await;
        (id, files.ok().flatten())
    });
    futures::future::join_all(asks)
        .await
        .into_iter()
        .filter_map(|(id, f)| f.map(|f| (id, f)))
        .collect()
}

async fn full_snapshots(ctx: &Ctx, ids: &[TorrentId]) -> HashMap<TorrentId, Arc<Snapshot>> {
    let asks = ids.iter().map(|&id| async move {
        let rx = ask(ctx, |reply| SessionRequest::Subscribe { id, reply }).await;
        let Ok(Some(mut rx)) = rx else { return None };
        rx.mark_unchanged();
        let _ = tokio::time::timeout(SNAPSHOT_WAIT, rx.changed()).await;
        let snap = rx.borrow().clone();
        Some((id, snap))
    });
    futures::future::join_all(asks)
        .await
        .into_iter()
        .flatten()
        .collect()
}

// ---- torrent-add ----

/// The largest .torrent read from a path or a URL (ttui's own cap for any source).
const MAX_TORRENT: u64 = crate::cli::load::MAX_TORRENT_SIZE;

pub(crate) async fn add(ctx: &Ctx, args: &Args) -> Answer {
    let source = match (str_arg(args, "filename"), str_arg(args, "metainfo")) {
        (_, Some(b64)) => {
            let clean: String = b64.chars().filter(|c| !c.is_ascii_whitespace()).collect();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(clean.as_bytes())
                .map_err(|_| MethodError::BadArgument("metainfo: not base64".into()))?;
            AddSource::Torrent {
                name: "metainfo".into(),
                bytes,
            }
        }
        (Some(name), None) => source_of(name).await?,
        (None, None) => {
            return Err(MethodError::BadArgument(
                "no filename or metainfo specified".into(),
            ))
        }
    };
    let save_path = match str_arg(args, "download-dir").filter(|d| !d.is_empty()) {
        Some(d) if PathBuf::from(d).is_absolute() => Some(PathBuf::from(d)),
        Some(_) => {
            return Err(MethodError::BadArgument(
                "download-dir must be an absolute path".into(),
            ))
        }
        None => None,
    };
    let paused = bool_arg(args, "paused").unwrap_or(false);
    let wanted = index_list(args, "files-wanted")?;
    let unwanted = index_list(args, "files-unwanted")?;
    let count = match &source {
        AddSource::Torrent { bytes, .. } => crate::protocol::metainfo::Metainfo::from_bytes(bytes)
            .ok()
            .map(|m| m.info.files.iter().filter(|f| !f.padding).count()),
        AddSource::Magnet(_) => None,
    };
    let only = only_files(wanted.as_deref(), unwanted.as_deref(), count);
    let files = AddFiles {
        only,
        sequential: false,
    };
    let labels = label_list(args)?.unwrap_or_default();
    let added = ask(ctx, |reply| SessionRequest::Add {
        source,
        save_path,
        paused,
        files,
        labels,
        reply,
    })
    .await??;
    let (key, id, name, hash) = match added {
        Added::New {
            id,
            name,
            info_hash,
        } => ("torrent-added", id, name, info_hash),
        Added::Already {
            id,
            name,
            info_hash,
        } => ("torrent-duplicate", id, name, info_hash),
    };
    if key == "torrent-added" {
        set_priorities(ctx, id, args, count).await?;
        // The line-up shows it within a tick or two: a torrent-get right after sees it.
        let mut snap = ctx.snapshot.clone();
        let _ = tokio::time::timeout(
            Duration::from_secs(2),
            snap.wait_for(|s| s.torrents.iter().any(|t| t.id == id)),
        )
        .await;
    }
    let mut out = Map::new();
    out.insert(
        key.into(),
        json!({"id": id.0, "name": name, "hashString": ids::hex(&hash)}),
    );
    Ok(out)
}

/// The files to fetch at the add: `files-wanted` as given, or every file but the
/// `files-unwanted` (when the count is known; else they are skipped right after the add).
fn only_files(
    wanted: Option<&[usize]>,
    unwanted: Option<&[usize]>,
    count: Option<usize>,
) -> Option<Vec<usize>> {
    let skip: std::collections::HashSet<usize> = unwanted.unwrap_or(&[]).iter().copied().collect();
    match (wanted, count) {
        (Some(w), _) if !w.is_empty() => {
            Some(w.iter().copied().filter(|i| !skip.contains(i)).collect())
        }
        (_, Some(n)) if !skip.is_empty() => Some((0..n).filter(|i| !skip.contains(i)).collect()),
        _ => None,
    }
}

/// What `filename` names: a magnet link, an http(s) URL (fetched by this face, capped in
/// size and time), or a local `.torrent` / `.magnet` file.
async fn source_of(name: &str) -> Result<AddSource, MethodError> {
    let lower = name.trim_start().to_ascii_lowercase();
    if lower.starts_with("magnet:") {
        return Ok(AddSource::Magnet(name.trim().to_string()));
    }
    if lower.starts_with("http://") || lower.starts_with("https://") {
        let bytes = crate::cli::load::fetch_url(name.trim(), crate::cli::load::URL_TIMEOUT)
            .await
            .map_err(MethodError::BadArgument)?;
        return Ok(AddSource::Torrent {
            name: crate::fmt::outside(name, 200).into_owned(),
            bytes,
        });
    }
    let path = super::security::readable_torrent_path(name)
        .map_err(|e| MethodError::BadArgument(e.to_string()))?;
    let shown = crate::fmt::outside(name, 200).into_owned();
    let magnet = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("magnet"));
    let read = tokio::task::spawn_blocking(move || {
        use std::io::Read;
        let mut buf = Vec::new();
        std::fs::File::open(&path)
            .and_then(|f| f.take(MAX_TORRENT + 1).read_to_end(&mut buf))
            .map(|_| buf)
    })
    .await;
    // The reason names the path and the failure, never what the file holds.
    let bytes = match read {
        Ok(Ok(b)) if b.len() as u64 <= MAX_TORRENT => b,
        Ok(Ok(_)) => return Err(MethodError::BadArgument(format!("{shown}: too large"))),
        Ok(Err(e)) => return Err(MethodError::BadArgument(format!("{shown}: {e}"))),
        Err(_) => return Err(MethodError::BadArgument(format!("{shown}: not read"))),
    };
    if magnet {
        let text = String::from_utf8(bytes).ok();
        let link = text
            .as_deref()
            .map(str::trim)
            .filter(|t| t.to_ascii_lowercase().starts_with("magnet:"))
            .ok_or_else(|| MethodError::BadArgument(format!("{shown}: not a magnet link")))?;
        return Ok(AddSource::Magnet(link.to_string()));
    }
    if crate::protocol::metainfo::Metainfo::from_bytes(&bytes).is_err() {
        return Err(MethodError::BadArgument(format!(
            "{shown}: not a valid torrent"
        )));
    }
    Ok(AddSource::Torrent { name: shown, bytes })
}

/// Applies `files-wanted`/`files-unwanted`/`priority-*` to a torrent (an empty list is every
/// file, which needs the count: None while a magnet has no metadata).
pub(super) async fn set_priorities(
    ctx: &Ctx,
    id: TorrentId,
    args: &Args,
    count: Option<usize>,
) -> Result<(), MethodError> {
    let keys = [
        ("files-unwanted", FilePriority::Skip),
        ("files-wanted", FilePriority::Normal),
        ("priority-low", FilePriority::Low),
        ("priority-normal", FilePriority::Normal),
        ("priority-high", FilePriority::High),
    ];
    let mut count = count;
    for (key, priority) in keys {
        let Some(mut list) = index_list(args, key)? else {
            continue;
        };
        if list.is_empty() {
            if count.is_none() {
                count = ask(ctx, |reply| SessionRequest::Files { id, reply })
                    .await?
                    .map(|f| f.iter().filter(|f| !f.padding).count());
            }
            list = (0..count.unwrap_or(0)).collect();
        }
        if !list.is_empty() {
            send(
                ctx,
                SessionRequest::Torrent {
                    id,
                    command: Command::SetFilePriority {
                        files: list,
                        priority,
                    },
                },
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_files_to_fetch_at_the_add() {
        assert_eq!(only_files(None, None, Some(3)), None);
        assert_eq!(only_files(Some(&[0, 2]), None, None), Some(vec![0, 2]));
        assert_eq!(only_files(None, Some(&[1]), Some(3)), Some(vec![0, 2]));
        assert_eq!(only_files(None, Some(&[1]), None), None);
        assert_eq!(
            only_files(Some(&[0, 1]), Some(&[1]), Some(3)),
            Some(vec![0])
        );
    }
}
