//! Frame render cost with a big swarm and a big torrent: 500 peers, 100,000 pieces; and of
//! the session list with 10,000 torrents.
//! Run: `cargo bench --bench render` (prints mean/median µs per frame; no assertions).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ratatui::backend::TestBackend;
use ratatui::Terminal;

use ttui::internals::engine::api::{
    ChokeFlags, LogLevel, LogLine, PeerEnd, PeerRow, PeerSource, PeerStage, PieceState,
    SessionSnapshot, Snapshot, TorrentId, TorrentLine, TorrentState, TrackerRow, TrackerStatus,
};
use ttui::internals::ui::{self, Action, App, Theme};

const TORRENTS: u32 = 10_000;

const PEERS: usize = 500;
const PIECES: usize = 100_000;
const FRAMES: usize = 2_000;

fn next(seed: &mut u64) -> u64 {
    *seed = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    *seed >> 33
}

fn snapshot(elapsed: u64, seed: &mut u64) -> Snapshot {
    let clients = [
        "Transmission 3.00",
        "libtorrent 2.0.8",
        "aria2/1.36.0",
        "qBittorrent/4.5.2",
        "rqbit 9.1.0",
    ];
    let peers = (0..PEERS)
        .map(|i| {
            let stage = match i % 10 {
                0 => PeerStage::Failed,
                1 => PeerStage::Disconnected,
                2 => PeerStage::Connecting,
                _ => PeerStage::Connected,
            };
            PeerRow {
                client: Some(clients[i % clients.len()].to_string()),
                end: stage.is_gone().then_some(PeerEnd::Refused),
                since: Duration::from_secs(i as u64),
                flags: ChokeFlags {
                    am_choking: i % 2 == 0,
                    am_interested: i % 3 != 0,
                    peer_choking: i % 5 == 0,
                    peer_interested: i % 7 == 0,
                },
                down_rate: (next(seed) % 2_000_000) as f64,
                up_rate: (next(seed) % 200_000) as f64,
                downloaded: next(seed) % (1 << 30),
                uploaded: next(seed) % (1 << 28),
                progress: (next(seed) % 101) as f32 / 100.0,
                requests_in_flight: (next(seed) % 200) as u32,
                attempts: 1,
                handshake_time: Some(Duration::from_millis(20)),
                ..PeerRow::new(
                    SocketAddr::from((
                        [127, 0, (i / 250) as u8, (i % 250) as u8 + 1],
                        6881 + (i % 7) as u16,
                    )),
                    PeerSource::Tracker,
                    stage,
                )
            }
        })
        .collect();
    let pieces = (0..PIECES)
        .map(|_| match next(seed) % 100 {
            0..=49 => PieceState::Verified,
            50..=54 => PieceState::InFlight,
            55 => PieceState::Failed,
            _ => PieceState::Missing,
        })
        .collect();
    Snapshot {
        info_hash: [7; 20],
        output: PathBuf::from("/tmp/big"),
        verified_bytes: PIECES as u64 / 2 * 262_144,
        down_rate: 50e6,
        up_rate: 5e6,
        elapsed: Duration::from_secs(elapsed),
        pieces,
        availability: (0..PIECES).map(|_| (next(seed) % 40) as u16).collect(),
        peers,
        trackers: vec![TrackerRow {
            url: "http://127.0.0.1:6969/announce".into(),
            tier: 0,
            status: TrackerStatus::Ok { peers: PEERS },
            last_announce: Some(Duration::from_secs(5)),
            next_announce: Some(Duration::from_secs(1700)),
            seeders: Some(100),
            leechers: Some(400),
            warning: None,
            last_counts: Some((1 << 30, 0)),
        }],
        log: (0..200)
            .map(|i| LogLine {
                at: Duration::from_secs(i),
                level: LogLevel::Info,
                text: format!("event number {i}"),
            })
            .collect(),
        listen_port: 6881,
        ..Snapshot::empty("big-torrent.tar", PIECES as u64 * 262_144, 262_144)
    }
}

/// Nanoseconds this thread has spent on a CPU (Linux), so a busy machine does not inflate
/// the figure the way wall-clock time does. None elsewhere.
fn thread_cpu_ns() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

fn cpu_per_frame(before: Option<u64>, frames: usize) -> String {
    match (before, thread_cpu_ns()) {
        (Some(a), Some(b)) => format!(
            "{:8.1} µs",
            b.saturating_sub(a) as f64 / 1e3 / frames as f64
        ),
        _ => "n/a".to_string(),
    }
}

