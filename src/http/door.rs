//! The accept loop and the connection: what bounds a client's hold on the server before a
//! face sees a request. Every HTTP face serves through it: the Transmission RPC,
//! qBittorrent's Web API (and the web UI it serves) and the stream server.
//!
//! Connections: at most [`Limits::max_connections`], and at most
//! [`Limits::max_per_address`] of them from one address. A new connection from an address
//! at its share takes the place of that address's own oldest connection; else, when the
//! set is full, of the oldest one not in a request (connected and silent, or idle between
//! keep-alive requests), else of the oldest one of the address that holds the most. So a
//! flood from one address, idle or sending half a request, costs the flooder its own
//! connections, and a client from another address always finds a place.
//!
//! A connection is in a request from its headers until its answer's body is sent or
//! dropped: a player reading a film is never evicted for a newer connection.

use std::collections::VecDeque;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Body, Bytes, Incoming};
use hyper::header::{HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Notify;

/// What the RPC and qBittorrent's faces answer with: a whole body, already built.
pub(crate) type Answer = Response<Full<Bytes>>;

/// The bounds of one door.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Connections served at once.
    pub max_connections: usize,
    /// Connections one address may hold at once.
    pub max_per_address: usize,
    /// A request's headers must arrive within this, from the connection's start or the end
    /// of the previous request.
    pub header_timeout: Duration,
    /// A connection lives at most this long (a client simply connects again); None for a
    /// door whose answers may last as long as a film.
    pub max_connection_life: Option<Duration>,
    /// The most a request's headers may take, in bytes.
    pub max_header_bytes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_connections: 128,
            max_per_address: 32,
            header_timeout: Duration::from_secs(10),
            max_connection_life: Some(Duration::from_secs(300)),
            max_header_bytes: 64 << 10,
        }
    }
}

/// Connections open now (the stream server's `/status` shows it; the tests read it).
#[derive(Debug, Default)]
pub(crate) struct DoorStats {
    pub open: AtomicUsize,
}

/// One connection's place in the set, shared with its task.
#[derive(Default)]
struct Place {
    /// In a request now (headers read, answer's body not yet all sent).
    busy: AtomicBool,
    /// Its task has ended.
    done: AtomicBool,
    /// Told when a newer connection takes its place.
    end: Notify,
}

/// The set of live connections, oldest first, each with its client's address.
#[derive(Default)]
struct Places(VecDeque<(IpAddr, Arc<Place>)>);

impl Places {
    /// A place for a new connection from `ip` (see the module's header for whose place it
    /// takes).
    fn admit(&mut self, ip: IpAddr, limits: &Limits) -> Arc<Place> {
        self.0.retain(|(_, p)| !p.done.load(Ordering::Relaxed));
        let mine = self.0.iter().filter(|(a, _)| *a == ip).count();
        let evict = if mine >= limits.max_per_address.max(1) {
            self.oldest_of(ip)
        } else if self.0.len() >= limits.max_connections.max(1) {
            let idle = self
                .0
                .iter()
                .position(|(_, p)| !p.busy.load(Ordering::Relaxed));
            idle.or_else(|| self.oldest_of(self.busiest()?))
        } else {
            None
        };
        if let Some((_, old)) = evict.and_then(|i| self.0.remove(i)) {
            old.end.notify_one();
        }
        let place = Arc::new(Place::default());
        self.0.push_back((ip, Arc::clone(&place)));
        place
    }

    /// The oldest connection of `ip`, an idle one first.
    fn oldest_of(&self, ip: IpAddr) -> Option<usize> {
        let of = |idle: bool| {
            self.0
                .iter()
                .position(|(a, p)| *a == ip && (!idle || !p.busy.load(Ordering::Relaxed)))
        };
        of(true).or_else(|| of(false))
    }

    /// The address holding the most connections.
    fn busiest(&self) -> Option<IpAddr> {
        let mut counts: std::collections::HashMap<IpAddr, usize> = Default::default();
        for (a, _) in &self.0 {
            *counts.entry(*a).or_default() += 1;
        }
        counts.into_iter().max_by_key(|(_, n)| *n).map(|(a, _)| a)
    }
}

