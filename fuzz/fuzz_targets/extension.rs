//! BEP 10 handshake, BEP 9 ut_metadata and BEP 11 ut_pex payloads: no panic, bounded
//! output, and decode ∘ encode is the identity on what decode produced.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ttui::internals::protocol::extension::{
    metadata_reply, ExtHandshake, MetadataMsg, Pex, MAX_CLIENT_BYTES, MAX_EXTENSIONS, MAX_PEX_PEERS,
};

fuzz_target!(|data: &[u8]| {
    if let Ok(h) = ExtHandshake::decode(data) {
        assert!(h.m.len() <= MAX_EXTENSIONS);
        assert!(h.v.as_ref().is_none_or(|v| v.len() <= MAX_CLIENT_BYTES));
        let _ = h.client();
        assert_eq!(ExtHandshake::decode(&h.encode()).as_ref(), Ok(&h));
    }
    if let Ok((m, rest)) = MetadataMsg::decode(data) {
        let again = m.encode(rest);
        assert_eq!(MetadataMsg::decode(&again), Ok((m, rest)));
        let _ = metadata_reply(rest, m.piece());
    }
    if let Ok(p) = Pex::decode(data) {
        assert!(p.added.len() <= 2 * MAX_PEX_PEERS);
        assert!(p.dropped.len() <= 2 * MAX_PEX_PEERS);
        assert_eq!(Pex::decode(&p.encode()).as_ref(), Ok(&p));
    }
});
