//! `ttui pause ID...|all`: each torrent stops (trackers told, peers dropped) until resumed.

use crate::control::proto::Response;
use crate::engine::api::{Client, Command, SessionSnapshot};

use super::reply::each;

pub(super) fn apply(ids: &[String], current: &SessionSnapshot, client: &Client) -> Response {
    each(ids, current, |id| client.command(id, Command::Pause))
}
