//! The one way a face asks the session for something. The CLI's verbs, the TUI, the control
//! socket's server and the Transmission RPC hold a [`Client`] and call one method per thing
//! they ask; none of them builds a [`SessionRequest`] or a reply channel. Modelled on rqbit's
//! `api.rs` ("a library API for use in different web frameworks"): a face's handler becomes a
//! call and a translation of the answer into its own words.
//!
//! A method sends its request at once, when it is called, so requests reach the session in
//! the order a face made them (a key pressed after another acts after it), and returns the
//! session's [`Answer`]: a future to await, or to drop when nobody waits for it (the TUI
//! awaits answers on tasks of their own, so its loop never waits on the engine). An answer
//! has no deadline of its own: the session answers every request it reads, and a face that
//! must bound its wait (the RPC, a socket client) wraps it in its own `tokio::time::timeout`.
//! A session that has ended answers [`RequestError::Stopped`].

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};

use super::{
    AddFiles, AddSource, Added, BlocklistStatus, Catalog, CatalogEdit, Command, FileLine,
    LabelEdit, LimitChange, LimitTarget, LimitsNow, Move, Peeked, RequestError, SessionRequest,
    SessionSnapshot, Set, Settings, SettingsChange, Snapshot, TorrentId,
};

/// What a torrent is added with, beside its source. `Default` is the session's defaults:
/// its save path, started, every file, no labels.
#[derive(Debug, Clone, Default)]
pub struct AddOptions {
    /// None: the session's default save path (or a label's).
    pub save_path: Option<PathBuf>,
    pub paused: bool,
    /// Files to skip and piece order, set before anything is written.
    pub files: AddFiles,
    pub labels: Vec<String>,
}

/// A torrent's own seeding goals to change; None leaves that one as it is.
#[derive(Debug, Clone, Copy, Default)]
pub struct GoalChange {
    pub ratio: Option<Set<f64>>,
    pub seed_time: Option<Set<Duration>>,
    pub idle: Option<Set<Duration>>,
}

/// A cloneable handle on a running session: its request queue and its published line-up.
#[derive(Debug, Clone)]
pub struct Client {
    requests: mpsc::UnboundedSender<SessionRequest>,
    snapshot: watch::Receiver<Arc<SessionSnapshot>>,
}

impl Client {
    pub fn new(
        requests: mpsc::UnboundedSender<SessionRequest>,
        snapshot: watch::Receiver<Arc<SessionSnapshot>>,
    ) -> Client {
        Client { requests, snapshot }
    }

    /// The line-up as the session published it last.
    pub fn head(&self) -> Arc<SessionSnapshot> {
        self.snapshot.borrow().clone()
    }

    /// A receiver of every line-up the session publishes from now on.
    pub fn watch(&self) -> watch::Receiver<Arc<SessionSnapshot>> {
        self.snapshot.clone()
    }

    /// True once the session's task has ended and reads no request any more.
    pub fn is_closed(&self) -> bool {
        self.requests.is_closed()
    }

    fn send(&self, request: SessionRequest) -> Result<(), RequestError> {
        self.requests
            .send(request)
            .map_err(|_| RequestError::Stopped)
    }

    fn ask<R>(&self, make: impl FnOnce(oneshot::Sender<R>) -> SessionRequest) -> Answer<R> {
        let (reply, rx) = oneshot::channel();
        Answer {
            rx: self.send(make(reply)).ok().map(|()| rx),
        }
    }

    /// Adds a torrent; the answer says whether it was new, and its id.
    pub fn add(&self, source: AddSource, opts: AddOptions) -> Answer<Result<Added, RequestError>> {
        let AddOptions {
            save_path,
            paused,
            files,
            labels,
        } = opts;
        self.ask(|reply| SessionRequest::Add {
            source,
            save_path,
            paused,
            files,
            labels,
            reply,
        })
    }

