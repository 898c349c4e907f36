//! The explainer's `webrtc` check, in a file of its own as every check is (pure, as all of
//! explain.rs): what keeps browser peers (WebTorrent over WebRTC) from reaching us. A peer
//! behind a NAT can only reach the address its NAT shows for us, which a STUN server tells
//! us; without that address, or with NATs that map each destination apart, ICE finds no
//! pair and the connection fails in its first stage.

use super::*;
use crate::net::webrtc::Stage;
use crate::net::TransportKind;

pub(super) fn webrtc(s: &Snapshot, ctx: &ExplainContext) -> Option<Finding> {
    let status = ctx.webrtc.as_ref()?;
    // Only a torrent that has browser peers to reach: a WebSocket tracker, or WebRTC rows.
    let rtc_rows = || {
        s.peers
            .iter()
            .filter(|p| p.transport == Some(TransportKind::WebRtc))
    };
    let ws_tracker = s.trackers.iter().any(|t| {
        let url = t.url.to_ascii_lowercase();
        url.starts_with("ws://") || url.starts_with("wss://")
    });
    if !ws_tracker && rtc_rows().next().is_none() {
        return None;
    }
    let failed_ice = rtc_rows()
        .filter(|p| p.stage == PeerStage::Failed && p.webrtc_stage == Some(Stage::Ice))
        .count();
    let reached = rtc_rows()
        .filter(|p| matches!(p.stage, PeerStage::Connected | PeerStage::Disconnected))
        .count();
    let failures = if failed_ice > 0 {
        format!(
            "; {} failed in ICE",
            plural(failed_ice, "browser peer", "browser peers")
        )
    } else {
        String::new()
    };
    // Failures and nobody reached: that is what holds the browser side back.
    let verdict = if failed_ice > 0 && reached == 0 {
        Verdict::HoldingBack
    } else {
        Verdict::Warning
    };
    match (&status.stun_server, status.reflexive) {
        (Some(server), _) if status.stun_silent => Some(finding(
            Check::WebRtc,
            verdict,
            format!(
                "no STUN answer from {server}: browser peers behind NATs cannot reach us{failures}"
            ),
            Some("check `stun_server` (`ttui config`): it must answer UDP from this machine"),
        )),
        (None, _) if failed_ice > 0 => Some(finding(
            Check::WebRtc,
            verdict,
            format!(
                "no STUN server is set, so browser peers behind NATs cannot learn our address{failures}"
            ),
            Some("set `--stun-server HOST:PORT` (or `stun_server` in the config)"),
        )),
        (Some(_), Some(seen)) if failed_ice > 0 => Some(finding(
            Check::WebRtc,
            Verdict::Warning,
            format!(
                "{} failed in ICE although the STUN server sees us at {seen}: both sides may be \
                 behind NATs that map each destination apart",
                plural(failed_ice, "browser peer", "browser peers")
            ),
            None,
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::api::{TrackerRow, WebRtcStatus};

    fn snap(rows: Vec<PeerRow>) -> Snapshot {
        let mut s = Snapshot::empty("t", 10, 1 << 14);
        s.state = TorrentState::Downloading;
        s.peers = rows;
        s.trackers = vec![TrackerRow::not_contacted(
            "wss://tracker.example/announce".into(),
            0,
        )];
        s
    }

    fn failed_in_ice() -> PeerRow {
        PeerRow {
            transport: Some(TransportKind::WebRtc),
            webrtc_stage: Some(Stage::Ice),
            end: Some(PeerEnd::WebRtc("ICE timed out after 15s".into())),
            ..PeerRow::new(
                "198.51.100.9:50000".parse().unwrap(),
                PeerSource::Incoming,
                PeerStage::Failed,
            )
        }
    }

    fn ctx(stun_server: Option<&str>, reflexive: Option<&str>, silent: bool) -> ExplainContext {
        ExplainContext {
            webrtc: Some(WebRtcStatus {
                stun_server: stun_server.map(str::to_string),
                reflexive: reflexive.map(|r| r.parse().unwrap()),
                stun_silent: silent,
            }),
            ..ExplainContext::default()
        }
    }

    #[test]
    fn a_silent_stun_server_is_named_and_holds_back_when_ice_fails() {
        let s = snap(vec![failed_in_ice(), failed_in_ice()]);
        let f = webrtc(&s, &ctx(Some("stun.example:3478"), None, true)).unwrap();
        assert_eq!(f.check.name(), "webrtc");
        assert_eq!(f.verdict, Verdict::HoldingBack);
        assert_eq!(
            f.evidence,
            "no STUN answer from stun.example:3478: browser peers behind NATs cannot reach us; \
             2 browser peers failed in ICE"
        );
        // Silent, nothing failed yet: a warning.
        let f = webrtc(&snap(vec![]), &ctx(Some("stun.example:3478"), None, true)).unwrap();
        assert_eq!(f.verdict, Verdict::Warning);
    }

    #[test]
    fn no_stun_server_is_named_once_ice_fails_and_an_answered_one_points_at_the_nats() {
        assert!(webrtc(&snap(vec![]), &ctx(None, None, false)).is_none());
        let s = snap(vec![failed_in_ice()]);
        let f = webrtc(&s, &ctx(None, None, false)).unwrap();
        assert!(
            f.evidence.starts_with("no STUN server is set"),
            "{}",
            f.evidence
        );
        assert!(f.advice.unwrap().contains("--stun-server"));
        let f = webrtc(
            &s,
            &ctx(Some("stun.example:3478"), Some("203.0.113.4:40000"), false),
        )
        .unwrap();
        assert_eq!(f.verdict, Verdict::Warning);
        assert!(
            f.evidence.contains("sees us at 203.0.113.4:40000"),
            "{}",
            f.evidence
        );
    }

    #[test]
    fn silent_without_browser_peers_or_webtorrent() {
        let mut s = snap(vec![]);
        s.trackers.clear();
        assert!(webrtc(&s, &ctx(Some("stun.example:3478"), None, true)).is_none());
        assert!(webrtc(&snap(vec![failed_in_ice()]), &ExplainContext::default()).is_none());
        // An answered server and no failure: nothing to say.
        assert!(webrtc(
            &snap(vec![]),
            &ctx(Some("stun.example:3478"), Some("203.0.113.4:40000"), false)
        )
        .is_none());
    }
}
