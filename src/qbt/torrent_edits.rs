//! The third round of issue 56's `torrents/*` calls: `rename` (the torrent's name),
//! `addPeers` (peers to dial), `addTrackers`/`editTracker`/`removeTrackers` and
//! `pieceHashes`, `export`. Each goes through a typed `engine::api::Client` call; the answers follow
//! qBittorrent 4.5+ (`torrentscontroller.cpp`): 404 for an unknown hash, 409 for an empty
//! name, 400 when no peer parses or a new tracker URL is not one, 409 when `editTracker`'s
//! new URL is there already or its old one is not; `addPeers` answers `{hash: {added,
//! failed}}` for each torrent. Tracker edits are kept across restarts (in the resume data).
//!
//! `rename` is ttui's rename of the torrent's top-level file or folder (`rename_path`):
//! unlike qBittorrent, which changes only the name it shows, ttui's name is its content's,
//! so the folder (or a single file) is renamed on disk too.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hyper::StatusCode;
use serde_json::{json, Map, Value};

use super::answer::{bad, ok, one, refused, targets, within, ActionError};
use super::form::Params;
use super::{json, text, Ctx};
use crate::engine::api::{tracker_url_ok, Command, RequestError, TrackerEdit};
use crate::http::Answer;
use crate::protocol::hex;

/// How long `pieceHashes` and `export` wait for the session.
const READ_WAIT: Duration = Duration::from_secs(5);
/// How long `rename` waits for the line-up to show the new name.
const SHOWN_WAIT: Duration = Duration::from_secs(2);

/// The calls of this file that only read (GET or POST).
pub(super) const READS: &[&str] = &["torrents/pieceHashes", "torrents/export"];
/// The calls of this file that need POST.
pub(super) const WRITES: &[&str] = &[
    "torrents/rename",
    "torrents/addPeers",
    "torrents/addTrackers",
    "torrents/editTracker",
    "torrents/removeTrackers",
];

/// One peer as qBittorrent's `PeerAddress::parse` reads it: `ip:port`, `[v6]:port`, or a
/// bare IPv6 address with its port after the last colon. None for anything else, or port 0.
pub fn parse_peer(s: &str) -> Option<SocketAddr> {
    let s = s.trim();
    let addr = s.parse::<SocketAddr>().ok().or_else(|| {
        let (ip, port) = s.rsplit_once(':')?;
        let ip = ip.parse::<std::net::Ipv6Addr>().ok()?;
        Some(SocketAddr::new(IpAddr::V6(ip), port.parse().ok()?))
    })?;
    (addr.port() != 0).then_some(addr)
}

/// Answers one of these calls; None: not one of them.
pub(super) async fn route(ctx: &Ctx, call: &str, p: &Params) -> Option<Answer> {
    let answer = match call {
        "torrents/rename" => {
            let Some((id, old)) = one(ctx, p) else {
                return Some(text(StatusCode::NOT_FOUND, "Torrent hash was not found"));
            };
            let name = p.get("name").unwrap_or("").trim();
            if name.is_empty() {
                return Some(text(StatusCode::CONFLICT, "Incorrect torrent name"));
            }
            if name == old {
                return Some(ok());
            }
            match within(ctx.client.rename_path(id, old, name.to_string())).await {
                Ok(()) => {
                    // A client that lists right after sees the new name (as after a label
                    // edit), as it would from qBittorrent.
                    let shown = |s: &crate::engine::api::SessionSnapshot| {
                        s.torrents.iter().any(|t| t.id == id && t.name == name)
                    };
                    ctx.client.wait_until(SHOWN_WAIT, shown).await;
                    ok()
                }
                Err(e) => refused(e),
            }
        }
        "torrents/addPeers" => add_peers(ctx, p),
        "torrents/addTrackers" | "torrents/editTracker" | "torrents/removeTrackers" => {
            let Some((id, _)) = one(ctx, p) else {
                return Some(text(StatusCode::NOT_FOUND, "Torrent hash was not found"));
            };
            let edit = match tracker_edit(call, p) {
                Ok(edit) => edit,
                Err(why) => return Some(bad(why)),
            };
            match within(ctx.client.edit_trackers(id, edit)).await {
                Ok(_) => ok(),
                Err(ActionError::Session(RequestError::Trackers(e))) => {
                    text(StatusCode::CONFLICT, &e.to_string())
                }
                Err(e) => refused(e),
            }
        }
        "torrents/pieceHashes" => piece_hashes(ctx, p).await,
        "torrents/export" => export(ctx, p).await,
        _ => return None,
    };
    Some(answer)
}

