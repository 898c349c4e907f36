//! A torrent's state in words, which filter it falls under, and the date it was added: the
//! text the list shows, as pure functions of one `TorrentLine`.

use ratatui::style::{Modifier, Style};

use crate::engine::api::{TorrentLine, TorrentState};
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
        match self {
            Filter::All => true,
            Filter::Queued => is_queued(t),
            Filter::Downloading => t.state == TorrentState::Downloading && !is_queued(t),
            Filter::Seeding => {
                matches!(t.state, TorrentState::Seeding | TorrentState::Complete) && !is_queued(t)
            }
            Filter::Paused => t.state == TorrentState::Paused && !is_queued(t),
            Filter::Error => matches!(t.state, TorrentState::Error(_)),
        }
    }
}

/// Waiting for a download or seed slot, as the session's queue says.
pub fn is_queued(t: &TorrentLine) -> bool {
    !matches!(t.state, TorrentState::Error(_)) && t.queue.is_some_and(|q| q.waits_for_slot())
}

/// The state with its reason: "downloading", "seeding", "checking 40%", "error: disk full",
/// "paused: ratio 2.0 reached", "queued: 4th for 3 download slots", "downloading: no peer has
/// 3 pieces". The state word is the queue's where it holds the torrent (`QueueState::
/// state_word`), and `why` never repeats it (`TorrentLine::why`). Cleaned: `why` and error
/// text may quote outside bytes.
pub fn state_text(t: &TorrentLine) -> String {
    let word = match (&t.state, t.queue.and_then(|q| q.state_word())) {
        (TorrentState::Error(msg), _) => return format!("error: {}", outside(msg, LINE_MAX)),
        (_, Some(word)) => word.to_string(),
        (TorrentState::Checking { checked, total }, None) => {
            let pct = (u64::from(*checked) * 100)
                .checked_div(u64::from(*total))
                .unwrap_or(0);
            format!("checking {pct}%")
        }
        (other, None) => other.label().to_string(),
    };
    match t.why.as_deref() {
        None | Some("") => word,
        Some(why) => format!("{word}: {}", outside(why, LINE_MAX)),
    }
}

/// The state column's colour; the words tell the same without colour.
pub fn state_style(t: &TorrentLine, theme: &Theme) -> Style {
    if is_queued(t) {
        return theme.dim();
    }
    match &t.state {
        TorrentState::Checking { .. } => theme.accent(),
        TorrentState::Downloading if t.why.is_some() => theme.warn(),
        TorrentState::Downloading => theme.down(),
        TorrentState::Paused => theme.warn(),
        TorrentState::Complete => theme.verified(),
        TorrentState::Seeding => theme.up(),
        TorrentState::Error(_) => theme.error().add_modifier(Modifier::BOLD),
    }
}

/// Order of states when sorting by state: what needs a look first.
pub fn state_rank(t: &TorrentLine) -> u8 {
    if is_queued(t) {
        return 4;
    }
    match t.state {
        TorrentState::Error(_) => 0,
        TorrentState::Downloading => 1,
        TorrentState::Checking { .. } => 2,
        TorrentState::Seeding => 3,
        TorrentState::Paused => 5,
        TorrentState::Complete => 6,
    }
}

/// "2026-11-22" from Unix seconds, UTC (the list is a pure function of its data: no clock
/// and no time zone database). With `time`, "2026-11-22 20:25".
pub fn date(unix: u64, time: bool) -> String {
    let days = (unix / 86_400) as i64;
    let (y, m, d) = civil_from_days(days);
    if time {
        let s = unix % 86_400;
        format!("{y:04}-{m:02}-{d:02} {:02}:{:02}", s / 3600, s % 3600 / 60)
    } else {
        format!("{y:04}-{m:02}-{d:02}")
    }
}

/// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
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
        t.state = TorrentState::Paused;
        t.queue = Some(queued);
        t.why = Some(queued.why());
        assert!(Filter::Queued.admits(&t) && !Filter::Paused.admits(&t));
        // Words alone do not make a torrent queued.
        t.queue = None;
        assert!(!Filter::Queued.admits(&t) && Filter::Paused.admits(&t));
        t.state = TorrentState::Checking {
            checked: 40,
            total: 100,
        };
        t.why = None;
        assert_eq!(state_text(&t), "checking 40%");
        t.state = TorrentState::Checking {
            checked: 0,
            total: 0,
        };
        assert_eq!(state_text(&t), "checking 0%");
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

    #[test]
    fn dates() {
        assert_eq!(date(0, false), "1970-01-01");
        assert_eq!(date(951_782_400, false), "2000-02-29");
        assert_eq!(date(1_795_465_500, true), "2026-11-23 20:25");
    }
}
