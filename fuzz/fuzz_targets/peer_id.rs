//! Peer-id decoding and the BEP 10 `v` string cleaner.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ttui::internals::protocol::peer_id::{
    client_from_handshake_v, decode_client, describe_client, format_peer_id, MAX_V_LEN,
};

fuzz_target!(|data: &[u8]| {
    let mut id = [0u8; 20];
    let n = data.len().min(20);
    id[..n].copy_from_slice(&data[..n]);
    let _ = decode_client(&id);
    let _ = format_peer_id(&id);
    let v = String::from_utf8_lossy(data.get(20..).unwrap_or_default());
    let cleaned = client_from_handshake_v(&v);
    assert!(cleaned.chars().count() <= MAX_V_LEN);
    assert!(!cleaned.chars().any(char::is_control));
    let _ = describe_client(Some(v.as_ref()), &id);
});