fn bench(label: &str, w: u16, h: u16, snap: &Arc<Snapshot>, app: &mut App) {
    let mut terminal = match Terminal::new(TestBackend::new(w, h)) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("cannot make a test terminal: {e}");
            return;
        }
    };
    // Warm up: the first frames allocate the double buffers and tell the app the grid size;
    // the next snapshot (here: the same one again) then builds the piece-map cache, as the
    // event loop does after every engine tick.
    for _ in 0..20 {
        let _ = terminal.draw(|f| ui::draw(f, snap, app));
    }
    app.on_snapshot(snap.clone());
    let app = &*app;
    let mut times = Vec::with_capacity(FRAMES);
    let cpu = thread_cpu_ns();
    for _ in 0..FRAMES {
        let start = Instant::now();
        let _ = terminal.draw(|f| ui::draw(f, snap, app));
        times.push(start.elapsed());
    }
    let cpu = cpu_per_frame(cpu, FRAMES);
    times.sort();
    let mean = times.iter().sum::<Duration>().as_secs_f64() * 1e6 / FRAMES as f64;
    let median = times[FRAMES / 2].as_secs_f64() * 1e6;
    let p99 = times[FRAMES * 99 / 100].as_secs_f64() * 1e6;
    println!(
        "{label:<22} {w:>3}x{h:<3} wall mean {mean:8.1} µs  median {median:8.1} µs  p99 {p99:8.1} µs  cpu mean {cpu}"
    );
}

fn session(seed: &mut u64) -> SessionSnapshot {
    let torrents = (0..TORRENTS)
        .map(|i| {
            let total = next(seed) % (50 << 30) + 1;
            let state = match i % 9 {
                0 => TorrentState::Seeding,
                1 => TorrentState::Paused,
                2 => TorrentState::Error("disk full".into()),
                3 => TorrentState::checking(40, 100),
                _ => TorrentState::Downloading,
            };
            TorrentLine {
                info_hash: [i as u8; 20],
                name: format!(
                    "some.torrent.name.{:05}.with.a.long.tail-{}.mkv",
                    i,
                    next(seed)
                ),
                state,
                why: (i % 9 == 5).then(|| "stalled: no peer has 3 pieces".to_string()),
                total_bytes: total,
                wanted_bytes: total,
                verified_bytes: next(seed) % total,
                downloaded: next(seed) % total,
                uploaded: next(seed) % total,
                down_rate: (next(seed) % 2_000_000) as f64,
                up_rate: (next(seed) % 200_000) as f64,
                peers: (next(seed) % 80) as u32,
                seeds: (next(seed) % 10) as u32,
                save_path: PathBuf::from("/home/user/Downloads"),
                added: 1_700_000_000 + u64::from(i) * 60,
                labels: if i % 3 == 0 {
                    vec!["tv".into()]
                } else {
                    Vec::new()
                },
                ..TorrentLine::placeholder(TorrentId(i + 1))
            }
        })
        .map(Arc::new)
        .collect();
    SessionSnapshot {
        torrents,
        down_rate: 50e6,
        up_rate: 5e6,
        listen_port: 6881,
        dht_nodes: Some(300),
        incoming: 12,
        default_save_path: PathBuf::from("/home/user/Downloads"),
        save_error: None,
        ..SessionSnapshot::default()
    }
}

