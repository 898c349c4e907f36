//! The Transmission RPC's request body: any bytes parse to an envelope or a short error,
//! never a panic; an envelope's response (with its tag) is JSON that parses back with the
//! same result and tag. The same bytes as a request's path: the web client's route never
//! names a file outside its directory (no `..`, no root, no hidden name). The same bytes as
//! `torrent-rename-path`'s `path` and `name` (split at the first newline): a rename never
//! panics and never makes a path part that is empty, `.`, `..` or holds a `/`. As a JSON-RPC
//! 2.0 body: its names turn to the legacy form and back without a panic, and every key of an
//! answer turned to snake_case has no capital and no hyphen.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ttui::internals::rpc::request::{parse, response};
use ttui::internals::engine::api::{check_name, plan_rename};
use ttui::internals::protocol::metainfo::{FileEntry, Info};
use ttui::internals::rpc::jsonrpc::{is_jsonrpc, legacy_map, snake};
use ttui::internals::rpc::web::{route, Route};

/// Every object key in `v`, however deep.
fn keys(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(o) => {
            for (k, v) in o {
                out.push(k.clone());
                keys(v, out);
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|v| keys(v, out)),
        _ => {}
    }
}

/// A small torrent: a folder with a file, a subfolder and a padding file.
fn info() -> Info {
    let file = |p: &str, offset| FileEntry::new(p.split('/').map(String::from).collect(), 5, offset);
    Info {
        name: "top".into(),
        piece_length: 16384,
        pieces: vec![[0; 20]],
        files: vec![file("top/a", 0), file("top/sub/b", 5), file("top/.pad/0", 10)],
        total_length: 15,
        private: false,
        source: None,
        single_file: false,
        v2: None,
    }
}

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
    if let Ok(text) = std::str::from_utf8(data) {
        let (path, name) = text.split_once('\n').unwrap_or((text, "x"));
        if let Ok(Some(r)) = plan_rename(&info(), path, name) {
            for f in &r.info.files {
                assert!(f.path.iter().all(|c| check_name(c).is_ok()), "{path} {name}");
            }
        }
    }
    if is_jsonrpc(data) {
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) {
            if let serde_json::Value::Object(o) = v.clone() {
                let _ = legacy_map(o);
            }
            let mut all = Vec::new();
            keys(&snake(v), &mut all);
            for k in all {
                assert!(!k.contains('-') && !k.chars().any(|c| c.is_ascii_uppercase()), "{k}");
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
