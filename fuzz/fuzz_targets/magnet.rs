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
    let _ = Magnet::parse(&with_prefix);
});
