//! The calls of issue 56's second round that change a torrent or the session beyond
//! `actions.rs`: `torrents/filePrio`, `toggleSequentialDownload`,
//! `toggleFirstLastPiecePrio`, `setAutoManagement`, `transfer/banPeers`,
//! `app/setPreferences`, and the reads `torrents/downloadLimit`/`uploadLimit`. Each goes through a typed `engine::api::Client` call (the same
//! ones the TUI's keys and the Transmission RPC's `session-set` use); errors answer with
//! qBittorrent's codes: 400 for a missing or malformed parameter, 404 for an unknown hash,
//! 409 when the session refuses.
//!
//! A torrent's sequential mode is on its line (`TorrentLine::sequential`), whoever set it (a
//! key in the TUI, `ttui files --sequential`, the RPC or here), and `seq_dl` reports it.
//! Its first/last piece priority is there too (`TorrentLine::first_last`, set with
//! `Command::SetFirstLast`), and `f_l_piece_prio` reports it. As in qBittorrent the two are
//! separate flags; ttui's in-order mode fetches those pieces first anyway.

use std::net::SocketAddr;
use std::path::PathBuf;

use hyper::StatusCode;
use serde_json::{Map, Value};

use super::answer::{bad, ok, one, refused, settings, targets, within};
use super::form::Params;
use super::text;
use super::Ctx;
use crate::engine::api::{
    Command, FilePriority, LimitChange, LimitTarget, SettingsChange, TorrentLine,
};
use crate::http::Answer;

/// qBittorrent's file priority onto ttui's: 0 skip, 1 normal, 6 high, 7 maximum (ttui's
/// highest is `High`). None for any other number, as qBittorrent refuses them.
pub fn file_priority(qbt: i64) -> Option<FilePriority> {
    match qbt {
        0 => Some(FilePriority::Skip),
        1 => Some(FilePriority::Normal),
        6 | 7 => Some(FilePriority::High),
        _ => None,
    }
}

/// Answers one of these calls; None: not one of them.
pub(super) async fn route(ctx: &Ctx, call: &str, p: &Params) -> Option<Answer> {
    let answer = match call {
        "torrents/filePrio" => file_prio(ctx, p).await,
        "torrents/toggleSequentialDownload" => {
            toggle(ctx, p, |t| t.sequential, Command::SetSequential)
        }
        "torrents/toggleFirstLastPiecePrio" => {
            toggle(ctx, p, |t| t.first_last, Command::SetFirstLast)
        }
        "torrents/setAutoManagement" => ok(),
        "transfer/banPeers" => ban_peers(ctx, p),
        "torrents/downloadLimit" | "torrents/uploadLimit" => {
            own_limits(ctx, p, call == "torrents/downloadLimit").await
        }
        "app/setPreferences" => set_preferences(ctx, p).await,
        _ => return None,
    };
    Some(answer)
}

/// `toggleSequentialDownload` and `toggleFirstLastPiecePrio`: each torrent named is set to
/// the opposite of what its line says (`on`).
fn toggle(ctx: &Ctx, p: &Params, on: fn(&TorrentLine) -> bool, set: fn(bool) -> Command) -> Answer {
    let head = ctx.client.head();
    for id in targets(ctx, p) {
        let now = head.torrents.iter().any(|t| t.id == id && on(t));
        if let Err(e) = ctx.client.command(id, set(!now)) {
            return refused(e.into());
        }
    }
    ok()
}

/// Each entry of the `|`-separated list `name`; None when one does not parse or there is
/// none.
fn every<T: std::str::FromStr>(p: &Params, name: &str) -> Option<Vec<T>> {
    let all: Option<Vec<T>> = p.list(name, '|').iter().map(|s| s.parse().ok()).collect();
    all.filter(|v| !v.is_empty())
}

/// `torrents/filePrio` (`hash`, `id` as `a|b|c`, `priority`).
async fn file_prio(ctx: &Ctx, p: &Params) -> Answer {
    let Some(priority) = p.int("priority").and_then(file_priority) else {
        return bad("Priority is not valid");
    };
    let Some(files) = every::<usize>(p, "id") else {
        return bad("File IDs are not valid");
    };
    let Some((id, _)) = one(ctx, p) else {
        return text(StatusCode::NOT_FOUND, "Torrent hash was not found");
    };
    let count = match within(ctx.client.files(id)).await {
        Ok(Some(lines)) => lines.len(),
        Ok(None) => {
            return text(
                StatusCode::CONFLICT,
                "Torrent's metadata has not yet downloaded",
            )
        }
        Err(e) => return refused(e),
    };
    if files.iter().any(|&f| f >= count) {
        return bad("File IDs are not valid");
    }
    match ctx
        .client
        .command(id, Command::SetFilePriority { files, priority })
    {
        Ok(()) => ok(),
        Err(e) => refused(e.into()),
    }
}

/// `transfer/banPeers` (`peers` as `ip:port|ip:port`): each torrent that knows the peer
/// drops it and refuses it for the rest of the session, as the TUI's ban key does.
fn ban_peers(ctx: &Ctx, p: &Params) -> Answer {
    let Some(peers) = every::<SocketAddr>(p, "peers") else {
        return bad("peers must be ip:port separated by |");
    };
    for t in &ctx.client.head().torrents {
        for &addr in &peers {
            if let Err(e) = ctx.client.command(t.id, Command::BanPeer(addr)) {
                return refused(e.into());
            }
        }
    }
    ok()
}

