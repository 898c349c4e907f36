use super::*;
use crate::engine::api::PeerSource;

fn addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 9], 6881))
}

#[test]
fn a_connection_part_exists_exactly_while_a_task_runs() {
    let now = Instant::now();
    let mut p = PeerEntry::new(addr(), PeerSource::Tracker, now);
    assert!(p.conn().is_none() && p.live().is_none() && p.conn_id().is_none());
    let (mut rx, live) = p.begin(7, PeerStage::Connecting, now);
    assert_eq!(p.conn_id(), Some(7));
    assert!(
        Arc::ptr_eq(p.live().unwrap(), &live),
        "the task and the entry share one"
    );
    p.send(PeerCmd::Pause);
    assert!(matches!(rx.try_recv(), Ok(PeerCmd::Pause)));
    p.conn_mut().unwrap().pex = Some(crate::engine::torrent::pex::PexOutbox::new(now));
    p.finish(&PeerEnd::ClosedByPeer, false, now);
    assert!(
        p.conn().is_none() && p.live().is_none(),
        "a disconnect clears the part"
    );
    p.send(PeerCmd::Pause);
    assert!(rx.try_recv().is_err(), "nothing reaches an ended task");
    let (_rx, _) = p.begin(8, PeerStage::Connecting, now);
    assert!(
        p.conn().unwrap().pex.is_none(),
        "PEX state is the connection's own"
    );
}

#[test]
fn totals_and_what_the_peer_told_survive_a_reconnection() {
    let now = Instant::now();
    let mut p = PeerEntry::new(addr(), PeerSource::Tracker, now);
    let (_rx, live) = p.begin(1, PeerStage::Connecting, now);
    live.downloaded.store(100, Ordering::Relaxed);
    live.uploaded.store(30, Ordering::Relaxed);
    live.pieces.store(5, Ordering::Relaxed);
    live.in_flight.store(3, Ordering::Relaxed);
    live.set_flags(ChokeFlags {
        peer_choking: false,
        ..ChokeFlags::default()
    });
    p.known.peer_id = Some([1; 20]);
    p.known.hash_failures = 2;
    assert_eq!((p.downloaded(), p.pieces(), p.in_flight()), (100, 5, 3));
    p.finish(&PeerEnd::ClosedByPeer, false, now);
    assert_eq!((p.downloaded(), p.uploaded()), (100, 30));
    assert_eq!(
        (p.pieces(), p.in_flight()),
        (0, 0),
        "these are the connection's"
    );
    assert_eq!(p.flags(), ChokeFlags::default());
    let (_rx, live) = p.begin(2, PeerStage::Connecting, now);
    live.downloaded.store(11, Ordering::Relaxed);
    assert_eq!(p.downloaded(), 111);
    assert_eq!((p.known.peer_id, p.known.hash_failures), (Some([1; 20]), 2));
}

#[test]
fn an_end_is_a_disconnection_only_after_the_connected_stage() {
    let now = Instant::now();
    let mut p = PeerEntry::new(addr(), PeerSource::Tracker, now);
    let _ = p.begin(1, PeerStage::Connecting, now);
    assert!(!p.reached_connected());
    assert_eq!(p.finish(&PeerEnd::Refused, false, now), PeerStage::Failed);
    let _ = p.begin(2, PeerStage::Connecting, now);
    p.set_stage(PeerStage::Connected, now);
    assert!(p.reached_connected());
    let s = p.finish(&PeerEnd::ClosedByPeer, false, now);
    assert_eq!(s, PeerStage::Disconnected);
    assert!(!p.reached_connected(), "the next connection starts over");
    let _ = p.begin(3, PeerStage::Connecting, now);
    assert_eq!(p.finish(&PeerEnd::Refused, false, now), PeerStage::Failed);
}

#[test]
fn a_running_connection_has_no_end_and_a_new_one_clears_the_last_setup() {
    let now = Instant::now();
    let mut p = PeerEntry::new(addr(), PeerSource::Tracker, now);
    p.set_idle_end(PeerEnd::DroppedByUser);
    assert_eq!(p.end(), Some(&PeerEnd::DroppedByUser));
    let _ = p.begin(1, PeerStage::Connecting, now);
    assert_eq!(p.end(), None);
    p.set_idle_end(PeerEnd::Banned);
    assert_eq!(p.end(), None, "a running connection reports its own end");
    p.setup.encryption = Some(crate::net::Encryption::Rc4);
    p.finish(&PeerEnd::Reset, false, now);
    assert_eq!(p.end(), Some(&PeerEnd::Reset));
    assert!(
        p.setup.encryption.is_some(),
        "the row still says how it was set up"
    );
    let _ = p.begin(2, PeerStage::Connecting, now);
    assert!(p.setup.encryption.is_none());
}

/// A retry keeps the reason of the attempt before it until it has its own answer: its end,
/// or reaching Connected.
#[test]
fn a_retry_keeps_the_last_failure_until_it_answers() {
    let now = Instant::now();
    let mut p = PeerEntry::new(addr(), PeerSource::Tracker, now);
    assert_eq!(p.retry_after(), None, "a first dial has nothing before it");
    let _ = p.begin(1, PeerStage::Connecting, now);
    p.finish(&PeerEnd::ClosedMayNeedEncryption, false, now);
    let _ = p.begin(2, PeerStage::Connecting, now);
    assert_eq!(p.end(), None, "a running connection has not ended");
    assert_eq!(p.retry_after(), Some(&PeerEnd::ClosedMayNeedEncryption));
    p.set_stage(PeerStage::Handshaking, now);
    assert_eq!(p.retry_after(), Some(&PeerEnd::ClosedMayNeedEncryption));
    p.finish(&PeerEnd::Refused, false, now);
    assert_eq!((p.end(), p.retry_after()), (Some(&PeerEnd::Refused), None));
    let _ = p.begin(3, PeerStage::Connecting, now);
    assert_eq!(p.retry_after(), Some(&PeerEnd::Refused));
    p.set_stage(PeerStage::Connected, now);
    assert_eq!(
        p.retry_after(),
        None,
        "connected: the old reason no longer stands"
    );
}
