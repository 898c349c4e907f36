//! The event loop of the session screen: the torrent list (from the session's snapshot) and,
//! while one is open, a torrent's detail view (from its own snapshot, subscribed to only
//! while it is shown, so the engine builds it only then). Generic over the `Backend` and the
//! event stream like the single-torrent loop (`event.rs`).

use std::io;
use std::sync::Arc;
use std::time::Duration;

use crossterm::event::Event;
use futures::{Stream, StreamExt};
use ratatui::backend::Backend;
use ratatui::layout::Rect;
use ratatui::Terminal;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::MissedTickBehavior;

use crate::control::proto::AddItem;
use crate::engine::api::{
    AddFiles, Added, LimitTarget, RequestError, SessionRequest, SessionSnapshot, Snapshot,
    TorrentId,
};

use super::action::{Effect, Reply, Request};
use super::app::{App, Screen};
use super::keys::from_event_in;

/// New snapshots are drawn at most this often; keys are drawn at once.
const FRAME: Duration = Duration::from_millis(66);

/// The open torrent's snapshots.
struct Detail {
    id: TorrentId,
    snapshots: watch::Receiver<Arc<Snapshot>>,
    last: Arc<Snapshot>,
}

/// Runs until the user quits or the terminal's events end; the caller stops the session.
pub(crate) async fn run_session_loop<B, S>(
    terminal: &mut Terminal<B>,
    mut events: S,
    mut session: watch::Receiver<Arc<SessionSnapshot>>,
    requests: mpsc::UnboundedSender<SessionRequest>,
    mut app: App,
) -> color_eyre::Result<App>
where
    B: Backend,
    S: Stream<Item = io::Result<Event>> + Unpin,
{
    app.set_viewport(viewport(terminal)?);
    let first = session.borrow_and_update().clone();
    let mut snap = first.clone();
    app.on_session(first);
    let mut detail: Option<Detail> = None;
    if let Screen::Detail(id) = app.screen {
        detail = open_detail(&requests, id, &mut app).await;
    }
    // Answers someone waits for (the limits dialog's prefill, turtle mode, a move) come
    // back here from the tasks that wait for them, so the loop itself never waits.
    let (replies_tx, mut replies) = mpsc::unbounded_channel::<Reply>();
    let mut tick = tokio::time::interval(FRAME);
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let (mut draw_now, mut draw_on_tick) = (true, false);
    // How adds went (they finish after the key that asked): a line for the footer.
    let (notes_tx, mut notes) = mpsc::unbounded_channel::<String>();
    let out = Outbound {
        requests,
        replies: replies_tx,
        notes: notes_tx,
    };
    loop {
        if draw_now {
            app.set_viewport(viewport(terminal)?);
            draw(terminal, &app, detail.as_ref(), &snap)?;
            draw_now = false;
            draw_on_tick = false;
        }
        let detail_changed = async {
            match detail.as_mut() {
                Some(d) => d.snapshots.changed().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            event = events.next() => {
                let event = match event {
                    None => return Ok(app),
                    Some(event) => event?,
                };
                if let Event::Paste(text) = &event {
                    app.paste(text);
                    draw_now = true;
                    continue;
                }
                let Some(action) = from_event_in(&event, app.mode()) else { continue };
                if let Some(effect) = app.handle(action) {
                    if !apply(effect, &mut app, &mut detail, &out).await {
                        return Ok(app);
                    }
                }
                draw_now = true;
            }
            changed = session.changed() => {
                if changed.is_err() {
                    // The session has stopped: nothing more will come.
                    return Ok(app);
                }
                snap = session.borrow_and_update().clone();
                app.on_session(Arc::clone(&snap));
                draw_on_tick = true;
            }
            changed = detail_changed => {
                on_detail(changed.is_ok(), &mut detail, &mut app);
                draw_on_tick = true;
            }
            Some(reply) = replies.recv() => {
                app.on_reply(reply);
                draw_now = true;
            }
            Some(note) = notes.recv() => {
                app.status = Some(note);
                draw_now = true;
            }
            _ = tick.tick() => draw_now = draw_on_tick,
        }
    }
}

/// Draws the open torrent's detail view, or the list when none is open (or its first
/// snapshot has not come yet).
fn draw<B: Backend>(
    terminal: &mut Terminal<B>,
    app: &App,
    detail: Option<&Detail>,
    snap: &SessionSnapshot,
) -> io::Result<()> {
    terminal.draw(|frame| {
        let area = frame.area();
        let buf = frame.buffer_mut();
        match (&app.screen, detail) {
            (Screen::Detail(id), Some(d)) if d.id == *id => {
                super::draw_into(area, buf, &d.last, app)
            }
            _ => super::list::render(area, buf, snap, app),
        }
    })?;
    Ok(())
}

/// Where the loop's effects go: the session, and the loop's own inboxes for answers that
/// come later.
struct Outbound {
    requests: mpsc::UnboundedSender<SessionRequest>,
    replies: mpsc::UnboundedSender<Reply>,
    notes: mpsc::UnboundedSender<String>,
}

/// Carries out what a key asked for; false when it asked to quit.
async fn apply(effect: Effect, app: &mut App, detail: &mut Option<Detail>, out: &Outbound) -> bool {
    match effect {
        Effect::Quit => return false,
        Effect::Torrent(command) => {
            if let Screen::Detail(id) = app.screen {
                let _ = out.requests.send(SessionRequest::Torrent { id, command });
            }
        }
        Effect::Session(list) => {
            for r in list {
                match r {
                    Request::Add {
                        item,
                        save_path,
                        paused,
                        files,
                    } => {
                        let add = SessionAdd {
                            save_path,
                            paused,
                            files,
                        };
                        tokio::spawn(add.send(item, out.requests.clone(), out.notes.clone()));
                    }
                    r => {
                        if let Some(r) = session_request(r, &out.replies) {
                            let _ = out.requests.send(r);
                        }
                    }
                }
            }
        }
        Effect::Open(id) => *detail = open_detail(&out.requests, id, app).await,
        Effect::Close => *detail = None,
    }
    true
}

/// Subscribes to the torrent's full snapshot and shows the first one.
async fn open_detail(
    requests: &mpsc::UnboundedSender<SessionRequest>,
    id: TorrentId,
    app: &mut App,
) -> Option<Detail> {
    let detail = subscribe(requests, id).await;
    if let Some(d) = &detail {
        app.on_snapshot(Arc::clone(&d.last));
    }
    detail
}

/// The open torrent has a new snapshot (`alive`), or was removed: then back to the list.
fn on_detail(alive: bool, detail: &mut Option<Detail>, app: &mut App) {
    if !alive {
        *detail = None;
        app.screen = Screen::List;
        return;
    }
    if let Some(d) = detail.as_mut() {
        d.last = d.snapshots.borrow_and_update().clone();
        app.on_snapshot(Arc::clone(&d.last));
    }
}

async fn subscribe(
    requests: &mpsc::UnboundedSender<SessionRequest>,
    id: TorrentId,
) -> Option<Detail> {
    let (reply, rx) = oneshot::channel();
    requests
        .send(SessionRequest::Subscribe { id, reply })
        .ok()?;
    let mut snapshots = rx.await.ok()??;
    let last = snapshots.borrow_and_update().clone();
    Some(Detail {
        id,
        snapshots,
        last,
    })
}

/// Waits for `rx` off the loop and hands the answer back as `wrap` makes it.
fn forward<T: Send + 'static>(
    rx: oneshot::Receiver<T>,
    replies: &mpsc::UnboundedSender<Reply>,
    wrap: impl FnOnce(T) -> Reply + Send + 'static,
) {
    let replies = replies.clone();
    tokio::spawn(async move {
        // The session stopped without answering: the loop ends on its own.
        if let Ok(answer) = rx.await {
            let _ = replies.send(wrap(answer));
        }
    });
}

