//! The HTTP door that ttui's HTTP faces share (the Transmission RPC, qBittorrent's Web API,
//! later streaming): what keeps a listener on the network safe whatever it serves, in one
//! place so each face only routes and answers.
//!
//! - [`door`]: the accept loop with a bounded, self-clearing set of connections (a new one
//!   takes the place of the oldest idle one), hyper's HTTP/1 connection with a header-read
//!   timeout and a bounded header buffer, a connection lifetime; and [`door::read_body`], a
//!   request body bounded in size and in time.
//! - [`guard`]: the checks, each pure and tested: the Host allowlist (DNS rebinding),
//!   constant-time comparison, failed-login pacing per address, the password file, the
//!   credentials a face is configured with.
//!
//! Why hyper (1.x, its HTTP/1 server only): see src/rpc/mod.rs; it is already in the build.

pub(crate) mod door;
pub(crate) mod guard;

pub(crate) use door::{plain, read_body, serve, Answer, Limits};
pub(crate) use guard::{host_allowed, same, Credentials, LoginPacer};
