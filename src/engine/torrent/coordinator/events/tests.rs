//! Unit tests of `events.rs`: the coordinator's answers to commands and peer events, over a
//! peer table whose connections are command channels (no task, no socket).
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Instant;

use tokio::sync::mpsc::UnboundedReceiver;

use super::PeerEvent;
use crate::engine::api::{Command, LogLevel, PeerEnd, PeerSource, PeerStage, TorrentState};
use crate::engine::peer::link::PeerCmd;
use crate::engine::testkit::{addr, connect, coordinator, TestTorrent};
use crate::engine::torrent::peers::{PeerEntry, Plan};
use crate::engine::torrent::shared::Event;
use crate::engine::torrent::verify::blame::Blame;
use crate::engine::torrent::Coordinator;
use crate::tracker::TrackerUpdate;

const PIECE: u32 = 16 * 1024;
const PIECES: u32 = 4;

fn commands(rx: &mut UnboundedReceiver<PeerCmd>) -> Vec<PeerCmd> {
    std::iter::from_fn(|| rx.try_recv().ok()).collect()
}

fn entry(c: &Coordinator, a: SocketAddr) -> &PeerEntry {
    c.peers.get(&a).unwrap()
}

fn logged(c: &Coordinator, words: &str) -> bool {
    c.shown.log.iter().any(|l| l.text.contains(words))
}

fn torrent() -> TestTorrent {
    TestTorrent::new(PIECE, u64::from(PIECE * PIECES), &[])
}

#[test]
fn hash_failures_ban_a_peer_sooner_when_it_alone_sent_the_piece() {
    let t = torrent();
    let mut c = coordinator(&t);
    let (alone, mut alone_rx) = connect(&mut c, addr(1), PeerSource::Tracker);
    let (shared, mut shared_rx) = connect(&mut c, addr(2), PeerSource::Tracker);
    let failed = |contributors: Vec<u64>| Event::PieceDone {
        index: 0,
        ok: false,
        contributors,
        blame: Blame::Contributors,
    };
    c.on_event(failed(vec![alone]));
    assert_eq!(entry(&c, addr(1)).known.hash_failures, 2);
    assert!(logged(
        &c,
        "piece 0 failed its hash check (from 127.0.0.1:6001)"
    ));
    assert!(commands(&mut alone_rx).is_empty(), "not banned yet");

    c.on_event(failed(vec![alone, shared]));
    c.on_event(failed(vec![alone, shared]));
    assert_eq!(entry(&c, addr(1)).known.hash_failures, 4);
    assert_eq!(entry(&c, addr(2)).known.hash_failures, 2);
    assert_eq!(entry(&c, addr(1)).dial.plan, Plan::Banned);
    assert_ne!(entry(&c, addr(2)).dial.plan, Plan::Banned);
    let sent = commands(&mut alone_rx);
    assert!(
        matches!(sent[..], [PeerCmd::Disconnect(PeerEnd::HashFailures(2))]),
        "{sent:?}"
    );
    assert!(commands(&mut shared_rx).is_empty());
    assert!(logged(&c, "banned 127.0.0.1:6001: repeated hash failures"));
}

