//! The checks at the door, each pure and tested: the Host allowlist against DNS rebinding,
//! HTTP Basic against the configured credentials, the pacing of failed logins, the password
//! file, and which `filename` paths `torrent-add` may read.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base64::Engine;

use super::error::StartError;
use super::Credentials;

/// Equal bytes, in time that does not depend on where they differ.
pub(crate) fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether the `Host` header names this server acceptably: an IP literal (with or without
/// a port, IPv6 in brackets), `localhost` or `localhost.`, or a name on the allowlist
/// (compared without case). A request without a Host header (HTTP/1.0) passes: a browser
/// always sends one, and the header is what a rebinding attack cannot choose.
pub(crate) fn host_allowed(host: Option<&str>, whitelist: &[String]) -> bool {
    let Some(host) = host else { return true };
    let name = strip_port(host.trim());
    if name.parse::<IpAddr>().is_ok() {
        return true;
    }
    let name = name.to_ascii_lowercase();
    let bare = name.strip_suffix('.').unwrap_or(&name);
    if bare == "localhost" {
        return true;
    }
    whitelist.iter().any(|w| {
        let w = w.trim().to_ascii_lowercase();
        let w = w.strip_suffix('.').unwrap_or(&w);
        !w.is_empty() && w == bare
    })
}

/// `[::1]:9091` → `::1`, `host:9091` → `host`, `host` → `host`.
fn strip_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        // More than one colon without brackets: a bare IPv6 literal.
        Some((h, _)) if !h.contains(':') => h,
        _ => host,
    }
}

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
    // Both compared, whatever the first gives, so the time does not tell which was wrong.
    let u = same(user, creds.username.as_bytes());
    let p = same(pass, creds.password.as_bytes());
    if u & p {
        Login::Right
    } else {
        Login::Wrong
    }
}

/// Failed logins allowed from one address within [`WINDOW`]; past that its requests are
/// turned away (429) without a look at the password until the window ends.
pub(crate) const MAX_FAILURES: u32 = 10;
pub(crate) const WINDOW: Duration = Duration::from_secs(60);
/// Addresses remembered at most; the oldest window is forgotten first.
const MAX_TRACKED: usize = 4096;

/// Failed logins per client address.
#[derive(Debug, Default)]
pub(crate) struct LoginPacer {
    failures: HashMap<IpAddr, (u32, Instant)>,
}

impl LoginPacer {
    /// Whether `ip` is turned away now.
    pub(crate) fn blocked(&self, ip: IpAddr, now: Instant) -> bool {
        self.failures
            .get(&ip)
            .is_some_and(|&(n, since)| n >= MAX_FAILURES && now.duration_since(since) < WINDOW)
    }

    /// Counts a failure; returns how many `ip` has in its window.
    pub(crate) fn failed(&mut self, ip: IpAddr, now: Instant) -> u32 {
        if self.failures.len() >= MAX_TRACKED && !self.failures.contains_key(&ip) {
            self.failures
                .retain(|_, (_, since)| now.duration_since(*since) < WINDOW);
            if self.failures.len() >= MAX_TRACKED {
                if let Some(oldest) = self
                    .failures
                    .iter()
                    .min_by_key(|(_, v)| v.1)
                    .map(|(k, _)| *k)
                {
                    self.failures.remove(&oldest);
                }
            }
        }
        let entry = self.failures.entry(ip).or_insert((0, now));
        if now.duration_since(entry.1) >= WINDOW {
            *entry = (0, now);
        }
        entry.0 = entry.0.saturating_add(1);
        entry.0
    }

    pub(crate) fn succeeded(&mut self, ip: IpAddr) {
        self.failures.remove(&ip);
    }
}

/// The password in `path`: its first line, without the line end. The file's contents never
/// appear in an error.
pub(crate) fn read_password_file(path: &Path) -> Result<String, StartError> {
    let err = |reason: &str| StartError::PasswordFile {
        path: path.to_owned(),
        reason: reason.to_string(),
    };
    let meta = std::fs::metadata(path).map_err(|e| err(&e.to_string()))?;
    if !meta.is_file() || meta.len() > 4096 {
        return Err(err("not a small regular file"));
    }
    let text = std::fs::read_to_string(path).map_err(|e| err(&e.to_string()))?;
    let line = text.lines().next().unwrap_or("").trim_end_matches('\r');
    if line.is_empty() {
        return Err(err("empty"));
    }
    Ok(line.to_string())
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
    fn hosts_pass_by_ip_localhost_or_the_list() {
        let list = vec!["seedbox.example".to_string()];
        for ok in [
            "127.0.0.1:9091",
            "127.0.0.1",
            "[::1]:9091",
            "::1",
            "localhost:9091",
            "LOCALHOST.",
            "192.168.1.5:9091",
            "seedbox.example:9091",
            "SeedBox.Example.",
        ] {
            assert!(host_allowed(Some(ok), &list), "{ok}");
        }
        for bad in [
            "evil.example:9091",
            "localhost.evil.example",
            "seedbox.example.evil",
            "",
        ] {
            assert!(!host_allowed(Some(bad), &list), "{bad}");
        }
        assert!(host_allowed(None, &[]));
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
    fn failed_logins_block_an_address_for_a_window() {
        let mut p = LoginPacer::default();
        let ip: IpAddr = "127.0.0.2".parse().unwrap();
        let other: IpAddr = "127.0.0.3".parse().unwrap();
        let t0 = Instant::now();
        for _ in 0..MAX_FAILURES - 1 {
            p.failed(ip, t0);
        }
        assert!(!p.blocked(ip, t0));
        p.failed(ip, t0);
        assert!(p.blocked(ip, t0));
        assert!(!p.blocked(other, t0));
        assert!(!p.blocked(ip, t0 + WINDOW));
        p.succeeded(ip);
        assert!(!p.blocked(ip, t0));
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

    #[test]
    fn the_password_file_gives_its_first_line_and_errors_hide_it() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("pw");
        std::fs::write(&f, "s3cret\nignored\n").unwrap();
        assert_eq!(read_password_file(&f).unwrap(), "s3cret");
        std::fs::write(&f, "\n").unwrap();
        let e = read_password_file(&f).unwrap_err().to_string();
        assert!(e.contains("empty"), "{e}");
    }
}
