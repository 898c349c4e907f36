//! The Trackers tab: every tracker with its tier, status, last and next announce and the
//! swarm counts of its last reply, its last error and warning in full (wrapped onto lines of
//! their own, never cut) and the counts it was told last, then the other sources of peers, the DHT and PEX, with how many
//! peers each gave.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};

use crate::engine::api::{PeerSource, Snapshot, TrackerRow, TrackerStatus};
use crate::fmt::{self, ellipsize, outside};
use crate::ui::app::App;
use crate::ui::theme::Theme;

use super::{put_line, render_pane, span};

/// The most characters of one tracker's error shown: all of any real message, and a
/// hostile megabyte costs nothing.
const MESSAGE_MAX: usize = 4096;

/// `text` in lines of at most `width` characters, broken between words where it can.
pub(crate) fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut out = Vec::new();
    let mut line = String::new();
    let mut len = 0;
    for word in text.split(' ') {
        let mut word: Vec<char> = word.chars().collect();
        while word.len() > width {
            if len > 0 {
                out.push(std::mem::take(&mut line));
                len = 0;
            }
            out.push(word.drain(..width).collect());
        }
        let need = if len == 0 {
            word.len()
        } else {
            len + 1 + word.len()
        };
        if need > width {
            out.push(std::mem::take(&mut line));
            len = 0;
        }
        if len > 0 {
            line.push(' ');
            len += 1;
        }
        line.extend(word.iter());
        len += word.len();
    }
    if len > 0 || out.is_empty() {
        out.push(line);
    }
    out
}

fn status_text(t: &TrackerRow, theme: &Theme) -> (String, Style) {
    let style = match &t.status {
        TrackerStatus::NotContacted => theme.dim(),
        TrackerStatus::Announcing => theme.accent(),
        TrackerStatus::Ok { .. } => theme.verified(),
        TrackerStatus::Failed(_) => theme.error().add_modifier(Modifier::BOLD),
    };
    (t.status.words(), style)
}

/// Column widths: tier, status, last, next, seeds, leechers; the URL takes the rest.
const COLS: [usize; 6] = [4, 13, 7, 7, 5, 5];

/// The URL column's width and how many of [`COLS`] show. The URL column is as wide as the
/// longest URL (so the status stays next to it on a wide screen); narrow screens drop the two
/// counts before squeezing it.
fn cells(width: usize, longest: usize) -> (usize, usize) {
    let all: usize = COLS.iter().sum::<usize>() + COLS.len() + 1;
    if width >= all + 24 {
        ((width - all).min(longest.max(24)), 6)
    } else {
        let four: usize = COLS[..4].iter().sum::<usize>() + 5;
        (width.saturating_sub(four).max(8), 4)
    }
}

fn row_spans<'a>(cols: [String; 6], url: String, style: [Style; 2], n: usize) -> Vec<Span<'a>> {
    let mut spans = vec![
        Span::raw(format!(" {:<w$} ", cols[0], w = COLS[0])),
        span(url, style[0]),
        Span::raw(" "),
        span(format!("{:<w$}", cols[1], w = COLS[1]), style[1]),
    ];
    for (i, c) in cols.iter().enumerate().take(n).skip(2) {
        spans.push(Span::raw(format!(" {c:>w$}", w = COLS[i])));
    }
    spans
}

/// Every line of the tab, one screen row each, before scrolling.
pub(crate) fn lines<'a>(snap: &Snapshot, theme: &Theme, width: usize) -> Vec<Line<'a>> {
    let longest = snap.trackers.iter().map(|t| t.url.chars().count()).max();
    let (url_w, n) = cells(width, longest.unwrap_or(0));
    let mut out = Vec::new();
    let head = ["Tier", "Status", "Last", "Next", "Seeds", "Leech"].map(String::from);
    let dim = theme.dim().add_modifier(Modifier::BOLD);
    out.push(
        Line::from(row_spans(
            head,
            format!("{:<url_w$}", "Tracker"),
            [dim, dim],
            n,
        ))
        .style(dim),
    );
    if snap.trackers.is_empty() {
        out.push(Line::from(span(
            " no tracker: peers come from the DHT, PEX or the command line",
            theme.dim(),
        )));
    }
    let text_w = width.saturating_sub(8);
    for t in &snap.trackers {
        out.extend(tracker_lines(t, theme, (url_w, n), text_w));
    }
    out.push(Line::default());
    out.push(Line::from(span(" Other sources of peers", dim)));
    out.extend(other_sources(snap, theme));
    out
}