/// A shared piece's first failure charges nobody; once it verified, the sender of the bad
/// block is banned and named with it, and the honest one is left alone.
#[test]
fn the_proven_sender_of_bad_blocks_is_banned_and_the_honest_one_is_not_charged() {
    use crate::engine::torrent::verify::blame::Culprit;
    let t = torrent();
    let mut c = coordinator(&t);
    let (liar, mut liar_rx) = connect(&mut c, addr(1), PeerSource::Tracker);
    let (honest, mut honest_rx) = connect(&mut c, addr(2), PeerSource::Tracker);
    c.on_event(Event::PieceDone {
        index: 3,
        ok: false,
        contributors: vec![liar, honest],
        blame: Blame::Deferred,
    });
    assert_eq!(entry(&c, addr(1)).known.hash_failures, 0);
    assert_eq!(entry(&c, addr(2)).known.hash_failures, 0);
    let lines: Vec<&str> = c.shown.log.iter().map(|l| l.text.as_str()).collect();
    assert!(
        logged(
            &c,
            "piece 3 failed its hash check (from 127.0.0.1:6001, 127.0.0.2:6002)"
        ),
        "{lines:?}"
    );
    c.on_event(Event::PieceDone {
        index: 3,
        ok: true,
        contributors: vec![honest],
        blame: Blame::Proven(vec![Culprit {
            conn: liar,
            blocks: vec![1, 4],
        }]),
    });
    assert_eq!(entry(&c, addr(1)).dial.plan, Plan::Banned);
    assert_ne!(entry(&c, addr(2)).dial.plan, Plan::Banned);
    assert_eq!(entry(&c, addr(2)).known.hash_failures, 0);
    let sent = commands(&mut liar_rx);
    assert!(
        matches!(sent[..], [PeerCmd::Disconnect(PeerEnd::BadBlocks(2))]),
        "{sent:?}"
    );
    assert!(commands(&mut honest_rx).is_empty());
    assert!(logged(
        &c,
        "piece 3: blocks 1, 4 failed (from 127.0.0.1:6001)"
    ));
    assert!(logged(&c, "banned 127.0.0.1:6001: sent bad blocks"));
}

/// A sender whose connection ended before its blocks were proven bad is still named and
/// banned by its address, and its row says it sent bad blocks.
#[test]
fn a_sender_gone_before_the_proof_is_still_named_and_banned() {
    use crate::engine::torrent::verify::blame::{Attempt, Culprit};
    let t = torrent();
    let mut c = coordinator(&t);
    let (liar, _liar_rx) = connect(&mut c, addr(1), PeerSource::Tracker);
    t.shared.download().keep_failed(
        0,
        Attempt {
            digests: vec![[0; 32]],
            senders: vec![Some(liar)],
        },
    );
    c.on_event(Event::Peer(PeerEvent::Ended {
        conn: liar,
        end: PeerEnd::ClosedByPeer,
    }));
    c.on_event(Event::PieceDone {
        index: 0,
        ok: true,
        contributors: vec![99],
        blame: Blame::Proven(vec![Culprit {
            conn: liar,
            blocks: vec![0],
        }]),
    });
    assert_eq!(entry(&c, addr(1)).dial.plan, Plan::Banned);
    assert_eq!(entry(&c, addr(1)).end(), Some(&PeerEnd::BadBlocks(1)));
    assert!(logged(&c, "piece 0: block 0 failed (from 127.0.0.1:6001)"));
    assert!(logged(&c, "banned 127.0.0.1:6001: sent bad blocks"));
}

#[test]
fn drop_and_ban_tell_the_connection_and_set_the_plan() {
    let t = torrent();
    let mut c = coordinator(&t);
    let (_, mut dropped_rx) = connect(&mut c, addr(1), PeerSource::Tracker);
    let (_, mut banned_rx) = connect(&mut c, addr(2), PeerSource::Tracker);
    c.on_command(Command::DropPeer(addr(1)));
    c.on_command(Command::BanPeer(addr(2)));
    assert!(matches!(
        commands(&mut dropped_rx)[..],
        [PeerCmd::Disconnect(PeerEnd::DroppedByUser)]
    ));
    assert!(matches!(
        commands(&mut banned_rx)[..],
        [PeerCmd::Disconnect(PeerEnd::Banned)]
    ));
    assert!(matches!(entry(&c, addr(1)).dial.plan, Plan::Dropped(_)));
    assert_eq!(entry(&c, addr(2)).dial.plan, Plan::Banned);
    // A ban outlives a later drop; a peer not connected gets its end at once.
    c.on_command(Command::DropPeer(addr(2)));
    assert_eq!(entry(&c, addr(2)).dial.plan, Plan::Banned);
    c.peers.add([addr(3)], PeerSource::Tracker, Instant::now());
    c.on_command(Command::BanPeer(addr(3)));
    assert_eq!(entry(&c, addr(3)).end(), Some(&PeerEnd::Banned));
    assert_eq!(entry(&c, addr(3)).stage(), PeerStage::Failed);
    // An unknown address changes nothing and logs nothing.
    let lines = c.shown.log.len();
    c.on_command(Command::BanPeer(addr(9)));
    assert_eq!(c.shown.log.len(), lines);
}

