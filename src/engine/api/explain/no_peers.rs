//! The explainer's `no_peers` check, in a file of its own as every check is (pure, as all
//! of explain.rs).

use super::*;

/// A WebSocket tracker left alone because WebTorrent is off (`--no-webtorrent`).
pub(super) fn websocket_off(t: &crate::tracker::TrackerRow) -> bool {
    let off = crate::tracker::TrackerError::WebSocketOff(crate::tracker::websocket::WEBTORRENT_OFF)
        .to_string();
    matches!(&t.status, Failed(e) if *e == off)
}

pub(super) fn no_peers(s: &Snapshot, _: &ExplainContext) -> Option<Finding> {
    // Peers listed only where we cannot go are `family`'s to tell.
    if !s.peers.is_empty() || s.unroutable_peers > 0 || s.elapsed < Duration::from_secs(30) {
        return None;
    }
    // Its only trackers find browsers, and WebTorrent is off: they were never asked.
    if !s.trackers.is_empty() && s.trackers.iter().all(websocket_off) && s.dht.is_none() {
        let e = "its only trackers are WebSocket ones, which find browser peers (WebRTC), \
                 and WebTorrent is off"
            .to_string();
        let advice = "run without --no-webtorrent (webtorrent = true in the config)";
        return Some(finding(
            Check::NoPeers,
            Verdict::HoldingBack,
            e,
            Some(advice),
        ));
    }
    let advice = if s.trackers.is_empty() && s.dht.is_none() {
        "no tracker and no DHT: add a tracker, run without --no-dht, or name a peer with --peer"
    } else {
        "wait for the trackers and the DHT to find some, or name one with --peer"
    };
    let e = "no peers known at all".to_string();
    Some(finding(
        Check::NoPeers,
        Verdict::HoldingBack,
        e,
        Some(advice),
    ))
}
