//! One test per check: a constructed Snapshot, and the verdict it must get.

use super::*;
use crate::engine::api::{ChokeFlags, DhtRow, QueueState, TrackerRow, UplinkRow};
use std::net::SocketAddr;

fn addr(last: u8) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, last], 6881))
}

/// Downloading for 2 h, half done, two connected peers (one seed) sending data, a working
/// tracker and DHT, an incoming peer: nothing holds it back.
fn healthy() -> Snapshot {
    let mut s = Snapshot::empty("x", 8 << 14, 1 << 14);
    s.elapsed = Duration::from_secs(7200);
    s.listen_port = 6881;
    for p in s.pieces.iter_mut().take(4) {
        *p = PieceState::Verified;
    }
    s.availability = vec![2; 8];
    s.down_rate = 50_000.0;
    s.peers = vec![
        peer(2, 1.0, false, 30_000.0),
        peer(3, 0.5, false, 20_000.0),
        PeerRow {
            since: Duration::from_secs(600),
            ..PeerRow::new(addr(4), PeerSource::Incoming, PeerStage::Disconnected)
        },
    ];
    s.trackers = vec![tracker(TrackerStatus::Ok { peers: 2 }, Some(1))];
    s.dht = Some(DhtRow {
        nodes: 40,
        ..DhtRow::default()
    });
    s
}

fn peer(last: u8, progress: f32, choking: bool, rate: f64) -> PeerRow {
    PeerRow {
        progress,
        down_rate: rate,
        in_play: true,
        since: Duration::from_secs(300),
        flags: ChokeFlags {
            am_interested: true,
            peer_choking: choking,
            ..ChokeFlags::default()
        },
        ..PeerRow::new(addr(last), PeerSource::Tracker, PeerStage::Connected)
    }
}

fn failed(last: u8, end: PeerEnd) -> PeerRow {
    PeerRow {
        end: Some(end),
        ..PeerRow::new(addr(last), PeerSource::Manual, PeerStage::Failed)
    }
}

fn tracker(status: TrackerStatus, seeders: Option<u32>) -> TrackerRow {
    TrackerRow {
        url: "http://127.0.0.1:6969/announce?passkey=secret".into(),
        tier: 0,
        status,
        last_announce: None,
        next_announce: None,
        seeders,
        leechers: None,
        warning: None,
        last_counts: None,
    }
}

fn verdict_of(s: &Snapshot, ctx: &ExplainContext, check: Check) -> Option<Finding> {
    explain(s, ctx).into_iter().find(|f| f.check == check)
}

fn holding(s: &Snapshot, check: Check) -> Finding {
    let f = verdict_of(s, &ExplainContext::default(), check).expect("a finding");
    assert_eq!(f.verdict, Verdict::HoldingBack, "{f:?}");
    f
}

#[test]
fn a_healthy_torrent_has_nothing_holding_it_back() {
    let all = explain(&healthy(), &ExplainContext::default());
    assert!(all.iter().all(|f| f.verdict == Verdict::Ok), "{all:?}");
    assert!(top(&all).is_none());
    assert!(all.iter().any(|f| f.check == Check::Trackers));
    assert!(all.iter().any(|f| f.check == Check::Reachability));
}

#[test]
fn failing_trackers_say_their_error_but_not_the_passkey() {
    let mut s = healthy();
    s.peers.clear();
    s.trackers = vec![tracker(Failed("connection refused".into()), None)];
    let f = holding(&s, Check::Trackers);
    assert!(
        f.evidence.contains("127.0.0.1:6969: connection refused"),
        "{}",
        f.evidence
    );
    assert!(!f.evidence.contains("secret"));
    // With peers connected, a failing tracker is only a warning.
    let mut s = healthy();
    s.trackers.push(tracker(Failed("timed out".into()), None));
    let f = verdict_of(&s, &ExplainContext::default(), Check::Trackers).unwrap();
    assert_eq!(f.verdict, Verdict::Warning);
}

#[test]
fn a_dht_without_nodes_is_named() {
    let mut s = healthy();
    s.dht = Some(DhtRow::default());
    let f = verdict_of(&s, &ExplainContext::default(), Check::Dht).unwrap();
    assert_eq!(f.verdict, Verdict::Warning);
    s.trackers.clear();
    s.peers.clear();
    holding(&s, Check::Dht);
    // The session's count wins over the snapshot's.
    let ctx = ExplainContext {
        dht_nodes: Some(9),
        ..ExplainContext::default()
    };
    assert_eq!(
        verdict_of(&s, &ctx, Check::Dht).unwrap().verdict,
        Verdict::Ok
    );
}