/// `torrents/downloadLimit` / `uploadLimit` (`hashes`): each torrent's own limit by hash,
/// bytes a second (0 none).
async fn own_limits(ctx: &Ctx, p: &Params, down: bool) -> Answer {
    let ids = targets(ctx, p);
    let Some(settings) = settings(ctx, ids).await else {
        return text(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the session did not answer in time",
        );
    };
    let head = ctx.client.head();
    let by_hash: Map<String, Value> = settings
        .torrents
        .iter()
        .filter_map(|s| {
            let t = head.line(s.id)?;
            let limit = if down { s.down } else { s.up };
            Some((
                crate::protocol::hex::encode(&t.info_hash),
                Value::from(limit),
            ))
        })
        .collect();
    super::json(&Value::Object(by_hash))
}

/// A rate in bytes a second as qBittorrent's preferences give it (0 or less: none).
fn rate(v: &Value) -> Option<u64> {
    v.as_i64().map(|n| n.max(0) as u64)
}

/// A queue size (-1 or 0: none, ttui's 0).
fn slots(v: &Value) -> Option<u32> {
    v.as_i64().map(|n| n.clamp(0, i64::from(u32::MAX)) as u32)
}

/// What `app/setPreferences`' `json` asks, in ttui's terms; Err: a value it cannot take.
pub fn preference_change(
    prefs: &Map<String, Value>,
) -> Result<(LimitChange, SettingsChange), &'static str> {
    let limits = LimitChange {
        down: prefs.get("dl_limit").and_then(rate),
        up: prefs.get("up_limit").and_then(rate),
        turtle: None,
    };
    let enabled = |key: &str| prefs.get(key).and_then(Value::as_bool);
    let ratio = match (enabled("max_ratio_enabled"), prefs.get("max_ratio")) {
        (Some(false), _) => Some(None),
        (_, Some(r)) => match r.as_f64() {
            Some(r) if r >= 0.0 => Some(Some(r)),
            Some(_) => Some(None),
            None => return Err("max_ratio must be a number"),
        },
        _ => None,
    };
    let incomplete_dir = match (enabled("temp_path_enabled"), prefs.get("temp_path")) {
        (Some(false), _) => Some(None),
        (Some(true), Some(Value::String(dir))) => {
            let dir = PathBuf::from(dir);
            if !dir.is_absolute() {
                return Err("temp_path must be absolute");
            }
            Some(Some(dir))
        }
        (Some(true), _) => return Err("temp_path_enabled needs a temp_path"),
        _ => None,
    };
    let settings = SettingsChange {
        ratio,
        incomplete_dir,
        max_downloads: prefs.get("max_active_downloads").and_then(slots),
        max_seeds: prefs.get("max_active_uploads").and_then(slots),
        ..SettingsChange::default()
    };
    Ok((limits, settings))
}

/// `app/setPreferences` (`json=`): the keys that map onto ttui's runtime settings are
/// applied; every other key is accepted and ignored, as the issue asks.
async fn set_preferences(ctx: &Ctx, p: &Params) -> Answer {
    let parsed = p
        .get("json")
        .and_then(|j| serde_json::from_str::<Value>(j).ok());
    let Some(Value::Object(prefs)) = parsed else {
        return bad("json must be an object");
    };
    let (limits, settings) = match preference_change(&prefs) {
        Ok(c) => c,
        Err(why) => return bad(why),
    };
    if limits != LimitChange::default() {
        if let Err(e) = within(ctx.client.limit(LimitTarget::Session, limits)).await {
            return refused(e);
        }
    }
    if settings != SettingsChange::default() {
        if let Err(e) = within(ctx.client.set_settings(settings)).await {
            return refused(e);
        }
    }
    ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn change(v: Value) -> Result<(LimitChange, SettingsChange), &'static str> {
        let Value::Object(m) = v else {
            panic!("an object")
        };
        preference_change(&m)
    }

    #[test]
    fn file_priorities_map_and_others_are_refused() {
        assert_eq!(file_priority(0), Some(FilePriority::Skip));
        assert_eq!(file_priority(1), Some(FilePriority::Normal));
        assert_eq!(file_priority(7), Some(FilePriority::High));
        assert_eq!(file_priority(3), None);
        assert_eq!(file_priority(-1), None);
    }

    #[test]
    fn preferences_map_onto_the_sessions_settings() {
        let (l, s) = change(json!({
            "dl_limit": 2048, "up_limit": -1, "max_active_downloads": 4,
            "max_ratio_enabled": true, "max_ratio": 1.5, "locale": "de"
        }))
        .unwrap();
        assert_eq!((l.down, l.up), (Some(2048), Some(0)));
        assert_eq!(s.max_downloads, Some(4));
        assert_eq!(s.ratio, Some(Some(1.5)));
        let (l, s) = change(json!({ "max_ratio_enabled": false })).unwrap();
        assert_eq!(l, LimitChange::default());
        assert_eq!(s.ratio, Some(None));
        assert!(change(json!({ "temp_path_enabled": true, "temp_path": "rel" })).is_err());
        assert!(change(json!({ "max_ratio": "x" })).is_err());
    }
}
