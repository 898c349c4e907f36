//! The list's commands on the selected or marked torrents (pause, verify, remove, force
//! start, queue moves, and opening the add, move and limits dialogs): the requests they send
//! and the footer line that says so. `ListState::handle` sends here every key that is not
//! the view's own (movement, marks, sort, filter, search).

use crate::engine::api::{Command, TorrentId, TorrentState};
use crate::ui::action::{Action, Effect, Request};

use super::state::{KeyOutcome, ListState, RemoveDialog};

impl ListState {
    /// A command key; any other key does nothing.
    pub(super) fn command_key(&mut self, action: Action) -> KeyOutcome {
        match action {
            Action::TogglePause => return self.pause(),
            Action::Verify => {
                let ids = self.targets();
                let n = ids.len();
                let reqs = ids.into_iter().map(|id| Request::Verify { id }).collect();
                return self.send(reqs, format!("verifying {}", self.count_words(n)));
            }
            Action::Remove => {
                let ids = self.targets();
                if ids.is_empty() {
                    return KeyOutcome::say("no torrent selected");
                }
                let name = match ids.as_slice() {
                    [one] => self.line(*one).map(|t| t.name.clone()),
                    _ => None,
                };
                self.dialog = Some(RemoveDialog { ids, name });
            }
            Action::ForceStart => {
                let ids = self.targets();
                let status = format!("force-starting {}", self.count_words(ids.len()));
                let reqs = ids
                    .into_iter()
                    .flat_map(|id| {
                        [
                            Request::Force { id },
                            Request::Torrent {
                                id,
                                command: Command::Resume,
                            },
                        ]
                    })
                    .collect();
                return self.send(reqs, status);
            }
            Action::ToggleSuperSeed => {
                let ids = self.targets();
                let status = format!("super-seeding on / off for {}", self.count_words(ids.len()));
                let reqs = ids
                    .into_iter()
                    .map(|id| Request::SuperSeed {
                        id,
                        on: !self.line(id).is_some_and(|t| t.super_seeding),
                    })
                    .collect();
                return self.send(reqs, status);
            }
            Action::QueueUp | Action::QueueDown | Action::QueueTop | Action::QueueBottom => {
                use crate::engine::api::Move;
                let to = match action {
                    Action::QueueUp => Move::Up,
                    Action::QueueDown => Move::Down,
                    Action::QueueTop => Move::Top,
                    _ => Move::Bottom,
                };
                // One torrent at a time: a marked set moved up one by one would reorder itself.
                let ids: Vec<TorrentId> = self.targets().into_iter().take(1).collect();
                let status = format!("moving {} in the queue", self.count_words(ids.len()));
                let reqs = ids
                    .into_iter()
                    .map(|id| Request::Queue { id, to })
                    .collect();
                return self.send(reqs, status);
            }
            Action::Add => self.open_add(),
            Action::Move => return self.open_move(),
            Action::SetLimits => return self.limits_for_list(),
            Action::ToggleTurtle => return self.toggle_turtle(),
            _ => {}
        }
        KeyOutcome::default()
    }

    fn count_words(&self, n: usize) -> String {
        match n {
            1 => self
                .targets()
                .first()
                .and_then(|id| self.line(*id))
                .map_or_else(
                    || "1 torrent".into(),
                    |t| crate::fmt::outside(&t.name, 40).into(),
                ),
            n => format!("{n} torrents"),
        }
    }

    pub(super) fn send(&self, reqs: Vec<Request>, status: String) -> KeyOutcome {
        if reqs.is_empty() {
            return KeyOutcome::say("no torrent selected");
        }
        KeyOutcome {
            effect: Some(Effect::Session(reqs)),
            status: Some(status),
        }
    }

    /// One torrent: the engine decides between pause and resume against its own state, so
    /// `p p` cancels out. A marked set: all pause when any runs, else all resume (toggling
    /// each would scatter a mixed set).
    fn pause(&self) -> KeyOutcome {
        let ids = self.targets();
        let command = match ids.as_slice() {
            [_] => Command::TogglePause,
            _ if ids
                .iter()
                .filter_map(|id| self.line(*id))
                .any(|t| t.state != TorrentState::Paused) =>
            {
                Command::Pause
            }
            _ => Command::Resume,
        };
        let word = match command {
            Command::Pause => "pausing",
            Command::Resume => "resuming",
            _ => "pausing or resuming",
        };
        let status = format!("{word} {}", self.count_words(ids.len()));
        let reqs = ids
            .into_iter()
            .map(|id| Request::Torrent {
                id,
                command: command.clone(),
            })
            .collect();
        self.send(reqs, status)
    }
}
