//! What the peer's BEP 10 handshake offered, whether it only uploads (BEP 21), the inbox its
//! PEX messages go through, and what the connection does with each extension message (the
//! extended handshake, `upload_only`, BEP 55's `ut_holepunch`, BEP 54's `lt_donthave`, PEX).

use std::sync::atomic::Ordering;
use std::time::Instant;

use super::{protocol, PeerConn};
use crate::engine::api::PeerEnd;
use crate::engine::peer::link::PeerEvent;
use crate::engine::peer::pex::{PexEvent, Verdict};
use crate::protocol::extension::{self as ext_msg, Pex};
use crate::protocol::holepunch::HoleMsg;

use crate::engine::peer::pex::PexInbox;
use crate::protocol::extension::{ExtHandshake, LT_DONTHAVE, UPLOAD_ONLY, UT_METADATA, UT_PEX};
use crate::protocol::holepunch::UT_HOLEPUNCH;

/// Invariant (why the ids are private): an id is the one the peer's latest extended handshake
/// gave (BEP 10: a later handshake replaces an earlier one, 0 withdraws), and `ut_pex` is
/// `None` while peer exchange is off for the torrent, so nothing is sent on it.
/// `upload_only` is what the peer said last, by its handshake or its `upload_only` message.
pub(crate) struct Extensions {
    ut_metadata: Option<u8>,
    ut_pex: Option<u8>,
    upload_only_id: Option<u8>,
    donthave: Option<u8>,
    /// BEP 55: like `ut_pex`, `None` while peer exchange is off (it is how peers are found).
    holepunch: Option<u8>,
    upload_only: bool,
    pex_on: bool,
    pub(crate) pex_in: PexInbox,
}

impl Extensions {
    pub(crate) fn new(pex_on: bool, now: Instant) -> Extensions {
        Extensions {
            ut_metadata: None,
            ut_pex: None,
            upload_only_id: None,
            donthave: None,
            holepunch: None,
            upload_only: false,
            pex_on,
            pex_in: PexInbox::new(now),
        }
    }

    pub(crate) fn learn(&mut self, h: &ExtHandshake) {
        self.ut_metadata = h.id_of(UT_METADATA);
        self.ut_pex = h.id_of(UT_PEX).filter(|_| self.pex_on);
        self.upload_only_id = h.id_of(UPLOAD_ONLY);
        self.donthave = h.id_of(LT_DONTHAVE);
        self.holepunch = h.id_of(UT_HOLEPUNCH).filter(|_| self.pex_on);
        self.upload_only = h.upload_only;
    }

    /// The peer's `upload_only` message: its state from now on.
    pub(crate) fn set_upload_only(&mut self, on: bool) {
        self.upload_only = on;
    }

    /// The peer only uploads (BEP 21): a seed, or a partial seed that wants nothing more.
    #[inline]
    pub(crate) fn upload_only(&self) -> bool {
        self.upload_only
    }

    /// The peer's id for `upload_only` messages (libtorrent takes a change of ours this way).
    #[inline]
    pub(crate) fn upload_only_id(&self) -> Option<u8> {
        self.upload_only_id
    }

    /// The peer's id for `lt_donthave` messages.
    #[inline]
    pub(crate) fn donthave(&self) -> Option<u8> {
        self.donthave
    }

    /// The peer's id for ut_metadata messages.
    #[inline]
    pub(crate) fn ut_metadata(&self) -> Option<u8> {
        self.ut_metadata
    }

    /// The peer's id for `ut_holepunch` messages.
    #[inline]
    pub(crate) fn holepunch(&self) -> Option<u8> {
        self.holepunch
    }

    /// The peer's id for ut_pex messages.
    #[inline]
    pub(crate) fn ut_pex(&self) -> Option<u8> {
        self.ut_pex
    }
}

impl PeerConn {
    /// A handshake that is not a well-formed bencoded dictionary ends the connection, as
    /// libtorrent does: nothing legitimate sends one, and the row then says why.
    pub(super) fn on_ext_handshake(&mut self, payload: &[u8]) -> Result<(), PeerEnd> {
        let h = ExtHandshake::decode(payload)
            .map_err(|e| protocol(format!("malformed extended handshake: {e}")))?;
        let was = self.ext.upload_only();
        self.ext.learn(&h);
        self.note_upload_only(was);
        self.torrent.send(PeerEvent::Pex {
            conn: self.conn,
            event: PexEvent::Extensions {
                ut_pex: self.ext.ut_pex().is_some(),
                holepunch: self.ext.holepunch().is_some(),
                listen_port: h.p,
            },
        });
        if let Some(q) = h.reqq {
            self.set_reqq(usize::try_from(q).unwrap_or(usize::MAX));
        }
        if let Some(name) = h.client() {
            self.torrent.send(PeerEvent::Client {
                conn: self.conn,
                name,
            });
        }
        if let Some(ip) = h.yourip {
            self.torrent.send(PeerEvent::YourIp {
                conn: self.conn,
                ip,
            });
        }
        Ok(())
    }

