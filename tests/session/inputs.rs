//! Where a .torrent comes from (a file, `-`, an http(s) URL) and what `ttui peers` says when
//! no tracker answers. Every server here is a thread on 127.0.0.1 started by the test.
// A test crate: it may unwrap, and nothing in it is reachable from outside anyway.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ttui::internals::protocol::metainfo::{encode_torrent, hash_pieces};

const FIXTURE: &str = "tests/fixtures/mktorrent-multi.torrent";
/// Bound on every command run here.
const RUN_LIMIT: Duration = Duration::from_secs(60);

/// Runs ttui with proxies off (every URL here is loopback), killing it past `RUN_LIMIT`.
fn ttui(args: &[&str], stdin: Stdio) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ttui"))
        .args(args)
        .env("NO_PROXY", "*")
        .env_remove("http_proxy")
        .env_remove("https_proxy")
        .env_remove("HTTP_PROXY")
        .env_remove("HTTPS_PROXY")
        .env_remove("ALL_PROXY")
        .env_remove("all_proxy")
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ttui");
    let t0 = Instant::now();
    loop {
        if child.try_wait().expect("wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        if t0.elapsed() > RUN_LIMIT {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "ttui {args:?} still running after {RUN_LIMIT:?}; stderr: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn assert_one_line_error(o: &Output, needle: &str) {
    let e = stderr(o);
    assert_eq!(o.status.code(), Some(1), "stderr: {e}");
    assert!(e.contains(needle), "wanted {needle:?} in: {e}");
    assert_eq!(e.trim_end().lines().count(), 1, "not one line: {e}");
}

/// A one-thread HTTP server on 127.0.0.1 answering every request with `respond`, until the
/// test drops it.
struct Server {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    fn start(respond: impl Fn(&str, &mut TcpStream) + Send + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("addr");
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((mut s, _)) => {
                        let _ = s.set_nonblocking(false);
                        let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                        let mut line = String::new();
                        let mut r = BufReader::new(s.try_clone().expect("clone"));
                        let _ = r.read_line(&mut line);
                        // Skip the headers.
                        loop {
                            let mut h = String::new();
                            if r.read_line(&mut h).unwrap_or(0) <= 2 {
                                break;
                            }
                        }
                        let path = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
                        respond(&path, &mut s);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Server {
            addr,
            stop,
            thread: Some(thread),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn reply(s: &mut TcpStream, status: &str, body: &[u8]) {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = s.write_all(head.as_bytes());
    let _ = s.write_all(body);
}

fn fixture() -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE)).expect("fixture")
}

fn fixture_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE)
}

#[test]
fn info_from_a_url_matches_info_from_the_file() {
    let body = fixture();
    let server = Server::start(move |path, s| match path {
        "/a.torrent" => reply(s, "200 OK", &body),
        "/redirect" => {
            let _ = s.write_all(
                b"HTTP/1.1 302 Found\r\nLocation: /a.torrent\r\nContent-Length: 0\r\n\r\n",
            );
        }
        _ => reply(s, "404 Not Found", b"no"),
    });
    let from_file = ttui(&["info", fixture_path().to_str().unwrap()], Stdio::null());
    assert!(from_file.status.success(), "{}", stderr(&from_file));
    for path in ["/a.torrent", "/redirect"] {
        let from_url = ttui(&["info", &server.url(path)], Stdio::null());
        assert!(from_url.status.success(), "{path}: {}", stderr(&from_url));
        assert_eq!(stdout(&from_url), stdout(&from_file));
    }
    let missing = ttui(&["info", &server.url("/missing.torrent")], Stdio::null());
    assert_one_line_error(&missing, "HTTP 404");
    let refused = TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}/x.torrent", refused.local_addr().unwrap());
    drop(refused);
    let o = ttui(&["info", &dead], Stdio::null());
    assert_one_line_error(&o, "refused");
}

#[test]
fn a_url_serving_more_than_64_mib_is_cut_off() {
    // Endless body without a length, and a Content-Length past the cap.
    let server = Server::start(|path, s| {
        if path == "/declared" {
            let _ = s.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Length: 100000000\r\nConnection: close\r\n\r\nd",
            );
            return;
        }
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
        let chunk = vec![b'x'; 1 << 20];
        for _ in 0..80 {
            if s.write_all(&chunk).is_err() {
                return;
            }
        }
    });
    for path in ["/endless", "/declared"] {
        let o = ttui(&["info", &server.url(path)], Stdio::null());
        assert_one_line_error(&o, "larger than 64 MiB");
    }
}

