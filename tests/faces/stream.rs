//! Streaming a file while it downloads (issue 57): a `ttui daemon` serves a torrent's files
//! over HTTP (`ttui stream ID` prints the URL) while a rate-limited python3-libtorrent seeder
//! sends them. A real video made here by ffmpeg: `ffprobe` reads its duration with the
//! torrent at 0 % (the container's index is in the file's last piece, fetched first), `ffmpeg
//! -ss 30` seeks into it and decodes a frame; the bytes served equal the file's at every
//! offset asked; the Range cases; clients that go away leave no connection or reader behind;
//! and a seek to 90 % of a larger file gets its first byte in about a piece's time, not after
//! everything before it.
//!
//! Run through tests/run.sh: every swarm here is on loopback, and the test refuses to run
//! unless the process sits in a network namespace whose only interface is `lo`.
// A test crate: it may unwrap, and nothing in it is reachable from outside anyway.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use crate::common;
use crate::kit;
use crate::prereq;
use crate::tmux;

use std::collections::HashMap;
use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use kit::*;
use serde_json::Value;

/// Seconds of test pattern in the video.
const VIDEO_SECS: u32 = 40;
/// How long one HTTP exchange or ffmpeg run may take.
const IO_WAIT: Duration = Duration::from_secs(60);

fn setup() -> Option<(SwarmGuard, Env)> {
    require_loopback_only();
    if !prereq::have_python_libtorrent() || !prereq::have_tools(&["ffmpeg", "ffprobe"]) {
        return None;
    }
    let lock = swarm_lock();
    Some((lock, Env::new("ttui-stream-")))
}

/// A 320x240 MPEG-4 video of the test pattern, a key frame every second, its index (`moov`)
/// at the end as ffmpeg writes it by default: a player needs the last piece first.
fn make_video(path: &Path) {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!(
            "testsrc=duration={VIDEO_SECS}:size=320x240:rate=10"
        ))
        .args(["-c:v", "mpeg4", "-q:v", "4", "-g", "10"])
        .arg(path)
        .output()
        .expect("ffmpeg");
    assert!(out.status.success(), "ffmpeg: {:?}", out);
}

/// Bytes from a simple generator, for the files that are not the video.
fn filler(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
    (0..len)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 33) as u8
        })
        .collect()
}

/// The payload `show/` (a note, the video, a blob) under `data`, its trackerless torrent in
/// pieces of 2^`piece_log2`, and a libtorrent seeder limited to `rate` B/s.
struct Swarm {
    torrent: Torrent,
    data: PathBuf,
    seed: LibtorrentSeeder,
}

fn swarm(env: &Env, files: &[(&str, Option<Vec<u8>>)], piece_log2: u32, rate: u64) -> Swarm {
    let fixtures = env.root.path().join("fixtures");
    let data = fixtures.join("data");
    let dir = data.join("show");
    fs::create_dir_all(&dir).unwrap();
    for (name, bytes) in files {
        match bytes {
            Some(b) => fs::write(dir.join(name), b).unwrap(),
            None => make_video(&dir.join(name)),
        }
    }
    let made = mktorrent(&dir, piece_log2, &fixtures.join("show-made.torrent"));
    let torrent = made.with_trackers(&fixtures.join("show.torrent"), None, &[]);
    let opts = LtOptions {
        seed_mode: true,
        upload_limit: rate,
        counters: true,
        ..LtOptions::default()
    };
    let seed = LibtorrentSeeder::start(&torrent, &data, opts);
    Swarm {
        torrent,
        data,
        seed,
    }
}

/// Adds the torrent to the daemon; its id.
fn add(env: &Env, t: &Torrent) -> String {
    let added = env.verb(&["add", "--json", t.path.to_str().unwrap()]);
    assert_eq!(added.code, 0, "{added:?}");
    let results: Vec<Value> = serde_json::from_str(&added.stdout).unwrap();
    results[0]["id"].to_string()
}