    pub(super) fn set_peer_upload_only(&mut self, on: bool) {
        let was = self.ext.upload_only();
        self.ext.set_upload_only(on);
        self.note_upload_only(was);
    }

    /// The row shows what the peer said last; a change is logged (in the peer's span).
    pub(super) fn note_upload_only(&self, was: bool) {
        let now = self.ext.upload_only();
        self.live.upload_only.store(now, Ordering::Relaxed);
        if now != was {
            let word = if now {
                "upload only"
            } else {
                "no longer upload only"
            };
            tracing::info!("conn {}: {word} (BEP 21)", self.conn);
        }
    }

    /// BEP 55 `ut_holepunch`: passed to the torrent, which relays, dials or notes it. A
    /// payload of the wrong size or type ends the connection, as libtorrent does.
    pub(super) fn on_holepunch(&mut self, payload: &[u8]) -> Result<(), PeerEnd> {
        let msg = HoleMsg::decode(payload).map_err(|e| protocol(e.to_string()))?;
        self.torrent.send(PeerEvent::Holepunch {
            conn: self.conn,
            msg,
        });
        Ok(())
    }

    /// BEP 54 `lt_donthave`: the peer lost a piece it had announced. It leaves the peer's
    /// pieces and the availability counts, our requests for it are cancelled and go back to
    /// the picker, and our interest follows. An index out of range or a payload of another
    /// size ends the connection, as a bad `have` does.
    pub(super) fn on_donthave(&mut self, payload: &[u8]) -> Result<(), PeerEnd> {
        let index = ext_msg::decode_donthave(payload).map_err(|e| protocol(e.to_string()))?;
        if index >= self.peer_has.len() {
            return Err(protocol(format!("lt_donthave index {index} out of range")));
        }
        if !self.peer_has.get(index) {
            return Ok(());
        }
        let asked: Vec<u32> = self
            .requests
            .iter()
            .filter(|r| r.index == index)
            .map(|r| r.begin)
            .collect();
        for begin in asked {
            self.cancel(index, begin);
        }
        let mut now = self.peer_has.clone();
        now.clear(index);
        self.set_peer_has(now);
        Ok(())
    }

    /// A ut_pex message: judged by the inbox (caps, flooding), then passed on. A malformed
    /// one is ignored, not fatal: PEX is advisory.
    pub(super) fn on_pex(&mut self, payload: &[u8]) {
        let Ok((mut msg, entries)) = Pex::decode_counted(payload) else {
            return;
        };
        let event = match self
            .ext
            .pex_in
            .accept(Instant::now(), entries, msg.added.len())
        {
            Verdict::Ignore => return,
            Verdict::Flood(why) => PexEvent::Flooded(why),
            Verdict::Take(n) => {
                msg.added.truncate(n);
                PexEvent::Peers(msg)
            }
        };
        self.torrent.send(PeerEvent::Pex {
            conn: self.conn,
            event,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offering(pairs: &[(&str, u8)]) -> ExtHandshake {
        ExtHandshake {
            m: pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            ..ExtHandshake::default()
        }
    }

    #[test]
    fn pex_is_used_only_when_on_and_a_later_handshake_replaces_ids() {
        let now = Instant::now();
        let h = offering(&[(UT_PEX, 3), (UT_METADATA, 4)]);
        let mut off = Extensions::new(false, now);
        off.learn(&h);
        assert_eq!((off.ut_pex(), off.ut_metadata()), (None, Some(4)));
        let mut on = Extensions::new(true, now);
        on.learn(&h);
        assert_eq!((on.ut_pex(), on.ut_metadata()), (Some(3), Some(4)));
        on.learn(&offering(&[(UT_PEX, 0)]));
        assert_eq!((on.ut_pex(), on.ut_metadata()), (None, None));
    }

    /// BEP 21 and 54 as libtorrent 2.0.8 offers them: the ids of both messages and the
    /// handshake's `upload_only`; a later handshake, or the message, says it anew.
    #[test]
    fn upload_only_and_donthave_follow_the_latest_word() {
        let mut e = Extensions::new(false, Instant::now());
        assert!(!e.upload_only());
        let mut h = offering(&[(UPLOAD_ONLY, 3), (LT_DONTHAVE, 7)]);
        h.upload_only = true;
        e.learn(&h);
        assert_eq!((e.upload_only_id(), e.donthave()), (Some(3), Some(7)));
        assert!(e.upload_only());
        e.set_upload_only(false);
        assert!(!e.upload_only());
        e.set_upload_only(true);
        e.learn(&offering(&[(LT_DONTHAVE, 0)]));
        assert!(
            !e.upload_only(),
            "a later handshake without the key: not upload-only"
        );
        assert_eq!((e.upload_only_id(), e.donthave()), (None, None));
    }
}
