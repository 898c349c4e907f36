//! `torrents/add`: a multipart form (`multipart.rs`) of `urls` (one a line: magnet links
//! and http(s) URLs, fetched by the engine's bounded loader) and `torrents` files, with
//! `savepath`, `category`, `tags`, `paused`/`stopped`. Answers as qBittorrent 4.x does:
//! `Ok.` when anything was added, `Fails.` when nothing was, 415 `Torrent file is not
//! valid` for a file that is not bencode, 400 for a form with neither urls nor files.
//! `skip_checking` is read and not obeyed: the data is checked all the same, since a client's
//! word that it is complete is no proof (a corrupt piece trusted would be seeded; qBittorrent
//! does just that). Applied: `sequentialDownload` (ttui's sequential mode), `upLimit`/`dlLimit` (the
//! torrent's own limits), `ratioLimit`/`seedingTimeLimit` (its seeding goals) and `rename`
//! (the torrent's top-level file or folder renamed, as `torrents/rename` does), each set
//! on a new torrent through `Client` right after the add; `firstLastPiecePrio` (the first and
//! last piece of each file first) is set with the add itself, and so is `contentLayout`:
//! `Subfolder` (or the older `root_folder=true`) saves a .torrent of one file in a folder of
//! its own (`AddFiles::subfolder`); `NoSubfolder` is not supported (the engine keeps a
//! torrent's folder, its renames keep each file's depth): a torrent with a folder keeps it,
//! and the log says so.

use std::path::PathBuf;
use std::time::Duration;

use hyper::StatusCode;

use super::answer::within;
use super::form::Params;
use super::multipart::{self, Part};
use super::{text, Ctx};
use crate::engine::api::{
    AddFiles, AddOptions, AddSource, Added, CatalogEdit, GoalChange, LimitChange, LimitTarget,
    TorrentId,
};
use crate::http::Answer;

/// How long an add waits for the session's answer.
const ADD_WAIT: Duration = Duration::from_secs(30);

fn field<'a>(parts: &'a [Part], name: &str) -> Option<&'a str> {
    parts
        .iter()
        .find(|p| p.name == name && p.filename.is_none())
        .and_then(|p| std::str::from_utf8(&p.data).ok())
        .map(str::trim)
}

