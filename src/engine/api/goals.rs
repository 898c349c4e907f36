//! Seeding goals and queue moves as the verbs, keys and RPC send them: plain data. The
//! session (`session/goals.rs`, `session/queue.rs`) holds what they mean.

use std::time::Duration;

use super::ValueError;

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
        value: impl Fn(&str) -> Result<Option<T>, ValueError>,
    ) -> Result<Self, ValueError> {
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
    type Err = ValueError;
    fn from_str(s: &str) -> Result<Move, ValueError> {
        match s {
            "top" => Ok(Move::Top),
            "up" => Ok(Move::Up),
            "down" => Ok(Move::Down),
            "bottom" => Ok(Move::Bottom),
            _ => Err(ValueError::NotAMove(s.to_string())),
        }
    }
}

// The words of goals, as people type and read them (flags, the config file, `ttui config`).

/// A ratio goal: a finite number, at least 0; `off` (or `none`) is no goal.
pub fn parse_ratio(s: &str) -> Result<Option<f64>, ValueError> {
    let s = s.trim();
    if matches!(s, "off" | "none") {
        return Ok(None);
    }
    match s.parse::<f64>() {
        Ok(r) if r.is_finite() && r >= 0.0 => Ok(Some(r)),
        _ => Err(ValueError::NotARatio(s.to_string())),
    }
}

/// A duration goal: `parse_duration`, or `off`/`none`/`0` for no goal.
pub fn parse_goal_duration(s: &str) -> Result<Option<Duration>, ValueError> {
    match s.trim() {
        "off" | "none" | "0" => Ok(None),
        s => parse_duration(s).map(Some),
    }
}

/// `45s`, `90m`, `2h`, `1d`, `1h30m`, `1.5h`: numbers each followed by a unit (s, m, h, d),
/// summed. A bare number is refused: minutes or seconds would be a guess.
pub fn parse_duration(text: &str) -> Result<Duration, ValueError> {
    let bad = || ValueError::NotADuration(text.to_string());
    let s = text.trim();
    if s.is_empty() {
        return Err(bad());
    }
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let split = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let (num, tail) = rest.split_at(split);
        let n: f64 = num.parse().map_err(|_| bad())?;
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, next) = tail.split_at(unit_len);
        let secs = match unit.trim() {
            "s" | "sec" | "secs" => 1.0,
            "m" | "min" | "mins" => 60.0,
            "h" | "hr" | "hrs" => 3600.0,
            "d" | "day" | "days" => 86_400.0,
            _ => return Err(bad()),
        };
        total += n * secs;
        rest = next;
    }
    // A hundred years is more than any goal means; beyond it is a typo.
    if !total.is_finite() || total > 100.0 * 365.0 * 86_400.0 {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64(total))
}

/// `45 s`, `90 min`, `2 h`, `3 d`: whole units, the largest that keeps two digits of
/// meaning (under 2 h in minutes, under 2 d in hours).
pub fn human(d: Duration) -> String {
    let s = d.as_secs();
    if s < 120 {
        format!("{s} s")
    } else if s < 2 * 3600 {
        format!("{} min", s / 60)
    } else if s < 2 * 86_400 {
        format!("{} h", s / 3600)
    } else {
        format!("{} d", s / 86_400)
    }
}

/// A duration as a flag value that parses back (`90s`, `5m`, `2h`), for `ttui config`.
pub fn flag_text(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0 => "0s".into(),
        _ if s.is_multiple_of(86_400) => format!("{}d", s / 86_400),
        _ if s.is_multiple_of(3600) => format!("{}h", s / 3600),
        _ if s.is_multiple_of(60) => format!("{}m", s / 60),
        _ => format!("{s}s"),
    }
}
