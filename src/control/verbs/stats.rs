//! `ttui stats [--by tracker|label|torrent]`: the session's accounting.

use crate::control::proto::Response;
use crate::engine::api::{Client, StatsBy};

use super::reply::failed;

pub(super) async fn apply(by: StatsBy, client: &Client) -> Response {
    match client.stats(by).await {
        Ok(stats) => Response::Stats(Box::new(stats)),
        Err(e) => failed(&e),
    }
}
