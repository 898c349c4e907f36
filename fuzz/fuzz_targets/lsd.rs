//! BEP 14 Local Service Discovery announces: what anyone on the LAN multicasts to port 6771.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ttui::internals::protocol::lsd::{encode, parse, Family, MAX_DATAGRAM, MAX_HASHES};

fuzz_target!(|data: &[u8]| {
    if let Ok(a) = parse(data) {
        assert!(data.len() <= MAX_DATAGRAM);
        assert!(a.port != 0);
        assert!(!a.hashes.is_empty() && a.hashes.len() <= MAX_HASHES);
        assert!(a.hashes.iter().all(|h| *h != [0; 20]));
        // What we would send for it reads back the same.
        let cookie = a.cookie.clone().unwrap_or_default();
        let again = parse(&encode(Family::V4, a.port, &a.hashes, &cookie)).expect("our own");
        assert_eq!((again.port, &again.hashes), (a.port, &a.hashes));
    }
});
