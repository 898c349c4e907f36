//! The global speed limits as qBittorrent's `transfer/*` calls read and switch them:
//! `speedLimitsMode` (1 while the alternative limits, ttui's turtle mode, are in force),
//! `toggleSpeedLimitsMode`, `downloadLimit` and `uploadLimit` (bytes a second, 0 none).
//! Read from the line-up; the toggle goes through `Client::limit`.

use std::time::Duration;

use super::Ctx;
use crate::engine::api::{LimitChange, LimitTarget, Turtle};

const WAIT: Duration = Duration::from_secs(5);

/// `transfer/speedLimitsMode`: "1" under the alternative limits, else "0".
pub(crate) fn speed_limits_mode(ctx: &Ctx) -> &'static str {
    if ctx.client.head().turtle {
        "1"
    } else {
        "0"
    }
}

/// `transfer/downloadLimit` / `uploadLimit`: the limit in force, bytes a second.
pub(crate) fn limit(ctx: &Ctx, down: bool) -> String {
    let head = ctx.client.head();
    if down { head.down_limit } else { head.up_limit }.to_string()
}

/// Why the toggle was not done.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ToggleError {
    #[error("{0}")]
    Session(#[from] crate::engine::api::RequestError),
    #[error("the session did not answer in time")]
    Slow,
}

/// `transfer/toggleSpeedLimitsMode`: turtle mode on or off; the answer is awaited.
pub(crate) async fn toggle(ctx: &Ctx) -> Result<(), ToggleError> {
    let change = LimitChange {
        turtle: Some(Turtle::Toggle),
        ..LimitChange::default()
    };
    match tokio::time::timeout(WAIT, ctx.client.limit(LimitTarget::Session, change)).await {
        Ok(r) => r.map(|_| ()).map_err(ToggleError::from),
        Err(_) => Err(ToggleError::Slow),
    }
}
