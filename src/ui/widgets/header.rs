//! Four lines on top: what, how far, how fast, who from.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::Span;

use crate::engine::api::{explain, Check, ExplainContext, Verdict};
use crate::engine::api::{
    DhtRow, Phase, Snapshot, Status, TorrentState, TrackerRow, TrackerStatus,
};
use crate::ui::app::App;
use crate::ui::theme::Theme;

use super::{put_line, span, LINE_MAX};
use crate::fmt;
use crate::fmt::outside;

pub(crate) fn render(area: Rect, buf: &mut Buffer, snap: &Snapshot, app: &App) {
    let theme = &app.theme;
    let width = area.width as usize;

    // Line 1: name and size on the left, state on the right.
    let (state_text, state_style) = state_label(&snap.status(), theme);
    let size = format!("  {}", fmt::bytes(snap.total_length));
    // The name keeps a third of the line (or what it needs): a long state, an error's words,
    // is cut here and said whole in the log below.
    let name_keeps = snap.name.chars().count().min(width / 3);
    let state_room = width.saturating_sub(name_keeps + size.chars().count() + 3);
    let state_text = fmt::ellipsize(&state_text, state_room).into_owned();
    let name_room = width.saturating_sub(state_text.chars().count() + size.chars().count() + 3);
    let name = outside(&snap.name, name_room);
    let used = 1 + name.chars().count() + size.chars().count();
    let pad = width.saturating_sub(used + state_text.chars().count() + 1);
    put_line(
        buf,
        area,
        0,
        vec![
            Span::raw(" "),
            span(name.into_owned(), Style::new().add_modifier(Modifier::BOLD)),
            span(size, theme.dim()),
            Span::raw(" ".repeat(pad)),
            span(state_text, state_style),
        ],
    );

    // Line 2: progress bar with percent and bytes.
    progress_bar(area, buf, snap, theme);

    // Line 3: speed, ETA, peers, waste.
    let eta = match (&snap.state, snap.eta()) {
        (TorrentState::Complete | TorrentState::Seeding, _) => "done".to_string(),
        (TorrentState::Paused, _) => "paused".to_string(),
        (_, Some(eta)) => fmt::duration(eta),
        (_, None) => "∞".to_string(),
    };
    let mut spans = vec![
        span(" ↓ ", theme.down()),
        span(
            fmt::rate(snap.down_rate),
            theme.down().add_modifier(Modifier::BOLD),
        ),
        span("  ↑ ", theme.up()),
        span(
            fmt::rate(snap.up_rate),
            theme.up().add_modifier(Modifier::BOLD),
        ),
        span("  ETA ", theme.dim()),
        Span::raw(eta),
        span("  peers ", theme.dim()),
        Span::raw(format!(
            "{} connected / {} known",
            snap.connected_peers(),
            snap.peers.len()
        )),
    ];
    if snap.wasted > 0 {
        spans.push(span(
            format!("  wasted {}", fmt::bytes(snap.wasted)),
            theme.error(),
        ));
    }
    put_line(buf, area, 2, spans);

    // Line 4: why it is slow when something holds it back (the tracker and DHT are then
    // either the reason or beside the point); else the tracker, then the DHT.
    if let Some(spans) = why_slow(snap, &super::overview::context(snap, app), theme) {
        put_line(buf, area, 3, spans);
        return;
    }
    let mut spans = tracker_line(snap, theme);
    if let Some(d) = &snap.dht {
        spans.extend(dht_spans(d, snap.elapsed, theme));
    }
    put_line(buf, area, 3, spans);
}

/// " ⚠ why slow: 2 peers closed the plain handshake… — run with `--encryption prefer`", for
/// the explainer's top finding when it holds the torrent back. A tracker or DHT finding is
/// left to the line it replaces, which says the same with the retry time.
fn why_slow<'a>(snap: &Snapshot, ctx: &ExplainContext, theme: &Theme) -> Option<Vec<Span<'a>>> {
    let findings = explain(snap, ctx);
    let top = findings.first().filter(|f| {
        f.verdict == Verdict::HoldingBack && !matches!(f.check, Check::Trackers | Check::Dht)
    })?;
    let mut spans = vec![
        span(" ⚠ why slow: ", theme.warn().add_modifier(Modifier::BOLD)),
        Span::raw(outside(&top.evidence, LINE_MAX).into_owned()),
    ];
    if let Some(a) = &top.advice {
        spans.push(span(format!(" — {}", outside(a, LINE_MAX)), theme.accent()));
    }
    Some(spans)
}

/// "  DHT 42 nodes, last lookup 12 peers 3m 00s ago" (or "looking up…" while one runs).
fn dht_spans<'a>(d: &DhtRow, elapsed: std::time::Duration, theme: &Theme) -> Vec<Span<'a>> {
    let mut spans = vec![
        span("  DHT ", theme.dim()),
        Span::raw(format!("{} nodes", d.nodes)),
    ];
    if d.searching {
        spans.push(span(", looking up…", theme.accent()));
    } else if let Some(at) = d.last_at {
        let ago = fmt::duration(elapsed.saturating_sub(at));
        spans.push(span(
            format!(", last lookup {} peers {ago} ago", d.last_peers),
            theme.dim(),
        ));
    } else {
        spans.push(span(", no lookup yet", theme.dim()));
    }
    spans
}

