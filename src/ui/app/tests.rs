use super::*;
use crate::engine::api::{PeerEnd, PeerSource, PeerStage, TorrentState};
use crate::ui::action::Effect;
use std::net::SocketAddr;
use std::time::Duration;

fn peer(last_octet: u8, stage: PeerStage, down: f64) -> PeerRow {
    PeerRow {
        end: stage.is_gone().then_some(PeerEnd::Refused),
        since: Duration::from_secs(1),
        down_rate: down,
        attempts: 1,
        ..PeerRow::new(
            SocketAddr::from(([127, 0, 0, last_octet], 6881)),
            PeerSource::Tracker,
            stage,
        )
    }
}

fn snap(peers: Vec<PeerRow>, state: TorrentState, elapsed: u64) -> Arc<Snapshot> {
    Arc::new(Snapshot {
        state,
        down_rate: elapsed as f64 * 100.0,
        elapsed: Duration::from_secs(elapsed),
        peers,
        ..Snapshot::empty("t", 100, 10)
    })
}

/// The detail view on its Peers tab, where the selection keys act on the peer table.
fn on_peers(mut app: App) -> App {
    app.update(Action::ShowTab(1));
    app
}

fn addr(o: u8) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, o], 6881))
}

#[test]
fn selection_follows_peer_across_resort() {
    let mut app = on_peers(App::new(PathBuf::new(), Theme::plain()));
    let peers = vec![
        peer(1, PeerStage::Connected, 10.0),
        peer(2, PeerStage::Connected, 20.0),
    ];
    app.on_snapshot(snap(peers, TorrentState::Downloading, 1));
    // Fastest first: .2 is on top and selected by default.
    assert_eq!(app.selected, Some(addr(2)));
    app.update(Action::Down);
    assert_eq!(app.selected, Some(addr(1)));
    // Rates swap: .1 moves to the top, the selection goes with it.
    let peers = vec![
        peer(1, PeerStage::Connected, 30.0),
        peer(2, PeerStage::Connected, 20.0),
    ];
    app.on_snapshot(snap(peers, TorrentState::Downloading, 2));
    assert_eq!(app.selected, Some(addr(1)));
    assert_eq!(app.selected_position(), Some(0));
}

#[test]
fn selection_stays_on_top_row_until_the_user_moves_it() {
    let mut app = on_peers(App::new(PathBuf::new(), Theme::plain()));
    let peers = vec![
        peer(1, PeerStage::Failed, 0.0),
        peer(2, PeerStage::Connected, 0.0),
    ];
    // Equal rates: connected sorts above failed.
    app.on_snapshot(snap(peers, TorrentState::Downloading, 1));
    assert_eq!(app.selected, Some(addr(2)));
    // A faster newcomer takes the top row and the untouched cursor goes with the row.
    let peers = vec![
        peer(1, PeerStage::Failed, 0.0),
        peer(2, PeerStage::Connected, 0.0),
        peer(3, PeerStage::Connected, 50.0),
    ];
    app.on_snapshot(snap(peers.clone(), TorrentState::Downloading, 2));
    assert_eq!(app.selected, Some(addr(3)));
    app.update(Action::CycleSort);
    app.update(Action::CycleSort);
    app.update(Action::CycleSort);
    assert_eq!(app.sort, SortKey::Address);
    assert_eq!(app.selected, Some(addr(1)), "top row of the new order");
    // Once moved, it follows the peer.
    app.update(Action::Down);
    assert_eq!(app.selected, Some(addr(2)));
    app.update(Action::CycleSort);
    assert_eq!(app.selected, Some(addr(2)));
    app.on_snapshot(snap(peers, TorrentState::Downloading, 3));
    assert_eq!(app.selected, Some(addr(2)));
}

#[test]
fn vanished_selection_falls_to_same_row() {
    let mut app = on_peers(App::new(PathBuf::new(), Theme::plain()));
    let peers = (1..=3)
        .map(|i| peer(i, PeerStage::Connected, 0.0))
        .collect();
    app.on_snapshot(snap(peers, TorrentState::Downloading, 1));
    app.update(Action::End);
    assert_eq!(app.selected, Some(addr(3)));
    let peers = (1..=2)
        .map(|i| peer(i, PeerStage::Connected, 0.0))
        .collect();
    app.on_snapshot(snap(peers, TorrentState::Downloading, 2));
    assert_eq!(app.selected, Some(addr(2)));
    app.on_snapshot(snap(vec![], TorrentState::Downloading, 3));
    assert_eq!(app.selected, None);
    assert_eq!(app.update(Action::DropPeer), None);
}

/// What the engine does with a pause command: `paused` after it.
fn engine_applies(paused: bool, cmd: &Command) -> bool {
    match cmd {
        Command::Pause => true,
        Command::Resume => false,
        Command::TogglePause => !paused,
        _ => paused,
    }
}