#[test]
fn no_peers_known_holds_it_back() {
    let mut s = healthy();
    s.peers.clear();
    s.dht = None;
    s.trackers.clear();
    let f = holding(&s, Check::NoPeers);
    assert!(f.advice.unwrap().contains("--peer"));
    s.elapsed = Duration::from_secs(5);
    assert!(verdict_of(&s, &ExplainContext::default(), Check::NoPeers).is_none());
}

#[test]
fn only_websocket_trackers_with_webtorrent_off_are_named_not_failing() {
    let mut s = healthy();
    s.peers.clear();
    s.dht = None;
    let off = crate::tracker::TrackerError::WebSocketOff(crate::tracker::websocket::WEBTORRENT_OFF);
    s.trackers = vec![TrackerRow {
        url: "wss://tracker.example/announce".into(),
        ..tracker(TrackerStatus::Failed(off.to_string()), None)
    }];
    let f = holding(&s, Check::NoPeers);
    assert!(f.evidence.contains("WebTorrent is off"), "{}", f.evidence);
    assert!(f.advice.unwrap().contains("--no-webtorrent"));
    assert!(verdict_of(&s, &ExplainContext::default(), Check::Trackers).is_none());
    // Beside an HTTP tracker that finds nobody: the general words.
    s.trackers
        .push(tracker(TrackerStatus::Ok { peers: 0 }, Some(0)));
    let f = holding(&s, Check::NoPeers);
    assert_eq!(f.evidence, "no peers known at all");
}

#[test]
fn peers_only_at_ipv6_on_a_machine_without_it_are_named() {
    let mut s = healthy();
    assert!(verdict_of(&s, &ExplainContext::default(), Check::Family).is_none());
    // Beside connected peers: a warning.
    s.unroutable_peers = 3;
    let f = verdict_of(&s, &ExplainContext::default(), Check::Family).expect("a finding");
    assert_eq!(f.verdict, Verdict::Warning);
    assert!(f.evidence.contains("3 peers at IPv6"), "{}", f.evidence);
    // All there is: it holds the torrent back, and "no peers known" is not said instead.
    s.peers.clear();
    s.unroutable_peers = 1;
    let f = holding(&s, Check::Family);
    assert!(
        f.evidence.contains("1 peer is listed only at IPv6"),
        "{}",
        f.evidence
    );
    assert!(verdict_of(&s, &ExplainContext::default(), Check::NoPeers).is_none());
}

#[test]
fn pieces_no_connected_peer_has() {
    let mut s = healthy();
    s.availability = vec![2, 2, 2, 2, 1, 0, 0, 0];
    s.full_copy_seen_ago = Some(Duration::from_secs(7200));
    let ctx = ExplainContext::default();
    let f = verdict_of(&s, &ctx, Check::Availability).unwrap();
    assert_eq!(f.verdict, Verdict::Warning);
    assert!(
        f.evidence.starts_with(
            "3 pieces: no connected peer has them (pieces 5–7); a full copy was last seen 2h"
        ),
        "{}",
        f.evidence
    );
    s.availability[4] = 0;
    holding(&s, Check::Availability);
}

#[test]
fn unavailable_pieces_are_named_in_runs() {
    assert_eq!(piece_list(&[7]), "piece 7");
    assert_eq!(piece_list(&[61, 62, 63]), "pieces 61–63");
    assert_eq!(
        piece_list(&[2, 9, 40, 41, 42, 50, 51, 60]),
        "pieces 2, 9, 40–42 and 3 more"
    );
}

#[test]
fn no_seeds_in_the_swarm() {
    let mut s = healthy();
    s.peers[0].progress = 0.9;
    s.trackers[0].seeders = Some(0);
    let f = verdict_of(&s, &ExplainContext::default(), Check::Seeds).unwrap();
    assert_eq!(f.verdict, Verdict::Warning);
    assert!(f.evidence.starts_with("no seeds"));
}

