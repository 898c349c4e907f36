use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::SlotState;
use crate::engine::session::manager::parked::Parked;
use crate::engine::session::manager::Removal;
use crate::engine::torrent::options::TorrentEnd;

fn task() -> JoinHandle<TorrentEnd> {
    tokio::spawn(async { TorrentEnd::Quit })
}

fn removal() -> (
    Removal,
    oneshot::Receiver<Result<(), crate::engine::api::RequestError>>,
) {
    let (reply, rx) = oneshot::channel();
    let removal = Removal {
        delete_data: false,
        reply,
    };
    (removal, rx)
}

fn paused() -> Parked {
    Parked {
        paused: true,
        ..Parked::default()
    }
}

#[tokio::test]
async fn a_parked_task_keeps_its_hold_until_it_has_ended_then_is_parked() {
    let mut s = SlotState::Running { task: task() };
    assert!(s.runs() && s.parked().is_none());
    s.park(paused());
    assert!(s.has_task() && !s.runs(), "its task is still ending");
    assert!(s.parked().is_some_and(|p| p.paused));
    assert!(
        s.unpark().is_none(),
        "a task still ending is never replaced"
    );
    assert!(s.task_ended().is_none());
    assert!(!s.has_task());
    assert!(
        s.parked().is_some_and(|p| p.paused),
        "parked once its task ended"
    );
    let parked = s.unpark();
    assert!(parked.is_some_and(|p| p.paused));
    s.started(task());
    assert!(s.runs());
}

#[tokio::test]
async fn a_task_ending_on_its_own_leaves_the_slot_ended() {
    let mut s = SlotState::Running { task: task() };
    assert!(s.task_ended().is_none());
    assert!(!s.has_task() && s.parked().is_none() && !s.is_removing());
    assert!(
        s.unpark().is_none(),
        "only a parked slot starts again by the queue"
    );
    s.park(Parked::default());
    assert!(
        s.parked().is_some() && !s.has_task(),
        "the queue may hold it"
    );
}

#[tokio::test]
async fn a_removal_waits_for_the_task_and_is_finished_once() {
    let mut s = SlotState::Parking {
        task: task(),
        parked: paused(),
    };
    let (first, mut first_rx) = removal();
    assert!(s.remove(first).is_none(), "waits for its task");
    assert!(s.is_removing());
    assert!(s.parked().is_some_and(|p| p.paused), "its hold still shows");
    let (second, _second_rx) = removal();
    assert!(s.remove(second).is_none());
    assert!(
        first_rx.try_recv().is_err(),
        "the first removal is replaced, not answered"
    );
    assert!(s.task_ended().is_some(), "given back to be finished");
    assert!(!s.is_removing() && !s.has_task());
}

#[tokio::test]
async fn a_removal_without_a_task_is_finished_at_once() {
    for mut s in [SlotState::Parked(paused()), SlotState::Ended] {
        let (r, _rx) = removal();
        assert!(s.remove(r).is_some());
        assert!(!s.is_removing());
    }
}

#[tokio::test]
async fn a_restart_takes_the_old_task_and_hold_and_drops_a_removal() {
    let mut s = SlotState::Removing {
        task: task(),
        removal: removal().0,
        parked: Some(paused()),
    };
    let (old, parked) = s.take_for_restart();
    assert!(old.is_some() && parked.is_some());
    s.started(task());
    assert!(s.runs() && !s.is_removing());
    let mut s = SlotState::Parked(Parked::default());
    let (old, parked) = s.take_for_restart();
    assert!(old.is_none() && parked.is_some());
}
