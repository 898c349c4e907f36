use super::*;
use crate::engine::api::{Command, TorrentState};
use crate::ui::list::test_line as line;
use crate::ui::list::Column;

fn session(n: u32) -> Arc<SessionSnapshot> {
    let torrents = (1..=n)
        .map(|i| {
            let mut t = line(i, &format!("torrent-{i:02}"), TorrentState::Downloading);
            t.added = u64::from(i);
            t
        })
        .map(Arc::new)
        .collect();
    Arc::new(SessionSnapshot {
        torrents,
        ..SessionSnapshot::default()
    })
}

fn list(n: u32) -> ListState {
    let mut l = ListState {
        table: Rect::new(0, 3, 80, 6),
        ..ListState::default()
    };
    l.set_page(5);
    l.on_session(session(n));
    l
}

fn id(n: u32) -> TorrentId {
    TorrentId(n)
}

fn requests(out: KeyOutcome) -> Vec<Request> {
    match out.effect {
        Some(Effect::Session(r)) => r,
        other => panic!("expected requests, got {other:?}"),
    }
}

#[test]
fn selection_starts_on_top_and_follows_its_torrent_across_a_resort() {
    let mut l = list(5);
    assert_eq!(l.selected, Some(id(1)));
    l.handle(Action::Down);
    l.handle(Action::Down);
    assert_eq!(l.selected, Some(id(3)));
    l.handle(Action::ReverseSort);
    assert_eq!(l.selected, Some(id(3)), "same torrent, new row");
    assert_eq!(l.position(), Some(2));
    l.handle(Action::Home);
    assert_eq!(l.selected, Some(id(5)));
    // The selected torrent is removed: the row where it was.
    l.on_session(session(4));
    assert_eq!(l.selected, Some(id(4)));
}

#[test]
fn the_window_follows_the_selection_through_ten_thousand() {
    let mut l = list(10_000);
    l.handle(Action::End);
    assert_eq!(l.selected, Some(id(10_000)));
    assert_eq!(l.scroll.top(), 10_000 - 5);
    l.handle(Action::PageUp);
    assert_eq!(l.position(), Some(10_000 - 6));
    assert_eq!(l.scroll.top(), 10_000 - 6);
}

#[test]
fn space_marks_and_moves_down_and_actions_take_the_marked_set() {
    let mut l = list(5);
    l.handle(Action::ToggleMark);
    l.handle(Action::Down);
    l.handle(Action::ToggleMark);
    assert_eq!(l.marked, BTreeSet::from([id(1), id(3)]));
    assert_eq!(l.selected, Some(id(4)), "each mark steps down");
    let reqs = requests(l.handle(Action::Verify));
    assert_eq!(
        reqs,
        vec![Request::Verify { id: id(1) }, Request::Verify { id: id(3) }]
    );
    // A set pauses as one: all running, so all pause.
    let reqs = requests(l.handle(Action::TogglePause));
    assert!(reqs.iter().all(|r| matches!(
        r,
        Request::Torrent {
            command: Command::Pause,
            ..
        }
    )));
    // Unmark one, then Esc clears the rest; the selected one alone toggles.
    l.handle(Action::Home);
    l.handle(Action::ToggleMark);
    assert_eq!(l.marked, BTreeSet::from([id(3)]));
    l.handle(Action::Back);
    assert!(l.marked.is_empty());
    let reqs = requests(l.handle(Action::TogglePause));
    assert_eq!(
        reqs,
        vec![Request::Torrent {
            id: id(2),
            command: Command::TogglePause
        }]
    );
    // Marks of torrents that left the session go with them.
    l.marked.insert(id(5));
    l.on_session(session(4));
    assert!(l.marked.is_empty());
}

#[test]
fn a_paused_set_resumes() {
    let mut l = list(3);
    let mut s = (*session(3)).clone();
    for t in &mut s.torrents {
        Arc::make_mut(t).state = TorrentState::Paused;
    }
    l.on_session(Arc::new(s));
    l.handle(Action::ToggleMark);
    l.handle(Action::ToggleMark);
    let reqs = requests(l.handle(Action::TogglePause));
    assert_eq!(reqs.len(), 2);
    assert!(reqs.iter().all(|r| matches!(
        r,
        Request::Torrent {
            command: Command::Resume,
            ..
        }
    )));
}

#[test]
fn remove_asks_first_and_the_answer_decides_the_data() {
    let mut l = list(3);
    let out = l.handle(Action::Remove);
    assert_eq!(out.effect, None, "nothing removed before the answer");
    assert_eq!(
        l.dialog,
        Some(RemoveDialog {
            ids: vec![id(1)],
            name: Some("torrent-01".into())
        })
    );
    // While asking, list keys do nothing.
    assert_eq!(l.handle(Action::Down), KeyOutcome::default());
    assert_eq!(l.selected, Some(id(1)));
    l.handle(Action::Back);
    assert_eq!(l.dialog, None);
    l.handle(Action::Remove);
    let reqs = requests(l.handle(Action::DeleteData));
    assert_eq!(
        reqs,
        vec![Request::Remove {
            id: id(1),
            delete_data: true
        }]
    );
    assert_eq!(l.dialog, None);
    l.handle(Action::ToggleMark);
    l.handle(Action::ToggleMark);
    l.handle(Action::Remove);
    let out = l.handle(Action::KeepData);
    assert!(out
        .status
        .as_deref()
        .is_some_and(|s| s.contains("2 torrents (data kept)")));
    assert_eq!(
        requests(out),
        vec![
            Request::Remove {
                id: id(1),
                delete_data: false
            },
            Request::Remove {
                id: id(2),
                delete_data: false
            }
        ]
    );
    assert!(l.marked.is_empty());
}