#[test]
fn of_two_connections_to_one_peer_both_sides_keep_the_one_the_lower_id_started() {
    let ours = {
        let t = torrent();
        t.shared.our_id
    };
    for (their_id, drop_incoming) in [([0xff; 20], true), ([0x00; 20], false)] {
        assert_eq!(
            ours < their_id,
            drop_incoming,
            "we are lower: keep our dial"
        );
        let t = torrent();
        let mut c = coordinator(&t);
        let (out_conn, mut out_rx) = connect(&mut c, addr(1), PeerSource::Tracker);
        let (in_conn, mut in_rx) = connect(&mut c, addr(2), PeerSource::Incoming);
        let handshaken = |conn| {
            Event::Peer(PeerEvent::Handshaken {
                conn,
                peer_id: their_id,
                elapsed: std::time::Duration::from_millis(5),
                encryption: crate::net::Encryption::Plain,
                transport: None,
                encryption_note: None,
                v2: false,
            })
        };
        c.on_event(handshaken(out_conn));
        c.on_event(handshaken(in_conn));
        let (lost, kept) = if drop_incoming {
            (&mut in_rx, &mut out_rx)
        } else {
            (&mut out_rx, &mut in_rx)
        };
        let sent = commands(lost);
        assert!(
            matches!(sent[..], [PeerCmd::Disconnect(PeerEnd::Duplicate)]),
            "{their_id:?}: {sent:?}"
        );
        assert!(commands(kept).is_empty());
        assert_eq!(entry(&c, addr(1)).known.peer_id, Some(their_id));
    }
}

#[test]
fn a_peer_that_ended_with_every_piece_is_remembered_as_a_seed() {
    let t = torrent();
    let mut c = coordinator(&t);
    let (seed, _rx) = connect(&mut c, addr(1), PeerSource::Tracker);
    let (rude, _rx2) = connect(&mut c, addr(2), PeerSource::Tracker);
    entry(&c, addr(1))
        .live()
        .unwrap()
        .pieces
        .store(PIECES, Ordering::Relaxed);
    c.on_event(Event::Peer(PeerEvent::Ended {
        conn: seed,
        end: PeerEnd::ClosedByPeer,
    }));
    assert!(entry(&c, addr(1)).known.seed);
    assert!(!entry(&c, addr(1)).has_conn());
    let end = PeerEnd::Protocol("have index 9 out of range".into());
    c.on_event(Event::Peer(PeerEvent::Ended { conn: rude, end }));
    assert!(!entry(&c, addr(2)).known.seed);
    assert_eq!(entry(&c, addr(2)).dial.plan, Plan::Never);
    let warn = c
        .shown
        .log
        .iter()
        .find(|l| l.text.contains("out of range"))
        .unwrap();
    assert_eq!(warn.level, LogLevel::Warn);
    // An end for a connection that is gone already is ignored.
    let lines = c.shown.log.len();
    c.on_event(Event::Peer(PeerEvent::Ended {
        conn: seed,
        end: PeerEnd::Reset,
    }));
    assert_eq!(c.shown.log.len(), lines);
}

#[test]
fn pause_and_resume_reach_every_connection_once() {
    let t = torrent();
    let mut c = coordinator(&t);
    let (_, mut rx) = connect(&mut c, addr(1), PeerSource::Tracker);
    c.on_command(Command::Pause);
    c.on_command(Command::Pause);
    assert!(t.shared.paused.load(Ordering::Relaxed));
    assert!(matches!(commands(&mut rx)[..], [PeerCmd::Pause]));
    c.on_command(Command::TogglePause);
    assert!(!t.shared.paused.load(Ordering::Relaxed));
    assert!(matches!(commands(&mut rx).first(), Some(PeerCmd::Resume)));
}

