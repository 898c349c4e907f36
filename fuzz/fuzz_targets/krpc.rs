//! DHT (BEP 5) KRPC datagrams: decode never panics, and what decodes re-encodes to bytes that
//! decode to the same message.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ttui::internals::protocol::krpc::Krpc;

fuzz_target!(|data: &[u8]| {
    if let Ok(msg) = Krpc::decode(data) {
        let again = Krpc::decode(&msg.encode()).expect("our own encoding must decode");
        assert_eq!(again.encode(), msg.encode());
    }
});
