//! One torrent's reads: `torrents/properties`, `files`, `trackers`, `webseeds` and
//! `pieceStates`, each from the line-up and the torrent's full snapshot, peeked through
//! `engine::api::Client` without waking anything (as the Transmission RPC's `torrent-get`
//! does). An unknown `hash` is answered 404 "Torrent hash was not found", as qBittorrent
//! answers it.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use super::form::Params;
use super::Ctx;
use crate::engine::api::TrackerStatus;
use crate::engine::api::{FilePriority, PieceState, Snapshot, TorrentId, TorrentLine};
use crate::protocol::hex;

/// How long a read waits for the session, and for a running torrent's fresh snapshot.
const WAIT: Duration = Duration::from_secs(5);

/// Why a per-torrent read has no answer.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ReadError {
    #[error("Torrent hash was not found")]
    NotFound,
    #[error("the session did not answer in time")]
    Slow,
}

/// The torrent `hash` names in the line-up.
fn line(ctx: &Ctx, p: &Params) -> Result<TorrentLine, ReadError> {
    // Decoded once, compared as bytes: no hex of every line a request.
    let hash = p
        .get("hash")
        .and_then(hex::decode_array::<20>)
        .ok_or(ReadError::NotFound)?;
    ctx.client
        .head()
        .line_by_hash(&hash)
        .map(|t| TorrentLine::clone(t))
        .ok_or(ReadError::NotFound)
}

/// Its full snapshot: now, or the fresh one a running torrent builds at its next tick.
async fn snapshot(ctx: &Ctx, id: TorrentId) -> Result<Arc<Snapshot>, ReadError> {
    match tokio::time::timeout(WAIT * 2, ctx.client.read_snapshots(vec![id], WAIT)).await {
        Ok(Ok(read)) => read
            .into_iter()
            .next()
            .map(|(_, s)| s)
            .ok_or(ReadError::NotFound),
        Ok(Err(_)) => Err(ReadError::NotFound),
        Err(_) => Err(ReadError::Slow),
    }
}

/// qBittorrent's file priority: 0 skip, 1 normal, 6 high, 7 maximal (Low is 1 too: it has
/// no lower wanted level).
fn priority(p: FilePriority) -> u8 {
    match p {
        FilePriority::Skip => 0,
        FilePriority::Low | FilePriority::Normal => 1,
        FilePriority::High => 7,
    }
}

pub(crate) async fn properties(ctx: &Ctx, p: &Params) -> Result<Value, ReadError> {
    let t = line(ctx, p)?;
    let snap = snapshot(ctx, t.id).await?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let info = super::torrents::info_of(&t, now);
    let have = snap
        .pieces
        .iter()
        .filter(|s| **s == PieceState::Verified)
        .count();
    let connected = snap
        .peers
        .iter()
        .filter(|r| r.stage == crate::engine::api::PeerStage::Connected)
        .count();
    // Seconds until the next announce (the line holds when, in Unix seconds).
    let next = t.next_announce.map_or(0, |at| at.saturating_sub(now));
    // qBittorrent's -1: no limit of its own.
    let own = |limit: u64| if limit == 0 { -1 } else { limit as i64 };
    let mut props = json!({
        "save_path": info["save_path"],
        "download_path": "",
        "creation_date": -1,
        "piece_size": snap.piece_length,
        "comment": "",
        "total_wasted": snap.wasted,
        "total_uploaded": t.uploaded,
        "total_uploaded_session": t.uploaded,
        "total_downloaded": t.downloaded,
        "total_downloaded_session": t.downloaded,
        "up_limit": own(snap.own_limits.up),
        "dl_limit": own(snap.own_limits.down),
        "time_elapsed": info["time_active"],
        "seeding_time": info["seeding_time"],
        "nb_connections": connected,
        "nb_connections_limit": ctx.facts.max_peers,
        "share_ratio": info["ratio"],
        "addition_date": t.added,
        "completion_date": t.completed.map_or(-1, |c| c as i64),
        "created_by": "",
        "dl_speed_avg": info["dlspeed"],
        "dl_speed": info["dlspeed"],
        "eta": info["eta"],
        "peers": t.peers.saturating_sub(t.seeds),
        "peers_total": t.peers.saturating_sub(t.seeds),
        "pieces_have": have,
        "pieces_num": snap.num_pieces,
        "reannounce": next,
        "seeds": t.seeds,
        "seeds_total": t.seeds,
        "total_size": t.total_bytes,
        "up_speed_avg": info["upspeed"],
        "up_speed": info["upspeed"],
        "has_metadata": !t.fetching_metadata(),
        "name": t.name,
        "hash": info["hash"],
        "infohash_v1": info["infohash_v1"],
        "infohash_v2": info["infohash_v2"],
    });
    // The facts of the one table every face reads, under their properties' keys.
    if let Value::Object(m) = &mut props {
        m.extend(crate::engine::api::facts::qbt_properties(&t, now));
    }
    Ok(props)
}

