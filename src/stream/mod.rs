//! Files of the session's torrents over HTTP while they download, for a media player:
//! `GET`/`HEAD /stream/<info hash>/<file index>` with `Range`, and M3U playlists. On a loopback
//! listener by default (`[stream] listen`); beyond loopback only with credentials, like the
//! RPC. One more face over `engine::api`: a request opens an `api::FileStream`, whose reads the
//! engine answers as the pieces under them are verified (`engine/torrent/stream.rs` moves the
//! picker to the reader).
//!
//! The files: `serve.rs` (routes and answers; connections and their limits, HTTP Basic, its
//! pacing and the Host check are the shared door's, `crate::http`),
//! `range.rs` (the Range header, fuzzed). hyper 1.x's HTTP/1 server,
//! as the RPC uses (`rpc/mod.rs` says why hyper).

pub(crate) mod range;
mod serve;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::engine::api::Client;
use crate::http::{self, Credentials};

/// Where the server listens unless `[stream] listen` says otherwise; when that port is taken
/// (a second session on the machine), any free loopback port.
pub(crate) const DEFAULT_LISTEN: SocketAddr =
    SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 9092);

/// What the config file says about the stream server.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct StreamSettings {
    /// None: the default address. `Some(None)`: off.
    pub listen: Option<Option<SocketAddr>>,
    pub username: Option<String>,
    pub password: Option<String>,
}

/// Why the stream server refuses to start (the session does not start either).
#[derive(Debug, thiserror::Error)]
pub(crate) enum StreamStartError {
    #[error(
        "stream.listen {0} is not a loopback address: set stream.username and stream.password \
         in the config file, or listen on 127.0.0.1"
    )]
    OpenWithoutCredentials(SocketAddr),
    #[error("stream.username and stream.password go together: set both or neither")]
    HalfCredentials,
    #[error("stream.listen {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

impl StreamSettings {
    fn credentials(&self) -> Result<Option<Credentials>, StreamStartError> {
        match (&self.username, &self.password) {
            (Some(u), Some(p)) if !u.is_empty() && !p.is_empty() => Ok(Some(Credentials {
                username: u.clone(),
                password: p.clone(),
            })),
            (None, None) => Ok(None),
            _ => Err(StreamStartError::HalfCredentials),
        }
    }
}

/// A bound stream listener, not serving yet.
pub(crate) struct Bound {
    listener: TcpListener,
    creds: Option<Credentials>,
    local: SocketAddr,
}

impl Bound {
    /// The address it listens on (its port is the one bound, never 0).
    pub(crate) fn local(&self) -> SocketAddr {
        self.local
    }

    /// Serves until the task is aborted.
    pub(crate) fn serve(self, client: Client) -> JoinHandle<()> {
        tracing::info!(
            "streams on http://{}/playlist.m3u{}",
            self.local,
            if self.creds.is_some() {
                " (login required)"
            } else {
                ""
            }
        );
        let door = Arc::new(http::DoorStats::default());
        let ctx = Arc::new(serve::Ctx {
            client,
            creds: self.creds,
            pacer: std::sync::Mutex::new(http::LoginPacer::standard()),
            local: self.local,
            door: Arc::clone(&door),
            reading: Arc::default(),
        });
        let handle = move |req, peer| serve::handle(req, peer, Arc::clone(&ctx));
        // A stream's answer may last as long as the film: no life limit of its own (its
        // reads end when the player goes, which drops the answer and the stream at once).
        let limits = http::Limits {
            max_connections: 64,
            max_per_address: 16,
            max_connection_life: None,
            max_header_bytes: 16 << 10,
            ..http::Limits::default()
        };
        tokio::spawn(http::serve(
            self.listener,
            "stream server",
            limits,
            door,
            handle,
        ))
    }
}

/// Checks the settings and binds (None: off).
pub(crate) async fn bind(settings: &StreamSettings) -> Result<Option<Bound>, StreamStartError> {
    let creds = settings.credentials()?;
    let (addr, default) = match settings.listen {
        Some(None) => return Ok(None),
        Some(Some(addr)) => (addr, false),
        None => (DEFAULT_LISTEN, true),
    };
    if !addr.ip().is_loopback() && creds.is_none() {
        return Err(StreamStartError::OpenWithoutCredentials(addr));
    }
    let listener = match TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) if default => {
            tracing::debug!("stream server: {addr}: {e}; any free loopback port instead");
            let any = SocketAddr::new(addr.ip(), 0);
            TcpListener::bind(any)
                .await
                .map_err(|source| StreamStartError::Bind { addr: any, source })?
        }
        Err(source) => return Err(StreamStartError::Bind { addr, source }),
    };
    let local = listener
        .local_addr()
        .map_err(|source| StreamStartError::Bind { addr, source })?;
    Ok(Some(Bound {
        listener,
        creds,
        local,
    }))
}
