//! STUN Binding answers: what a STUN server (or anyone who spoofs its address) sends the
//! WebRTC socket.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ttui::internals::protocol::stun::binding_answer;

fuzz_target!(|data: &[u8]| {
    // The transaction in the datagram, so the fuzzer reaches the attributes.
    let mut txn = [0u8; 12];
    if let Some(t) = data.get(8..20) {
        txn.copy_from_slice(t);
    }
    if let Ok(addr) = binding_answer(data, &txn) {
        assert!(data.len() >= 28);
        let _ = addr.to_string();
    }
});
