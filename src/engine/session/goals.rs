//! Seeding goals: when a seeding torrent has done enough. Pure checks ([`check`]) over the
//! session's lifetime counters, with the session-wide defaults (`seed-ratio`, `seed-time`,
//! `seed-idle`) and per-torrent overrides (`ttui limit ID --seed-ratio ...`). The manager
//! (`policy.rs`) acts on the answer: pause, or remove keeping the data (`seed-goal-action`).
//!
//! A torrent resumed by hand after a goal ended its seeding seeds on: the goal that ended it
//! is switched off for that torrent, as Transmission does ("Restarted manually -- disabling
//! its seed ratio"); setting a goal for it again switches it back on. Without that, resuming
//! would pause it again at the next tick.
//!
//! Also the one parser of durations (`2h`, `90m`, `1d`, `1h30m`, `45s`) for the flags, the
//! config file and the verbs, and the one way they are written back (`2 h`, `90 min`).

use std::time::Duration;

pub(crate) use crate::engine::api::{flag_text, human, GoalAction, Goals, Set};

/// Which goal: a bit each in [`Overrides::off`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Ratio = 1,
    Time = 2,
    Idle = 4,
}

/// One torrent's own goals, over the session's: a value replaces the session's, a bit of
/// `off` switches that goal off for the torrent.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Overrides {
    pub ratio: Option<f64>,
    pub seed_time: Option<Duration>,
    pub idle: Option<Duration>,
    pub off: u8,
}

impl Overrides {
    /// The goals that apply to the torrent.
    pub(crate) fn effective(&self, session: &Goals) -> Goals {
        let on = |k: Kind| self.off & k as u8 == 0;
        Goals {
            ratio: self.ratio.or(session.ratio).filter(|_| on(Kind::Ratio)),
            seed_time: self
                .seed_time
                .or(session.seed_time)
                .filter(|_| on(Kind::Time)),
            idle: self.idle.or(session.idle).filter(|_| on(Kind::Idle)),
        }
    }
}

/// The goals a torrent's trackers' tables (`[trackers."HOST"]`) set for it.
pub(crate) fn trackers_set(
    rules: &crate::engine::api::TrackerRules,
    meta: Option<&crate::protocol::metainfo::Metainfo>,
) -> crate::engine::api::TrackerGoals {
    match meta {
        Some(m) if !rules.is_empty() => {
            let urls = m.trackers.iter().flatten().map(String::as_str);
            crate::engine::api::TrackerGoals::of(&crate::engine::api::rules_for(rules, urls))
        }
        _ => crate::engine::api::TrackerGoals::default(),
    }
}

/// The goals under a torrent's own: its trackers' tables (`[trackers."HOST"]`) over the
/// session's. Free of the manager, so its loops can ask while they hold a slot.
pub(crate) fn base_for(
    rules: &crate::engine::api::TrackerRules,
    session: &Goals,
    meta: Option<&crate::protocol::metainfo::Metainfo>,
) -> Goals {
    match meta {
        Some(m) if !rules.is_empty() => {
            let urls = m.trackers.iter().flatten().map(String::as_str);
            crate::engine::api::goals_over(&crate::engine::api::rules_for(rules, urls), session)
        }
        _ => *session,
    }
}

/// Sets one goal of a torrent's overrides from what a verb sent.
fn apply<T: Copy>(set: Set<T>, slot: &mut Option<T>, off: &mut u8, kind: Kind) {
    *slot = match set {
        Set::To(v) => Some(v),
        Set::Default | Set::Off => None,
    };
    if matches!(set, Set::Off) {
        *off |= kind as u8;
    } else {
        *off &= !(kind as u8);
    }
}

impl Overrides {
    /// Applies the goals a verb sets (None: leave that one as it is).
    pub(crate) fn set(
        &mut self,
        ratio: Option<Set<f64>>,
        seed_time: Option<Set<Duration>>,
        idle: Option<Set<Duration>>,
    ) {
        if let Some(s) = ratio {
            apply(s, &mut self.ratio, &mut self.off, Kind::Ratio);
        }
        if let Some(s) = seed_time {
            apply(s, &mut self.seed_time, &mut self.off, Kind::Time);
        }
        if let Some(s) = idle {
            apply(s, &mut self.idle, &mut self.off, Kind::Idle);
        }
    }
}

/// Where a seeding torrent stands.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Progress {
    /// Lifetime ratio, as `TorrentLine::ratio` counts it.
    pub ratio: f64,
    /// Lifetime seeding time.
    pub seeded: Duration,
    /// Time since it last uploaded (while seeding).
    pub idle: Duration,
}

/// A goal reached, with the figures the torrent's line shows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Reached {
    Ratio { ratio: f64, goal: f64 },
    Time { seeded: Duration, goal: Duration },
    Idle { idle: Duration, goal: Duration },
}

impl Reached {
    pub(crate) fn kind(&self) -> Kind {
        match self {
            Reached::Ratio { .. } => Kind::Ratio,
            Reached::Time { .. } => Kind::Time,
            Reached::Idle { .. } => Kind::Idle,
        }
    }

    /// What was done, for the log: `paused: ratio 1.00 reached (goal 1.0)`, `removed:
    /// seeded 2 h (goal 2 h)`.
    pub(crate) fn why(&self, action: GoalAction) -> String {
        let done = match action {
            GoalAction::Pause => "paused",
            GoalAction::Remove => "removed",
        };
        format!("{done}: {}", self.cause())
    }

    /// The goal reached, as the paused torrent's line says it after its state word
    /// (`api::Status`): `ratio 1.00 reached (goal 1.0)`, `seeded 2 h (goal 2 h)`.
    pub(crate) fn cause(&self) -> String {
        match self {
            Reached::Ratio { ratio, goal } => format!("ratio {ratio:.2} reached (goal {goal:.1})"),
            Reached::Time { seeded, goal } => {
                format!("seeded {} (goal {})", human(*seeded), human(*goal))
            }
            Reached::Idle { idle, goal } => {
                format!("no upload for {} (goal {})", human(*idle), human(*goal))
            }
        }
    }
}

/// The first goal reached, ratio first; None while seeding should go on.
pub(crate) fn check(goals: &Goals, p: &Progress) -> Option<Reached> {
    if let Some(goal) = goals.ratio {
        if p.ratio.is_finite() && p.ratio >= goal {
            return Some(Reached::Ratio {
                ratio: p.ratio,
                goal,
            });
        }
    }
    if let Some(goal) = goals.seed_time {
        if p.seeded >= goal {
            return Some(Reached::Time {
                seeded: p.seeded,
                goal,
            });
        }
    }
    if let Some(goal) = goals.idle {
        if p.idle >= goal {
            return Some(Reached::Idle { idle: p.idle, goal });
        }
    }
    None
}

#[cfg(test)]
mod tests;
