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
use tokio::sync::{mpsc, watch};
use tokio::time::MissedTickBehavior;

use crate::control::proto::AddItem;
use crate::engine::api::{
    AddFiles, AddOptions, Added, Answer, IntoAnswer, LimitTarget, RequestError, ScreenApi,
    SessionSnapshot, Snapshot, TorrentId,
};

use super::action::{Effect, Reply, Request};
use super::app::{App, Screen};
use super::keys::from_event_in;
use super::player::Player;

/// New snapshots are drawn at most this often; keys are drawn at once.
const FRAME: Duration = Duration::from_millis(66);
/// The statistics view's numbers are asked for again this often.
const STATS_EVERY: Duration = Duration::from_secs(2);

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
    (client, player): (Arc<dyn ScreenApi>, Option<Player>),
    mut app: App,
) -> color_eyre::Result<App>
where
    B: Backend,
    S: Stream<Item = io::Result<Event>> + Unpin,
{
    app.set_viewport(viewport(terminal)?);
    let mut session = client.watch();
    let first = session.borrow_and_update().clone();
    let mut snap = first.clone();
    app.on_session(first);
    let mut detail: Option<Detail> = None;
    if let Screen::Detail(id) = app.screen {
        detail = open_detail(client.as_ref(), id, &mut app).await;
    }
    // Answers someone waits for (the limits dialog's prefill, turtle mode, a move) come
    // back here from the tasks that wait for them, so the loop itself never waits.
    let (replies_tx, mut replies) = mpsc::unbounded_channel::<Reply>();
    let mut tick = tokio::time::interval(FRAME);
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    // The statistics view asks again this often while it is open.
    let mut stats_tick = tokio::time::interval(STATS_EVERY);
    stats_tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let (mut draw_now, mut draw_on_tick) = (true, false);
    // How adds went (they finish after the key that asked): a line for the footer.
    let (notes_tx, mut notes) = mpsc::unbounded_channel::<String>();
    let out = Outbound {
        client,
        player,
        replies: replies_tx,
        notes: notes_tx,
    };
    loop {
        if draw_now {
            app.set_viewport(viewport(terminal)?);
            app.now = crate::engine::api::unix_now();
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
            _ = stats_tick.tick(), if app.stats.is_some() => {
                if let Some(r) = app.stats_refresh() {
                    ask(r, out.client.as_ref(), &out.replies);
                }
            }
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
    client: Arc<dyn ScreenApi>,
    /// Plays a file (`P`); None where the screen has no way to (a test's loop).
    player: Option<Player>,
    replies: mpsc::UnboundedSender<Reply>,
    notes: mpsc::UnboundedSender<String>,
}

/// Carries out what a key asked for; false when it asked to quit.
async fn apply(effect: Effect, app: &mut App, detail: &mut Option<Detail>, out: &Outbound) -> bool {
    match effect {
        Effect::Quit => return false,
        Effect::Torrent(command) => {
            if let Screen::Detail(id) = app.screen {
                let _ = out.client.command(id, command);
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
                        tokio::spawn(add.send(item, out.client.clone(), out.notes.clone()));
                    }
                    r => ask(r, out.client.as_ref(), &out.replies),
                }
            }
        }
        Effect::Open(id) => *detail = open_detail(out.client.as_ref(), id, app).await,
        Effect::Close => *detail = None,
        Effect::Play { id, file } => match &out.player {
            Some(player) => {
                let (play, notes) = (player(id, file), out.notes.clone());
                tokio::spawn(async move {
                    let _ = notes.send(play.await);
                });
            }
            None => app.status = Some("play: no player here".into()),
        },
    }
    true
}

