//! The peer's BEP 52 hash requests to us: answered from the torrent's piece layers
//! (`merkle::layers`), which is how a peer that came by a v2 magnet, or by a .torrent without
//! `piece layers`, learns each file's pieces from us.
//!
//! What a peer can make us do is bounded three ways. Each answer is at most `MAX_RUN`
//! hashes and its uncles (`HashRequest::validate`), copied from layers built once per file
//! (the first request of a file hashes its piece layer once more, as loading the torrent
//! did). The connection writes all it queued before it reads the next message, so one
//! answer at a time waits in memory, and a peer that does not read its answers stops us
//! reading its requests. And the answers are charged to the upload limiter like blocks:
//! while its gate is shut, requests get `hash reject` (the peer asks again later or
//! elsewhere), so a peer cannot pull hashes past the limit the user set.
//!
//! Requests below the piece layer (block hashes) are rejected. Answering one means reading
//! whole pieces off disk and hashing every block, many pieces' worth per request, for a
//! message 48 bytes long; libtorrent asks for them only after a piece failed its check, to
//! find which peer sent the bad block, and falls back to judging by whole pieces (as for a
//! v1 torrent) when refused.

use crate::engine::peer::conn::PeerConn;
use crate::protocol::merkle::layers::Refusal;
use crate::protocol::merkle::proof::HashRequest;
use crate::protocol::message::Message;

impl PeerConn {
    /// A `hash request`: `hashes` with the run and its proof, or `hash reject` with why in
    /// the log (an unknown root, a request libtorrent would refuse too, block hashes, or our
    /// upload gate shut).
    pub(crate) fn on_hash_request(&mut self, head: HashRequest) {
        let now = tokio::time::Instant::now();
        let answer = match &self.torrent.piece_layers {
            None => Err("not a v2 torrent".to_string()),
            Some(_) if !self.throttle.may_send(now) => Err("upload limit reached".to_string()),
            Some(layers) => layers.answer(&head).map_err(|e: Refusal| e.to_string()),
        };
        match answer {
            Ok(hashes) => {
                let bytes: Vec<u8> = hashes.iter().flatten().copied().collect();
                self.throttle.sent(bytes.len() as u64, now);
                self.push(&Message::Hashes {
                    head,
                    hashes: bytes.into(),
                });
            }
            Err(why) => {
                tracing::debug!(
                    "conn {}: hash request (layer {}, {} at {}) rejected: {why}",
                    self.conn,
                    head.base_layer,
                    head.length,
                    head.index
                );
                self.push(&Message::HashReject(head));
            }
        }
    }
}