    /// Waits (at most `limit`) until the published line-up lists every one of `ids`, so that
    /// a client that lists right after adding sees what it added. False when they did not
    /// all appear in time.
    pub async fn wait_listed(&self, ids: &[TorrentId], limit: Duration) -> bool {
        if ids.is_empty() {
            return true;
        }
        self.wait_until(limit, |s| lists_all(s, ids)).await
    }

    /// Waits (at most `limit`) until the published line-up lists none of `ids`.
    pub async fn wait_gone(&self, ids: &[TorrentId], limit: Duration) -> bool {
        let ids: std::collections::HashSet<TorrentId> = ids.iter().copied().collect();
        self.wait_until(limit, |s| !s.torrents.iter().any(|t| ids.contains(&t.id)))
            .await
    }

    /// Waits (at most `limit`) until a published line-up satisfies `done`; false when none
    /// did in time (or the session ended first).
    pub async fn wait_until(
        &self,
        limit: Duration,
        done: impl Fn(&SessionSnapshot) -> bool,
    ) -> bool {
        let mut snap = self.snapshot.clone();
        let shown = tokio::time::timeout(limit, snap.wait_for(|s| done(s))).await;
        matches!(shown, Ok(Ok(_)))
    }

    /// A command for one torrent (pause, resume, reannounce, a peer to drop or ban...). It has
    /// no answer: the torrent's next snapshot shows its effect.
    pub fn command(&self, id: TorrentId, command: Command) -> Result<(), RequestError> {
        self.send(SessionRequest::Torrent { id, command })
    }

    /// Checks every piece of the torrent again.
    pub fn verify(&self, id: TorrentId) -> Result<(), RequestError> {
        self.send(SessionRequest::Verify { id })
    }

    /// Stops every torrent (trackers told, resume data saved) and ends the session.
    pub fn shutdown(&self) -> Result<(), RequestError> {
        self.send(SessionRequest::Shutdown)
    }

    pub fn remove(&self, id: TorrentId, delete_data: bool) -> Answer<Result<(), RequestError>> {
        self.ask(|reply| SessionRequest::Remove {
            id,
            delete_data,
            reply,
        })
    }

    /// Moves the torrent's data to `dir`.
    pub fn move_to(&self, id: TorrentId, dir: PathBuf) -> Answer<Result<(), RequestError>> {
        self.ask(|reply| SessionRequest::Move { id, dir, reply })
    }

    /// The torrent's data is (or will be put) in `dir`: nothing moved, every piece checked.
    pub fn locate(&self, id: TorrentId, dir: PathBuf) -> Answer<Result<(), RequestError>> {
        self.ask(|reply| SessionRequest::Locate { id, dir, reply })
    }

    /// Renames the file or folder at `path` (`/`-separated, the torrent's name first).
    pub fn rename_path(
        &self,
        id: TorrentId,
        path: String,
        name: String,
    ) -> Answer<Result<(), RequestError>> {
        self.ask(|reply| SessionRequest::RenamePath {
            id,
            path,
            name,
            reply,
        })
    }

    /// The torrent's full snapshot for as long as the receiver lives; None for an unknown id.
    pub fn subscribe(&self, id: TorrentId) -> Answer<Option<watch::Receiver<Arc<Snapshot>>>> {
        self.ask(|reply| SessionRequest::Subscribe { id, reply })
    }

    /// The full snapshots of `ids` without waking or starting anything (unknown ids left out).
    pub fn peek(&self, ids: Vec<TorrentId>) -> Answer<Vec<(TorrentId, Peeked)>> {
        self.ask(|reply| SessionRequest::Peek { ids, reply })
    }

