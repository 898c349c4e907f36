//! The HTTP door that ttui's HTTP faces share (the Transmission RPC, qBittorrent's Web API
//! and the web UI it serves, the stream server): what keeps a listener on the network safe whatever it serves, in one
//! place so each face only routes and answers.
//!
//! - [`door`]: the accept loop with a bounded, self-clearing set of connections (one address
//!   holds a share at most; a new one takes the place of the oldest idle one), hyper's HTTP/1 connection with a header-read
//!   timeout and a bounded header buffer, a connection lifetime; and [`door::read_body`], a
//!   request body bounded in size and in time.
//! - [`guard`]: the checks, each pure and tested: the Host allowlist (DNS rebinding),
//!   constant-time comparison, failed-login pacing per address, the password file, the
//!   credentials a face is configured with.
//!
//! - [`web`]: a web UI's files from a folder (the RPC's `web_home`, qBittorrent's), kept
//!   inside it; [`mime`]: the `Content-Type` of every file a door serves.
//!
//! Why hyper (1.x, its HTTP/1 server only): see src/rpc/mod.rs; it is already in the build.

pub(crate) mod door;
pub(crate) mod guard;
pub(crate) mod mime;
pub(crate) mod web;

pub(crate) use door::{plain, read_body, serve, Answer, DoorStats, Limits};
pub(crate) use guard::{host_allowed, same, Credentials, LoginPacer};

/// The path of file `file` of the torrent `hash` on the stream server: what it serves and
/// what `ttui stream` prints.
pub(crate) fn stream_path(hash: &[u8; 20], file: usize) -> String {
    format!("/stream/{}/{file}", crate::protocol::hex::encode(hash))
}
