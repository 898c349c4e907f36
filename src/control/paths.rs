//! Where the control socket lives.
//!
//! `$XDG_RUNTIME_DIR` is per user, private and emptied at logout, so a socket there cannot
//! outlive the login that made it; the state directory is the fallback. The default state
//! directory's session gets `$XDG_RUNTIME_DIR/ttui/control.sock`. A state directory named with
//! `--state-dir` (tests, a second profile) keeps its socket inside itself,
//! `<state-dir>/control.sock`, so every process that names the directory finds the session
//! whatever its environment (a `ttui bridge` started by sshd has no `XDG_RUNTIME_DIR`); only
//! a directory whose path is too long for a socket address falls back to
//! `$XDG_RUNTIME_DIR/ttui/control-<hash>.sock`.

use std::io;
use std::path::{Path, PathBuf};

use sha1::{Digest, Sha1};

/// The socket file's name.
pub(crate) const SOCKET_NAME: &str = "control.sock";

/// Longest path a Unix socket address holds (`sun_path`, with its terminating NUL).
pub(crate) const MAX_SOCKET_PATH: usize = 107;

/// The socket of the session that keeps its state in `state_dir`. `default_state_dir` says
/// whether it is the one used when no `--state-dir` is given.
pub(crate) fn socket_path(state_dir: &Path, default_state_dir: bool) -> PathBuf {
    let runtime = std::env::var_os("XDG_RUNTIME_DIR").filter(|v| !v.is_empty());
    socket_path_in(
        runtime.as_deref().map(Path::new),
        state_dir,
        default_state_dir,
    )
}

/// [`socket_path`] with the runtime directory given (pure, for tests).
pub(crate) fn socket_path_in(
    runtime: Option<&Path>,
    state_dir: &Path,
    default_state_dir: bool,
) -> PathBuf {
    match runtime {
        _ if !default_state_dir
            && state_dir.join(SOCKET_NAME).as_os_str().len() <= MAX_SOCKET_PATH =>
        {
            state_dir.join(SOCKET_NAME)
        }
        Some(run) if run.is_absolute() => {
            let dir = run.join("ttui");
            if default_state_dir {
                dir.join(SOCKET_NAME)
            } else {
                let digest = Sha1::digest(state_dir.as_os_str().as_encoded_bytes());
                let tag: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
                dir.join(format!("control-{tag}.sock"))
            }
        }
        _ => state_dir.join(SOCKET_NAME),
    }
}

/// Makes the socket's directory; `ttui/` under the runtime directory is made 0700 (the
/// runtime directory is private, but its children are not by default).
pub(crate) fn make_parent(socket: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    let Some(parent) = socket.parent().filter(|p| !p.as_os_str().is_empty()) else {
        return Ok(());
    };
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(parent)
}

/// Refuses a path a socket address cannot hold, with the reason.
pub(crate) fn check_len(socket: &Path) -> io::Result<()> {
    let len = socket.as_os_str().len();
    if len > MAX_SOCKET_PATH {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "the control socket path {} is {len} bytes, longer than the {MAX_SOCKET_PATH} a \
                 Unix socket allows: use a shorter --state-dir or set XDG_RUNTIME_DIR",
                crate::protocol::text::shorten(&socket.display().to_string())
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_dir_first_then_state_dir() {
        let state = Path::new("/home/u/.local/share/ttui");
        let run = Path::new("/run/user/1000");
        assert_eq!(
            socket_path_in(Some(run), state, true),
            Path::new("/run/user/1000/ttui/control.sock")
        );
        // A named state directory keeps its socket, whatever the environment says.
        assert_eq!(
            socket_path_in(Some(run), Path::new("/tmp/a"), false),
            Path::new("/tmp/a/control.sock")
        );
        assert_eq!(
            socket_path_in(None, Path::new("/tmp/a"), false),
            Path::new("/tmp/a/control.sock")
        );
        // One too long for a socket address gets a short name under the runtime directory.
        let long = PathBuf::from(format!("/tmp/{}", "d".repeat(120)));
        let other = socket_path_in(Some(run), &long, false);
        assert!(other
            .to_str()
            .unwrap()
            .starts_with("/run/user/1000/ttui/control-"));
        assert_eq!(other, socket_path_in(Some(run), &long, false));
        assert_eq!(
            socket_path_in(None, state, true),
            Path::new("/home/u/.local/share/ttui/control.sock")
        );
        // A relative XDG_RUNTIME_DIR is invalid per the spec: ignored.
        assert_eq!(
            socket_path_in(Some(Path::new("run")), state, true),
            state.join(SOCKET_NAME)
        );
    }

    #[test]
    fn parent_is_private_and_long_paths_are_refused() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let sock = tmp.path().join("ttui").join(SOCKET_NAME);
        make_parent(&sock).unwrap();
        let mode = std::fs::metadata(tmp.path().join("ttui"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
        let long = Path::new("/").join("x".repeat(200)).join(SOCKET_NAME);
        assert!(check_len(&long)
            .unwrap_err()
            .to_string()
            .contains("shorter --state-dir"));
        assert!(check_len(&sock).is_ok());
    }
}