#[test]
fn a_file_past_the_cap_is_refused_without_reading_it_all() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.torrent");
    let f = std::fs::File::create(&big).unwrap();
    // Sparse: 65 MiB of zeros that take no disk.
    f.set_len(65 << 20).unwrap();
    drop(f);
    let o = ttui(&["info", big.to_str().unwrap()], Stdio::null());
    assert_one_line_error(&o, "larger than 64 MiB");
}

#[test]
fn dev_zero_fails_fast_within_bounded_memory() {
    // Under a 1 GiB address-space limit, reading /dev/zero whole dies of allocation failure
    // (SIGABRT); a capped read gives the one-line error.
    for args in [
        "exec \"$0\" info /dev/zero",
        "exec \"$0\" info - < /dev/zero",
    ] {
        let o = Command::new("bash")
            .args(["-c", &format!("ulimit -v 1048576; {args}")])
            .arg(env!("CARGO_BIN_EXE_ttui"))
            .output()
            .expect("bash");
        assert_one_line_error(&o, "larger than 64 MiB");
    }
}

#[test]
fn info_reads_stdin_given_dash() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ttui"))
        .args(["info", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(&fixture())
        .expect("write");
    let o = child.wait_with_output().expect("wait");
    let from_file = ttui(&["info", fixture_path().to_str().unwrap()], Stdio::null());
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), stdout(&from_file));
}

fn torrent_with_trackers(dir: &Path, trackers: &[String]) -> PathBuf {
    let data = vec![1u8; 1000];
    let tiers: Vec<Vec<String>> = trackers.iter().map(|t| vec![t.clone()]).collect();
    let bytes = encode_torrent(
        "p",
        &[(vec![], 1000)],
        16384,
        &hash_pieces(&data, 16384),
        &tiers,
        false,
        None,
    );
    let path = dir.join("p.torrent");
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn peers_fails_when_no_tracker_answers() {
    let dir = tempfile::tempdir().unwrap();
    let dead = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/announce", dead.local_addr().unwrap());
    drop(dead);
    let t = torrent_with_trackers(dir.path(), &[url]);
    let o = ttui(
        &["peers", t.to_str().unwrap(), "--port", "6999"],
        Stdio::null(),
    );
    assert_eq!(o.status.code(), Some(1), "stderr: {}", stderr(&o));
    assert!(stderr(&o).contains("no tracker answered"), "{}", stderr(&o));
    assert!(stdout(&o).is_empty());
}

#[test]
fn peers_counts_distinct_peers() {
    // One tracker lists the same peer three times and another once; one more is dead.
    let mut compact = Vec::new();
    for _ in 0..3 {
        compact.extend_from_slice(&[127, 0, 0, 9, 0x1a, 0xe1]);
    }
    compact.extend_from_slice(&[127, 0, 0, 10, 0x1a, 0xe1]);
    let mut body = format!("d8:intervali60e5:peers{}:", compact.len()).into_bytes();
    body.extend_from_slice(&compact);
    body.push(b'e');
    let server = Server::start(move |_, s| reply(s, "200 OK", &body));
    let dead = TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_url = format!("http://{}/announce", dead.local_addr().unwrap());
    drop(dead);
    let dir = tempfile::tempdir().unwrap();
    let t = torrent_with_trackers(dir.path(), &[server.url("/a"), server.url("/b"), dead_url]);
    let o = ttui(
        &["peers", t.to_str().unwrap(), "--port", "6999"],
        Stdio::null(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let lines: Vec<&str> = std::str::from_utf8(&o.stdout).unwrap().lines().collect();
    assert_eq!(lines, vec!["127.0.0.9:6881", "127.0.0.10:6881"]);
    let e = stderr(&o);
    assert!(e.contains("/a: 2 peers"), "{e}");
    assert!(e.contains("2 distinct peers from 2 of 3 trackers"), "{e}");
}
