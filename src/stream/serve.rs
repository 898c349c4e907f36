//! What the stream server answers: `GET`/`HEAD /stream/<info hash>/<file index>` with one
//! `Range` (`range.rs`), the M3U playlists (`/playlist.m3u` for the session,
//! `/playlist/<info hash>.m3u` for one torrent) and `/status` (connections and readers open
//! now, for the tests and `ttui stream --status`). With credentials set every request needs
//! them (HTTP Basic).
//!
//! A body is read from an `engine::api::FileStream`, one piece's slice at a time: each read
//! waits until its piece is verified and returns at once when it is, so a player gets bytes
//! as the swarm delivers them and never a byte that was not checked. A player that goes away
//! drops the body, and with it the stream: its window leaves the picker at once.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty, Full, StreamBody};
use hyper::body::{Bytes, Frame, Incoming};
use hyper::header::{HeaderValue, ACCEPT_RANGES, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};

use super::range::{self, Ask};
use crate::engine::api::{Client, FileStream, RequestError, StreamError, TorrentId};
use crate::http::mime;
use crate::http::DoorStats;
use crate::http::{guard, Credentials, LoginPacer};

/// Bytes read from the stream per body frame, at most (a read also stops at its piece's end).
const CHUNK: usize = 256 << 10;
/// How long opening a stream may take (the session answers at once unless it is stuck).
const OPEN_TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) type Body = UnsyncBoxBody<Bytes, std::io::Error>;

/// What every request of one server shares.
pub(crate) struct Ctx {
    pub client: Client,
    pub creds: Option<Credentials>,
    /// Failed logins per address (as the RPC paces them).
    pub pacer: std::sync::Mutex<LoginPacer>,
    /// Where the server listens: the base of the URLs a playlist lists, when the request
    /// names no usable `Host`.
    pub local: SocketAddr,
    pub door: Arc<DoorStats>,
    /// Bodies reading a stream now.
    pub reading: Arc<AtomicUsize>,
}

fn empty() -> Body {
    Empty::new().map_err(|never| match never {}).boxed_unsync()
}

