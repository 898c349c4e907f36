//! The torrent methods of rpc-spec section 3 (and the queue moves of 4.6): each reads its
//! arguments, resolves `ids` against one snapshot of the line-up and sends the session its
//! requests through `engine::api`, waiting (bounded) for the answers that carry one.

use std::path::PathBuf;
use std::time::Duration;

use base64::Engine;
use serde_json::{json, Map, Value};

use super::error::MethodError;

use super::ctx::Ctx;
use super::ids::{self, Ids};
use crate::engine::api::*;

pub(crate) type Args = Map<String, Value>;
pub(crate) type Answer = Result<Args, MethodError>;

/// How long a method waits for the session's answer to one request.
const REPLY_WAIT: Duration = Duration::from_secs(60);

/// Waits (bounded) for the session's answer to a request made through the client.
pub(crate) async fn answer<T>(
    asked: impl std::future::Future<Output = Result<T, RequestError>>,
) -> Result<T, MethodError> {
    match tokio::time::timeout(REPLY_WAIT, asked).await {
        Ok(done) => Ok(done?),
        Err(_) => Err(MethodError::Session(
            "the session did not answer in time".into(),
        )),
    }
}

/// `ids` resolved against the line-up now.
pub(crate) fn targets(ctx: &Ctx, args: &Args) -> Result<(Ids, Vec<TorrentId>), MethodError> {
    let which = ids::parse(args.get("ids"))?;
    let snap = ctx.snapshot.borrow().clone();
    let now = crate::engine::api::unix_now();
    let found = match ctx.activity.lock() {
        Ok(a) => match which {
            // Kept by the fold for the line-up it folded: no walk over the library.
            Ids::RecentlyActive => a
                .recently_active(&snap, now)
                .unwrap_or_else(|| ids::resolve(&which, &snap, |id| a.recent(id, now))),
            _ => ids::resolve(&which, &snap, |id| a.recent(id, now)),
        },
        Err(_) => ids::resolve(&which, &snap, |_| false),
    };
    Ok((which, found))
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

// ---- torrent-add ----

/// How long a call waits for the line-up to list the torrents added before it.
const LISTED_WAIT: Duration = Duration::from_secs(2);

/// Waits (bounded) until the line-up lists every torrent torrent-add answered for. A call
/// that finds none waiting costs one lock; those that wait take the ids off once listed (or
/// once the wait is over: a torrent removed before it was ever listed never will be).
pub(crate) async fn listed(ctx: &Ctx) {
    let waiting: Vec<TorrentId> = {
        let unlisted = ctx.unlisted.lock().unwrap_or_else(|e| e.into_inner());
        if unlisted.is_empty() {
            return;
        }
        unlisted.clone()
    };
    ctx.client.wait_listed(&waiting, LISTED_WAIT).await;
    let mut unlisted = ctx.unlisted.lock().unwrap_or_else(|e| e.into_inner());
    unlisted.retain(|id| !waiting.contains(id));
}

/// The largest .torrent read from a path or a URL (ttui's own cap for any source).
const MAX_TORRENT: u64 = crate::engine::host::load::MAX_TORRENT_SIZE;

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
    // Transmission 4.1's `sequential_download` (legacy `sequentialDownload`; 4.1 itself takes
    // the snake_case name in legacy requests too, having no camelCase one for it).
    let asked =
        bool_arg(args, "sequentialDownload").or_else(|| bool_arg(args, "sequential_download"));
    from_piece_zero(args)?;
    let files = AddFiles {
        complete: false,
        only,
        sequential: asked.unwrap_or(false),
        first_last: false,
        subfolder: false,
    };
    let labels = label_list(args)?.unwrap_or_default();
    let opts = AddOptions {
        save_path,
        paused,
        files,
        labels,
    };
    let added = answer(ctx.client.add(source, opts)).await?;
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
        // Asked to be rarest first while the session adds in order by default: as
        // Transmission, the add's own word wins.
        if asked == Some(false) && answer(ctx.client.settings(Vec::new())).await?.sequential {
            ctx.client.command(id, Command::SetSequential(false))?;
        }
        // The torrent is in the session now; the line-up lists it at the session's next tick.
        // The add is answered at once and the next call of any other method waits for that
        // tick instead (`listed`), so a torrent-get right after still sees it.
        ctx.unlisted
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(id);
    }
    let mut out = Map::new();
    out.insert(
        key.into(),
        json!({"id": id.0, "name": name, "hashString": crate::protocol::hex::encode(&hash)}),
    );
    Ok(out)
}

/// `sequential_download_from_piece`: only 0, where ttui's in-order mode starts; a stream
/// seeks by its reader's position instead.
pub(super) fn from_piece_zero(args: &Args) -> Result<(), MethodError> {
    match num_arg(args, "sequentialDownloadFromPiece") {
        Some(piece) if piece != 0.0 => Err(MethodError::BadArgument(
            "sequential_download_from_piece: ttui fetches in order from the first piece \
             (a stream seeks by its reader's position instead)"
                .into(),
        )),
        _ => Ok(()),
    }
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
        let bytes = crate::engine::host::load::fetch_url(
            name.trim(),
            crate::engine::host::load::URL_TIMEOUT,
        )
        .await
        .map_err(|e| MethodError::BadArgument(e.to_string()))?;
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
                count = answer(ctx.client.files(id))
                    .await?
                    .map(|f| f.iter().filter(|f| !f.padding).count());
            }
            list = (0..count.unwrap_or(0)).collect();
        }
        if !list.is_empty() {
            let command = Command::SetFilePriority {
                files: list,
                priority,
            };
            ctx.client.command(id, command)?;
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
