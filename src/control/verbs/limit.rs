//! `ttui limit [ID...]`: rate limits changed (the session's with no ID, else the torrents
//! named, or `all`), answered with the limits as they are now.

use crate::control::proto::Response;
use crate::engine::api::{Client, LimitChange, LimitTarget, SessionSnapshot};

use super::reply::{failed, resolve};

pub(super) async fn apply(
    ids: &[String],
    change: LimitChange,
    current: &SessionSnapshot,
    client: &Client,
) -> Response {
    let target = if ids.is_empty() {
        LimitTarget::Session
    } else {
        match resolve(ids, current) {
            Ok(ids) => LimitTarget::Torrents(ids),
            Err(e) => return e,
        }
    };
    match client.limit(target, change).await {
        Ok(now) => Response::Limits(now),
        Err(e) => failed(&e),
    }
}
