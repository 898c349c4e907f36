//! Web seeds (BEP 19, `url-list`): ttui completes byte-identical from an HTTP server alone
//! (single-file, and multi-file with a space and a non-ASCII letter in the names, so the
//! path is percent-encoded), and a server that answers 404 or cuts the body short shows its
//! reason while the download completes from a libtorrent peer.
//!
//! Run through tests/run.sh: tests that start third-party clients refuse to run unless the
//! process sits in a network namespace whose only interface is `lo`.

mod common;
mod prereq;

use std::fs;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::Command;

use common::*;

const PIECE_LOG2: u32 = 18;

/// An HTTP/1.1 file server with Range support (python's http.server has none). `mode`:
/// `ok`, `404` (every request), `short` (promises the range, sends 12 bytes, hangs up),
/// `corrupt` (the right length of wrong bytes).
const SERVER_PY: &str = r#"
import http.server, os, sys, urllib.parse
ip, port, root, mode = sys.argv[1], int(sys.argv[2]), os.path.realpath(sys.argv[3]), sys.argv[4]

class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stdout.write("request " + (fmt % args) + "\n")
        sys.stdout.flush()

    def fail(self, code):
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self):
        rel = urllib.parse.unquote(self.path.split("?")[0]).lstrip("/")
        path = os.path.realpath(os.path.join(root, rel))
        if mode == "404" or not path.startswith(root + os.sep) or not os.path.isfile(path):
            return self.fail(404)
        size = os.path.getsize(path)
        start, end, status = 0, size - 1, 200
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes="):
            a, _, b = rng[6:].partition("-")
            start, end, status = int(a), min(int(b) if b else size - 1, size - 1), 206
            if start > end:
                return self.fail(416)
        n = end - start + 1
        self.send_response(status)
        if status == 206:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, end, size))
        self.send_header("Content-Length", str(n))
        self.end_headers()
        with open(path, "rb") as f:
            f.seek(start)
            if mode == "short":
                self.wfile.write(f.read(min(12, n)))
                self.close_connection = True
                return
            body = f.read(n)
            if mode == "corrupt":
                body = bytes(b ^ 0x5A for b in body)
            self.wfile.write(body)

srv = http.server.ThreadingHTTPServer((ip, port), H)
srv.daemon_threads = True
print("ready", flush=True)
srv.serve_forever()
"#;

/// The python server on its own 127.0.0.x serving `root`; killed by pid on drop.
struct HttpSeed {
    proc: Proc,
    _dir: tempfile::TempDir,
    addr: SocketAddr,
}

impl HttpSeed {
    fn start(root: &Path, mode: &str) -> HttpSeed {
        let dir = tempdir("ttui-webseed-srv-");
        let script = dir.path().join("server.py");
        fs::write(&script, SERVER_PY).expect("write server.py");
        let ip: Ipv4Addr = loopback_ip();
        let port = free_port();
        let mut cmd = Command::new("python3");
        cmd.arg(&script)
            .args([ip.to_string(), port.to_string()])
            .arg(root)
            .arg(mode);
        let mut proc = Proc::spawn("http_seed", &mut cmd, dir.path());
        proc.wait_for_stdout("the HTTP server", "ready", WAIT);
        HttpSeed {
            proc,
            _dir: dir,
            addr: SocketAddr::from((ip, port)),
        }
    }

    fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    fn requests(&self) -> usize {
        self.proc.stdout_text().matches("request ").count()
    }
}

/// mktorrent with one `url-list` entry.
fn make_torrent(payload: &Path, url: &str, out: &Path) -> Torrent {
    let res = Command::new("mktorrent")
        .args(["-a", DEAD_TRACKER, "-w", url])
        .args(["-l", &PIECE_LOG2.to_string(), "-t", "2", "-o"])
        .arg(out)
        .arg(payload)
        .output()
        .expect("run mktorrent");
    assert!(
        res.status.success(),
        "mktorrent: {}",
        String::from_utf8_lossy(&res.stderr)
    );
    Torrent::load(out)
}

fn ttui_args(torrent: &Torrent, out: &Path, log: &Path, peer: Option<SocketAddr>) -> Vec<String> {
    let mut v: Vec<String> = vec![
        torrent.path.display().to_string(),
        "-o".into(),
        out.display().to_string(),
        "--headless".into(),
        "--no-trackers".into(),
        "--no-dht".into(),
        "--bind".into(),
        "127.0.0.1".into(),
        "--port".into(),
        free_port().to_string(),
        "--log-file".into(),
        log.display().to_string(),
    ];
    if let Some(p) = peer {
        v.extend(["--peer".into(), p.to_string()]);
    }
    v
}

