//! `L`: the rate limits dialog (the session's, the marked torrents' or the open torrent's
//! own), and `t`: turtle mode. Both send `Request::Limit`, as `ttui limit` does. Rates are
//! read by the engine's one parser ([`parse_rate`]), so the dialog takes what the flags and
//! the config take.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Widget};

use crate::engine::api::{LimitChange, LimitsNow, TorrentId, Turtle};
use crate::engine::rate::parse::{parse_rate, show_rate};
use crate::fmt;
use crate::ui::action::{Action, Request};
use crate::ui::app::App;
use crate::ui::keys::{key_label, Mode};
use crate::ui::widgets::span;

use super::state::{ListState, Outcome};

/// The most characters a rate field holds.
const FIELD_MAX: usize = 24;
const LABELS: [&str; 2] = ["Down", "Up"];

/// The dialog: whose limits, and the two fields as typed (empty: unlimited).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitsDialog {
    /// Empty: the session's limits.
    pub ids: Vec<TorrentId>,
    /// "the session", the torrent's name, "3 marked torrents".
    pub whose: String,
    /// Down, then up.
    pub fields: [String; 2],
    /// The field keys type into.
    pub field: usize,
    /// Why the last Enter sent nothing.
    pub error: Option<String>,
    /// A line under the fields (turtle mode on: these are the normal limits).
    pub note: Option<String>,
    /// Typed into: the engine's late answer to the prefill query must not overwrite it.
    edited: bool,
}

/// A rate as the field shows it: what the parser reads back, empty for unlimited.
fn field_text(rate: u64) -> String {
    match rate {
        0 => String::new(),
        r => crate::cli::goal_args::rate_text(r),
    }
}

fn parse_field(label: &str, text: &str) -> Result<u64, String> {
    if text.trim().is_empty() {
        return Ok(0);
    }
    parse_rate(text).map_err(|e| format!("{label}: {e}"))
}

impl ListState {
    /// `L` on the list: the marked torrents' own limits, or the session's when none is marked.
    pub fn limits_for_list(&mut self) -> Outcome {
        let ids: Vec<TorrentId> = self.marked.iter().copied().collect();
        self.open_limits(ids)
    }

    /// Opens the dialog on `ids` (empty: the session), prefilled with what the snapshot
    /// knows; the request it returns asks the engine for the rest (a torrent's own limits,
    /// the normal limits while turtle mode is on) and [`Self::on_limits`] fills them in.
    pub fn open_limits(&mut self, ids: Vec<TorrentId>) -> Outcome {
        let session = self.session();
        let turtle = session.is_some_and(|s| s.turtle);
        let (whose, fields, note) = match ids.as_slice() {
            [] => {
                let fields = match session {
                    Some(s) if !s.turtle => [field_text(s.down_limit), field_text(s.up_limit)],
                    _ => Default::default(),
                };
                let note = turtle.then(|| "turtle mode is on: these apply once it is off".into());
                ("the session".to_string(), fields, note)
            }
            [one] => {
                let name = self
                    .line(*one)
                    .map_or_else(|| format!("torrent {one}"), |t| t.name.clone());
                (
                    fmt::outside(&name, 60).into_owned(),
                    Default::default(),
                    None,
                )
            }
            many => (
                format!("{} marked torrents", many.len()),
                Default::default(),
                None,
            ),
        };
        self.limits = Some(LimitsDialog {
            ids: ids.clone(),
            whose,
            fields,
            field: 0,
            error: None,
            note,
            edited: false,
        });
        let ask = Request::Limit {
            ids,
            change: LimitChange::default(),
        };
        Outcome {
            effect: Some(crate::ui::action::Effect::Session(vec![ask])),
            status: None,
        }
    }

    /// A key while the dialog is open.
    pub(super) fn limits_key(&mut self, action: Action) -> Outcome {
        let Some(d) = self.limits.as_mut() else {
            return Outcome::default();
        };
        match action {
            Action::NextTab | Action::PrevTab | Action::Up | Action::Down => {
                d.field = 1 - d.field;
            }
            Action::Type(c) if !c.is_control() && d.fields[d.field].chars().count() < FIELD_MAX => {
                d.fields[d.field].push(c);
                d.edited = true;
                d.error = None;
            }
            Action::Erase => {
                d.fields[d.field].pop();
                d.edited = true;
                d.error = None;
            }
            Action::Back => {
                self.limits = None;
                return Outcome::say("rate limits unchanged");
            }
            Action::Accept => return self.apply_limits(),
            _ => {}
        }
        Outcome::default()
    }

    fn apply_limits(&mut self) -> Outcome {
        let Some(d) = self.limits.as_mut() else {
            return Outcome::default();
        };
        let parsed = parse_field(LABELS[0], &d.fields[0])
            .and_then(|down| Ok((down, parse_field(LABELS[1], &d.fields[1])?)));
        let (down, up) = match parsed {
            Ok(rates) => rates,
            Err(e) => {
                d.error = Some(e);
                return Outcome::default();
            }
        };
        let Some(d) = self.limits.take() else {
            return Outcome::default();
        };
        let whose = match d.ids.len() {
            0 => "session limits".to_string(),
            1 => format!("limits of {}", fmt::outside(&d.whose, 40)),
            n => format!("limits of {n} torrents"),
        };
        let status = format!("{whose}: down {}, up {}", show_rate(down), show_rate(up));
        let change = LimitChange {
            down: Some(down),
            up: Some(up),
            turtle: None,
        };
        self.send(vec![Request::Limit { ids: d.ids, change }], status)
    }

