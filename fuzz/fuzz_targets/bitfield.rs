//! Bitfields against any piece count.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ttui::internals::protocol::bitfield::Bitfield;

fuzz_target!(|data: &[u8]| {
    let Some((len, bytes)) = data.split_first_chunk::<4>() else {
        return;
    };
    let len = u32::from_be_bytes(*len);
    if let Ok(b) = Bitfield::from_bytes(bytes, len) {
        assert_eq!(b.as_bytes(), bytes);
        assert_eq!(b.len(), len);
        let ones = b.ones().take(100_000).count() as u32;
        assert!(ones <= b.count());
        if len <= 100_000 {
            assert_eq!(ones, b.count());
        }
    }
});
