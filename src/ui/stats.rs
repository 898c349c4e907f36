//! The statistics view's state: what the session's accounting said last (asked again every
//! few seconds while the view is open), the grouping asked for, and the selected row, whose
//! days the bars show.

use crate::engine::api::{Stats, StatsBy};

#[derive(Debug, Default)]
pub struct StatsView {
    pub by: StatsBy,
    /// The last answer; None until the first comes.
    pub stats: Option<Stats>,
    /// Why the last ask failed (an attached screen whose session went away).
    pub error: Option<String>,
    /// The selected row, by key, so it stays on the same tracker when rows re-sort.
    pub selected: Option<String>,
}

impl StatsView {
    /// The selected row's index in the last answer (the first when none is selected).
    pub fn selected_row(&self) -> usize {
        let Some(s) = &self.stats else {
            return 0;
        };
        self.selected
            .as_ref()
            .and_then(|k| s.rows.iter().position(|r| &r.key == k))
            .unwrap_or(0)
    }

    /// Moves the selection `by` rows (clamped).
    pub fn step(&mut self, by: isize) {
        let Some(s) = &self.stats else {
            return;
        };
        if s.rows.is_empty() {
            return;
        }
        let i = self
            .selected_row()
            .saturating_add_signed(by)
            .min(s.rows.len() - 1);
        self.selected = Some(s.rows[i].key.clone());
    }

    /// Rows by the next grouping: tracker, label, torrent. Returns the new one to ask for.
    pub fn cycle(&mut self) -> StatsBy {
        self.by = match self.by {
            StatsBy::Tracker => StatsBy::Label,
            StatsBy::Label => StatsBy::Torrent,
            StatsBy::Torrent => StatsBy::Tracker,
        };
        self.stats = None;
        self.selected = None;
        self.by
    }

    /// The session's answer; one for another grouping than the one now shown is dropped.
    pub fn on_stats(&mut self, answer: Result<Stats, String>) {
        match answer {
            Ok(s) if s.by == self.by => {
                self.stats = Some(s);
                self.error = None;
            }
            Ok(_) => {}
            Err(e) => self.error = Some(e),
        }
    }
}
