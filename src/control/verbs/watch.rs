//! The streamed answers `ttui attach` reads: the session's snapshots (`Request::Watch`, here)
//! and one torrent's (`Request::Subscribe`, `subscribe.rs`). Each runs as a task feeding a
//! small channel the control server writes out; the task ends when the server drops the
//! channel (the client went away or stopped taking frames) or the source ends (the session
//! stops, the torrent is removed).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use crate::control::lineup::Framer;
use crate::control::proto::{Response, Stream};
use crate::engine::api::SessionSnapshot;

/// The session list is sent at most this often.
const SESSION_EVERY: Duration = Duration::from_millis(500);
/// With nothing new, the last frame goes again this often, so the client can tell a quiet
/// session from a dead link.
const HEARTBEAT: Duration = Duration::from_secs(2);

/// `Watch`: the session's line-up, each frame what changed since the one before (a
/// heartbeat: no change).
pub(super) fn apply(snapshot: watch::Receiver<Arc<SessionSnapshot>>) -> Response {
    let mut framer = Framer::default();
    stream(snapshot, SESSION_EVERY, move |s| {
        Response::Session(Box::new(framer.frame(s)))
    })
}

/// Sends `frame` of each new value (at most every `every`, and again every heartbeat).
pub(super) fn stream<T: Send + Sync + 'static>(
    mut source: watch::Receiver<T>,
    every: Duration,
    mut frame: impl FnMut(&T) -> Response + Send + 'static,
) -> Response {
    let (tx, rx) = mpsc::channel(1);
    tokio::spawn(async move {
        loop {
            let next = frame(&source.borrow_and_update());
            if tx.send(next).await.is_err() {
                return;
            }
            tokio::time::sleep(every).await;
            // A timeout sends the same frame again: the heartbeat.
            if let Ok(Err(_)) = tokio::time::timeout(HEARTBEAT, source.changed()).await {
                return;
            }
        }
    });
    Response::Stream(Stream::new(rx))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::proto::{decode_response, encode};
    use crate::engine::api::{TorrentId, TorrentLine, TorrentState};

    #[tokio::test]
    async fn the_session_stream_round_trips_and_ends_with_its_reader() {
        let mut line = TorrentLine::placeholder(TorrentId(3));
        line.name = "x".into();
        line.state = TorrentState::Error("disk full".into());
        line.down_rate = f64::NAN;
        let snap = SessionSnapshot {
            torrents: vec![Arc::new(line)],
            up_rate: f64::INFINITY,
            ..SessionSnapshot::default()
        };
        let (tx, rx) = watch::channel(Arc::new(snap));
        let Response::Stream(stream) = apply(rx) else {
            panic!("not a stream");
        };
        let mut frames = stream.take().unwrap();
        assert!(stream.take().is_none(), "the frames are taken once");
        let first = frames.recv().await.unwrap();
        let back = decode_response(&encode(&first).unwrap()).unwrap();
        let Response::Session(s) = back else {
            panic!("{back:?}");
        };
        let torrents = &s.session.torrents;
        assert_eq!(torrents[0].name, "x");
        assert_eq!(torrents[0].state, TorrentState::Error("disk full".into()));
        assert_eq!((torrents[0].down_rate, s.session.up_rate), (0.0, 0.0));
        assert_eq!(s.order, Some(vec![TorrentId(3)]));
        // The same line published again: the next frame carries none.
        let again = SessionSnapshot {
            down_rate: 5.0,
            ..SessionSnapshot::clone(&tx.borrow())
        };
        tx.send(Arc::new(again)).unwrap();
        let Response::Session(next) = frames.recv().await.unwrap() else {
            panic!("not a session frame");
        };
        assert!(next.session.torrents.is_empty(), "{next:?}");
        assert_eq!((next.session.down_rate, next.order.is_none()), (5.0, true));
        // The reader gone, the task stops and lets go of the session's watch.
        drop(frames);
        for _ in 0..250 {
            if tx.receiver_count() == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the stream task outlived its reader");
    }
}
