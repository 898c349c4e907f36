//! A peer in words: the flag code and its meaning, the state of its connection, what client
//! it runs, and the line about the selected peer under the table.

use ratatui::style::{Modifier, Style};
use ratatui::text::Span;

use crate::engine::api::{ChokeFlags, PeerRow, PeerStage};
use crate::fmt::{self, outside};
use crate::ui::theme::Theme;

use super::{span, LINE_MAX};

/// The uTorrent-style two-letter code: download side, then upload side.
///
/// Download side: `D` they unchoke us and we are interested (data can flow to us), `d` we are
/// interested but they choke us, `K` they unchoke us but we do not want anything, `.` neither.
/// Upload side: `U` we unchoke them and they are interested, `u` they are interested but we
/// choke them, `?` we unchoke them but they do not want anything, `.` neither.
pub(crate) fn flag_code(f: &ChokeFlags) -> [char; 2] {
    let down = match (f.peer_choking, f.am_interested) {
        (false, true) => 'D',
        (true, true) => 'd',
        (false, false) => 'K',
        (true, false) => '.',
    };
    let up = match (f.am_choking, f.peer_interested) {
        (false, true) => 'U',
        (true, true) => 'u',
        (false, false) => '?',
        (true, false) => '.',
    };
    [down, up]
}

/// The four flags in words, e.g. "they choke us, we are interested; we choke them, they are
/// not interested".
pub(crate) fn flag_meaning(f: &ChokeFlags) -> String {
    let they = if f.peer_choking {
        "they choke us"
    } else {
        "they unchoke us"
    };
    let we_want = if f.am_interested {
        "we are interested"
    } else {
        "we are not interested"
    };
    let we = if f.am_choking {
        "we choke them"
    } else {
        "we unchoke them"
    };
    let they_want = if f.peer_interested {
        "they are interested"
    } else {
        "they are not interested"
    };
    format!("{they}, {we_want}; {we}, {they_want}")
}

pub(crate) const FLAG_LEGEND: &str = "D/d we download/they choke us  K unchoked, not wanted  U/u we upload/we choke them  ? unchoked, they want nothing  * RC4";

/// Stage or result in a few words: "connecting 3s", "connecting (ICE) 2s", "failed:
/// connection refused (×3)".
pub(crate) fn state_text(p: &PeerRow) -> String {
    let end = p
        .end
        .as_ref()
        .map(|e| outside(&e.to_string(), LINE_MAX).into_owned());
    let tries = if p.attempts > 1 {
        format!(" (×{})", p.attempts)
    } else {
        String::new()
    };
    match (p.stage, end) {
        (PeerStage::Failed, Some(end)) => format!("failed: {end}{tries}"),
        (PeerStage::Disconnected, Some(end)) => format!("gone: {end}"),
        (PeerStage::Connecting | PeerStage::Handshaking, _) => {
            // A WebRTC connection names its stage too: "connecting (ICE) 3s".
            let label = match p.webrtc_stage {
                Some(st) => format!("{} ({st})", p.stage.label()),
                None => p.stage.label().to_string(),
            };
            let at = format!("{label} {}{tries}", fmt::duration(p.since));
            match &p.retry_after {
                // A retry keeps the reason of the attempt before it in sight.
                Some(e) => format!("{at}, last: {}", outside(&e.to_string(), LINE_MAX)),
                None => at,
            }
        }
        (PeerStage::Connected, _) if p.hash_failures > 0 => {
            format!("connected, {} bad pieces", p.hash_failures)
        }
        // A peer that refused RC4 and took plaintext is simply connected (the Conn column says
        // TCP); why it is plain is in the selected-peer line.
        (stage, _) => stage.label().to_string(),
    }
}

pub(crate) fn client_text(p: &PeerRow) -> String {
    match &p.client {
        Some(c) => outside(c, LINE_MAX).into_owned(),
        None if p.stage == PeerStage::Connected => "unknown".into(),
        None => String::new(),
    }
}

/// The peer-id decode when it names another program than the client the peer announced in
/// its BEP 10 `v` string (a libtorrent-based app says "lt_client/2.0.8.0" with the id
/// `-LT2080-`). Versions and spelling aside, "aria2/1.36.0" and "aria2 1.36.0" are one program.
pub(crate) fn other_program(p: &PeerRow) -> Option<&str> {
    let id = p.other_id_client()?;
    let name = |s: &str| {
        s.split(|c: char| c.is_whitespace() || c == '/')
            .next()
            .unwrap_or_default()
            .to_lowercase()
    };
    match p.client.as_deref() {
        Some(c) if name(c) == name(id) => None,
        _ => Some(id),
    }
}

