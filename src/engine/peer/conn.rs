//! The state of one established connection and what it does with each message, command and
//! tick. No I/O here except `flush`: messages go into `out`, which the task writes.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use tokio::io::AsyncWriteExt;
use tokio::time::Instant as TokioInstant;

use crate::engine::api::{ChokeFlags, PeerEnd};
use crate::engine::peer::connect::{io_end, OUR_REQQ};
use crate::engine::peer::link::{PeerCmd, PeerEvent, PeerLive, SuperSeen, TorrentLink};
use crate::engine::peer::pex::{
    LT_DONTHAVE_ID, UPLOAD_ONLY_ID, UT_HOLEPUNCH_ID, UT_METADATA_ID, UT_PEX_ID,
};
use crate::engine::peer::rate::Limiter;
use crate::engine::peer::stream::WriteHalf;
use crate::protocol::bitfield::Bitfield;
use crate::protocol::extension::{
    self, ExtHandshake, HANDSHAKE_ID, LT_DONTHAVE, UPLOAD_ONLY, UT_METADATA, UT_PEX,
};
use crate::protocol::geometry::BlockRef;
use crate::protocol::holepunch::UT_HOLEPUNCH;
use crate::protocol::merkle::proof::HashRequest;
use crate::protocol::message::{encode_into, Message};
use extensions::Extensions;
use requests::{Pacing, Requests};
use throttle::Throttle;
use uploads::Uploads;

mod commands;
pub(crate) mod extensions;
pub(crate) mod requests;
pub(crate) mod throttle;
pub(crate) mod uploads;

/// Most requests we keep outstanding to one peer. 256 × 16 KiB = 4 MiB in flight, enough for
/// hundreds of MB/s on a low-latency link while keeping memory bounded.
pub(crate) const MAX_PIPELINE: usize = 256;
pub(crate) const MIN_PIPELINE: usize = 16;
/// The least a connection under a down limit keeps outstanding: a block being read and one
/// behind it. The unlimited floor (`MIN_PIPELINE`, 16) would park seconds of data per peer in
/// socket buffers at a slow limit: bytes the peer counts as sent, that the picker cannot give
/// to a faster peer, and that leave pieces half done (20 peers under 100 KiB/s: 50 s of data).
pub(crate) const LIMITED_MIN_PIPELINE: usize = 2;
/// Where a new connection starts, before its rate is known: deep enough that a fast peer is
/// not held back in its first second, shallow enough to cost a slow one little.
pub(crate) const START_PIPELINE: usize = 64;
/// Send a keep-alive after this much silence from our side (peers drop at 2 minutes).
const KEEPALIVE_AFTER: Duration = Duration::from_secs(90);
/// Drop a peer that sent nothing at all for this long.
const IDLE_TIMEOUT: Duration = Duration::from_secs(150);
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// One connection's state. Its impl spans `conn.rs`, `pipeline.rs` (our requests) and
/// `upload.rs` (theirs), hence the `pub(super)` fields; each part that has an invariant is a
/// type in `conn/` that keeps it behind its methods (`Requests`, `Pacing`, `Uploads`,
/// `Extensions`, `Throttle`).
pub(crate) struct PeerConn {
    pub(super) conn: u64,
    pub(super) torrent: Arc<dyn TorrentLink>,
    pub(super) live: Arc<PeerLive>,
    pub(super) fast: bool,
    pub(super) peer_has: Bitfield,
    /// The pieces we told this peer we have (bitfield, then `have`s).
    pub(super) announced: Bitfield,
    pub(super) flags: ChokeFlags,
    /// Our requests in flight, and those given up on.
    pub(super) requests: Requests,
    /// How many requests to keep in flight.
    pub(super) pacing: Pacing,
    /// The peer's requests to us.
    pub(super) uploads: Uploads,
    pub(super) last_recv: Instant,
    pub(super) last_send: Instant,
    /// When the peer last sent a block, or began to owe us one (an unchoke, a choke that kept
    /// our requests): the snub rule's clock (`update_rate`).
    pub(super) last_block: Instant,
    pub(super) snubbed: bool,
    /// What the peer's extended handshake offered.
    pub(super) ext: Extensions,
    pub(super) paused: bool,
    pub(super) out: BytesMut,
    pub(super) picked: Vec<BlockRef>,
    /// The piece writers are behind (`Download::writers_behind`, as last seen after a block
    /// or a refill): the connection neither asks for nor reads anything more until they
    /// catch up (`Download::caught_up`, then `writers_caught_up`).
    pub(super) held_back: bool,
    /// Payload limits: `piece` messages read (down) and sent (up); see `engine::peer::rate`.
    pub(super) throttle: Throttle,
    /// Our hash requests not yet answered (`PeerCmd::AskHashes`, at most `HASH_ASKS`): only
    /// answers to these reach the torrent, so a peer cannot flood it with hashes unasked.
    pub(super) hash_asks: Vec<HashRequest>,
    /// The peer reads extended messages: our BEP 10 handshake went out.
    pub(super) ext_on: bool,
    /// Whether we last told the peer we only upload (BEP 21): every wanted piece in.
    pub(super) told_upload_only: bool,
    /// BEP 16: we hide our pieces from this peer (super-seeding was on when it connected):
    /// `announced` holds only the pieces offered to it, the only ones it may ask for.
    pub(super) hidden: bool,
}

