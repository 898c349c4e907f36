//! What the peer's BEP 10 handshake offered, and the inbox its PEX messages go through.

use std::time::Instant;

use crate::engine::peer::pex::PexInbox;
use crate::protocol::extension::{ExtHandshake, UT_METADATA, UT_PEX};

/// Invariant (why the ids are private): an id is the one the peer's latest extended handshake
/// gave (BEP 10: a later handshake replaces an earlier one, 0 withdraws), and `ut_pex` is
/// `None` while peer exchange is off for the torrent, so nothing is sent on it.
pub(crate) struct Extensions {
    ut_metadata: Option<u8>,
    ut_pex: Option<u8>,
    pex_on: bool,
    pub(crate) pex_in: PexInbox,
}

impl Extensions {
    pub(crate) fn new(pex_on: bool, now: Instant) -> Extensions {
        Extensions {
            ut_metadata: None,
            ut_pex: None,
            pex_on,
            pex_in: PexInbox::new(now),
        }
    }

    pub(crate) fn learn(&mut self, h: &ExtHandshake) {
        self.ut_metadata = h.id_of(UT_METADATA);
        self.ut_pex = h.id_of(UT_PEX).filter(|_| self.pex_on);
    }

    /// The peer's id for ut_metadata messages.
    #[inline]
    pub(crate) fn ut_metadata(&self) -> Option<u8> {
        self.ut_metadata
    }

    /// The peer's id for ut_pex messages.
    #[inline]
    pub(crate) fn ut_pex(&self) -> Option<u8> {
        self.ut_pex
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
}