#[test]
fn completion_lets_seeds_go_and_asks_for_a_resume_point() {
    let t = torrent();
    let mut c = coordinator(&t);
    let (_, mut seed_rx) = connect(&mut c, addr(1), PeerSource::Tracker);
    let (_, mut leech_rx) = connect(&mut c, addr(2), PeerSource::Tracker);
    entry(&c, addr(1))
        .live()
        .unwrap()
        .pieces
        .store(PIECES, Ordering::Relaxed);
    entry(&c, addr(2))
        .live()
        .unwrap()
        .pieces
        .store(1, Ordering::Relaxed);
    c.on_complete();
    assert!(c.run.complete && c.link.resume_due);
    assert!(c.link.lifetime.completed.is_some());
    assert!(matches!(
        commands(&mut seed_rx)[..],
        [PeerCmd::Disconnect(PeerEnd::NotNeeded)]
    ));
    assert!(commands(&mut leech_rx).is_empty());
}

/// A full disk holds the torrent (its transfers stop, its line says why) and does not end
/// it; a file size limit (EFBIG), which never lifts by itself, ends it.
#[test]
fn a_full_disk_holds_the_torrent_and_a_size_limit_ends_it() {
    use crate::engine::disk::DiskError;
    let full = |errno| DiskError::DiskFull {
        path: "out/t".into(),
        source: std::io::Error::from_raw_os_error(errno),
    };
    let t = torrent();
    let mut c = coordinator(&t);
    c.on_event(Event::DiskError(full(libc::ENOSPC)));
    c.on_event(Event::DiskError(full(libc::ENOSPC)));
    assert_eq!(c.run.fatal, None);
    assert!(t.shared.paused.load(Ordering::Relaxed), "transfers held");
    assert!(!c.run.paused, "not the user's pause");
    let TorrentState::Error(words) = c.state() else {
        panic!("{:?}", c.state());
    };
    assert!(
        words.starts_with("disk full: resumes by itself once")
            && words.contains("(writing out/t: "),
        "{words}"
    );
    // The user's pause and resume meanwhile leave the hold in place.
    c.set_paused(true, Instant::now());
    c.set_paused(false, Instant::now());
    assert!(t.shared.paused.load(Ordering::Relaxed));

    let t = torrent();
    let mut c = coordinator(&t);
    c.on_event(Event::DiskError(full(libc::EFBIG)));
    let fatal = c.run.fatal.as_deref().unwrap_or_default();
    assert!(
        fatal.starts_with("disk error: disk full writing out/t: "),
        "{fatal}"
    );
}

#[test]
fn a_bad_block_read_warns_and_the_torrent_goes_on() {
    use crate::engine::disk::DiskError;
    let t = torrent();
    let mut c = coordinator(&t);
    c.on_event(Event::DiskError(DiskError::BlockOutOfRange {
        index: 1,
        begin: PIECE,
        len: 16_384,
        piece_len: PIECE,
    }));
    assert_eq!(c.run.fatal, None);
    assert!(logged(&c, "disk error: block at 16384"));
}

/// A runtime: new peers are dialed at once, which spawns their connection tasks (to loopback
/// ports where nothing listens).
#[tokio::test]
async fn tracker_peers_join_the_table_once_and_never_our_own_address() {
    let t = torrent();
    t.shared.listen_port.store(6881, Ordering::Relaxed);
    let mut c = coordinator(&t);
    let ours = SocketAddr::from(([127, 0, 0, 1], 6881));
    let no_port = SocketAddr::from(([127, 0, 0, 5], 0));
    c.on_tracker(TrackerUpdate::Peers(vec![addr(1), addr(2), ours, no_port]));
    c.on_tracker(TrackerUpdate::Peers(vec![addr(1)]));
    assert_eq!(c.peers.len(), 2);
    assert!(c.peers.get(&ours).is_none());
    assert_eq!(entry(&c, addr(1)).source, PeerSource::Tracker);
    // Dialed as they came, not at the next tick.
    assert_eq!(entry(&c, addr(1)).stage(), PeerStage::Connecting);
    assert_eq!(entry(&c, addr(2)).stage(), PeerStage::Connecting);
}