/// Hash requests one connection may have unanswered; older ones are forgotten (the torrent
/// gives up on them by its own timeout).
const HASH_ASKS: usize = 16;

/// Our BEP 10 handshake: ut_metadata when we can serve the info dictionary, ut_pex when
/// peer exchange is on for the torrent (never for a private one), BEP 21's `upload_only` and
/// BEP 54's `lt_donthave` always, our client name, our `reqq` and listening port, and
/// `upload_only` set when every wanted piece is in (a seed, or a partial seed).
pub(crate) fn our_ext_handshake(
    port: u16,
    metadata_size: usize,
    pex: bool,
    upload_only: bool,
) -> Bytes {
    let mut m = std::collections::BTreeMap::new();
    if pex {
        m.insert(UT_PEX.to_string(), UT_PEX_ID);
        m.insert(UT_HOLEPUNCH.to_string(), UT_HOLEPUNCH_ID);
    }
    if metadata_size > 0 {
        m.insert(UT_METADATA.to_string(), UT_METADATA_ID);
    }
    m.insert(UPLOAD_ONLY.to_string(), UPLOAD_ONLY_ID);
    m.insert(LT_DONTHAVE.to_string(), LT_DONTHAVE_ID);
    let h = ExtHandshake {
        m,
        v: Some(format!("ttui {}", env!("CARGO_PKG_VERSION"))),
        reqq: u32::try_from(OUR_REQQ).ok(),
        p: (port != 0).then_some(port),
        metadata_size: (metadata_size > 0).then_some(metadata_size as u64),
        upload_only,
        ..ExtHandshake::default()
    };
    Bytes::from(h.encode())
}

pub(super) fn protocol(msg: impl Into<String>) -> PeerEnd {
    PeerEnd::Protocol(msg.into())
}

impl PeerConn {
    pub(crate) fn new(
        conn: u64,
        torrent: &Arc<dyn TorrentLink>,
        live: &Arc<PeerLive>,
        fast: bool,
    ) -> PeerConn {
        let n = torrent.info.num_pieces();
        let now = Instant::now();
        PeerConn {
            conn,
            torrent: Arc::clone(torrent),
            live: Arc::clone(live),
            fast,
            peer_has: Bitfield::new(n),
            announced: Bitfield::new(n),
            flags: ChokeFlags::default(),
            requests: Requests::default(),
            pacing: Pacing::new(torrent.rates.down.is_limited(), now),
            uploads: Uploads::default(),
            last_recv: now,
            last_send: now,
            last_block: now,
            snubbed: false,
            ext: Extensions::new(torrent.pex, now),
            paused: torrent.paused.load(Ordering::Relaxed),
            out: BytesMut::with_capacity(64 * 1024),
            picked: Vec::new(),
            held_back: false,
            throttle: Throttle::new(torrent.rates.down.clone(), torrent.rates.up.clone()),
            hash_asks: Vec::new(),
            ext_on: false,
            told_upload_only: false,
            hidden: false,
        }
    }

    /// Sends our BEP 10 handshake (the peer set the extension bit), saying whether we only
    /// upload now.
    pub(crate) fn send_ext_handshake(&mut self) {
        self.ext_on = true;
        self.told_upload_only = self.upload_only_now();
        self.push_ext_handshake();
    }

    fn push_ext_handshake(&mut self) {
        let port = self.torrent.listen_port.load(Ordering::Relaxed);
        let payload = our_ext_handshake(
            port,
            self.torrent.info_bytes.len(),
            self.torrent.pex,
            self.told_upload_only,
        );
        self.push(&Message::Extended { id: 0, payload });
    }