pub(crate) async fn files(ctx: &Ctx, p: &Params) -> Result<Value, ReadError> {
    let t = line(ctx, p)?;
    let snap = snapshot(ctx, t.id).await?;
    let wanted = p.list("indexes", '|');
    let rows: Vec<Value> = snap
        .files
        .iter()
        .enumerate()
        .filter(|(i, _)| wanted.is_empty() || wanted.iter().any(|w| *w == i.to_string()))
        .map(|(i, f)| {
            let (first, last) = snap.file_pieces(f);
            let avail = snap.file_availability(f).unwrap_or(-1.0);
            let progress = if f.size == 0 {
                1.0
            } else {
                f.done as f64 / f.size as f64
            };
            json!({
                "index": i,
                "name": f.path,
                "size": f.size,
                "progress": progress,
                "priority": priority(f.priority),
                "is_seed": f.done >= f.size,
                "piece_range": [first, last],
                "availability": avail,
            })
        })
        .collect();
    Ok(Value::Array(rows))
}

/// qBittorrent's tracker status: 0 disabled, 1 not contacted, 2 working, 3 updating, 4 not
/// working.
fn tracker_status(s: &TrackerStatus) -> u8 {
    match s {
        TrackerStatus::NotContacted => 1,
        TrackerStatus::Ok { .. } => 2,
        TrackerStatus::Announcing => 3,
        TrackerStatus::Failed(_) => 4,
    }
}

pub(crate) async fn trackers(ctx: &Ctx, p: &Params) -> Result<Value, ReadError> {
    use crate::engine::api::{PeerSource, PeerStage};
    let t = line(ctx, p)?;
    let snap = snapshot(ctx, t.id).await?;
    // qBittorrent counts the connected peers each source found, seeds and leechers apart.
    let found = |source: PeerSource| {
        let rows = snap
            .peers
            .iter()
            .filter(|r| r.source == source && r.stage == PeerStage::Connected);
        let seeds = rows.clone().filter(|r| r.progress >= 1.0).count();
        (seeds, rows.count() - seeds)
    };
    let dht = ctx.facts.dht && snap.dht.is_some();
    // The pseudo rows qBittorrent lists first: DHT, PeX, LSD; `status` 2 when the source is
    // on, else 0 (disabled).
    let mut rows = vec![
        pseudo("** [DHT] **", dht, found(PeerSource::Dht)),
        pseudo("** [PeX] **", ctx.facts.pex, found(PeerSource::Pex)),
        pseudo("** [LSD] **", ctx.facts.lsd, found(PeerSource::Lsd)),
    ];
    rows.extend(snap.trackers.iter().map(|r| {
        let msg = match &r.status {
            TrackerStatus::Failed(why) => why.clone(),
            _ => r.warning.clone().unwrap_or_default(),
        };
        let peers = match r.status {
            TrackerStatus::Ok { peers } => peers as i64,
            _ => -1,
        };
        json!({
            "url": r.url,
            "status": tracker_status(&r.status),
            "tier": r.tier,
            "num_peers": peers,
            "num_seeds": r.seeders.map_or(-1, i64::from),
            "num_leeches": r.leechers.map_or(-1, i64::from),
            "num_downloaded": -1,
            "msg": msg,
        })
    }));
    Ok(Value::Array(rows))
}

