//! A remote WebRTC offer (the SDP a WebSocket tracker relays from a browser) answered as the
//! WebRTC driver answers it: an answer, or a short error, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ttui::internals::net::webrtc::{answer_offer_sdp, WebRtcError, MAX_SDP};

fuzz_target!(|data: &[u8]| {
    // A tracker's JSON gives text: bytes that are not UTF-8 never reach the parser.
    let Ok(offer) = std::str::from_utf8(data) else {
        return;
    };
    match answer_offer_sdp(offer) {
        Ok(answer) => {
            assert!(offer.len() <= MAX_SDP);
            assert!(answer.starts_with("v=0"), "{answer}");
            assert!(answer.contains("m=application"), "{answer}");
        }
        Err(e) => {
            assert!(matches!(e, WebRtcError::BadSdp(_)), "{e}");
            let _ = e.to_string();
        }
    }
});
