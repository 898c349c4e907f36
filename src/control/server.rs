//! The session's end of the control socket.
//!
//! Binding: a lock file beside the socket (`control.sock.lock`, `flock`ed for the server's
//! life) says whether a session is alive: the kernel drops the lock when a process dies, so a
//! socket file left by a killed session is known stale without guessing from a refused
//! connect, and two sessions starting at once cannot both take over. The socket is bound in a
//! private temporary directory, made 0600, then renamed into place, so it is never reachable
//! with looser permissions, even for an instant.
//!
//! Serving: one task per client, at most [`Limits::max_clients`] of them. Each frame is
//! capped and must arrive within a deadline once begun, each answer must be taken within a
//! deadline, and any failure ends that connection only.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot, Semaphore};

use super::frame::{self, FrameError, ReadLimits, MAX_FRAME, MAX_REPLY};
use super::paths;
use super::proto::{self, version_mismatch, ControlError, ErrorKind, Hello, Request, Response};
use crate::protocol::text::shorten;

/// What the session answers requests through.
pub type Handler = mpsc::Sender<(Request, oneshot::Sender<Response>)>;

/// Largest hello: it is a version and a program name.
const MAX_HELLO: u32 = 64 << 10;

/// Per-connection limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_clients: usize,
    /// Largest request read.
    pub max_frame: u32,
    /// Largest answer or stream frame written.
    pub max_reply: u32,
    /// For the client's hello, from connect, and for any frame once its first byte came.
    pub frame_timeout: Duration,
    /// For the client to take each part of an answer (`frame::write_frame`).
    pub write_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_clients: 64,
            max_frame: MAX_FRAME,
            max_reply: MAX_REPLY,
            frame_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(10),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BindError {
    #[error("a ttui session is already running for this state directory (control socket {})", .0.display())]
    AlreadyRunning(PathBuf),
    #[error("control socket {}: {source}", .path.display())]
    Io { path: PathBuf, source: io::Error },
}

/// A bound control socket. Dropping it removes the socket file (when it is still ours) and
/// releases the lock.
#[derive(Debug)]
pub struct ControlServer {
    listener: UnixListener,
    path: PathBuf,
    /// (device, inode) of the socket we bound, so drop never removes a successor's.
    ident: (u64, u64),
    _lock: File,
}

impl ControlServer {
    /// Binds `path` (see [`paths::socket_path`]). Must run inside a tokio runtime.
    pub fn bind(path: &Path) -> Result<ControlServer, BindError> {
        let io_err = |source| BindError::Io {
            path: path.to_owned(),
            source,
        };
        paths::check_len(path).map_err(io_err)?;
        paths::make_parent(path).map_err(io_err)?;
        let lock = take_lock(path)?;
        match std::fs::symlink_metadata(path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err(e)),
            Ok(m) if !m.file_type().is_socket() => {
                return Err(io_err(io::Error::other(
                    "exists and is not a socket; not touching it",
                )))
            }
            // A live socket with no lock held: a session that takes no lock (another build).
            Ok(_) => match std::os::unix::net::UnixStream::connect(path) {
                Ok(_) => return Err(BindError::AlreadyRunning(path.to_owned())),
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                    tracing::info!("control socket {}: stale, taking it over", path.display());
                }
                Err(e) => return Err(io_err(e)),
            },
        }
        let listener = bind_private(path).map_err(io_err)?;
        let meta = std::fs::symlink_metadata(path).map_err(io_err)?;
        Ok(ControlServer {
            listener,
            path: path.to_owned(),
            ident: (meta.dev(), meta.ino()),
            _lock: lock,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Serves until the handler's receiver is dropped; then the socket file goes.
    pub async fn run(self, handler: Handler) {
        self.run_with(handler, Limits::default()).await
    }

    pub async fn run_with(self, handler: Handler, limits: Limits) {
        serve_on(&self.listener, handler, limits).await;
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        if let Ok(m) = std::fs::symlink_metadata(&self.path) {
            if (m.dev(), m.ino()) == self.ident {
                let _ = std::fs::remove_file(&self.path);
            }
        }
    }
}

fn take_lock(path: &Path) -> Result<File, BindError> {
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    let lock_path = PathBuf::from(name);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&lock_path)
        .map_err(|source| BindError::Io {
            path: lock_path.clone(),
            source,
        })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(BindError::AlreadyRunning(path.to_owned())),
        Err(std::fs::TryLockError::Error(source)) => Err(BindError::Io {
            path: lock_path,
            source,
        }),
    }
}

/// Binds in a fresh 0700 directory beside `path`, makes the socket 0600, renames it over
/// `path` (replacing a stale one atomically).
fn bind_private(path: &Path) -> io::Result<UnixListener> {
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = tempfile::Builder::new()
        .prefix(".ttui")
        .tempdir_in(parent)?;
    let staged = tmp.path().join("s");
    paths::check_len(&staged)?;
    let listener = std::os::unix::net::UnixListener::bind(&staged)?;
    std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(0o600))?;
    std::fs::rename(&staged, path)?;
    listener.set_nonblocking(true)?;
    UnixListener::from_std(listener)
}

