//! Magnet links: fetch the torrent's `info` dictionary from peers (BEP 9, ut_metadata over
//! the BEP 10 extension protocol) and check it against the magnet's info hash. The engine also
//! uses `MetadataMsg` to serve the dictionary to peers that ask.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::stream::{self, StreamExt};
use futures::SinkExt;
use sha1::{Digest, Sha1};
use tokio_util::codec::Framed;

use crate::engine::connect::connect_encrypted;
use crate::net::EncryptionPolicy;
use crate::protocol::extension::{self, ExtHandshake, MetadataMsg as ExtMetadataMsg};
use crate::protocol::magnet::Magnet;
use crate::protocol::message::{Message, MessageCodec};
use crate::protocol::metainfo::Metainfo;
use crate::tracker::{self, AnnounceRequest, Event, Progress};

/// Our extension id for ut_metadata (what peers must use when they send to us).
pub const UT_METADATA_ID: u8 = 3;
pub const METADATA_PIECE: usize = extension::METADATA_PIECE;
/// Larger info dictionaries than this are refused (a 100,000-piece torrent's is ~2 MiB).
pub const MAX_METADATA: usize = extension::MAX_METADATA as usize;

/// A ut_metadata header in the shape the peer task reads (`msg_type` 0 request, 1 data,
/// 2 reject). New code should use `protocol::extension::MetadataMsg`.
#[derive(Debug)]
pub struct MetadataMsg {
    pub msg_type: i64,
    pub piece: i64,
    pub total_size: Option<i64>,
}

/// Splits a ut_metadata message into its header and the data that follows it (bounded
/// decode; see `protocol::extension`).
pub fn parse_metadata_msg(payload: &[u8]) -> Option<(MetadataMsg, &[u8])> {
    let (msg, rest) = ExtMetadataMsg::decode(payload).ok()?;
    let (msg_type, total_size) = match msg {
        ExtMetadataMsg::Request { .. } => (0, None),
        ExtMetadataMsg::Data { total_size, .. } => {
            (1, total_size.and_then(|s| i64::try_from(s).ok()))
        }
        ExtMetadataMsg::Reject { .. } => (2, None),
    };
    let head = MetadataMsg {
        msg_type,
        piece: i64::from(msg.piece()),
        total_size,
    };
    Some((head, rest))
}

/// The answer to a ut_metadata request for `piece` of `info` (data, or reject when out of range).
pub fn metadata_reply(info: &[u8], piece: i64) -> Vec<u8> {
    match u32::try_from(piece) {
        Ok(p) => extension::metadata_reply(info, p),
        // Not a piece index we could ever have: reject with the number echoed saturated.
        Err(_) => ExtMetadataMsg::Reject { piece: u32::MAX }.encode(&[]),
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

async fn from_peer(
    addr: SocketAddr,
    magnet: &Magnet,
    our_id: [u8; 20],
    encryption: EncryptionPolicy,
) -> Result<Vec<u8>, String> {
    // Dialed like the engine's peers: MSE first with `prefer`, only MSE with `require`.
    let (stream, hs, ..) =
        connect_encrypted(addr, None, magnet.info_hash, our_id, encryption, || {})
            .await
            .map_err(|e| e.to_string())?;
    if !hs.supports_extensions() {
        return Err("peer does not support the extension protocol".into());
    }
    // The piece count is unknown until we have the metadata; the codec's smallest cap (64 KiB)
    // fits a 16 KiB metadata piece and any bitfield of a torrent we could fetch this way.
    let mut framed = Framed::new(stream, MessageCodec::new(0));
    let mut ours = ExtHandshake::default();
    ours.m.insert(extension::UT_METADATA.into(), UT_METADATA_ID);
    let payload = Bytes::from(ours.encode());
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
            let h =
                ExtHandshake::decode(&payload).map_err(|e| format!("extended handshake: {e}"))?;
            // decode keeps metadata_size within 1..=MAX_METADATA.
            let (Some(ut), Some(total)) = (h.id_of(extension::UT_METADATA), h.metadata_size) else {
                return Err("peer does not offer the metadata".into());
            };
            their_id = Some(ut);
            size = usize::try_from(total).map_err(|_| "metadata too large".to_string())?;
            buf = BytesMut::zeroed(size);
            for piece in 0..extension::metadata_pieces(total) {
                let piece = u32::try_from(piece).map_err(|_| "metadata too large".to_string())?;
                let payload = Bytes::from(ExtMetadataMsg::Request { piece }.encode(&[]));
                framed
                    .feed(Message::Extended { id: ut, payload })
                    .await
                    .map_err(|e| e.to_string())?;
            }
            framed.flush().await.map_err(|e| e.to_string())?;
        } else if id == UT_METADATA_ID && their_id.is_some() {
            let (head, data) = match ExtMetadataMsg::decode(&payload) {
                Ok(x) => x,
                // BEP 9: message types we do not know are ignored.
                Err(extension::ExtError::UnknownMetadataType(_)) => continue,
                Err(e) => return Err(format!("malformed metadata message: {e}")),
            };
            match head {
                ExtMetadataMsg::Data { piece, .. } => {
                    let start = (piece as usize).checked_mul(METADATA_PIECE);
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
                ExtMetadataMsg::Reject { .. } => {
                    return Err("peer rejected the metadata request".into())
                }
                ExtMetadataMsg::Request { .. } => {}
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
    encryption: EncryptionPolicy,
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
        .map(|addr| async move { (addr, from_peer(addr, magnet, our_id, encryption).await) })
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