#[test]
fn plain_handshakes_closed_point_at_encryption() {
    let mut s = healthy();
    s.peers = (2..14)
        .map(|i| failed(i, PeerEnd::ClosedMayNeedEncryption))
        .collect();
    s.peers.push(failed(20, PeerEnd::Refused));
    let f = holding(&s, Check::PeerFailures);
    assert!(
        f.evidence
            .starts_with("12 peers closed the plain handshake: they may require encryption"),
        "{}",
        f.evidence
    );
    assert_eq!(f.advice.as_deref(), Some("run with `--encryption prefer`"));
    // The first finding overall: what the progress line shows.
    assert_eq!(
        top(&explain(&s, &ExplainContext::default())).unwrap().check,
        Check::PeerFailures
    );
    // Another peer still bringing data: a warning.
    s.peers.push(peer(30, 1.0, false, 1000.0));
    let f = verdict_of(&s, &ExplainContext::default(), Check::PeerFailures).unwrap();
    assert_eq!(f.verdict, Verdict::Warning);
}

/// Retries under way (handshaking again) keep the reason of the attempt before them: the
/// finding stands through the seconds each retry takes.
#[test]
fn peers_being_retried_keep_their_last_failure() {
    let mut s = healthy();
    s.peers = (2..14)
        .map(|i| PeerRow {
            retry_after: Some(PeerEnd::ClosedMayNeedEncryption),
            ..PeerRow::new(addr(i), PeerSource::Manual, PeerStage::Handshaking)
        })
        .collect();
    let f = holding(&s, Check::PeerFailures);
    assert!(
        f.evidence
            .starts_with("12 peers closed the plain handshake: they may require encryption"),
        "{}",
        f.evidence
    );
    // A first dial, with nothing before it, is no failure.
    for p in &mut s.peers {
        p.retry_after = None;
    }
    assert!(verdict_of(&s, &ExplainContext::default(), Check::PeerFailures).is_none());
}

#[test]
fn failure_reasons_count_most_frequent_first() {
    let peers = vec![
        failed(2, PeerEnd::Refused),
        failed(3, PeerEnd::Idle),
        failed(4, PeerEnd::Idle),
    ];
    let r = failure_reasons(&peers);
    assert_eq!(r[0].0, "silent too long");
    assert_eq!(r[0].2, 2);
    assert_eq!(r[1].1, Some(PeerEnd::Refused));
}

#[test]
fn every_useful_peer_choking_us() {
    let mut s = healthy();
    s.down_rate = 0.0;
    s.peers[0] = peer(2, 1.0, true, 0.0);
    s.peers[1] = peer(3, 0.5, true, 0.0);
    let f = holding(&s, Check::Choked);
    assert!(f.evidence.contains("(2 of 2)"), "{}", f.evidence);
    // Just connected: not yet.
    s.peers[1].since = Duration::from_secs(2);
    s.peers[0].since = Duration::from_secs(2);
    assert!(verdict_of(&s, &ExplainContext::default(), Check::Choked).is_none());
}

#[test]
fn our_own_limits_and_the_queue() {
    let s = healthy();
    assert!(verdict_of(&s, &ExplainContext::default(), Check::Limits).is_none());
    let mut ctx = ExplainContext {
        limits: Some(Limits {
            down: Some(50_000.0),
            down_kind: "global",
            ..Limits::default()
        }),
        ..ExplainContext::default()
    };
    let f = verdict_of(&s, &ctx, Check::Limits).unwrap();
    assert_eq!(f.verdict, Verdict::HoldingBack);
    assert!(f.evidence.starts_with("the global limit"), "{}", f.evidence);
    ctx.limits = Some(Limits {
        queued: true,
        ..Limits::default()
    });
    assert_eq!(
        verdict_of(&s, &ctx, Check::Limits).unwrap().verdict,
        Verdict::HoldingBack
    );
}

#[test]
fn a_torrents_own_limit_is_named_as_its_own() {
    let mut s = healthy();
    s.own_limits.down = 50_000;
    // No session context (a headless run): the torrent's own limit still speaks.
    let f = verdict_of(&s, &ExplainContext::default(), Check::Limits).unwrap();
    assert_eq!(f.verdict, Verdict::HoldingBack);
    assert_eq!(
        f.evidence,
        "this torrent's own download limit of 48.8 KiB/s is reached"
    );
    assert!(f.advice.unwrap().contains("ttui limit 0 --down"));
    // A tighter session limit is the one that binds.
    let ctx = ExplainContext {
        limits: Some(Limits {
            down: Some(40_000.0),
            down_kind: "session",
            ..Limits::default()
        }),
        ..ExplainContext::default()
    };
    let f = verdict_of(&s, &ctx, Check::Limits).unwrap();
    assert!(
        f.evidence.starts_with("the session limit"),
        "{}",
        f.evidence
    );
    // Far below its own limit: Ok, and says which.
    s.own_limits.down = 1_000_000;
    let f = verdict_of(&s, &ExplainContext::default(), Check::Limits).unwrap();
    assert_eq!(f.verdict, Verdict::Ok);
    assert!(f.evidence.contains("own download limit"), "{}", f.evidence);
}

