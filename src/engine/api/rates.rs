//! Rate settings and their words, as people write them: a rate (`2M`, `500K`, `1.5MiB`,
//! `800k/s`, `0` for unlimited; K, M and G are binary, as everywhere in ttui; a bare number is
//! bytes per second) and turtle mode's daily window (`alt-schedule = "01:00-07:00"`, local
//! time). Plain data: the limiter that applies them is `peer::rate`.

#[cfg(test)]
mod tests;

use super::ValueError;

/// Bytes per second from a rate's text; 0 means unlimited.
pub fn parse_rate(text: &str) -> Result<u64, ValueError> {
    let t = text.trim();
    let t = t
        .strip_suffix("/s")
        .or_else(|| t.strip_suffix("/S"))
        .unwrap_or(t);
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let bad = || ValueError::NotARate(text.to_string());
    if num.is_empty() {
        return Err(bad());
    }
    let value: f64 = num.parse().map_err(|_| bad())?;
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" | "kib" => 1024.0,
        "m" | "mb" | "mib" => 1024.0 * 1024.0,
        "g" | "gb" | "gib" => 1024.0 * 1024.0 * 1024.0,
        _ => return Err(bad()),
    };
    let bytes = (value * mult).round();
    if !bytes.is_finite() || bytes >= u64::MAX as f64 {
        return Err(ValueError::RateTooLarge(text.to_string()));
    }
    Ok(bytes as u64)
}

/// A rate as a flag value that parses back (`2M`, `512K`, `1000`), for `ttui config` and
/// the fields of the TUI's dialogs.
pub fn rate_flag(v: u64) -> String {
    match v {
        0 => "0".into(),
        _ if v.is_multiple_of(1024 * 1024) => format!("{}M", v / (1024 * 1024)),
        _ if v.is_multiple_of(1024) => format!("{}K", v / 1024),
        _ => v.to_string(),
    }
}

/// A rate for `ttui config` and the verbs: `unlimited` or e.g. `1.5 MiB/s`.
pub fn show_rate(rate: u64) -> String {
    if rate == 0 {
        "unlimited".into()
    } else {
        crate::fmt::rate(rate as f64)
    }
}

/// Down and up limits in bytes per second (0 = unlimited).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RatePair {
    pub down: u64,
    pub up: u64,
}

/// Per direction: whether a torrent's limiters (its own bucket or the session's over it) made
/// one of its connections wait in the last few seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HeldPair {
    pub down: bool,
    pub up: bool,
}

/// Whether a `limit` (bytes a second) is what holds `rate` back: the rate is at 90 % of it or
/// more, or at half or more while connections had to wait on the limiter lately. The rate is
/// measured over a short window and a limiter pays by the block (or by the 256 KiB piece for a
/// web seed), so a rate held at its limit still swings a little under 90 %; the waits say the
/// limit binds all the same. One rule for the torrent's line and for the explainer, so the
/// two never disagree.
pub fn limit_binds(rate: f64, limit: f64, held_recently: bool) -> bool {
    limit > 0.0 && (rate >= 0.9 * limit || (rate >= 0.5 * limit && held_recently))
}

/// What a session starts with (flags and config file).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateOptions {
    pub normal: RatePair,
    /// Turtle mode's limits.
    pub alt: RatePair,
    /// Turtle mode on daily in this window (local time).
    pub schedule: Option<Schedule>,
    pub exempt_local: bool,
}

/// Turtle mode's daily window in minutes after local midnight: `[start, end)`. A window whose
/// end is before its start runs over midnight (`22:00-06:00`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    pub start: u16,
    pub end: u16,
}

fn minute(hhmm: &str) -> Option<u16> {
    let (h, m) = hhmm.trim().split_once(':')?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some(h * 60 + m)
}

impl Schedule {
    pub fn parse(text: &str) -> Result<Schedule, ValueError> {
        let bad = || ValueError::NotAWindow(text.to_string());
        let (a, b) = text.split_once('-').ok_or_else(bad)?;
        let (start, end) = (minute(a).ok_or_else(bad)?, minute(b).ok_or_else(bad)?);
        if start == end {
            return Err(ValueError::EmptyWindow(text.to_string()));
        }
        Ok(Schedule { start, end })
    }

    /// Whether the minute of the day lies in the window.
    pub fn contains(&self, minute_of_day: u16) -> bool {
        if self.start < self.end {
            (self.start..self.end).contains(&minute_of_day)
        } else {
            minute_of_day >= self.start || minute_of_day < self.end
        }
    }
}

impl std::fmt::Display for Schedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hm = |m: u16| format!("{:02}:{:02}", m / 60, m % 60);
        write!(f, "{}-{}", hm(self.start), hm(self.end))
    }
}
