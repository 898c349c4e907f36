//! HTTP tracker replies.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ttui::internals::tracker::http::{parse_response, MAX_PEERS_PER_REPLY};

fuzz_target!(|data: &[u8]| {
    match parse_response(data) {
        Ok(r) => assert!(r.peers.len() <= MAX_PEERS_PER_REPLY),
        Err(e) => assert!(!e.to_string().contains('\n')),
    }
});