#[test]
fn two_quick_pause_presses_end_where_they_started() {
    let mut app = App::new(PathBuf::new(), Theme::plain());
    assert_eq!(
        app.update(Action::TogglePause),
        None,
        "nothing to pause before a snapshot"
    );
    // Both presses land before the engine publishes the paused state: the snapshot the
    // app holds says "downloading" for both.
    app.on_snapshot(snap(vec![], TorrentState::Downloading, 1));
    let sent: Vec<Command> = (0..2)
        .filter_map(|_| app.update(Action::TogglePause))
        .collect();
    assert_eq!(sent.len(), 2);
    let paused = sent.iter().fold(false, engine_applies);
    assert!(!paused, "two presses must cancel out, sent {sent:?}");
    let once = sent.iter().take(1).fold(false, engine_applies);
    assert!(once, "one press pauses");
}

#[test]
fn drop_and_ban_target_selected_peer() {
    let mut app = on_peers(App::new(PathBuf::new(), Theme::plain()));
    let peers = vec![
        peer(1, PeerStage::Connected, 5.0),
        peer(2, PeerStage::Failed, 0.0),
    ];
    app.on_snapshot(snap(peers, TorrentState::Downloading, 1));
    assert_eq!(
        app.update(Action::DropPeer),
        Some(Command::DropPeer(addr(1)))
    );
    app.update(Action::Down);
    assert_eq!(
        app.update(Action::DropPeer),
        None,
        "a failed peer has no connection to drop"
    );
    assert!(app
        .status
        .as_deref()
        .is_some_and(|s| s.contains("not connected")));
    assert_eq!(app.update(Action::BanPeer), Some(Command::BanPeer(addr(2))));
}

#[test]
fn help_swallows_keys_but_quit_works() {
    let mut app = App::new(PathBuf::new(), Theme::plain());
    app.on_snapshot(snap(vec![], TorrentState::Downloading, 1));
    app.update(Action::ToggleHelp);
    assert!(app.help_open);
    assert_eq!(app.update(Action::TogglePause), None);
    app.update(Action::Back);
    assert!(!app.help_open);
    app.update(Action::ToggleHelp);
    assert_eq!(app.update(Action::Quit), Some(Command::Quit));
    assert_eq!(app.update(Action::Quit), None, "Quit is sent once");
}

#[test]
fn sort_cycles_through_all_keys_and_orders_state() {
    let mut key = SortKey::Rate;
    let mut seen = vec![];
    for _ in 0..5 {
        seen.push(key);
        key = key.next();
    }
    assert_eq!(key, SortKey::Rate);
    seen.dedup();
    assert_eq!(seen.len(), 5);

    let peers = vec![
        peer(1, PeerStage::Failed, 0.0),
        peer(2, PeerStage::Queued, 0.0),
        peer(3, PeerStage::Connected, 0.0),
    ];
    let mut order = vec![];
    sort_peers(&peers, SortKey::State, &mut order);
    assert_eq!(order, vec![2, 1, 0]);
    sort_peers(&peers, SortKey::Address, &mut order);
    assert_eq!(order, vec![0, 1, 2]);
}

#[test]
fn log_scroll_is_clamped() {
    let mut app = App::new(PathBuf::new(), Theme::plain());
    let mut s = (*snap(vec![], TorrentState::Downloading, 1)).clone();
    s.log = (0..10)
        .map(|i| crate::engine::api::LogLine {
            at: Duration::from_secs(i),
            level: crate::engine::api::LogLevel::Info,
            text: format!("line {i}"),
        })
        .collect();
    app.on_snapshot(Arc::new(s));
    app.log_scroll.set_page(4);
    app.update(Action::ShowTab(5));
    assert_eq!((app.tab, app.focus), (Tab::Log, Focus::Log));
    app.update(Action::Home);
    assert_eq!(app.log_scroll.back(), 6);
    app.update(Action::PageUp);
    assert_eq!(app.log_scroll.back(), 6);
    app.update(Action::Down);
    assert_eq!(app.log_scroll.back(), 5);
    app.update(Action::End);
    assert_eq!(app.log_scroll.back(), 0);
}

fn session_of(n: u32) -> Arc<SessionSnapshot> {
    let torrents = (1..=n)
        .map(|i| crate::ui::list::test_line(i, &format!("t{i}"), TorrentState::Downloading))
        .map(Arc::new)
        .collect();
    Arc::new(SessionSnapshot {
        torrents,
        ..SessionSnapshot::default()
    })
}