    /// `t`: turtle mode on or off. The engine decides against its own state (a toggle), so
    /// the line here says what the snapshot predicts and the reply says what happened.
    pub fn toggle_turtle(&self) -> Outcome {
        let on = self.session().is_some_and(|s| s.turtle);
        let change = LimitChange {
            turtle: Some(Turtle::Toggle),
            ..LimitChange::default()
        };
        let status = if on {
            "turtle mode off"
        } else {
            "turtle mode on"
        };
        self.send(
            vec![Request::Limit {
                ids: Vec::new(),
                change,
            }],
            status.into(),
        )
    }

    /// The engine's answer to a `Request::Limit`: fills the dialog after its query, or says
    /// what turtle mode is now, or why a change failed. Returns the status line, if any.
    pub fn on_limits(
        &mut self,
        ids: &[TorrentId],
        change: LimitChange,
        result: Result<LimitsNow, String>,
    ) -> Option<String> {
        let now = match result {
            Ok(now) => now,
            // A query for a torrent removed meanwhile: the dialog says nothing of it.
            Err(_) if change == LimitChange::default() => return None,
            Err(e) => return Some(format!("rate limits: {e}")),
        };
        if change.turtle.is_some() {
            return Some(if now.turtle {
                format!(
                    "turtle mode on (down {}, up {})",
                    show_rate(now.alt_down),
                    show_rate(now.alt_up)
                )
            } else {
                "turtle mode off".into()
            });
        }
        if change != LimitChange::default() {
            return None;
        }
        let d = self.limits.as_mut().filter(|d| d.ids == ids && !d.edited)?;
        let pair = match now.torrents.as_slice() {
            [] if ids.is_empty() => Some((now.down, now.up)),
            [first, rest @ ..]
                if rest
                    .iter()
                    .all(|t| (t.down, t.up) == (first.down, first.up)) =>
            {
                Some((first.down, first.up))
            }
            _ => None,
        };
        if let Some((down, up)) = pair {
            d.fields = [field_text(down), field_text(up)];
        }
        None
    }
}

/// The dialog in the middle of `area`.
pub fn render(area: Rect, buf: &mut Buffer, d: &LimitsDialog, app: &App) {
    let theme = &app.theme;
    let w = area.width.min(60);
    let h = area.height.min(8 + u16::from(d.note.is_some()));
    if w < 20 || h < 4 {
        return;
    }
    let popup = Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    };
    Clear.render(popup, buf);
    let room = usize::from(w.saturating_sub(12));
    let bold = Style::new().add_modifier(Modifier::BOLD);
    let mut lines = Vec::new();
    for (i, label) in LABELS.iter().enumerate() {
        let focused = i == d.field;
        let text = &d.fields[i];
        let shown = tail(text, room.saturating_sub(1));
        let mut spans = vec![
            span(if focused { " › " } else { "   " }, theme.key()),
            span(
                format!("{label:<6}"),
                if focused { bold } else { Style::new() },
            ),
            Span::raw(shown),
        ];
        if focused {
            spans.push(span("▏", theme.key()));
        }
        if text.is_empty() {
            spans.push(span("unlimited", theme.dim()));
        }
        lines.push(Line::from(spans));
    }
    lines.push(Line::default());
    if let Some(note) = &d.note {
        lines.push(Line::from(span(format!(" {note}"), theme.warn())));
    }
    lines.push(Line::from(span(
        " e.g. 500K, 2M, 1.5MiB; 0 or empty: unlimited",
        theme.dim(),
    )));
    lines.push(match &d.error {
        // The parser's examples are on the line above already.
        Some(e) => {
            let e = e.split(" (e.g.").next().unwrap_or(e);
            Line::from(span(format!(" {}", fmt::clean(e)), theme.error()))
        }
        None => Line::default(),
    });
    let key = |a: Action| key_label(a, Mode::Limits).unwrap_or_default();
    lines.push(Line::from(vec![
        span(format!(" {}", key(Action::Accept)), theme.key()),
        Span::raw(" apply   "),
        span(key(Action::NextTab), theme.key()),
        Span::raw(" other field   "),
        span(key(Action::Back), theme.key()),
        Span::raw(" cancel"),
    ]));
    let title = format!(" Rate limits: {} ", d.whose);
    let title = fmt::ellipsize(&title, usize::from(w.saturating_sub(4))).into_owned();
    let block = Block::new()
        .borders(Borders::ALL)
        .border_style(theme.accent())
        .title(Line::from(title).style(theme.title(true)));
    Paragraph::new(lines).block(block).render(popup, buf);
}

/// The end of `text` that fits `width` characters, "…" in front when cut (the end is what
/// one is typing).
pub(super) fn tail(text: &str, width: usize) -> String {
    let text = fmt::clean(text);
    let n = text.chars().count();
    if n <= width {
        return text.into_owned();
    }
    let keep = width.saturating_sub(1);
    let mut out = String::from("…");
    out.extend(text.chars().skip(n - keep));
    out
}

#[cfg(test)]
#[path = "limits_dialog_tests.rs"]
pub(crate) mod tests;
