//! The stream server's door: the accept loop with its bounded set of connections, and hyper's
//! HTTP/1 connection with a header-read timeout and a bounded request head. Kept in this one
//! file, apart from what the server answers (`serve.rs`), so it can give way to a door shared
//! with the RPC.
//!
//! Connections: at most [`MAX_CONNECTIONS`]. When the set is full, a new connection takes the
//! place of the oldest that is not in a request now (connected and silent, or idle between
//! keep-alive requests); when every one is in a request the new one is closed. A stream's
//! response may last as long as the film, so a connection has no life limit of its own: its
//! reads end when the player goes, which drops the response and closes the stream at once.

use std::collections::VecDeque;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hyper::body::{Body, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Notify;

/// Connections served at once.
pub(crate) const MAX_CONNECTIONS: usize = 64;
/// A request's head must arrive within this.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest request head (request line and headers) read.
const MAX_HEAD: usize = 16 << 10;

/// Connections open now (a debug counter the tests read through the server's stats).
#[derive(Debug, Default)]
pub(crate) struct DoorStats {
    pub open: AtomicUsize,
}

/// One connection's place in the set, shared with its task.
#[derive(Default)]
struct Place {
    /// In a request now (head read, body not yet all sent).
    busy: AtomicBool,
    /// Its task has ended.
    done: AtomicBool,
    /// Told when a newer connection takes its place.
    end: Notify,
}

/// A place for a new connection: a free one, else the oldest idle connection's (told to
/// end); None when every connection is in a request.
fn admit(places: &mut VecDeque<Arc<Place>>) -> Option<Arc<Place>> {
    places.retain(|p| !p.done.load(Ordering::Relaxed));
    if places.len() >= MAX_CONNECTIONS {
        let idle = places
            .iter()
            .position(|p| !p.busy.load(Ordering::Relaxed))?;
        if let Some(evicted) = places.remove(idle) {
            evicted.end.notify_one();
        }
    }
    let place = Arc::new(Place::default());
    places.push_back(Arc::clone(&place));
    Some(place)
}

/// Serves `listener` with `handle` until the task is aborted.
pub(crate) async fn accept_loop<H, F, B>(listener: TcpListener, handle: H, stats: Arc<DoorStats>)
where
    H: Fn(Request<Incoming>, SocketAddr) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<B>> + Send + 'static,
    B: Body + Unpin + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut places: VecDeque<Arc<Place>> = VecDeque::new();
    loop {
        let accepted = listener.accept().await;
        let Ok((stream, peer)) =
            accepted.inspect_err(|e| tracing::warn!("stream server: accept: {e}"))
        else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        // Dropping the stream refuses it: every connection is in a request.
        let Some(place) = admit(&mut places) else {
            continue;
        };
        let handle = handle.clone();
        let stats = Arc::clone(&stats);
        tokio::spawn(async move {
            stats.open.fetch_add(1, Ordering::Relaxed);
            let _ = stream.set_nodelay(true);
            let mine = Arc::clone(&place);
            let service = hyper::service::service_fn(move |req| {
                let (handle, place) = (handle.clone(), Arc::clone(&mine));
                async move {
                    place.busy.store(true, Ordering::Relaxed);
                    let answer = handle(req, peer).await;
                    // In a request until its body is sent or dropped: a player reading a
                    // film is never evicted for a newer connection.
                    let guard = Busy(place);
                    Ok::<_, std::convert::Infallible>(answer.map(|body| Guarded { body, guard }))
                }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .max_buf_size(MAX_HEAD)
                .serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            tokio::select! {
                r = conn.as_mut() => if let Err(e) = r {
                    tracing::debug!("stream client {peer}: {e}");
                },
                () = place.end.notified() => tracing::debug!("stream client {peer}: closed for a newer connection"),
            }
            place.done.store(true, Ordering::Relaxed);
            stats.open.fetch_sub(1, Ordering::Relaxed);
        });
    }
}

/// Clears its connection's busy flag when the response's body is done or dropped.
struct Busy(Arc<Place>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.busy.store(false, Ordering::Relaxed);
    }
}

/// A response body that holds its connection busy while it lives.
struct Guarded<B> {
    body: B,
    guard: Busy,
}

impl<B: Body + Unpin> Body for Guarded<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        let _ = &self.guard;
        std::pin::Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.body.size_hint()
    }
}
