//! `ttui attach`: the session screen of a running session, drawn from its control socket
//! (or, with `--ssh`, from a session on another machine through the system's `ssh` running
//! `ttui bridge` there). The screen's loop is the one a local session uses; an adapter here
//! gives it what the session would: a watch of the session's snapshot fed from a streamed
//! `Watch`, and a request channel whose requests become control requests (`Subscribe` opens
//! a streamed connection for the open torrent). Quitting ends the attach, never the session.
//!
//! Connections: one streams the session, one the open torrent (re-opened when another is
//! opened), one carries commands. Over ssh each is its own `ssh` process rather than one
//! multiplexed channel: the protocol stays the local one byte for byte, and ssh's own
//! ControlMaster makes the extra connections cheap for whoever wants that.

mod requests;

use std::path::PathBuf;
use std::pin::Pin;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, Join, ReadBuf};
use tokio::net::UnixStream;
use tokio::process::{Child, ChildStdin, ChildStdout};
use tokio::sync::{mpsc, watch};

use crate::cli::run::state_dir_of;
use crate::control::client::NO_SESSION;
use crate::control::proto::{ControlError, ErrorKind, Request, Response};
use crate::control::Client;
use crate::engine::api::SessionSnapshot;
use requests::serve_requests;

/// A stream frame later than this means the link is gone (the session sends at least
/// every 2.5 s).
const IDLE: Duration = Duration::from_secs(15);
/// For a command's answer.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(15);
/// What attach ends with when the session's stream breaks.
pub(crate) const LOST: &str = "connection to the session lost";

/// A byte stream to a session's control socket.
pub trait Duplex: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Duplex for T {}
type ControlLink = Box<dyn Duplex>;

/// Where the session is.
#[derive(Debug, Clone)]
pub enum Target {
    /// Its control socket on this machine.
    Local(PathBuf),
    /// A command that reaches its control socket over stdin/stdout (`ssh HOST ttui bridge`).
    Command { program: String, args: Vec<String> },
}

/// The `ssh` command line that runs `remote_ttui bridge` on `host`. The remote command is
/// one string for the remote shell, so every part of it is quoted.
pub fn ssh_command(
    host: &str,
    remote_ttui: &str,
    state_dir: Option<&std::path::Path>,
    config: Option<&std::path::Path>,
) -> Target {
    let mut args = vec!["-T".to_string(), "-o".into(), "BatchMode=yes".into()];
    if let Some(c) = config {
        args.push("-F".into());
        args.push(c.display().to_string());
    }
    // A host starting with '-' would be read as an option.
    args.push("--".into());
    args.push(host.to_string());
    let mut remote = format!("{} bridge", shell_quote(remote_ttui));
    if let Some(d) = state_dir {
        remote.push_str(" --state-dir ");
        remote.push_str(&shell_quote(&d.display().to_string()));
    }
    args.push(remote);
    Target::Command {
        program: "ssh".into(),
        args,
    }
}

/// `s` as one word for a POSIX shell.
pub(crate) fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

impl Target {
    /// A connection with the hellos exchanged. `quiet`: the command's stderr goes nowhere
    /// (the screen is up and would be scribbled on).
    pub async fn open(&self, quiet: bool) -> Result<Client<ControlLink>, ControlError> {
        match self {
            Target::Local(path) => {
                let stream = UnixStream::connect(path)
                    .await
                    .map_err(|e| match e.kind() {
                        std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused => {
                            ControlError::new(ErrorKind::NoSession, NO_SESSION)
                        }
                        _ => internal(format!("control socket {}: {e}", path.display())),
                    })?;
                Client::over(Box::new(stream) as ControlLink, &path.display().to_string()).await
            }
            Target::Command { program, args } => {
                let mut child = tokio::process::Command::new(program)
                    .args(args)
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .stderr(if quiet {
                        Stdio::null()
                    } else {
                        Stdio::inherit()
                    })
                    .kill_on_drop(true)
                    .spawn()
                    .map_err(|e| internal(format!("cannot run {program}: {e}")))?;
                let (Some(out), Some(inp)) = (child.stdout.take(), child.stdin.take()) else {
                    return Err(internal(format!("{program}: no pipes")));
                };
                let conn = Piped {
                    io: tokio::io::join(out, inp),
                    _child: child,
                };
                Client::over(Box::new(conn) as ControlLink, program).await
            }
        }
    }
}

fn internal(message: String) -> ControlError {
    ControlError::new(ErrorKind::Internal, message)
}