/// `ttui stream ID [FILE] --json`: (URL, file index, path).
fn stream_url(env: &Env, id: &str, file: Option<usize>) -> (String, usize, String) {
    let mut args = vec!["stream".to_string(), id.to_string(), "--json".into()];
    if let Some(f) = file {
        args.insert(2, f.to_string());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = env.verb(&args);
    assert_eq!(out.code, 0, "{out:?}");
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    (
        v["url"].as_str().unwrap().to_string(),
        v["file"].as_u64().unwrap() as usize,
        v["path"].as_str().unwrap().to_string(),
    )
}

/// The server's address and the request path of a stream URL.
fn split_url(url: &str) -> (SocketAddr, String) {
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_at(rest.find('/').unwrap());
    (host.parse().unwrap(), path.to_string())
}

/// A response: status, headers by lower-cased name, body.
#[derive(Debug)]
struct Reply {
    status: u16,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

/// One HTTP/1.1 request with `Connection: close`; the whole response (bounded in time).
fn request(addr: SocketAddr, method: &str, path: &str, extra: &str) -> Reply {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(IO_WAIT)).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{extra}\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let end = find(&raw, b"\r\n\r\n").expect("no end of head");
    let head = String::from_utf8_lossy(&raw[..end]).to_string();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Reply {
        status,
        headers,
        body: raw[end + 4..].to_vec(),
    }
}

fn get_range(addr: SocketAddr, path: &str, range: &str) -> Reply {
    request(addr, "GET", path, &format!("Range: {range}\r\n"))
}

/// `/status` of the stream server: (connections, readers).
fn status(addr: SocketAddr) -> (u64, u64) {
    let r = request(addr, "GET", "/status", "");
    let v: Value = serde_json::from_slice(&r.body).unwrap();
    (
        v["connections"].as_u64().unwrap(),
        v["reading"].as_u64().unwrap(),
    )
}

/// Polls until no connection but the one asking and no reader is left.
fn wait_idle(addr: SocketAddr, what: &str) {
    let start = Instant::now();
    loop {
        let (conns, reading) = status(addr);
        // The connection asking is one.
        if conns <= 1 && reading == 0 {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "{what}: {conns} connections and {reading} readers still open"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn row<'a>(rows: &'a [Value], hash: &str) -> &'a Value {
    row_of(rows, hash)
}

#[test]
fn a_video_plays_and_seeks_while_it_downloads() {
    let Some((_lock, env)) = setup() else {
        return;
    };
    let note = filler(70_000, 1);
    let blob = filler(300_000, 2);
    // 32 KiB pieces at 150 KB/s: the whole torrent takes several seconds or more.
    let sw = swarm(
        &env,
        &[
            ("a-note.txt", Some(note)),
            ("b-blob.bin", Some(blob)),
            ("film.mp4", None),
        ],
        15,
        150_000,
    );
    let film = sw.data.join("show/film.mp4");
    let film_bytes = fs::read(&film).unwrap();
    let hash = sw.torrent.hash_hex();
    let mut daemon = Daemon::start(&env, "1", &["--peer".into(), sw.seed.addr().to_string()]);
    let id = add(&env, &sw.torrent);

    // No file named: the largest media file.
    let (url, index, path) = stream_url(&env, &id, None);
    assert_eq!(path, "show/film.mp4");
    assert_eq!(index, 2);
    assert_eq!(stream_url(&env, &id, Some(2)).0, url);
    let bad = env.verb(&["stream", &id, "9"]);
    assert_ne!(bad.code, 0, "{bad:?}");
    assert!(bad.stderr.contains("file 9 does not exist"), "{bad:?}");

    // `ttui play` starts $TTUI_PLAYER with the URL; this one records it and reads the first
    // 64 KiB from it.
    let got = env.root.path().join("player-got");
    let player = env.root.path().join("player.sh");
    fs::write(
        &player,
        format!(
            "#!/bin/sh\nexec /usr/bin/python3 -c 'import sys, urllib.request\n\
             d = urllib.request.urlopen(sys.argv[1], timeout=60).read(65536)\n\
             open(sys.argv[2] + \".part\", \"wb\").write(sys.argv[1].encode() + b\"\\n\" + d)\n\
             import os; os.rename(sys.argv[2] + \".part\", sys.argv[2])' \"$1\" {}\n",
            got.display()
        ),
    )
    .unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&player, fs::Permissions::from_mode(0o755)).unwrap();
    }
    let mut play = env.ttui();
    play.args(["play", &id, "--state-dir"])
        .arg(&env.state)
        .env("TTUI_PLAYER", &player);
    let played = run(play, "ttui play");
    assert_eq!(played.code, 0, "{played:?}");
    assert!(player_read(&got, &url) == film_bytes[..65536]);

    // ffprobe at the start of the download: the container's duration, read through the
    // stream (its index at the file's end was fetched first).
    let started = Instant::now();
    let probe = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "format=duration",
            "-of",
            "csv=p=0",
        ])
        .arg(&url)
        .output()
        .unwrap();
    assert!(
        probe.status.success(),
        "ffprobe: {probe:?}\n{}",
        daemon.report()
    );
    let secs: f64 = String::from_utf8_lossy(&probe.stdout)
        .trim()
        .parse()
        .unwrap();
    assert!(
        (secs - f64::from(VIDEO_SECS)).abs() < 1.0,
        "duration {secs}"
    );
    let rows = env.list();
    let r = row(&rows, &hash);
    eprintln!(
        "ffprobe took {:?}; the torrent then had {} of {} bytes",
        started.elapsed(),
        r["verified_bytes"],
        r["total_bytes"]
    );
    assert!(
        r["verified_bytes"].as_u64().unwrap() < r["total_bytes"].as_u64().unwrap(),
        "the torrent was complete before ffprobe finished: nothing was streamed\n{r}"
    );

    // Seek to 30 s and decode one frame.
    let frame = env.root.path().join("frame.png");
    let seek = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-ss", "30", "-i"])
        .arg(&url)
        .args(["-frames:v", "1"])
        .arg(&frame)
        .output()
        .unwrap();
    assert!(seek.status.success(), "ffmpeg -ss 30: {seek:?}");
    assert!(fs::metadata(&frame).unwrap().len() > 1000, "no frame");

    // The bytes served are the file's, wherever asked; the Range cases.
    let (addr, path) = split_url(&url);
    let len = film_bytes.len();
    for (first, last) in [
        (0, 0),
        (1000, 70_000),
        (len / 2, len / 2 + 40_000),
        (len - 10, len - 1),
    ] {
        let r = get_range(addr, &path, &format!("bytes={first}-{last}"));
        assert_eq!(r.status, 206, "{first}-{last}: {:?}", r.headers);
        assert_eq!(
            r.headers.get("content-range").map(String::as_str),
            Some(format!("bytes {first}-{last}/{len}").as_str())
        );
        assert_eq!(
            r.headers.get("accept-ranges").map(String::as_str),
            Some("bytes")
        );
        assert_eq!(
            r.headers.get("content-type").map(String::as_str),
            Some("video/mp4")
        );
        assert!(
            r.body == film_bytes[first..=last],
            "bytes {first}-{last} differ"
        );
    }
    let whole = request(addr, "GET", &path, "");
    assert_eq!(whole.status, 200);
    assert_eq!(
        whole.headers.get("content-length").map(String::as_str),
        Some(len.to_string().as_str())
    );
    assert!(whole.body == film_bytes, "the whole file differs");
    let open = get_range(addr, &path, "bytes=0-");
    assert_eq!(open.status, 206);
    assert_eq!(open.body.len(), len);
    let suffix = get_range(addr, &path, "bytes=-500");
    assert_eq!(suffix.status, 206);
    assert!(suffix.body == film_bytes[len - 500..]);
    let past = get_range(addr, &path, &format!("bytes={len}-"));
    assert_eq!(past.status, 416);
    assert_eq!(
        past.headers.get("content-range").map(String::as_str),
        Some(format!("bytes */{len}").as_str())
    );
    let head = request(addr, "HEAD", &path, "");
    assert_eq!(head.status, 200);
    assert_eq!(
        head.headers.get("content-length").map(String::as_str),
        Some(len.to_string().as_str())
    );
    assert!(head.body.is_empty());
    let note_path = format!("{}/0", path.rsplit_once('/').unwrap().0);
    let note = request(addr, "GET", &note_path, "");
    assert_eq!(
        note.headers.get("content-type").map(String::as_str),
        Some("text/plain; charset=UTF-8")
    );
    assert!(note.body == fs::read(sw.data.join("show/a-note.txt")).unwrap());
    assert_eq!(request(addr, "GET", "/stream/00/0", "").status, 404);
    let playlist = request(addr, "GET", &format!("/playlist/{hash}.m3u"), "");
    let text = String::from_utf8_lossy(&playlist.body);
    assert!(text.starts_with("#EXTM3U\n"), "{text}");
    assert!(text.contains(&url) && !text.contains("/0\n"), "{text}");
    let all = request(addr, "GET", "/playlist.m3u", "");
    assert!(String::from_utf8_lossy(&all.body).contains(&url));

    // A client that goes away mid-read, and 100 that open and close at once: nothing stays.
    {
        let mut s = TcpStream::connect(addr).unwrap();
        write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
        let mut first = [0u8; 512];
        s.set_read_timeout(Some(IO_WAIT)).unwrap();
        s.read_exact(&mut first).unwrap();
    }
    let many: Vec<TcpStream> = (0..100)
        .map(|i| {
            let mut s = TcpStream::connect(addr).unwrap();
            let at = (i * 7919) % len;
            write!(
                s,
                "GET {path} HTTP/1.1\r\nHost: {addr}\r\nRange: bytes={at}-\r\n\r\n"
            )
            .unwrap();
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    drop(many);
    wait_idle(addr, "after 100 streams closed");
    daemon.assert_alive("after the streams");
}

/// What a test player recorded in `got` (the URL it was given, a newline, the bytes it read),
/// once it has: the bytes, after checking the URL.
fn player_read(got: &Path, url: &str) -> Vec<u8> {
    let start = Instant::now();
    while !got.exists() {
        assert!(start.elapsed() < IO_WAIT, "the player read nothing");
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut recorded = fs::read(got).unwrap();
    let line_end = find(&recorded, b"\n").unwrap();
    assert_eq!(String::from_utf8_lossy(&recorded[..line_end]), url);
    recorded.drain(..=line_end);
    recorded
}

/// `P` on the Files tab of the session screen (`ttui attach` under tmux): $TTUI_PLAYER gets
/// the file's stream URL and reads its first 256 KiB from it, and while it holds the stream open
/// the file's row says where it reads and how far ahead ttui fetches.
#[test]
fn p_on_the_files_tab_plays_the_file_while_it_downloads() {
    let Some((_lock, env)) = setup() else {
        return;
    };
    if !prereq::have_tools(&["tmux"]) {
        return;
    }
    let sw = swarm(
        &env,
        &[("a-note.txt", Some(filler(70_000, 3))), ("film.mp4", None)],
        15,
        // Slow enough that the film is still downloading, and its stream still open, when
        // the row is read: a stream whose body is all sent leaves the list.
        60_000,
    );
    let film_bytes = fs::read(sw.data.join("show/film.mp4")).unwrap();
    let mut daemon = Daemon::start(&env, "1", &["--peer".into(), sw.seed.addr().to_string()]);
    let id = add(&env, &sw.torrent);
    let (url, ..) = stream_url(&env, &id, Some(1));

    // The player: records its pid, its argument and the first 256 KiB it read, then keeps the
    // stream open a while, as a player that is playing does.
    let root = env.root.path();
    let (got, pid_file, player) = (
        root.join("tui-got"),
        root.join("tui-pid"),
        root.join("p.sh"),
    );
    fs::write(
        &player,
        format!(
            "#!/bin/sh\necho $$ > {pid}\nexec /usr/bin/python3 -c 'import sys, time, os\n\
             import urllib.request\n\
             r = urllib.request.urlopen(sys.argv[1], timeout=60)\n\
             d = r.read(1 << 18)\n\
             open(sys.argv[2] + \".part\", \"wb\").write(sys.argv[1].encode() + b\"\\n\" + d)\n\
             os.rename(sys.argv[2] + \".part\", sys.argv[2])\n\
             time.sleep(30)' \"$1\" {got}\n",
            pid = pid_file.display(),
            got = got.display()
        ),
    )
    .unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&player, fs::Permissions::from_mode(0o755)).unwrap();
    }
    let shell = format!(
        "env -u XDG_RUNTIME_DIR XDG_STATE_HOME='{root}' XDG_DATA_HOME='{root}' \
         TTUI_NO_PUBLIC_ROUTERS=1 TTUI_PLAYER='{player}' '{bin}' attach --state-dir '{state}'; \
         sleep 60",
        root = root.display(),
        player = player.display(),
        bin = env!("CARGO_BIN_EXE_ttui"),
        state = env.state.display(),
    );
    let pane = tmux::Tmux::start(140, 40, &shell);
    let wait = Duration::from_secs(30);
    let report = || daemon.log_text();
    pane.wait_for("the torrent in the list", wait, report, |s| {
        s.contains("show")
    });
    pane.keys(&["Enter"]);
    pane.wait_for("the detail view", wait, report, |s| s.contains("Peers"));
    pane.keys(&["4"]);
    pane.wait_for("the Files tab", wait, report, |s| s.contains("film.mp4"));
    // The tree: the folder, the note, the film.
    pane.keys(&["j", "j", "P"]);
    pane.wait_for("the player started", wait, report, |s| {
        s.contains("playing with") || s.contains("play:")
    });
    let read = &player_read(&got, &url)[..];
    assert_eq!(read.len(), film_bytes.len().min(1 << 18));
    assert!(
        read == &film_bytes[..read.len()],
        "the player read other bytes"
    );
    let screen = pane.wait_for("the stream on the film's row", wait, report, |s| {
        s.lines()
            .any(|l| l.contains("film.mp4") && l.contains("▶") && l.contains("% read"))
    });
    eprintln!("{screen}");
    if let Some(pid) = fs::read_to_string(&pid_file)
        .ok()
        .and_then(|p| p.trim().parse::<i32>().ok())
    {
        let _ = Command::new("kill").arg(pid.to_string()).status();
    }
    drop(pane);
    daemon.assert_alive("after the player");
}