/// One list frame with 10,000 torrents (the order is cached by `on_session`, as the loop
/// does once per session tick), then a new session snapshot (filter + sort) and a frame.
fn bench_list(seed: &mut u64) {
    let snap = Arc::new(session(seed));
    println!("list: {TORRENTS} torrents, {FRAMES} frames each");
    for (label, w, h, setup) in [
        ("list", 200u16, 60u16, &[][..]),
        ("list", 80, 24, &[][..]),
        (
            "list, by name, /tail",
            200,
            60,
            &[
                Action::CycleSort,
                Action::Search,
                Action::Type('t'),
                Action::Type('a'),
                Action::Accept,
            ][..],
        ),
        ("list, scrolled to end", 200, 60, &[Action::End][..]),
    ] {
        let mut terminal = match Terminal::new(TestBackend::new(w, h)) {
            Ok(t) => t,
            Err(_) => return,
        };
        let mut app = App::for_session(PathBuf::from("/tmp/ttui.log"), Theme::colored());
        app.set_viewport(ratatui::layout::Rect::new(0, 0, w, h));
        app.on_session(snap.clone());
        for &a in setup {
            app.handle(a);
        }
        let draw = |t: &mut Terminal<TestBackend>, app: &App, s: &SessionSnapshot| {
            let _ = t.draw(|f| {
                let area = f.area();
                ui::list::render(area, f.buffer_mut(), s, app)
            });
        };
        for _ in 0..20 {
            draw(&mut terminal, &app, &snap);
        }
        let mut times = Vec::with_capacity(FRAMES);
        let cpu = thread_cpu_ns();
        for _ in 0..FRAMES {
            let start = Instant::now();
            draw(&mut terminal, &app, &snap);
            times.push(start.elapsed());
        }
        report(label, w, h, &mut times, cpu_per_frame(cpu, FRAMES));
        // The session path: fold in a new snapshot (filter, search, sort 10,000) and draw.
        let n = FRAMES / 10;
        let mut times = Vec::with_capacity(n);
        let cpu = thread_cpu_ns();
        for _ in 0..n {
            let s = Arc::new((*snap).clone());
            let start = Instant::now();
            app.on_session(s.clone());
            draw(&mut terminal, &app, &s);
            times.push(start.elapsed());
        }
        report(
            &format!("{label} +on_session"),
            w,
            h,
            &mut times,
            cpu_per_frame(cpu, n),
        );
    }
}

fn report(label: &str, w: u16, h: u16, times: &mut [Duration], cpu: String) {
    times.sort();
    let n = times.len();
    let mean = times.iter().sum::<Duration>().as_secs_f64() * 1e6 / n as f64;
    let median = times[n / 2].as_secs_f64() * 1e6;
    let p99 = times[n * 99 / 100].as_secs_f64() * 1e6;
    println!(
        "{label:<30} {w:>3}x{h:<3} wall mean {mean:8.1} µs  median {median:8.1} µs  p99 {p99:8.1} µs  cpu mean {cpu}"
    );
}

fn main() {
    let mut seed = 42;
    if std::env::args().any(|a| a == "list") {
        bench_list(&mut seed);
        return;
    }
    let mut app = App::new(PathBuf::from("/tmp/ttui.log"), Theme::colored());
    // Five minutes of graph history, as after a long run.
    let mut snap = Arc::new(snapshot(0, &mut seed));
    for t in 0..300 {
        let mut s = (*snap).clone();
        s.elapsed = Duration::from_secs(t);
        s.down_rate = (next(&mut seed) % 60_000_000) as f64;
        s.up_rate = (next(&mut seed) % 6_000_000) as f64;
        snap = Arc::new(s);
        app.on_snapshot(snap.clone());
    }
    println!("render: {PEERS} peers, {PIECES} pieces, {FRAMES} frames each");
    // The Pieces tab: the grid over the whole body.
    app.update(Action::ShowTab(2));
    bench("have view", 200, 60, &snap, &mut app);
    bench("have view", 80, 24, &snap, &mut app);
    app.update(Action::TogglePieceView);
    bench("availability view", 200, 60, &snap, &mut app);
    app.update(Action::TogglePieceView);
    app.update(Action::ToggleHelp);
    bench("help open", 200, 60, &snap, &mut app);
    app.update(Action::Back);

    // The snapshot path too: a new snapshot (re-sort 500 peers) then a frame.
    let mut terminal = match Terminal::new(TestBackend::new(200, 60)) {
        Ok(t) => t,
        Err(_) => return,
    };
    let mut times = Vec::with_capacity(FRAMES);
    let mut cpu_ns = 0u64;
    for i in 0..FRAMES {
        let mut s = (*snap).clone();
        s.elapsed = Duration::from_secs(300 + i as u64);
        let s = Arc::new(s);
        let cpu = thread_cpu_ns();
        let start = Instant::now();
        app.on_snapshot(s.clone());
        let _ = terminal.draw(|f| ui::draw(f, &s, &app));
        times.push(start.elapsed());
        if let (Some(a), Some(b)) = (cpu, thread_cpu_ns()) {
            cpu_ns += b.saturating_sub(a);
        }
    }
    times.sort();
    let mean = times.iter().sum::<Duration>().as_secs_f64() * 1e6 / FRAMES as f64;
    let median = times[FRAMES / 2].as_secs_f64() * 1e6;
    let cpu = cpu_ns as f64 / 1e3 / FRAMES as f64;
    println!(
        "{:<22} 200x60  wall mean {mean:8.1} µs  median {median:8.1} µs  cpu mean {cpu:8.1} µs",
        "on_snapshot + frame"
    );
    bench_list(&mut seed);
}
