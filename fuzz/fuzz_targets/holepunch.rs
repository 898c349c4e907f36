//! BEP 55 ut_holepunch payloads: no panic, and decode ∘ encode is the identity on what
//! decode produced (error codes and all; a stray err_code outside an error is dropped).
#![no_main]
use libfuzzer_sys::fuzz_target;
use ttui::internals::protocol::holepunch::{HoleMsg, LEN_V4, LEN_V6};

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = HoleMsg::decode(data) {
        let raw = m.encode();
        assert!(raw.len() == LEN_V4 || raw.len() == LEN_V6);
        assert_eq!(raw.len(), data.len());
        assert_eq!(HoleMsg::decode(&raw), Ok(m));
    }
});