/// The status's words (`api::Status::text`) after the header's icon, in its colour.
pub(crate) fn state_label(status: &Status, theme: &Theme) -> (String, Style) {
    let bold = Modifier::BOLD;
    let text = status.text();
    let text = outside(&text, LINE_MAX);
    let (icon, style) = match status.phase {
        Phase::Downloading => ("▶ ", theme.down()),
        Phase::Paused => ("‖ ", theme.warn()),
        Phase::Complete => ("✔ ", theme.verified()),
        Phase::Seeding => ("▲ ", theme.up()),
        Phase::Error(_) => ("", theme.error()),
        Phase::Checking { .. } | Phase::Metadata | Phase::Moving { .. } => ("", theme.accent()),
    };
    (format!("{icon}{text}"), style.add_modifier(bold))
}

fn progress_bar(area: Rect, buf: &mut Buffer, snap: &Snapshot, theme: &Theme) {
    if area.height < 2 {
        return;
    }
    let progress = snap.progress().clamp(0.0, 1.0);
    let label = format!(
        " {:5.1}%  {} of {} ",
        // Never show 100.0% until it really is complete.
        (progress * 1000.0).floor() / 10.0,
        fmt::bytes(snap.verified_bytes),
        fmt::bytes(snap.total_length)
    );
    let bar_w = (area.width as usize).saturating_sub(label.chars().count() + 1);
    let filled = ((progress * bar_w as f64).floor() as usize).min(bar_w);
    let bar_style = match snap.state {
        TorrentState::Paused => theme.warn(),
        TorrentState::Error(_) => theme.error(),
        _ => theme.verified(),
    };
    put_line(
        buf,
        area,
        1,
        vec![
            Span::raw(" "),
            span("█".repeat(filled), bar_style),
            span("░".repeat(bar_w - filled), theme.missing()),
            span(label, Style::new().add_modifier(Modifier::BOLD)),
        ],
    );
}

/// The tracker that tells the most: a working one, else one being asked, else the first.
fn primary(trackers: &[TrackerRow]) -> Option<&TrackerRow> {
    trackers
        .iter()
        .find(|t| matches!(t.status, TrackerStatus::Ok { .. }))
        .or_else(|| {
            trackers
                .iter()
                .find(|t| t.status == TrackerStatus::Announcing)
        })
        .or_else(|| trackers.first())
}

/// "tracker.example:6969" from an announce URL, for a short label (the api's one reading).
pub(crate) use crate::engine::api::tracker_host;

