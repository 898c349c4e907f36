//! `ttui goals ID`: a torrent's own seeding goals (ratio, seeding time, idle time).

use std::time::Duration;

use crate::control::proto::{ErrorKind, Response};
use crate::engine::api::{Client, GoalChange, SessionSnapshot, Set};

use super::reply::{error, one};

/// `times` are the seeding and idle times in seconds.
pub(super) async fn apply(
    id: &str,
    seed_ratio: Option<Set<f64>>,
    (seed_time_secs, seed_idle_secs): (Option<Set<u64>>, Option<Set<u64>>),
    current: &SessionSnapshot,
    client: &Client,
) -> Response {
    let d = |s: Set<u64>| match s {
        Set::To(v) => Set::To(Duration::from_secs(v)),
        Set::Off => Set::Off,
        Set::Default => Set::Default,
    };
    if seed_ratio.is_some_and(|r| matches!(r, Set::To(r) if !(r.is_finite() && r >= 0.0))) {
        return error(
            ErrorKind::BadArgument,
            "a ratio goal is a number of 0 or more",
        );
    }
    let change = GoalChange {
        ratio: seed_ratio,
        seed_time: seed_time_secs.map(d),
        idle: seed_idle_secs.map(d),
    };
    one(id, current, |id| client.goals(id, change)).await
}
