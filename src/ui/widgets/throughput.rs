//! Down and up rate over the last minutes: a chart when there is room, sparklines when not.
//! Current and peak values are written out, so the graph never has to be read for numbers.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Chart, Dataset, GraphType, Sparkline, Widget};

use crate::engine::api::Snapshot;
use crate::ui::app::{App, HISTORY_LEN};

use super::{fmt_bytes, fmt_rate, put_line, rate_u64, render_pane, span};

/// Below this many rows the axes would eat the plot; use sparklines instead.
const CHART_MIN_HEIGHT: u16 = 8;

pub fn render(area: Rect, buf: &mut Buffer, snap: &Snapshot, app: &App) {
    let theme = &app.theme;
    let h = &app.history;
    let minutes = HISTORY_LEN / 60;
    let inner = render_pane(
        area,
        buf,
        Line::from(format!(" Throughput, last {minutes} min ")),
        false,
        theme,
    );
    if inner.height == 0 || inner.width == 0 {
        return;
    }
    let down_label = vec![
        span("↓ ", theme.down()),
        span(
            fmt_rate(snap.down_rate),
            theme.down().add_modifier(Modifier::BOLD),
        ),
        span(format!("  peak {}", fmt_rate(h.peak_down())), theme.dim()),
    ];
    let up_label = vec![
        span("↑ ", theme.up()),
        span(
            fmt_rate(snap.up_rate),
            theme.up().add_modifier(Modifier::BOLD),
        ),
        span(format!("  peak {}", fmt_rate(h.peak_up())), theme.dim()),
    ];

    if inner.height < CHART_MIN_HEIGHT || inner.width < 30 {
        // Label line + sparkline rows for each direction; down gets the odd row.
        let spark_rows = inner.height.saturating_sub(2);
        let down_rows = spark_rows - spark_rows / 2;
        let up_rows = spark_rows / 2;
        put_line(buf, inner, 0, down_label);
        sparkline(
            buf,
            Rect {
                y: inner.y + 1,
                height: down_rows,
                ..inner
            },
            h.down(),
            h.peak_down(),
            theme.down(),
        );
        put_line(buf, inner, 1 + down_rows, up_label);
        let up_area = Rect {
            y: inner.y + 2 + down_rows,
            height: up_rows,
            ..inner
        };
        sparkline(buf, up_area, h.up(), h.peak_up(), theme.up());
        return;
    }

    let mut legend = down_label;
    legend.push(Span::raw("   "));
    legend.extend(up_label);
    put_line(buf, inner, 0, legend);

    let plot = Rect {
        y: inner.y + 1,
        height: inner.height - 1,
        ..inner
    };
    let end = h.down().last().map_or(snap.elapsed.as_secs_f64(), |p| p.0);
    let start = end - HISTORY_LEN as f64;
    let top = (h.peak_down().max(h.peak_up()) * 1.1).max(1024.0);
    let datasets = vec![
        Dataset::default()
            .name("down")
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(theme.down())
            .data(h.down()),
        // A different marker keeps the two lines apart without colour.
        Dataset::default()
            .name("up")
            .marker(Marker::Dot)
            .graph_type(GraphType::Line)
            .style(theme.up())
            .data(h.up()),
    ];
    let chart = Chart::new(datasets)
        .x_axis(
            Axis::default()
                .bounds([start, end])
                .labels([Line::from(format!("-{minutes}m")), Line::from("now")])
                .style(theme.dim()),
        )
        .y_axis(
            Axis::default()
                .bounds([0.0, top])
                .labels([Line::from("0"), Line::from(fmt_bytes(top as u64))])
                .style(theme.dim()),
        )
        // The legend line above says the same, with numbers.
        .hidden_legend_constraints((
            ratatui::layout::Constraint::Length(0),
            ratatui::layout::Constraint::Length(0),
        ));
    chart.render(plot, buf);
}

fn sparkline(
    buf: &mut Buffer,
    area: Rect,
    points: &[(f64, f64)],
    peak: f64,
    style: ratatui::style::Style,
) {
    if area.height == 0 {
        return;
    }
    // The newest samples that fit, so the right edge is "now".
    let skip = points.len().saturating_sub(area.width as usize);
    Sparkline::default()
        .data(points.iter().skip(skip).map(|p| rate_u64(p.1)))
        .max(rate_u64(peak).max(1))
        .style(style)
        .render(area, buf);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::api::TorrentState;
    use crate::ui::app::Theme;
    use crate::ui::widgets::test_util::rows;
    use std::path::PathBuf;
    use std::sync::Arc;
    use std::time::Duration;

    fn snapshot(t: u64, down: f64) -> Arc<Snapshot> {
        Arc::new(Snapshot {
            name: "x".into(),
            info_hash: [0; 20],
            output: PathBuf::new(),
            total_length: 1,
            piece_length: 1,
            num_pieces: 1,
            state: TorrentState::Downloading,
            verified_bytes: 0,
            downloaded: 0,
            uploaded: 0,
            wasted: 0,
            down_rate: down,
            up_rate: 512.0,
            elapsed: Duration::from_secs(t),
            pieces: vec![],
            availability: vec![],
            peers: vec![],
            trackers: vec![],
            log: vec![],
            listen_port: 0,
        })
    }

    fn app_with_history() -> (App, Arc<Snapshot>) {
        let mut app = App::new(PathBuf::new(), Theme::plain());
        let mut last = snapshot(0, 0.0);
        for t in 0..60 {
            // Peak 4 MiB/s at t=30, now 1 MiB/s.
            let rate = if t == 30 { 4.0 } else { 1.0 } * 1024.0 * 1024.0;
            last = snapshot(t, rate);
            app.on_snapshot(last.clone());
        }
        (app, last)
    }

    #[test]
    fn small_pane_uses_sparklines_with_current_and_peak() {
        let (app, snap) = app_with_history();
        let area = Rect::new(0, 0, 40, 5);
        let mut buf = Buffer::empty(area);
        render(area, &mut buf, &snap, &app);
        let r = rows(&buf);
        assert!(
            r[1].contains("↓ 1 MiB/s") && r[1].contains("peak 4 MiB/s"),
            "{r:?}"
        );
        assert!(r[3].contains("↑ 512 B/s"), "{r:?}");
        // The spike shows as a full bar among low ones.
        assert!(r[2].contains('█') && r[2].contains('▂'), "{r:?}");
    }

    #[test]
    fn big_pane_draws_chart_with_axes() {
        let (app, snap) = app_with_history();
        let area = Rect::new(0, 0, 80, 14);
        let mut buf = Buffer::empty(area);
        render(area, &mut buf, &snap, &app);
        let r = rows(&buf);
        assert!(
            r[1].contains("peak 4 MiB/s") && r[1].contains("↑ 512 B/s"),
            "{r:?}"
        );
        let all = r.join("\n");
        assert!(all.contains("now") && all.contains("-5m"), "{all}");
        assert!(
            all.chars().any(|c| ('\u{2801}'..='\u{28ff}').contains(&c)),
            "braille line drawn:\n{all}"
        );
    }
}
