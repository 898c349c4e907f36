//! The bounded bencode walker and decoder: no panic, no stack overflow, and what decodes
//! re-encodes to a value that decodes to itself.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ttui::internals::protocol::bencode;

fuzz_target!(|data: &[u8]| {
    let _ = bencode::validate(data);
    let _ = bencode::find_info_span(data);
    if let Ok(entries) = bencode::top_level_entries(data, &[b"peers", b"info", b"m"]) {
        for (_, span) in entries {
            let _ = bencode::string_at(data, span.start);
            for item in bencode::list_items(data, span.start).take(1000) {
                assert!(item.end <= data.len());
            }
        }
    }
    if let Ok((v, end)) = bencode::decode_prefix::<serde_bencode::value::Value>(data) {
        assert!(end <= data.len());
        let _ = v;
    }
    if let Ok(v) = bencode::decode_value(data) {
        let again = bencode::encode_value(&v);
        let back = bencode::decode_value(&again).expect("our own encoding decodes");
        assert_eq!(back, v);
    }
});
