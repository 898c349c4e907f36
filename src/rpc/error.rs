//! Why the RPC server does not start, and why a method fails. A method's failure becomes the
//! response's `result` string (Transmission's clients show it), never an HTTP error.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Why the RPC server refuses to start: each is one line for the user.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StartError {
    #[error(transparent)]
    Credentials(#[from] crate::http::guard::CredentialsError),
    #[error("rpc.web_home {}: no index.html there (Debian's web client is in /usr/share/transmission/web)", .0.display())]
    WebHome(PathBuf),
    #[error("RPC listen address {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// A method's failure, as the response's `result` says it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum MethodError {
    #[error("method name not recognized")]
    UnknownMethod,
    #[error("{0}")]
    BadArgument(String),
    #[error("{0}")]
    Session(String),
    #[error("the session is stopping")]
    Gone,
}

impl From<crate::engine::api::RequestError> for MethodError {
    fn from(e: crate::engine::api::RequestError) -> MethodError {
        match e {
            crate::engine::api::RequestError::Stopped => MethodError::Gone,
            e => MethodError::Session(e.to_string()),
        }
    }
}
