//! The add dialog on screen: the two fields, the start-paused checkbox, one line on what the
//! source is (or why it cannot be added, or what Tab matched), and for a .torrent of several
//! files its tree with a checkbox and size per row. The keys are in the footer below it.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Widget};

use crate::engine::api::FilePriority;
use crate::fmt;
use crate::ui::app::App;
use crate::ui::files::Node;
use crate::ui::theme::Theme;
use crate::ui::widgets::{put_line, span};

use super::add_state::{AddDialog, Field, Loaded};

/// Columns before a field's text: " Source  ".
const LABEL_W: usize = 10;
/// The size column of the tree.
const SIZE_W: usize = 10;

pub fn render(area: Rect, buf: &mut Buffer, d: &AddDialog, app: &App) {
    let theme = &app.theme;
    let w = area.width.saturating_sub(4).min(100);
    // Rows inside the border: 3 fields, the line about the source, then the tree.
    let tree_rows = if d.has_tree() {
        d.files.rows.len()
    } else {
        d.candidates.len().div_ceil(2).min(4)
    };
    let h = (6 + tree_rows as u16)
        .min(area.height.saturating_sub(2))
        .max(7);
    if w < 20 || area.height < 9 {
        return;
    }
    let popup = crate::ui::widgets::popup(area, w, h, buf);
    let block = Block::new()
        .borders(Borders::ALL)
        .border_style(theme.border(true))
        .title(Line::from(" Add a torrent ").style(theme.title(true)));
    let inner = block.inner(popup);
    block.render(popup, buf);
    let width = usize::from(inner.width);
    let field = |label: &str, text: &str, on: bool| {
        let room = width.saturating_sub(LABEL_W + 2);
        let shown = tail(text, room);
        let mut spans = vec![
            span(
                format!(" {label:<w$}", w = LABEL_W - 1),
                label_style(on, theme),
            ),
            span(shown, Style::new()),
        ];
        if on {
            spans.push(span(" ", theme.selected()));
        }
        spans
    };
    put_line(
        buf,
        inner,
        0,
        field("Source", &d.source, d.focus == Field::Source),
    );
    put_line(
        buf,
        inner,
        1,
        field("Save to", &d.save_to, d.focus == Field::SaveTo),
    );
    put_line(
        buf,
        inner,
        2,
        vec![
            span(" ", Style::new()),
            span(
                box_of(d.paused),
                label_style(d.focus == Field::Paused, theme),
            ),
            span(" Start paused", Style::new()),
        ],
    );
    put_line(buf, inner, 3, about(d, width, theme));
    let body = Rect {
        y: inner.y + 4,
        height: inner.height.saturating_sub(4),
        ..inner
    };
    if d.has_tree() {
        render_tree(body, buf, d, theme);
    } else {
        render_candidates(body, buf, d, theme);
    }
}

fn label_style(on: bool, theme: &Theme) -> Style {
    if on {
        theme.key()
    } else {
        theme.dim()
    }
}

fn box_of(on: bool) -> &'static str {
    if on {
        "[x]"
    } else {
        "[ ]"
    }
}

/// The end of `text` in `room` columns (the end is where one types).
fn tail(text: &str, room: usize) -> String {
    let n = text.chars().count();
    if n <= room {
        return fmt::outside(text, room).into_owned();
    }
    let skip = n - room.saturating_sub(1);
    let end: String = text.chars().skip(skip).collect();
    format!("…{}", fmt::clean(&end))
}

