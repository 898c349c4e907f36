//! The session methods of rpc-spec section 4: `session-get`/`session-set` over the keys that
//! map onto ttui's settings (the others answer Transmission's defaults and are listed in
//! assets/man/rpc.md), `session-stats`, `session-close`, `free-space` and `port-test`.

use std::time::Duration;

use serde_json::{json, Map, Value};

use super::ctx::Ctx;
use super::error::MethodError;
use super::fields::SPEED_K;
use super::torrents::{answer, Answer, Args};
use crate::engine::api::*;

pub(crate) const RPC_VERSION: u32 = 17;
pub(crate) const RPC_VERSION_MINIMUM: u32 = 14;

fn kbps(b: u64) -> u64 {
    b / SPEED_K
}

/// `blocklist-update`: the list read again now; answered with its size as Transmission does.
pub(crate) async fn blocklist_update(ctx: &Ctx) -> Answer {
    let status = answer(ctx.client.blocklist_update()).await?;
    let mut out = Args::new();
    out.insert("blocklist-size".into(), json!(status.ranges));
    Ok(out)
}

pub(crate) async fn get(ctx: &Ctx, args: &Args) -> Answer {
    let s = answer(ctx.client.settings(Vec::new())).await?;
    let snap = ctx.snapshot.borrow().clone();
    let f = &ctx.facts;
    let stored = ctx.stored.lock().map_err(|_| MethodError::Gone)?.clone();
    let limit = |now: u64, kept: u64| {
        if now > 0 {
            kbps(now)
        } else {
            kbps(kept).max(100)
        }
    };
    let minutes = |d: Option<Duration>| d.map_or(30, |d| d.as_secs().div_ceil(60));
    let units = json!({
        "speed-units": ["kB/s", "MB/s", "GB/s", "TB/s"], "speed-bytes": 1000,
        "size-units": ["kB", "MB", "GB", "TB"], "size-bytes": 1000,
        "memory-units": ["KiB", "MiB", "GiB", "TiB"], "memory-bytes": 1024,
    });
    let all: Map<String, Value> = [
        ("alt-speed-down", json!(kbps(s.limits.alt_down))),
        ("alt-speed-enabled", json!(s.limits.turtle)),
        ("alt-speed-time-begin", json!(540)),
        ("alt-speed-time-day", json!(127)),
        ("alt-speed-time-enabled", json!(false)),
        ("alt-speed-time-end", json!(1020)),
        ("alt-speed-up", json!(kbps(s.limits.alt_up))),
        ("blocklist-enabled", json!(snap.blocklist.is_some())),
        (
            "blocklist-size",
            json!(snap.blocklist.as_ref().map_or(0, |b| b.ranges)),
        ),
        (
            "blocklist-url",
            json!(snap.blocklist.as_ref().map_or("", |b| b.source.as_str())),
        ),
        ("cache-size-mb", json!(4)),
        ("config-dir", json!(f.state_dir.to_string_lossy())),
        ("default-trackers", json!("")),
        ("dht-enabled", json!(f.dht)),
        (
            "download-dir",
            json!(snap.default_save_path.to_string_lossy()),
        ),
        (
            "download-dir-free-space",
            json!(free_space(&snap.default_save_path).map_or(-1, |(free, _)| free as i64)),
        ),
        ("download-queue-enabled", json!(s.max_downloads > 0)),
        (
            "download-queue-size",
            json!(if s.max_downloads > 0 {
                s.max_downloads
            } else {
                5
            }),
        ),
        ("encryption", json!(f.encryption)),
        ("idle-seeding-limit-enabled", json!(s.goals.idle.is_some())),
        ("idle-seeding-limit", json!(minutes(s.goals.idle))),
        ("incomplete-dir-enabled", json!(s.incomplete_dir.is_some())),
        (
            "incomplete-dir",
            json!(s
                .incomplete_dir
                .as_ref()
                .or(stored.incomplete_dir.as_ref())
                .unwrap_or(&snap.default_save_path)
                .to_string_lossy()),
        ),
        ("lpd-enabled", json!(f.lsd)),
        (
            "peer-limit-global",
            json!(f.max_peers.saturating_mul(4).max(200)),
        ),
        ("peer-limit-per-torrent", json!(f.max_peers)),
        ("peer-port-random-on-start", json!(false)),
        ("peer-port", json!(snap.listen_port)),
        ("pex-enabled", json!(f.pex)),
        ("port-forwarding-enabled", json!(false)),
        ("queue-stalled-enabled", json!(true)),
        (
            "queue-stalled-minutes",
            json!(s.stalled_after.as_secs().div_ceil(60)),
        ),
        ("rename-partial-files", json!(false)),
        ("rpc-version-minimum", json!(RPC_VERSION_MINIMUM)),
        ("rpc-version-semver", json!("5.3.0")),
        ("rpc-version", json!(RPC_VERSION)),
        ("script-torrent-added-enabled", json!(false)),
        ("script-torrent-added-filename", json!("")),
        (
            "script-torrent-done-enabled",
            json!(f.on_complete.is_some()),
        ),
        (
            "script-torrent-done-filename",
            json!(f
                .on_complete
                .as_deref()
                .map_or(String::new(), |p| p.to_string_lossy().into_owned())),
        ),
        ("script-torrent-done-seeding-enabled", json!(false)),
        ("script-torrent-done-seeding-filename", json!("")),
        ("seed-queue-enabled", json!(s.max_seeds > 0)),
        (
            "seed-queue-size",
            json!(if s.max_seeds > 0 { s.max_seeds } else { 10 }),
        ),
        ("seedRatioLimit", json!(s.goals.ratio.unwrap_or(2.0))),
        ("seedRatioLimited", json!(s.goals.ratio.is_some())),
        // Transmission 4.1's default order for added torrents. 4.1 names it
        // `sequential_download` in both forms; `sequentialDownload` is the name a JSON-RPC
        // `fields` list is read back to (the legacy name of torrent-get's field).
        ("sequentialDownload", json!(s.sequential)),
        ("sequential_download", json!(s.sequential)),
        ("session-id", json!(ctx.session_id.as_str())),
        ("speed-limit-down-enabled", json!(s.limits.down > 0)),
        (
            "speed-limit-down",
            json!(limit(s.limits.down, stored.session_down)),
        ),
        ("speed-limit-up-enabled", json!(s.limits.up > 0)),
        (
            "speed-limit-up",
            json!(limit(s.limits.up, stored.session_up)),
        ),
        ("start-added-torrents", json!(true)),
        ("trash-original-torrent-files", json!(false)),
        ("units", json!(units)),
        ("utp-enabled", json!(f.utp)),
        (
            "version",
            json!(format!("4.0.6 (ttui {})", env!("CARGO_PKG_VERSION"))),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    match args.get("fields") {
        Some(Value::Array(fields)) if !fields.is_empty() => Ok(fields
            .iter()
            .filter_map(Value::as_str)
            .filter_map(|k| all.get(k).map(|v| (k.to_string(), v.clone())))
            .collect()),
        _ => Ok(all),
    }
}

fn num(args: &Args, key: &str) -> Option<f64> {
    args.get(key)?
        .as_f64()
        .filter(|v| v.is_finite() && *v >= 0.0)
}

fn flag(args: &Args, key: &str) -> Option<bool> {
    match args.get(key)? {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => Some(n.as_i64() != Some(0)),
        _ => None,
    }
}

/// `session-set`: the speed limits (and turtle mode), the ratio and idle goals, the queue
/// sizes and stall time, the order of torrents added from now on (`sequential_download`). Other keys are accepted and change nothing (listed in rpc.md).
pub(crate) async fn set(ctx: &Ctx, args: &Args) -> Answer {
    let now = answer(ctx.client.settings(Vec::new())).await?;
    let mut change = LimitChange::default();
    {
        let mut stored = ctx.stored.lock().map_err(|_| MethodError::Gone)?;
        for (down, key, on_key) in [
            (true, "speed-limit-down", "speed-limit-down-enabled"),
            (false, "speed-limit-up", "speed-limit-up-enabled"),
        ] {
            let given = num(args, key).map(|k| k as u64 * SPEED_K);
            let current = if down { now.limits.down } else { now.limits.up };
            let kept = if down {
                &mut stored.session_down
            } else {
                &mut stored.session_up
            };
            if let Some(g) = given {
                *kept = g;
            }
            let new = match (flag(args, on_key), given) {
                (Some(false), _) => Some(0),
                (Some(true), Some(g)) => Some(g),
                (Some(true), None) if current > 0 => None,
                (Some(true), None) => Some(if *kept > 0 { *kept } else { 100 * SPEED_K }),
                (None, Some(g)) if current > 0 => Some(g),
                (None, _) => None,
            };
            if down {
                change.down = new;
            } else {
                change.up = new;
            }
        }
    }
    change.turtle =
        flag(args, "alt-speed-enabled").map(|on| if on { Turtle::On } else { Turtle::Off });
    if change != LimitChange::default() {
        answer(ctx.client.limit(LimitTarget::Session, change)).await?;
    }
    let ratio = match (flag(args, "seedRatioLimited"), num(args, "seedRatioLimit")) {
        (Some(false), _) => Some(None),
        (Some(true), r) => Some(r.or(now.goals.ratio).or(Some(2.0))),
        (None, Some(r)) if now.goals.ratio.is_some() => Some(Some(r)),
        _ => None,
    };
    let minutes = |m: f64| Duration::from_secs(m as u64 * 60);
    let idle = match (
        flag(args, "idle-seeding-limit-enabled"),
        num(args, "idle-seeding-limit").map(minutes),
    ) {
        (Some(false), _) => Some(None),
        (Some(true), i) => Some(i.or(now.goals.idle).or(Some(minutes(30.0)))),
        (None, Some(i)) if now.goals.idle.is_some() => Some(Some(i)),
        _ => None,
    };
    let queue = |enabled: &str, size: &str, current: u32| -> Option<u32> {
        match (flag(args, enabled), num(args, size).map(|n| n as u32)) {
            (Some(false), _) => Some(0),
            (Some(true), n) => Some(n.unwrap_or(if current > 0 { current } else { 5 }).max(1)),
            (None, Some(n)) if current > 0 => Some(n.max(1)),
            _ => None,
        }
    };
    let incomplete_dir = {
        let given = args
            .get("incomplete-dir")
            .and_then(Value::as_str)
            .map(std::path::PathBuf::from);
        let mut stored = ctx.stored.lock().map_err(|_| MethodError::Gone)?;
        if let Some(dir) = &given {
            if !dir.is_absolute() {
                return Err(MethodError::BadArgument(
                    "incomplete-dir must be an absolute path".into(),
                ));
            }
            stored.incomplete_dir = Some(dir.clone());
        }
        match (flag(args, "incomplete-dir-enabled"), given) {
            (Some(false), _) => Some(None),
            (Some(true), Some(d)) => Some(Some(d)),
            (Some(true), None) => {
                let dir = (now.incomplete_dir.clone()).or_else(|| stored.incomplete_dir.clone());
                Some(Some(dir.ok_or_else(|| {
                    MethodError::BadArgument(
                        "incomplete-dir-enabled needs an incomplete-dir".into(),
                    )
                })?))
            }
            (None, Some(d)) if now.incomplete_dir.is_some() => Some(Some(d)),
            (None, _) => None,
        }
    };
    let settings = SettingsChange {
        incomplete_dir,
        ratio,
        idle,
        max_downloads: queue(
            "download-queue-enabled",
            "download-queue-size",
            now.max_downloads,
        ),
        max_seeds: queue("seed-queue-enabled", "seed-queue-size", now.max_seeds),
        stalled_after: num(args, "queue-stalled-minutes").map(minutes),
        sequential: flag(args, "sequentialDownload").or_else(|| flag(args, "sequential_download")),
    };
    if settings != SettingsChange::default() {
        answer(ctx.client.set_settings(settings)).await?;
    }
    Ok(Map::new())
}

pub(crate) fn stats(ctx: &Ctx) -> Answer {
    let snap = ctx.snapshot.borrow().clone();
    let paused = snap
        .torrents
        .iter()
        .filter(|t| matches!(t.state, TorrentState::Paused))
        .count();
    let active = snap
        .torrents
        .iter()
        .filter(|t| t.down_rate >= 1.0 || t.up_rate >= 1.0)
        .count();
    let (down, up, added) = ctx
        .activity
        .lock()
        .map_or((0, 0, 0), |a| (a.downloaded, a.uploaded, a.added));
    let secs = ctx.started.elapsed().as_secs();
    let lifetime_down: u64 = snap.torrents.iter().map(|t| t.downloaded).sum();
    let lifetime_up: u64 = snap.torrents.iter().map(|t| t.uploaded).sum();
    let mut out = Map::new();
    out.insert("activeTorrentCount".into(), json!(active));
    out.insert("downloadSpeed".into(), json!(snap.down_rate as u64));
    out.insert("pausedTorrentCount".into(), json!(paused));
    out.insert("torrentCount".into(), json!(snap.torrents.len()));
    out.insert("uploadSpeed".into(), json!(snap.up_rate as u64));
    out.insert(
        "cumulative-stats".into(),
        json!({"uploadedBytes": lifetime_up, "downloadedBytes": lifetime_down,
               "filesAdded": snap.torrents.len(), "sessionCount": 1, "secondsActive": secs}),
    );
    out.insert(
        "current-stats".into(),
        json!({"uploadedBytes": up, "downloadedBytes": down,
               "filesAdded": added, "sessionCount": 1, "secondsActive": secs}),
    );
    Ok(out)
}

pub(crate) fn close(ctx: &Ctx) -> Answer {
    ctx.client.shutdown()?;
    Ok(Map::new())
}

/// Free and total bytes of the filesystem holding `path`.
fn free_space(path: &std::path::Path) -> Option<(u64, u64)> {
    let v = rustix::fs::statvfs(path).ok()?;
    Some((
        v.f_bavail.saturating_mul(v.f_frsize),
        v.f_blocks.saturating_mul(v.f_frsize),
    ))
}

pub(crate) async fn free(args: &Args) -> Answer {
    let path = args
        .get("path")
        .and_then(Value::as_str)
        .ok_or_else(|| MethodError::BadArgument("no path specified".into()))?
        .to_string();
    let p = std::path::PathBuf::from(&path);
    if !p.is_absolute() {
        return Err(MethodError::BadArgument("path must be absolute".into()));
    }
    let (free, total) = tokio::task::spawn_blocking(move || free_space(&p))
        .await
        .ok()
        .flatten()
        .ok_or_else(|| {
            MethodError::BadArgument(format!(
                "{}: no such directory",
                crate::fmt::outside(&path, 200)
            ))
        })?;
    let mut out = Map::new();
    out.insert("path".into(), json!(path));
    out.insert("size-bytes".into(), json!(free));
    out.insert("total_size".into(), json!(total));
    Ok(out)
}

/// `port-test` from what the session knows: the port is open when peers have connected to
/// it since the session started. Nothing outside is contacted.
pub(crate) fn port_test(ctx: &Ctx) -> Answer {
    let snap = ctx.snapshot.borrow().clone();
    let mut out = Map::new();
    out.insert(
        "port-is-open".into(),
        json!(snap.listen_port != 0 && snap.incoming > 0),
    );
    Ok(out)
}
