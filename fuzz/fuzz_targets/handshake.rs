//! The 68-byte handshake, whole and by prefix.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ttui::internals::protocol::handshake::{Handshake, LEN};

fuzz_target!(|data: &[u8]| {
    let _ = Handshake::check_prefix(data);
    if let Some(raw) = data.get(..LEN) {
        let raw: [u8; LEN] = raw.try_into().expect("LEN bytes");
        if let Ok(h) = Handshake::decode(&raw) {
            assert_eq!(h.encode(), raw);
        }
    }
});
