//! Rates and turtle schedules as written in flags, the config file and `ttui limit`: no
//! panic; what parses shows again, and a schedule's text parses back to itself.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ttui::internals::engine::api::{parse_rate, show_rate, Schedule};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(r) = parse_rate(text) {
        let _ = show_rate(r);
    }
    if let Ok(s) = Schedule::parse(text) {
        assert_eq!(Schedule::parse(&s.to_string()), Ok(s));
        let _ = s.contains(1439);
    }
});
