//! UDP tracker announce replies, over IPv4 and IPv6.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ttui::internals::tracker::http::MAX_PEERS_PER_REPLY;
use ttui::internals::tracker::udp::parse_announce;

fuzz_target!(|data: &[u8]| {
    for v6 in [false, true] {
        if let Ok(r) = parse_announce(data, v6) {
            assert!(r.peers.len() <= MAX_PEERS_PER_REPLY);
        }
    }
});
