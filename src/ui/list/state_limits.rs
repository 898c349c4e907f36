//! The list state's side of the rate limits dialog (`L`) and turtle mode (`t`): opening it,
//! its keys, and the engine's answers. The dialog itself (fields, parsing, drawing) is
//! `limits_dialog.rs`, which knows nothing of the list.

use super::limits_dialog::*;
use super::state::{KeyOutcome, ListState};
use crate::engine::api::show_rate;
use crate::engine::api::{LimitChange, LimitsNow, TorrentId, Turtle};
use crate::fmt;
use crate::ui::action::{Action, Request};

impl ListState {
    /// `L` on the list: the marked torrents' own limits, or the session's when none is marked.
    pub fn limits_for_list(&mut self) -> KeyOutcome {
        let ids: Vec<TorrentId> = self.marked.iter().copied().collect();
        self.open_limits(ids)
    }

    /// Opens the dialog on `ids` (empty: the session), prefilled with what the snapshot
    /// knows; the request it returns asks the engine for the rest (a torrent's own limits,
    /// the normal limits while turtle mode is on) and [`Self::on_limits`] fills them in.
    pub fn open_limits(&mut self, ids: Vec<TorrentId>) -> KeyOutcome {
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
        KeyOutcome {
            effect: Some(crate::ui::action::Effect::Session(vec![ask])),
            status: None,
        }
    }

    /// A key while the dialog is open.
    pub(super) fn limits_key(&mut self, action: Action) -> KeyOutcome {
        let Some(d) = self.limits.as_mut() else {
            return KeyOutcome::default();
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
                return KeyOutcome::say("rate limits unchanged");
            }
            Action::Accept => return self.apply_limits(),
            _ => {}
        }
        KeyOutcome::default()
    }

    fn apply_limits(&mut self) -> KeyOutcome {
        let Some(d) = self.limits.as_mut() else {
            return KeyOutcome::default();
        };
        let parsed = parse_field(LABELS[0], &d.fields[0])
            .and_then(|down| Ok((down, parse_field(LABELS[1], &d.fields[1])?)));
        let (down, up) = match parsed {
            Ok(rates) => rates,
            Err(e) => {
                d.error = Some(e);
                return KeyOutcome::default();
            }
        };
        let Some(d) = self.limits.take() else {
            return KeyOutcome::default();
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
    pub fn toggle_turtle(&self) -> KeyOutcome {
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
