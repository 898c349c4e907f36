//! The checks at an HTTP door, each pure and tested: HTTP Basic (and the gate a Basic face
//! puts in front of every request: pacing, then the pair), the Host allowlist against DNS
//! rebinding, constant-time comparison, the pacing of failed logins per address, the
//! password file, a cookie's value, and the credentials a face is configured with.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The credentials a face checks, once read.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Credentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({}, ***)", self.username)
    }
}

impl Credentials {
    /// Whether `user` and `pass` are these, both compared whatever the first gives, so the
    /// time does not tell which was wrong.
    pub(crate) fn matches(&self, user: &[u8], pass: &[u8]) -> bool {
        let u = same(user, self.username.as_bytes());
        let p = same(pass, self.password.as_bytes());
        u & p
    }
}

/// What a face's table says about who may use it.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Login<'a> {
    pub listen: Option<SocketAddr>,
    pub username: Option<&'a str>,
    pub password: Option<&'a str>,
    pub password_file: Option<&'a Path>,
}

/// Why a face's credentials keep it from starting: one line for the user, naming the
/// face's table (`rpc`, `qbt`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum CredentialsError {
    #[error(
        "{0}.listen {1} is not a loopback address: set {0}.username and {0}.password (or \
         {0}.password_file) in the config file first"
    )]
    OpenWithoutCredentials(&'static str, SocketAddr),
    #[error(
        "{0}.username and {0}.password (or {0}.password_file) go together: set both or neither"
    )]
    HalfCredentials(&'static str),
    #[error("set {0}.password or {0}.password_file, not both")]
    TwoPasswords(&'static str),
    #[error("{table}.password_file {}: {reason}", .path.display())]
    PasswordFile {
        table: &'static str,
        path: PathBuf,
        reason: String,
    },
}

impl Login<'_> {
    /// The credentials to check (None: none asked), or why the face must not start: a
    /// listen address other than loopback without a username and password, a username
    /// without a password, a password file that cannot be read.
    pub(crate) fn check(
        &self,
        table: &'static str,
    ) -> Result<Option<Credentials>, CredentialsError> {
        let password = match (self.password, self.password_file) {
            (Some(_), Some(_)) => return Err(CredentialsError::TwoPasswords(table)),
            (Some(p), None) => Some(p.to_string()),
            (None, Some(path)) => {
                Some(
                    read_password_file(path).map_err(|e| CredentialsError::PasswordFile {
                        table,
                        path: path.to_owned(),
                        reason: e.0,
                    })?,
                )
            }
            (None, None) => None,
        };
        let creds = match (self.username, password) {
            (Some(u), Some(p)) if !u.is_empty() && !p.is_empty() => Some(Credentials {
                username: u.to_string(),
                password: p,
            }),
            (None, None) => None,
            _ => return Err(CredentialsError::HalfCredentials(table)),
        };
        if let Some(addr) = self.listen {
            if !addr.ip().is_loopback() && creds.is_none() {
                return Err(CredentialsError::OpenWithoutCredentials(table, addr));
            }
        }
        Ok(creds)
    }
}

/// What a request's `Authorization` header says about who sends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Basic {
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
pub(crate) fn basic(header: Option<&[u8]>, creds: &Credentials) -> Basic {
    let Some(h) = header else {
        return Basic::Missing;
    };
    let Some(b64) = h
        .strip_prefix(b"Basic ")
        .or_else(|| h.strip_prefix(b"basic "))
    else {
        return Basic::Missing;
    };
    let Ok(raw) =
        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, b64.trim_ascii())
    else {
        return Basic::Wrong;
    };
    let Some(colon) = raw.iter().position(|&b| b == b':') else {
        return Basic::Wrong;
    };
    let (user, pass) = (&raw[..colon], &raw[colon + 1..]);
    if creds.matches(user, pass) {
        Basic::Right
    } else {
        Basic::Wrong
    }
}

