//! A verb's end of the control socket: connect, exchange hellos, ask.

use std::io;
use std::path::Path;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::UnixStream;

use super::frame::{self, FrameError, ReadLimits, MAX_FRAME, MAX_REPLY};
use super::proto::{self, version_mismatch, ControlError, ErrorKind, Hello, Request, Response};
use crate::protocol::text::shorten;

/// What a verb prints when no session answers.
pub(crate) const NO_SESSION: &str =
    "no ttui session is running (start one with `ttui` or `ttui daemon`)";

/// Longest error message passed on to a verb.
const MAX_MESSAGE: usize = 1000;
/// For the hello, and for writing a request.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// For an answer: adding by URL makes the session download the .torrent first.
const REPLY_TIMEOUT: Duration = Duration::from_secs(300);

/// A connection to the running session: its control socket, or anything that carries the
/// same bytes (`ttui attach --ssh` speaks through an ssh running `ttui bridge`).
#[derive(Debug)]
pub struct Client<S = UnixStream> {
    stream: S,
    /// The session's hello: its version and program.
    pub session: Hello,
    reply_timeout: Duration,
}

impl Client {
    /// Connects and exchanges hellos. No socket, or a socket nobody listens on, is
    /// [`ErrorKind::NoSession`]; a session of another protocol version is
    /// [`ErrorKind::Version`].
    pub async fn connect(path: &Path) -> Result<Client, ControlError> {
        let stream = match UnixStream::connect(path).await {
            Ok(s) => s,
            Err(e) if is_absent(&e) => {
                return Err(ControlError::new(ErrorKind::NoSession, NO_SESSION))
            }
            Err(e) => {
                return Err(ControlError::new(
                    ErrorKind::Internal,
                    format!(
                        "control socket {}: {e}",
                        shorten(&path.display().to_string())
                    ),
                ))
            }
        };
        Client::over(stream, &path.display().to_string()).await
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Client<S> {
    /// Exchanges hellos over `stream`; `name` says where it leads, in errors.
    pub async fn over(mut stream: S, name: &str) -> Result<Client<S>, ControlError> {
        let ours = Hello::ours();
        let body = proto::encode(&ours)?;
        // A session turning us away has written why and closed before our hello: the write
        // fails, yet its answer waits to be read.
        let wrote = frame::write_frame(&mut stream, &body, MAX_FRAME, HELLO_TIMEOUT).await;
        let limits = ReadLimits {
            max: MAX_FRAME,
            idle: Some(HELLO_TIMEOUT),
            frame: HELLO_TIMEOUT,
        };
        let reply = match frame::read_frame(&mut stream, limits).await {
            Ok(r) => r,
            Err(e) => return Err(lost(wrote.err().unwrap_or(e))),
        };
        let session: Hello = match serde_json::from_slice(&reply) {
            Ok(h) => h,
            // A session turning us away (too many clients) answers with an error instead.
            Err(_) => {
                return Err(match proto::decode_response(&reply) {
                    Ok(Response::Error(e)) => printable(e),
                    _ => ControlError::new(
                        ErrorKind::Version,
                        format!(
                            "{} is not a ttui control socket (its first answer is not a hello)",
                            shorten(name)
                        ),
                    ),
                })
            }
        };
        if let Some(e) = version_mismatch(&session, &ours) {
            return Err(printable(e));
        }
        Ok(Client {
            stream,
            session,
            reply_timeout: REPLY_TIMEOUT,
        })
    }

    /// How long [`Client::request`] waits for an answer.
    pub fn set_reply_timeout(&mut self, t: Duration) {
        self.reply_timeout = t;
    }

    /// Sends a streaming request ([`Request::Watch`], [`Request::Subscribe`]); its frames
    /// then come from [`Client::next_frame`].
    pub async fn start(&mut self, r: &Request) -> Result<(), ControlError> {
        let body = proto::encode(r)?;
        frame::write_frame(&mut self.stream, &body, MAX_FRAME, HELLO_TIMEOUT)
            .await
            .map_err(lost)
    }

    /// The next frame of a stream, waiting at most `idle` for it to begin. The session's
    /// [`Response::Error`] comes back as `Err`.
    pub async fn next_frame(&mut self, idle: Duration) -> Result<Response, ControlError> {
        let limits = ReadLimits {
            max: MAX_REPLY,
            idle: Some(idle),
            frame: HELLO_TIMEOUT * 3,
        };
        let reply = frame::read_frame(&mut self.stream, limits)
            .await
            .map_err(lost)?;
        match proto::decode_response(&reply)? {
            Response::Error(e) => Err(printable(e)),
            ok => Ok(ok),
        }
    }

    /// Sends `r` and reads its answer. The session's [`Response::Error`] comes back as `Err`,
    /// so every `Ok` is an answer to act on.
    pub async fn request(&mut self, r: &Request) -> Result<Response, ControlError> {
        let reply = self.request_raw(r).await?;
        match proto::decode_response(&reply)? {
            Response::Error(e) => Err(printable(e)),
            ok => Ok(ok),
        }
    }

    /// Sends `r` and returns its answer's bytes, undecoded (a list of 100,000 is copied to
    /// stdout from them: `cli::list_json`). An error in them is the caller's to decode.
    pub async fn request_raw(&mut self, r: &Request) -> Result<Vec<u8>, ControlError> {
        let body = proto::encode(r)?;
        if body.len() > MAX_FRAME as usize {
            return Err(ControlError::new(
                ErrorKind::BadArgument,
                format!(
                    "the request is {} MiB, more than the control protocol carries ({} MiB)",
                    body.len() >> 20,
                    MAX_FRAME >> 20
                ),
            ));
        }
        // A large .torrent takes a moment to copy; the session reads it within its limits.
        frame::write_frame(&mut self.stream, &body, MAX_FRAME, HELLO_TIMEOUT * 3)
            .await
            .map_err(lost)?;
        let limits = ReadLimits {
            max: MAX_REPLY,
            idle: Some(self.reply_timeout),
            frame: self.reply_timeout,
        };
        frame::read_frame(&mut self.stream, limits)
            .await
            .map_err(lost)
    }
}

/// A [`Response::Error`] decoded from [`Client::request_raw`]'s bytes, as [`Client::request`]
/// returns it.
pub(crate) fn error_of(e: ControlError) -> ControlError {
    printable(e)
}

/// An error from the session is printed on a terminal: it may quote outside text (a name,
/// a tracker's message), so it is cut and cleaned here, once for every verb.
fn printable(e: ControlError) -> ControlError {
    let message = crate::fmt::outside(&e.message, MAX_MESSAGE).into_owned();
    ControlError { message, ..e }
}

fn is_absent(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused
    )
}

fn lost(e: FrameError) -> ControlError {
    let what = match e {
        FrameError::Closed | FrameError::Truncated => {
            "the session closed the connection".to_string()
        }
        FrameError::Timeout => "the session did not answer in time".to_string(),
        e => format!("talking to the session: {e}"),
    };
    ControlError::new(ErrorKind::Internal, what)
}