fn full(text: impl Into<Bytes>) -> Body {
    Full::new(text.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

fn plain(status: StatusCode, text: &str) -> Response<Body> {
    let mut r = Response::new(full(format!("{text}\n")));
    *r.status_mut() = status;
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

pub(crate) async fn handle(
    req: Request<Incoming>,
    peer: SocketAddr,
    ctx: Arc<Ctx>,
) -> Response<Body> {
    match &ctx.creds {
        Some(creds) => {
            let given = req
                .headers()
                .get(hyper::header::AUTHORIZATION)
                .map(HeaderValue::as_bytes);
            match guard::gate("stream server", given, creds, &ctx.pacer, peer.ip()) {
                guard::Gate::Pass => {}
                guard::Gate::Paced => {
                    return plain(
                        StatusCode::TOO_MANY_REQUESTS,
                        "too many failed logins; wait a minute",
                    )
                }
                guard::Gate::Unauthorized => {
                    let mut r = plain(StatusCode::UNAUTHORIZED, "credentials needed");
                    r.headers_mut().insert(
                        hyper::header::WWW_AUTHENTICATE,
                        HeaderValue::from_static("Basic realm=\"ttui stream\""),
                    );
                    return r;
                }
            }
        }
        // Without credentials a web page must not read files through a name it rebinds to
        // 127.0.0.1: only an IP literal or localhost may be named (with credentials the
        // page cannot read anything, and a player may use any name, through a tunnel too).
        None => {
            let raw = req.headers().get(hyper::header::HOST);
            let host = raw.and_then(|h| h.to_str().ok());
            if raw.is_some() && host.is_none() || !guard::host_allowed(host, &[]) {
                return plain(
                    StatusCode::MISDIRECTED_REQUEST,
                    "name this server by its address (or localhost), or set stream.username and stream.password",
                );
            }
        }
    }
    let head = match *req.method() {
        Method::GET => false,
        Method::HEAD => true,
        _ => return plain(StatusCode::METHOD_NOT_ALLOWED, "GET or HEAD"),
    };
    let path = req.uri().path().to_string();
    let base = base_url(&req, ctx.local);
    let answer = match route(&path) {
        Some(Route::Status) => status(&ctx),
        Some(Route::SessionPlaylist) => session_playlist(&ctx, &base).await,
        Some(Route::TorrentPlaylist(hash)) => torrent_playlist(&ctx, &base, hash).await,
        Some(Route::File(hash, file)) => {
            let range = req
                .headers()
                .get(hyper::header::RANGE)
                .map(HeaderValue::as_bytes);
            file_answer(&ctx, hash, file, range, head).await
        }
        None => plain(StatusCode::NOT_FOUND, "no such path"),
    };
    if head {
        return answer.map(|_| empty());
    }
    answer
}

/// The paths the server answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    Status,
    SessionPlaylist,
    TorrentPlaylist([u8; 20]),
    /// A torrent's file by its index (padding files not counted).
    File([u8; 20], usize),
}

/// Reads a request's path; anything after `/stream/<hash>/<index>/` (a file name a player
/// shows) is ignored.
pub(crate) fn route(path: &str) -> Option<Route> {
    match path {
        "/status" => return Some(Route::Status),
        "/playlist.m3u" | "/playlist.m3u8" => return Some(Route::SessionPlaylist),
        _ => {}
    }
    if let Some(rest) = path.strip_prefix("/playlist/") {
        let hex = rest
            .strip_suffix(".m3u")
            .or_else(|| rest.strip_suffix(".m3u8"))?;
        return info_hash(hex).map(Route::TorrentPlaylist);
    }
    let rest = path.strip_prefix("/stream/")?;
    let mut parts = rest.splitn(3, '/');
    let hash = info_hash(parts.next()?)?;
    let index = parts.next()?;
    if index.is_empty() || index.len() > 9 || !index.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(Route::File(hash, index.parse().ok()?))
}

fn info_hash(hex: &str) -> Option<[u8; 20]> {
    (hex.len() == 40)
        .then(|| crate::protocol::hex::decode_array::<20>(hex))
        .flatten()
}

/// `http://HOST` as the client named us (so a playlist works through an SSH tunnel), when
/// its `Host` is a plain host and port; else the address we listen on.
fn base_url(req: &Request<Incoming>, local: SocketAddr) -> String {
    let host = req
        .headers()
        .get(hyper::header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.len() <= 255
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-:[]_".contains(&b))
        });
    match host {
        Some(h) => format!("http://{h}"),
        None => format!("http://{local}"),
    }
}

fn status(ctx: &Ctx) -> Response<Body> {
    let text = format!(
        "{{\"connections\":{},\"reading\":{}}}",
        ctx.door.open.load(Ordering::Relaxed),
        ctx.reading.load(Ordering::Relaxed)
    );
    let mut r = Response::new(full(text));
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

fn torrent_id(ctx: &Ctx, hash: &[u8; 20]) -> Option<TorrentId> {
    ctx.client
        .head()
        .torrents
        .iter()
        .find(|t| t.info_hash == *hash)
        .map(|t| t.id)
}

/// The M3U lines of one torrent's files: its media files, or all when it has none.
async fn playlist_lines(ctx: &Ctx, base: &str, id: TorrentId, hash: &[u8; 20]) -> String {
    let Ok(Some(files)) = ctx.client.files(id).await else {
        return String::new();
    };
    let real: Vec<_> = files.iter().filter(|f| !f.padding).collect();
    let media = real.iter().any(|f| mime::is_media(&f.path));
    let mut out = String::new();
    for (i, f) in real.iter().enumerate() {
        if media && !mime::is_media(&f.path) {
            continue;
        }
        // A name on one line: a line break in a path would start a URL line of its own.
        let name: String = f.path.chars().filter(|c| !c.is_control()).collect();
        out.push_str(&format!(
            "#EXTINF:-1,{name}\n{base}{}\n",
            crate::http::stream_path(hash, i)
        ));
    }
    out
}

fn m3u(body: String) -> Response<Body> {
    let mut r = Response::new(full(format!("#EXTM3U\n{body}")));
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("audio/x-mpegurl"));
    r
}

async fn torrent_playlist(ctx: &Ctx, base: &str, hash: [u8; 20]) -> Response<Body> {
    match torrent_id(ctx, &hash) {
        Some(id) => m3u(playlist_lines(ctx, base, id, &hash).await),
        None => plain(StatusCode::NOT_FOUND, "no such torrent"),
    }
}

async fn session_playlist(ctx: &Ctx, base: &str) -> Response<Body> {
    let torrents: Vec<(TorrentId, [u8; 20])> = ctx
        .client
        .head()
        .torrents
        .iter()
        .map(|t| (t.id, t.info_hash))
        .collect();
    let mut body = String::new();
    for (id, hash) in torrents {
        body.push_str(&playlist_lines(ctx, base, id, &hash).await);
    }
    m3u(body)
}

async fn file_answer(
    ctx: &Ctx,
    hash: [u8; 20],
    file: usize,
    range: Option<&[u8]>,
    head: bool,
) -> Response<Body> {
    let Some(id) = torrent_id(ctx, &hash) else {
        return plain(StatusCode::NOT_FOUND, "no such torrent");
    };
    let opened = tokio::time::timeout(OPEN_TIMEOUT, ctx.client.open_stream(id, file)).await;
    let mut stream = match opened {
        Ok(Ok(s)) => s,
        Ok(Err(e @ (RequestError::NoTorrent(_) | RequestError::NoFile { .. }))) => {
            return plain(StatusCode::NOT_FOUND, &e.to_string())
        }
        Ok(Err(RequestError::NoMetadata)) => {
            return plain(
                StatusCode::SERVICE_UNAVAILABLE,
                "the torrent's metadata has not arrived yet",
            )
        }
        Ok(Err(e)) => return plain(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
        Err(_) => {
            return plain(
                StatusCode::SERVICE_UNAVAILABLE,
                "the session did not answer",
            )
        }
    };
    let len = stream.len();
    let kind = mime::content_type(stream.path());
    let (status, first, count) = match range::parse(range, len) {
        Ask::Whole => (StatusCode::OK, 0, len),
        Ask::Part { first, last } => (StatusCode::PARTIAL_CONTENT, first, last - first + 1),
        Ask::Unsatisfiable => {
            let mut r = plain(StatusCode::RANGE_NOT_SATISFIABLE, "range past the end");
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
                r.headers_mut().insert(CONTENT_RANGE, v);
            }
            r.headers_mut()
                .insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
            return r;
        }
    };
    let body = if head || count == 0 {
        empty()
    } else {
        stream.seek(first);
        body_of(stream, count, Arc::clone(&ctx.reading))
    };
    let mut r = Response::new(body);
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(CONTENT_TYPE, HeaderValue::from_static(kind));
    h.insert(CONTENT_LENGTH, HeaderValue::from(count));
    if status == StatusCode::PARTIAL_CONTENT {
        let last = first + count - 1;
        if let Ok(v) = HeaderValue::from_str(&format!("bytes {first}-{last}/{len}")) {
            h.insert(CONTENT_RANGE, v);
        }
    }
    r
}

/// Counts a body reading a stream while it lives.
struct Reading(Arc<AtomicUsize>);

impl Drop for Reading {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// `count` bytes from the stream's position, as the pieces under them are verified.
fn body_of(stream: FileStream, count: u64, reading: Arc<AtomicUsize>) -> Body {
    reading.fetch_add(1, Ordering::Relaxed);
    let state = (stream, count, Reading(reading));
    let frames = futures::stream::unfold(state, |(mut stream, left, guard)| async move {
        if left == 0 {
            return None;
        }
        let max = usize::try_from(left).unwrap_or(usize::MAX).min(CHUNK);
        match stream.read(max).await {
            Ok(bytes) if bytes.is_empty() => None,
            Ok(bytes) => {
                let left = left.saturating_sub(bytes.len() as u64);
                Some((Ok(Frame::data(Bytes::from(bytes))), (stream, left, guard)))
            }
            Err(e) => Some((Err(read_error(e)), (stream, 0, guard))),
        }
    });
    StreamBody::new(frames.boxed()).boxed_unsync()
}

fn read_error(e: StreamError) -> std::io::Error {
    std::io::Error::other(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: &str = "0123456789abcdef0123456789abcdef01234567";

    #[test]
    fn routes() {
        let hash = info_hash(H).unwrap();
        assert_eq!(route(&format!("/stream/{H}/3")), Some(Route::File(hash, 3)));
        assert_eq!(
            route(&format!("/stream/{H}/3/Film.mkv")),
            Some(Route::File(hash, 3))
        );
        assert_eq!(
            route(&format!("/playlist/{H}.m3u")),
            Some(Route::TorrentPlaylist(hash))
        );
        assert_eq!(route("/playlist.m3u"), Some(Route::SessionPlaylist));
        assert_eq!(route("/status"), Some(Route::Status));
        for bad in [
            "/".to_string(),
            format!("/stream/{H}"),
            format!("/stream/{H}/"),
            format!("/stream/{H}/-1"),
            format!("/stream/{H}/99999999999"),
            "/stream/xyz/1".to_string(),
            format!("/playlist/{H}"),
        ] {
            assert_eq!(route(&bad), None, "{bad}");
        }
        assert_eq!(crate::http::stream_path(&hash, 7), format!("/stream/{H}/7"));
    }
}