/// What a door that asks for HTTP Basic decides about one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Gate {
    Pass,
    /// Too many wrong pairs from its address lately: turned away without a look (429).
    Paced,
    /// No pair, or a wrong one (counted): 401, asking for one.
    Unauthorized,
}

/// The Basic check of a face (`face` names it in the log): the pacer first, then the pair;
/// a wrong pair counts against `ip`, the right one clears its count.
pub(crate) fn gate(
    face: &str,
    header: Option<&[u8]>,
    creds: &Credentials,
    pacer: &std::sync::Mutex<LoginPacer>,
    ip: IpAddr,
) -> Gate {
    let now = Instant::now();
    if pacer.lock().is_ok_and(|p| p.blocked(ip, now)) {
        return Gate::Paced;
    }
    match basic(header, creds) {
        Basic::Right => {
            if let Ok(mut p) = pacer.lock() {
                p.succeeded(ip);
            }
            Gate::Pass
        }
        // Only a wrong pair is a guess; a request with none is asked for it, uncounted.
        Basic::Missing => Gate::Unauthorized,
        Basic::Wrong => {
            let failures = pacer.lock().map_or(0, |mut p| p.failed(ip, now));
            // Logged while they are few; a flood is summed up once a window.
            if failures <= 3 || failures.is_multiple_of(100) {
                tracing::warn!("{face}: failed login from {ip} ({failures} in a row)");
            }
            Gate::Unauthorized
        }
    }
}

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
pub(crate) fn strip_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        // More than one colon without brackets: a bare IPv6 literal.
        Some((h, _)) if !h.contains(':') => h,
        _ => host,
    }
}

/// Addresses remembered at most; the oldest window is forgotten first.
const MAX_TRACKED: usize = 4096;

/// Failed logins per client address: past `max_failures` within `window` an address is
/// turned away without a look at its password until the window ends.
#[derive(Debug)]
pub(crate) struct LoginPacer {
    max_failures: u32,
    window: Duration,
    failures: HashMap<IpAddr, (u32, Instant)>,
}

impl LoginPacer {
    /// The pacing of the Basic faces (the RPC, the stream server): 10 wrong pairs a
    /// minute from one address, then 429 until the minute ends.
    pub(crate) fn standard() -> LoginPacer {
        LoginPacer::new(10, Duration::from_secs(60))
    }

    pub(crate) fn new(max_failures: u32, window: Duration) -> LoginPacer {
        LoginPacer {
            max_failures,
            window,
            failures: HashMap::new(),
        }
    }

    /// Whether `ip` is turned away now.
    pub(crate) fn blocked(&self, ip: IpAddr, now: Instant) -> bool {
        self.failures.get(&ip).is_some_and(|&(n, since)| {
            n >= self.max_failures && now.duration_since(since) < self.window
        })
    }