#[test]
fn a_limit_that_made_connections_wait_binds_below_90_percent() {
    // A limiter pays by the block and the rate is a short window's: held at its limit, a
    // torrent can read 80 % of it for a moment. The waits say the limit binds all the same.
    let mut s = healthy();
    s.own_limits.down = (s.down_rate / 0.8) as u64;
    let f = verdict_of(&s, &ExplainContext::default(), Check::Limits).unwrap();
    assert_eq!(f.verdict, Verdict::Ok, "nobody waited: {}", f.evidence);
    s.limits_held.down = true;
    let f = verdict_of(&s, &ExplainContext::default(), Check::Limits).unwrap();
    assert_eq!(f.verdict, Verdict::HoldingBack, "{}", f.evidence);
    // Under half the limit the waits were someone else's moment: not the limit.
    s.own_limits.down = (s.down_rate / 0.4) as u64;
    let f = verdict_of(&s, &ExplainContext::default(), Check::Limits).unwrap();
    assert_eq!(f.verdict, Verdict::Ok, "{}", f.evidence);
}

#[test]
fn no_incoming_connection_for_30_minutes() {
    let mut s = healthy();
    s.peers.pop();
    let f = verdict_of(&s, &ExplainContext::default(), Check::Reachability).unwrap();
    assert_eq!(f.verdict, Verdict::Warning);
    assert_eq!(
        f.evidence,
        "no incoming connection in the last 30 minutes: your port 6881 may be closed or behind NAT"
    );
    let ctx = ExplainContext {
        incoming_in_window: Some(3),
        ..ExplainContext::default()
    };
    let f = verdict_of(&s, &ctx, Check::Reachability).unwrap();
    assert_eq!(f.verdict, Verdict::Ok);
    assert_eq!(f.evidence, "3 incoming connections in the last 30 minutes");
}

/// A test's shorter window: the check waits that long, not 30 minutes, and its words say the
/// window it used.
#[test]
fn a_shorter_reachability_window_is_the_one_named() {
    let mut s = healthy();
    s.peers.pop();
    let window = |secs| ExplainContext {
        reachability_window: Some(Duration::from_secs(secs)),
        ..ExplainContext::default()
    };
    s.elapsed = Duration::from_secs(19);
    assert!(verdict_of(&s, &window(20), Check::Reachability).is_none());
    s.elapsed = Duration::from_secs(20);
    let f = verdict_of(&s, &window(20), Check::Reachability).unwrap();
    assert_eq!(f.verdict, Verdict::Warning);
    assert!(
        f.evidence
            .starts_with("no incoming connection in the last 20 seconds: your port 6881"),
        "{}",
        f.evidence
    );
    let f = verdict_of(&s, &window(120), Check::Reachability);
    assert!(f.is_none(), "20 s into a 2-minute window: {f:?}");
    s.elapsed = Duration::from_secs(120);
    let f = verdict_of(&s, &window(120), Check::Reachability).unwrap();
    assert!(
        f.evidence.contains("in the last 2 minutes"),
        "{}",
        f.evidence
    );
    // An incoming peer counts while it came within the window.
    let mut incoming = peer(9, 0.5, false, 1.0);
    incoming.source = PeerSource::Incoming;
    incoming.since = Duration::from_secs(15);
    s.peers.push(incoming);
    let f = verdict_of(&s, &window(20), Check::Reachability).unwrap();
    assert_eq!(f.verdict, Verdict::Ok, "{}", f.evidence);
    assert_eq!(f.evidence, "1 incoming connection in the last 20 seconds");
    // Connected since before the window: still proof the port is open now.
    s.peers.last_mut().unwrap().since = Duration::from_secs(25);
    let f = verdict_of(&s, &window(20), Check::Reachability).unwrap();
    assert_eq!(f.verdict, Verdict::Ok, "still connected: {}", f.evidence);
    // Gone before the window: no proof.
    s.peers.last_mut().unwrap().stage = PeerStage::Disconnected;
    let f = verdict_of(&s, &window(20), Check::Reachability).unwrap();
    assert_eq!(
        f.verdict,
        Verdict::Warning,
        "came and went before the window: {}",
        f.evidence
    );
    // The session's snapshot carries the window to the context.
    let session = crate::engine::api::SessionSnapshot {
        reachability_window: Some(Duration::from_secs(20)),
        ..Default::default()
    };
    let ctx = ExplainContext::from_session(&session, s.id);
    assert_eq!(ctx.reachability_window, Some(Duration::from_secs(20)));
}