/// The edit a tracker call asks: `addTrackers` (`urls`, one a line; those that are not
/// tracker URLs skipped, as qBittorrent does), `editTracker` (`origUrl`, `newUrl`: 400 for
/// a new one that is not a URL), `removeTrackers` (`urls`, `|` separated).
fn tracker_edit(call: &str, p: &Params) -> Result<TrackerEdit, &'static str> {
    Ok(match call {
        "torrents/addTrackers" => TrackerEdit::Add(
            p.get("urls")
                .unwrap_or("")
                .lines()
                .map(str::trim)
                .filter(|u| tracker_url_ok(u))
                .map(String::from)
                .collect(),
        ),
        "torrents/editTracker" => {
            let new = p.get("newUrl").unwrap_or("").trim();
            if !tracker_url_ok(new) {
                return Err("New tracker URL is invalid");
            }
            TrackerEdit::Replace {
                old: p.get("origUrl").unwrap_or("").trim().to_string(),
                new: new.to_string(),
            }
        }
        _ => TrackerEdit::Remove(p.list("urls", '|')),
    })
}

/// `torrents/addPeers` (`hashes`, `peers` as `ip:port|[v6]:port`).
fn add_peers(ctx: &Ctx, p: &Params) -> Answer {
    let given = p.list("peers", '|');
    let peers: Vec<SocketAddr> = given.iter().filter_map(|s| parse_peer(s)).collect();
    if peers.is_empty() {
        return bad("No valid peers were specified");
    }
    let head = ctx.client.head();
    let mut results = Map::new();
    for id in targets(ctx, p) {
        let Some(t) = head.line(id) else {
            continue;
        };
        let added = match ctx.client.command(id, Command::AddPeers(peers.clone())) {
            Ok(()) => peers.len(),
            Err(_) => 0,
        };
        results.insert(
            hex::encode(&t.info_hash),
            json!({ "added": added, "failed": given.len() - added }),
        );
    }
    json(&Value::Object(results))
}

/// `torrents/pieceHashes` (`hash`): each piece's SHA-1 in hex. A magnet without its
/// metadata has none yet, and a v2-only torrent none at all (its pieces are checked by
/// SHA-256 trees): both answer `[]`.
async fn piece_hashes(ctx: &Ctx, p: &Params) -> Answer {
    let Some((id, _)) = one(ctx, p) else {
        return text(StatusCode::NOT_FOUND, "Torrent hash was not found");
    };
    match tokio::time::timeout(READ_WAIT, ctx.client.piece_hashes(id)).await {
        Ok(Ok(hashes)) => {
            let v1 = hashes.map(|h| h.v1).unwrap_or_default();
            let rows: Vec<Value> = v1.iter().map(|h| Value::from(hex::encode(h))).collect();
            json(&Value::Array(rows))
        }
        _ => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the session did not answer in time",
        ),
    }
}

/// `torrents/export` (`hash`): the torrent as a .torrent file, with its trackers as edited.
/// 409 for a magnet whose metadata has not come, as qBittorrent answers.
async fn export(ctx: &Ctx, p: &Params) -> Answer {
    let Some((id, _)) = one(ctx, p) else {
        return text(StatusCode::NOT_FOUND, "Torrent hash was not found");
    };
    match tokio::time::timeout(READ_WAIT, ctx.client.torrent_file(id)).await {
        Ok(Ok(Some(bytes))) => {
            crate::http::plain(StatusCode::OK, "application/x-bittorrent", bytes)
        }
        Ok(Ok(None)) => text(
            StatusCode::CONFLICT,
            "Torrent's metadata has not yet downloaded",
        ),
        _ => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the session did not answer in time",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peers_parse_as_qbittorrent_reads_them() {
        assert_eq!(parse_peer("192.0.2.1:6881"), "192.0.2.1:6881".parse().ok());
        assert_eq!(
            parse_peer(" [2001:db8::1]:51413 "),
            "[2001:db8::1]:51413".parse().ok()
        );
        assert_eq!(
            parse_peer("2001:db8::1:51413"),
            "[2001:db8::1]:51413".parse().ok()
        );
        assert_eq!(parse_peer("192.0.2.1"), None);
        assert_eq!(parse_peer("192.0.2.1:0"), None);
        assert_eq!(parse_peer("example.org:80"), None);
        assert_eq!(parse_peer("192.0.2.1:99999"), None);
        assert_eq!(parse_peer(""), None);
    }
}
