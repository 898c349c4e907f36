//! The Files tab: the torrent's folders and files as a tree, each with its size, how much of
//! it is verified, and its priority (a folder's is its files' when they agree). A file being
//! streamed says where its player reads and how far ahead ttui fetches.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};

use crate::engine::api::{FilePriority, Snapshot};
use crate::fmt::{self, ellipsize, outside};
use crate::ui::app::App;
use crate::ui::files::Node;
use crate::ui::theme::Theme;

use super::{put_line, render_pane, span, LINE_MAX};

/// Size, percent and priority columns; a bar when the screen is wide.
const SIZE_W: usize = 9;
const PCT_W: usize = 7;
const PRIO_W: usize = 8;
const BAR_W: usize = 12;
/// Room for a stream's note: "▶ 100% read, waiting for the next piece" and a space.
const NOTE_W: usize = 40;

fn prio_cell(p: Option<FilePriority>, theme: &Theme) -> (String, Style) {
    match p {
        None => ("mixed".into(), theme.dim()),
        Some(FilePriority::Skip) => ("skip".into(), theme.dim()),
        Some(FilePriority::High) => ("high".into(), theme.accent().add_modifier(Modifier::BOLD)),
        Some(p) => (p.word().into(), Style::new()),
    }
}

/// What a file's open stream adds to its row: where the player reads and how far ahead the
/// window reaches, as shares of the file ("▶ 37% read, fetching to 45%"), or that a read
/// waits for the swarm (the player may still be playing what it has buffered). Of several
/// streams of one file, the one read furthest.
fn stream_note(snap: &Snapshot, file: usize) -> Option<(String, bool)> {
    let f = snap.files.get(file)?;
    let s = snap
        .streams
        .iter()
        .filter(|s| s.file == file)
        .max_by_key(|s| s.position)?;
    // Whole percents, but tenths below 10 %: a player's first minutes are under 1 % of a film.
    let share = |at: u64| {
        let pct = if f.size == 0 {
            100.0
        } else {
            at.min(f.size) as f64 * 100.0 / f.size as f64
        };
        if pct < 10.0 {
            format!("{:.1}%", (pct * 10.0).floor() / 10.0)
        } else {
            format!("{}%", pct.floor())
        }
    };
    let mut note = format!("▶ {} read", share(s.position));
    if s.waiting {
        note.push_str(", waiting for the next piece");
    } else if let Some((_, last)) = s.window {
        let end = (u64::from(last) + 1) * u64::from(snap.piece_length);
        note.push_str(&format!(
            ", fetching to {}",
            share(end.saturating_sub(f.offset))
        ));
    }
    Some((note, s.waiting))
}

/// The name column's width: what the fixed columns leave, less room for the stream notes
/// while any file is streamed (at most half the name's room goes to them).
fn name_width(width: usize, notes: bool) -> usize {
    let bar = width >= 110;
    let left =
        width.saturating_sub(2 + SIZE_W + PCT_W + PRIO_W + 2 + if bar { BAR_W + 1 } else { 0 });
    if notes {
        left.saturating_sub(NOTE_W).max(left / 2)
    } else {
        left
    }
}

fn row<'a>(
    n: &Node,
    folded: bool,
    (width, name_w): (usize, usize),
    note: Option<(String, bool)>,
    theme: &Theme,
) -> Vec<Span<'a>> {
    let bar = width >= 110;
    let icon = match (n.is_folder(), folded) {
        (false, _) => "  ",
        (true, true) => "▸ ",
        (true, false) => "▾ ",
    };
    let indent = "  ".repeat(n.depth.min(name_w / 4));
    let name = outside(&n.name, LINE_MAX);
    let text = ellipsize(&format!("{indent}{icon}{name}"), name_w).into_owned();
    let frac = if n.size == 0 {
        1.0
    } else {
        n.done as f64 / n.size as f64
    };
    let pct = (frac * 1000.0).floor() / 10.0;
    let skip = n.priority == Some(FilePriority::Skip);
    let name_style = match (skip, n.is_folder()) {
        (true, _) => theme.dim(),
        (false, true) => Style::new().add_modifier(Modifier::BOLD),
        _ => Style::new(),
    };
    let mut spans = vec![
        Span::raw(" "),
        span(format!("{text:<name_w$}"), name_style),
        Span::raw(format!(" {:>SIZE_W$}", fmt::bytes(n.size))),
        span(
            format!(" {:>w$}", format!("{pct:.1}%"), w = PCT_W - 1),
            if frac >= 1.0 {
                theme.verified()
            } else {
                Style::new()
            },
        ),
    ];
    if bar {
        let filled = ((frac * BAR_W as f64).floor() as usize).min(BAR_W);
        spans.push(Span::raw(" "));
        spans.push(span("█".repeat(filled), theme.verified()));
        spans.push(span("░".repeat(BAR_W - filled), theme.missing()));
    }
    let (p, style) = prio_cell(n.priority, theme);
    spans.push(Span::raw("  "));
    spans.push(span(format!("{p:<PRIO_W$}"), style));
    if let Some((text, waiting)) = note {
        let style = if waiting {
            theme.warn()
        } else {
            theme.accent()
        };
        spans.push(span(format!(" {text}"), style));
    }
    spans
}

