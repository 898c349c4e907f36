//! `torrent-set` (rpc-spec 3.2): limits, seeding goals, file priorities, the queue position,
//! labels and the location of the torrents named, each through `engine::api`.

use std::time::Duration;

use serde_json::Map;

use super::actions::move_to;
use super::ctx::Ctx;
use super::error::MethodError;
use super::fields;
use super::torrents::{
    answer, bool_arg, from_piece_zero, label_list, num_arg, set_priorities, str_arg, targets,
    Answer, Args,
};
use crate::engine::api::*;

pub(crate) async fn set(ctx: &Ctx, args: &Args) -> Answer {
    let (_, ids) = targets(ctx, args)?;
    if ids.is_empty() {
        return Ok(Map::new());
    }
    limits(ctx, &ids, args).await?;
    goals(ctx, &ids, args).await?;
    for &id in &ids {
        set_priorities(ctx, id, args, None).await?;
    }
    let sequential =
        bool_arg(args, "sequentialDownload").or_else(|| bool_arg(args, "sequential_download"));
    if let Some(on) = sequential {
        for &id in &ids {
            ctx.client.command(id, Command::SetSequential(on))?;
        }
        let shown = |s: &SessionSnapshot| {
            s.torrents
                .iter()
                .filter(|t| ids.contains(&t.id))
                .all(|t| t.sequential == on)
        };
        ctx.client.wait_until(Duration::from_secs(3), shown).await;
    }
    from_piece_zero(args)?;
    if let Some(pos) = num_arg(args, "queuePosition") {
        for &id in &ids {
            queue_to(ctx, id, pos.max(0.0) as u32).await?;
        }
    }
    if let Some(labels) = label_list(args)? {
        for &id in &ids {
            let edit = crate::engine::api::LabelEdit::Set(labels.clone());
            let now = answer(ctx.client.labels(id, edit)).await?;
            // A client reads back what it set at once; the session publishes on its tick.
            let shown = |s: &SessionSnapshot| s.line(id).is_none_or(|t| t.labels == now);
            ctx.client.wait_until(Duration::from_secs(3), shown).await;
        }
    }
    if let Some(location) = str_arg(args, "location") {
        move_to(ctx, &ids, location, true).await?;
    }
    Ok(Map::new())
}

/// Moves a torrent step by step to `pos` in the queue (0 first).
async fn queue_to(ctx: &Ctx, id: TorrentId, pos: u32) -> Result<(), MethodError> {
    let snap = ctx.snapshot.borrow().clone();
    let Some(now) = snap.line(id).map(|t| t.queue_position) else {
        return Ok(());
    };
    let last = snap.torrents.len().saturating_sub(1) as u32;
    let (to, steps) = if pos == 0 {
        (Move::Top, 1)
    } else if pos >= last {
        (Move::Bottom, 1)
    } else if pos < now {
        (Move::Up, now - pos)
    } else {
        (Move::Down, pos - now)
    };
    for _ in 0..steps {
        answer(ctx.client.queue(id, to)).await?;
    }
    Ok(())
}