    /// Counts a failure; returns how many `ip` has in its window.
    pub(crate) fn failed(&mut self, ip: IpAddr, now: Instant) -> u32 {
        let window = self.window;
        if self.failures.len() >= MAX_TRACKED && !self.failures.contains_key(&ip) {
            self.failures
                .retain(|_, (_, since)| now.duration_since(*since) < window);
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
        if now.duration_since(entry.1) >= window {
            *entry = (0, now);
        }
        entry.0 = entry.0.saturating_add(1);
        entry.0
    }

    pub(crate) fn succeeded(&mut self, ip: IpAddr) {
        self.failures.remove(&ip);
    }
}

/// Why a password file was not read. Never carries the file's contents.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub(crate) struct PasswordFileError(pub String);

/// The password in `path`: its first line, without the line end.
pub(crate) fn read_password_file(path: &Path) -> Result<String, PasswordFileError> {
    let err = |reason: &str| PasswordFileError(reason.to_string());
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

/// The value of cookie `name` in a `Cookie` header, without the double quotes RFC 6265
/// allows around it: aiohttp (so aioqbt) quotes a value that holds a `/`, as qBittorrent's
/// session ids often do, and qBittorrent takes it.
pub fn cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        let v = v.trim();
        let v = v
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(v);
        (k.trim() == name).then_some(v)
    })
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

    fn encoded(s: &str) -> Vec<u8> {
        use base64::Engine as _;
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(s)
        )
        .into_bytes()
    }

    #[test]
    fn basic_takes_only_the_right_pair_and_tells_a_guess_from_no_credentials() {
        let c = creds();
        assert_eq!(basic(Some(&encoded("user:pa:ss")), &c), Basic::Right);
        assert_eq!(basic(Some(&encoded("user:pa:sS")), &c), Basic::Wrong);
        assert_eq!(basic(Some(&encoded("usr:pa:ss")), &c), Basic::Wrong);
        assert_eq!(basic(Some(&encoded("userpa:ss")), &c), Basic::Wrong);
        assert_eq!(basic(Some(b"Basic !!!"), &c), Basic::Wrong);
        assert_eq!(basic(Some(b"Bearer x"), &c), Basic::Missing);
        assert_eq!(basic(None, &c), Basic::Missing);
    }

    #[test]
    fn the_gate_paces_wrong_pairs_but_not_missing_ones() {
        let c = creds();
        let pacer = std::sync::Mutex::new(LoginPacer::new(2, Duration::from_secs(60)));
        let ip = IpAddr::from([127, 0, 0, 9]);
        for _ in 0..5 {
            assert_eq!(gate("t", None, &c, &pacer, ip), Gate::Unauthorized);
        }
        let right = encoded("user:pa:ss");
        assert_eq!(gate("t", Some(&right), &c, &pacer, ip), Gate::Pass);
        let wrong = encoded("user:nope");
        assert_eq!(gate("t", Some(&wrong), &c, &pacer, ip), Gate::Unauthorized);
        assert_eq!(gate("t", Some(&wrong), &c, &pacer, ip), Gate::Unauthorized);
        assert_eq!(gate("t", Some(&right), &c, &pacer, ip), Gate::Paced);
        let other = IpAddr::from([127, 0, 0, 10]);
        assert_eq!(gate("t", Some(&right), &c, &pacer, other), Gate::Pass);
    }

    #[test]
    fn a_cookie_is_read_bare_or_quoted() {
        assert_eq!(cookie("a=1; SID=xyz; b=2", "SID"), Some("xyz"));
        assert_eq!(cookie("SID=\"ab/c+d\"", "SID"), Some("ab/c+d"));
        assert_eq!(cookie("SID=\"\"", "SID"), Some(""));
        // A lone quote is not a pair of quotes: kept, so it matches no session.
        assert_eq!(cookie("SID=\"abc", "SID"), Some("\"abc"));
        assert_eq!(cookie("SIDX=1", "SID"), None);
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
    fn failed_logins_block_an_address_for_a_window() {
        let window = Duration::from_secs(60);
        let mut p = LoginPacer::new(10, window);
        let ip: IpAddr = "127.0.0.2".parse().unwrap();
        let other: IpAddr = "127.0.0.3".parse().unwrap();
        let t0 = Instant::now();
        for _ in 0..9 {
            p.failed(ip, t0);
        }
        assert!(!p.blocked(ip, t0));
        p.failed(ip, t0);
        assert!(p.blocked(ip, t0));
        assert!(!p.blocked(other, t0));
        assert!(!p.blocked(ip, t0 + window));
        p.succeeded(ip);
        assert!(!p.blocked(ip, t0));
    }

    #[test]
    fn credentials_match_only_both_halves() {
        let c = Credentials {
            username: "user".into(),
            password: "pa:ss".into(),
        };
        assert!(c.matches(b"user", b"pa:ss"));
        assert!(!c.matches(b"user", b"pa:sS"));
        assert!(!c.matches(b"usr", b"pa:ss"));
        assert!(!c.matches(b"", b""));
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