/// Accepts connections on `listener` forever (until the task is aborted), each request
/// answered by `handler` with the client's address. `name` goes into the log lines.
pub(crate) async fn serve<H, F, B>(
    listener: TcpListener,
    name: &'static str,
    limits: Limits,
    stats: Arc<DoorStats>,
    handler: H,
) where
    H: Fn(Request<Incoming>, SocketAddr) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<B>> + Send + 'static,
    B: Body + Unpin + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut places = Places::default();
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!("{name}: accept: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let place = places.admit(peer.ip(), &limits);
        let handler = handler.clone();
        let stats = Arc::clone(&stats);
        tokio::spawn(async move {
            stats.open.fetch_add(1, Ordering::Relaxed);
            let _ = stream.set_nodelay(true);
            serve_connection(stream, peer, name, limits, handler, &place).await;
            place.done.store(true, Ordering::Relaxed);
            stats.open.fetch_sub(1, Ordering::Relaxed);
        });
    }
}

async fn serve_connection<H, F, B>(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    name: &'static str,
    limits: Limits,
    handler: H,
    place: &Arc<Place>,
) where
    H: Fn(Request<Incoming>, SocketAddr) -> F + Send + Sync + 'static,
    F: Future<Output = Response<B>> + Send + 'static,
    B: Body + Unpin + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mine = Arc::clone(place);
    let service = hyper::service::service_fn(move |req| {
        let place = Arc::clone(&mine);
        let answer = handler(req, peer);
        async move {
            place.busy.store(true, Ordering::Relaxed);
            let answer = answer.await;
            let guard = Busy(place);
            Ok::<_, std::convert::Infallible>(answer.map(|body| Guarded { body, guard }))
        }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(limits.max_header_bytes)
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    let life = async {
        match limits.max_connection_life {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        r = conn.as_mut() => if let Err(e) = r {
            tracing::debug!("{name} client {peer}: {e}");
        },
        () = place.end.notified() => tracing::debug!("{name} client {peer}: closed for a newer connection"),
        () = life => {}
    }
}

/// Clears its connection's busy flag when the answer's body is done or dropped.
struct Busy(Arc<Place>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.busy.store(false, Ordering::Relaxed);
    }
}

/// An answer's body that holds its connection busy while it lives.
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

#[cfg(test)]
mod places_tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([127, 0, 0, last])
    }

    #[test]
    fn one_address_cannot_take_every_place_even_with_busy_connections() {
        let limits = Limits {
            max_connections: 8,
            max_per_address: 3,
            ..Limits::default()
        };
        let mut places = Places::default();
        // A flooder's connections, each in a request (half a body sent).
        let flood: Vec<_> = (0..20).map(|_| places.admit(ip(78), &limits)).collect();
        for p in &flood {
            p.busy.store(true, Ordering::Relaxed);
        }
        assert_eq!(places.0.len(), 3, "the flooder keeps only its share");
        let client = places.admit(ip(1), &limits);
        assert!(places.0.iter().any(|(_, p)| Arc::ptr_eq(p, &client)));
        assert_eq!(places.0.iter().filter(|(a, _)| *a == ip(78)).count(), 3);
    }

    #[test]
    fn a_full_set_of_busy_connections_gives_way_from_the_address_that_holds_most() {
        let limits = Limits {
            max_connections: 4,
            max_per_address: 3,
            ..Limits::default()
        };
        let mut places = Places::default();
        for a in [2, 2, 2, 3] {
            places
                .admit(ip(a), &limits)
                .busy
                .store(true, Ordering::Relaxed);
        }
        places.admit(ip(1), &limits);
        let count = |a| places.0.iter().filter(|(x, _)| *x == ip(a)).count();
        assert_eq!((count(1), count(2), count(3)), (1, 2, 1));
    }
}

/// Why a request's body was not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum BodyError {
    #[error("request body too large")]
    TooLarge,
    #[error("request body too slow")]
    TooSlow,
    #[error("request body not read")]
    Broken,
}

impl BodyError {
    /// The status a face answers it with.
    pub(crate) fn status(self) -> StatusCode {
        match self {
            BodyError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            BodyError::TooSlow => StatusCode::REQUEST_TIMEOUT,
            BodyError::Broken => StatusCode::BAD_REQUEST,
        }
    }
}

/// Reads a request's body, at most `max` bytes (a larger `Content-Length` is refused before
/// a byte is read) and within `within` once the headers are in.
pub(crate) async fn read_body(
    req: Request<Incoming>,
    max: usize,
    within: Duration,
) -> Result<Bytes, BodyError> {
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Err(BodyError::TooLarge);
    }
    let body = Limited::new(req.into_body(), max);
    match tokio::time::timeout(within, body.collect()).await {
        Ok(Ok(b)) => Ok(b.to_bytes()),
        Ok(Err(e))
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(BodyError::TooLarge)
        }
        Ok(Err(_)) => Err(BodyError::Broken),
        Err(_) => Err(BodyError::TooSlow),
    }
}

/// An answer of `status` with `body` and its content type.
pub(crate) fn plain(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Answer {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}