/// One line about the selected peer, with the flags spelled out.
pub(crate) fn detail_line<'a>(p: &PeerRow, theme: &Theme) -> Vec<Span<'a>> {
    let mut spans = vec![span(
        format!("▸ {}", p.addr),
        Style::new().add_modifier(Modifier::BOLD),
    )];
    if let Some(c) = &p.client {
        spans.push(Span::raw(format!(" {}", outside(c, LINE_MAX))));
    }
    if let Some(id) = other_program(p) {
        spans.push(span(
            format!(" (peer id: {})", outside(id, LINE_MAX)),
            theme.accent(),
        ));
    }
    match p.stage {
        PeerStage::Connected => {
            let [d, u] = flag_code(&p.flags);
            spans.push(span(format!(" {d}{u}: "), theme.accent()));
            spans.push(Span::raw(flag_meaning(&p.flags)));
            spans.push(span(
                format!(
                    " · {} requests out · got {} · sent {}",
                    p.requests_in_flight,
                    fmt::bytes(p.downloaded),
                    fmt::bytes(p.uploaded)
                ),
                theme.dim(),
            ));
            if let Some(h) = p.handshake_time {
                spans.push(span(
                    format!(" · handshake {} ms", h.as_millis()),
                    theme.dim(),
                ));
            }
            match (p.transport, p.encryption) {
                (Some(t), Some(e)) => spans.push(span(format!(" · {t}, {e}"), theme.dim())),
                (None, Some(e)) => spans.push(span(format!(" · {e}"), theme.dim())),
                _ => {}
            }
            if let Some(r) = p.utp_retransmits {
                let rtt = p.utp_rtt.map(|d| format!("rtt {} ms, ", d.as_millis()));
                let rtt = rtt.unwrap_or_default();
                spans.push(span(format!(" · uTP {rtt}{r} resent"), theme.dim()));
            }
            // A peer reached through a punched hole (BEP 55) says by whom, not just "pex".
            let reached = match p.hole_punched_via {
                Some(_) => p.how_reached(),
                None => format!("from {}", p.source.word()),
            };
            spans.push(span(format!(" · {reached}"), theme.dim()));
            if p.upload_only {
                // BEP 21: it takes nothing from us (a seed, or done with the files it wants).
                spans.push(span(" · upload only", theme.dim()));
            }
            if let Some(note) = &p.encryption_note {
                spans.push(span(
                    format!(" · {}", outside(note, LINE_MAX)),
                    theme.accent(),
                ));
            }
            if p.hash_failures > 0 {
                spans.push(span(
                    format!(" · {} bad pieces", p.hash_failures),
                    theme.warn(),
                ));
            }
        }
        PeerStage::Failed | PeerStage::Disconnected => {
            let end = p.end.as_ref().map_or_else(
                || p.stage.label().to_string(),
                |e| outside(&e.to_string(), LINE_MAX).into_owned(),
            );
            let verb = if p.stage == PeerStage::Failed {
                "failed"
            } else {
                "gone"
            };
            let tries = if p.attempts > 1 {
                format!(" after {} attempts", p.attempts)
            } else {
                String::new()
            };
            spans.push(span(
                format!(": {verb}{tries}: {end}, {} ago", fmt::duration(p.since)),
                if p.stage == PeerStage::Failed {
                    theme.error()
                } else {
                    Style::new()
                },
            ));
        }
        stage => {
            spans.push(Span::raw(format!(
                ": {} for {} (attempt {})",
                stage.label(),
                fmt::duration(p.since),
                p.attempts.max(1)
            )));
        }
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;

    #[test]
    fn flag_codes_cover_all_sixteen_states() {
        let mut seen = std::collections::HashSet::new();
        for bits in 0..16u8 {
            let f = ChokeFlags {
                am_choking: bits & 1 != 0,
                am_interested: bits & 2 != 0,
                peer_choking: bits & 4 != 0,
                peer_interested: bits & 8 != 0,
            };
            seen.insert(flag_code(&f));
        }
        assert_eq!(seen.len(), 16, "every combination has its own code");
        let f = ChokeFlags {
            am_choking: true,
            am_interested: true,
            peer_choking: true,
            peer_interested: false,
        };
        assert_eq!(flag_code(&f), ['d', '.']);
        assert_eq!(
            flag_meaning(&f),
            "they choke us, we are interested; we choke them, they are not interested"
        );
    }

    #[test]
    fn the_peer_id_client_shows_when_it_names_another_program() {
        let row = |client: &str, id: &str| PeerRow {
            client: Some(client.into()),
            id_client: Some(id.into()),
            ..PeerRow::new(
                SocketAddr::from(([127, 0, 0, 2], 1)),
                crate::engine::api::PeerSource::Tracker,
                PeerStage::Connected,
            )
        };
        let lt_app = row("lt_client/2.0.8.0", "libtorrent 2.0.8");
        assert_eq!(other_program(&lt_app), Some("libtorrent 2.0.8"));
        assert_eq!(other_program(&row("aria2/1.36.0", "aria2 1.36.0")), None);
        assert_eq!(
            other_program(&row("Transmission 3.00", "Transmission 3.00")),
            None
        );
        let line: String = detail_line(&lt_app, &Theme::plain())
            .iter()
            .map(|s| s.content.as_ref())
            .collect();
        assert!(
            line.contains("lt_client/2.0.8.0 (peer id: libtorrent 2.0.8)"),
            "{line}"
        );
    }

    #[test]
    fn the_detail_line_names_the_payload_encryption() {
        let row = |encryption| PeerRow {
            encryption,
            ..PeerRow::new(
                SocketAddr::from(([127, 0, 0, 2], 1)),
                crate::engine::api::PeerSource::Tracker,
                PeerStage::Connected,
            )
        };
        let text = |p: &PeerRow| -> String {
            detail_line(p, &Theme::plain())
                .iter()
                .map(|s| s.content.as_ref())
                .collect()
        };
        use crate::net::Encryption;
        assert!(text(&row(Some(Encryption::Rc4))).contains(" · RC4 · from tracker"));
        assert!(text(&row(Some(Encryption::Plain))).contains(" · plain · from tracker"));
        let unknown = text(&row(None));
        assert!(
            !unknown.contains("RC4") && !unknown.contains("plain"),
            "{unknown}"
        );
    }

    #[test]
    fn the_detail_line_shows_utp_round_trip_and_retransmissions() {
        let mut p = PeerRow {
            transport: Some(crate::net::TransportKind::Utp),
            utp_rtt: Some(std::time::Duration::from_millis(42)),
            utp_retransmits: Some(7),
            ..PeerRow::new(
                SocketAddr::from(([127, 0, 0, 2], 1)),
                crate::engine::api::PeerSource::Tracker,
                PeerStage::Connected,
            )
        };
        let text = |p: &PeerRow| -> String {
            detail_line(p, &Theme::plain())
                .iter()
                .map(|s| s.content.as_ref())
                .collect()
        };
        assert!(
            text(&p).contains(" · uTP rtt 42 ms, 7 resent"),
            "{}",
            text(&p)
        );
        (p.utp_rtt, p.utp_retransmits) = (None, None);
        assert!(!text(&p).contains("resent"), "{}", text(&p));
    }

    #[test]
    fn a_retry_says_how_the_attempt_before_it_ended() {
        let mut p = PeerRow {
            attempts: 2,
            since: std::time::Duration::from_secs(3),
            retry_after: Some(crate::engine::api::PeerEnd::ClosedMayNeedEncryption),
            ..PeerRow::new(
                SocketAddr::from(([127, 0, 0, 2], 1)),
                crate::engine::api::PeerSource::Tracker,
                PeerStage::Handshaking,
            )
        };
        let text = state_text(&p);
        assert!(text.starts_with("handshaking 3s (×2), last: "), "{text}");
        assert!(text.contains("may require encryption"), "{text}");
        p.retry_after = None;
        assert_eq!(state_text(&p), "handshaking 3s (×2)");
    }

    #[test]
    fn a_webrtc_connection_coming_up_names_its_stage_and_the_one_that_failed() {
        let mut p = PeerRow {
            since: std::time::Duration::from_secs(4),
            webrtc_stage: Some(crate::net::webrtc::Stage::Dtls),
            transport: Some(crate::net::TransportKind::WebRtc),
            ..PeerRow::new(
                SocketAddr::from(([198, 51, 100, 9], 50000)),
                crate::engine::api::PeerSource::Incoming,
                PeerStage::Connecting,
            )
        };
        assert_eq!(state_text(&p), "connecting (DTLS) 4s");
        p.stage = PeerStage::Failed;
        p.end = Some(crate::engine::api::PeerEnd::WebRtc(
            "DTLS timed out after 10s".into(),
        ));
        assert_eq!(state_text(&p), "failed: DTLS timed out after 10s");
    }

    #[test]
    fn a_peer_that_refused_rc4_is_plainly_connected_and_says_why_when_selected() {
        let why = crate::net::MseError::Closed;
        let p = PeerRow {
            encryption: Some(crate::net::Encryption::Plain),
            encryption_note: Some(crate::net::mse_stream::plain_after_note(&why)),
            ..PeerRow::new(
                SocketAddr::from(([127, 0, 0, 2], 1)),
                crate::engine::api::PeerSource::Tracker,
                PeerStage::Connected,
            )
        };
        // Plaintext after a refused RC4 is an ordinary connection: the row says
        // `connected`, the Conn column `TCP`; only the selected-peer line says why.
        assert_eq!(state_text(&p), "connected");
        let line: String = detail_line(&p, &Theme::plain())
            .iter()
            .map(|s| s.content.as_ref())
            .collect();
        assert!(
            line.contains(
                " · encrypted handshake refused (closed during the encryption handshake); plain accepted"
            ),
            "{line}"
        );
        let plain = PeerRow {
            encryption_note: None,
            ..p
        };
        assert_eq!(state_text(&plain), "connected");
    }
}