fn truthy(v: Option<&str>) -> bool {
    v.is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

/// The fields read from a urlencoded form.
const FIELDS: &[&str] = &[
    "urls",
    "savepath",
    "category",
    "tags",
    "paused",
    "stopped",
    "skip_checking",
    "sequentialDownload",
    "firstLastPiecePrio",
    "upLimit",
    "dlLimit",
    "ratioLimit",
    "seedingTimeLimit",
    "rename",
    "contentLayout",
    "root_folder",
];

/// What is set on each new torrent right after its add.
#[derive(Debug, Clone, Default)]
struct After {
    sequential: bool,
    limits: LimitChange,
    goals: GoalChange,
    /// The torrent's new name (`rename`).
    rename: Option<String>,
}

impl After {
    fn read(parts: &[Part]) -> After {
        let num = |name: &str| field(parts, name).and_then(|v| v.parse::<f64>().ok());
        // qBittorrent's rates are bytes a second; 0 or -1 is none.
        let rate = |name: &str| num(name).map(|v| v.max(0.0) as u64).filter(|&v| v > 0);
        let minutes = |m: f64| Duration::from_secs((m * 60.0) as u64);
        After {
            sequential: truthy(field(parts, "sequentialDownload")),
            limits: LimitChange {
                down: rate("dlLimit"),
                up: rate("upLimit"),
                turtle: None,
            },
            goals: GoalChange {
                ratio: super::answer::share(num("ratioLimit"), |r| r),
                seed_time: super::answer::share(num("seedingTimeLimit"), minutes),
                idle: None,
            },
            rename: field(parts, "rename")
                .filter(|n| !n.is_empty())
                .map(String::from),
        }
    }

    /// Sets them on `id`; a refusal is logged, the add stands.
    async fn apply(&self, ctx: &Ctx, id: TorrentId, name: &str) {
        if let Some(new) = self.rename.as_deref().filter(|n| *n != name) {
            let asked = ctx
                .client
                .rename_path(id, name.to_string(), new.to_string());
            if let Err(e) = within(asked).await {
                tracing::warn!("qBittorrent API: the new torrent's rename: {e}");
            }
        }
        if self.limits != LimitChange::default() {
            let asked = within(
                ctx.client
                    .limit(LimitTarget::Torrents(vec![id]), self.limits),
            );
            if let Err(e) = asked.await {
                tracing::warn!("qBittorrent API: the new torrent's limits: {e}");
            }
        }
        let GoalChange {
            ratio, seed_time, ..
        } = self.goals;
        if ratio.is_some() || seed_time.is_some() {
            if let Err(e) = within(ctx.client.goals(id, self.goals)).await {
                tracing::warn!("qBittorrent API: the new torrent's share limits: {e}");
            }
        }
    }
}

/// Whether the form asks for a folder around a lone file (`contentLayout=Subfolder`, or
/// qBittorrent 4.2's `root_folder=true`).
fn subfolder(parts: &[Part]) -> bool {
    match field(parts, "contentLayout") {
        Some(l) if l.eq_ignore_ascii_case("Subfolder") => true,
        Some(l) if l.eq_ignore_ascii_case("NoSubfolder") => {
            tracing::info!(
                "qBittorrent API: contentLayout NoSubfolder is not supported: a torrent with a \
                 folder keeps it"
            );
            false
        }
        Some(_) => false,
        None => truthy(field(parts, "root_folder")),
    }
}

/// Answers `torrents/add` for a body of `content_type`.
/// A form without files may come urlencoded (`params`), as `qbittorrent-api` sends urls.
pub(super) async fn answer(
    ctx: &Ctx,
    content_type: Option<&str>,
    body: &[u8],
    params: &Params,
) -> Answer {
    let parts = match content_type.and_then(multipart::boundary) {
        Some(boundary) => match multipart::parse(&boundary, body) {
            Ok(parts) => parts,
            Err(_) => return text(StatusCode::BAD_REQUEST, "Bad Request"),
        },
        None => FIELDS
            .iter()
            .filter_map(|name| {
                params.get(name).map(|v| Part {
                    name: name.to_string(),
                    filename: None,
                    data: v.as_bytes().to_vec(),
                })
            })
            .collect(),
    };
    let urls: Vec<&str> = field(&parts, "urls")
        .map(|u| u.lines().map(str::trim).filter(|l| !l.is_empty()).collect())
        .unwrap_or_default();
    // Every part with a file name is a torrent, whatever its field's name: qBittorrent
    // reads them so, and `qbittorrent-api` names each after its file.
    let files: Vec<&Part> = parts.iter().filter(|p| p.filename.is_some()).collect();
    if urls.is_empty() && files.is_empty() {
        return text(StatusCode::BAD_REQUEST, "Bad Request");
    }
    for f in &files {
        if crate::protocol::metainfo::Metainfo::from_bytes(&f.data).is_err() {
            return text(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Torrent file is not valid",
            );
        }
    }
    let after = After::read(&parts);
    let mut labels: Vec<String> = Vec::new();
    if let Some(c) = field(&parts, "category").filter(|c| !c.is_empty()) {
        if let Err(answer) = known_category(ctx, c).await {
            return answer;
        }
        labels.push(c.to_string());
    }
    if let Some(t) = field(&parts, "tags") {
        labels.extend(
            t.split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(String::from),
        );
    }
    let opts = AddOptions {
        save_path: field(&parts, "savepath")
            .filter(|s| !s.is_empty())
            .map(PathBuf::from),
        paused: truthy(field(&parts, "paused")) || truthy(field(&parts, "stopped")),
        files: AddFiles {
            only: None,
            sequential: after.sequential,
            first_last: truthy(field(&parts, "firstLastPiecePrio")),
            // Proven anyway (the module's header says why).
            complete: false,
            subfolder: subfolder(&parts),
        },
        labels,
    };
    let mut sources: Vec<AddSource> = files
        .iter()
        .map(|f| AddSource::Torrent {
            name: crate::fmt::outside(f.filename.as_deref().unwrap_or(""), 200).into_owned(),
            bytes: f.data.clone(),
        })
        .collect();
    for u in urls {
        let lower = u.to_ascii_lowercase();
        if lower.starts_with("magnet:") {
            sources.push(AddSource::Magnet(u.to_string()));
        } else if lower.starts_with("http://") || lower.starts_with("https://") {
            match crate::engine::host::load::fetch_url(u, crate::engine::host::load::URL_TIMEOUT)
                .await
            {
                Ok(bytes) => sources.push(AddSource::Torrent {
                    name: crate::fmt::outside(u, 200).into_owned(),
                    bytes,
                }),
                Err(e) => tracing::warn!(
                    "qBittorrent API: add from {}: {e}",
                    crate::fmt::outside(u, 200)
                ),
            }
        }
    }
    // Every add is asked at once (the session takes them in the form's order) and the
    // line-up awaited once for all of them: one wait of a tick a form, where a wait per
    // torrent made a form of 50 take 25 s (qbt_api.sh).
    let asked: Vec<_> = sources
        .into_iter()
        .map(|source| ctx.client.add(source, opts.clone()))
        .collect();
    let mut added = 0;
    let mut new = Vec::new();
    for answer in asked {
        match tokio::time::timeout(ADD_WAIT, answer).await {
            Ok(Ok(Added::New { id, name, .. })) => {
                added += 1;
                new.push((id, name));
            }
            Ok(Ok(_)) => added += 1,
            Ok(Err(e)) => tracing::warn!("qBittorrent API: add refused: {e}"),
            Err(_) => tracing::warn!("qBittorrent API: the session did not answer the add"),
        }
    }
    let ids: Vec<TorrentId> = new.iter().map(|(id, _)| *id).collect();
    ctx.client.wait_listed(&ids, Duration::from_secs(2)).await;
    for (id, name) in &new {
        after.apply(ctx, *id, name).await;
    }
    text(StatusCode::OK, if added > 0 { "Ok." } else { "Fails." })
}

/// An add naming a category that does not exist makes it first (with the session's
/// download directory), as qBittorrent's `Session::addTorrent` does: `@ctrl/qbittorrent`
/// and Sonarr add with a category they never created, and it must not become a tag.
async fn known_category(ctx: &Ctx, name: &str) -> Result<(), Answer> {
    let catalog = super::labels::catalog(ctx).await?;
    if catalog.is_category(name) {
        return Ok(());
    }
    let create = CatalogEdit::CreateCategory {
        name: name.to_string(),
        save_path: None,
    };
    match within(ctx.client.edit_catalog(create)).await {
        Ok(_) => Ok(()),
        Err(e) => Err(text(StatusCode::CONFLICT, &e.to_string())),
    }
}