    /// The full snapshots of `ids` for a one-time read (`ttui show`, the RPC's
    /// `torrent-get`, qBittorrent's per-torrent reads), nothing woken or kept awake: what a
    /// torrent without a running task shows now, and for a running one the fresh snapshot
    /// its task builds at its next tick, waited for at most `wait` (all at once). A read that
    /// subscribed instead would wake a sleeping seed, whose new announce would then say
    /// "updating" in this face while the others still read "working". Unknown ids are left
    /// out.
    pub async fn read_snapshots(
        &self,
        ids: Vec<TorrentId>,
        wait: Duration,
    ) -> Result<Vec<(TorrentId, Arc<Snapshot>)>, RequestError> {
        let peeked = self.peek(ids).await?;
        let reads = peeked.into_iter().map(|(id, p)| async move {
            match p {
                Peeked::Now(snap) => (id, snap),
                Peeked::Coming(mut rx) => {
                    rx.mark_unchanged();
                    let _ = tokio::time::timeout(wait, rx.changed()).await;
                    let snap = rx.borrow().clone();
                    (id, snap)
                }
            }
        });
        Ok(futures::future::join_all(reads).await)
    }

    /// The torrent's files; None for an unknown id or a magnet without its metadata yet.
    pub fn files(&self, id: TorrentId) -> Answer<Option<Vec<FileLine>>> {
        self.ask(|reply| SessionRequest::Files { id, reply })
    }

    /// Opens a stream on file `file` of the torrent (`api/stream.rs`): reads wait until their
    /// bytes are verified, and the pieces under the reader are fetched before any other.
    pub fn open_stream(
        &self,
        id: TorrentId,
        file: usize,
    ) -> Answer<Result<super::FileStream, RequestError>> {
        self.ask(|reply| SessionRequest::OpenStream { id, file, reply })
    }

    /// What the torrent has told each tracker host in all, by host (`ttui show`).
    pub fn reported(&self, id: TorrentId) -> Answer<Vec<(String, super::Moved)>> {
        self.ask(|reply| SessionRequest::Reported { id, reply })
    }

    /// The torrent's open streams: each reader's position, window and bytes waited for.
    pub fn streams(&self, id: TorrentId) -> Answer<Vec<super::StreamRow>> {
        self.ask(|reply| SessionRequest::Streams { id, reply })
    }

    /// Force start (`on`) or back under the queue.
    pub fn force(&self, id: TorrentId, on: bool) -> Answer<Result<(), RequestError>> {
        self.ask(|reply| SessionRequest::Force { id, on, reply })
    }

    /// BEP 16 super-seeding on or off (kept across restarts; active while the torrent is a
    /// complete seed, for peers that connect from then on).
    pub fn set_super_seeding(&self, id: TorrentId, on: bool) -> Answer<Result<(), RequestError>> {
        self.ask(|reply| SessionRequest::SuperSeed { id, on, reply })
    }

    /// Moves the torrent in the queue.
    pub fn queue(&self, id: TorrentId, to: Move) -> Answer<Result<(), RequestError>> {
        self.ask(|reply| SessionRequest::Queue { id, to, reply })
    }

    pub fn goals(&self, id: TorrentId, change: GoalChange) -> Answer<Result<(), RequestError>> {
        let GoalChange {
            ratio,
            seed_time,
            idle,
        } = change;
        self.ask(|reply| SessionRequest::Goals {
            id,
            ratio,
            seed_time,
            idle,
            reply,
        })
    }

    /// Changes a torrent's labels; the answer is its labels as they are now.
    pub fn labels(
        &self,
        id: TorrentId,
        edit: LabelEdit,
    ) -> Answer<Result<Vec<String>, RequestError>> {
        self.ask(|reply| SessionRequest::Labels { id, edit, reply })
    }

    /// The session's categories and tags.
    pub fn catalog(&self) -> Answer<Result<Catalog, RequestError>> {
        self.ask(|reply| SessionRequest::Catalog { edit: None, reply })
    }

    /// Changes the categories or tags (kept in the state directory); the answer is them
    /// as they are now.
    pub fn edit_catalog(&self, edit: CatalogEdit) -> Answer<Result<Catalog, RequestError>> {
        self.ask(|reply| SessionRequest::Catalog {
            edit: Some(edit),
            reply,
        })
    }

    /// Changes some rate limits; the answer is the limits as they are now.
    pub fn limit(
        &self,
        target: LimitTarget,
        change: LimitChange,
    ) -> Answer<Result<LimitsNow, RequestError>> {
        self.ask(|reply| SessionRequest::Limit {
            target,
            change,
            reply,
        })
    }

