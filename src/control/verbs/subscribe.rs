//! `Subscribe` (`ttui attach` opening a torrent): its full snapshots, for as long as the
//! client reads them.

use std::sync::Arc;
use std::time::Duration;

use crate::control::proto::{ErrorKind, Response};
use crate::engine::api::{Client, Snapshot, TorrentId};

use super::reply::{error, failed};
use super::watch::stream;
use crate::control::lineup::finite;

/// An open torrent's snapshot is sent at most this often.
const TORRENT_EVERY: Duration = Duration::from_millis(250);

pub(super) async fn apply(id: u32, client: &Client) -> Response {
    let id = TorrentId(id);
    match client.subscribe(id).await {
        Ok(Some(snaps)) => stream(snaps, TORRENT_EVERY, |s: &Arc<Snapshot>| {
            let mut s = Snapshot::clone(s);
            s.down_rate = finite(s.down_rate);
            s.up_rate = finite(s.up_rate);
            for p in &mut s.peers {
                p.down_rate = finite(p.down_rate);
                p.up_rate = finite(p.up_rate);
                p.progress = finite(f64::from(p.progress)) as f32;
            }
            Response::Snapshot(Box::new(s))
        }),
        Ok(None) => error(ErrorKind::UnknownId, format!("no torrent {}", id.0)),
        Err(e) => failed(&e),
    }
}
