//! A torrent's status as one typed value, and its words for people and scripts, made here
//! once. `TorrentLine::status` reads it off the line the session publishes: a phase (what
//! the torrent is doing) and a hold (what keeps it from doing more). Every face maps this
//! value to its own wire (`ttui list`'s word, the TUI's line, Transmission's status number,
//! qBittorrent's state string) and no face looks at the line's state, queue or goal fields
//! to work it out again: before this module the same torrent was "seeding" in `ttui list`
//! and "complete" in the TUI, and a check's progress was written four ways.

use std::path::Path;

use super::{QueueState, Snapshot, TorrentLine, TorrentState};

/// What a torrent is doing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Phase<'a> {
    /// A magnet still fetching its metadata from peers (BEP 9).
    Metadata,
    /// Checking its data: pieces checked so far of `total` (0 of them while its check waits
    /// for its turn, `Hold::Queue(QueueState::CheckWaiting)`).
    Checking {
        checked: u32,
        total: u32,
        /// Bytes hashed a second lately, 0 until known.
        rate: u64,
        /// Seconds left at that rate, none until known.
        eta: Option<u64>,
    },
    Downloading,
    /// Every wanted piece verified, and it serves peers.
    Seeding,
    /// Every wanted piece verified, and it does not upload (seeding off).
    Complete,
    Paused,
    /// Its data moves (out of the incomplete directory, or where a user moved it); `to` is
    /// where, when the session names it.
    Moving {
        to: Option<&'a Path>,
    },
    /// It stopped on an error; the words are the error's.
    Error(&'a str),
}

/// What keeps a torrent from doing more than its phase says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    /// The session's queue: waits for a slot or for its check, or is counted out as slow.
    Queue(QueueState),
    /// A seeding goal (ratio, seeding time, idle time) paused it: Transmission's
    /// `isFinished`. The goal is named in the cause's words.
    Goal,
    /// Anything else the code that decides names in words: a rate limit at full use, the
    /// files wanted, a failed on-complete command, pieces no peer has.
    Cause,
}

/// A torrent's status: its phase, its hold, and the cause in words as the deciding code
/// wrote it (never repeating the phase's word).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Status<'a> {
    pub phase: Phase<'a>,
    pub hold: Option<Hold>,
    /// Every wanted byte is verified (a paused or moving torrent can be done).
    pub done: bool,
    /// Force-started: runs whatever the queue says.
    pub forced: bool,
    cause: Option<&'a str>,
}

impl Phase<'_> {
    /// The phase a task's state says, `metadata` telling a magnet still without its metadata
    /// from a download (a move is the session's, not the state's).
    fn of(state: &TorrentState, metadata: bool) -> Phase<'_> {
        match state {
            TorrentState::Error(msg) => Phase::Error(msg),
            TorrentState::Paused => Phase::Paused,
            TorrentState::Checking {
                checked,
                total,
                rate,
                eta,
            } => Phase::Checking {
                checked: *checked,
                total: *total,
                rate: *rate,
                eta: *eta,
            },
            TorrentState::Downloading if metadata => Phase::Metadata,
            TorrentState::Downloading => Phase::Downloading,
            TorrentState::Seeding => Phase::Seeding,
            TorrentState::Complete => Phase::Complete,
        }
    }
}

impl TorrentLine {
    /// Its status, read off the line (see the module's header).
    pub fn status(&self) -> Status<'_> {
        let phase = match &self.state {
            TorrentState::Error(msg) => Phase::Error(msg),
            _ if self.moving => Phase::Moving {
                to: self.final_dir.as_deref(),
            },
            state => Phase::of(state, self.fetching_metadata()),
        };
        let cause = self.why.as_deref().filter(|w| !w.is_empty());
        let hold = match (&phase, self.queue) {
            (Phase::Error(_), _) => None,
            _ if self.goal_reached => Some(Hold::Goal),
            (_, Some(q)) => Some(Hold::Queue(q)),
            _ => cause.map(|_| Hold::Cause),
        };
        Status {
            phase,
            hold,
            done: self.wanted_bytes > 0 && self.left() == 0,
            forced: self.own.forced,
            cause: match phase {
                // The error's words are the phase's own.
                Phase::Error(_) => None,
                _ => cause,
            },
        }
    }
}

impl Snapshot {
    /// Its status as a torrent's own snapshot tells it (the detail view, the one-shot
    /// download): the phase alone, as the session's queue and goals are its line's.
    pub fn status(&self) -> Status<'_> {
        let phase = Phase::of(&self.state, self.total_length == 0);
        Status {
            phase,
            hold: None,
            done: self.total_length > 0 && self.verified_bytes >= self.total_length,
            forced: false,
            cause: None,
        }
    }
}