    /// The session's settings and those of `ids`, in the session's order.
    pub fn settings(&self, ids: Vec<TorrentId>) -> Answer<Settings> {
        self.ask(|reply| SessionRequest::Settings { ids, reply })
    }

    pub fn set_settings(&self, change: SettingsChange) -> Answer<Result<(), RequestError>> {
        self.ask(|reply| SessionRequest::SetSettings { change, reply })
    }

    /// The session's log: its entries after `last_known_id` (-1: every one it keeps).
    pub fn journal(&self, last_known_id: i64) -> Answer<Vec<super::JournalEntry>> {
        self.ask(|reply| SessionRequest::Journal {
            last_known_id,
            reply,
        })
    }

    /// The peers the session banned or blocked, after `last_known_id` (-1: every one).
    pub fn peer_journal(&self, last_known_id: i64) -> Answer<Vec<super::PeerJournalEntry>> {
        self.ask(|reply| SessionRequest::PeerJournal {
            last_known_id,
            reply,
        })
    }

    /// Edits the torrent's trackers (kept across restarts); the answer is its tiers now.
    pub fn edit_trackers(
        &self,
        id: TorrentId,
        edit: super::TrackerEdit,
    ) -> Answer<Result<Vec<Vec<String>>, RequestError>> {
        self.ask(|reply| SessionRequest::Trackers { id, edit, reply })
    }

    /// The torrent as a .torrent file (qBittorrent's `torrents/export`).
    pub fn torrent_file(&self, id: TorrentId) -> Answer<Option<Vec<u8>>> {
        self.ask(|reply| SessionRequest::TorrentFile { id, reply })
    }

    /// The torrent's piece hashes; None for an unknown id or a magnet without metadata.
    pub fn piece_hashes(&self, id: TorrentId) -> Answer<Option<super::PieceHashes>> {
        self.ask(|reply| SessionRequest::PieceHashes { id, reply })
    }

    /// How each .torrent matches the data the session seeds (`ttui cross-seed`).
    pub fn cross_seed_report(
        &self,
        torrents: Vec<(String, Vec<u8>)>,
    ) -> Answer<Result<Vec<crate::engine::api::CrossSeedRow>, RequestError>> {
        self.ask(|reply| SessionRequest::CrossSeedReport { torrents, reply })
    }

    /// The session's accounting (`ttui stats`).
    pub fn stats(
        &self,
        by: crate::engine::api::StatsBy,
    ) -> Answer<Result<crate::engine::api::Stats, RequestError>> {
        self.ask(|reply| SessionRequest::Stats { by, reply })
    }

    /// Reads the blocklist again now; the answer is its status after.
    pub fn blocklist_update(&self) -> Answer<Result<BlocklistStatus, RequestError>> {
        self.ask(|reply| SessionRequest::BlocklistUpdate { reply })
    }
}

/// The session's answer to a request already sent: await it, or drop it when nobody waits.
#[must_use = "the request is sent; await the answer or drop it on purpose"]
#[derive(Debug)]
pub struct Answer<R> {
    /// None: the request could not be sent (the session has ended).
    rx: Option<oneshot::Receiver<R>>,
}

impl<R> Answer<R> {
    /// An answer and the sender that gives it, for a client that asks a session some other
    /// way than through its queue (the attached screen's, over the control socket). A sender
    /// dropped unanswered reads as a session that has ended.
    pub fn channel() -> (oneshot::Sender<R>, Answer<R>) {
        let (tx, rx) = oneshot::channel();
        (tx, Answer { rx: Some(rx) })
    }
}

/// What a reply is once it arrives: a session that replies with a `Result` has its error
/// kept, one that replies with plain data has it as it is.
pub trait IntoAnswer {
    type Value;
    fn into_result(self) -> Result<Self::Value, RequestError>;
}

