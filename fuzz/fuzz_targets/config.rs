//! The config file: any text parses to a config or to one short line naming the file.
#![no_main]
use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(e) = ttui::internals::config::parse(text, Path::new("fuzz.toml")) {
        assert!(!e.contains('\n'), "a config error is one line: {e:?}");
        assert!(e.starts_with("config file fuzz.toml"), "{e:?}");
    }
});
