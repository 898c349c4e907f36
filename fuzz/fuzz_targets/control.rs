//! The control socket: a stream of frames (cut anywhere) and each frame's JSON as a request,
//! a response and a hello. No panic; errors stay short; a request re-encodes to itself.
#![no_main]
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use ttui::internals::control::frame::{read_frame, ReadLimits};
use ttui::internals::control::proto::{decode_request, decode_response, encode, Hello};

thread_local! {
    static RT: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
}

fn body(json: &[u8]) {
    match decode_request(json) {
        Ok(r) => {
            let again = encode(&r).expect("a decoded request encodes");
            assert_eq!(decode_request(&again).expect("and decodes again"), r);
        }
        Err(e) => assert!(e.message.len() < 1024, "long error: {}", e.message.len()),
    }
    if let Err(e) = decode_response(json) {
        assert!(e.message.len() < 1024);
    }
    let _ = hello(json);
}

/// A hello decodes and re-encodes to itself.
fn hello(json: &[u8]) -> Option<Hello> {
    let text = std::str::from_utf8(json).ok()?;
    let h: Hello = serde_json::from_str(text).ok()?;
    let again = encode(&h).ok()?;
    assert_eq!(serde_json::from_slice::<Hello>(&again).ok()?, h);
    Some(h)
}

fuzz_target!(|data: &[u8]| {
    body(data);
    let limits = ReadLimits {
        max: 1 << 16,
        idle: None,
        frame: Duration::from_secs(1),
    };
    RT.with(|rt| {
        rt.block_on(async {
            let mut rest = data;
            for _ in 0..64 {
                match read_frame(&mut rest, limits).await {
                    Ok(frame) => body(&frame),
                    Err(_) => break,
                }
            }
        })
    });
});
