//! The newest event-log lines, newest at the bottom; scrollable when focused.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::Line;

use crate::engine::api::{LogLevel, Snapshot};
use crate::ui::app::{App, Focus};
use crate::ui::layout::log_rows;
use crate::ui::scroll::tail_window;

use super::{put_line, render_pane, span, LINE_MAX};
use crate::fmt;
use crate::fmt::outside;

pub(crate) fn render(area: Rect, buf: &mut Buffer, snap: &Snapshot, app: &App) {
    let theme = &app.theme;
    let focused = app.focus == Focus::Log;
    let page = log_rows(area);
    let total = snap.log.len();
    let window = tail_window(total, app.log_scroll.back(), page);
    let scroll = total - window.end;
    let title = if scroll > 0 {
        format!(" Events ({scroll} newer below, End to follow) ")
    } else {
        " Events ".to_string()
    };
    let inner = render_pane(area, buf, Line::from(title), focused, theme);
    if inner.height == 0 {
        return;
    }
    if total == 0 {
        put_line(buf, inner, 0, vec![span(" nothing yet", theme.dim())]);
        return;
    }
    for (row, line) in snap.log.get(window).unwrap_or(&[]).iter().enumerate() {
        let (mark, style) = match line.level {
            LogLevel::Info => (" ", Style::new()),
            LogLevel::Warn => ("!", theme.warn()),
            LogLevel::Error => ("✗", theme.error()),
        };
        put_line(
            buf,
            inner,
            row as u16,
            vec![
                span(format!(" {} ", fmt::clock(line.at)), theme.dim()),
                span(mark, style),
                span(" ", Style::new()),
                span(outside(&line.text, LINE_MAX).into_owned(), style),
            ],
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::api::LogLine;
    use crate::ui::theme::Theme;
    use crate::ui::widgets::test_util::rows;
    use std::path::PathBuf;
    use std::time::Duration;

    fn snapshot(n: u64) -> Snapshot {
        Snapshot {
            log: (0..n)
                .map(|i| LogLine {
                    at: Duration::from_secs(i * 61),
                    level: if i == n - 1 {
                        LogLevel::Error
                    } else {
                        LogLevel::Info
                    },
                    text: format!("event {i}"),
                })
                .collect(),
            ..Snapshot::empty("x", 1, 1)
        }
    }

    #[test]
    fn shows_newest_lines_and_scrolls_back() {
        let s = snapshot(10);
        let mut app = App::new(PathBuf::new(), Theme::plain());
        let area = Rect::new(0, 0, 40, 4);
        let mut buf = Buffer::empty(area);
        render(area, &mut buf, &s, &app);
        let r = rows(&buf);
        assert!(
            r[1].contains("event 7") && r[3].contains("event 9"),
            "{r:?}"
        );
        assert!(r[3].starts_with(" 09:09 ✗ event 9"), "{r:?}");
        app.log_scroll.set_page(3);
        app.log_scroll.set_back(100, s.log.len()); // clamped to the oldest page
        let mut buf = Buffer::empty(area);
        render(area, &mut buf, &s, &app);
        let r = rows(&buf);
        assert!(r[0].contains("7 newer below"), "{r:?}");
        assert!(
            r[1].contains("event 0") && r[3].contains("event 2"),
            "{r:?}"
        );
    }
}
