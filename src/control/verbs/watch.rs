//! The streamed answers `ttui attach` reads: the session's snapshots (`Request::Watch`, here)
//! and one torrent's (`Request::Subscribe`, `subscribe.rs`). Each runs as a task feeding a
//! small channel the control server writes out; the task ends when the server drops the
//! channel (the client went away or stopped taking frames) or the source ends (the session
//! stops, the torrent is removed).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use crate::control::proto::{Response, Stream};
use crate::engine::api::SessionSnapshot;

/// The session list is sent at most this often.
const SESSION_EVERY: Duration = Duration::from_millis(500);
/// With nothing new, the last frame goes again this often, so the client can tell a quiet
/// session from a dead link.
const HEARTBEAT: Duration = Duration::from_secs(2);

/// `Watch`: the session's snapshots.
pub(super) fn apply(snapshot: watch::Receiver<Arc<SessionSnapshot>>) -> Response {
    stream(snapshot, SESSION_EVERY, |s| {
        let mut s = SessionSnapshot::clone(s);
        s.down_rate = finite(s.down_rate);
        s.up_rate = finite(s.up_rate);
        for t in &mut s.torrents {
            // Copied only where a rate is not a JSON number: the others stay shared.
            if !t.down_rate.is_finite() || !t.up_rate.is_finite() {
                let t = Arc::make_mut(t);
                t.down_rate = finite(t.down_rate);
                t.up_rate = finite(t.up_rate);
            }
        }
        Response::Session(Box::new(s))
    })
}

/// JSON has no NaN or infinity (serde_json writes null, which does not read back as a
/// number, and the client would take the frame for a broken link).
pub(super) fn finite(v: f64) -> f64 {
    if v.is_finite() {
        v
    } else {
        0.0
    }
}

/// Sends `frame` of each new value (at most every `every`, and again every heartbeat).
pub(super) fn stream<T: Send + Sync + 'static>(
    mut source: watch::Receiver<T>,
    every: Duration,
    frame: impl Fn(&T) -> Response + Send + 'static,
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
        assert_eq!(s.torrents[0].name, "x");
        assert_eq!(s.torrents[0].state, TorrentState::Error("disk full".into()));
        assert_eq!((s.torrents[0].down_rate, s.up_rate), (0.0, 0.0));
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
