//! What the qBittorrent API reads of a request: any bytes as a query string and a
//! urlencoded body parse to parameters without a panic, and reading them back (flags,
//! numbers, lists) never panics; the same bytes split into Host, Origin and Referer never
//! make the cross-site check panic, and a request that names no origin is never cross-site;
//! the same bytes as a `torrents/add` multipart body never make its parser panic, and
//! every part it returns lies inside the body; the same bytes as `app/setPreferences`'
//! `json` never make its mapping panic, and `filePrio`'s priority maps or is refused;
//! each of `addPeers`' `peers` parses to an address with a port, or to nothing, and each
//! line as a tracker URL is judged without a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ttui::internals::qbt::{
    boundary, cookie, cross_site, file_priority, parse_multipart, parse_peer, preference_change,
    tracker_url_ok, Params,
};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let p = Params::parse(Some(text.as_ref()), data);
    for name in ["hashes", "filter", "limit", "offset", "reverse", "tags"] {
        let _ = p.flag(name);
        let _ = p.int(name);
        let _ = p.list(name, '|');
    }
    if let Ok(serde_json::Value::Object(prefs)) = serde_json::from_slice(data) {
        let _ = preference_change(&prefs);
    }
    for line in text.lines() {
        let _ = tracker_url_ok(line);
    }
    for peer in text.split('|') {
        assert!(parse_peer(peer).map_or(true, |a| a.port() != 0));
    }
    if let Some(n) = p.int("priority") {
        let _ = file_priority(n);
    }
    let mut parts = text.splitn(3, '\n');
    let (host, origin, referer) = (parts.next(), parts.next(), parts.next());
    let _ = cross_site(host, origin, referer);
    assert!(!cross_site(host, None, None));
    let _ = cookie(&text, "SID");
    let b = boundary(&format!("multipart/form-data; boundary={}", text.lines().next().unwrap_or("")));
    if let Some(b) = b {
        if let Ok(parts) = parse_multipart(&b, data) {
            assert!(parts.iter().all(|p| p.data.len() <= data.len()));
        }
    }
});
