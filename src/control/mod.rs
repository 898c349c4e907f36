//! The control surface's transport: how `ttui add/list/...` (and later `ttui attach`) talk to
//! the one session that runs per state directory, over a local Unix socket.
//!
//! - [`frame`]: a u32 big-endian length, then that many bytes of JSON; capped and timed.
//! - [`proto`]: the versioned messages ([`proto::Hello`], [`proto::Request`],
//!   [`proto::Response`]) and the exit codes the verbs use; [`rows`], what `--json` prints;
//!   [`ids`], which torrents a verb's `ID...` names; [`listing`], a torrent's row as the verbs
//!   print it; [`lineup`], the session's line-up streamed as changes (`ttui attach`).
//! - [`paths`]: where the socket lives.
//! - [`server`]: binds the socket (stale ones are taken over) and serves clients, each on its
//!   own task, so a hostile client costs only its own connection.
//! - [`client`]: what a verb uses to reach the session.
//! - [`verbs`]: the session's end: one file per verb, each asking the session through
//!   `engine::api::Client`.
//!
//! The server hands each request to the verbs through an `mpsc` channel of
//! `(Request, oneshot::Sender)`; only `verbs` knows the engine.

pub(crate) mod client;
pub mod files;
pub mod frame;
pub mod ids;
pub(crate) mod lineup;
pub(crate) mod listing;
pub(crate) mod paths;
pub mod proto;
pub(crate) mod rows;
pub mod server;
pub(crate) mod verbs;

pub use client::Client;
pub(crate) use proto::ControlError;
