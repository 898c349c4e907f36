//! The attached screen's session ([`Remote`]): the screen asks it what it asks a session in
//! its own process (`ScreenApi`), and each request goes over the control protocol as the
//! verb that does the same thing sends it.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use super::{internal, ControlLink, Target, COMMAND_TIMEOUT, IDLE};
use crate::control::proto::{AddItem, ControlError, ErrorKind, Request, Response};
use crate::control::Client;
use crate::engine::api::{
    AddOptions, AddSource, Added, Answer, Command, LimitChange, LimitTarget, LimitsNow, Move,
    RequestError, ScreenApi, SessionSnapshot, Snapshot, Stats, StatsBy, TorrentId,
};

/// What the connection task is asked to do, in the order the screen asked.
enum Job {
    /// One request on the command connection, its answer read by the closure.
    Ask(
        Request,
        Box<dyn FnOnce(Result<Response, ControlError>) + Send>,
    ),
    /// The open torrent's stream, on a connection of its own.
    Subscribe(
        TorrentId,
        oneshot::Sender<Option<watch::Receiver<Arc<Snapshot>>>>,
    ),
}

/// The attached screen's session: the line-up streamed from the session, and each request
/// sent as `ttui`'s own verbs send it, by one task ([`serve`]) so they keep their order.
pub(super) struct Remote {
    session: watch::Receiver<Arc<SessionSnapshot>>,
    jobs: mpsc::UnboundedSender<Job>,
}

impl Remote {
    /// A session whose line-up comes from `session`, and the task that carries its requests
    /// to `target` (for the caller to abort when the screen is gone).
    pub(super) fn new(
        target: Target,
        session: watch::Receiver<Arc<SessionSnapshot>>,
    ) -> (Remote, JoinHandle<()>) {
        let (jobs, rx) = mpsc::unbounded_channel();
        (Remote { session, jobs }, tokio::spawn(serve(target, rx)))
    }

    /// Sends `r`; the answer is what `read` makes of the session's.
    fn ask<R: Send + 'static>(
        &self,
        r: Request,
        read: impl FnOnce(Result<Response, ControlError>) -> R + Send + 'static,
    ) -> Answer<R> {
        let (reply, answer) = Answer::channel();
        let job = Job::Ask(
            r,
            Box::new(move |a| {
                let _ = reply.send(read(a));
            }),
        );
        // A task that has ended drops the job and its sender: the answer reads "stopped".
        let _ = self.jobs.send(job);
        answer
    }

    /// Sends `r` with nobody waiting for its answer (the next line-up shows its effect).
    fn tell(&self, r: Request) -> Result<(), RequestError> {
        self.jobs
            .send(Job::Ask(r, Box::new(|_| {})))
            .map_err(|_| RequestError::Stopped)
    }
}

impl ScreenApi for Remote {
    fn watch(&self) -> watch::Receiver<Arc<SessionSnapshot>> {
        self.session.clone()
    }

    /// The add dialog: the session answers as it does `ttui add`.
    fn add(&self, source: AddSource, opts: AddOptions) -> Answer<Result<Added, RequestError>> {
        self.ask(add_request(source, opts), added)
    }

    fn command(&self, id: TorrentId, command: Command) -> Result<(), RequestError> {
        self.tell(Request::Command { id: id.0, command })
    }

    fn verify(&self, id: TorrentId) -> Result<(), RequestError> {
        self.tell(Request::Verify {
            ids: vec![id.0.to_string()],
        })
    }

    fn remove(&self, id: TorrentId, delete_data: bool) -> Answer<Result<(), RequestError>> {
        let ids = vec![id.0.to_string()];
        self.ask(Request::Remove { ids, delete_data }, done)
    }

    fn move_to(&self, id: TorrentId, dir: PathBuf) -> Answer<Result<(), RequestError>> {
        let id = id.0.to_string();
        self.ask(Request::Move { id, dir }, done)
    }

    fn subscribe(&self, id: TorrentId) -> Answer<Option<watch::Receiver<Arc<Snapshot>>>> {
        let (reply, answer) = Answer::channel();
        let _ = self.jobs.send(Job::Subscribe(id, reply));
        answer
    }

    /// Force start, or back under the queue (`ttui force`, `ttui resume`).
    fn force(&self, id: TorrentId, on: bool) -> Answer<Result<(), RequestError>> {
        let ids = vec![id.0.to_string()];
        let r = if on {
            Request::Force { ids }
        } else {
            Request::Resume { ids }
        };
        self.ask(r, done)
    }

    fn set_super_seeding(&self, id: TorrentId, on: bool) -> Answer<Result<(), RequestError>> {
        let id = id.0.to_string();
        self.ask(Request::SuperSeed { id, on }, done)
    }

    fn queue(&self, id: TorrentId, to: Move) -> Answer<Result<(), RequestError>> {
        let id = id.0.to_string();
        self.ask(Request::Queue { id, to }, done)
    }

    /// The limits dialog's change, as `ttui limit` sends it; the limits now in force.
    fn limit(
        &self,
        whose: LimitTarget,
        change: LimitChange,
    ) -> Answer<Result<LimitsNow, RequestError>> {
        let ids = match whose {
            LimitTarget::Session => Vec::new(),
            LimitTarget::All => vec!["all".to_string()],
            LimitTarget::Torrents(ids) => ids.iter().map(|id| id.0.to_string()).collect(),
        };
        self.ask(Request::Limit { ids, change }, |answer| match answer {
            Ok(Response::Limits(now)) => Ok(now),
            Ok(_) => Err(RequestError::Remote(
                "the session answered something else".into(),
            )),
            Err(e) => Err(RequestError::Remote(e.message)),
        })
    }

