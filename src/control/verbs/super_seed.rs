//! `ttui super-seed ID on|off`: BEP 16 super-seeding for one torrent, kept across restarts.

use crate::control::proto::Response;
use crate::engine::api::{Client, SessionSnapshot};

use super::reply::one;

pub(super) async fn apply(
    id: &str,
    on: bool,
    current: &SessionSnapshot,
    client: &Client,
) -> Response {
    one(id, current, |id| client.set_super_seeding(id, on)).await
}