/// Downloads `payload` (under `data`) from a web seed alone and compares the bytes.
fn complete_from_web_seed_alone(data: &Path, payload: &Path) {
    let work = tempdir("ttui-webseed-");
    let server = HttpSeed::start(data, "ok");
    let torrent = make_torrent(payload, &server.url(), &work.path().join("t.torrent"));
    let out = work.path().join("out");
    let log = work.path().join("ttui.log");
    let done = Ttui::run(ttui_args(&torrent, &out, &log, None), DOWNLOAD_TIMEOUT);
    done.assert_success("download from the web seed");
    let name = payload.file_name().expect("payload name");
    assert_same_tree(payload, &out.join(name));
    assert!(server.requests() > 0, "the server saw no request");
}

#[test]
fn single_file_completes_from_the_web_seed_alone() {
    require_loopback_only();
    if !prereq::have_tools(&["mktorrent", "python3"]) {
        return;
    }
    let data = tempdir("ttui-webseed-data-");
    // Not a multiple of the piece length: the last piece is short.
    let payload = make_single_file_payload(data.path(), "single.bin", (5 << 20) + 1234, 11);
    complete_from_web_seed_alone(data.path(), &payload);
}

#[test]
fn multi_file_with_odd_names_completes_from_the_web_seed_alone() {
    require_loopback_only();
    if !prereq::have_tools(&["mktorrent", "python3"]) {
        return;
    }
    let data = tempdir("ttui-webseed-data-");
    let root = data.path().join("web multi");
    // Pieces straddle files; names need percent-encoding (a space, "ü", a '#').
    make_single_file_payload(&root.join("dir a"), "über file.bin", (2 << 20) + 77, 1);
    make_single_file_payload(&root.join("dir a"), "tiny #1.txt", 9, 2);
    make_single_file_payload(&root, "b.bin", (1 << 20) + 3, 3);
    complete_from_web_seed_alone(data.path(), &root);
}

/// A failing web seed: its reason reaches the log, and a libtorrent peer completes the job.
fn failing_web_seed_then_a_peer(mode: &str, reason: &str) {
    let data = tempdir("ttui-webseed-data-");
    let payload = make_single_file_payload(data.path(), "fallback.bin", (4 << 20) + 99, 21);
    let server = HttpSeed::start(data.path(), mode);
    let work = tempdir("ttui-webseed-");
    let torrent = make_torrent(&payload, &server.url(), &work.path().join("t.torrent"));
    // Slow enough that the web seed fails well before the peer has sent everything.
    let seeder = LibtorrentPeer::start(
        &torrent,
        data.path(),
        LtOptions {
            seed_mode: true,
            upload_limit: 2 << 20,
            ..LtOptions::default()
        },
    );
    let out = work.path().join("out");
    let log = work.path().join("ttui.log");
    let done = Ttui::run(
        ttui_args(&torrent, &out, &log, Some(seeder.addr())),
        DOWNLOAD_TIMEOUT,
    );
    done.assert_success("download from the peer despite the web seed");
    eprintln!("{mode}: complete in {:?}", done.elapsed);
    assert_same_tree(&payload, &out.join("fallback.bin"));
    let text = fs::read_to_string(&log).unwrap_or_default();
    let want = format!("web seed {}: {reason}", server.url());
    assert!(
        text.contains(&want),
        "no {want:?} in the log:\n{}",
        last_lines(&text, 40)
    );
    assert!(server.requests() > 0, "the server saw no request");
}

#[test]
fn a_404_web_seed_shows_why_and_a_peer_completes() {
    require_loopback_only();
    if !prereq::have_python_libtorrent() || !prereq::have_tools(&["mktorrent", "python3"]) {
        return;
    }
    failing_web_seed_then_a_peer("404", "HTTP 404; retrying in 5 s");
}

#[test]
fn a_short_body_shows_why_and_a_peer_completes() {
    require_loopback_only();
    if !prereq::have_python_libtorrent() || !prereq::have_tools(&["mktorrent", "python3"]) {
        return;
    }
    // Any piece may be the web seed's first: the torrent's last one is shorter than the rest,
    // so the expected length is left open.
    failing_web_seed_then_a_peer("short", "short body (12 of ");
}

#[test]
fn a_web_seed_sending_bad_data_is_dropped_and_a_peer_completes() {
    require_loopback_only();
    if !prereq::have_python_libtorrent() || !prereq::have_tools(&["mktorrent", "python3"]) {
        return;
    }
    // Two pieces it alone sent failing their hash are enough to stop using it.
    failing_web_seed_then_a_peer("corrupt", "sent bad data (2 hash failures); not used again");
}
