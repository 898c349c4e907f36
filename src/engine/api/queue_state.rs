//! What the session's queue says of a torrent, as data. The queue decides with its own
//! `Verdict` (`engine/session/queue.rs`); a torrent's line carries this public form of it, and
//! each face maps it for its audience: the English below for people (TUI, CLI), the RPC's
//! status numbers, the control socket's words. No face reads the sentence back.

use std::time::Duration;

/// The queue's word on a torrent that it holds back or counts out; a torrent that simply runs
/// (or is paused, or failed) has none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum QueueState {
    /// Waits for a slot of its kind: `rank`-th in line for `slots` slots. A download waits
    /// stopped; a seed waits with its peers connected, unchoking none of them anew.
    Waiting { seed: bool, rank: u32, slots: u32 },
    /// Would run, but waits without a task for its turn to open and check its data,
    /// `rank`-th in line for `at_once` checks at a time.
    CheckWaiting { rank: u32, at_once: u32 },
    /// A download that runs without taking a slot: below `below` bytes a second for `secs`.
    Stalled { secs: u64, below: u64 },
    /// A seed that runs without taking a slot: uploading below `below` bytes a second for
    /// `secs` while a peer wanted data.
    SlowSeed { secs: u64, below: u64 },
}

impl QueueState {
    /// Waits for a download or seed slot (not for its check).
    pub fn waits_for_slot(self) -> bool {
        matches!(self, QueueState::Waiting { .. })
    }

    /// Counted out of the queue for being slow (Transmission's `isStalled`).
    pub fn is_stalled(self) -> bool {
        matches!(
            self,
            QueueState::Stalled { .. } | QueueState::SlowSeed { .. }
        )
    }

    /// The state word a face shows for a torrent the queue holds this way ("queued" for a
    /// slot, "checking" for a check), where the torrent's own state would say something
    /// else; None when the torrent's state stands (a stalled download still downloads).
    pub fn state_word(self) -> Option<&'static str> {
        match self {
            QueueState::Waiting { .. } => Some("queued"),
            QueueState::CheckWaiting { .. } => Some("checking"),
            QueueState::Stalled { .. } | QueueState::SlowSeed { .. } => None,
        }
    }

    /// The line's `why`: what follows the state word, never the word itself, as every
    /// `why` is ("4th for 3 download slots", "queued 37th, 3 at a time", "not counted:
    /// stalled 6 min below 2.0 KiB/s"). A face shows "{state}: {why}".
    pub fn why(self) -> String {
        let slow = |secs: u64| super::goals::human(Duration::from_secs(secs));
        match self {
            QueueState::Waiting { seed, rank, slots } => {
                let kind = if seed { "seed" } else { "download" };
                let plural = if slots == 1 { "" } else { "s" };
                format!("{} for {slots} {kind} slot{plural}", ordinal(rank))
            }
            QueueState::CheckWaiting { rank, at_once } => {
                format!("queued {}, {at_once} at a time", ordinal(rank))
            }
            QueueState::Stalled { secs, below } => format!(
                "not counted: stalled {} below {}",
                slow(secs),
                crate::fmt::rate(below as f64)
            ),
            QueueState::SlowSeed { secs, below } => format!(
                "not counted: uploading {} below {}",
                slow(secs),
                crate::fmt::rate(below as f64)
            ),
        }
    }
}

/// The words for people on their own, the state word first where the queue sets it:
/// "queued: 4th for 3 download slots", "checking: queued 37th, 3 at a time", "not counted:
/// stalled 6 min below 2.0 KiB/s" (the evidence of `explain`).
impl std::fmt::Display for QueueState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.state_word() {
            Some(word) => write!(f, "{word}: {}", self.why()),
            None => f.write_str(&self.why()),
        }
    }
}

/// "1st", "2nd", "3rd", "4th", "11th", "22nd".
fn ordinal(n: u32) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinals() {
        let got: Vec<String> = [1, 2, 3, 4, 11, 12, 13, 21, 22, 101, 111]
            .into_iter()
            .map(ordinal)
            .collect();
        assert_eq!(
            got,
            [
                "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "101st",
                "111th"
            ]
        );
    }

    #[test]
    fn words_for_people() {
        let w = |q: QueueState| q.to_string();
        assert_eq!(
            w(QueueState::Waiting {
                seed: false,
                rank: 4,
                slots: 3
            }),
            "queued: 4th for 3 download slots"
        );
        assert_eq!(
            w(QueueState::Waiting {
                seed: true,
                rank: 1,
                slots: 1
            }),
            "queued: 1st for 1 seed slot"
        );
        assert_eq!(
            w(QueueState::CheckWaiting {
                rank: 37,
                at_once: 3
            }),
            "checking: queued 37th, 3 at a time"
        );
        let stalled = QueueState::Stalled {
            secs: 360,
            below: 2048,
        };
        assert!(w(stalled).starts_with("not counted: stalled "), "{stalled}");
        assert!(stalled.is_stalled() && !stalled.waits_for_slot());
    }

    /// A line's `why` never repeats the state word a face puts before it.
    #[test]
    fn why_leaves_the_state_word_to_the_face() {
        let queued = QueueState::Waiting {
            seed: false,
            rank: 2,
            slots: 1,
        };
        assert_eq!(queued.why(), "2nd for 1 download slot");
        assert_eq!(queued.state_word(), Some("queued"));
        let check = QueueState::CheckWaiting {
            rank: 3,
            at_once: 3,
        };
        assert_eq!(check.why(), "queued 3rd, 3 at a time");
        assert_eq!(check.state_word(), Some("checking"));
        let slow = QueueState::SlowSeed {
            secs: 300,
            below: 1024,
        };
        assert_eq!(slow.state_word(), None);
        assert_eq!(slow.why(), slow.to_string());
    }

    #[test]
    fn serialized_with_its_kind() {
        let q = QueueState::Waiting {
            seed: true,
            rank: 2,
            slots: 1,
        };
        let v = serde_json::to_value(q).unwrap();
        assert_eq!(v["kind"], "waiting");
        assert_eq!(v["rank"], 2);
        assert_eq!(serde_json::from_value::<QueueState>(v).unwrap(), q);
    }
}
