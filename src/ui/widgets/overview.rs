//! The Overview tab under the header: every finding of the explainer ("why is this torrent
//! slow?"), worst first, each with its evidence and what to do, then the throughput graph.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};

use crate::engine::api::{explain, ExplainContext, Finding, Snapshot, TorrentState, Verdict};
use crate::fmt::outside;
use crate::ui::app::App;

use super::trackers::wrap;
use super::{put_line, render_pane, span, LINE_MAX};

/// What the explainer knows beyond the snapshot: in a session the list knows the limits, the
/// queue, the proxy, the interface and the port mapping; a one-torrent run has none of them.
pub(crate) fn context(snap: &Snapshot, app: &App) -> ExplainContext {
    app.list
        .session()
        .map_or_else(ExplainContext::default, |s| {
            ExplainContext::from_session(s, snap.id)
        })
}

/// The Overview's body: the findings take the lines they need (up to ~2/5 of it) and the
/// throughput graph the rest.
pub(crate) fn render(area: Rect, buf: &mut Buffer, snap: &Snapshot, app: &App) {
    let findings = explain(snap, &context(snap, app));
    let most = (area.height * 2 / 5).clamp(3, 14).min(area.height);
    let text = lines(
        &findings,
        snap,
        app,
        usize::from(area.width.saturating_sub(5)),
    );
    let need = text.len() as u16 + 1;
    let [top, graph] =
        Layout::vertical([Constraint::Length(need.min(most)), Constraint::Fill(1)]).areas(area);
    render_findings(top, buf, &findings, text, app);
    super::throughput::render(graph, buf, snap, app);
}

fn render_findings(
    area: Rect,
    buf: &mut Buffer,
    findings: &[Finding],
    text: Vec<Line<'_>>,
    app: &App,
) {
    let theme = &app.theme;
    let holding = findings.iter().filter(|f| f.verdict != Verdict::Ok).count();
    let title = match holding {
        0 => " Why is it slow? ".to_string(),
        n => format!(" Why is it slow? {n} to look at "),
    };
    let inner = render_pane(area, buf, Line::from(title), holding > 0, theme);
    if inner.height == 0 || inner.width < 4 {
        return;
    }
    for (row, line) in text.into_iter().take(usize::from(inner.height)).enumerate() {
        put_line(buf, inner, row as u16, line.spans);
    }
}

/// The findings as screen lines `w` characters wide (after the mark).
fn lines<'a>(findings: &[Finding], snap: &Snapshot, app: &App, w: usize) -> Vec<Line<'a>> {
    let theme = &app.theme;
    let mut lines: Vec<Line> = Vec::new();
    if findings.is_empty() {
        let text = match snap.state {
            TorrentState::Downloading => " ✔ nothing holds it back: every check passes",
            TorrentState::Seeding => " ✔ seeding: nothing to report",
            _ => " the checks run while it downloads or seeds",
        };
        lines.push(Line::from(span(text, theme.verified())));
    }
    // Wrapped between words onto lines of their own, indented under the mark.
    for f in findings {
        let (mark, style) = match f.verdict {
            Verdict::HoldingBack => ("✖", theme.error().add_modifier(Modifier::BOLD)),
            Verdict::Warning => ("!", theme.warn().add_modifier(Modifier::BOLD)),
            Verdict::Ok => ("✔", theme.verified()),
        };
        let check = f.check.name().replace('_', " ");
        let text = format!("{check}: {}", outside(&f.evidence, LINE_MAX));
        for (i, l) in wrap(&text, w).into_iter().enumerate() {
            let lead = if i == 0 { mark } else { "" };
            lines.push(Line::from(vec![
                span(format!(" {lead:1} "), style),
                Span::raw(l),
            ]));
        }
        if let Some(a) = &f.advice {
            for (i, l) in wrap(&outside(a, LINE_MAX), w.saturating_sub(2))
                .into_iter()
                .enumerate()
            {
                let lead = if i == 0 { "→ " } else { "  " };
                lines.push(Line::from(span(format!("   {lead}{l}"), theme.accent())));
            }
        }
    }
    lines
}