pub(crate) fn render(area: Rect, buf: &mut Buffer, snap: &Snapshot, app: &App) {
    let theme = &app.theme;
    let v = &app.files;
    let skipped = snap.files.iter().filter(|f| !f.priority.wanted()).count();
    let mut title = format!(" Files {}", snap.files.len());
    if skipped > 0 {
        title.push_str(&format!(" · {skipped} skipped"));
    }
    title.push_str(if app.sequential() {
        " · in order "
    } else {
        " · rarest first "
    });
    let inner = render_pane(area, buf, Line::from(title), true, theme);
    if inner.height == 0 {
        return;
    }
    let width = usize::from(inner.width);
    if v.tree.nodes.is_empty() {
        put_line(
            buf,
            inner,
            0,
            vec![span(
                " no file list yet: waiting for the torrent's metadata",
                theme.dim(),
            )],
        );
        return;
    }
    // The header reuses the row's widths; only its words differ.
    let bar = width >= 110;
    let name_w = name_width(width, !snap.streams.is_empty());
    let mut titles = format!(
        " {:<name_w$} {:>SIZE_W$} {:>w$}",
        "  Name",
        "Size",
        "Done",
        w = PCT_W - 1
    );
    if bar {
        titles.push_str(&" ".repeat(BAR_W + 1));
    }
    titles.push_str(&format!("  {:<PRIO_W$}", "Priority"));
    put_line(
        buf,
        inner,
        0,
        vec![span(titles, theme.dim().add_modifier(Modifier::BOLD))],
    );
    let page = usize::from(inner.height.saturating_sub(1));
    let top = v.scroll.top_for(Some(v.selected), v.rows.len(), page);
    for (r, &i) in v.rows.iter().enumerate().skip(top).take(page) {
        let Some(n) = v.tree.nodes.get(i) else {
            continue;
        };
        let folded = v.folded.contains(&n.path);
        let note = n.file.and_then(|f| stream_note(snap, f));
        let mut spans = row(n, folded, (width, name_w), note, theme);
        if r == v.selected {
            let sel = theme.selected_row();
            spans = spans.into_iter().map(|s| s.style(sel)).collect();
            if let Some(first) = spans.first_mut() {
                *first = span("▸", sel);
            }
        }
        put_line(buf, inner, (r - top + 1) as u16, spans);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::api::{FileRow, StreamRow};

    fn film(streams: Vec<StreamRow>) -> Snapshot {
        let file = |path: &str, offset, size| FileRow {
            path: path.into(),
            size,
            offset,
            done: 0,
            priority: FilePriority::Normal,
        };
        Snapshot {
            files: vec![file("note.txt", 0, 1000), file("film.mp4", 1000, 99_000)],
            streams,
            ..Snapshot::empty("t", 100_000, 10_000)
        }
    }

    #[test]
    fn a_streamed_file_says_where_it_reads_and_how_far_ttui_fetches() {
        let reading = StreamRow {
            file: 1,
            position: 49_500,
            window: Some((5, 6)),
            waited_bytes: 0,
            waiting: false,
        };
        let snap = film(vec![reading.clone()]);
        // Pieces 5..=6 end at byte 70,000 of the torrent: 69,000 of the film, 69 %.
        assert_eq!(
            stream_note(&snap, 1),
            Some(("▶ 50% read, fetching to 69%".to_string(), false))
        );
        assert_eq!(stream_note(&snap, 0), None);
        let waiting = StreamRow {
            waiting: true,
            position: 0,
            ..reading
        };
        let snap = film(vec![waiting]);
        assert_eq!(
            stream_note(&snap, 1),
            Some(("▶ 0.0% read, waiting for the next piece".to_string(), true))
        );
        assert_eq!(stream_note(&film(vec![]), 1), None);
    }
}
