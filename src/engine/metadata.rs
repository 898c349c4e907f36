//! Magnet links: fetch the torrent's `info` dictionary from peers (BEP 9, ut_metadata over
//! the BEP 10 extension protocol) and check it against the magnet's info hash. The engine also
//! uses `MetadataMsg` to serve the dictionary to peers that ask.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::stream::{self, StreamExt};
use futures::SinkExt;
use serde::{Deserialize, Serialize};
use sha1::{Digest, Sha1};
use tokio_util::codec::Framed;

use crate::engine::connect::{connect_and_handshake, ExtHandshake};
use crate::protocol::bencode;
use crate::protocol::magnet::Magnet;
use crate::protocol::message::{Message, MessageCodec};
use crate::protocol::metainfo::Metainfo;
use crate::tracker::{self, AnnounceRequest, Event, Progress};

/// Our extension id for ut_metadata (what peers must use when they send to us).
pub const UT_METADATA_ID: u8 = 3;
pub const METADATA_PIECE: usize = 16 * 1024;
/// Larger info dictionaries than this are refused (a 100,000-piece torrent's is ~2 MiB).
pub const MAX_METADATA: usize = 32 << 20;

#[derive(Debug, Serialize, Deserialize)]
pub struct MetadataMsg {
    pub msg_type: i64,
    pub piece: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_size: Option<i64>,
}

/// Splits a ut_metadata message into its bencoded header and the data that follows it.
pub fn parse_metadata_msg(payload: &[u8]) -> Option<(MetadataMsg, &[u8])> {
    let end = bencode::value_end(payload, 0).ok()?;
    let msg = serde_bencode::from_bytes::<MetadataMsg>(payload.get(..end)?).ok()?;
    Some((msg, payload.get(end..)?))
}

/// The answer to a ut_metadata request for `piece` of `info` (data, or reject when out of range).
pub fn metadata_reply(info: &[u8], piece: i64) -> Vec<u8> {
    let start = usize::try_from(piece)
        .ok()
        .and_then(|p| p.checked_mul(METADATA_PIECE));
    match start.filter(|s| *s < info.len()) {
        Some(s) => {
            let head = MetadataMsg {
                msg_type: 1,
                piece,
                total_size: Some(info.len() as i64),
            };
            let mut out = serde_bencode::to_bytes(&head).unwrap_or_default();
            out.extend_from_slice(&info[s..(s + METADATA_PIECE).min(info.len())]);
            out
        }
        None => serde_bencode::to_bytes(&MetadataMsg {
            msg_type: 2,
            piece,
            total_size: None,
        })
        .unwrap_or_default(),
    }
}

/// Builds a Metainfo from a verified info dictionary and the magnet's trackers.
pub fn metainfo_from_info(info: &[u8], magnet: &Magnet) -> Result<Metainfo, String> {
    let mut t = Vec::with_capacity(info.len() + 16);
    t.extend_from_slice(b"d4:info");
    t.extend_from_slice(info);
    t.push(b'e');
    let mut meta = Metainfo::from_bytes(&t).map_err(|e| format!("metadata from peers: {e}"))?;
    if meta.info_hash != magnet.info_hash {
        return Err("metadata from peers does not match the magnet's info hash".into());
    }
    meta.trackers = magnet.trackers.iter().map(|t| vec![t.clone()]).collect();
    Ok(meta)
}

