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

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::UnixStream;
use tokio::sync::watch;

use crate::cli::target::{internal, ControlLink};
pub(crate) use crate::cli::target::{local, ssh_command, Target};
use crate::control::client::NO_SESSION;
use crate::control::lineup::Assembler;
use crate::control::proto::{ControlError, ErrorKind, Request, Response};
use crate::control::Client;
use crate::engine::api::SessionSnapshot;
use requests::Remote;

/// A stream frame later than this means the link is gone (the session sends at least
/// every 2.5 s).
const IDLE: Duration = Duration::from_secs(15);
/// For a command's answer.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(15);
/// What attach ends with when the session's stream breaks.
pub(crate) const LOST: &str = "connection to the session lost";

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
    let mut lineup = Assembler::default();
    let first = match conn.next_frame(IDLE).await.map_err(|e| e.message)? {
        Response::Session(change) => lineup.apply(*change).unwrap_or_default(),
        other => return Err(format!("unexpected answer from the session: {other:?}")),
    };
    let (tx, rx) = watch::channel(Arc::new(first));
    let lost = Arc::new(Mutex::new(None::<String>));
    let feeder = tokio::spawn(feed_session(conn, lineup, tx, Arc::clone(&lost)));
    let player = crate::cli::play::for_screen(target.clone(), ssh_host);
    let (remote, adapter) = Remote::new(target, rx);
    let log_path = crate::cli::logging::default_log_path();
    let shown = crate::ui::run_session(Arc::new(remote), log_path, None, Some(player)).await;
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
    mut lineup: Assembler,
    tx: watch::Sender<Arc<SessionSnapshot>>,
    lost: Arc<Mutex<Option<String>>>,
) {
    loop {
        tokio::select! {
            frame = conn.next_frame(IDLE) => match frame {
                Ok(Response::Session(change)) => {
                    if let Some(s) = lineup.apply(*change) {
                        let _ = tx.send(Arc::new(s));
                    }
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