/// One tracker's row, then its failure and warning wrapped to `text_w` under it. `url_w` and
/// `n`: the URL column's width and how many columns show.
fn tracker_lines(
    t: &TrackerRow,
    theme: &Theme,
    (url_w, n): (usize, usize),
    text_w: usize,
) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    let (status, style) = status_text(t, theme);
    // "Last" is how long ago, "Next" how long until.
    let ago = t.last_announce.map_or("-".to_string(), fmt::duration);
    let next = t.next_announce.map_or("-".to_string(), fmt::duration);
    let count = |c: Option<u32>| c.map_or("-".to_string(), |c| c.to_string());
    let url = ellipsize(&outside(&t.url, MESSAGE_MAX), url_w).into_owned();
    let cols = [
        t.tier.to_string(),
        ellipsize(&status, COLS[1]).into_owned(),
        ago,
        next,
        count(t.seeders),
        count(t.leechers),
    ];
    out.push(Line::from(row_spans(
        cols,
        format!("{url:<url_w$}"),
        [Style::new(), style],
        n,
    )));
    let mut message = |mark: &'static str, text: &str, style: Style| {
        let text = outside(text, MESSAGE_MAX);
        for (i, l) in wrap(&text, text_w).into_iter().enumerate() {
            let lead = if i == 0 { mark } else { "" };
            out.push(Line::from(vec![
                span(format!("{lead:>7} "), style),
                span(l, style),
            ]));
        }
    };
    if let TrackerStatus::Failed(reason) = &t.status {
        message("✖", reason, theme.error());
    }
    if let Some(w) = &t.warning {
        message("!", &format!("warning: {w}"), theme.warn());
    }
    // What a private tracker's ratio is made of: the counts it heard last (this run's, from
    // 0 at `started`; `ttui show` adds what it heard over every run).
    if let Some((up, down)) = t.last_counts {
        let told = format!(
            "told: uploaded {}, downloaded {} (this run)",
            fmt::bytes(up),
            fmt::bytes(down)
        );
        message("", &told, theme.dim());
    }
    out
}

/// The DHT, PEX and every other way peers come, with how many each brought.
fn other_sources(snap: &Snapshot, theme: &Theme) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    let from = |s: PeerSource| snap.peers.iter().filter(|p| p.source == s).count();
    let peers = |n: usize| format!("{n} peer{}", if n == 1 { "" } else { "s" });
    let mut dht = vec![span(" DHT      ", theme.dim())];
    match &snap.dht {
        Some(d) => {
            dht.push(Span::raw(format!(
                "{} nodes · {} found",
                d.nodes,
                peers(from(PeerSource::Dht))
            )));
            if d.searching {
                dht.push(span(" · looking up…", theme.accent()));
            } else if let Some(at) = d.last_at {
                let ago = fmt::duration(snap.elapsed.saturating_sub(at));
                dht.push(span(
                    format!(" · last lookup {} {ago} ago", peers(d.last_peers)),
                    theme.dim(),
                ));
            } else {
                dht.push(span(" · no lookup yet", theme.dim()));
            }
        }
        None => dht.push(span("off (disabled, or a private torrent)", theme.dim())),
    }
    out.push(Line::from(dht));
    out.push(Line::from(vec![
        span(" PEX      ", theme.dim()),
        Span::raw(format!(
            "{} named by other peers",
            peers(from(PeerSource::Pex))
        )),
    ]));
    out.push(Line::from(vec![
        span(" others   ", theme.dim()),
        Span::raw(format!(
            "trackers {} · incoming {} · command line {} · web seeds {}",
            from(PeerSource::Tracker),
            from(PeerSource::Incoming),
            from(PeerSource::Manual),
            from(PeerSource::WebSeed)
        )),
    ]));
    out
}

pub(crate) fn render(area: Rect, buf: &mut Buffer, snap: &Snapshot, app: &App) {
    let theme = &app.theme;
    let failing = snap
        .trackers
        .iter()
        .filter(|t| matches!(t.status, TrackerStatus::Failed(_)))
        .count();
    let title = match failing {
        0 => format!(" Trackers {} ", snap.trackers.len()),
        f => format!(" Trackers {} · {f} failing ", snap.trackers.len()),
    };
    let inner = render_pane(area, buf, Line::from(title), true, theme);
    if inner.height == 0 {
        return;
    }
    let all = lines(snap, theme, usize::from(inner.width));
    let page = usize::from(inner.height);
    let top = app.tracker_scroll.min(all.len().saturating_sub(page));
    for (row, line) in all.into_iter().skip(top).take(page).enumerate() {
        let style = line.style;
        let spans: Vec<Span> = line
            .spans
            .into_iter()
            .map(|s| s.patch_style(style))
            .collect();
        put_line(buf, inner, row as u16, spans);
    }
}

#[cfg(test)]
mod tests {
    use super::wrap;

    #[test]
    fn wraps_between_words_and_splits_long_ones() {
        assert_eq!(
            wrap("connection refused by host", 12),
            vec!["connection", "refused by", "host"]
        );
        assert_eq!(wrap("abcdefghij", 4), vec!["abcd", "efgh", "ij"]);
        assert_eq!(wrap("", 4), vec![""]);
        let long = "x".repeat(100) + " tail";
        assert!(wrap(&long, 30).iter().all(|l| l.chars().count() <= 30));
        assert_eq!(wrap(&long, 30).concat().replace(' ', "").len(), 104);
    }
}
