//! A hand-made torrent for the detail view's tests: peers from every source, two trackers
//! (one failing with a long error), the DHT, a folder tree of files and a log. Fixed
//! durations, no clocks, so every screen is the same on every run.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::engine::api::{
    ChokeFlags, DhtRow, FilePriority, FileRow, LogLevel, LogLine, PeerEnd, PeerRow, PeerSource,
    PeerStage, PieceState, Snapshot, TorrentState, TrackerRow, TrackerStatus,
};
use crate::net::{Encryption, TransportKind};
use crate::ui::{App, Theme};

const MIB: u64 = 1024 * 1024;
const PIECE_LEN: u32 = 256 * 1024;
const PIECES: u64 = 400;

fn addr(last: u8) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, last], 51413))
}

fn peer(last: u8, source: PeerSource, client: &str, down: f64, progress: f32) -> PeerRow {
    PeerRow {
        client: Some(client.to_string()),
        flags: ChokeFlags {
            am_choking: false,
            am_interested: true,
            peer_choking: false,
            peer_interested: true,
        },
        down_rate: down,
        downloaded: (down * 40.0) as u64,
        progress,
        requests_in_flight: 16,
        since: Duration::from_secs(40),
        attempts: 1,
        transport: Some(TransportKind::Tcp),
        encryption: Some(Encryption::Plain),
        ..PeerRow::new(addr(last), source, PeerStage::Connected)
    }
}

fn file(path: &str, size: u64, done: u64, priority: FilePriority, offset: u64) -> FileRow {
    FileRow {
        path: path.to_string(),
        size,
        offset,
        done,
        priority,
    }
}

pub(super) fn snapshot() -> Snapshot {
    let mut s = Snapshot::empty("Big Buck Bunny", PIECES * PIECE_LEN as u64, PIECE_LEN);
    s.output = PathBuf::from("/home/user/Downloads");
    s.elapsed = Duration::from_secs(300);
    s.listen_port = 6881;
    for i in 0..PIECES as usize {
        s.pieces[i] = match i % 7 {
            0..=3 => PieceState::Verified,
            4 => PieceState::InFlight,
            _ => PieceState::Missing,
        };
        s.availability[i] = (i % 4) as u16 + 1;
    }
    s.verified_bytes = s.verified_pieces() as u64 * PIECE_LEN as u64;
    s.downloaded = s.verified_bytes;
    s.down_rate = 2.5 * MIB as f64;
    s.up_rate = 96.0 * 1024.0;
    s.peers = vec![
        peer(
            2,
            PeerSource::Tracker,
            "Transmission 4.0.5",
            1.5 * MIB as f64,
            1.0,
        ),
        peer(
            3,
            PeerSource::Dht,
            "libtorrent 2.0.10",
            0.7 * MIB as f64,
            0.8,
        ),
        peer(
            4,
            PeerSource::Pex,
            "qBittorrent 4.6.2",
            0.3 * MIB as f64,
            0.4,
        ),
        PeerRow {
            end: Some(PeerEnd::Refused),
            attempts: 2,
            since: Duration::from_secs(12),
            ..PeerRow::new(addr(5), PeerSource::Pex, PeerStage::Failed)
        },
        peer(6, PeerSource::Incoming, "aria2/1.37.0", 0.0, 0.1),
    ];
    s.trackers = vec![
        TrackerRow {
            url: "http://127.0.0.1:6969/announce".into(),
            tier: 0,
            status: TrackerStatus::Ok { peers: 3 },
            last_announce: Some(Duration::from_secs(95)),
            next_announce: Some(Duration::from_secs(1705)),
            seeders: Some(12),
            leechers: Some(30),
            warning: Some("announce interval raised to 30 minutes".into()),
            last_counts: Some((1 << 20, 0)),
        },
        TrackerRow {
            url: "udp://127.0.0.1:6970/announce".into(),
            tier: 1,
            status: TrackerStatus::Failed(
                "connection refused: nothing listens on 127.0.0.1:6970 (the tracker may be \
                 down, or the port blocked by a firewall); the next try backs off to 4 minutes"
                    .into(),
            ),
            last_announce: Some(Duration::from_secs(60)),
            next_announce: Some(Duration::from_secs(240)),
            seeders: None,
            leechers: None,
            warning: None,
            last_counts: None,
        },
    ];
    s.dht = Some(DhtRow {
        nodes: 87,
        searching: false,
        lookups: 3,
        last_peers: 9,
        last_at: Some(Duration::from_secs(180)),
    });
    use FilePriority::*;
    let sizes = [
        ("Big Buck Bunny/bbb_1080p.mp4", 70 * MIB, 45 * MIB, High),
        ("Big Buck Bunny/bbb_720p.mp4", 20 * MIB, 20 * MIB, Normal),
        ("Big Buck Bunny/extras/making-of.mkv", 8 * MIB, 0, Skip),
        ("Big Buck Bunny/extras/poster.png", MIB, MIB / 2, Low),
        ("Big Buck Bunny/README.txt", MIB, MIB, Normal),
    ];
    let mut offset = 0;
    s.files = sizes
        .iter()
        .map(|&(p, size, done, prio)| {
            let f = file(p, size, done, prio, offset);
            offset += size;
            f
        })
        .collect();
    s.log = vec![
        LogLine {
            at: Duration::from_secs(0),
            level: LogLevel::Info,
            text: "started: 400 pieces of 256 KiB, 100 MiB".into(),
        },
        LogLine {
            at: Duration::from_secs(2),
            level: LogLevel::Warn,
            text: "tracker udp://127.0.0.1:6970: connection refused".into(),
        },
        LogLine {
            at: Duration::from_secs(31),
            level: LogLevel::Error,
            text: "piece 53 failed its hash check (from 127.0.0.4:51413), refetching".into(),
        },
    ];
    s.state = TorrentState::Downloading;
    s
}

/// An app that has seen a minute of the torrent, sized for a `w`×`h` screen.
pub(super) fn app_for(snap: &Arc<Snapshot>, w: u16, h: u16) -> App {
    let mut app = App::new(
        PathBuf::from("/home/user/.local/state/ttui/ttui.log"),
        Theme::plain(),
    );
    app.set_viewport(ratatui::layout::Rect::new(0, 0, w, h));
    for t in 240..300u64 {
        let mut s = (**snap).clone();
        s.elapsed = Duration::from_secs(t);
        s.down_rate = snap.down_rate * (0.5 + (t % 20) as f64 / 20.0);
        app.on_snapshot(Arc::new(s));
    }
    app.on_snapshot(Arc::clone(snap));
    app
}