fn saturated() -> Snapshot {
    let mut s = healthy();
    s.uplink = UplinkRow {
        up: 95_000.0,
        up_ceiling: 100_000.0,
        rtt: Some(Duration::from_millis(650)),
        rtt_floor: Some(Duration::from_millis(12)),
        rtt_rise: Some(Duration::from_millis(630)),
        down: 150_000.0,
        down_best: 2_000_000.0,
    };
    s
}

#[test]
fn a_full_uplink_holds_the_download_back_with_its_evidence() {
    let s = saturated();
    let f = verdict_of(&s, &ExplainContext::default(), Check::UploadSaturation).unwrap();
    assert_eq!(f.verdict, Verdict::HoldingBack);
    assert_eq!(
        f.evidence,
        "the upload fills the link: 92.8 KiB/s is 95 % of the most it has carried (97.7 KiB/s); \
         round trips rose from 12 ms to 650 ms and this download fell from 1.9 MiB/s to 146.5 KiB/s"
    );
    assert_eq!(
        f.advice.as_deref(),
        Some("set an upload limit of about 78.1 KiB/s (80 % of 97.7 KiB/s): `ttui limit --up 78K`")
    );
}

#[test]
fn a_loopback_floor_reads_as_under_a_tenth_of_a_millisecond() {
    let mut s = saturated();
    s.uplink.rtt_floor = Some(Duration::from_micros(30));
    let f = verdict_of(&s, &ExplainContext::default(), Check::UploadSaturation).unwrap();
    assert!(
        f.evidence
            .contains("round trips rose from under 0.1 ms to 650 ms"),
        "{}",
        f.evidence
    );
    s.uplink.rtt_floor = Some(Duration::from_micros(2_500));
    let f = verdict_of(&s, &ExplainContext::default(), Check::UploadSaturation).unwrap();
    assert!(
        f.evidence.contains("from 2.5 ms to 650 ms"),
        "{}",
        f.evidence
    );
}

#[test]
fn a_full_uplink_needs_all_three_signs() {
    let ctx = ExplainContext::default();
    let none = |s: &Snapshot| verdict_of(s, &ctx, Check::UploadSaturation).is_none();
    // A seed doing its job: the upload at its ceiling, round trips flat.
    let mut s = saturated();
    s.uplink.rtt_rise = Some(Duration::from_millis(5));
    assert!(none(&s));
    // A far peer's jitter: risen 30 ms on a 200 ms path.
    let mut s = saturated();
    (s.uplink.rtt_floor, s.uplink.rtt_rise) = (
        Some(Duration::from_millis(200)),
        Some(Duration::from_millis(150)),
    );
    assert!(none(&s));
    // The upload well below what the link carried.
    let mut s = saturated();
    s.uplink.up = 40_000.0;
    assert!(none(&s));
    // The download has not fallen.
    let mut s = saturated();
    s.uplink.down = 1_500_000.0;
    assert!(none(&s));
    // No TCP peer with a round trip, or a link that never carried anything: nothing said.
    let mut s = saturated();
    s.uplink.rtt = None;
    assert!(none(&s));
    let mut s = saturated();
    (s.uplink.up, s.uplink.up_ceiling) = (1_000.0, 1_000.0);
    assert!(none(&s));
}

