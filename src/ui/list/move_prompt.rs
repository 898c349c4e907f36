//! `m`: one line asking where to move the data, prefilled with where it is now. Enter sends a
//! `Request::Move` per torrent; the engine's answer comes back as the status line.

use std::path::{Path, PathBuf};

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Widget};

use crate::engine::api::TorrentId;
use crate::fmt;
use crate::ui::action::{Action, Request};
use crate::ui::app::App;
use crate::ui::keys::{key_label, Mode};
use crate::ui::widgets::span;

use super::limits_dialog::tail;
use super::state::{ListState, Outcome};

/// The most characters the folder line holds (PATH_MAX on Linux).
const PATH_MAX: usize = 4096;
/// Tab reads at most this many entries of a folder: a huge one must not stall a key.
const LIST_MAX: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MovePrompt {
    pub ids: Vec<TorrentId>,
    /// "debian.iso" or "3 marked torrents".
    pub what: String,
    pub text: String,
    pub error: Option<String>,
}

impl ListState {
    /// `m`: the prompt for the marked torrents, or the selected one.
    pub fn open_move(&mut self) -> Outcome {
        let ids = self.targets();
        let first = ids.first().and_then(|id| self.line(*id));
        let Some(first) = first else {
            return Outcome::say("no torrent selected");
        };
        let what = match ids.len() {
            1 => fmt::outside(&first.name, 60).into_owned(),
            n => format!("{n} marked torrents"),
        };
        let mut text = first.save_path.to_string_lossy().into_owned();
        if !text.ends_with('/') {
            text.push('/');
        }
        self.moving = Some(MovePrompt {
            ids,
            what,
            text,
            error: None,
        });
        Outcome::default()
    }

    /// A key while the prompt is open.
    pub(super) fn move_key(&mut self, action: Action) -> Outcome {
        let Some(p) = self.moving.as_mut() else {
            return Outcome::default();
        };
        match action {
            Action::Type(c) if !c.is_control() && p.text.chars().count() < PATH_MAX => {
                p.text.push(c);
                p.error = None;
            }
            Action::Erase => {
                p.text.pop();
                p.error = None;
            }
            Action::NextTab => match complete_dir(&p.text) {
                Some(done) => p.text = done,
                None => p.error = Some("no folder to complete to".into()),
            },
            Action::Back => {
                self.moving = None;
                return Outcome::say("nothing moved");
            }
            Action::Accept => return self.accept_move(),
            _ => {}
        }
        Outcome::default()
    }

    fn accept_move(&mut self) -> Outcome {
        let Some(p) = self.moving.as_mut() else {
            return Outcome::default();
        };
        let text = p.text.trim();
        if text.is_empty() {
            p.error = Some("give the folder to move the data to".into());
            return Outcome::default();
        }
        // The session may run in another folder (`ttui attach`): only a full path means the
        // same folder to both.
        if !Path::new(text).is_absolute() {
            p.error = Some(format!("not a full path: {text} (start it with /)"));
            return Outcome::default();
        }
        let dir = PathBuf::from(text);
        let Some(p) = self.moving.take() else {
            return Outcome::default();
        };
        let status = format!(
            "moving {} to {}",
            p.what,
            fmt::outside(&dir.to_string_lossy(), 60)
        );
        let reqs = p
            .ids
            .into_iter()
            .map(|id| Request::Move {
                id,
                dir: dir.clone(),
            })
            .collect();
        self.send(reqs, status)
    }

    /// The engine's answer to a move: done, or why not.
    pub fn on_moved(&self, id: TorrentId, dir: &Path, result: Result<(), String>) -> String {
        let name = self.line(id).map_or_else(
            || format!("torrent {id}"),
            |t| fmt::outside(&t.name, 40).into(),
        );
        let dir = fmt::outside(&dir.to_string_lossy(), 60).into_owned();
        match result {
            Ok(()) => format!("moved {name} to {dir}"),
            Err(e) => format!("moving {name} failed: {}", fmt::outside(&e, 120)),
        }
    }
}

/// `text` with its last part completed to a folder beside it: the one folder it begins, or
/// as much as all the folders it begins share. None when that adds nothing.
pub fn complete_dir(text: &str) -> Option<String> {
    if !text.starts_with('/') {
        return None;
    }
    let cut = text.rfind('/')? + 1;
    let (parent, stem) = text.split_at(cut);
    let mut names: Vec<String> = std::fs::read_dir(parent)
        .ok()?
        .take(LIST_MAX)
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.starts_with(stem) && (stem.starts_with('.') || !n.starts_with('.')))
        .filter(|n| Path::new(parent).join(n).is_dir())
        .collect();
    names.sort();
    let done = match names.as_slice() {
        [] => return None,
        [one] => format!("{parent}{one}/"),
        // Sorted: what the first and the last share, all share.
        [first, .., last] => {
            let mut common = first.as_str();
            while !last.starts_with(common) {
                let end = common.char_indices().last().map_or(0, |(i, _)| i);
                common = &common[..end];
            }
            format!("{parent}{common}")
        }
    };
    (done != text).then_some(done)
}

/// The prompt across the middle of `area`.
pub fn render(area: Rect, buf: &mut Buffer, p: &MovePrompt, app: &App) {
    let theme = &app.theme;
    let w = area.width.min(100);
    let h = area.height.min(5);
    if w < 20 || h < 3 {
        return;
    }
    let popup = Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    };
    Clear.render(popup, buf);
    let inner = usize::from(w.saturating_sub(2));
    let ask = format!(" Move {} to: ", fmt::ellipsize(&p.what, inner / 2));
    let room = inner.saturating_sub(ask.chars().count() + 1);
    let key = |a: Action| key_label(a, Mode::Prompt).unwrap_or_default();
    let lines = vec![
        Line::from(vec![
            Span::raw(ask),
            Span::raw(tail(&p.text, room)),
            span("▏", theme.key()),
        ]),
        match &p.error {
            Some(e) => Line::from(span(format!(" {}", fmt::clean(e)), theme.error())),
            None => Line::default(),
        },
        Line::from(vec![
            span(format!(" {}", key(Action::Accept)), theme.key()),
            Span::raw(" move   "),
            span(key(Action::NextTab), theme.key()),
            Span::raw(" complete a folder   "),
            span(key(Action::Back), theme.key()),
            Span::raw(" cancel"),
        ]),
    ];
    let block = Block::new()
        .borders(Borders::ALL)
        .border_style(theme.accent())
        .title(Line::from(" Move the data ").style(theme.title(true)));
    Paragraph::new(lines).block(block).render(popup, buf);
}

#[cfg(test)]
#[path = "move_prompt_tests.rs"]
mod tests;
