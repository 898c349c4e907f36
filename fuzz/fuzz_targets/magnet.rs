//! Magnet links.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ttui::internals::protocol::magnet::Magnet;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Err(e) = Magnet::parse(&text) {
        // Messages quote the link: they must stay short whatever it holds.
        assert!(e.to_string().len() < 1024);
    }
    let with_prefix = format!("magnet:?{text}");
    if let Ok(m) = Magnet::parse(&with_prefix) {
        // BEP 53 `so`: bounded, sorted and without duplicates, whatever ranges it claims.
        if let Some(so) = m.select_only {
            assert!(so.len() <= ttui::internals::protocol::magnet::SELECT_ONLY_MAX_INDEX + 1);
            assert!(so.windows(2).all(|w| w[0] < w[1]));
        }
    }
});
