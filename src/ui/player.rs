//! How the session's screen plays a file (`P` on the Files tab). The screen knows neither
//! where the session's stream server listens nor on which machine the user sits, so whoever
//! opens the screen (a local session, `ttui attach`, `ttui attach --ssh`) gives it a
//! [`Player`]: it finds the stream's URL and starts a media player, or, when the session is
//! on another machine, says what to run on the user's side. Its answer is the footer line.

use std::sync::Arc;

use futures::future::BoxFuture;

use crate::engine::api::TorrentId;

/// Plays file `usize` (its index in `Snapshot::files`) of a torrent; the answer says how it
/// went, in a line for the footer.
pub(crate) type Player = Arc<dyn Fn(TorrentId, usize) -> BoxFuture<'static, String> + Send + Sync>;