    fn stats(&self, by: StatsBy) -> Answer<Result<Stats, RequestError>> {
        self.ask(Request::Stats { by }, |answer| match answer {
            Ok(Response::Stats(stats)) => Ok(*stats),
            Ok(_) => Err(RequestError::Remote(
                "the session answered something else".into(),
            )),
            Err(e) => Err(RequestError::Remote(e.message)),
        })
    }
}

/// Carries the screen's requests to the session, one at a time: a command connection
/// (opened again once if it broke) for the requests, and a streamed connection for the open
/// torrent.
async fn serve(target: Target, mut jobs: mpsc::UnboundedReceiver<Job>) {
    let mut control: Option<Client<ControlLink>> = None;
    let mut detail: Option<JoinHandle<()>> = None;
    while let Some(job) = jobs.recv().await {
        match job {
            Job::Ask(r, reply) => reply(ask(&target, &mut control, &r).await),
            Job::Subscribe(id, reply) => {
                let _ = reply.send(subscribe(&target, &mut detail, id).await);
            }
        }
    }
    if let Some(task) = detail {
        task.abort();
    }
}

/// `Subscribe`: the open torrent's stream, replacing the one before.
async fn subscribe(
    target: &Target,
    detail: &mut Option<JoinHandle<()>>,
    id: TorrentId,
) -> Option<watch::Receiver<Arc<Snapshot>>> {
    if let Some(old) = detail.take() {
        old.abort();
    }
    match open_detail(target, id).await {
        Ok((snaps, task)) => {
            *detail = Some(task);
            Some(snaps)
        }
        Err(e) => {
            tracing::warn!("attach: torrent {id}: {}", e.message);
            None
        }
    }
}

/// The add dialog's request, as `ttui add` sends it.
fn add_request(source: AddSource, opts: AddOptions) -> Request {
    let AddOptions {
        save_path,
        paused,
        files,
        labels,
    } = opts;
    let item = match source {
        AddSource::Torrent { name, bytes } => AddItem::Torrent { name, bytes },
        AddSource::Magnet(m) => AddItem::Magnet(m),
    };
    Request::Add {
        items: vec![item],
        save_path,
        paused,
        files,
        labels,
    }
}

/// The session's answer to a request on torrents, as an in-process session gives it: the
/// first torrent's error, if any.
fn done(answer: Result<Response, ControlError>) -> Result<(), RequestError> {
    match answer.map_err(|e| RequestError::Remote(e.message))? {
        Response::Done(results) => results
            .into_iter()
            .find_map(|r| r.error)
            .map_or(Ok(()), |e| Err(RequestError::Remote(e))),
        _ => Ok(()),
    }
}

/// The session's answer to one add, as an in-process session gives it.
fn added(answer: Result<Response, ControlError>) -> Result<Added, RequestError> {
    let remote = |s: &str| RequestError::Remote(s.to_string());
    let r = match answer.map_err(|e| RequestError::Remote(e.message))? {
        Response::Added(mut results) if !results.is_empty() => results.swap_remove(0),
        Response::Error(e) => return Err(RequestError::Remote(e.message)),
        _ => return Err(remote("unexpected answer from the session")),
    };
    if let Some(e) = r.error {
        return Err(RequestError::Remote(e));
    }
    let id = TorrentId(r.id.ok_or_else(|| remote("the session gave no id"))?);
    let name = r.name.unwrap_or_default();
    // Only the id and the name are shown; the hash is kept when it reads as one.
    let info_hash = r
        .info_hash
        .and_then(|h| crate::protocol::hex::decode_array(&h))
        .unwrap_or([0u8; 20]);
    Ok(if r.already {
        Added::Already {
            id,
            name,
            info_hash,
        }
    } else {
        Added::New {
            id,
            name,
            info_hash,
        }
    })
}

/// One request on the command connection, opened (or opened again, once) as needed.
async fn ask(
    target: &Target,
    control: &mut Option<Client<ControlLink>>,
    r: &Request,
) -> Result<Response, ControlError> {
    let mut last = None;
    for _ in 0..2 {
        let mut client = match control.take() {
            Some(c) => c,
            None => {
                let mut c = target.open(true).await?;
                c.set_reply_timeout(COMMAND_TIMEOUT);
                c
            }
        };
        match client.request(r).await {
            Ok(answer) => {
                *control = Some(client);
                return Ok(answer);
            }
            // The session's own refusal: the connection is fine, asking again won't help.
            Err(e) if e.kind != ErrorKind::Internal => {
                *control = Some(client);
                return Err(e);
            }
            Err(e) => last = Some(e),
        }
    }
    let e = last.unwrap_or_else(|| internal("no answer".into()));
    tracing::warn!("attach: {}: {}", r.verb(), e.message);
    Err(e)
}

/// A streamed connection for torrent `id`, and the task feeding its watch; the task ends
/// (closing the connection) when the screen drops the receiver or the stream ends.
async fn open_detail(
    target: &Target,
    id: TorrentId,
) -> Result<(watch::Receiver<Arc<Snapshot>>, JoinHandle<()>), ControlError> {
    let mut conn = target.open(true).await?;
    conn.start(&Request::Subscribe { id: id.0 }).await?;
    let first = match conn.next_frame(IDLE).await? {
        Response::Snapshot(s) => *s,
        _ => return Err(internal("unexpected answer from the session".into())),
    };
    let (tx, rx) = watch::channel(Arc::new(first));
    let task = tokio::spawn(async move {
        loop {
            tokio::select! {
                frame = conn.next_frame(IDLE) => match frame {
                    Ok(Response::Snapshot(s)) => {
                        let _ = tx.send(Arc::new(*s));
                    }
                    Ok(_) => {}
                    Err(_) => return,
                },
                () = tx.closed() => return,
            }
        }
    });
    Ok((rx, task))
}