async fn from_peer(addr: SocketAddr, magnet: &Magnet, our_id: [u8; 20]) -> Result<Vec<u8>, String> {
    let (stream, hs, _) = connect_and_handshake(addr, None, magnet.info_hash, our_id, || {})
        .await
        .map_err(|e| e.to_string())?;
    if !hs.supports_extensions() {
        return Err("peer does not support the extension protocol".into());
    }
    // The piece count is unknown until we have the metadata; the codec's smallest cap (64 KiB)
    // fits a 16 KiB metadata piece and any bitfield of a torrent we could fetch this way.
    let mut framed = Framed::new(stream, MessageCodec::new(0));
    let mut ours = ExtHandshake::default();
    ours.m.insert("ut_metadata".into(), UT_METADATA_ID as i64);
    let payload = Bytes::from(serde_bencode::to_bytes(&ours).map_err(|e| e.to_string())?);
    framed
        .send(Message::Extended { id: 0, payload })
        .await
        .map_err(|e| e.to_string())?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut their_id = None;
    let mut buf = BytesMut::new();
    let mut size = 0usize;
    let mut got = BTreeSet::new();
    loop {
        let msg = match tokio::time::timeout_at(deadline, framed.next()).await {
            Err(_) => return Err("timed out fetching metadata".into()),
            Ok(None) => return Err("closed by peer".into()),
            Ok(Some(Err(e))) => return Err(e.to_string()),
            Ok(Some(Ok(m))) => m,
        };
        let Message::Extended { id, payload } = msg else {
            continue;
        };
        if id == 0 {
            let h: ExtHandshake = serde_bencode::from_bytes(&payload)
                .map_err(|e| format!("extended handshake: {e}"))?;
            let ut =
                h.m.get("ut_metadata")
                    .copied()
                    .filter(|v| (1..=255).contains(v));
            let total = h
                .metadata_size
                .filter(|s| *s > 0 && (*s as usize) <= MAX_METADATA);
            let (Some(ut), Some(total)) = (ut, total) else {
                return Err("peer does not offer the metadata".into());
            };
            their_id = Some(ut as u8);
            size = total as usize;
            buf = BytesMut::zeroed(size);
            for piece in 0..size.div_ceil(METADATA_PIECE) {
                let req = MetadataMsg {
                    msg_type: 0,
                    piece: piece as i64,
                    total_size: None,
                };
                let payload =
                    Bytes::from(serde_bencode::to_bytes(&req).map_err(|e| e.to_string())?);
                framed
                    .feed(Message::Extended {
                        id: ut as u8,
                        payload,
                    })
                    .await
                    .map_err(|e| e.to_string())?;
            }
            framed.flush().await.map_err(|e| e.to_string())?;
        } else if id == UT_METADATA_ID && their_id.is_some() {
            let Some((head, data)) = parse_metadata_msg(&payload) else {
                return Err("malformed metadata message".into());
            };
            match head.msg_type {
                1 => {
                    let start = usize::try_from(head.piece)
                        .ok()
                        .and_then(|p| p.checked_mul(METADATA_PIECE));
                    let Some(start) = start.filter(|s| *s < size) else {
                        return Err("metadata piece out of range".into());
                    };
                    let want = (size - start).min(METADATA_PIECE);
                    if data.len() != want {
                        return Err("metadata piece of the wrong length".into());
                    }
                    buf[start..start + want].copy_from_slice(data);
                    got.insert(start);
                    if got.len() == size.div_ceil(METADATA_PIECE) {
                        let hash: [u8; 20] = Sha1::digest(&buf).into();
                        if hash != magnet.info_hash {
                            return Err("metadata does not match the info hash".into());
                        }
                        return Ok(buf.to_vec());
                    }
                }
                2 => return Err("peer rejected the metadata request".into()),
                _ => {}
            }
        }
    }
}

/// Finds peers (magnet `x.pe`, `--peer`, the magnet's trackers) and fetches the metadata from
/// the first that delivers a dictionary matching the info hash. `report` gets a line per event.
pub async fn fetch(
    magnet: &Magnet,
    extra_peers: &[SocketAddr],
    our_id: [u8; 20],
    port: u16,
    report: &(dyn Fn(String) + Sync),
) -> Result<Metainfo, String> {
    let mut peers: Vec<SocketAddr> = magnet.peers.iter().chain(extra_peers).copied().collect();
    if !magnet.trackers.is_empty() {
        let http = tracker::http_client().unwrap_or_default();
        let req = AnnounceRequest {
            info_hash: magnet.info_hash,
            peer_id: our_id,
            port,
            // Size unknown: any non-zero `left` marks us as a leecher.
            progress: Progress {
                uploaded: 0,
                downloaded: 0,
                left: 1,
            },
            event: Event::Started,
            numwant: 100,
        };
        let results = futures::future::join_all(
            magnet
                .trackers
                .iter()
                .map(|u| tracker::announce(u, &req, &http)),
        )
        .await;
        for (url, r) in magnet.trackers.iter().zip(results) {
            match r {
                Ok(resp) => {
                    report(format!("{url}: {} peers", resp.peers.len()));
                    peers.extend(resp.peers);
                }
                Err(e) => report(format!("{url}: {e}")),
            }
        }
    }
    let mut seen = BTreeSet::new();
    peers.retain(|p| seen.insert(*p));
    if peers.is_empty() {
        return Err(
            "no peers to fetch the metadata from (no tracker answered, no x.pe or --peer)".into(),
        );
    }
    report(format!("fetching metadata from {} peers", peers.len()));
    let mut attempts = stream::iter(peers)
        .map(|addr| async move { (addr, from_peer(addr, magnet, our_id).await) })
        .buffer_unordered(8);
    let mut last_err = String::new();
    while let Some((addr, r)) = attempts.next().await {
        match r {
            Ok(info) => {
                report(format!("metadata ({} bytes) from {addr}", info.len()));
                return metainfo_from_info(&info, magnet);
            }
            Err(e) => {
                report(format!("{addr}: {e}"));
                last_err = e;
            }
        }
    }
    Err(format!("no peer delivered the metadata (last: {last_err})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_and_parse_round_trip() {
        let info: Vec<u8> = (0..40_000u32).map(|i| i as u8).collect();
        let r = metadata_reply(&info, 2);
        let (head, data) = parse_metadata_msg(&r).unwrap();
        assert_eq!(
            (head.msg_type, head.piece, head.total_size),
            (1, 2, Some(40_000))
        );
        assert_eq!(data, &info[32768..]);
        let reply = metadata_reply(&info, 3);
        let (rej, rest) = parse_metadata_msg(&reply).unwrap();
        assert_eq!(rej.msg_type, 2);
        assert!(rest.is_empty());
        assert_eq!(
            parse_metadata_msg(&metadata_reply(&info, -1))
                .unwrap()
                .0
                .msg_type,
            2
        );
        assert!(parse_metadata_msg(b"d8:msg_typei1e").is_none());
    }
}