/// A child's stdout and stdin as one stream; the child is killed when it is dropped.
struct Piped {
    io: Join<ChildStdout, ChildStdin>,
    _child: Child,
}

impl AsyncRead for Piped {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Piped {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// The local socket of the session of `state_dir` (the default one when `None`).
pub(crate) fn local(state_dir: Option<&std::path::Path>) -> Target {
    let dir = state_dir_of(state_dir);
    Target::Local(crate::control::paths::socket_path(
        &dir,
        state_dir.is_none(),
    ))
}

/// Runs the attached screen until the user quits (`Ok`) or the session's stream breaks
/// (`Err` starting with [`LOST`], printed once the terminal is restored).
/// `ssh_host`: the session is on that machine (`--ssh`).
pub(crate) fn run(target: Target, ssh_host: Option<String>) -> Result<i32, String> {
    let rt = tokio::runtime::Runtime::new().map_err(|e| format!("tokio runtime: {e}"))?;
    let result = rt.block_on(attach(target, ssh_host));
    // Killed ssh children and closed sockets need nothing more from the runtime.
    rt.shutdown_timeout(Duration::from_secs(1));
    result.map(|()| 0)
}

async fn attach(target: Target, ssh_host: Option<String>) -> Result<(), String> {
    let mut conn = target.open(false).await.map_err(|e| e.message)?;
    conn.start(&Request::Watch).await.map_err(|e| e.message)?;
    let first = match conn.next_frame(IDLE).await.map_err(|e| e.message)? {
        Response::Session(s) => *s,
        other => return Err(format!("unexpected answer from the session: {other:?}")),
    };
    let (tx, rx) = watch::channel(Arc::new(first));
    let lost = Arc::new(Mutex::new(None::<String>));
    let feeder = tokio::spawn(feed_session(conn, tx, Arc::clone(&lost)));
    let (req_tx, req_rx) = mpsc::unbounded_channel();
    let player = crate::cli::play::for_screen(target.clone(), ssh_host);
    let adapter = tokio::spawn(serve_requests(target, req_rx));
    let log_path = crate::cli::logging::default_log_path();
    let client = crate::engine::api::Client::new(req_tx, rx);
    let shown = crate::ui::run_session(client, log_path, None, Some(player)).await;
    feeder.abort();
    adapter.abort();
    shown.map_err(|e| e.to_string())?;
    let why = lost.lock().ok().and_then(|mut l| l.take());
    match why {
        Some(why) => Err(why),
        None => Ok(()),
    }
}

/// Feeds the screen's session watch until the stream breaks (noting why in `lost`, and
/// dropping `tx`, which ends the screen) or the screen is gone.
async fn feed_session(
    mut conn: Client<ControlLink>,
    tx: watch::Sender<Arc<SessionSnapshot>>,
    lost: Arc<Mutex<Option<String>>>,
) {
    loop {
        tokio::select! {
            frame = conn.next_frame(IDLE) => match frame {
                Ok(Response::Session(s)) => {
                    let _ = tx.send(Arc::new(*s));
                }
                Ok(_) => {}
                Err(e) => {
                    if let Ok(mut l) = lost.lock() {
                        *l = Some(format!("{LOST} ({})", e.message));
                    }
                    return;
                }
            },
            () = tx.closed() => return,
        }
    }
}

/// `ttui bridge`: joins stdin/stdout to the control socket of the session of `state_dir`,
/// for `ttui attach --ssh` on another machine. Ends when either side closes.
pub(crate) fn bridge(state_dir: Option<&std::path::Path>) -> Result<i32, ControlError> {
    let Target::Local(socket) = local(state_dir) else {
        return Err(internal("no local socket".into()));
    };
    let rt = tokio::runtime::Runtime::new().map_err(|e| internal(format!("tokio runtime: {e}")))?;
    let result = rt.block_on(async move {
        let stream = UnixStream::connect(&socket)
            .await
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused => {
                    ControlError::new(ErrorKind::NoSession, NO_SESSION)
                }
                _ => internal(format!("control socket {}: {e}", socket.display())),
            })?;
        let (mut from_session, mut to_session) = stream.into_split();
        let (mut stdin, mut stdout) = (tokio::io::stdin(), tokio::io::stdout());
        tokio::select! {
            _ = tokio::io::copy(&mut stdin, &mut to_session) => {}
            _ = tokio::io::copy(&mut from_session, &mut stdout) => {}
        }
        let _ = tokio::io::AsyncWriteExt::flush(&mut stdout).await;
        Ok(0)
    });
    // Reading stdin blocks a thread that only the other side's end would wake.
    rt.shutdown_background();
    result
}
