//! Unit tests of `coordinator.rs`: the choker's commands, counted time, resume points and
//! the log, over a peer table whose connections are command channels.
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};

use super::parts::LOG_KEEP;
use super::{recv_if_any, recv_if_any_unbounded, Coordinator};
use crate::engine::api::{
    ChokeFlags, LogLevel, PeerEnd, PeerSource, PeerStage, TorrentId, TorrentLine,
};
use crate::engine::peer::link::PeerCmd;
use crate::engine::testkit::{addr, connect, coordinator, TestTorrent};
use crate::engine::torrent::report;
use crate::engine::torrent::report::{Lifetime, Report};
use crate::engine::torrent::shared::Event;

fn torrent() -> TestTorrent {
    TestTorrent::new(16 * 1024, 64 * 1024, &[])
}

fn commands(rx: &mut mpsc::UnboundedReceiver<PeerCmd>) -> Vec<PeerCmd> {
    std::iter::from_fn(|| rx.try_recv().ok()).collect()
}

/// `p`'s connection says the peer is interested and we choke it.
fn interested(c: &Coordinator, a: SocketAddr) {
    c.peers
        .get(&a)
        .unwrap()
        .live()
        .unwrap()
        .set_flags(ChokeFlags {
            am_choking: true,
            am_interested: false,
            peer_choking: true,
            peer_interested: true,
        });
}

#[test]
fn rechoke_unchokes_interested_peers_but_not_while_paused() {
    let t = torrent();
    let mut c = coordinator(&t);
    let (_, mut keen) = connect(&mut c, addr(1), PeerSource::Tracker);
    let (_, mut idle) = connect(&mut c, addr(2), PeerSource::Tracker);
    interested(&c, addr(1));
    c.run.paused = true;
    c.rechoke(Instant::now());
    assert!(commands(&mut keen).is_empty(), "paused: no slot changes");
    c.run.paused = false;
    c.rechoke(Instant::now());
    assert!(matches!(commands(&mut keen)[..], [PeerCmd::Unchoke]));
    assert!(
        !commands(&mut idle)
            .iter()
            .any(|m| matches!(m, PeerCmd::Unchoke)),
        "an uninterested peer gets no slot"
    );
}

#[test]
fn time_counts_as_active_and_as_seeding_only_when_it_is() {
    let t = torrent();
    let mut c = coordinator(&t);
    let start = c.link.counted_until;
    c.count_time(start + Duration::from_millis(2500));
    assert_eq!(c.link.lifetime.active_secs, 2);
    assert_eq!(c.link.lifetime.seeding_secs, 0);
    // The half second left over is counted next time, not lost.
    c.run.complete = true;
    c.count_time(start + Duration::from_secs(4));
    assert_eq!(c.link.lifetime.active_secs, 4);
    assert_eq!(c.link.lifetime.seeding_secs, 2);
    c.run.paused = true;
    c.count_time(start + Duration::from_secs(10));
    assert_eq!(c.link.lifetime.active_secs, 4, "paused time is not active");
    c.run.paused = false;
    c.run.fatal = Some("disk error".into());
    c.count_time(start + Duration::from_secs(12));
    assert_eq!(c.link.lifetime.active_secs, 4, "nor is a stopped torrent's");
}

#[test]
fn a_resume_point_carries_the_peers_we_reached_and_this_runs_counters() {
    let t = torrent();
    let mut c = coordinator(&t);
    let (tx, mut rx) = mpsc::unbounded_channel();
    c.link.reports = Some(tx);
    c.link.lifetime.downloaded = 1000;
    t.shared.downloaded.store(24, Ordering::Relaxed);
    connect(&mut c, addr(1), PeerSource::Tracker);
    c.peers
        .get_mut(&addr(1))
        .unwrap()
        .set_stage(PeerStage::Connected, Instant::now());
    c.peers.add([addr(2)], PeerSource::Tracker, Instant::now());
    c.link.resume_due = true;
    c.maybe_resume(Instant::now());
    let Ok((_, Report::Resume(point))) = rx.try_recv() else {
        panic!("a resume point when one is due");
    };
    assert_eq!(point.peers, [addr(1)], "only peers we were connected to");
    assert_eq!(point.lifetime.downloaded, 1024);
    assert!(!point.clean && !point.paused);
    assert!(!c.link.resume_due);
    // Nothing changed since: no other point.
    c.maybe_resume(Instant::now());
    assert!(rx.try_recv().is_err());
}

