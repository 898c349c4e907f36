//! The `Range` header of a stream request: whatever a client on the stream port sends.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ttui::internals::stream::range::{parse, Ask};

fuzz_target!(|data: &[u8]| {
    // The first bytes pick the file's length, the rest is the header.
    let Some((len, header)) = data.split_first_chunk::<2>() else {
        return;
    };
    let len = u64::from(u16::from_le_bytes(*len));
    match parse(Some(header), len) {
        Ask::Part { first, last } => assert!(first <= last && last < len),
        Ask::Unsatisfiable | Ask::Whole => {}
    }
    // Reading it against a huge file never overflows either.
    if let Ask::Part { first, last } = parse(Some(header), u64::MAX) {
        assert!(first <= last && last < u64::MAX);
    }
});
