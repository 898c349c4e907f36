//! The SOCKS5 proxy setting (`--proxy socks5://[user:pass@]host:port`, or `socks5h://` to
//! have the proxy resolve trackers' and web seeds' names) and its state as a face shows it.
//! Plain data: the connecting is the peer room's (`peer/proxy.rs`). The password is kept
//! here only to be sent to the proxy; every text made of a spec masks it.

use std::fmt;

/// Which name the proxy resolves: `socks5h://` sends host names to it (trackers and web
/// seeds), `socks5://` resolves them here and sends addresses. Peers are always addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyScheme {
    Socks5,
    Socks5h,
}

/// A parsed `--proxy` value.
#[derive(Clone, PartialEq, Eq)]
pub struct ProxySpec {
    pub scheme: ProxyScheme,
    /// A host name, an IPv4 address, or an IPv6 address without its brackets.
    pub host: String,
    pub port: u16,
    /// RFC 1929 username and password, when the proxy asks for them.
    pub auth: Option<(String, String)>,
}

/// Why a `--proxy` value could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProxyUrlError {
    #[error("proxy {0:?}: must start with socks5:// or socks5h:// (e.g. socks5://127.0.0.1:1080)")]
    Scheme(String),
    #[error("proxy {0:?}: needs host:port (e.g. socks5://127.0.0.1:1080)")]
    HostPort(String),
    #[error("proxy {0:?}: the user name and password are 1 to 255 bytes each (RFC 1929)")]
    Auth(String),
}

impl ProxySpec {
    /// Reads `socks5://[user:pass@]host:port` (IPv6 in brackets). The error text masks the
    /// password, since it may end up in a log.
    pub fn parse(s: &str) -> Result<ProxySpec, ProxyUrlError> {
        let shown = mask_url(s);
        let (scheme, rest) = if let Some(r) = s.strip_prefix("socks5://") {
            (ProxyScheme::Socks5, r)
        } else if let Some(r) = s.strip_prefix("socks5h://") {
            (ProxyScheme::Socks5h, r)
        } else {
            return Err(ProxyUrlError::Scheme(shown));
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let (auth, hostport) = match rest.rsplit_once('@') {
            None => (None, rest),
            Some((cred, hp)) => {
                let (u, p) = cred.split_once(':').unwrap_or((cred, ""));
                let ok = |x: &str| !x.is_empty() && x.len() <= 255;
                if !ok(u) || !ok(p) {
                    return Err(ProxyUrlError::Auth(shown));
                }
                (Some((u.to_string(), p.to_string())), hp)
            }
        };
        let bad = || ProxyUrlError::HostPort(shown.clone());
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (h, p) = v6.split_once("]:").ok_or_else(bad)?;
            (h, p)
        } else {
            hostport.rsplit_once(':').ok_or_else(bad)?
        };
        let port: u16 = port.parse().map_err(|_| bad())?;
        if host.is_empty() || port == 0 || host.contains(['/', '@', ' ']) {
            return Err(bad());
        }
        Ok(ProxySpec {
            scheme,
            host: host.to_string(),
            port,
            auth,
        })
    }

    /// The URL with the password in clear, for the HTTP client's proxy setting only.
    pub fn url_with_secret(&self) -> String {
        self.url(false)
    }

    fn url(&self, masked: bool) -> String {
        let scheme = match self.scheme {
            ProxyScheme::Socks5 => "socks5",
            ProxyScheme::Socks5h => "socks5h",
        };
        let auth = match &self.auth {
            None => String::new(),
            Some((u, _)) if masked => format!("{u}:***@"),
            Some((u, p)) => format!("{u}:{p}@"),
        };
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        format!("{scheme}://{auth}{host}:{}", self.port)
    }
}

/// The URL with its password masked: what every text shows.
impl fmt::Display for ProxySpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.url(true))
    }
}

/// As Display: a Debug print in a log must not show the password either.
impl fmt::Debug for ProxySpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProxySpec({self})")
    }
}

/// `s` with whatever sits between the first `:` after the scheme and the last `@` masked;
/// for values that do not parse (they are still shown in errors and `ttui config`).
pub fn mask_url(s: &str) -> String {
    let (scheme, rest) = s.split_once("://").unwrap_or(("", s));
    let Some((cred, hp)) = rest.rsplit_once('@') else {
        return s.to_string();
    };
    let user = cred.split_once(':').map_or(cred, |(u, _)| u);
    let sep = if scheme.is_empty() { "" } else { "://" };
    format!("{scheme}{sep}{user}:***@{hp}")
}

/// The proxy as the header, the explainer and `show --json` show it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ProxyStatus {
    /// The URL, password masked.
    pub url: String,
    /// `proxy_only`: nothing goes out but through the proxy.
    pub only: bool,
    /// Why the latest connection through the proxy failed at the proxy itself (it could not
    /// be reached, refused our login, or broke the protocol); None once one has gone through,
    /// and before any was tried.
    pub down: Option<String>,
    /// Connections set up through the proxy since the session started.
    pub connections: u64,
    /// Why the proxy carries no UDP now (no UDP association: DHT, uTP and UDP trackers are
    /// off, never direct); None while the session's UDP goes through its relay.
    #[serde(default)]
    pub udp_off: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_masks() {
        let p = ProxySpec::parse("socks5://alice:s3cret@127.0.0.5:1080").unwrap();
        assert_eq!(p.scheme, ProxyScheme::Socks5);
        assert_eq!((p.host.as_str(), p.port), ("127.0.0.5", 1080));
        assert_eq!(p.auth, Some(("alice".into(), "s3cret".into())));
        assert_eq!(p.to_string(), "socks5://alice:***@127.0.0.5:1080");
        assert!(!format!("{p:?}").contains("s3cret"));
        assert_eq!(p.url_with_secret(), "socks5://alice:s3cret@127.0.0.5:1080");
        let p = ProxySpec::parse("socks5h://[::1]:9050").unwrap();
        assert_eq!(
            (p.scheme, p.host.as_str(), p.auth.clone()),
            (ProxyScheme::Socks5h, "::1", None)
        );
        assert_eq!(p.to_string(), "socks5h://[::1]:9050");
        // A password may hold '@' and ':'.
        let p = ProxySpec::parse("socks5://u:p@ss:x@host:1").unwrap();
        assert_eq!(p.auth, Some(("u".into(), "p@ss:x".into())));
    }

    #[test]
    fn bad_values_say_why_without_the_password() {
        for bad in [
            "http://h:1",
            "socks5://h",
            "socks5://h:0",
            "socks5://h:99999",
            "socks5://:1080",
            "socks5://u:@h:1",
            "socks5://u:secret@h",
        ] {
            let e = ProxySpec::parse(bad).unwrap_err().to_string();
            assert!(e.contains("proxy"), "{e}");
            assert!(!e.contains("secret"), "{e}");
        }
        assert_eq!(mask_url("socks5://u:secret@h"), "socks5://u:***@h");
        assert_eq!(mask_url("socks5://h:1"), "socks5://h:1");
    }
}