/// tests/session/crash_session.rs found it: a restarted torrent whose check found a piece its resume
/// data lacked, and which then got nothing from its peers, never saved that piece.
#[test]
fn a_check_at_the_start_is_saved_at_the_first_tick() {
    for checked in [false, true] {
        let t = torrent();
        let mut c = coordinator(&t);
        let (tx, mut rx) = mpsc::unbounded_channel();
        let (line, _) = watch::channel(TorrentLine::placeholder(TorrentId::default()));
        c.attach(
            TorrentId::default(),
            line,
            Some(tx),
            (Lifetime::default(), checked),
        );
        c.maybe_resume(Instant::now());
        assert_eq!(rx.try_recv().is_ok(), checked, "checked: {checked}");
        c.maybe_resume(Instant::now());
        assert!(rx.try_recv().is_err(), "once");
    }
}

#[test]
fn lifetime_bytes_alone_bring_a_resume_point_every_ten_seconds() {
    let t = torrent();
    let mut c = coordinator(&t);
    let (tx, mut rx) = mpsc::unbounded_channel();
    c.link.reports = Some(tx);
    let start = c.link.last_resume;
    // Bytes arrive but no piece is verified: nothing before `RESUME_EVERY`...
    t.shared.downloaded.store(16 * 1024, Ordering::Relaxed);
    c.maybe_resume(start + Duration::from_secs(5));
    assert!(rx.try_recv().is_err(), "not before ten seconds");
    // ...then a point with the new totals, so a crash loses at most ten seconds of them.
    c.maybe_resume(start + report::RESUME_EVERY);
    let Ok((_, Report::Resume(point))) = rx.try_recv() else {
        panic!("the counters moved: a resume point is due");
    };
    assert_eq!(point.lifetime.downloaded, 16 * 1024);
    // Unchanged since: none.
    let later = c.link.last_resume + report::RESUME_EVERY;
    c.maybe_resume(later);
    assert!(rx.try_recv().is_err(), "nothing moved");
    // Uploads count too (a seed).
    t.shared.uploaded.store(1, Ordering::Relaxed);
    c.maybe_resume(later);
    assert!(rx.try_recv().is_ok(), "an upload moved the totals");
}

#[test]
fn the_log_keeps_the_newest_lines() {
    let t = torrent();
    let mut c = coordinator(&t);
    for i in 0..LOG_KEEP + 5 {
        c.log(LogLevel::Info, format!("line {i}"));
    }
    assert_eq!(c.shown.log.len(), LOG_KEEP);
    assert_eq!(c.shown.log.front().unwrap().text, "line 5");
    assert_eq!(
        c.shown.log.back().unwrap().text,
        format!("line {}", LOG_KEEP + 4)
    );
}

#[test]
fn a_torrent_is_idle_only_with_no_connection_and_nothing_to_fetch() {
    let t = torrent();
    let mut c = coordinator(&t);
    assert!(!c.is_idle(), "downloading: dials to make");
    c.run.paused = true;
    assert!(c.is_idle());
    let (conn, _rx) = connect(&mut c, addr(1), PeerSource::Tracker);
    assert!(!c.is_idle(), "a connection to drive");
    c.peers
        .end_conn(conn)
        .unwrap()
        .finish(&PeerEnd::Reset, false, Instant::now());
    assert!(c.is_idle());
}

#[test]
fn an_idle_torrents_channels_stay_small() {
    // Every torrent's event channel preallocates a block of 32 events: a peer stream inline
    // made that 7.5 KiB per torrent, most of it for a connection that never comes.
    assert!(
        std::mem::size_of::<Event>() <= 128,
        "{}",
        std::mem::size_of::<Event>()
    );
}

#[test]
fn a_missing_channel_never_yields_and_a_present_one_does() {
    use futures::FutureExt;
    let mut none: Option<mpsc::Receiver<u8>> = None;
    assert!(recv_if_any(&mut none).now_or_never().is_none());
    let (tx, rx) = mpsc::channel(1);
    let mut some = Some(rx);
    tx.try_send(7).unwrap();
    assert_eq!(recv_if_any(&mut some).now_or_never(), Some(Some(7)));
    let mut none: Option<mpsc::UnboundedReceiver<u8>> = None;
    assert!(recv_if_any_unbounded(&mut none).now_or_never().is_none());
}

#[tokio::test]
async fn no_tracker_no_dht_means_no_channels() {
    let t = torrent();
    let mut c = coordinator(&t);
    assert!(c.start_trackers().is_none());
    assert!(c.sources.tracker_tx.is_none());
    assert!(c.start_dht().is_none());
}
