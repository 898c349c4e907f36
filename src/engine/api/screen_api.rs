//! What the session's screen asks of a session, wherever that session runs. [`Client`] asks
//! the session in this process; the attached screen (`ttui attach`, `cli/attach`) asks one in
//! another process over its control socket, with the same methods, so the screen is one
//! program in both places and neither side translates the other's requests.
//!
//! The methods are [`Client`]'s, with its guarantees: a request is sent when the method is
//! called (requests keep the order of the keys that made them), and its [`Answer`] is
//! awaited or dropped.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::watch;

use super::{
    AddOptions, AddSource, Added, Answer, Client, Command, LimitChange, LimitTarget, LimitsNow,
    Move, RequestError, SessionSnapshot, Snapshot, Stats, StatsBy, TorrentId,
};

/// A session as the screen sees it: its published line-up and the requests its keys make.
pub trait ScreenApi: Send + Sync {
    /// A receiver of every line-up the session publishes from now on.
    fn watch(&self) -> watch::Receiver<Arc<SessionSnapshot>>;
    fn add(&self, source: AddSource, opts: AddOptions) -> Answer<Result<Added, RequestError>>;
    fn command(&self, id: TorrentId, command: Command) -> Result<(), RequestError>;
    fn verify(&self, id: TorrentId) -> Result<(), RequestError>;
    fn remove(&self, id: TorrentId, delete_data: bool) -> Answer<Result<(), RequestError>>;
    fn move_to(&self, id: TorrentId, dir: PathBuf) -> Answer<Result<(), RequestError>>;
    /// The torrent's full snapshot for as long as the receiver lives; None for an unknown id.
    fn subscribe(&self, id: TorrentId) -> Answer<Option<watch::Receiver<Arc<Snapshot>>>>;
    fn force(&self, id: TorrentId, on: bool) -> Answer<Result<(), RequestError>>;
    fn set_super_seeding(&self, id: TorrentId, on: bool) -> Answer<Result<(), RequestError>>;
    fn queue(&self, id: TorrentId, to: Move) -> Answer<Result<(), RequestError>>;
    fn limit(
        &self,
        target: LimitTarget,
        change: LimitChange,
    ) -> Answer<Result<LimitsNow, RequestError>>;
    /// The session's accounting (the statistics view).
    fn stats(&self, by: StatsBy) -> Answer<Result<Stats, RequestError>>;
}

impl ScreenApi for Client {
    fn watch(&self) -> watch::Receiver<Arc<SessionSnapshot>> {
        Client::watch(self)
    }
    fn add(&self, source: AddSource, opts: AddOptions) -> Answer<Result<Added, RequestError>> {
        Client::add(self, source, opts)
    }
    fn command(&self, id: TorrentId, command: Command) -> Result<(), RequestError> {
        Client::command(self, id, command)
    }
    fn verify(&self, id: TorrentId) -> Result<(), RequestError> {
        Client::verify(self, id)
    }
    fn remove(&self, id: TorrentId, delete_data: bool) -> Answer<Result<(), RequestError>> {
        Client::remove(self, id, delete_data)
    }
    fn move_to(&self, id: TorrentId, dir: PathBuf) -> Answer<Result<(), RequestError>> {
        Client::move_to(self, id, dir)
    }
    fn subscribe(&self, id: TorrentId) -> Answer<Option<watch::Receiver<Arc<Snapshot>>>> {
        Client::subscribe(self, id)
    }
    fn force(&self, id: TorrentId, on: bool) -> Answer<Result<(), RequestError>> {
        Client::force(self, id, on)
    }
    fn set_super_seeding(&self, id: TorrentId, on: bool) -> Answer<Result<(), RequestError>> {
        Client::set_super_seeding(self, id, on)
    }
    fn queue(&self, id: TorrentId, to: Move) -> Answer<Result<(), RequestError>> {
        Client::queue(self, id, to)
    }
    fn limit(
        &self,
        target: LimitTarget,
        change: LimitChange,
    ) -> Answer<Result<LimitsNow, RequestError>> {
        Client::limit(self, target, change)
    }
    fn stats(&self, by: StatsBy) -> Answer<Result<Stats, RequestError>> {
        Client::stats(self, by)
    }
}
