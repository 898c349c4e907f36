//! The torrent methods that act on torrents (rpc-spec 3.1, 3.4-3.7, and the queue moves of
//! 4.6): start, stop, verify, reannounce, remove, set-location, rename-path, queue moves.
//! Each resolves `ids` against one snapshot of the line-up and sends the session its requests
//! through `engine::api`, waiting (bounded) for the answers that carry one.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Map;
use tokio::sync::oneshot;

use super::ctx::Ctx;
use super::error::MethodError;
use super::torrents::{ask, bool_arg, send, str_arg, targets, Answer, Args};
use crate::engine::api::*;

pub(crate) fn start(ctx: &Ctx, args: &Args, now: bool) -> Answer {
    let (_, ids) = targets(ctx, args)?;
    for id in ids {
        let (reply, _) = oneshot::channel();
        send(ctx, SessionRequest::Force { id, on: now, reply })?;
        send(
            ctx,
            SessionRequest::Torrent {
                id,
                command: Command::Resume,
            },
        )?;
    }
    Ok(Map::new())
}

pub(crate) fn stop(ctx: &Ctx, args: &Args) -> Answer {
    let (_, ids) = targets(ctx, args)?;
    for id in ids {
        send(
            ctx,
            SessionRequest::Torrent {
                id,
                command: Command::Pause,
            },
        )?;
    }
    Ok(Map::new())
}

/// `torrent-reannounce`: each torrent announces to its trackers as soon as they allow.
pub(crate) fn reannounce(ctx: &Ctx, args: &Args) -> Answer {
    let (_, ids) = targets(ctx, args)?;
    for id in ids {
        let command = Command::Reannounce;
        send(ctx, SessionRequest::Torrent { id, command })?;
    }
    Ok(Map::new())
}

pub(crate) fn verify(ctx: &Ctx, args: &Args) -> Answer {
    let (_, ids) = targets(ctx, args)?;
    for id in ids {
        send(ctx, SessionRequest::Verify { id })?;
    }
    Ok(Map::new())
}

pub(crate) async fn remove(ctx: &Ctx, args: &Args) -> Answer {
    let (_, ids) = targets(ctx, args)?;
    let delete_data = bool_arg(args, "delete-local-data").unwrap_or(false);
    for &id in &ids {
        ask(ctx, |reply| SessionRequest::Remove {
            id,
            delete_data,
            reply,
        })
        .await??;
    }
    let mut snap = ctx.snapshot.clone();
    let _ = tokio::time::timeout(
        Duration::from_secs(2),
        snap.wait_for(|s| !s.torrents.iter().any(|t| ids.contains(&t.id))),
    )
    .await;
    Ok(Map::new())
}

pub(crate) async fn set_location(ctx: &Ctx, args: &Args) -> Answer {
    let (_, ids) = targets(ctx, args)?;
    let location = str_arg(args, "location")
        .ok_or_else(|| MethodError::BadArgument("no location specified".into()))?;
    move_to(ctx, &ids, location, bool_arg(args, "move").unwrap_or(false)).await?;
    Ok(Map::new())
}

pub(super) async fn move_to(
    ctx: &Ctx,
    ids: &[TorrentId],
    location: &str,
    move_data: bool,
) -> Result<(), MethodError> {
    let dir = PathBuf::from(location);
    if !dir.is_absolute() {
        return Err(MethodError::BadArgument(
            "location must be an absolute path".into(),
        ));
    }
    for &id in ids {
        let dir = dir.clone();
        if move_data {
            ask(ctx, |reply| SessionRequest::Move { id, dir, reply }).await??;
        } else {
            ask(ctx, |reply| SessionRequest::Locate { id, dir, reply }).await??;
        }
    }
    Ok(())
}

/// `torrent-rename-path`: one file or folder of exactly one torrent gets a new name; the
/// answer repeats what was asked, as Transmission's does.
pub(crate) async fn rename_path(ctx: &Ctx, args: &Args) -> Answer {
    let (_, ids) = targets(ctx, args)?;
    let [id] = ids[..] else {
        return Err(MethodError::BadArgument(
            "torrent-rename-path requires 1 torrent".into(),
        ));
    };
    let arg = |key| {
        str_arg(args, key)
            .map(str::to_owned)
            .ok_or_else(|| MethodError::BadArgument(format!("no {key} specified")))
    };
    let (path, name) = (arg("path")?, arg("name")?);
    ask(ctx, |reply| SessionRequest::RenamePath {
        id,
        path: path.clone(),
        name: name.clone(),
        reply,
    })
    .await??;
    if path.split('/').filter(|c| !c.is_empty()).count() == 1 {
        // The torrent's new name shows from the session's next line-up: the next
        // `torrent-get` must not see the old one.
        let mut snap = ctx.snapshot.clone();
        let shown = |s: &std::sync::Arc<SessionSnapshot>| {
            s.torrents.iter().any(|t| t.id == id && t.name == name)
        };
        let _ = tokio::time::timeout(Duration::from_secs(2), snap.wait_for(shown)).await;
    }
    let mut answer = Map::new();
    answer.insert("path".into(), path.into());
    answer.insert("name".into(), name.into());
    answer.insert("id".into(), id.0.into());
    Ok(answer)
}

pub(crate) async fn queue(ctx: &Ctx, args: &Args, to: Move) -> Answer {
    let (_, mut ids) = targets(ctx, args)?;
    // Several to the top (or down) keep their order: the last one moved first.
    if matches!(to, Move::Top | Move::Down) {
        ids.reverse();
    }
    for id in ids {
        ask(ctx, |reply| SessionRequest::Queue { id, to, reply }).await??;
    }
    Ok(Map::new())
}
