//! Footer key hints and the `?` help overlay.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Widget};

use crate::engine::api::{Snapshot, TorrentState};
use crate::ui::action::Action;
use crate::ui::app::App;
use crate::ui::keys::{bindings, footer, key_label, Mode};
use crate::ui::theme::Theme;

use super::pieces::{SYM_FAILED, SYM_IN_FLIGHT, SYM_MISSING, SYM_VERIFIED};
use super::{put_line, span};
use crate::fmt::{clean, ellipsize};

/// The flag letters in two padded columns, one letter per line, so no line runs into the next
/// at 80 columns: first letter (download side), second letter (upload side).
const FLAG_ROWS: &[(&str, &str)] = &[
    (
        "D they unchoke us, we want data",
        "U we unchoke them, they want data",
    ),
    (
        "d they choke us, we want data",
        "u we choke them, they want data",
    ),
    (
        "K they unchoke us, want nothing",
        "? we unchoke them, want nothing",
    ),
    (
        ". they choke us, want nothing",
        ". we choke them, want nothing",
    ),
];
/// Width of the first flag column, indent included.
const COL: usize = 37;

fn hint<'a>(key: String, what: &'a str, theme: &Theme) -> [Span<'a>; 3] {
    [
        span(key, theme.key()),
        Span::raw(" "),
        span(what, theme.dim()),
    ]
}

pub(crate) fn render_footer(area: Rect, buf: &mut Buffer, snap: &Snapshot, app: &App) {
    let paused = snap.state == TorrentState::Paused;
    let relabel = move |a: Action| (a == Action::TogglePause && paused).then_some("resume");
    // Inside a dialog Esc cancels it: no "Esc list" then.
    let lead = if app.has_list() && app.mode() == app.screen_mode() {
        vec![
            span("Esc", app.theme.key()),
            span(" list  ", app.theme.dim()),
        ]
    } else {
        vec![]
    };
    render_hints(area, buf, app, app.mode(), lead, &relabel);
}

/// The footer of any screen: quitting or the engine gone, `lead` (say, how many are
/// marked), the last command's feedback, then as many of `mode`'s key hints as fit whole.
/// `relabel` renames a hint for the moment ("resume" for a paused torrent).
pub(crate) fn render_hints(
    area: Rect,
    buf: &mut Buffer,
    app: &App,
    mode: Mode,
    lead: Vec<Span<'_>>,
    relabel: &dyn Fn(Action) -> Option<&'static str>,
) {
    let theme = &app.theme;
    if area.height == 0 {
        return;
    }
    let mut spans = vec![Span::raw(" ")];
    if app.quitting {
        spans.push(span(
            "quitting: waiting for the engine to stop…",
            theme.warn().add_modifier(Modifier::BOLD),
        ));
        put_line(buf, area, 0, spans);
        return;
    }
    if app.engine_gone {
        spans.push(span(
            "engine stopped · ",
            theme.error().add_modifier(Modifier::BOLD),
        ));
    }
    spans.extend(lead);
    if let Some(status) = &app.status {
        spans.push(span(format!("{} · ", clean(status)), theme.accent()));
    }
    let mut used: usize = spans.iter().map(|s| s.width()).sum();
    let items = footer(mode).iter().filter_map(|&(action, what)| {
        let what = relabel(action).unwrap_or(what);
        Some((key_label(action, mode)?, what))
    });
    for (i, (k, what)) in items.enumerate() {
        let gap = if i > 0 { 2 } else { 0 };
        let w = gap + k.chars().count() + 1 + what.chars().count();
        if used + w > usize::from(area.width) {
            break;
        }
        used += w;
        if gap > 0 {
            spans.push(Span::raw("  "));
        }
        spans.extend(hint(k, what, theme));
    }
    put_line(buf, area, 0, spans);
}

