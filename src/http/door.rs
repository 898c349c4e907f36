//! The accept loop and the connection: what bounds a client's hold on the server before a
//! face sees a request.
//!
//! Connections: at most [`Limits::max_connections`]. When the set is full, a new connection
//! takes the place of the oldest that is not in a request right now (one that connected and
//! sent nothing, or idles between keep-alive requests), so a flood of idle connections
//! costs the flooder its own older connections, not a client that asks something.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Notify;

/// What every face answers with: a whole body, already built.
pub(crate) type Answer = Response<Full<Bytes>>;

/// The bounds of one door.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Connections served at once.
    pub max_connections: usize,
    /// A request's headers must arrive within this, from the connection's start or the end
    /// of the previous request.
    pub header_timeout: Duration,
    /// A connection lives at most this long (a client simply connects again).
    pub max_connection_life: Duration,
    /// The most a request's headers may take, in bytes.
    pub max_header_bytes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_connections: 128,
            header_timeout: Duration::from_secs(10),
            max_connection_life: Duration::from_secs(300),
            max_header_bytes: 64 << 10,
        }
    }
}

/// One live connection in the set.
struct Conn {
    /// In a request now (headers read, answer not yet written).
    busy: Arc<AtomicBool>,
    end: Arc<Notify>,
    done: Arc<AtomicBool>,
}

/// Accepts connections on `listener` forever (until the task is aborted), each request
/// answered by `handler` with the client's address. `name` goes into the log lines.
pub(crate) async fn serve<H, F>(
    listener: TcpListener,
    name: &'static str,
    limits: Limits,
    handler: H,
) where
    H: Fn(Request<Incoming>, SocketAddr) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Answer> + Send + 'static,
{
    let mut conns: VecDeque<Conn> = VecDeque::new();
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!("{name}: accept: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        conns.retain(|c| !c.done.load(Ordering::Relaxed));
        if conns.len() >= limits.max_connections {
            match conns.iter().position(|c| !c.busy.load(Ordering::Relaxed)) {
                Some(i) => {
                    if let Some(old) = conns.remove(i) {
                        old.end.notify_one();
                    }
                }
                // Every slot is in a request: this one waits for nothing.
                None => continue,
            }
        }
        let conn = Conn {
            busy: Arc::new(AtomicBool::new(false)),
            end: Arc::new(Notify::new()),
            done: Arc::new(AtomicBool::new(false)),
        };
        let (busy, end, done) = (
            Arc::clone(&conn.busy),
            Arc::clone(&conn.end),
            Arc::clone(&conn.done),
        );
        conns.push_back(conn);
        let handler = handler.clone();
        tokio::spawn(async move {
            let _ = stream.set_nodelay(true);
            serve_connection(stream, peer, name, limits, handler, busy, end).await;
            done.store(true, Ordering::Relaxed);
        });
    }
}

async fn serve_connection<H, F>(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    name: &'static str,
    limits: Limits,
    handler: H,
    busy: Arc<AtomicBool>,
    end: Arc<Notify>,
) where
    H: Fn(Request<Incoming>, SocketAddr) -> F + Send + Sync + 'static,
    F: Future<Output = Answer> + Send + 'static,
{
    let service = hyper::service::service_fn(move |req| {
        let busy = Arc::clone(&busy);
        let answer = handler(req, peer);
        async move {
            busy.store(true, Ordering::Relaxed);
            let answer = answer.await;
            busy.store(false, Ordering::Relaxed);
            Ok::<_, Infallible>(answer)
        }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(limits.max_header_bytes)
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    tokio::select! {
        r = conn.as_mut() => if let Err(e) = r {
            tracing::debug!("{name} client {peer}: {e}");
        },
        () = end.notified() => tracing::debug!("{name} client {peer}: closed for a newer connection"),
        () = tokio::time::sleep(limits.max_connection_life) => {}
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