/// A pseudo row as qBittorrent writes it (`getStickyTrackers`): `num_peers` and
/// `num_downloaded` 0, the connected seeds and leechers the source found.
fn pseudo(url: &str, on: bool, (seeds, leeches): (usize, usize)) -> Value {
    json!({
        "url": url,
        "status": if on { 2 } else { 0 },
        "tier": -1,
        "num_peers": 0,
        "num_seeds": seeds,
        "num_leeches": leeches,
        "num_downloaded": 0,
        "msg": "",
    })
}

/// ttui's snapshot lists no web seeds (BEP 19 URLs are not fetched): an empty list.
pub(crate) fn webseeds(ctx: &Ctx, p: &Params) -> Result<Value, ReadError> {
    line(ctx, p)?;
    Ok(json!([]))
}

/// 0 not downloaded, 1 downloading, 2 have.
pub(crate) async fn piece_states(ctx: &Ctx, p: &Params) -> Result<Value, ReadError> {
    let t = line(ctx, p)?;
    let snap = snapshot(ctx, t.id).await?;
    let states: Vec<u8> = snap
        .pieces
        .iter()
        .map(|s| match s {
            PieceState::Verified => 2,
            PieceState::InFlight => 1,
            PieceState::Missing | PieceState::Failed => 0,
        })
        .collect();
    Ok(json!(states))
}

/// `sync/torrentPeers?hash=&rid=`: the torrent's connected peers keyed `ip:port`, always as
/// a full update (`full_update: true`, which qBittorrent's clients take at any `rid`): a
/// torrent's peers are few, and the snapshot is built for the call anyway. `country` is
/// left out, as qBittorrent does without its GeoIP database.
pub(crate) async fn torrent_peers(ctx: &Ctx, p: &Params) -> Result<Value, ReadError> {
    use crate::engine::api::{PeerSource, PeerStage};
    let t = line(ctx, p)?;
    let snap = snapshot(ctx, t.id).await?;
    let rid = p.int("rid").unwrap_or(0).max(0) + 1;
    let peers: serde_json::Map<String, Value> = snap
        .peers
        .iter()
        .filter(|r| r.stage == PeerStage::Connected)
        .map(|r| {
            let f = r.flags;
            // qBittorrent's letters: D/d we download (or want to), U/u we upload (or would),
            // I incoming, H from the DHT, X from PeX.
            let mut flags = String::new();
            if f.am_interested {
                flags.push(if f.peer_choking { 'd' } else { 'D' });
            }
            if f.peer_interested {
                flags.push(if f.am_choking { 'u' } else { 'U' });
            }
            match r.source {
                PeerSource::Incoming => flags.push('I'),
                PeerSource::Dht => flags.push('H'),
                PeerSource::Pex => flags.push('X'),
                _ => {}
            }
            let client = r.client.clone().or_else(|| r.id_client.clone());
            let row = json!({
                "ip": r.addr.ip().to_string(),
                "port": r.addr.port(),
                "client": client.unwrap_or_default(),
                "progress": r.progress,
                "dl_speed": r.down_rate as u64,
                "up_speed": r.up_rate as u64,
                "downloaded": r.downloaded,
                "uploaded": r.uploaded,
                "flags": flags,
                "connection": r.transport.map(|k| k.to_string()).unwrap_or_default(),
                "relevance": r.progress,
            });
            (r.addr.to_string(), row)
        })
        .collect();
    Ok(json!({
        "rid": rid,
        "full_update": true,
        "show_flags": true,
        "peers": peers,
    }))
}