fn session_request(r: Request, replies: &mpsc::UnboundedSender<Reply>) -> Option<SessionRequest> {
    Some(match r {
        Request::Torrent { id, command } => SessionRequest::Torrent { id, command },
        Request::Verify { id } => SessionRequest::Verify { id },
        Request::Remove { id, delete_data } => {
            // The list shows the torrent gone either way; only the answer says whether its
            // data could be deleted.
            let (reply, rx) = oneshot::channel();
            forward(rx, replies, move |result: Result<(), RequestError>| {
                Reply::Removed {
                    id,
                    delete_data,
                    result: result.map_err(|e| e.to_string()),
                }
            });
            SessionRequest::Remove {
                id,
                delete_data,
                reply,
            }
        }
        Request::Force { id } => {
            let (reply, rx) = oneshot::channel();
            forward(rx, replies, move |result: Result<(), RequestError>| {
                Reply::Done {
                    what: "force start",
                    id,
                    result: result.map_err(|e| e.to_string()),
                }
            });
            SessionRequest::Force {
                id,
                on: true,
                reply,
            }
        }
        Request::Queue { id, to } => {
            let (reply, rx) = oneshot::channel();
            forward(rx, replies, move |result: Result<(), RequestError>| {
                Reply::Done {
                    what: "queue move",
                    id,
                    result: result.map_err(|e| e.to_string()),
                }
            });
            SessionRequest::Queue { id, to, reply }
        }
        Request::Limit { ids, change } => {
            let (reply, rx) = oneshot::channel();
            let target = if ids.is_empty() {
                LimitTarget::Session
            } else {
                LimitTarget::Torrents(ids.clone())
            };
            forward(
                rx,
                replies,
                move |result: Result<crate::engine::api::LimitsNow, RequestError>| Reply::Limits {
                    ids,
                    change,
                    result: result.map_err(|e| e.to_string()),
                },
            );
            SessionRequest::Limit {
                target,
                change,
                reply,
            }
        }
        Request::Move { id, dir } => {
            let (reply, rx) = oneshot::channel();
            let to = dir.clone();
            forward(rx, replies, move |result: Result<(), RequestError>| {
                Reply::Moved {
                    id,
                    dir: to,
                    result: result.map_err(|e| e.to_string()),
                }
            });
            SessionRequest::Move { id, dir, reply }
        }
        // Sent by `SessionAdd::send`, on a task of its own (a URL is fetched first).
        Request::Add { .. } => return None,
    })
}

