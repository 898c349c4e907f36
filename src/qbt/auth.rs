//! qBittorrent's way in: `auth/login` with a form answers `Ok.` or `Fails.` and sets a
//! session cookie (`SID`); every other call needs a live cookie (403 otherwise), or
//! qBittorrent 5.2's `Authorization: Bearer` API key. Failed logins ban the address for a
//! while (qBittorrent's `WebUI\MaxAuthenticationFailCount`, 5, and `BanDuration`, an hour);
//! a request that carries no credentials is never counted. Beside that, qBittorrent's
//! checks against CSRF (`Origin`, else `Referer`, must name the host the request was sent
//! to) and DNS rebinding (the `Host` allowlist), both answered 401.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rand::Rng;

use crate::http::{guard, Credentials};

/// qBittorrent's cookie name.
pub(crate) const COOKIE: &str = "SID";
/// A session idle this long is forgotten (qBittorrent's `WebUI\SessionTimeout`).
pub(crate) const SESSION_TIMEOUT: Duration = Duration::from_secs(3600);
/// Sessions held at most; the one idle longest goes first.
const MAX_SESSIONS: usize = 1024;
/// qBittorrent's defaults for failed logins.
pub(crate) const MAX_FAILURES: u32 = 5;
pub(crate) const BAN: Duration = Duration::from_secs(3600);

/// The live sessions: SID → last use.
#[derive(Debug, Default)]
pub(crate) struct Sessions {
    live: HashMap<String, Instant>,
}

impl Sessions {
    /// A new session's id: 32 random characters of qBittorrent's alphabet.
    pub(crate) fn start(&mut self, now: Instant) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut rng = rand::thread_rng();
        let sid: String = (0..32)
            .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
            .collect();
        self.live
            .retain(|_, at| now.duration_since(*at) < SESSION_TIMEOUT);
        if self.live.len() >= MAX_SESSIONS {
            if let Some(oldest) = self
                .live
                .iter()
                .min_by_key(|(_, at)| **at)
                .map(|(k, _)| k.clone())
            {
                self.live.remove(&oldest);
            }
        }
        self.live.insert(sid.clone(), now);
        sid
    }

    /// Whether `sid` is a live session; a live one is touched.
    pub(crate) fn touch(&mut self, sid: &str, now: Instant) -> bool {
        // Compared against each in constant time, so the time does not tell a prefix.
        let found = self
            .live
            .keys()
            .find(|k| guard::same(k.as_bytes(), sid.as_bytes()))
            .cloned();
        match found {
            Some(k) => match self.live.get_mut(&k) {
                Some(at) if now.duration_since(*at) < SESSION_TIMEOUT => {
                    *at = now;
                    true
                }
                _ => {
                    self.live.remove(&k);
                    false
                }
            },
            None => false,
        }
    }

    pub(crate) fn end(&mut self, sid: &str) {
        self.live.remove(sid);
    }
}

/// A `Bearer` key in an `Authorization` header.
pub(crate) fn bearer(header: &str) -> Option<&str> {
    header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|k| !k.is_empty())
}

/// What a login form says against the configured credentials (None configured: any pair
/// passes, as qBittorrent's "bypass authentication for clients on localhost").
pub(crate) fn login_matches(creds: Option<&Credentials>, user: &str, pass: &str) -> bool {
    creds.is_none_or(|c| c.matches(user.as_bytes(), pass.as_bytes()))
}

/// `host[:port]` of a URL (`http://host:port/path`), lowercased, default port added.
fn origin_of(url: &str) -> Option<(String, u16)> {
    let (scheme, rest) = url.split_once("://")?;
    let default = match scheme.to_ascii_lowercase().as_str() {
        "http" => 80,
        "https" => 443,
        _ => return None,
    };
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit('@').next()?;
    host_port(authority, default)
}

fn host_port(authority: &str, default: u16) -> Option<(String, u16)> {
    let host = guard::strip_port(authority);
    let port = if let Some(rest) = authority.strip_prefix('[') {
        rest.split_once("]:").map(|(_, p)| p)
    } else if authority.matches(':').count() == 1 {
        authority.rsplit_once(':').map(|(_, p)| p)
    } else {
        None
    };
    let port = match port {
        Some(p) => p.parse().ok()?,
        None => default,
    };
    if host.is_empty() {
        return None;
    }
    Some((host.to_ascii_lowercase(), port))
}

/// qBittorrent's `isCrossSiteRequest`: a request that says where it comes from (`Origin`,
/// else `Referer`) must come from the host and port it was sent to. One that says nothing
/// is a script's, not a browser's: it passes.
pub fn cross_site(host: Option<&str>, origin: Option<&str>, referer: Option<&str>) -> bool {
    let from = match (
        origin.filter(|o| !o.is_empty()),
        referer.filter(|r| !r.is_empty()),
    ) {
        (Some(o), _) => o,
        (None, Some(r)) => r,
        (None, None) => return false,
    };
    let Some(target) = host.and_then(|h| host_port(h.trim(), 80)) else {
        return true;
    };
    match origin_of(from) {
        // The target's port as the Host header gives it (its default is http's).
        Some((h, p)) => !(h == target.0 && p == target.1),
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_start_touch_expire_and_end() {
        let mut s = Sessions::default();
        let t0 = Instant::now();
        let sid = s.start(t0);
        assert_eq!(sid.len(), 32);
        assert!(s.touch(&sid, t0 + Duration::from_secs(10)));
        assert!(!s.touch("forged", t0));
        assert!(!s.touch(&sid[..31], t0));
        assert!(!s.touch(&sid, t0 + Duration::from_secs(10) + SESSION_TIMEOUT));
        let other = s.start(t0);
        s.end(&other);
        assert!(!s.touch(&other, t0));
    }

    #[test]
    fn bearer_keys_are_read() {
        assert_eq!(bearer("Bearer k3y"), Some("k3y"));
        assert_eq!(bearer("Basic k3y"), None);
        assert_eq!(bearer("Bearer "), None);
    }

    #[test]
    fn a_foreign_origin_or_referer_is_cross_site_and_none_is_not() {
        let host = Some("127.0.0.1:8080");
        assert!(!cross_site(host, None, None));
        assert!(!cross_site(host, Some("http://127.0.0.1:8080"), None));
        assert!(!cross_site(
            host,
            None,
            Some("http://127.0.0.1:8080/index.html")
        ));
        assert!(cross_site(host, Some("http://evil.example"), None));
        assert!(cross_site(host, None, Some("http://127.0.0.1:9999/")));
        assert!(cross_site(
            host,
            Some("http://evil.example"),
            Some("http://127.0.0.1:8080/")
        ));
        assert!(cross_site(host, Some("null"), None));
        assert!(!cross_site(
            Some("localhost"),
            None,
            Some("http://LOCALHOST/x")
        ));
        assert!(!cross_site(
            Some("[::1]:8080"),
            Some("http://[::1]:8080"),
            None
        ));
    }

    #[test]
    fn without_credentials_configured_any_login_passes() {
        let c = Credentials {
            username: "admin".into(),
            password: "adminadmin".into(),
        };
        assert!(login_matches(Some(&c), "admin", "adminadmin"));
        assert!(!login_matches(Some(&c), "admin", "x"));
        assert!(login_matches(None, "", ""));
    }
}
