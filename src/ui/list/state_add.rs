//! The list state's side of the add dialog (`a`): opening it, routing keys and pasted text to
//! it, and sending what it asks. The dialog itself is `add_state.rs` (drawn by `add_dialog.rs`).

use super::add_state::*;
use super::state::{KeyOutcome, ListState};
use crate::ui::action::{Action, Effect};
use std::path::PathBuf;

impl ListState {
    /// `a`: the dialog, its save path prefilled with the session's default.
    pub(super) fn open_add(&mut self) {
        let default = self
            .session()
            .map(|s| s.default_save_path.clone())
            .unwrap_or_default();
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
        let home = std::env::var_os("HOME").map(PathBuf::from);
        self.adding = Some(AddDialog::new(&default, cwd, home));
    }

    /// A key while the add dialog is open.
    pub(super) fn add_key(&mut self, action: Action) -> KeyOutcome {
        let Some(d) = self.adding.as_mut() else {
            return KeyOutcome::default();
        };
        let what = match &d.loaded {
            Loaded::Torrent { name, .. } => crate::fmt::outside(name, 40).into_owned(),
            Loaded::Magnet(_) => "the magnet link".into(),
            Loaded::Url(u) => crate::fmt::outside(u, 40).into_owned(),
            Loaded::Nothing => String::new(),
        };
        let (effect, status) = match d.handle(action) {
            Step::Stay => return KeyOutcome::default(),
            Step::Cancel => (None, "nothing added".to_string()),
            Step::Send(r) => (Some(Effect::Session(vec![r])), format!("adding {what}")),
        };
        self.adding = None;
        KeyOutcome {
            effect,
            status: Some(status),
        }
    }

    /// A bracketed paste: into the add dialog's field, or the search line.
    pub fn paste(&mut self, text: &str) {
        if let Some(d) = self.adding.as_mut() {
            d.paste(text);
        } else if self.searching {
            for c in text.chars().filter(|c| !c.is_control()) {
                self.handle(Action::Type(c));
            }
        }
    }
}