/// `downloadLimit`/`downloadLimited` and the upload pair: a limit given with `...Limited`
/// true (or while the torrent is limited) applies; `...Limited` false lifts it; a limit
/// given alone while unlimited is kept by the RPC and applies when `...Limited` comes.
async fn limits(ctx: &Ctx, ids: &[TorrentId], args: &Args) -> Result<(), MethodError> {
    let keys = [
        "downloadLimit",
        "downloadLimited",
        "uploadLimit",
        "uploadLimited",
    ];
    if !keys.iter().any(|k| args.contains_key(*k)) {
        return Ok(());
    }
    let current = answer(ctx.client.settings(ids.to_vec())).await?;
    for t in &current.torrents {
        let mut change = LimitChange::default();
        for (down, limit_key, on_key, now) in [
            (true, "downloadLimit", "downloadLimited", t.down),
            (false, "uploadLimit", "uploadLimited", t.up),
        ] {
            let given = num_arg(args, limit_key).map(|k| (k.max(0.0) as u64) * fields::SPEED_K);
            let on = bool_arg(args, on_key);
            let remembered = {
                let mut stored = ctx.stored.lock().map_err(|_| MethodError::Gone)?;
                let slot = stored.torrent_limits.entry(t.id).or_insert((0, 0));
                let cell = if down { &mut slot.0 } else { &mut slot.1 };
                if let Some(g) = given {
                    *cell = g;
                }
                *cell
            };
            let new = match (on, given) {
                (Some(false), _) => Some(0),
                (Some(true), Some(g)) => Some(g),
                (Some(true), None) => Some(if now > 0 {
                    now
                } else if remembered > 0 {
                    remembered
                } else {
                    100 * fields::SPEED_K
                }),
                (None, Some(g)) if now > 0 => Some(g),
                (None, _) => None,
            };
            if down {
                change.down = new;
            } else {
                change.up = new;
            }
        }
        if change.down.is_some() || change.up.is_some() {
            let target = LimitTarget::Torrents(vec![t.id]);
            answer(ctx.client.limit(target, change)).await?;
        }
    }
    Ok(())
}

/// `seedRatioMode`/`seedRatioLimit` and `seedIdleMode`/`seedIdleLimit` (minutes): mode 0
/// follows the session, 1 the torrent's own limit, 2 none.
async fn goals(ctx: &Ctx, ids: &[TorrentId], args: &Args) -> Result<(), MethodError> {
    let ratio_mode = num_arg(args, "seedRatioMode").map(|m| m as i64);
    let ratio = num_arg(args, "seedRatioLimit");
    let idle_mode = num_arg(args, "seedIdleMode").map(|m| m as i64);
    let idle = num_arg(args, "seedIdleLimit").map(|m| Duration::from_secs(m.max(0.0) as u64 * 60));
    if ratio_mode.is_none() && ratio.is_none() && idle_mode.is_none() && idle.is_none() {
        return Ok(());
    }
    if ratio.is_some_and(|r| r < 0.0) {
        return Err(MethodError::BadArgument("seedRatioLimit: 0 or more".into()));
    }
    let current = answer(ctx.client.settings(ids.to_vec())).await?;
    for t in &current.torrents {
        let ratio_set = pick(ratio_mode, ratio, t.ratio);
        let idle_set = pick(idle_mode, idle, t.idle);
        if ratio_set.is_none() && idle_set.is_none() {
            continue;
        }
        let id = t.id;
        let change = GoalChange {
            ratio: ratio_set,
            seed_time: None,
            idle: idle_set,
        };
        answer(ctx.client.goals(id, change)).await?;
    }
    Ok(())
}

/// The goal a mode and a limit set, over the torrent's goal now.
fn pick<T: Copy>(mode: Option<i64>, limit: Option<T>, now: Set<T>) -> Option<Set<T>> {
    match (mode, limit) {
        (Some(0), _) => Some(Set::Default),
        (Some(2), _) => Some(Set::Off),
        (Some(1), Some(v)) => Some(Set::To(v)),
        // Own mode without a limit: the limit it has stays; none known, nothing to set.
        (Some(1), None) => None,
        (_, Some(v)) if matches!(now, Set::To(_)) => Some(Set::To(v)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn goal_modes_become_sets() {
        assert_eq!(pick(Some(0), Some(1.0), Set::Off), Some(Set::Default));
        assert_eq!(pick(Some(2), None, Set::To(1.0)), Some(Set::Off));
        assert_eq!(pick(Some(1), Some(1.5), Set::Default), Some(Set::To(1.5)));
        assert_eq!(pick(None, Some(3.0), Set::To(1.0)), Some(Set::To(3.0)));
        assert_eq!(pick(None, Some(3.0), Set::Default), None);
        assert_eq!(pick::<f64>(None, None, Set::Default), None);
    }
}
