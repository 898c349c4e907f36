//! The torrent methods that act on torrents (rpc-spec 3.1, 3.4-3.7, and the queue moves of
//! 4.6): start, stop, verify, reannounce, remove, set-location, rename-path, queue moves.
//! Each resolves `ids` against one snapshot of the line-up and sends the session its requests
//! through `engine::api`, waiting (bounded) for the answers that carry one.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Map;

use super::ctx::Ctx;
use super::error::MethodError;
use super::torrents::{answer, bool_arg, str_arg, targets, Answer, Args};
use crate::engine::api::*;

pub(crate) fn start(ctx: &Ctx, args: &Args, now: bool) -> Answer {
    let (_, ids) = targets(ctx, args)?;
    for id in ids {
        // Sent now; its answer is not awaited (a resume follows at once).
        drop(ctx.client.force(id, now));
        ctx.client.command(id, Command::Resume)?;
    }
    Ok(Map::new())
}

pub(crate) fn stop(ctx: &Ctx, args: &Args) -> Answer {
    let (_, ids) = targets(ctx, args)?;
    for id in ids {
        ctx.client.command(id, Command::Pause)?;
    }
    Ok(Map::new())
}

/// `torrent-reannounce`: each torrent announces to its trackers as soon as they allow.
pub(crate) fn reannounce(ctx: &Ctx, args: &Args) -> Answer {
    let (_, ids) = targets(ctx, args)?;
    for id in ids {
        ctx.client.command(id, Command::Reannounce)?;
    }
    Ok(Map::new())
}

pub(crate) fn verify(ctx: &Ctx, args: &Args) -> Answer {
    let (_, ids) = targets(ctx, args)?;
    for id in ids {
        ctx.client.verify(id)?;
    }
    Ok(Map::new())
}

pub(crate) async fn remove(ctx: &Ctx, args: &Args) -> Answer {
    let (_, ids) = targets(ctx, args)?;
    let delete_data = bool_arg(args, "delete-local-data").unwrap_or(false);
    for &id in &ids {
        answer(ctx.client.remove(id, delete_data)).await?;
    }
    ctx.client.wait_gone(&ids, Duration::from_secs(2)).await;
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
            answer(ctx.client.move_to(id, dir)).await?;
        } else {
            answer(ctx.client.locate(id, dir)).await?;
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
    answer(ctx.client.rename_path(id, path.clone(), name.clone())).await?;
    if path.split('/').filter(|c| !c.is_empty()).count() == 1 {
        // The torrent's new name shows from the session's next line-up: the next
        // `torrent-get` must not see the old one.
        let shown = |s: &SessionSnapshot| s.torrents.iter().any(|t| t.id == id && t.name == name);
        ctx.client.wait_until(Duration::from_secs(2), shown).await;
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
        answer(ctx.client.queue(id, to)).await?;
    }
    Ok(Map::new())
}
