//! The Transmission RPC: `POST /transmission/rpc` over HTTP, as Transmission's rpc-spec
//! (rpc-version 17, clients down to 14) describes it, so that what already speaks to
//! transmission-daemon (Sonarr, Radarr, `transmission-remote`, the `transmission-rpc` Python
//! package, phone apps) speaks to a ttui session. Off unless `rpc.listen` or `--rpc` asks.
//!
//! It is one more face over `engine::api`, like the control socket: it reads the session's
//! line-up from its `watch` channel and asks through `engine::api::Client`; it never holds the engine
//! up (every answer is built from a snapshot, every wait is bounded) and never reaches into
//! the engine's rooms.
//!
//! The files: `server.rs` (the order of the checks; connections and limits are the shared
//! door's, `crate::http`), `security.rs` (HTTP Basic, the RPC's login pacing), `session_id.rs` (the CSRF
//! token), `request.rs` (the JSON envelope, what the fuzz target feeds), `ids.rs` (`ids` in
//! all its forms), `fields.rs` (torrent-get's field mapping and status numbers),
//! `torrent_get.rs` (torrent-get, written in place), `torrents.rs` and `session.rs` (the
//! other methods), `activity.rs` (activity dates and removed
//! ids for `recently-active`), `error.rs`.
//!
//! Why hyper (1.x, its HTTP/1 server only) and not axum: hyper is already in the build
//! (reqwest's client runs on it), it is the HTTP implementation under axum anyway, and a
//! single route needs no router. What the security of this door rests on (a header-read
//! timeout, a bounded body, the connection count) is set on hyper's own connection
//! builder and on our accept loop, where it is plain to read.

mod actions;
mod activity;
mod ctx;
mod dispatch;
mod error;
mod fields;
mod ids;
pub(crate) mod jsonrpc;
pub(crate) mod request;
mod security;
mod server;
mod session;
mod session_id;
mod torrent_get;
mod torrent_set;
mod torrents;

use std::net::SocketAddr;
use std::path::PathBuf;

pub(crate) use ctx::Facts;
pub(crate) use error::StartError;
pub(crate) use server::bind;

/// What the config file and `--rpc` say about the RPC server.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RpcSettings {
    /// Where to listen; None: no RPC server.
    pub listen: Option<SocketAddr>,
    /// HTTP Basic credentials (config file only, never a flag).
    pub username: Option<String>,
    pub password: Option<String>,
    /// A file whose first line is the password (instead of `password`).
    pub password_file: Option<PathBuf>,
    /// Host names the RPC answers to beyond IP literals and `localhost`.
    pub host_whitelist: Vec<String>,
    /// A web client's directory, served at `/transmission/web/` (None: no web client).
    pub web_home: Option<PathBuf>,
}

pub(crate) use crate::http::Credentials;

impl RpcSettings {
    /// The credentials to check (None: none asked), or why the server must not start: a
    /// listen address other than loopback without a username and password, a username
    /// without a password, a password file that cannot be read.
    pub(crate) fn credentials(&self) -> Result<Option<Credentials>, StartError> {
        let login = crate::http::guard::Login {
            listen: self.listen,
            username: self.username.as_deref(),
            password: self.password.as_deref(),
            password_file: self.password_file.as_deref(),
        };
        Ok(login.check("rpc")?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::guard::CredentialsError;

    fn at(addr: &str) -> RpcSettings {
        RpcSettings {
            listen: Some(addr.parse().unwrap()),
            ..RpcSettings::default()
        }
    }

    #[test]
    fn only_loopback_goes_without_credentials() {
        assert_eq!(at("127.0.0.1:9091").credentials().unwrap(), None);
        assert_eq!(at("[::1]:9091").credentials().unwrap(), None);
        let open = at("0.0.0.0:9091").credentials().unwrap_err().to_string();
        assert!(
            open.contains("rpc.username") && !open.contains('\n'),
            "{open}"
        );
        let with = RpcSettings {
            username: Some("u".into()),
            password: Some("p".into()),
            ..at("0.0.0.0:9091")
        };
        assert!(with.credentials().unwrap().is_some());
        let half = RpcSettings {
            username: Some("u".into()),
            ..at("127.0.0.1:9091")
        };
        assert!(matches!(
            half.credentials(),
            Err(StartError::Credentials(CredentialsError::HalfCredentials(
                "rpc"
            )))
        ));
        let both = RpcSettings {
            password_file: Some("/nonexistent".into()),
            ..with
        };
        assert!(matches!(
            both.credentials(),
            Err(StartError::Credentials(CredentialsError::TwoPasswords(_)))
        ));
    }
}
