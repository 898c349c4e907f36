//! The actions on torrents beyond start/stop/delete (`torrents.rs`): share limits,
//! location, renames, queue order, rate limits; and the session's global limits. Each goes
//! through a typed `engine::api::Client` call; errors answer with qBittorrent's codes (400
//! for a missing or malformed parameter, 404 for an unknown torrent where qBittorrent
//! names one, 409 when the session refuses).

use std::path::PathBuf;
use std::time::Duration;

use hyper::StatusCode;

use super::answer::{bad, ok, one, refused, share, targets, within};
use super::form::Params;
use super::text;
use super::Ctx;
use crate::engine::api::{GoalChange, LimitChange, LimitTarget, Move, RequestError, TorrentId};
use crate::http::Answer;

fn number(p: &Params, name: &str) -> Option<f64> {
    p.get(name).and_then(|s| s.trim().parse::<f64>().ok())
}

/// A rate limit in bytes per second; qBittorrent's 0 and -1 are "none" (0 here).
fn rate(p: &Params) -> Option<u64> {
    p.int("limit").map(|l| l.max(0) as u64)
}

/// Answers one of these calls; None: not one of them.
pub(super) async fn route(ctx: &Ctx, call: &str, p: &Params) -> Option<Answer> {
    let answer = match call {
        "torrents/setShareLimits" => {
            let minutes = |m: f64| Duration::from_secs((m * 60.0) as u64);
            let change = GoalChange {
                ratio: share(number(p, "ratioLimit"), |r| r),
                seed_time: share(number(p, "seedingTimeLimit"), minutes),
                idle: share(number(p, "inactiveSeedingTimeLimit"), minutes),
            };
            if change.ratio.is_none() && change.seed_time.is_none() {
                return Some(bad("ratioLimit and seedingTimeLimit are required"));
            }
            each(ctx, p, |id| ctx.client.goals(id, change)).await
        }
        "torrents/setLocation" => {
            let dir = PathBuf::from(p.get("location").unwrap_or(""));
            if !dir.is_absolute() {
                return Some(bad("Save path is empty or not absolute"));
            }
            each(ctx, p, |id| ctx.client.move_to(id, dir.clone())).await
        }
        "torrents/renameFile" | "torrents/renameFolder" => {
            // 404 as qBittorrent answers an unknown hash.
            let Some((id, name)) = one(ctx, p) else {
                return Some(text(StatusCode::NOT_FOUND, "Torrent hash was not found"));
            };
            let (old, new) = (
                p.get("oldPath").unwrap_or(""),
                p.get("newPath").unwrap_or(""),
            );
            let (old_dir, _) = old.rsplit_once('/').unwrap_or(("", old));
            let (new_dir, leaf) = new.rsplit_once('/').unwrap_or(("", new));
            if old.is_empty() || leaf.is_empty() {
                return Some(bad("oldPath and newPath are required"));
            }
            if old_dir != new_dir {
                return Some(text(
                    StatusCode::CONFLICT,
                    "Moving between folders is not supported",
                ));
            }
            // qBittorrent's paths start inside the torrent's folder for a multi-file torrent
            // and are the file's name for a single file; ttui's name the torrent first.
            let path = if old == name || old.starts_with(&format!("{name}/")) {
                old.to_string()
            } else {
                format!("{name}/{old}")
            };
            match within(ctx.client.rename_path(id, path, leaf.to_string())).await {
                Ok(()) => ok(),
                Err(e) => refused(e),
            }
        }
        "torrents/topPrio"
        | "torrents/bottomPrio"
        | "torrents/increasePrio"
        | "torrents/decreasePrio" => {
            let to = match call {
                "torrents/topPrio" => Move::Top,
                "torrents/bottomPrio" => Move::Bottom,
                "torrents/increasePrio" => Move::Up,
                _ => Move::Down,
            };
            each(ctx, p, |id| ctx.client.queue(id, to)).await
        }
        "torrents/setDownloadLimit"
        | "torrents/setUploadLimit"
        | "transfer/setDownloadLimit"
        | "transfer/setUploadLimit" => {
            let Some(limit) = rate(p) else {
                return Some(bad("limit is required"));
            };
            let change = if call.ends_with("setDownloadLimit") {
                LimitChange {
                    down: Some(limit),
                    ..LimitChange::default()
                }
            } else {
                LimitChange {
                    up: Some(limit),
                    ..LimitChange::default()
                }
            };
            let target = if call.starts_with("transfer/") {
                LimitTarget::Session
            } else {
                LimitTarget::Torrents(targets(ctx, p))
            };
            match within(ctx.client.limit(target, change)).await {
                Ok(_) => ok(),
                Err(e) => refused(e),
            }
        }
        _ => return None,
    };
    Some(answer)
}

/// Asks `f` of every torrent `hashes` names; the first refusal is the answer.
async fn each<F>(ctx: &Ctx, p: &Params, mut f: impl FnMut(TorrentId) -> F) -> Answer
where
    F: std::future::Future<Output = Result<(), RequestError>>,
{
    for id in targets(ctx, p) {
        if let Err(e) = within(f(id)).await {
            return refused(e);
        }
    }
    ok()
}
