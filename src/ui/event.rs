//! The event loop: one `select!` over terminal events, a render tick and snapshot changes.
//! Generic over the ratatui `Backend` and the event stream, so tests drive it with a
//! `TestBackend` and a scripted stream.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use crossterm::event::Event;
use futures::{Stream, StreamExt};
use ratatui::backend::Backend;
use ratatui::layout::Rect;
use ratatui::Terminal;
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, MissedTickBehavior};

use crate::engine::api::{Command, Snapshot};

use super::app::App;
use super::keys::from_event_in;

#[derive(Debug, Clone, Copy)]
pub(crate) struct LoopOptions {
    /// Snapshot changes are drawn at most this often; keys are drawn at once.
    pub frame: Duration,
    /// After Quit, how long to wait for the engine to close its snapshot channel.
    pub quit_grace: Duration,
}

impl Default for LoopOptions {
    fn default() -> Self {
        // ~15 fps is smooth for numbers and graphs and costs little CPU over ssh.
        LoopOptions {
            frame: Duration::from_millis(66),
            quit_grace: Duration::from_secs(3),
        }
    }
}

/// Runs until the user quits and the engine has stopped (or the grace period ran out), or the
/// terminal event stream ends. Returns the final UI state (for tests).
pub(crate) async fn run_loop<B, S>(
    terminal: &mut Terminal<B>,
    events: S,
    snapshots: watch::Receiver<Arc<Snapshot>>,
    commands: mpsc::UnboundedSender<Command>,
    app: App,
) -> color_eyre::Result<App>
where
    B: Backend,
    S: Stream<Item = io::Result<Event>> + Unpin,
{
    run_loop_with(
        terminal,
        events,
        snapshots,
        commands,
        app,
        LoopOptions::default(),
    )
    .await
}

