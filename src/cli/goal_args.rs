//! The flags of the queue and the seeding goals: the session's settings (on `ttui` and
//! `ttui daemon`, each also a config key) and one torrent's goals (`ttui limit ID
//! --seed-ratio R`). Parsers are the engine's (`session::goals`), so a flag, a config key and
//! a verb read `2h` alike.

use std::time::Duration;

use clap::Args;

use crate::engine::api::{self as goals, GoalAction, Goals, Set, ValueError};
use crate::engine::api::{QueueSettings, DEFAULT_MAX_DOWNLOADS, DEFAULT_MAX_SEEDS};

/// A goal that `off` switches off. Named, not spelled `Option<..>`, so clap takes the value
/// as one (with its `off` default) instead of making the flag optional.
type Goal<T> = Option<T>;

/// The session's queue and goals.
#[derive(Debug, Args, Clone)]
pub(crate) struct QueueArgs {
    /// Torrents downloading at once; the others wait in queue order (0 = no limit).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_DOWNLOADS)]
    pub max_active_downloads: u32,
    /// Seeds uploading at once (0 = no limit, the default: every complete torrent seeds).
    /// Idle seeds (no peer wants their data) stay announced and take no slot; a seed over
    /// the limit keeps its peers but unchokes none until a slot frees.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_SEEDS)]
    pub max_active_seeds: u32,
    /// A download slower than this (bytes a second; K and M suffixes) for --stalled-time
    /// stops counting against --max-active-downloads; so does a seed uploading slower than
    /// this against --max-active-seeds.
    #[arg(long, value_name = "RATE", default_value = "2K", value_parser = crate::engine::api::parse_rate)]
    pub slow_torrent_rate: u64,
    /// How long a download (or a seed) must stay below --slow-torrent-rate to stop counting
    /// (45s, 5m, 1h).
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = goals::parse_duration)]
    pub stalled_time: Duration,
    /// Stop seeding at this lifetime ratio (e.g. 1.0; `off` = never).
    #[arg(long, value_name = "RATIO", default_value = "off", value_parser = goals::parse_ratio)]
    pub seed_ratio: Goal<f64>,
    /// Stop seeding after seeding this long in all (90m, 2h, 1d; `off` = never).
    #[arg(long, value_name = "DURATION", default_value = "off", value_parser = goals::parse_goal_duration)]
    pub seed_time: Goal<Duration>,
    /// Stop seeding after this long without uploading (30m, 2h; `off` = never).
    #[arg(long, value_name = "DURATION", default_value = "off", value_parser = goals::parse_goal_duration)]
    pub seed_idle: Goal<Duration>,
    /// What reaching a seeding goal does: pause the torrent, or remove it (keeping its data).
    #[arg(long, value_enum, default_value_t = GoalAction::Pause)]
    pub seed_goal_action: GoalAction,
}

impl QueueArgs {
    pub(crate) fn settings(&self) -> QueueSettings {
        QueueSettings {
            max_downloads: self.max_active_downloads,
            max_seeds: self.max_active_seeds,
            slow_rate: self.slow_torrent_rate,
            stalled_after: self.stalled_time,
        }
    }

    pub(crate) fn goals(&self) -> Goals {
        Goals {
            ratio: self.seed_ratio,
            seed_time: self.seed_time,
            idle: self.seed_idle,
        }
    }
}

/// One torrent's seeding goals, for `ttui limit`.
#[derive(Debug, Args, Clone, Default)]
pub(crate) struct GoalArgs {
    /// This torrent's ratio goal (`off`: none for it; `default`: the session's).
    #[arg(long, value_name = "RATIO", value_parser = ratio_set)]
    pub seed_ratio: Option<Set<f64>>,
    /// This torrent's seeding-time goal (2h, 1d; `off`; `default`).
    #[arg(long, value_name = "DURATION", value_parser = duration_set)]
    pub seed_time: Option<Set<Duration>>,
    /// This torrent's idle goal (30m; `off`; `default`).
    #[arg(long, value_name = "DURATION", value_parser = duration_set)]
    pub seed_idle: Option<Set<Duration>>,
}

impl GoalArgs {
    pub(crate) fn any(&self) -> bool {
        self.seed_ratio.is_some() || self.seed_time.is_some() || self.seed_idle.is_some()
    }
}

fn ratio_set(s: &str) -> Result<Set<f64>, ValueError> {
    Set::parse(s, goals::parse_ratio)
}

fn duration_set(s: &str) -> Result<Set<Duration>, ValueError> {
    Set::parse(s, goals::parse_goal_duration)
}