/// The line under the fields: the error, the match list's header, or what will be added.
fn about<'a>(d: &AddDialog, width: usize, theme: &Theme) -> Vec<Span<'a>> {
    let room = width.saturating_sub(2);
    let (text, style) = if let Some(e) = &d.error {
        (e.clone(), theme.error())
    } else if !d.candidates.is_empty() {
        (format!("{} match:", d.candidates.len()), theme.dim())
    } else {
        match &d.loaded {
            Loaded::Nothing => (
                "A .torrent file (Tab completes), a magnet link or a URL (paste it)".into(),
                theme.dim(),
            ),
            Loaded::Magnet(_) | Loaded::Url(_) => (
                "Files can be chosen in the Files tab once the metadata arrives.".into(),
                theme.dim(),
            ),
            Loaded::Torrent {
                name, files, total, ..
            } => {
                let (n, bytes) = d.chosen();
                let size = fmt::bytes(*total);
                let what = if *files > 1 {
                    format!(
                        " · {files} files, {size} · {n} checked, {}",
                        fmt::bytes(bytes)
                    )
                } else {
                    format!(" · {size}")
                };
                let name = fmt::outside(name, room.saturating_sub(what.chars().count()));
                (format!("{name}{what}"), theme.accent())
            }
        }
    };
    vec![
        Span::raw(" "),
        span(fmt::outside(&text, room).into_owned(), style),
    ]
}

fn render_candidates(area: Rect, buf: &mut Buffer, d: &AddDialog, theme: &Theme) {
    let col = usize::from(area.width.saturating_sub(2)) / 2;
    let rows = usize::from(area.height);
    let shown = d.candidates.len().min(rows * 2);
    for (i, pair) in d.candidates[..shown].chunks(2).enumerate() {
        let mut spans = vec![Span::raw(" ")];
        for (j, name) in pair.iter().enumerate() {
            let last = i + 1 == rows && j + 1 == pair.len() && shown < d.candidates.len();
            let text = if last {
                format!("… and {} more", d.candidates.len() - shown + 1)
            } else {
                fmt::outside(name, col.saturating_sub(1)).into_owned()
            };
            spans.push(span(format!("{text:<col$}"), theme.dim()));
        }
        put_line(buf, area, i as u16, spans);
    }
}

fn render_tree(area: Rect, buf: &mut Buffer, d: &AddDialog, theme: &Theme) {
    let v = &d.files;
    let page = usize::from(area.height);
    if page == 0 {
        return;
    }
    // The window follows the selection; nothing else moves it.
    let top = (v.selected + 1).saturating_sub(page);
    let width = usize::from(area.width);
    for (row, &i) in v.rows.iter().skip(top).take(page).enumerate() {
        let Some(n) = v.tree.nodes.get(i) else {
            continue;
        };
        let folded = v.folded.contains(&n.path);
        let mut spans = tree_row(n, folded, width, theme);
        if d.focus == Field::Files && top + row == v.selected {
            let sel = theme.selected_row();
            spans = spans
                .into_iter()
                .map(|s| Span::styled(s.content, sel))
                .collect();
        }
        put_line(buf, area, row as u16, spans);
    }
}

fn tree_row<'a>(n: &Node, folded: bool, width: usize, theme: &Theme) -> Vec<Span<'a>> {
    let check = match n.priority {
        Some(FilePriority::Skip) => "[ ]",
        Some(_) => "[x]",
        None => "[-]",
    };
    let icon = match (n.is_folder(), folded) {
        (false, _) => "  ",
        (true, true) => "▸ ",
        (true, false) => "▾ ",
    };
    let indent = "  ".repeat(n.depth.min(8));
    let lead = format!(" {indent}{icon}{check} ");
    let name_w = width.saturating_sub(lead.chars().count() + SIZE_W + 1);
    let name = fmt::outside(&n.name, name_w);
    let pad = name_w.saturating_sub(name.chars().count());
    let style = if n.priority == Some(FilePriority::Skip) {
        theme.dim()
    } else if n.is_folder() {
        Style::new().add_modifier(Modifier::BOLD)
    } else {
        Style::new()
    };
    vec![
        span(lead, Style::new()),
        span(format!("{name}{}", " ".repeat(pad)), style),
        span(
            format!("{:>w$} ", fmt::bytes(n.size), w = SIZE_W),
            theme.dim(),
        ),
    ]
}

#[cfg(test)]
mod tests;
