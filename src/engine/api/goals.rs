//! Seeding goals and queue moves as the verbs, keys and RPC send them: plain data. The
//! session (`session/goals.rs`, `session/queue.rs`) holds what they mean.

use std::time::Duration;

/// The session-wide goals; None is no goal.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Goals {
    pub ratio: Option<f64>,
    pub seed_time: Option<Duration>,
    pub idle: Option<Duration>,
}

/// What ends a torrent's seeding once a goal is reached.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum GoalAction {
    #[default]
    Pause,
    /// Remove the torrent from the session; its data stays.
    Remove,
}

/// One goal of one torrent, as `ttui limit ID --seed-ratio R` sets it: back to the
/// session's (`default`), none for this torrent (`off`), or its own value.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Set<T> {
    Default,
    Off,
    To(T),
}

impl<T: Copy> Set<T> {
    /// `default`, else what `value` reads (`off` there is [`Set::Off`]).
    pub fn parse(
        s: &str,
        value: impl Fn(&str) -> Result<Option<T>, String>,
    ) -> Result<Self, String> {
        if s.trim() == "default" {
            return Ok(Set::Default);
        }
        Ok(value(s)?.map_or(Set::Off, Set::To))
    }
}

/// Where a queue move puts a torrent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Move {
    Top,
    Up,
    Down,
    Bottom,
}

impl std::str::FromStr for Move {
    type Err = String;
    fn from_str(s: &str) -> Result<Move, String> {
        match s {
            "top" => Ok(Move::Top),
            "up" => Ok(Move::Up),
            "down" => Ok(Move::Down),
            "bottom" => Ok(Move::Bottom),
            _ => Err(format!("`{s}` is not one of top, up, down, bottom")),
        }
    }
}