    /// BEP 21: tells the peer when we start or stop being upload-only (every wanted piece in,
    /// or no longer: a piece lost, a file wanted again). By its `upload_only` message when it
    /// takes one, as libtorrent sends and reads it; else by a new extended handshake, which
    /// BEP 10 lets replace the first.
    pub(super) fn refresh_upload_only(&mut self) {
        if !self.ext_on {
            return;
        }
        let now = self.upload_only_now();
        if now == self.told_upload_only {
            return;
        }
        self.told_upload_only = now;
        match self.ext.upload_only_id() {
            Some(id) => self.push(&Message::Extended {
                id,
                payload: Bytes::copy_from_slice(&extension::encode_upload_only(now)),
            }),
            None => self.push_ext_handshake(),
        }
    }

    /// Whether we only upload, as the peer is told (BEP 21). A super-seed does not say so, as
    /// libtorrent does not: it hides that it has everything.
    fn upload_only_now(&self) -> bool {
        self.torrent.is_complete()
            && !self.hidden
            && !self.torrent.super_seeding.load(Ordering::Relaxed)
    }

    /// Neither side has anything for the other: the peer only uploads (BEP 21) or has every
    /// piece, and we have every piece we want. libtorrent drops such a connection too
    /// ("upload to upload connection"); it only holds a slot on both sides.
    pub(super) fn redundant(&self) -> bool {
        (self.ext.upload_only() || self.peer_has.is_complete()) && self.torrent.is_complete()
    }

    fn end_if_redundant(&self) -> Result<(), PeerEnd> {
        if self.redundant() {
            return Err(PeerEnd::NotNeeded);
        }
        Ok(())
    }

    /// Whether `head` answers one of our hash requests (then no longer waiting).
    fn hash_asked(&mut self, head: &HashRequest) -> bool {
        match self.hash_asks.iter().position(|h| h == head) {
            Some(i) => {
                self.hash_asks.remove(i);
                true
            }
            None => false,
        }
    }

    pub(crate) fn push(&mut self, m: &Message) {
        encode_into(m, &mut self.out);
    }

    pub(super) fn set_flags(&mut self) {
        self.live.set_flags(self.flags);
    }

    pub(crate) async fn flush(&mut self, wr: &mut WriteHalf) -> Result<(), PeerEnd> {
        if self.out.is_empty() {
            return Ok(());
        }
        match tokio::time::timeout(WRITE_TIMEOUT, wr.write_all(&self.out)).await {
            Err(_) => return Err(PeerEnd::Idle),
            Ok(Err(e)) => return Err(io_end(&e, false)),
            Ok(Ok(())) => {}
        }
        self.out.clear();
        self.last_send = Instant::now();
        Ok(())
    }

    pub(crate) fn send_have_state(&mut self) {
        let have = self.torrent.have();
        if have.is_complete() && self.torrent.super_seeding.load(Ordering::Relaxed) {
            // BEP 16: we look like a peer with nothing; the coordinator offers pieces one
            // `have` at a time (`PeerCmd::Offer`).
            self.hidden = true;
            if self.fast {
                self.push(&Message::HaveNone);
            }
            self.torrent.send(PeerEvent::SuperSeed {
                conn: self.conn,
                seen: SuperSeen::Hidden,
            });
            return;
        }
        if self.fast && have.count() == 0 {
            self.push(&Message::HaveNone);
        } else if self.fast && have.is_complete() {
            self.push(&Message::HaveAll);
        } else if have.count() > 0 {
            self.push(&Message::Bitfield(Bytes::copy_from_slice(have.as_bytes())));
        }
        self.announced = have;
    }

    /// A piece was verified (the broadcast every connection hears): tell the peer unless it
    /// has it, and lose interest once we have everything.
    pub(crate) fn on_verified(&mut self, index: u32) {
        if self.hidden || !self.announced.set(index) {
            return;
        }
        if !self.peer_has.get(index) {
            self.push(&Message::Have(index));
        }
        if self.flags.am_interested && self.torrent.is_complete() {
            self.set_interest(false);
        }
        if !self.told_upload_only {
            self.refresh_upload_only();
        }
    }

    /// A verified piece was found gone from disk (the `lost` broadcast): BEP 54's
    /// `lt_donthave` where we had announced it, so the peer stops asking us for it; we are no
    /// longer upload-only, and the peer may have it for us. Skipped when it verified again
    /// meanwhile (the `verified` broadcast then announced it anew).
    pub(crate) fn on_lost(&mut self, index: u32) {
        if !self.announced.get(index) || self.torrent.has_piece(index) {
            return;
        }
        self.announced.clear(index);
        if let Some(id) = self.ext.donthave() {
            self.push(&Message::Extended {
                id,
                payload: Bytes::copy_from_slice(&extension::encode_donthave(index)),
            });
        }
        self.refresh_upload_only();
        if self.peer_has.get(index) && !self.paused && self.torrent.wants_any(&self.peer_has) {
            self.set_interest(true);
        }
    }

