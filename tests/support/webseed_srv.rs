//! A web seed for tests (BEP 19): python's threading HTTP server with Range support on its
//! own 127.0.0.x, serving a folder; killed by pid on drop. Shared by the web seed tests and
//! the rate limit tests.
#![allow(dead_code)]

use std::fs;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::Command;

use crate::common::*;

/// An HTTP/1.1 file server with Range support (python's http.server has none). `mode`:
/// `ok`, `404` (every request), `short` (promises the range, sends 12 bytes, hangs up),
/// `corrupt` (the right length of wrong bytes).
const SERVER_PY: &str = r#"
import http.server, os, sys, urllib.parse
ip, port, root, mode = sys.argv[1], int(sys.argv[2]), os.path.realpath(sys.argv[3]), sys.argv[4]

class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stdout.write("request from %s: %s\n" % (self.client_address[0], fmt % args))
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
pub struct HttpSeed {
    proc: Proc,
    _dir: tempfile::TempDir,
    addr: SocketAddr,
}

impl HttpSeed {
    pub fn start(root: &Path, mode: &str) -> HttpSeed {
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

    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    pub fn requests(&self) -> usize {
        self.proc.stdout_text().matches("request ").count()
    }

    /// The addresses the requests came from, each once.
    pub fn clients(&self) -> Vec<String> {
        let mut out: Vec<String> = (self.proc.stdout_text().lines())
            .filter_map(|l| l.strip_prefix("request from ")?.split(':').next())
            .map(str::to_string)
            .collect();
        out.sort();
        out.dedup();
        out
    }
}

/// mktorrent with one `url-list` entry and 2^`piece_log2`-byte pieces.
pub fn make_torrent_with_url(payload: &Path, url: &str, piece_log2: u32, out: &Path) -> Torrent {
    let res = Command::new("mktorrent")
        .args(["-a", DEAD_TRACKER, "-w", url])
        .args(["-l", &piece_log2.to_string(), "-t", "2", "-o"])
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
