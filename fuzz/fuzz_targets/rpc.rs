//! The Transmission RPC's request body: any bytes parse to an envelope or a short error,
//! never a panic; an envelope's response (with its tag) is JSON that parses back with the
//! same result and tag. The same bytes as a request's path: the web client's route never
//! names a file outside its directory (no `..`, no root, no hidden name).
#![no_main]
use libfuzzer_sys::fuzz_target;
use ttui::internals::rpc::request::{parse, response};
use ttui::internals::rpc::web::{route, Route};

fuzz_target!(|data: &[u8]| {
    if let Ok(path) = std::str::from_utf8(data) {
        if let Some(Route::File(rel)) = route(path) {
            assert!(rel.is_relative(), "{path}");
            for c in rel.components() {
                match c {
                    std::path::Component::Normal(s) => {
                        assert!(!s.to_string_lossy().starts_with('.'), "{path}");
                    }
                    other => panic!("{path}: {other:?}"),
                }
            }
        }
    }
    match parse(data) {
        Ok(env) => {
            let body = response(Err(env.method.clone()), env.tag.clone());
            let v: serde_json::Value = serde_json::from_slice(&body).expect("a response is JSON");
            assert_eq!(v["result"], serde_json::Value::String(env.method));
            if let Some(tag) = env.tag {
                assert_eq!(v["tag"], tag);
            }
        }
        Err(e) => assert!(e.to_string().len() < 1024, "long error"),
    }
});
