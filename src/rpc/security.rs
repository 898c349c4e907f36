//! The RPC's own checks at the door, each pure and tested: HTTP Basic against the configured
//! credentials, the RPC's login pacing, and which `filename` paths `torrent-add` may read.
//! What every HTTP face shares (Host allowlist, pacing, password file, constant-time
//! comparison) is in `crate::http::guard`.

use std::path::PathBuf;
use std::time::Duration;

use base64::Engine;

use crate::http::{Credentials, LoginPacer};

/// What a request's `Authorization` header says about who sends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Login {
    /// The configured pair, over HTTP Basic.
    Right,
    /// HTTP Basic with another pair (or a Basic header that does not decode): a guess, counted
    /// against the address by the [`LoginPacer`].
    Wrong,
    /// No credentials at all: a browser's first try before it asks for them, a health check, a
    /// half-sent request, another scheme. Refused with 401 but never counted: behind a reverse
    /// proxy every client shares one address, and such requests must not lock out the others.
    Missing,
}

/// Reads an `Authorization` header against the configured credentials (HTTP Basic).
pub(crate) fn basic_auth(header: Option<&[u8]>, creds: &Credentials) -> Login {
    let Some(h) = header else {
        return Login::Missing;
    };
    let Some(b64) = h
        .strip_prefix(b"Basic ")
        .or_else(|| h.strip_prefix(b"basic "))
    else {
        return Login::Missing;
    };
    let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(b64.trim_ascii()) else {
        return Login::Wrong;
    };
    let Some(colon) = raw.iter().position(|&b| b == b':') else {
        return Login::Wrong;
    };
    let (user, pass) = (&raw[..colon], &raw[colon + 1..]);
    if creds.matches(user, pass) {
        Login::Right
    } else {
        Login::Wrong
    }
}

/// Failed logins allowed from one address within [`WINDOW`]; past that its requests are
/// turned away (429) without a look at the password until the window ends.
pub(crate) const MAX_FAILURES: u32 = 10;
pub(crate) const WINDOW: Duration = Duration::from_secs(60);
/// The RPC's pacer: [`MAX_FAILURES`] within [`WINDOW`].
pub(crate) fn pacer() -> LoginPacer {
    LoginPacer::new(MAX_FAILURES, WINDOW)
}

/// Why a `filename` given to `torrent-add` is not read. No variant carries the file's bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum PathRefused {
    #[error("{0}: only files ending in .torrent or .magnet are read")]
    Extension(String),
    #[error("{0}: not a regular file")]
    NotAFile(String),
    #[error("{0}: the path must be absolute")]
    Relative(String),
}

/// Checks a local `filename` before it is read: absolute, ending in `.torrent` or
/// `.magnet`, and a regular file (a symlink is followed to what it names, which must be one).
pub(crate) fn readable_torrent_path(name: &str) -> Result<PathBuf, PathRefused> {
    let path = PathBuf::from(name);
    let shown = crate::fmt::outside(name, 200).into_owned();
    if !path.is_absolute() {
        return Err(PathRefused::Relative(shown));
    }
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    if !matches!(ext.as_deref(), Some("torrent" | "magnet")) {
        return Err(PathRefused::Extension(shown));
    }
    match std::fs::metadata(&path) {
        Ok(m) if m.is_file() => Ok(path),
        _ => Err(PathRefused::NotAFile(shown)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds() -> Credentials {
        Credentials {
            username: "user".into(),
            password: "pa:ss".into(),
        }
    }

    fn basic(s: &str) -> Vec<u8> {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(s)
        )
        .into_bytes()
    }

    #[test]
    fn basic_auth_takes_only_the_right_pair_and_tells_a_guess_from_no_credentials() {
        let c = creds();
        assert_eq!(basic_auth(Some(&basic("user:pa:ss")), &c), Login::Right);
        assert_eq!(basic_auth(Some(&basic("user:pa:sS")), &c), Login::Wrong);
        assert_eq!(basic_auth(Some(&basic("usr:pa:ss")), &c), Login::Wrong);
        assert_eq!(basic_auth(Some(&basic("userpa:ss")), &c), Login::Wrong);
        assert_eq!(basic_auth(Some(b"Basic !!!"), &c), Login::Wrong);
        assert_eq!(basic_auth(Some(b"Bearer x"), &c), Login::Missing);
        assert_eq!(basic_auth(None, &c), Login::Missing);
    }

    #[test]
    fn only_torrent_and_magnet_files_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let t = dir.path().join("a.torrent");
        std::fs::write(&t, b"d4:infoe").unwrap();
        let secret = dir.path().join("secret.txt");
        std::fs::write(&secret, b"hunter2").unwrap();
        assert_eq!(readable_torrent_path(t.to_str().unwrap()), Ok(t.clone()));
        let e = readable_torrent_path(secret.to_str().unwrap()).unwrap_err();
        assert!(matches!(e, PathRefused::Extension(_)));
        assert!(!e.to_string().contains("hunter2"));
        let d = dir.path().join("d.torrent");
        std::fs::create_dir(&d).unwrap();
        assert!(matches!(
            readable_torrent_path(d.to_str().unwrap()),
            Err(PathRefused::NotAFile(_))
        ));
        assert!(matches!(
            readable_torrent_path("a.torrent"),
            Err(PathRefused::Relative(_))
        ));
    }
}
