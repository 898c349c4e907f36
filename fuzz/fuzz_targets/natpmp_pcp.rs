//! NAT-PMP and PCP replies: the same bytes arrive on the one socket the port mapper keeps
//! toward port 5351, so each input goes through both parsers.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ttui::internals::protocol::{natpmp, pcp};

fuzz_target!(|data: &[u8]| {
    if let Ok(natpmp::Reply::Mapped { proto, internal_port, .. }) = natpmp::parse_reply(data) {
        // A mapping reply's opcode says its protocol; the bytes say the port.
        assert_eq!(data[1] - 128, if proto == natpmp::Proto::Tcp { 2 } else { 1 });
        assert_eq!(internal_port, u16::from_be_bytes([data[8], data[9]]));
    }
    match pcp::parse_reply(data) {
        Ok(pcp::Reply::Mapped(m)) => {
            assert!(data.len() >= pcp::MAP_REQUEST_LEN && data.len() <= pcp::MAX_MESSAGE);
            assert_eq!(m.proto.iana(), data[36]);
        }
        Ok(_) => {}
        Err(e) => assert!(e.to_string().len() < 100),
    }
});