#[test]
fn writers_holding_the_peers_back_name_both_rates() {
    let mut s = healthy();
    s.disk = crate::engine::api::DiskRow {
        backlog: 2 << 20,
        held: 0.8,
        write_rate: 1024.0 * 1024.0,
        down_peak: 12.0 * 1024.0 * 1024.0,
        ..Default::default()
    };
    let f = verdict_of(&s, &ExplainContext::default(), Check::Disk).unwrap();
    assert_eq!(f.verdict, Verdict::HoldingBack);
    assert!(
        f.evidence.contains("(2 MiB waiting)")
            && f.evidence.contains("held back 80 % of the last 5 s")
            && f.evidence
                .ends_with("the disk writes 1 MiB/s, the peers sent up to 12 MiB/s"),
        "{}",
        f.evidence
    );
    // Held back now and then: a writer's hiccup, not the pace.
    s.disk.held = 0.2;
    assert!(verdict_of(&s, &ExplainContext::default(), Check::Disk).is_none());
}

#[test]
fn a_disk_slow_to_read_is_named_on_a_seed() {
    let mut s = healthy();
    s.state = TorrentState::Seeding;
    let ctx = ExplainContext::default();
    // A disk that does not answer: reads waiting for seconds.
    s.disk.reads_here = true;
    s.disk.reads_waiting = 3;
    s.disk.read_waited = Some(Duration::from_secs(12));
    s.disk.read_average = Some(Duration::from_millis(40));
    let f = verdict_of(&s, &ctx, Check::Disk).unwrap();
    assert_eq!(f.verdict, Verdict::HoldingBack);
    assert_eq!(
        f.evidence,
        "the disk is not answering: 3 reads for peers waiting, none done for 12s (before that \
         they took 40 ms each)"
    );
    // A slow one: reads take long and queue up.
    s.disk.read_waited = Some(Duration::from_millis(300));
    s.disk.read_average = Some(Duration::from_millis(180));
    let f = verdict_of(&s, &ctx, Check::Disk).unwrap();
    assert_eq!(f.verdict, Verdict::Warning);
    assert_eq!(
        f.evidence,
        "reading from the disk is slow: reads for peers take 180 ms each lately, 3 reads queued \
         on it"
    );
    // Other torrents' reads: not this one's peers that wait.
    s.disk.reads_here = false;
    assert!(verdict_of(&s, &ctx, Check::Disk).is_none());
    s.disk.reads_here = true;
    // One read at a time, or quick reads: the disk keeps up.
    s.disk.reads_waiting = 1;
    assert!(verdict_of(&s, &ctx, Check::Disk).is_none());
    s.disk.reads_waiting = 3;
    s.disk.read_average = Some(Duration::from_millis(8));
    assert!(verdict_of(&s, &ctx, Check::Disk).is_none());
}

#[test]
fn rc4_taking_most_of_a_core() {
    let mut s = healthy();
    s.peers[0].encryption = Some(Encryption::Rc4);
    s.peers[0].down_rate = 200.0 * 1024.0 * 1024.0;
    let f = verdict_of(&s, &ExplainContext::default(), Check::Rc4Cpu).unwrap();
    assert_eq!(f.verdict, Verdict::Warning);
    assert!(f.evidence.contains("78 % of a core"), "{}", f.evidence);
    s.peers[0].encryption = Some(Encryption::Plain);
    assert!(verdict_of(&s, &ExplainContext::default(), Check::Rc4Cpu).is_none());
}

#[test]
fn findings_sort_worst_first_and_names_are_stable() {
    let mut s = healthy();
    s.peers.pop(); // reachability: warning
    s.peers[0].flags.peer_choking = true;
    s.peers[1].flags.peer_choking = true; // choked: holding back
    let all = explain(&s, &ExplainContext::default());
    assert_eq!(all[0].check, Check::Choked);
    assert_eq!(all[1].verdict, Verdict::Warning);
    assert!(all.windows(2).all(|w| w[0].verdict <= w[1].verdict));
    assert_eq!(Check::PeerFailures.name(), "peer_failures");
    assert_eq!(Verdict::HoldingBack.name(), "holding_back");
    // Paused: nothing to explain.
    s.state = TorrentState::Paused;
    assert!(explain(&s, &ExplainContext::default()).is_empty());
}

