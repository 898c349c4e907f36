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
use tokio::task::JoinHandle;

use crate::cli::run::state_dir_of;
use crate::control::client::NO_SESSION;
use crate::control::proto::{AddItem, ControlError, ErrorKind, Request, Response};
use crate::control::Client;
use crate::engine::api::{
    AddSource, Added, LimitTarget, SessionRequest, SessionSnapshot, Snapshot, TorrentId,
};

/// A stream frame later than this means the link is gone (the session sends at least
/// every 2.5 s).
const IDLE: Duration = Duration::from_secs(15);
/// For a command's answer.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(15);
/// What attach ends with when the session's stream breaks.
pub const LOST: &str = "connection to the session lost";

/// A byte stream to a session's control socket.
pub trait Duplex: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Duplex for T {}
type Conn = Box<dyn Duplex>;

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
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

impl Target {
    /// A connection with the hellos exchanged. `quiet`: the command's stderr goes nowhere
    /// (the screen is up and would be scribbled on).
    pub async fn open(&self, quiet: bool) -> Result<Client<Conn>, ControlError> {
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
                Client::over(Box::new(stream) as Conn, &path.display().to_string()).await
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
                Client::over(Box::new(conn) as Conn, program).await
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
pub fn local(state_dir: Option<&std::path::Path>) -> Target {
    let dir = state_dir_of(state_dir);
    Target::Local(crate::control::paths::socket_path(
        &dir,
        state_dir.is_none(),
    ))
}

/// Runs the attached screen until the user quits (`Ok`) or the session's stream breaks
/// (`Err` starting with [`LOST`], printed once the terminal is restored).
pub fn run(target: Target) -> Result<i32, String> {
    let rt = tokio::runtime::Runtime::new().map_err(|e| format!("tokio runtime: {e}"))?;
    let result = rt.block_on(attach(target));
    // Killed ssh children and closed sockets need nothing more from the runtime.
    rt.shutdown_timeout(Duration::from_secs(1));
    result.map(|()| 0)
}

async fn attach(target: Target) -> Result<(), String> {
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
    let adapter = tokio::spawn(serve_requests(target, req_rx));
    let log_path = crate::cli::logging::default_log_path();
    let shown = crate::ui::run_session(rx, req_tx, log_path, None).await;
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
    mut conn: Client<Conn>,
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

/// Answers the screen's requests the way the session would, over the control protocol.
async fn serve_requests(target: Target, mut rx: mpsc::UnboundedReceiver<SessionRequest>) {
    let mut control: Option<Client<Conn>> = None;
    let mut detail: Option<JoinHandle<()>> = None;
    while let Some(req) = rx.recv().await {
        match req {
            SessionRequest::Subscribe { id, reply } => {
                if let Some(old) = detail.take() {
                    old.abort();
                }
                let opened = match open_detail(&target, id).await {
                    Ok((snaps, task)) => {
                        detail = Some(task);
                        Some(snaps)
                    }
                    Err(e) => {
                        tracing::warn!("attach: torrent {id}: {}", e.message);
                        None
                    }
                };
                let _ = reply.send(opened);
            }
            SessionRequest::Torrent { id, command } => {
                let r = Request::Command { id: id.0, command };
                let _ = ask(&target, &mut control, &r).await;
            }
            SessionRequest::Verify { id } => {
                let r = Request::Verify {
                    ids: vec![id.0.to_string()],
                };
                let _ = ask(&target, &mut control, &r).await;
            }
            SessionRequest::Remove {
                id,
                delete_data,
                reply,
            } => {
                let r = Request::Remove {
                    ids: vec![id.0.to_string()],
                    delete_data,
                };
                let _ = reply.send(done(ask(&target, &mut control, &r).await));
            }
            SessionRequest::Add {
                source,
                save_path,
                paused,
                files,
                reply,
            } => {
                // The add dialog: the session answers as it does `ttui add`.
                let item = match source {
                    AddSource::Torrent { name, bytes } => AddItem::Torrent { name, bytes },
                    AddSource::Magnet(m) => AddItem::Magnet(m),
                };
                let r = Request::Add {
                    items: vec![item],
                    save_path,
                    paused,
                    files,
                };
                let _ = reply.send(added(ask(&target, &mut control, &r).await));
            }
            SessionRequest::Move { id, dir, reply } => {
                let r = Request::Move {
                    id: id.0.to_string(),
                    dir,
                };
                let _ = reply.send(done(ask(&target, &mut control, &r).await));
            }
            SessionRequest::Files { reply, .. } => {
                let _ = reply.send(None);
            }
            SessionRequest::Force { id, on, reply } => {
                let ids = vec![id.0.to_string()];
                let r = if on {
                    Request::Force { ids }
                } else {
                    Request::Resume { ids }
                };
                let _ = reply.send(done(ask(&target, &mut control, &r).await));
            }
            SessionRequest::Queue { id, to, reply } => {
                let r = Request::Queue {
                    id: id.0.to_string(),
                    to,
                };
                let _ = reply.send(done(ask(&target, &mut control, &r).await));
            }
            SessionRequest::Goals { reply, .. } => {
                let _ = reply.send(Err("not from an attached screen: use `ttui limit`".into()));
            }
            SessionRequest::Limit {
                target: whose,
                change,
                reply,
            } => {
                let ids = match whose {
                    LimitTarget::Session => Vec::new(),
                    LimitTarget::All => vec!["all".to_string()],
                    LimitTarget::Torrents(ids) => ids.iter().map(|id| id.0.to_string()).collect(),
                };
                let outcome =
                    match ask(&target, &mut control, &Request::Limit { ids, change }).await {
                        Ok(Response::Limits(now)) => Ok(now),
                        Ok(_) => Err("the session answered something else".into()),
                        Err(e) => Err(e.message),
                    };
                let _ = reply.send(outcome);
            }
            // Quitting the attached screen leaves the session running.
            SessionRequest::Shutdown => {}
        }
    }
    if let Some(task) = detail {
        task.abort();
    }
}

/// The session's answer to a request on torrents, as an in-process session gives it: the
/// first torrent's error, if any.
fn done(answer: Result<Response, ControlError>) -> Result<(), String> {
    match answer.map_err(|e| e.message)? {
        Response::Done(results) => results
            .into_iter()
            .find_map(|r| r.error)
            .map_or(Ok(()), Err),
        _ => Ok(()),
    }
}

/// The session's answer to one add, as an in-process session gives it.
fn added(answer: Result<Response, ControlError>) -> Result<Added, String> {
    let r = match answer.map_err(|e| e.message)? {
        Response::Added(mut results) if !results.is_empty() => results.swap_remove(0),
        Response::Error(e) => return Err(e.message),
        _ => return Err("unexpected answer from the session".into()),
    };
    if let Some(e) = r.error {
        return Err(e);
    }
    let id = TorrentId(r.id.ok_or("the session gave no id")?);
    let name = r.name.unwrap_or_default();
    // Only the id and the name are shown; the hash is kept when it reads as one.
    let mut info_hash = [0u8; 20];
    if let Some(hex) = r.info_hash.filter(|h| h.len() == 40 && h.is_ascii()) {
        for (i, b) in info_hash.iter_mut().enumerate() {
            *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap_or(0);
        }
    }
    Ok(if r.already {
        Added::Already {
            id,
            name,
            info_hash,
        }
    } else {
        Added::New {
            id,
            name,
            info_hash,
        }
    })
}

/// One request on the command connection, opened (or opened again, once) as needed.
async fn ask(
    target: &Target,
    control: &mut Option<Client<Conn>>,
    r: &Request,
) -> Result<Response, ControlError> {
    let mut last = None;
    for _ in 0..2 {
        let mut client = match control.take() {
            Some(c) => c,
            None => {
                let mut c = target.open(true).await?;
                c.set_reply_timeout(COMMAND_TIMEOUT);
                c
            }
        };
        match client.request(r).await {
            Ok(answer) => {
                *control = Some(client);
                return Ok(answer);
            }
            // The session's own refusal: the connection is fine, asking again won't help.
            Err(e) if e.kind != ErrorKind::Internal => {
                *control = Some(client);
                return Err(e);
            }
            Err(e) => last = Some(e),
        }
    }
    let e = last.unwrap_or_else(|| internal("no answer".into()));
    tracing::warn!("attach: {}: {}", r.verb(), e.message);
    Err(e)
}

/// A streamed connection for torrent `id`, and the task feeding its watch; the task ends
/// (closing the connection) when the screen drops the receiver or the stream ends.
async fn open_detail(
    target: &Target,
    id: TorrentId,
) -> Result<(watch::Receiver<Arc<Snapshot>>, JoinHandle<()>), ControlError> {
    let mut conn = target.open(true).await?;
    conn.start(&Request::Subscribe { id: id.0 }).await?;
    let first = match conn.next_frame(IDLE).await? {
        Response::Snapshot(s) => *s,
        _ => return Err(internal("unexpected answer from the session".into())),
    };
    let (tx, rx) = watch::channel(Arc::new(first));
    let task = tokio::spawn(async move {
        loop {
            tokio::select! {
                frame = conn.next_frame(IDLE) => match frame {
                    Ok(Response::Snapshot(s)) => {
                        let _ = tx.send(Arc::new(*s));
                    }
                    Ok(_) => {}
                    Err(_) => return,
                },
                () = tx.closed() => return,
            }
        }
    });
    Ok((rx, task))
}

/// `ttui bridge`: joins stdin/stdout to the control socket of the session of `state_dir`,
/// for `ttui attach --ssh` on another machine. Ends when either side closes.
pub fn bridge(state_dir: Option<&std::path::Path>) -> Result<i32, ControlError> {
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
