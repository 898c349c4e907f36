//! Where a session is and how to reach its control socket: on this machine (its Unix
//! socket) or on another through a command (`ssh HOST ttui bridge`) whose stdin/stdout carry
//! the same protocol byte for byte. A leaf that `attach`, `play` and the session's hand-over
//! all use, so none of them imports another to find a session.

use std::path::PathBuf;
use std::pin::Pin;
use std::process::Stdio;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, Join, ReadBuf};
use tokio::net::UnixStream;
use tokio::process::{Child, ChildStdin, ChildStdout};

use crate::cli::run::state_dir_of;
use crate::control::client::NO_SESSION;
use crate::control::proto::{ControlError, ErrorKind};
use crate::control::Client;

/// A byte stream to a session's control socket.
pub trait Duplex: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Duplex for T {}
pub(crate) type ControlLink = Box<dyn Duplex>;

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

pub(crate) fn internal(message: String) -> ControlError {
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