#[test]
fn the_session_says_which_limit_and_the_queue() {
    use crate::engine::api::{SessionSnapshot, TorrentId, TorrentLine};
    let mut s = healthy();
    s.id = TorrentId(4);
    s.down_rate = 1_000_000.0;
    let mut line = TorrentLine::placeholder(TorrentId(4));
    let mut session = SessionSnapshot {
        down_limit: 1_000_000,
        turtle: true,
        ..SessionSnapshot::default()
    };
    session.torrents.push(std::sync::Arc::new(line.clone()));
    let ctx = ExplainContext::from_session(&session, TorrentId(4));
    let f = verdict_of(&s, &ctx, Check::Limits).unwrap();
    assert_eq!(f.verdict, Verdict::HoldingBack);
    assert!(f.evidence.contains("turtle mode limit"), "{}", f.evidence);
    // No limit in force: the check has nothing to say.
    session.down_limit = 0;
    let ctx = ExplainContext::from_session(&session, TorrentId(4));
    assert!(verdict_of(&s, &ctx, Check::Limits).is_none());
    // Waiting in the queue is what holds it back.
    line.queue = Some(QueueState::Waiting {
        seed: false,
        rank: 4,
        slots: 3,
    });
    session.torrents = vec![std::sync::Arc::new(line)];
    let ctx = ExplainContext::from_session(&session, TorrentId(4));
    let f = verdict_of(&s, &ctx, Check::Limits).unwrap();
    assert!(f.evidence.contains("queue"), "{}", f.evidence);
}

#[test]
fn a_blocklist_that_holds_most_of_the_swarm_is_named() {
    let mut s = healthy();
    assert!(verdict_of(&s, &ExplainContext::default(), Check::Blocklist).is_none());
    // 3 of 6 learned: half, while two peers serve us: a warning.
    s.peers
        .extend((10..13).map(|i| failed(i, PeerEnd::Blocklisted)));
    s.blocked = 3;
    let f = verdict_of(&s, &ExplainContext::default(), Check::Blocklist).expect("a finding");
    assert_eq!(f.verdict, Verdict::Warning, "{f:?}");
    assert!(
        f.evidence.starts_with("3 peers blocked by your blocklist"),
        "{f:?}"
    );
    assert!(f.advice.is_some());
    // None connected: it holds the torrent back.
    s.peers.retain(|p| p.stage != PeerStage::Connected);
    assert!(holding(&s, Check::Blocklist)
        .evidence
        .contains("3 of the 4"));
    // A few blocked among many: nothing to say.
    let mut few = healthy();
    few.peers.extend((10..30).map(|i| peer(i, 0.5, false, 1.0)));
    few.peers.push(failed(40, PeerEnd::Blocklisted));
    assert!(verdict_of(&few, &ExplainContext::default(), Check::Blocklist).is_none());
}

/// Under a proxy nobody can reach us: no "your port may be closed", the proxy's check says it.
#[test]
fn a_proxy_leaves_reachability_to_its_own_check() {
    let mut s = healthy();
    s.peers.pop();
    let plain = ExplainContext::default();
    assert!(verdict_of(&s, &plain, Check::Reachability).is_some());
    let ctx = ExplainContext {
        proxy: Some(crate::engine::api::ProxyStatus::default()),
        ..ExplainContext::default()
    };
    assert!(verdict_of(&s, &ctx, Check::Reachability).is_none());
    let f = verdict_of(&s, &ctx, Check::Proxy).unwrap();
    assert_eq!(f.verdict, Verdict::Ok);
}

/// BEP 55: the peers dialed through a punched hole are counted, reached and not; a torrent
/// with none has no such line.
#[test]
fn hole_punched_peers_are_counted() {
    let mut s = healthy();
    assert!(explain(&s, &ExplainContext::default())
        .iter()
        .all(|f| f.check != Check::HolePunch));
    let via = Some("203.0.113.5".parse().unwrap());
    s.peers.push(PeerRow {
        hole_punched_via: via,
        ..peer(5, 1.0, false, 1000.0)
    });
    s.peers.push(PeerRow {
        hole_punched_via: via,
        ..PeerRow::new(addr(6), PeerSource::Pex, PeerStage::Failed)
    });
    let f = explain(&s, &ExplainContext::default())
        .into_iter()
        .find(|f| f.check == Check::HolePunch)
        .expect("a hole punch line");
    assert_eq!(f.verdict, Verdict::Ok);
    assert_eq!(
        f.evidence,
        "hole punching: 1 peer reached only this way, 1 not reached even so"
    );
    assert_eq!(f.advice, None);
    assert_eq!(s.peers[3].how_reached(), "hole punched via 203.0.113.5");
    assert_eq!(s.peers[0].how_reached(), "tracker");
}
