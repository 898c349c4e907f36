//! SOCKS5 UDP relay headers (RFC 1928 §7): what the proxy's relay sends back.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ttui::internals::protocol::socks_udp::{header_len, unwrap, wrap, SocksFrom};

fuzz_target!(|data: &[u8]| {
    if let Ok((from, payload)) = unwrap(data) {
        assert!(payload.len() < data.len());
        // What parses as an address wraps back to the same bytes.
        if let SocksFrom::Addr(a) = from {
            assert_eq!(wrap(a, payload), data);
            assert_eq!(header_len(&a) + payload.len(), data.len());
        }
    }
});