/// A tracker's BEP 24 `external ip` is where BEP 40 priorities are reckoned from, as a
/// peer's `yourip` is.
#[test]
fn a_trackers_external_ip_moves_our_peer_priorities() {
    use crate::protocol::peer_priority::peer_priority;
    let t = torrent();
    let mut c = coordinator(&t);
    let other = SocketAddr::from(([98, 76, 5, 32], 6881));
    let seen: std::net::IpAddr = [230, 12, 123, 3].into();
    c.on_tracker(TrackerUpdate::SeenAs(crate::tracker::SeenAs {
        ip: seen,
        voter: [198, 51, 100, 1].into(),
    }));
    let me = SocketAddr::new(seen, 0);
    assert_eq!(
        c.peers.priority(&other),
        peer_priority(me, other).unwrap_or(0)
    );
    assert_ne!(c.peers.priority(&other), 0);
}

/// A verified piece found gone by an upload read: missing again, every connection told
/// through the `lost` broadcast once, the complete torrent downloading again, the storage
/// error a warning and not the torrent's end.
#[test]
fn a_piece_gone_from_disk_is_lost_once_and_the_torrent_goes_on() {
    use crate::engine::disk::DiskError;
    let t = TestTorrent::new(PIECE, u64::from(PIECE * PIECES), &[0, 1, 2, 3]);
    let mut c = coordinator(&t);
    c.on_complete();
    let mut lost = t.shared.lost.subscribe();
    let gone = || DiskError::Read {
        path: "out/t".into(),
        at: 2 * u64::from(PIECE),
        len: 16384,
        source: std::io::ErrorKind::UnexpectedEof.into(),
    };
    assert!(gone().is_missing_data());
    c.on_event(Event::Peer(PeerEvent::PieceGone {
        index: 2,
        error: gone(),
    }));
    c.on_event(Event::Peer(PeerEvent::PieceGone {
        index: 2,
        error: gone(),
    }));
    assert_eq!(lost.try_recv().ok(), Some(2));
    assert!(lost.try_recv().is_err(), "told once");
    assert!(!t.shared.download().picker.have().get(2));
    assert!(!c.run.complete && c.run.fatal.is_none());
    assert!(c.link.resume_due);
    assert!(logged(
        &c,
        &format!(
            "piece 2 lost (cannot read out/t at byte {} (16384 bytes): ",
            2 * PIECE
        )
    ));
    assert!(logged(&c, "downloading again: piece 2 lost"));
    let denied = DiskError::Read {
        path: "out/t".into(),
        at: 0,
        len: 16384,
        source: std::io::ErrorKind::PermissionDenied.into(),
    };
    assert!(!denied.is_missing_data(), "not a piece's loss: the disk's");
    assert!(!denied.costs_the_piece());
}

/// A read the disk failed (EIO: a bad sector) costs that piece as missing data does, and the
/// torrent's line says which piece, which file and where until the piece verifies again; a
/// file system gone (ENOTCONN) is not a piece's trouble.
#[test]
fn an_unreadable_piece_is_lost_and_named_on_the_line_until_it_verifies_again() {
    use crate::engine::disk::DiskError;
    let t = TestTorrent::new(PIECE, u64::from(PIECE * PIECES), &[0, 1, 2, 3]);
    let mut c = coordinator(&t);
    c.on_complete();
    let eio = |errno| DiskError::Read {
        path: "out/t".into(),
        at: u64::from(PIECE),
        len: 16384,
        source: std::io::Error::from_raw_os_error(errno),
    };
    assert!(eio(libc::EIO).costs_the_piece() && !eio(libc::EIO).is_missing_data());
    assert!(!eio(libc::ENOTCONN).costs_the_piece());
    c.on_event(Event::Peer(PeerEvent::PieceGone {
        index: 1,
        error: eio(libc::EIO),
    }));
    assert!(!t.shared.download().picker.have().get(1));
    assert!(!c.run.complete && c.run.fatal.is_none());
    let words = c.lost_words().unwrap();
    assert!(
        words.starts_with("piece 1 lost: cannot read out/t at byte ")
            && words.contains("Input/output error")
            && words.ends_with("; downloading it again"),
        "{words}"
    );
    c.run.lost.remove(&1);
    assert_eq!(c.lost_words(), None);
}
