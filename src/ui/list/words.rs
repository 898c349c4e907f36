//! A torrent's state in words, which filter it falls under, and the date it was added: the
//! text the list shows, as pure functions of one `TorrentLine`.

use ratatui::style::{Modifier, Style};

use crate::engine::api::{Phase, TorrentLine};
use crate::fmt::outside;
use crate::ui::theme::Theme;
use crate::ui::widgets::LINE_MAX;

/// The state filters, in the order `f` cycles them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum Filter {
    #[default]
    All,
    Downloading,
    Seeding,
    Paused,
    Queued,
    Error,
}

impl Filter {
    pub const ALL: [Filter; 6] = [
        Filter::All,
        Filter::Downloading,
        Filter::Seeding,
        Filter::Paused,
        Filter::Queued,
        Filter::Error,
    ];

    pub fn next(self) -> Self {
        let i = Self::ALL.iter().position(|f| *f == self).unwrap_or(0);
        Self::ALL[(i + 1) % Self::ALL.len()]
    }

    pub fn label(self) -> &'static str {
        match self {
            Filter::All => "all",
            Filter::Downloading => "downloading",
            Filter::Seeding => "seeding",
            Filter::Paused => "paused",
            Filter::Queued => "queued",
            Filter::Error => "error",
        }
    }

    /// Whether `t` shows under this filter. A torrent being checked counts only under "all":
    /// it neither downloads nor seeds yet.
    pub fn admits(self, t: &TorrentLine) -> bool {
        let status = t.status();
        let queued = status.queued();
        match (self, status.phase) {
            (Filter::All, _) => true,
            (Filter::Queued, _) => queued,
            (Filter::Error, phase) => matches!(phase, Phase::Error(_)),
            (_, Phase::Error(_)) => false,
            (Filter::Downloading, Phase::Downloading | Phase::Metadata) => !queued,
            (Filter::Seeding, Phase::Seeding | Phase::Complete) => !queued,
            (Filter::Paused, Phase::Paused) => !queued,
            _ => false,
        }
    }
}

/// The status in words (`api::Status::text`: "downloading", "checking: 40% checked",
/// "paused: ratio 2.0 reached", "queued: 4th for 3 download slots", "error: disk full"),
/// cleaned: a cause or an error may quote outside bytes.
pub fn state_text(t: &TorrentLine) -> String {
    outside(&t.status().text(), LINE_MAX).into_owned()
}

/// The state column's colour; the words tell the same without colour.
pub fn state_style(t: &TorrentLine, theme: &Theme) -> Style {
    let status = t.status();
    if status.queued() {
        return theme.dim();
    }
    match status.phase {
        Phase::Checking { .. } | Phase::Metadata | Phase::Moving { .. } => theme.accent(),
        Phase::Downloading if status.hold.is_some() => theme.warn(),
        Phase::Downloading => theme.down(),
        Phase::Paused => theme.warn(),
        Phase::Complete => theme.verified(),
        Phase::Seeding => theme.up(),
        Phase::Error(_) => theme.error().add_modifier(Modifier::BOLD),
    }
}

/// Order of states when sorting by state: what needs a look first.
pub fn state_rank(t: &TorrentLine) -> u8 {
    let status = t.status();
    if status.queued() {
        return 4;
    }
    match status.phase {
        Phase::Error(_) => 0,
        Phase::Downloading | Phase::Metadata => 1,
        Phase::Checking { .. } | Phase::Moving { .. } => 2,
        Phase::Seeding => 3,
        Phase::Paused => 5,
        Phase::Complete => 6,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::api::TorrentState;
    use crate::ui::list::test_line as line;

    #[test]
    fn states_in_words() {
        let mut t = line(1, "a", TorrentState::Downloading);
        assert_eq!(state_text(&t), "downloading");
        t.why = Some("no peer has 3 pieces".into());
        assert_eq!(state_text(&t), "downloading: no peer has 3 pieces");
        t.state = TorrentState::Paused;
        t.why = Some("ratio 2.0 reached".into());
        assert_eq!(state_text(&t), "paused: ratio 2.0 reached");
        let queued = crate::engine::api::QueueState::Waiting {
            seed: false,
            rank: 4,
            slots: 3,
        };
        t.queue = Some(queued);
        t.why = Some(queued.why());
        assert_eq!(state_text(&t), "queued: 4th for 3 download slots");
        t.queue = None;
        t.state = TorrentState::Seeding;
        t.why = Some("done (2 of 5 files wanted)".into());
        assert_eq!(state_text(&t), "seeding: done (2 of 5 files wanted)");
        t.why = Some("moving to /x (slow disk)".into());
        assert_eq!(state_text(&t), "seeding: moving to /x (slow disk)");
        (t.why, t.moving, t.final_dir) = (None, true, Some("/x".into()));
        assert_eq!(state_text(&t), "moving: to /x");
        t.moving = false;
        t.state = TorrentState::Paused;
        t.queue = Some(queued);
        t.why = Some(queued.why());
        assert!(Filter::Queued.admits(&t) && !Filter::Paused.admits(&t));
        // Words alone do not make a torrent queued.
        t.queue = None;
        assert!(!Filter::Queued.admits(&t) && Filter::Paused.admits(&t));
        t.state = TorrentState::checking(40, 100);
        t.why = None;
        assert_eq!(state_text(&t), "checking: 40% checked");
        t.state = TorrentState::checking(0, 0);
        assert_eq!(state_text(&t), "checking");
        // Held for its turn to check: the queue's word, without a percentage of nothing.
        let check = crate::engine::api::QueueState::CheckWaiting {
            rank: 3,
            at_once: 3,
        };
        (t.queue, t.why) = (Some(check), Some(check.why()));
        assert_eq!(state_text(&t), "checking: queued 3rd, 3 at a time");
        t.queue = None;
        t.state = TorrentState::Error("disk\x1b[2J full".into());
        assert_eq!(state_text(&t), "error: disk\u{fffd}[2J full");
        assert!(Filter::Error.admits(&t) && !Filter::Downloading.admits(&t));
    }

    #[test]
    fn filters_cycle_back_to_all() {
        let mut f = Filter::All;
        for _ in 0..Filter::ALL.len() {
            f = f.next();
        }
        assert_eq!(f, Filter::All);
    }
}