#[test]
fn enter_opens_the_detail_view_and_esc_comes_back_to_the_same_row() {
    let mut app = App::for_session(PathBuf::new(), Theme::plain());
    app.set_viewport(Rect::new(0, 0, 80, 24));
    app.on_session(session_of(3));
    assert_eq!((app.screen, app.mode()), (Screen::List, Mode::List));
    app.handle(Action::Down);
    assert_eq!(app.handle(Action::Open), Some(Effect::Open(TorrentId(2))));
    assert_eq!(app.screen, Screen::Detail(TorrentId(2)));
    assert_eq!(app.mode(), Mode::Detail);
    // The detail view starts afresh for its torrent and takes the detail keys.
    assert!(app.snapshot().is_none());
    app.on_snapshot(snap(vec![], TorrentState::Downloading, 1));
    assert_eq!(
        app.handle(Action::TogglePause),
        Some(Effect::Torrent(Command::TogglePause))
    );
    assert_eq!(app.handle(Action::Back), Some(Effect::Close));
    assert_eq!(app.screen, Screen::List);
    assert_eq!(app.list.selected, Some(TorrentId(2)));
    assert_eq!(app.handle(Action::Quit), Some(Effect::Quit));
}

#[test]
fn the_single_torrent_screen_has_no_list_to_go_back_to() {
    let mut app = App::new(PathBuf::new(), Theme::plain());
    app.on_snapshot(snap(vec![], TorrentState::Downloading, 1));
    assert_eq!(app.mode(), Mode::Detail);
    assert_eq!(app.handle(Action::Back), None);
    assert!(matches!(app.screen, Screen::Detail(_)));
    assert_eq!(app.update(Action::Quit), Some(Command::Quit));
}

#[test]
fn search_and_dialog_change_the_mode_and_help_waits_for_them() {
    let mut app = App::for_session(PathBuf::new(), Theme::plain());
    app.on_session(session_of(2));
    app.handle(Action::Search);
    assert_eq!(app.mode(), Mode::Search);
    app.handle(Action::Back);
    assert_eq!(app.mode(), Mode::List);
    app.handle(Action::Remove);
    assert_eq!(app.mode(), Mode::Dialog);
    assert_eq!(
        app.handle(Action::KeepData)
            .map(|e| matches!(e, Effect::Session(_))),
        Some(true)
    );
    assert_eq!(app.mode(), Mode::List);
    app.handle(Action::Move);
    assert_eq!(app.mode(), Mode::Prompt);
    app.handle(Action::ToggleHelp);
    assert!(!app.help_open, "the prompt wants its answer first");
    app.handle(Action::Back);
    assert_eq!(app.mode(), Mode::List);
    app.handle(Action::ToggleHelp);
    assert!(app.help_open);
    assert_eq!(app.handle(Action::Verify), None, "help swallows list keys");
    app.handle(Action::Back);
    assert!(!app.help_open);
}

/// The session's answer to a removal reaches the footer: a deletion that failed is said, not
/// lost behind the "removing …" line (the torrent leaves the list either way).
#[test]
fn the_answer_to_a_removal_is_the_status_line() {
    let mut app = App::for_session(PathBuf::new(), Theme::plain());
    app.on_session(session_of(2));
    app.handle(Action::Remove);
    app.handle(Action::DeleteData);
    assert_eq!(app.status.as_deref(), Some("removing t1 and its data"));
    app.on_reply(Reply::Removed {
        id: TorrentId(1),
        delete_data: true,
        result: Err("/data/t1: Permission denied (os error 13)".into()),
    });
    assert_eq!(
        app.status.as_deref(),
        Some("removing t1: /data/t1: Permission denied (os error 13)")
    );
    app.on_reply(Reply::Removed {
        id: TorrentId(2),
        delete_data: false,
        result: Ok(()),
    });
    assert_eq!(app.status.as_deref(), Some("removed t2 (data kept)"));
    // Gone from the list by the time the answer comes: named by its number.
    app.on_session(session_of(0));
    app.on_reply(Reply::Removed {
        id: TorrentId(1),
        delete_data: true,
        result: Ok(()),
    });
    assert_eq!(
        app.status.as_deref(),
        Some("removed torrent #1 and its data")
    );
}

#[test]
fn a_refused_force_start_or_queue_move_says_why() {
    let mut app = App::for_session(PathBuf::new(), Theme::plain());
    app.on_session(session_of(1));
    app.status = Some("force starting t1".into());
    // Accepted: the status line stays what it said.
    app.on_reply(Reply::Done {
        what: "force start",
        id: TorrentId(1),
        result: Ok(()),
    });
    assert_eq!(app.status.as_deref(), Some("force starting t1"));
    app.on_reply(Reply::Done {
        what: "queue move",
        id: TorrentId(1),
        result: Err("no torrent 1".into()),
    });
    assert_eq!(
        app.status.as_deref(),
        Some("queue move of torrent #1: no torrent 1")
    );
}

/// The session may publish the list without a removed torrent before its answer arrives: the
/// answer still names the torrent asked for.
#[test]
fn a_removal_answered_after_the_list_dropped_it_still_names_it() {
    let mut app = App::for_session(PathBuf::new(), Theme::plain());
    app.on_session(session_of(2));
    app.handle(Action::Remove);
    app.handle(Action::DeleteData);
    app.on_session(session_of(0));
    app.on_reply(Reply::Removed {
        id: TorrentId(1),
        delete_data: true,
        result: Ok(()),
    });
    assert_eq!(app.status.as_deref(), Some("removed t1 and its data"));
}