pub(crate) async fn run_loop_with<B, S>(
    terminal: &mut Terminal<B>,
    mut events: S,
    mut snapshots: watch::Receiver<Arc<Snapshot>>,
    commands: mpsc::UnboundedSender<Command>,
    mut app: App,
    opts: LoopOptions,
) -> color_eyre::Result<App>
where
    B: Backend,
    S: Stream<Item = io::Result<Event>> + Unpin,
{
    app.set_viewport(viewport(terminal)?);
    // Clone the Arc out and drop the borrow at once: a held borrow blocks the engine's send.
    let first = snapshots.borrow_and_update().clone();
    let mut snap = first.clone();
    app.on_snapshot(first);

    let mut tick = tokio::time::interval(opts.frame);
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut draw_now = true;
    let mut draw_on_tick = false;
    let mut quit_by: Option<Instant> = None;

    loop {
        if draw_now {
            app.set_viewport(viewport(terminal)?);
            app.now = crate::engine::api::unix_now();
            terminal.draw(|frame| super::draw(frame, &snap, &app))?;
            draw_now = false;
            draw_on_tick = false;
        }
        let grace = async move {
            match quit_by {
                Some(deadline) => tokio::time::sleep_until(deadline).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            event = events.next() => {
                let event = match event {
                    // The terminal went away: nothing left to show or read keys from.
                    None => return Ok(app),
                    Some(event) => event?,
                };
                let Some(action) = from_event_in(&event, app.mode()) else { continue };
                if let Some(command) = app.update(action) {
                    let quit = command == Command::Quit;
                    if commands.send(command).is_err() {
                        app.engine_gone = true;
                    }
                    if quit {
                        quit_by = Some(Instant::now() + opts.quit_grace);
                    }
                }
                if app.quitting && app.engine_gone {
                    return Ok(app);
                }
                draw_now = true;
            }
            changed = snapshots.changed(), if !app.engine_gone => {
                match changed {
                    Ok(()) => {
                        let next = snapshots.borrow_and_update().clone();
                        snap = next.clone();
                        app.on_snapshot(next);
                        draw_on_tick = true;
                    }
                    Err(_) => {
                        app.engine_gone = true;
                        if app.quitting {
                            return Ok(app);
                        }
                        // Keep the last picture up so a final error state stays readable.
                        draw_now = true;
                    }
                }
            }
            _ = tick.tick() => draw_now = draw_on_tick,
            _ = grace => return Ok(app),
        }
    }
}

fn viewport<B: Backend>(terminal: &Terminal<B>) -> io::Result<Rect> {
    let size = terminal.size()?;
    Ok(Rect::new(0, 0, size.width, size.height))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::api::TorrentState;
    use crate::ui::theme::Theme;
    use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyEventState, KeyModifiers};
    use futures::stream;
    use ratatui::backend::TestBackend;
    use std::path::PathBuf;

    fn key(c: char, kind: KeyEventKind) -> io::Result<Event> {
        Ok(Event::Key(KeyEvent {
            code: KeyCode::Char(c),
            modifiers: KeyModifiers::NONE,
            kind,
            state: KeyEventState::NONE,
        }))
    }

    fn snapshot(state: TorrentState) -> Arc<Snapshot> {
        Arc::new(Snapshot {
            state,
            elapsed: Duration::from_secs(1),
            ..Snapshot::empty("loop-test.bin", 1 << 20, 1 << 16)
        })
    }

    #[tokio::test]
    async fn keys_become_commands_and_quit_waits_for_engine() {
        let (snap_tx, snap_rx) = watch::channel(snapshot(TorrentState::Downloading));
        let (cmd_tx, mut cmd_rx) = mpsc::unbounded_channel();
        let events = stream::iter(vec![
            key('p', KeyEventKind::Release),
            key('p', KeyEventKind::Press),
            key('q', KeyEventKind::Press),
        ])
        .chain(stream::pending());
        let mut terminal = Terminal::new(TestBackend::new(80, 24)).expect("test backend");
        let app = App::new(PathBuf::from("/tmp/ttui.log"), Theme::plain());
        let engine = tokio::spawn(async move {
            let mut got = vec![];
            while let Some(cmd) = cmd_rx.recv().await {
                let quit = cmd == Command::Quit;
                got.push(cmd);
                if quit {
                    break;
                }
            }
            // Closing the channel is how the engine says it has stopped.
            drop(snap_tx);
            got
        });
        let opts = LoopOptions {
            frame: Duration::from_millis(10),
            quit_grace: Duration::from_secs(30),
        };
        let started = std::time::Instant::now();
        let app = tokio::time::timeout(
            Duration::from_secs(10),
            run_loop_with(&mut terminal, events, snap_rx, cmd_tx, app, opts),
        )
        .await
        .expect("loop ends when the engine closes")
        .expect("loop ok");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "did not wait out the grace period"
        );
        assert!(app.quitting && app.engine_gone);
        let got = engine.await.expect("engine task");
        assert_eq!(
            got,
            vec![Command::TogglePause, Command::Quit],
            "release is ignored, press acts once"
        );
        let screen = format!("{}", terminal.backend());
        assert!(
            screen.contains("loop-test.bin"),
            "the screen was drawn:\n{screen}"
        );
    }

    /// `p p` typed faster than the engine publishes: a fake engine that pauses and resumes
    /// the way the real one does (against its own state, publishing after each command) ends
    /// where it started.
    #[tokio::test]
    async fn two_quick_pause_presses_end_where_they_started() {
        let (snap_tx, snap_rx) = watch::channel(snapshot(TorrentState::Downloading));
        let (cmd_tx, mut cmd_rx) = mpsc::unbounded_channel();
        let events = stream::iter(vec![
            key('p', KeyEventKind::Press),
            key('p', KeyEventKind::Press),
            key('q', KeyEventKind::Press),
        ])
        .chain(stream::pending());
        let mut terminal = Terminal::new(TestBackend::new(80, 24)).expect("test backend");
        let app = App::new(PathBuf::new(), Theme::plain());
        let engine = tokio::spawn(async move {
            let mut state = TorrentState::Downloading;
            while let Some(cmd) = cmd_rx.recv().await {
                state = match (cmd, state) {
                    (Command::Quit, state) => return state,
                    (Command::Pause, _) => TorrentState::Paused,
                    (Command::Resume, _) => TorrentState::Downloading,
                    (Command::TogglePause, TorrentState::Paused) => TorrentState::Downloading,
                    (Command::TogglePause, _) => TorrentState::Paused,
                    (_, state) => state,
                };
                // Published after the command, as the engine's tick does: the UI has already
                // read both keys by then.
                snap_tx.send_replace(snapshot(state.clone()));
            }
            state
        });
        let opts = LoopOptions {
            frame: Duration::from_millis(10),
            quit_grace: Duration::from_millis(200),
        };
        tokio::time::timeout(
            Duration::from_secs(10),
            run_loop_with(&mut terminal, events, snap_rx, cmd_tx, app, opts),
        )
        .await
        .expect("loop ends")
        .expect("loop ok");
        let end = engine.await.expect("engine task");
        assert_eq!(end, TorrentState::Downloading, "p p must cancel out");
    }

    #[tokio::test]
    async fn quit_gives_up_after_grace_when_engine_hangs() {
        let (_snap_tx, snap_rx) = watch::channel(snapshot(TorrentState::Downloading));
        let (cmd_tx, _cmd_rx) = mpsc::unbounded_channel();
        let events = stream::iter(vec![key('q', KeyEventKind::Press)]).chain(stream::pending());
        let mut terminal = Terminal::new(TestBackend::new(80, 24)).expect("test backend");
        let app = App::new(PathBuf::new(), Theme::plain());
        let opts = LoopOptions {
            frame: Duration::from_millis(10),
            quit_grace: Duration::from_millis(200),
        };
        let started = std::time::Instant::now();
        let result = tokio::time::timeout(
            Duration::from_secs(10),
            run_loop_with(&mut terminal, events, snap_rx, cmd_tx, app, opts),
        )
        .await;
        assert!(matches!(result, Ok(Ok(_))));
        assert!(started.elapsed() >= Duration::from_millis(200));
    }

    #[tokio::test]
    async fn new_snapshots_are_drawn() {
        let (snap_tx, snap_rx) = watch::channel(snapshot(TorrentState::Downloading));
        let (cmd_tx, _cmd_rx) = mpsc::unbounded_channel();
        let (ev_tx, ev_rx) = mpsc::unbounded_channel::<io::Result<Event>>();
        let events = tokio_stream_from(ev_rx);
        let backend = TestBackend::new(80, 24);
        let mut terminal = Terminal::new(backend).expect("test backend");
        let app = App::new(PathBuf::new(), Theme::plain());
        let opts = LoopOptions {
            frame: Duration::from_millis(5),
            quit_grace: Duration::from_secs(1),
        };
        let handle = tokio::spawn(async move {
            let r = run_loop_with(&mut terminal, events, snap_rx, cmd_tx, app, opts).await;
            (
                r.map(|_| ()).map_err(|e| e.to_string()),
                format!("{}", terminal.backend()),
            )
        });
        snap_tx.send_replace(snapshot(TorrentState::Paused));
        tokio::time::sleep(Duration::from_millis(100)).await;
        // Closing the event stream ends the loop; the last frame must show the new state.
        drop(ev_tx);
        let (result, screen) = tokio::time::timeout(Duration::from_secs(5), handle)
            .await
            .expect("loop ends when events end")
            .expect("task");
        assert_eq!(result, Ok(()));
        assert!(screen.contains("paused"), "{screen}");
    }

    fn tokio_stream_from(
        mut rx: mpsc::UnboundedReceiver<io::Result<Event>>,
    ) -> impl Stream<Item = io::Result<Event>> + Unpin {
        Box::pin(stream::poll_fn(move |cx| rx.poll_recv(cx)))
    }
}
