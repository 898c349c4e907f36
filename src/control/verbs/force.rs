//! `ttui force ID...|all`: each torrent runs now, whatever the queue says.

use crate::control::proto::Response;
use crate::engine::api::{Client, Command, SessionSnapshot};

use super::reply::each;

pub(super) fn apply(ids: &[String], current: &SessionSnapshot, client: &Client) -> Response {
    each(ids, current, |id| {
        // Sent now; its answer is not awaited (a resume follows at once).
        drop(client.force(id, true));
        client.command(id, Command::Resume)
    })
}