/// Subscribes to the torrent's full snapshot and shows the first one.
async fn open_detail(client: &dyn ScreenApi, id: TorrentId, app: &mut App) -> Option<Detail> {
    let detail = subscribe(client, id).await;
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

async fn subscribe(client: &dyn ScreenApi, id: TorrentId) -> Option<Detail> {
    let mut snapshots = client.subscribe(id).await.ok()??;
    let last = snapshots.borrow_and_update().clone();
    Some(Detail {
        id,
        snapshots,
        last,
    })
}

/// Waits for `answer` off the loop and hands it back as `wrap` makes it.
fn forward<R: IntoAnswer + Send + 'static>(
    answer: Answer<R>,
    replies: &mpsc::UnboundedSender<Reply>,
    wrap: impl FnOnce(Result<R::Value, RequestError>) -> Reply + Send + 'static,
) where
    R::Value: Send,
{
    let replies = replies.clone();
    tokio::spawn(async move {
        match answer.await {
            // The session stopped without answering: the loop ends on its own.
            Err(RequestError::Stopped) => {}
            result => {
                let _ = replies.send(wrap(result));
            }
        }
    });
}

/// Sends what a key asked of the session (now, so requests keep the order of the keys);
/// the answers someone waits for come back to the loop as `Reply`s.
fn ask(r: Request, client: &dyn ScreenApi, replies: &mpsc::UnboundedSender<Reply>) {
    let words = |r: Result<(), RequestError>| r.map_err(|e| e.to_string());
    match r {
        Request::Torrent { id, command } => {
            let _ = client.command(id, command);
        }
        Request::Verify { id } => {
            let _ = client.verify(id);
        }
        Request::Remove { id, delete_data } => {
            // The list shows the torrent gone either way; only the answer says whether its
            // data could be deleted.
            forward(client.remove(id, delete_data), replies, move |r| {
                Reply::Removed {
                    id,
                    delete_data,
                    result: words(r),
                }
            });
        }
        Request::Force { id } => forward(client.force(id, true), replies, move |r| Reply::Done {
            what: "force start",
            id,
            result: words(r),
        }),
        Request::SuperSeed { id, on } => {
            forward(client.set_super_seeding(id, on), replies, move |r| {
                Reply::Done {
                    what: "super-seeding",
                    id,
                    result: words(r),
                }
            })
        }
        Request::Queue { id, to } => forward(client.queue(id, to), replies, move |r| Reply::Done {
            what: "queue move",
            id,
            result: words(r),
        }),
        Request::Limit { ids, change } => {
            let target = if ids.is_empty() {
                LimitTarget::Session
            } else {
                LimitTarget::Torrents(ids.clone())
            };
            forward(client.limit(target, change), replies, move |r| {
                Reply::Limits {
                    ids,
                    change,
                    result: r.map_err(|e| e.to_string()),
                }
            });
        }
        Request::Move { id, dir } => {
            let to = dir.clone();
            forward(client.move_to(id, dir), replies, move |r| Reply::Moved {
                id,
                dir: to,
                result: words(r),
            });
        }
        Request::Stats { by } => forward(client.stats(by), replies, |r| {
            Reply::Stats(r.map_err(|e| e.to_string()))
        }),
        // Sent by `SessionAdd::send`, on a task of its own (a URL is fetched first).
        Request::Add { .. } => {}
    }
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
        client: Arc<dyn ScreenApi>,
        notes: mpsc::UnboundedSender<String>,
    ) {
        let source = match item.resolve().await {
            Ok(source) => source,
            Err(e) => {
                let _ = notes.send(format!("not added: {}", crate::fmt::outside(&e, 200)));
                return;
            }
        };
        let opts = AddOptions {
            save_path: self.save_path,
            paused: self.paused,
            files: self.files,
            labels: Vec::new(),
        };
        let note = match client.add(source, opts).await {
            Ok(Added::New { id, name, .. }) => {
                format!("added {id} {}", crate::fmt::outside(&name, 60))
            }
            Ok(Added::Already { id, name, .. }) => {
                format!("already there: {id} {}", crate::fmt::outside(&name, 60))
            }
            Err(e) => format!("not added: {}", crate::fmt::outside(&e.to_string(), 200)),
        };
        let _ = notes.send(note);
    }
}

fn viewport<B: Backend>(terminal: &Terminal<B>) -> io::Result<Rect> {
    let size = terminal.size()?;
    Ok(Rect::new(0, 0, size.width, size.height))
}