#[test]
fn a_seek_gets_its_first_byte_in_about_a_piece_time() {
    let Some((_lock, env)) = setup() else {
        return;
    };
    // 256 MiB in 256 KiB pieces from a seeder sending 4 MiB/s: all of it takes ~64 s, one
    // piece ~0.06 s.
    const PIECE: usize = 256 << 10;
    const RATE: u64 = 4 << 20;
    let big = filler(256 << 20, 3);
    let sw = swarm(&env, &[("big.bin", Some(big.clone()))], 18, RATE);
    let mut daemon = Daemon::start(&env, "1", &["--peer".into(), sw.seed.addr().to_string()]);
    let id = add(&env, &sw.torrent);
    let (url, _, _) = stream_url(&env, &id, Some(0));
    let (addr, path) = split_url(&url);

    let start = get_range(addr, &path, "bytes=0-65535");
    assert!(start.body == big[..65536]);
    // The pipeline fills with the window after the start; then the reader jumps.
    std::thread::sleep(Duration::from_secs(1));
    let cancels = || sw.seed.counter("ses.num_incoming_cancel").unwrap_or(0);
    let cancels_before = cancels();
    let at = big.len() * 9 / 10;
    let asked = Instant::now();
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(IO_WAIT)).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nRange: bytes={at}-\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    // The head comes with the first bytes: read until the body starts.
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    while find(&raw, b"\r\n\r\n").is_none_or(|e| raw.len() < e + 4 + 16) {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "closed before the first bytes");
        raw.extend_from_slice(&buf[..n]);
    }
    let took = asked.elapsed();
    let rows = env.list();
    let verified = row(&rows, &sw.torrent.hash_hex())["verified_bytes"]
        .as_u64()
        .unwrap();
    eprintln!("first byte after the seek in {took:?}; {verified} bytes verified then");
    let e = find(&raw, b"\r\n\r\n").unwrap();
    assert!(raw[e + 4..e + 20] == big[at..at + 16]);
    // `show --json` lists the stream while its response is still being sent.
    let shown = env.verb(&["show", &id, "--json"]);
    assert_eq!(shown.code, 0, "{shown:?}");
    let detail: Value = serde_json::from_str(&shown.stdout).unwrap();
    let streams = detail["streams"].as_array().unwrap();
    assert_eq!(streams.len(), 1, "{}", detail["streams"]);
    assert_eq!(streams[0]["file"], 0);
    assert!(streams[0]["position"].as_u64().unwrap() >= at as u64);
    assert!(streams[0]["window"].is_array(), "{}", streams[0]);
    drop(s);
    // The seeder's counters are written four times a second.
    std::thread::sleep(Duration::from_millis(600));
    let cancelled = cancels() - cancels_before;
    let dropped = sw
        .seed
        .counter("peer.cancelled_piece_requests")
        .unwrap_or(0);
    let piece_time = Duration::from_secs_f64(PIECE as f64 / RATE as f64);
    eprintln!("one piece takes {piece_time:?} at the seeder's rate; {cancelled} requests cancelled at it after the seek, {dropped} of them before it sent them");
    assert!(
        cancelled > 0,
        "no queued request was cancelled at the seeder when the reader jumped\n{}",
        daemon.report()
    );
    // About a piece's time, on top of what the seeder had already read for the wire (it
    // sends in half-second ticks under its limit). Timings belong in benchmarks, so this only
    // tells a working seek (~0.5 s here) from one that waits for what lies before it (~55 s)
    // on a loaded machine.
    assert!(
        took < Duration::from_secs(4),
        "the first byte after a seek to 90 % took {took:?} (one piece: {piece_time:?})\n{}",
        daemon.report()
    );
    assert!(
        verified < big.len() as u64 * 3 / 4,
        "most of the file ({verified} B) was fetched before the seek's first byte"
    );
}