#[test]
fn search_types_erases_keeps_and_clears() {
    let mut l = list(12);
    l.handle(Action::Search);
    assert!(l.searching);
    for c in "T-1".chars() {
        l.handle(Action::Type(c));
    }
    assert_eq!(l.order_for(&session(12)).len(), 3, "torrent-10, -11, -12");
    assert_eq!(
        l.selected,
        Some(id(10)),
        "the first row when the selection goes"
    );
    l.handle(Action::Type('1'));
    l.handle(Action::Erase);
    l.handle(Action::Type('2'));
    assert_eq!(l.search, "T-12");
    assert_eq!(l.selected, Some(id(12)), "the only match");
    l.handle(Action::Accept);
    assert!(!l.searching && l.search == "T-12");
    // Esc on the list clears a kept search.
    l.handle(Action::Back);
    assert!(l.search.is_empty());
    assert_eq!(l.order_for(&session(12)).len(), 12);
    l.handle(Action::Search);
    l.handle(Action::Type('x'));
    l.handle(Action::Back);
    assert!(!l.searching && l.search.is_empty());
}

#[test]
fn filter_cycles_and_an_empty_filter_has_no_selection() {
    let mut l = list(3);
    l.handle(Action::CycleFilter);
    assert_eq!(l.filter, Filter::Downloading);
    l.handle(Action::CycleFilter);
    assert_eq!(l.filter, Filter::Seeding);
    assert_eq!(l.selected, None);
    assert_eq!(l.handle(Action::Open), KeyOutcome::default());
    assert_eq!(
        l.handle(Action::Verify).status.as_deref(),
        Some("no torrent selected")
    );
}

#[test]
fn the_label_key_shows_each_label_in_turn_and_keeps_the_selection_inside() {
    let mut l = list(4);
    let mut snap = (*session(4)).clone();
    Arc::make_mut(&mut snap.torrents[1]).labels = vec!["tv".into()];
    Arc::make_mut(&mut snap.torrents[3]).labels = vec!["tv".into(), "films".into()];
    l.on_session(Arc::new(snap));
    l.handle(Action::CycleLabel);
    assert_eq!(l.label.as_deref(), Some("films"));
    assert_eq!(l.selected, Some(id(4)), "the only torrent shown");
    assert_eq!(l.counts_for(&l.session().unwrap().clone())[0], 1);
    l.handle(Action::CycleLabel);
    assert_eq!(l.label.as_deref(), Some("tv"));
    assert_eq!(l.order_for(&l.session().unwrap().clone()).len(), 2);
    l.handle(Action::CycleLabel);
    assert_eq!(l.label, None);
    assert_eq!(l.order_for(&l.session().unwrap().clone()).len(), 4);
}

#[test]
fn clicks_select_rows_and_sort_by_titles() {
    let mut l = list(5);
    // Table at y=3: titles on 3, rows from 4.
    l.handle(Action::Click { column: 10, row: 6 });
    assert_eq!(l.selected, Some(id(3)));
    l.handle(Action::Click {
        column: 10,
        row: 20,
    });
    assert_eq!(l.selected, Some(id(3)), "below the table: nothing");
    l.handle(Action::Click { column: 5, row: 3 });
    assert_eq!(l.sort.column, Column::Name);
    assert!(l.sort.ascending);
    l.handle(Action::Click { column: 5, row: 3 });
    assert!(!l.sort.ascending, "the same title again reverses");
}

#[test]
fn the_super_seed_key_turns_it_on_where_off_and_off_where_on() {
    let mut l = list(3);
    let out = l.handle(Action::ToggleSuperSeed);
    assert_eq!(
        out.effect,
        Some(Effect::Session(vec![Request::SuperSeed {
            id: id(1),
            on: true
        }]))
    );
}

#[test]
fn force_start_and_queue_keys_ask_the_session() {
    use crate::engine::api::Move;
    let mut l = list(3);
    let out = l.handle(Action::ForceStart);
    let Some(Effect::Session(reqs)) = out.effect else {
        panic!("{out:?}");
    };
    assert_eq!(reqs[0], Request::Force { id: id(1) });
    assert!(matches!(
        reqs[1],
        Request::Torrent {
            command: Command::Resume,
            ..
        }
    ));
    for (a, to) in [
        (Action::QueueUp, Move::Up),
        (Action::QueueDown, Move::Down),
        (Action::QueueTop, Move::Top),
        (Action::QueueBottom, Move::Bottom),
    ] {
        let out = l.handle(a);
        assert_eq!(
            out.effect,
            Some(Effect::Session(vec![Request::Queue { id: id(1), to }]))
        );
    }
}

#[test]
fn move_and_limits_open_their_prompts_and_esc_closes_them() {
    let mut l = list(1);
    assert_eq!(l.handle(Action::Move).effect, None);
    assert!(l.moving.is_some());
    l.handle(Action::Back);
    assert!(l.moving.is_none());
    assert!(
        l.handle(Action::SetLimits).effect.is_some(),
        "asks the limits"
    );
    assert!(l.limits.is_some());
    l.handle(Action::Back);
    assert!(l.limits.is_none());
    assert_eq!(l.handle(Action::Open).effect, Some(Effect::Open(id(1))));
}
