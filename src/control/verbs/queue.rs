//! `ttui queue ID top|up|down|bottom`: one torrent moved in the queue.

use crate::control::proto::Response;
use crate::engine::api::{Client, Move, SessionSnapshot};

use super::reply::one;

pub(super) async fn apply(
    id: &str,
    to: Move,
    current: &SessionSnapshot,
    client: &Client,
) -> Response {
    one(id, current, |id| client.queue(id, to)).await
}
