//! The WebRTC side of a WebSocket tracker: the offers our announces carry, the answers the
//! tracker relays back to them, and our answers to the offers it relays from other peers.
//! A connection that starts either way is handed to the session (`WebRtcPeers::deliver`),
//! which waits for its data channel and routes it to the torrent its handshake names, as
//! an accepted TCP or uTP connection is.
//!
//! Who offers: both sides. An announce carries offers (a leecher up to `OFFERS_LEECHING`, a
//! seed `OFFERS_SEEDING`: seeds are found by leechers' offers); the tracker relays each to
//! a peer of the swarm, which answers through it. The reference client offers on every
//! announce; peers that arrive later offer to us. Offers live in the driver until answered
//! or `WebRtcConfig::answer_timeout`; ours here are kept as long and then forgotten.
//!
//! Bounds: the driver's connections (offers waiting count), `MAX_PENDING_OFFERS` offers
//! remembered per socket, and `ANSWERS_PER_SECOND` relayed offers answered per socket (a
//! tracker relaying 10,000 offers gets the first few answered, the rest dropped and counted).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::net::webrtc::{Connecting, OfferId, WebRtc};
use crate::protocol::wt_tracker::Id;

/// Offers a leecher's announce carries: the reference client's default (`MAX_OFFERS`).
pub(crate) const OFFERS_LEECHING: usize = crate::protocol::wt_tracker::MAX_OFFERS;
/// A seed's: leechers find seeds through their own offers; a few reach the other leechers
/// that have not announced since we joined.
pub(crate) const OFFERS_SEEDING: usize = 2;
/// Our offers remembered per socket, waiting for answers.
const MAX_PENDING_OFFERS: usize = 256;
/// How long one of our offers waits for its answer (the driver's `answer_timeout`).
const OFFER_LIFE: Duration = Duration::from_secs(60);
/// Relayed offers answered per second per socket; more are dropped.
const ANSWERS_PER_SECOND: u32 = 20;
/// How long making an offer or an answer may take the driver.
const DRIVER_TIMEOUT: Duration = Duration::from_secs(5);

/// A connection that started through a tracker: the session waits for its data channel.
pub(crate) struct Delivered {
    pub(crate) info_hash: Id,
    /// The peer id the tracker named (the handshake names it again).
    pub(crate) peer_id: Id,
    pub(crate) connecting: Connecting,
    /// True when the peer answered our offer; false when we answered the peer's.
    pub(crate) we_offered: bool,
}

/// WebRTC as a session's announces use it: the driver that makes offers and answers, and
/// where connections go once they start. None in an `Egress` for a private torrent, a
/// session with WebTorrent off, or a run without a session.
#[derive(Clone)]
pub(crate) struct WebRtcPeers {
    pub(crate) rtc: WebRtc,
    pub(crate) deliver: Arc<dyn Fn(Delivered) + Send + Sync>,
}

impl PartialEq for WebRtcPeers {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.deliver, &other.deliver)
    }
}

impl Eq for WebRtcPeers {}

impl std::fmt::Debug for WebRtcPeers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebRtcPeers")
            .field("local", &self.rtc.local_addr())
            .finish()
    }
}

struct Pending {
    offer: OfferId,
    info_hash: Id,
    made: Instant,
}

/// The longest an announce's offers wait for the STUN server's first answer.
const STUN_WAIT: Duration = Duration::from_secs(3);

/// One socket's offers waiting for answers, and its pace of answering.
#[derive(Default)]
pub(crate) struct Offers {
    pending: HashMap<Id, Pending>,
    /// Relayed offers answered in the current second, and when it began.
    answered: (u32, Option<Instant>),
    /// Relayed offers and answers dropped (over the pace, unknown, for no torrent of ours).
    pub(crate) dropped: u64,
}

impl Offers {
    /// Up to `n` new offers for `info_hash`, each with the id the tracker relays back.
    pub(crate) async fn make(
        &mut self,
        peers: &WebRtcPeers,
        info_hash: Id,
        n: usize,
    ) -> Vec<(Id, String)> {
        self.expire(Instant::now());
        // At start the STUN server may not have answered yet: offers made without the
        // address our NAT shows would reach no peer behind another NAT, and the next
        // announce is minutes away.
        peers.rtc.stun_settled(STUN_WAIT).await;
        let room = MAX_PENDING_OFFERS.saturating_sub(self.pending.len());
        let mut made = Vec::new();
        for _ in 0..n.min(room) {
            let offer = match tokio::time::timeout(DRIVER_TIMEOUT, peers.rtc.offer()).await {
                Ok(Ok(o)) => o,
                Ok(Err(e)) => {
                    // Full (connections at their cap) or gone: the rest would fail alike.
                    tracing::debug!(info_hash = %hex(&info_hash), "websocket tracker: no offer made: {e}");
                    break;
                }
                Err(_) => break,
            };
            let id: Id = rand::random();
            self.pending.insert(
                id,
                Pending {
                    offer: offer.id,
                    info_hash,
                    made: Instant::now(),
                },
            );
            made.push((id, offer.sdp));
        }
        made
    }

    /// The offer an answer is for, taken out (an offer is answered once), when it is ours
    /// and for `info_hash`.
    pub(crate) fn take(&mut self, offer_id: &Id, info_hash: &Id) -> Option<OfferId> {
        match self.pending.get(offer_id) {
            Some(p) if p.info_hash == *info_hash => self.pending.remove(offer_id).map(|p| p.offer),
            _ => {
                self.dropped += 1;
                None
            }
        }
    }

    /// The offers of a torrent that left the socket: the driver drops them too.
    pub(crate) async fn withdraw(&mut self, peers: Option<&WebRtcPeers>, info_hash: &Id) {
        let gone: Vec<Id> = (self.pending.iter())
            .filter(|(_, p)| p.info_hash == *info_hash)
            .map(|(id, _)| *id)
            .collect();
        for id in gone {
            if let (Some(p), Some(peers)) = (self.pending.remove(&id), peers) {
                peers.rtc.withdraw(p.offer).await;
            }
        }
    }

    /// True when one more relayed offer may be answered now (the pace per socket).
    pub(crate) fn may_answer(&mut self, now: Instant) -> bool {
        let (count, since) = &mut self.answered;
        if since.is_none_or(|s| now.saturating_duration_since(s) >= Duration::from_secs(1)) {
            *count = 0;
            *since = Some(now);
        }
        if *count >= ANSWERS_PER_SECOND {
            self.dropped += 1;
            return false;
        }
        *count += 1;
        true
    }

    fn expire(&mut self, now: Instant) {
        self.pending
            .retain(|_, p| now.saturating_duration_since(p.made) < OFFER_LIFE);
    }
}

/// Our answer to a relayed offer, bounded in time: the answer's SDP and the connection.
pub(crate) async fn answer(peers: &WebRtcPeers, sdp: &str) -> Result<(String, Connecting), String> {
    match tokio::time::timeout(DRIVER_TIMEOUT, peers.rtc.answer(sdp)).await {
        Ok(Ok(x)) => Ok(x),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("the WebRTC driver did not answer in time".into()),
    }
}

/// Applies a relayed answer to our offer, bounded in time.
pub(crate) async fn connect(
    peers: &WebRtcPeers,
    offer: OfferId,
    sdp: &str,
) -> Result<Connecting, String> {
    match tokio::time::timeout(DRIVER_TIMEOUT, peers.rtc.connect(offer, sdp)).await {
        Ok(Ok(c)) => Ok(c),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("the WebRTC driver did not answer in time".into()),
    }
}

fn hex(id: &Id) -> String {
    crate::protocol::hex::encode(id)
}