/// Serves clients on `listener` until the handler's receiver is dropped.
pub async fn serve(listener: UnixListener, handler: Handler) {
    serve_on(&listener, handler, Limits::default()).await
}

pub async fn serve_with(listener: UnixListener, handler: Handler, limits: Limits) {
    serve_on(&listener, handler, limits).await
}

async fn serve_on(listener: &UnixListener, handler: Handler, limits: Limits) {
    let slots = Arc::new(Semaphore::new(limits.max_clients));
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            () = handler.closed() => return,
        };
        let stream = match accepted {
            Ok((s, _)) => s,
            Err(e) => {
                // Out of file descriptors, most likely: give the clients time to leave.
                tracing::warn!("control socket: accept: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            busy(&stream, limits);
            continue;
        };
        let handler = handler.clone();
        tokio::spawn(async move {
            let _permit = permit;
            if let Err(e) = client(stream, handler, limits).await {
                tracing::debug!("control client dropped: {e}");
            }
        });
    }
}

/// Tells a client over the limit why it is turned away, if its socket takes the few bytes
/// at once; never waits for it.
fn busy(stream: &UnixStream, limits: Limits) {
    let err = ControlError::new(
        ErrorKind::Internal,
        format!(
            "the session has {} control clients already; try again later",
            limits.max_clients
        ),
    );
    if let Ok(body) = proto::encode(&Response::Error(err)) {
        if let Ok(wire) = frame::encode(&body, limits.max_reply) {
            let _ = stream.try_write(&wire);
        }
    }
}

async fn client(
    mut stream: UnixStream,
    handler: Handler,
    limits: Limits,
) -> Result<(), FrameError> {
    let hello_limits = ReadLimits {
        max: MAX_HELLO,
        idle: Some(limits.frame_timeout),
        frame: limits.frame_timeout,
    };
    let body = frame::read_frame(&mut stream, hello_limits).await?;
    let ours = Hello::ours();
    send(&mut stream, &ours, limits).await?;
    let refusal = match serde_json::from_slice::<Hello>(&body) {
        Ok(theirs) => version_mismatch(&ours, &theirs),
        Err(e) => Some(ControlError::new(
            ErrorKind::Version,
            format!("not a ttui control client: {}", shorten(&e.to_string())),
        )),
    };
    if let Some(err) = refusal {
        return send(&mut stream, &Response::Error(err), limits).await;
    }
    let frame_limits = ReadLimits {
        max: limits.max_frame,
        idle: None,
        frame: limits.frame_timeout,
    };
    loop {
        let body = match frame::read_frame(&mut stream, frame_limits).await {
            Ok(b) => b,
            Err(FrameError::Closed) => return Ok(()),
            Err(e @ FrameError::TooLarge { .. }) => {
                let err = ControlError::new(ErrorKind::BadArgument, e.to_string());
                // The rest of that frame is unread: the stream cannot go on.
                send(&mut stream, &Response::Error(err), limits).await?;
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        let response = match proto::decode_request(&body) {
            Ok(request) => {
                drop(body);
                ask(&handler, request).await
            }
            Err(e) => Response::Error(e),
        };
        if let Response::Stream(frames) = response {
            // A streamed answer has the connection to itself until one side ends it.
            return match frames.take() {
                Some(frames) => stream_out(stream, frames, limits).await,
                None => Ok(()),
            };
        }
        send(&mut stream, &response, limits).await?;
    }
}

/// Writes `frames` until they end, a write is not taken in time, or the client closes (or
/// sends anything: a streaming connection takes no more requests).
async fn stream_out(
    mut stream: UnixStream,
    mut frames: mpsc::Receiver<Response>,
    limits: Limits,
) -> Result<(), FrameError> {
    let (mut read_half, mut write_half) = stream.split();
    let mut byte = [0u8; 1];
    loop {
        tokio::select! {
            frame = frames.recv() => match frame {
                Some(r) => send(&mut write_half, &r, limits).await?,
                None => return Ok(()),
            },
            _ = tokio::io::AsyncReadExt::read(&mut read_half, &mut byte) => return Ok(()),
        }
    }
}

async fn ask(handler: &Handler, request: Request) -> Response {
    let (tx, rx) = oneshot::channel();
    let gone = || {
        Response::Error(ControlError::new(
            ErrorKind::Internal,
            "the session is shutting down",
        ))
    };
    if handler.send((request, tx)).await.is_err() {
        return gone();
    }
    rx.await.unwrap_or_else(|_| gone())
}

async fn send<T: serde::Serialize, W: tokio::io::AsyncWrite + Unpin>(
    stream: &mut W,
    message: &T,
    limits: Limits,
) -> Result<(), FrameError> {
    let mut body = proto::encode(message).unwrap_or_else(|e| internal(&e.message));
    if body.len() > limits.max_reply as usize {
        body = internal(&format!(
            "the answer is {} bytes, more than the protocol's limit of {}",
            body.len(),
            limits.max_reply
        ));
    }
    frame::write_frame(stream, &body, limits.max_reply, limits.write_timeout).await
}

fn internal(message: &str) -> Vec<u8> {
    let err = ControlError::new(ErrorKind::Internal, message);
    // An error of a short string always serializes.
    proto::encode(&Response::Error(err)).unwrap_or_default()
}
