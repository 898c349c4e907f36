//! The list state's side of the move prompt (`m`): opening it for the selected or marked
//! torrents, its keys, and the engine's answer. The prompt itself is `move_prompt.rs`.

use super::move_prompt::*;
use super::state::{KeyOutcome, ListState};
use crate::engine::api::TorrentId;
use crate::fmt;
use crate::ui::action::{Action, Request};
use std::path::{Path, PathBuf};

impl ListState {
    /// `m`: the prompt for the marked torrents, or the selected one.
    pub fn open_move(&mut self) -> KeyOutcome {
        let ids = self.targets();
        let first = ids.first().and_then(|id| self.line(*id));
        let Some(first) = first else {
            return KeyOutcome::say("no torrent selected");
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
        KeyOutcome::default()
    }

    /// A key while the prompt is open.
    pub(super) fn move_key(&mut self, action: Action) -> KeyOutcome {
        let Some(p) = self.moving.as_mut() else {
            return KeyOutcome::default();
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
                return KeyOutcome::say("nothing moved");
            }
            Action::Accept => return self.accept_move(),
            _ => {}
        }
        KeyOutcome::default()
    }

    fn accept_move(&mut self) -> KeyOutcome {
        let Some(p) = self.moving.as_mut() else {
            return KeyOutcome::default();
        };
        let text = p.text.trim();
        if text.is_empty() {
            p.error = Some("give the folder to move the data to".into());
            return KeyOutcome::default();
        }
        // The session may run in another folder (`ttui attach`): only a full path means the
        // same folder to both.
        if !Path::new(text).is_absolute() {
            p.error = Some(format!("not a full path: {text} (start it with /)"));
            return KeyOutcome::default();
        }
        let dir = PathBuf::from(text);
        let Some(p) = self.moving.take() else {
            return KeyOutcome::default();
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