impl Status<'_> {
    /// Waits for a download or seed slot.
    pub fn queued(&self) -> bool {
        matches!(self.hold, Some(Hold::Queue(q)) if q.waits_for_slot())
    }

    /// Its check waits for its turn.
    pub fn check_waits(&self) -> bool {
        matches!(
            self.hold,
            Some(Hold::Queue(QueueState::CheckWaiting { .. }))
        )
    }

    /// The one word scripts match on (`ttui list --json`'s `state`): metadata, checking,
    /// queued, downloading, seeding, complete, paused, moving or error. A torrent waiting
    /// for a slot is `queued`, whatever it would do with one.
    pub fn word(&self) -> &'static str {
        match self.phase {
            Phase::Error(_) => "error",
            Phase::Moving { .. } => "moving",
            _ if self.queued() => "queued",
            Phase::Metadata => "metadata",
            Phase::Checking { .. } => "checking",
            Phase::Downloading => "downloading",
            Phase::Seeding => "seeding",
            Phase::Complete => "complete",
            Phase::Paused => "paused",
        }
    }

    /// What follows the word, never repeating it: how far a check has come ("25% checked at
    /// 310 MB/s, 12s left", the one way a check's progress is written; none while it waits), then the cause ("queued 3rd, 3 at a
    /// time", "ratio 2.0 reached", "4th for 3 download slots"); the error's words for an
    /// error; where a move goes. None when nothing more is to be said.
    pub fn why(&self) -> Option<String> {
        let progress = match self.phase {
            Phase::Error(msg) => return Some(msg.to_string()),
            // A check that waits for its turn has no progress to tell.
            Phase::Checking {
                checked,
                total,
                rate,
                eta,
            } if total > 0 && !self.check_waits() => {
                let mut words = format!("{}% checked", u64::from(checked) * 100 / u64::from(total));
                if rate > 0 {
                    words.push_str(&format!(" at {}", crate::fmt::rate(rate as f64)));
                }
                if let Some(eta) = eta {
                    let left = crate::fmt::duration(std::time::Duration::from_secs(eta));
                    words.push_str(&format!(", {left} left"));
                }
                Some(words)
            }
            Phase::Moving { to: Some(to) } if self.cause.is_none() => {
                return Some(format!("to {}", to.display()))
            }
            _ => None,
        };
        match (progress, self.cause) {
            (Some(p), Some(c)) => Some(format!("{p}; {c}")),
            (Some(p), None) => Some(p),
            (None, c) => c.map(str::to_string),
        }
    }

    /// The words for people: the word, then what follows it ("checking: 25% checked",
    /// "queued: 4th for 3 download slots", "error: disk full"). Not cleaned: a face that
    /// draws it cleans what came from outside (an error's text, a path).
    pub fn text(&self) -> String {
        match self.why() {
            Some(why) => format!("{}: {why}", self.label()),
            None => self.label().to_string(),
        }
    }

    /// The word for people: the script's word, but "fetching metadata" for `metadata`.
    pub fn label(&self) -> &'static str {
        match self.word() {
            "metadata" => "fetching metadata",
            word => word,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::api::TorrentId;

    fn line(state: TorrentState) -> TorrentLine {
        let mut l = TorrentLine::placeholder(TorrentId(1));
        (l.total_bytes, l.wanted_bytes) = (100, 100);
        l.state = state;
        l
    }

    #[test]
    fn each_phase_has_one_word_and_one_text() {
        let mut l = line(TorrentState::Downloading);
        assert_eq!(l.status().text(), "downloading");
        l.why = Some("no peer has 3 pieces".into());
        assert_eq!(l.status().text(), "downloading: no peer has 3 pieces");
        assert_eq!(l.status().hold, Some(Hold::Cause));

        let mut l = line(TorrentState::Complete);
        l.verified_bytes = 100;
        assert_eq!(l.status().word(), "complete");
        assert!(l.status().done);

        let mut l = line(TorrentState::Downloading);
        l.total_bytes = 0;
        assert_eq!(l.status().phase, Phase::Metadata);
        assert_eq!(l.status().word(), "metadata");
        l.why = Some("no peers yet".into());
        assert_eq!(l.status().text(), "fetching metadata: no peers yet");

        let l = line(TorrentState::Error("disk full".into()));
        assert_eq!(l.status().text(), "error: disk full");
        assert_eq!(l.status().hold, None);
    }

    #[test]
    fn a_checks_progress_is_written_one_way_before_what_holds_it() {
        let mut l = line(TorrentState::checking(2, 8));
        assert_eq!(l.status().text(), "checking: 25% checked");
        l.state = TorrentState::Checking {
            checked: 2,
            total: 8,
            rate: 300 << 20,
            eta: Some(75),
        };
        assert_eq!(
            l.status().text(),
            "checking: 25% checked at 300 MiB/s, 1m 15s left"
        );
        let waits = QueueState::CheckWaiting {
            rank: 3,
            at_once: 3,
        };
        (l.queue, l.why) = (Some(waits), Some(waits.why()));
        l.state = TorrentState::checking(0, 8);
        let s = l.status();
        assert!(s.check_waits());
        assert_eq!(s.text(), "checking: queued 3rd, 3 at a time");
    }

    #[test]
    fn the_queue_names_the_word_and_a_goal_the_hold() {
        let mut l = line(TorrentState::Downloading);
        let q = QueueState::Waiting {
            seed: false,
            rank: 4,
            slots: 3,
        };
        (l.queue, l.why) = (Some(q), Some(q.why()));
        assert_eq!(l.status().text(), "queued: 4th for 3 download slots");
        assert_eq!(l.status().phase, Phase::Downloading);

        let mut l = line(TorrentState::Paused);
        (l.goal_reached, l.why) = (true, Some("ratio 2.0 reached".into()));
        assert_eq!(l.status().hold, Some(Hold::Goal));
        assert_eq!(l.status().text(), "paused: ratio 2.0 reached");
    }

    #[test]
    fn a_move_names_where_it_goes() {
        let mut l = line(TorrentState::Seeding);
        (l.moving, l.final_dir) = (true, Some("/data/done".into()));
        assert_eq!(l.status().text(), "moving: to /data/done");
        l.why = Some("slow disk".into());
        assert_eq!(l.status().text(), "moving: slow disk");
    }
}
