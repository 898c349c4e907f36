//! BEP 10 handshake, BEP 9 ut_metadata, BEP 11 ut_pex, BEP 21 upload_only and BEP 54
//! lt_donthave payloads: no panic, bounded output, and decode ∘ encode is the identity on what
//! decode produced.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ttui::internals::protocol::extension::{
    decode_donthave, decode_upload_only, encode_donthave, encode_upload_only, metadata_reply,
    ExtHandshake, MetadataMsg, Pex, MAX_CLIENT_BYTES, MAX_EXTENSIONS, MAX_PEX_PEERS,
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
    if let Ok(i) = decode_donthave(data) {
        assert_eq!(encode_donthave(i)[..], data[..]);
    }
    if let Ok(on) = decode_upload_only(data) {
        assert_eq!(decode_upload_only(&encode_upload_only(on)), Ok(on));
    }
});
