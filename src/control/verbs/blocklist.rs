//! `ttui blocklist update`: the status once the list was read again, or why it was not.

use crate::control::proto::Response;
use crate::engine::api::Client;

use super::reply::failed;

pub(super) async fn apply(client: &Client) -> Response {
    match client.blocklist_update().await {
        Ok(status) => Response::Blocklist(status),
        Err(e) => failed(&e),
    }
}