    /// Missed some lost pieces (the broadcast ran ahead): what we announced and no longer have.
    pub(crate) fn on_lost_lagged(&mut self) {
        let have = self.torrent.have();
        let gone: Vec<u32> = self.announced.ones().filter(|i| !have.get(*i)).collect();
        for i in gone {
            self.on_lost(i);
        }
    }

    /// Missed some verified pieces (the broadcast ran ahead): catch up from the picker.
    pub(crate) fn on_verified_lagged(&mut self) {
        let have = self.torrent.have();
        for i in have.ones() {
            self.on_verified(i);
        }
    }

    fn set_peer_has(&mut self, bf: Bitfield) {
        if self.hidden {
            self.torrent.send(PeerEvent::SuperSeed {
                conn: self.conn,
                seen: SuperSeen::Pieces(bf.clone()),
            });
        }
        let interested = self.torrent.peer_pieces(&self.peer_has, &bf) && !self.paused;
        self.peer_has = bf;
        self.live
            .pieces
            .store(self.peer_has.count(), Ordering::Relaxed);
        self.set_interest(interested);
    }

    pub(super) fn set_interest(&mut self, interested: bool) {
        if interested != self.flags.am_interested {
            self.flags.am_interested = interested;
            self.push(if interested {
                &Message::Interested
            } else {
                &Message::NotInterested
            });
            self.set_flags();
        }
    }

    pub(crate) fn on_message(&mut self, m: Message) -> Result<(), PeerEnd> {
        self.last_recv = Instant::now();
        if m.is_fast_ext() && !self.fast {
            return Err(protocol(format!("{} without the fast extension", m.name())));
        }
        let n = self.peer_has.len();
        match m {
            Message::KeepAlive
            | Message::Port(_)
            | Message::Suggest(_)
            | Message::AllowedFast(_) => {}
            Message::Choke => {
                if !self.flags.peer_choking {
                    self.flags.peer_choking = true;
                    self.set_flags();
                    self.on_choked();
                }
            }
            Message::Unchoke => {
                if self.flags.peer_choking {
                    self.flags.peer_choking = false;
                    self.last_block = Instant::now();
                    self.set_flags();
                }
            }
            Message::Interested | Message::NotInterested => {
                self.flags.peer_interested = matches!(m, Message::Interested);
                self.set_flags();
                self.torrent.send(PeerEvent::Interest { conn: self.conn });
            }
            Message::Have(i) => {
                if i >= n {
                    return Err(protocol(format!("have index {i} out of range")));
                }
                if self.peer_has.set(i) {
                    if self.hidden {
                        self.torrent.send(PeerEvent::SuperSeed {
                            conn: self.conn,
                            seen: SuperSeen::Have(i),
                        });
                    }
                    self.live
                        .pieces
                        .store(self.peer_has.count(), Ordering::Relaxed);
                    let wants = self.torrent.peer_got(i) && !self.paused;
                    if wants {
                        self.set_interest(true);
                    }
                    if self.peer_has.is_complete() {
                        self.end_if_redundant()?;
                    }
                }
            }
            Message::Bitfield(b) => {
                let bf = Bitfield::from_bytes(&b, n).map_err(|e| protocol(e.to_string()))?;
                self.set_peer_has(bf);
                if self.peer_has.is_complete() {
                    self.end_if_redundant()?;
                }
            }
            Message::HaveAll => {
                self.set_peer_has(Bitfield::full(n));
                self.end_if_redundant()?;
            }
            Message::HaveNone => self.set_peer_has(Bitfield::new(n)),
            Message::Request {
                index,
                begin,
                length,
            } => self.on_request(BlockRef {
                index,
                begin,
                length,
            })?,
            Message::Cancel {
                index,
                begin,
                length,
            } => {
                self.uploads.cancel(BlockRef {
                    index,
                    begin,
                    length,
                });
            }
            Message::Reject {
                index,
                begin,
                length,
            } => self.on_reject(BlockRef {
                index,
                begin,
                length,
            }),
            Message::Piece { index, begin, data } => self.on_piece(index, begin, data)?,
            Message::Extended { id, payload } => {
                if id == UT_METADATA_ID {
                    self.on_metadata_request(&payload);
                } else if id == UT_PEX_ID && self.torrent.pex {
                    self.on_pex(&payload);
                } else if id == LT_DONTHAVE_ID {
                    self.on_donthave(&payload)?;
                } else if id == UT_HOLEPUNCH_ID && self.torrent.pex {
                    self.on_holepunch(&payload)?;
                } else if id == UPLOAD_ONLY_ID {
                    let on = extension::decode_upload_only(&payload)
                        .map_err(|e| protocol(e.to_string()))?;
                    self.set_peer_upload_only(on);
                    self.end_if_redundant()?;
                } else if id == HANDSHAKE_ID {
                    self.on_ext_handshake(&payload)?;
                    self.end_if_redundant()?;
                }
            }
            // Answered from the torrent's piece layers (`hashes.rs`), else rejected.
            Message::HashRequest(head) => self.on_hash_request(head),
            // Answers to our requests for a failed piece's block hashes go to the torrent,
            // which checks them against the piece.
            Message::Hashes { head, hashes } if self.hash_asked(&head) => {
                self.torrent.send(PeerEvent::Hashes {
                    conn: self.conn,
                    head,
                    hashes,
                })
            }
            Message::HashReject(head) if self.hash_asked(&head) => {
                self.torrent.send(PeerEvent::HashReject {
                    conn: self.conn,
                    head,
                })
            }
            Message::Hashes { .. } | Message::HashReject(_) => {
                tracing::debug!("conn {}: unasked {} dropped", self.conn, m.name());
            }
        }
        Ok(())
    }

