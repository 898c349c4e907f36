//! A loopback HTTP tracker that records every announce (its info hash, `uploaded`,
//! `downloaded` and `event`, in order) and answers each with no peers: what a private
//! tracker credits, to compare with a client's own accounting. Bound to an address of its own
//! (127.0.0.x), so two of them are two tracker hosts.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// One announce as the tracker read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heard {
    pub info_hash: [u8; 20],
    pub uploaded: u64,
    pub downloaded: u64,
    pub event: String,
}

pub struct RecordingTracker {
    pub addr: SocketAddr,
    heard: Arc<Mutex<Vec<Heard>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// How long a tracker lives at most (every test ends before).
const LIFE: Duration = Duration::from_secs(600);

impl RecordingTracker {
    /// Listens on `ip` (127.0.0.x), on a port of its own.
    pub fn start(ip: Ipv4Addr) -> RecordingTracker {
        let listener = TcpListener::bind((ip, 0)).unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let heard = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (h, s) = (Arc::clone(&heard), Arc::clone(&stop));
        let thread = std::thread::spawn(move || {
            let start = Instant::now();
            while !s.load(Ordering::Relaxed) && start.elapsed() < LIFE {
                let Ok((mut conn, _)) = listener.accept() else {
                    sleep(Duration::from_millis(10));
                    continue;
                };
                let _ = conn.set_nonblocking(false);
                let _ = conn.set_read_timeout(Some(Duration::from_secs(2)));
                let mut buf = vec![0u8; 8192];
                let mut n = 0;
                while n < buf.len() {
                    match conn.read(&mut buf[n..]) {
                        Ok(0) | Err(_) => break,
                        Ok(k) => n += k,
                    }
                    if buf[..n].windows(4).any(|w| w == b"\r\n\r\n") {
                        break;
                    }
                }
                let head = String::from_utf8_lossy(&buf[..n]).into_owned();
                if let Some(one) = parse(&head) {
                    h.lock().unwrap().push(one);
                }
                let body = b"d8:intervali1800e5:peers0:e";
                let reply = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = conn.write_all(reply.as_bytes());
                let _ = conn.write_all(body);
            }
        });
        RecordingTracker {
            addr,
            heard,
            stop,
            thread: Some(thread),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}/passkey0123456789/announce", self.addr)
    }

    pub fn heard(&self) -> Vec<Heard> {
        self.heard.lock().unwrap().clone()
    }

    /// Announces heard so far.
    pub fn count(&self) -> u64 {
        self.heard.lock().unwrap().len() as u64
    }

    /// What the tracker credits per info hash, (uploaded, downloaded): the growth of each
    /// client session's counts, a session beginning at `started` (or when the counts fall).
    pub fn credited(&self) -> HashMap<[u8; 20], (u64, u64)> {
        let mut last: HashMap<[u8; 20], (u64, u64)> = HashMap::new();
        let mut sum: HashMap<[u8; 20], (u64, u64)> = HashMap::new();
        for h in self.heard() {
            let base = last.entry(h.info_hash).or_default();
            if h.event == "started" || h.uploaded < base.0 || h.downloaded < base.1 {
                *base = (0, 0);
            }
            let s = sum.entry(h.info_hash).or_default();
            s.0 += h.uploaded - base.0;
            s.1 += h.downloaded - base.1;
            *base = (h.uploaded, h.downloaded);
        }
        sum
    }

    /// `credited`, summed over every torrent.
    pub fn credited_total(&self) -> (u64, u64) {
        self.credited()
            .values()
            .fold((0, 0), |a, v| (a.0 + v.0, a.1 + v.1))
    }
}

impl Drop for RecordingTracker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// `GET /…/announce?info_hash=…&uploaded=…` into what it says.
fn parse(head: &str) -> Option<Heard> {
    let line = head.lines().next()?;
    let target = line.strip_prefix("GET ")?.split(' ').next()?;
    let (_, query) = target.split_once('?')?;
    let mut info_hash = None;
    let (mut up, mut down, mut event) = (None, None, String::new());
    for pair in query.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match k {
            "info_hash" => info_hash = <[u8; 20]>::try_from(unescape(v)).ok(),
            "uploaded" => up = v.parse().ok(),
            "downloaded" => down = v.parse().ok(),
            "event" => event = v.to_string(),
            _ => {}
        }
    }
    Some(Heard {
        info_hash: info_hash?,
        uploaded: up?,
        downloaded: down?,
        event,
    })
}

fn unescape(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    out
}
