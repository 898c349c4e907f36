//! WebTorrent tracker messages: JSON text a WebSocket tracker sends.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ttui::internals::protocol::wt_tracker::{
    parse, Response, MAX_MESSAGE, MAX_SCRAPE_FILES, MAX_SDP,
};

fuzz_target!(|data: &[u8]| {
    match parse(data) {
        Ok(Response::Announce(a)) => {
            assert!(data.len() <= MAX_MESSAGE);
            for r in [&a.offer, &a.answer].into_iter().flatten() {
                assert!(r.sdp.len() <= MAX_SDP);
            }
        }
        Ok(Response::Scrape(files)) => assert!(files.len() <= MAX_SCRAPE_FILES),
        Ok(Response::Failure { reason, .. }) => assert!(reason.chars().count() <= 200),
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
