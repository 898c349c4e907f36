//! Down and up rate over the last minutes: a chart when there is room, sparklines when not.
//! Current and peak values are written out, so the graph never has to be read for numbers.

use std::time::Duration;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Chart, Dataset, GraphType, Sparkline, Widget};

use crate::engine::api::Snapshot;
use crate::ui::app::App;
use crate::ui::history::{History, HISTORY_LEN};
use crate::ui::theme::Theme;

use super::{put_line, render_pane, span};
use crate::fmt;

/// Below this many rows the axes would eat the plot; use sparklines instead.
const CHART_MIN_HEIGHT: u16 = 8;

pub(crate) fn render(area: Rect, buf: &mut Buffer, snap: &Snapshot, app: &App) {
    let theme = &app.theme;
    let h = &app.history;
    // The x-axis spans the samples we have (up to the five minutes kept), so a young session
    // fills the plot instead of hugging its right edge.
    let end = h.down().last().map_or(snap.elapsed.as_secs_f64(), |p| p.0);
    let first = h.down().first().map_or(end, |p| p.0);
    let span_s = (end - first).clamp(1.0, HISTORY_LEN as f64);
    let start = end - span_s;
    let span_label = fmt::duration(Duration::from_secs_f64(span_s.round()));
    let inner = render_pane(
        area,
        buf,
        Line::from(format!(" Throughput, last {span_label} ")),
        false,
        theme,
    );
    if inner.height == 0 || inner.width == 0 {
        return;
    }
    let down_label = vec![
        span("↓ ", theme.down()),
        span(
            fmt::rate(snap.down_rate),
            theme.down().add_modifier(Modifier::BOLD),
        ),
        span(format!("  peak {}", fmt::rate(h.peak_down())), theme.dim()),
    ];
    let up_label = vec![
        span("↑ ", theme.up()),
        span(
            fmt::rate(snap.up_rate),
            theme.up().add_modifier(Modifier::BOLD),
        ),
        span(format!("  peak {}", fmt::rate(h.peak_up())), theme.dim()),
    ];

    if inner.height < CHART_MIN_HEIGHT || inner.width < 30 {
        render_sparklines(inner, buf, h, theme, [down_label, up_label]);
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
    render_chart(plot, buf, h, theme, (start, end), &span_label);
}

/// Small panes: a label line and sparkline rows for each direction; down gets the odd row.
fn render_sparklines(
    inner: Rect,
    buf: &mut Buffer,
    h: &History,
    theme: &Theme,
    [down_label, up_label]: [Vec<Span<'static>>; 2],
) {
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
}

/// Roomy panes: both rates on one chart over `[start, end]` seconds, `span_label` long.
fn render_chart(
    plot: Rect,
    buf: &mut Buffer,
    h: &History,
    theme: &Theme,
    (start, end): (f64, f64),
    span_label: &str,
) {
    // The peak of what is on screen: the history is the visible window, so an early spike
    // stops setting the scale once it ages out.
    let top = nice_ceiling(h.peak_down().max(h.peak_up()) * 1.05);
    let datasets = vec![
        Dataset::default()
            .name("down")
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(theme.down())
            .data(h.down()),
        // Big dots would drown the line; colour and the legend tell the two apart.
        Dataset::default()
            .name("up")
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(theme.up())
            .data(h.up()),
    ];
    let chart = Chart::new(datasets)
        .x_axis(
            Axis::default()
                .bounds([start, end])
                .labels([Line::from(format!("-{span_label}")), Line::from("now")])
                .style(theme.dim()),
        )
        .y_axis(
            Axis::default()
                .bounds([0.0, top])
                .labels([Line::from("0"), Line::from(fmt::rate(top))])
                .style(theme.dim()),
        )
        // The legend line above says the same, with numbers.
        .hidden_legend_constraints((
            ratatui::layout::Constraint::Length(0),
            ratatui::layout::Constraint::Length(0),
        ));
    chart.render(plot, buf);
}

/// The next round number of KiB/MiB/GiB… per second at or above `rate` (at least 1 KiB/s), so
/// the axis label reads like "6 MiB/s". Steps are close enough that the line uses most of the
/// height.
fn nice_ceiling(rate: f64) -> f64 {
    const STEPS: [f64; 24] = [
        1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 80.0,
        100.0, 150.0, 200.0, 300.0, 400.0, 500.0, 600.0, 800.0,
    ];
    let rate = if rate.is_finite() { rate.max(0.0) } else { 0.0 };
    let mut unit = 1024.0;
    // Bounded: 1024^6 B/s is past anything a link carries.
    for _ in 0..6 {
        if let Some(m) = STEPS.iter().find(|&&m| m * unit >= rate) {
            return m * unit;
        }
        unit *= 1024.0;
    }
    rate
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
        .data(points.iter().skip(skip).map(|p| fmt::rate_u64(p.1)))
        .max(fmt::rate_u64(peak).max(1))
        .style(style)
        .render(area, buf);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::theme::Theme;
    use crate::ui::widgets::test_util::rows;
    use std::path::PathBuf;
    use std::sync::Arc;
    use std::time::Duration;

    fn snapshot(t: u64, down: f64) -> Arc<Snapshot> {
        Arc::new(Snapshot {
            down_rate: down,
            up_rate: 512.0,
            elapsed: Duration::from_secs(t),
            ..Snapshot::empty("x", 1, 1)
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
    fn axis_top_is_round() {
        assert_eq!(nice_ceiling(0.0), 1024.0);
        assert_eq!(nice_ceiling(1500.0), 1536.0);
        assert_eq!(nice_ceiling(310.0 * 1024.0), 400.0 * 1024.0);
        assert_eq!(nice_ceiling(900.0 * 1024.0), 1024.0 * 1024.0);
        assert_eq!(nice_ceiling(5.1 * 1024.0 * 1024.0), 6.0 * 1024.0 * 1024.0);
        assert_eq!(nice_ceiling(f64::NAN), 1024.0);
    }

    #[test]
    fn plot_fills_the_width_from_the_first_sample() {
        let (app, snap) = app_with_history();
        let area = Rect::new(0, 0, 80, 14);
        let mut buf = Buffer::empty(area);
        render(area, &mut buf, &snap, &app);
        let r = rows(&buf);
        let braille = |c: char| ('\u{2801}'..='\u{28ff}').contains(&c);
        // The leftmost column holding a braille dot is near the y-axis, not at the far right.
        let first_col = r
            .iter()
            .filter_map(|l| l.chars().position(braille))
            .min()
            .expect("a line is drawn");
        assert!(first_col < 20, "{r:#?}");
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
        // 60 samples: the axis spans them, not a fixed five minutes.
        assert!(r[0].contains("Throughput, last 59s"), "{r:?}");
        assert!(all.contains("now") && all.contains("-59s"), "{all}");
        assert!(
            all.contains("5 MiB/s"),
            "y-axis is a rate, rounded up: {all}"
        );
        assert!(
            all.chars().any(|c| ('\u{2801}'..='\u{28ff}').contains(&c)),
            "braille line drawn:\n{all}"
        );
    }
}
