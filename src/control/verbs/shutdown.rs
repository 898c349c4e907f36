//! `ttui stop`: every torrent stopped (trackers told, resume data saved), then the session
//! ends. A session already ending has nothing more to do, so that is answered as done too.

use crate::control::proto::Response;
use crate::engine::api::Client;

pub(super) fn apply(client: &Client) -> Response {
    let _ = client.shutdown();
    Response::Done(Vec::new())
}
