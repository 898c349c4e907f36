//! A v2-only magnet's piece layers, asked of the peer that just sent the info dictionary,
//! on the same connection (BEP 52 `hash request`, answered by `hashes` or `hash reject`).
//! Every reply is proven against its file's `pieces root` before a hash of it is kept
//! (`HashRequest::verify`): a peer whose hashes do not lead to the root sent bad data, and
//! the fetch ends with it named. A reject or a silence ends the fetch from this peer too; the
//! caller asks the next one. At most `IN_FLIGHT` requests wait on one peer, and the fetch
//! asks at most `metadata::PARALLEL` peers at once, which bounds them in all.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::stream::StreamExt;
use futures::SinkExt;
use tokio_util::codec::Framed;

use super::MetadataError;
use crate::engine::peer::stream::PeerStream;
use crate::protocol::merkle::proof::HashRequest;
use crate::protocol::merkle::Hash;
use crate::protocol::message::{Message, MessageCodec};
use crate::protocol::metainfo::layers::WantedLayer;

/// Requests waiting on one peer at once (libtorrent keeps a handful per peer too).
const IN_FLIGHT: usize = 8;
/// How long a peer may stay silent while it owes us hashes.
const QUIET: Duration = Duration::from_secs(20);

/// Each wanted layer from this peer, proven, by its file's root.
pub(super) async fn fetch(
    framed: &mut Framed<PeerStream, MessageCodec>,
    wanted: &[WantedLayer],
) -> Result<BTreeMap<Hash, Vec<Hash>>, MetadataError> {
    let mut todo: Vec<(usize, HashRequest)> = wanted
        .iter()
        .enumerate()
        .flat_map(|(i, w)| w.requests.iter().map(move |r| (i, *r)))
        .rev()
        .collect();
    let mut layers: Vec<Vec<Hash>> = wanted
        .iter()
        .map(|w| vec![[0; 32]; w.hashes as usize])
        .collect();
    let mut waiting: Vec<(usize, HashRequest)> = Vec::new();
    loop {
        while waiting.len() < IN_FLIGHT {
            let Some((i, req)) = todo.pop() else { break };
            // `wanted_layers` made it for this file; checked again because a request the
            // peer deems out of its tree gets a reject, or a disconnect from some clients.
            if let Some(w) = wanted.get(i) {
                req.validate(w.leaves).map_err(MetadataError::OurRequest)?;
            }
            framed.feed(Message::HashRequest(req)).await?;
            waiting.push((i, req));
        }
        if waiting.is_empty() {
            break;
        }
        framed.flush().await?;
        let msg = match tokio::time::timeout(QUIET, framed.next()).await {
            Err(_) => return Err(MetadataError::HashesTimedOut),
            Ok(None) => return Err(MetadataError::Closed),
            Ok(Some(Err(e))) => return Err(e.into()),
            Ok(Some(Ok(m))) => m,
        };
        match msg {
            Message::Hashes { head, hashes } => {
                // A reply to nothing we asked is ignored (it proves nothing we need).
                let Some(at) = waiting.iter().position(|(_, r)| *r == head) else {
                    continue;
                };
                let (i, req) = waiting.swap_remove(at);
                let (Some(w), Some(layer)) = (wanted.get(i), layers.get_mut(i)) else {
                    continue;
                };
                let run = req
                    .verify(w.leaves, &hashes)
                    .map_err(MetadataError::BadHashes)?;
                // Padding past the file's end is proven but not part of its layer.
                let start = req.index as usize;
                for (slot, h) in layer.iter_mut().skip(start).zip(run) {
                    *slot = h;
                }
            }
            Message::HashReject(head) if waiting.iter().any(|(_, r)| *r == head) => {
                return Err(MetadataError::HashesRejected);
            }
            _ => {}
        }
    }
    Ok(wanted
        .iter()
        .zip(layers)
        .map(|(w, l)| (w.root, l))
        .collect())
}