fn tracker_line<'a>(snap: &Snapshot, theme: &Theme) -> Vec<Span<'a>> {
    let Some(t) = primary(&snap.trackers) else {
        let text = if snap.dht.is_some() {
            format!(" no tracker; listening on port {}", snap.listen_port)
        } else if snap.listen_port > 0 {
            format!(
                " no tracker: peers from the command line; listening on port {}",
                snap.listen_port
            )
        } else {
            " no tracker: peers from the command line".to_string()
        };
        return vec![span(text, theme.dim())];
    };
    let mut spans = vec![
        span(" tracker ", theme.dim()),
        Span::raw(outside(tracker_host(&t.url), LINE_MAX).into_owned()),
    ];
    match &t.status {
        TrackerStatus::NotContacted => spans.push(span(" not contacted yet", theme.dim())),
        TrackerStatus::Announcing => spans.push(span(" announcing…", theme.accent())),
        TrackerStatus::Ok { peers } => {
            spans.push(span(format!(" ok: {peers} peers"), theme.verified()));
            if let Some(s) = t.seeders {
                spans.push(Span::raw(format!(" ({s} seeds)")));
            }
        }
        TrackerStatus::Failed(reason) => {
            spans.push(span(
                format!(" failed: {}", outside(reason, LINE_MAX)),
                theme.error(),
            ));
        }
    }
    if let Some(next) = t.next_announce {
        let verb = if matches!(t.status, TrackerStatus::Failed(_)) {
            "retry"
        } else {
            "next"
        };
        spans.push(span(
            format!(", {verb} {}", fmt::duration(next)),
            theme.dim(),
        ));
    }
    if let Some(w) = &t.warning {
        spans.push(span(
            format!(" warning: {}", outside(w, LINE_MAX)),
            theme.warn(),
        ));
    }
    let others = snap.trackers.len().saturating_sub(1);
    if others > 0 {
        let failing = snap
            .trackers
            .iter()
            .filter(|o| !std::ptr::eq(*o, t) && matches!(o.status, TrackerStatus::Failed(_)))
            .count();
        let text = if failing > 0 {
            format!("  +{others} ({failing} failing)")
        } else {
            format!("  +{others} more")
        };
        spans.push(span(text, theme.dim()));
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::widgets::test_util::rows;
    use std::path::PathBuf;
    use std::time::Duration;

    fn snap() -> Snapshot {
        Snapshot {
            verified_bytes: 999 * 1024,
            down_rate: 1024.0,
            elapsed: Duration::from_secs(9),
            trackers: vec![TrackerRow {
                url: "http://127.0.0.1:6969/announce?x=1".into(),
                tier: 0,
                status: TrackerStatus::Failed("connection refused".into()),
                last_announce: None,
                next_announce: Some(Duration::from_secs(30)),
                seeders: None,
                leechers: None,
                warning: None,
                last_counts: None,
            }],
            listen_port: 6881,
            ..Snapshot::empty("debian.iso", 1000 * 1024, 1024)
        }
    }

    fn render_rows(s: &Snapshot, w: u16) -> Vec<String> {
        let app = App::new(PathBuf::new(), Theme::plain());
        let area = Rect::new(0, 0, w, crate::ui::layout::HEADER_HEIGHT);
        let mut buf = Buffer::empty(area);
        render(area, &mut buf, s, &app);
        rows(&buf)
    }

    #[test]
    fn shows_progress_rate_eta_and_tracker_failure() {
        let r = render_rows(&snap(), 80);
        assert!(r[0].starts_with(" debian.iso  1000 KiB"), "{r:?}");
        assert!(r[0].trim_end().ends_with("▶ downloading"), "{r:?}");
        assert!(
            r[1].contains("99.9%"),
            "99.95% must not round up to 100: {r:?}"
        );
        assert!(
            r[2].contains("↓ 1 KiB/s") && r[2].contains("ETA 1s"),
            "{r:?}"
        );
        assert!(
            r[3].contains("127.0.0.1:6969 failed: connection refused, retry 30s"),
            "{r:?}"
        );
    }

    /// A long error (a full disk's words) is cut to leave the name its room, not the other
    /// way round: before, the name vanished and the size ran into the state.
    #[test]
    fn a_long_error_leaves_the_name_its_room() {
        let mut s = snap();
        s.name = "film.mkv".into();
        s.state = TorrentState::Error(
            "disk full: 0 B free, resumes by itself once 1.8 MiB are free (writing \
             /tmp/vis/small/film.mkv: No space left on device (os error 28))"
                .into(),
        );
        let r = render_rows(&s, 80);
        assert!(r[0].starts_with(" film.mkv  "), "{r:?}");
        assert!(r[0].contains(" error: disk full: 0 B free"), "{r:?}");
        assert!(r[0].trim_end().ends_with('…'), "{r:?}");
    }

    #[test]
    fn error_state_and_escape_in_name() {
        let mut s = snap();
        s.name = "evil\x1b[2J.iso".into();
        s.state = TorrentState::Error("disk full".into());
        let r = render_rows(&s, 60);
        assert!(r[0].contains("evil\u{fffd}[2J.iso"), "{r:?}");
        assert!(r[0].contains("error: disk full"), "{r:?}");
    }

    #[test]
    fn shows_the_dht_nodes_and_the_last_lookup() {
        let mut s = snap();
        s.elapsed = Duration::from_secs(200);
        s.dht = Some(DhtRow {
            nodes: 42,
            searching: false,
            lookups: 1,
            last_peers: 12,
            last_at: Some(Duration::from_secs(20)),
        });
        let r = render_rows(&s, 160);
        assert!(
            r[3].contains("DHT 42 nodes, last lookup 12 peers 3m 00s ago"),
            "{r:?}"
        );
        if let Some(d) = s.dht.as_mut() {
            d.searching = true;
        }
        assert!(render_rows(&s, 160)[3].contains("DHT 42 nodes, looking up…"));
        s.dht = None;
        assert!(!render_rows(&s, 160)[3].contains("DHT"));
    }

    #[test]
    fn tracker_host_strips_scheme_and_path() {
        assert_eq!(tracker_host("udp://t.example:80/announce"), "t.example:80");
        assert_eq!(tracker_host("t.example"), "t.example");
    }

    #[test]
    fn says_why_slow_when_something_holds_it_back() {
        use crate::engine::api::{PeerEnd, PeerRow, PeerSource, PeerStage};
        let mut s = snap();
        s.trackers.clear();
        s.peers = (2..4)
            .map(|i| PeerRow {
                end: Some(PeerEnd::ClosedMayNeedEncryption),
                ..PeerRow::new(
                    std::net::SocketAddr::from(([127, 0, 0, i], 6881)),
                    PeerSource::Manual,
                    PeerStage::Failed,
                )
            })
            .collect();
        let r = render_rows(&s, 160);
        assert!(
            r[3].starts_with(
                " ⚠ why slow: 2 peers closed the plain handshake: they may require encryption"
            ) && r[3].contains("— run with `--encryption prefer`"),
            "{r:?}"
        );
        // Healthy again: the tracker line comes back.
        s.peers.clear();
        assert!(render_rows(&s, 160)[3].contains("no tracker"), "{r:?}");
    }
}