pub(crate) fn render_overlay(area: Rect, buf: &mut Buffer, app: &App) {
    let theme = &app.theme;
    let w = area.width.min(76);
    let h = area.height.min(24);
    let popup = Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    };
    Clear.render(popup, buf);
    let bold = Style::new().add_modifier(Modifier::BOLD);
    let screen = app.screen_mode();
    let mut lines: Vec<Line> = bindings(screen)
        .map(|b| {
            Line::from(vec![
                span(format!("{:>13}  ", b.keys), theme.key()),
                Span::raw(b.help),
            ])
        })
        .collect();
    if screen == Mode::Detail {
        legends(&mut lines, theme);
    }
    // No wrapping: a long path is cut rather than pushing the box past 80×24.
    let path = clean(&app.log_path.display().to_string()).into_owned();
    let room = usize::from(w.saturating_sub(2)).saturating_sub(10);
    lines.push(Line::from(vec![
        span("Log file  ", bold),
        Span::raw(ellipsize(&path, room).into_owned()),
    ]));
    // A short box drops its blank spacer lines before it cuts the log file's line.
    if lines.len() > usize::from(h.saturating_sub(2)) {
        lines.retain(|l| l.width() > 0);
    }
    let title = match screen {
        Mode::Detail => " ttui help: one torrent ",
        Mode::Files => " ttui help: one torrent, Files tab ",
        _ => " ttui help: the list ",
    };
    let block = Block::new()
        .borders(Borders::ALL)
        .border_style(theme.accent())
        .title(Line::from(title).style(theme.title(true)))
        .title_bottom(Line::from(" Esc or ? to close ").style(theme.dim()));
    Paragraph::new(lines).block(block).render(popup, buf);
}

/// The peer flags and piece symbols, under the detail view's keys.
fn legends(lines: &mut Vec<Line<'_>>, theme: &Theme) {
    let bold = Style::new().add_modifier(Modifier::BOLD);
    lines.push(Line::default());
    lines.push(Line::from(vec![
        span(format!("{:<COL$}", "Peer flags: download"), bold),
        span("upload", bold),
    ]));
    for (down, up) in FLAG_ROWS {
        lines.push(Line::from(vec![
            Span::raw(format!("  {down:<w$}", w = COL - 2)),
            Span::raw(*up),
        ]));
    }
    lines.push(Line::from(vec![
        span("Pieces  ", bold),
        span(SYM_VERIFIED.to_string(), theme.verified()),
        Span::raw(" have     "),
        span(SYM_IN_FLIGHT.to_string(), theme.in_flight()),
        Span::raw(" in flight     "),
        span(SYM_MISSING.to_string(), theme.missing()),
        Span::raw(" missing"),
    ]));
    lines.push(Line::from(vec![
        Span::raw("        "),
        span(SYM_FAILED.to_string(), theme.failed()),
        Span::raw(" failed hash, refetching     "),
        span("░▒▓", theme.verified()),
        Span::raw(" group partly done"),
    ]));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::widgets::test_util::text;
    use std::path::PathBuf;

    #[test]
    fn overlay_lists_keys_and_log_path() {
        let app = App::new(PathBuf::from("/var/log/ttui-test.log"), Theme::plain());
        let area = Rect::new(0, 0, 80, 24);
        let mut buf = Buffer::empty(area);
        render_overlay(area, &mut buf, &app);
        let t = text(&buf);
        for b in bindings(Mode::Detail) {
            assert!(t.contains(b.keys), "missing key {}:\n{t}", b.keys);
            assert!(t.contains(b.help), "missing help for {}:\n{t}", b.keys);
        }
        assert!(t.contains("/var/log/ttui-test.log"), "{t}");
        // Everything fits at 80×24 without wrapping: the last flag row, the second pieces
        // line and the log line are all there, each on its own row.
        let r = crate::ui::widgets::test_util::rows(&buf);
        assert!(
            r.iter()
                .any(|l| l.contains("D they unchoke us, we want data")
                    && l.contains("U we unchoke them, they want data")),
            "{t}"
        );
        assert!(
            r.iter().any(|l| l.contains(". they choke us, want nothing")
                && l.contains(". we choke them, want nothing")),
            "{t}"
        );
        assert!(t.contains("░▒▓ group partly done"), "{t}");
        assert!(r[22].contains("Log file"), "{t}");
        assert!(r[23].contains("Esc or ? to close"), "{t}");
    }

    #[test]
    fn the_list_overlay_lists_the_list_keys_at_80x24() {
        let app = App::for_session(PathBuf::from("/tmp/t.log"), Theme::plain());
        let area = Rect::new(0, 0, 80, 24);
        let mut buf = Buffer::empty(area);
        render_overlay(area, &mut buf, &app);
        let t = text(&buf);
        for b in bindings(Mode::List) {
            assert!(t.contains(b.keys) && t.contains(b.help), "{}:\n{t}", b.keys);
        }
        assert!(!t.contains("Peer flags"), "{t}");
        assert!(t.contains("ttui help: the list"), "{t}");
    }
}
