//! One Transmission RPC method run against the session: the table from a method's name to
//! its handler, shared by the legacy envelope (`server`) and JSON-RPC 2.0 (`jsonrpc`), which
//! both call here, so neither imports the other.

use std::time::Duration;

use super::ctx::Ctx;
use super::error::MethodError;
use super::{actions, request, session, torrent_set, torrents};
use crate::engine::api::Move;

/// Runs one method.
pub(crate) async fn dispatch(
    ctx: &Ctx,
    method: &str,
    args: &torrents::Args,
) -> Result<request::Arguments, MethodError> {
    // Every answer is built from a session that has its saved torrents back (bounded).
    let mut snap = ctx.snapshot.clone();
    let _ = tokio::time::timeout(Duration::from_secs(30), snap.wait_for(|s| s.restored)).await;
    if method != "torrent-add" {
        torrents::listed(ctx).await;
    }
    let map = match method {
        "torrent-get" => return super::torrent_get::get(ctx, args).await,
        "torrent-add" => torrents::add(ctx, args).await,
        "torrent-start" => actions::start(ctx, args, false),
        "torrent-start-now" => actions::start(ctx, args, true),
        "torrent-stop" => actions::stop(ctx, args),
        "torrent-verify" => actions::verify(ctx, args),
        "torrent-remove" => actions::remove(ctx, args).await,
        "torrent-set" => torrent_set::set(ctx, args).await,
        "torrent-set-location" => actions::set_location(ctx, args).await,
        "queue-move-top" => actions::queue(ctx, args, Move::Top).await,
        "queue-move-up" => actions::queue(ctx, args, Move::Up).await,
        "queue-move-down" => actions::queue(ctx, args, Move::Down).await,
        "queue-move-bottom" => actions::queue(ctx, args, Move::Bottom).await,
        "session-get" => session::get(ctx, args).await,
        "session-set" => session::set(ctx, args).await,
        "session-stats" => session::stats(ctx),
        "session-close" => session::close(ctx),
        "free-space" => session::free(args).await,
        "port-test" => session::port_test(ctx),
        "torrent-reannounce" => actions::reannounce(ctx, args),
        "torrent-rename-path" => actions::rename_path(ctx, args).await,
        "blocklist-update" => session::blocklist_update(ctx).await,
        "group-set" | "group-get" => Err(MethodError::BadArgument(format!(
            "{method} is not supported by ttui yet"
        ))),
        _ => Err(MethodError::UnknownMethod),
    };
    map.map(request::Arguments::Map)
}
