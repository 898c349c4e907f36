//! `ttui verify ID...|all`: every piece of each torrent checked again.

use crate::control::proto::Response;
use crate::engine::api::{Client, SessionSnapshot};

use super::reply::each;

pub(super) fn apply(ids: &[String], current: &SessionSnapshot, client: &Client) -> Response {
    each(ids, current, |id| client.verify(id))
}
