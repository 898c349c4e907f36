//! uTP (BEP 29) packets: decode never panics, the demultiplexer's first-byte test agrees with
//! decode on every header decode accepts, and a decoded header re-encodes to the same header.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ttui::internals::protocol::utp_packet::{decode, encode, looks_like_utp};

fuzz_target!(|data: &[u8]| {
    let _ = looks_like_utp(data);
    if let Ok(p) = decode(data) {
        assert!(looks_like_utp(data), "decode accepted what the demultiplexer would not route");
        let mut out = Vec::new();
        encode(&p.header, None, p.payload, &mut out);
        let q = decode(&out).expect("our own encoding must decode");
        assert_eq!(q.header, p.header);
        assert_eq!(q.payload, p.payload);
    }
});
