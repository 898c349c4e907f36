//! The session's accounting (`engine/ledger.rs`) kept and read: loaded before any torrent
//! runs, saved every minute while it changed (off the loop, crash-safe) and at a clean stop,
//! and reported to `ttui stats` and the TUI's statistics view with each torrent's labels of
//! now.

use std::time::Duration;

use super::Manager;
use crate::engine::api::{Stats, StatsBy};

/// How often a changed ledger is saved: at most this much accounting is lost to a power cut.
pub(super) const SAVE_EVERY: Duration = Duration::from_secs(60);

/// `SAVE_EVERY`, or the tests' `TTUI_LEDGER_SAVE_MS`.
pub(super) fn save_every() -> Duration {
    std::env::var("TTUI_LEDGER_SAVE_MS")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|ms| *ms > 0)
        .map_or(SAVE_EVERY, Duration::from_millis)
}

impl Manager {
    /// What the state directory kept, before any torrent counts.
    pub(super) fn load_ledger(&self) {
        let Some(p) = &self.persist else {
            return;
        };
        match p.store().load_ledger() {
            None => {}
            Some(Ok(bytes)) => {
                if let Err(e) = self.session.ctx.ledger.read_saved(&bytes) {
                    tracing::warn!(
                        "the accounting kept in {} cannot be read ({e}): counting starts again",
                        crate::engine::ledger::FILE
                    );
                }
            }
            Some(Err(e)) => {
                tracing::warn!("the accounting kept cannot be read ({e}): counting starts again")
            }
        }
    }

    /// Saves the ledger if it changed: off the loop unless `now` (the clean stop).
    pub(super) async fn save_ledger(&mut self, now: bool) {
        let Some(p) = &self.persist else {
            return;
        };
        let ledger = std::sync::Arc::clone(&self.session.ctx.ledger);
        let Some(bytes) = ledger.encode_if_changed() else {
            return;
        };
        let store = p.store();
        let save = move || {
            if let Err(e) = store.save_ledger(&bytes) {
                tracing::warn!("the accounting was not saved ({e}): tried again in a minute");
                ledger.save_failed();
            }
        };
        if now {
            save();
        } else if self.ledger_saving.as_ref().is_none_or(|t| t.is_finished()) {
            self.ledger_saving = Some(tokio::task::spawn_blocking(save));
        } else {
            // The last save is still under way (a slow disk): this one waits for the next turn.
            self.session.ctx.ledger.save_failed();
        }
    }

    /// The rows of `ttui stats`, with each torrent's labels of now.
    pub(super) fn stats(&self, by: StatsBy) -> Stats {
        let ledger = &self.session.ctx.ledger;
        if by == StatsBy::Label {
            ledger.label(
                self.slots
                    .iter()
                    .map(|s| (s.info_hash, s.policy.kept.labels.as_slice())),
            );
        }
        ledger.report(by, crate::engine::ledger::today())
    }
}
