//! `transfer/*`: `info` (the session's rates, totals and limits, from its line-up) and the
//! global speed limits as qBittorrent reads and switches them: `speedLimitsMode` (1 while
//! the alternative limits, ttui's turtle mode, are in force), `toggleSpeedLimitsMode`,
//! `downloadLimit` and `uploadLimit` (bytes a second, 0 none). The toggle goes through
//! `Client::limit`.

use std::time::Duration;

use serde_json::{json, Value};

use super::Ctx;
use crate::engine::api::{LimitChange, LimitTarget, Turtle};

pub(crate) fn info(ctx: &Ctx) -> Value {
    let head = ctx.client.head();
    let (down, up) = head
        .torrents
        .iter()
        .fold((0u64, 0u64), |(d, u), t| (d + t.downloaded, u + t.uploaded));
    json!({
        "dl_info_speed": head.down_rate as u64,
        "up_info_speed": head.up_rate as u64,
        "dl_info_data": down,
        "up_info_data": up,
        "dl_rate_limit": head.down_limit,
        "up_rate_limit": head.up_limit,
        "dht_nodes": head.dht_nodes.unwrap_or(0),
        "connection_status": if head.listen_port == 0 { "firewalled" } else { "connected" },
    })
}

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