    /// Whether a message may be read now: the writers are not behind and the down limiter's
    /// gate is open.
    ///
    /// Held back, the connection stops reading, not only asking: the blocks of requests
    /// already sent (up to `MAX_PIPELINE`, 4 MiB) then wait in the kernel's socket buffer and
    /// TCP's window, not in our heap, so what the download path holds stays near
    /// `download::LAG_BYTES` (libtorrent does the same at `max_queued_disk_bytes`).
    pub(crate) fn may_read(&mut self, now: TokioInstant) -> bool {
        !self.held_back && self.throttle.may_read(now)
    }

    /// Woken by `Download::caught_up`: looks again whether the writers are still behind.
    /// Not left to the next refill, which a full pipeline skips.
    pub(crate) fn writers_caught_up(&mut self) {
        self.held_back = self.torrent.writers_behind();
    }

    /// The earliest instant a shut gate opens, if any: the task sleeps until then.
    pub(crate) fn next_wake(&mut self, now: TokioInstant) -> Option<TokioInstant> {
        self.throttle.next_wake(now)
    }

    /// A limit changed: debts were forgiven, so the gates open now.
    pub(crate) fn limits_changed(&mut self) {
        self.throttle.forgive();
    }

    /// The peer's own limiters (`rate::SessionRates::for_peer`), set before any byte moves.
    pub(crate) fn set_limiters(&mut self, down: Limiter, up: Limiter) {
        self.throttle = Throttle::new(down, up);
    }

    pub(crate) fn on_tick(&mut self) -> Result<(), PeerEnd> {
        let now = Instant::now();
        if self.held_back {
            // Not reading is our choice, not the peer's silence.
            self.last_recv = now;
        }
        if now.duration_since(self.last_recv) > IDLE_TIMEOUT {
            return Err(PeerEnd::Idle);
        }
        // We may have completed since the peer said it only uploads.
        if self.ext.upload_only() || self.peer_has.is_complete() {
            self.end_if_redundant()?;
        }
        if now.duration_since(self.last_send) > KEEPALIVE_AFTER {
            self.push(&Message::KeepAlive);
        }
        self.update_rate(now);
        let tick = TokioInstant::now();
        // What uTP sent again or received in vain is charged too (`rate::Resends`).
        let utp = self.live.utp.get().and_then(|h| h.get());
        self.throttle
            .on_tick(utp.map(|s| (s.resent_bytes, s.wasted_recv_bytes)), tick);
        Ok(())
    }
}

/// Whatever way the connection ends (a panic included), its requests go back to the picker
/// and its pieces leave the availability counts, so nothing stays booked by a dead peer.
impl Drop for PeerConn {
    fn drop(&mut self) {
        let blocks = self.requests.take_all();
        self.torrent.peer_gone(blocks, &self.peer_has);
        self.live.in_flight.store(0, Ordering::Relaxed);
        self.flags = ChokeFlags::default();
        self.set_flags();
    }
}

#[cfg(test)]
mod tests;