/// An add from the add dialog, sent on its own task: a URL is fetched first, and the answer
/// ("added", "already there", the error) comes back as a footer line.
struct SessionAdd {
    save_path: Option<std::path::PathBuf>,
    paused: bool,
    files: AddFiles,
}

impl SessionAdd {
    async fn send(
        self,
        item: AddItem,
        requests: mpsc::UnboundedSender<SessionRequest>,
        notes: mpsc::UnboundedSender<String>,
    ) {
        let source = match item.resolve().await {
            Ok(source) => source,
            Err(e) => {
                let _ = notes.send(format!("not added: {}", crate::fmt::outside(&e, 200)));
                return;
            }
        };
        let (reply, rx) = oneshot::channel();
        let _ = requests.send(SessionRequest::Add {
            source,
            save_path: self.save_path,
            paused: self.paused,
            files: self.files,
            labels: Vec::new(),
            reply,
        });
        let note = match rx.await {
            Ok(Ok(Added::New { id, name, .. })) => {
                format!("added {id} {}", crate::fmt::outside(&name, 60))
            }
            Ok(Ok(Added::Already { id, name, .. })) => {
                format!("already there: {id} {}", crate::fmt::outside(&name, 60))
            }
            Ok(Err(e)) => format!("not added: {}", crate::fmt::outside(&e.to_string(), 200)),
            Err(_) => "not added: the session stopped".into(),
        };
        let _ = notes.send(note);
    }
}

fn viewport<B: Backend>(terminal: &Terminal<B>) -> io::Result<Rect> {
    let size = terminal.size()?;
    Ok(Rect::new(0, 0, size.width, size.height))
}