impl<T> IntoAnswer for Result<T, RequestError> {
    type Value = T;
    fn into_result(self) -> Result<T, RequestError> {
        self
    }
}

impl<T> IntoAnswer for Option<T> {
    type Value = Option<T>;
    fn into_result(self) -> Result<Option<T>, RequestError> {
        Ok(self)
    }
}

impl<T> IntoAnswer for Vec<T> {
    type Value = Vec<T>;
    fn into_result(self) -> Result<Vec<T>, RequestError> {
        Ok(self)
    }
}

impl IntoAnswer for Settings {
    type Value = Settings;
    fn into_result(self) -> Result<Settings, RequestError> {
        Ok(self)
    }
}

impl<R: IntoAnswer> Future for Answer<R> {
    type Output = Result<R::Value, RequestError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Some(rx) = self.rx.as_mut() else {
            return Poll::Ready(Err(RequestError::Stopped));
        };
        Pin::new(rx).poll(cx).map(|r| match r {
            Ok(reply) => reply.into_result(),
            Err(_) => Err(RequestError::Stopped),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> (Client, mpsc::UnboundedReceiver<SessionRequest>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let (_, snapshot) = watch::channel(Arc::new(SessionSnapshot::default()));
        (Client::new(tx, snapshot), rx)
    }

    #[tokio::test]
    async fn requests_go_in_the_order_made_before_any_answer_is_awaited() {
        let (client, mut rx) = client();
        let first = client.remove(TorrentId(1), false);
        let second = client.queue(TorrentId(2), Move::Top);
        let Some(SessionRequest::Remove { id, reply, .. }) = rx.recv().await else {
            panic!("the remove was not sent first");
        };
        assert_eq!(id, TorrentId(1));
        assert!(matches!(
            rx.recv().await,
            Some(SessionRequest::Queue { .. })
        ));
        reply.send(Err(RequestError::NoMetadata)).unwrap();
        assert!(matches!(first.await, Err(RequestError::NoMetadata)));
        // Its reply channel gone unanswered: the session ended meanwhile.
        assert!(matches!(second.await, Err(RequestError::Stopped)));
    }

    #[tokio::test]
    async fn a_session_that_has_ended_answers_stopped() {
        let (client, rx) = client();
        drop(rx);
        assert!(client.is_closed());
        assert!(matches!(
            client.files(TorrentId(1)).await,
            Err(RequestError::Stopped)
        ));
        assert!(matches!(
            client.verify(TorrentId(1)),
            Err(RequestError::Stopped)
        ));
    }
}

/// Whether `snap` lists every one of `ids`. A new torrent's line goes last, so the line-up is
/// read from its end and the read stops once all are found: an add of 500 into a library of
/// 100,000 costs about 500 looks each time a line-up is published, not 50 million (the
/// control socket's `add` compared every id with every line, a third of the daemon's CPU
/// while 100,000 were added).
pub(crate) fn lists_all(snap: &SessionSnapshot, ids: &[TorrentId]) -> bool {
    let mut missing: std::collections::HashSet<TorrentId> = ids.iter().copied().collect();
    for t in snap.torrents.iter().rev() {
        if missing.is_empty() {
            break;
        }
        missing.remove(&t.id);
    }
    missing.is_empty()
}

#[cfg(test)]
mod lists_all_tests {
    use super::*;
    use crate::engine::api::TorrentLine;
    use std::sync::Arc;

    #[test]
    fn every_id_is_looked_for_from_the_end() {
        let snap = SessionSnapshot {
            torrents: (1..=5)
                .map(|i| Arc::new(TorrentLine::placeholder(TorrentId(i))))
                .collect(),
            ..SessionSnapshot::default()
        };
        assert!(lists_all(&snap, &[]));
        assert!(lists_all(&snap, &[TorrentId(5), TorrentId(4)]));
        // One near the front is still found.
        assert!(lists_all(&snap, &[TorrentId(1), TorrentId(5)]));
        assert!(!lists_all(&snap, &[TorrentId(5), TorrentId(6)]));
    }
}
