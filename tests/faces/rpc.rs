//! The Transmission RPC of a real `ttui daemon` downloading from real peers on loopback,
//! driven by clients written by others (`transmission-remote` 3.00, the `transmission-rpc`
//! Python package) and by hostile ones: the session-id dance, credentials, the Host
//! allowlist, oversized and slow requests, garbage, a million ids, a crowd of connections,
//! a page of another origin, and the refusal to listen beyond loopback without credentials.
//!
//! Run through tests/run.sh: the test refuses to run unless the process sits in a network
//! namespace whose only interface is `lo`.
// A test crate: it may unwrap, and nothing in it is reachable from outside anyway.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

mod blocklist;
use crate::common;
use crate::kit;
use crate::payload;
use crate::prereq;
mod rename;
mod sonarr;
mod web;

use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::thread::sleep;
use std::time::{Duration, Instant};

use base64::Engine;
use common::*;
use kit::*;
use payload::*;
use serde_json::{json, Value};

const DONE_WAIT: Duration = Duration::from_secs(90);
const IO_WAIT: Duration = Duration::from_secs(20);

/// One HTTP exchange on a fresh connection: status, headers (lowercased names), body.
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
}

fn exchange(addr: SocketAddr, raw: &[u8]) -> Reply {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(IO_WAIT)).unwrap();
    s.set_write_timeout(Some(IO_WAIT)).unwrap();
    // A refused body may close the connection before all of it is written.
    let _ = s.write_all(raw);
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    parse_reply(&buf)
}

fn parse_reply(buf: &[u8]) -> Reply {
    let end = find(buf, b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP reply: {:?}", String::from_utf8_lossy(buf)));
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Reply {
        status,
        headers,
        body: buf[end + 4..].to_vec(),
    }
}

/// A POST to /transmission/rpc with these extra header lines.
fn post(addr: SocketAddr, extra: &str, body: &[u8]) -> Reply {
    let mut raw = format!(
        "POST /transmission/rpc HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n{extra}\r\n",
        body.len()
    )
    .into_bytes();
    raw.extend_from_slice(body);
    exchange(addr, &raw)
}

/// An RPC client that does the session-id dance as transmission-remote does.
struct Rpc {
    addr: SocketAddr,
    id: String,
    auth: String,
}

impl Rpc {
    fn new(addr: SocketAddr, auth: Option<(&str, &str)>) -> Rpc {
        let auth = auth.map_or(String::new(), |(u, p)| {
            let b = base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"));
            format!("Authorization: Basic {b}\r\n")
        });
        Rpc {
            addr,
            id: String::new(),
            auth,
        }
    }

    fn raw(&mut self, body: &[u8]) -> Reply {
        for _ in 0..2 {
            let extra = format!("{}X-Transmission-Session-Id: {}\r\n", self.auth, self.id);
            let r = post(self.addr, &extra, body);
            if r.status == 409 {
                self.id = r.header("x-transmission-session-id").unwrap().to_string();
                continue;
            }
            return r;
        }
        panic!("409 twice");
    }

    fn call(&mut self, method: &str, args: Value) -> Value {
        let body = json!({"method": method, "arguments": args, "tag": 7});
        let r = self.raw(body.to_string().as_bytes());
        assert_eq!(
            r.status,
            200,
            "{method}: {}",
            String::from_utf8_lossy(&r.body)
        );
        let v = r.json();
        assert_eq!(v["tag"], 7, "{v}");
        v
    }

    fn ok(&mut self, method: &str, args: Value) -> Value {
        let v = self.call(method, args);
        assert_eq!(v["result"], "success", "{method}: {v}");
        v["arguments"].clone()
    }

    fn torrents(&mut self, fields: &[&str]) -> Vec<Value> {
        let a = self.ok("torrent-get", json!({"fields": fields}));
        a["torrents"].as_array().unwrap().clone()
    }

    fn torrent(&mut self, hash: &str, fields: &[&str]) -> Option<Value> {
        let mut f = fields.to_vec();
        f.push("hashString");
        self.torrents(&f)
            .into_iter()
            .find(|t| t["hashString"] == hash)
    }

    /// Polls until `done` holds for the torrent (bounded).
    fn wait(
        &mut self,
        what: &str,
        hash: &str,
        fields: &[&str],
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let start = Instant::now();
        loop {
            let t = self.torrent(hash, fields);
            if let Some(t) = t.as_ref().filter(|t| done(t)) {
                return t.clone();
            }
            assert!(
                start.elapsed() < DONE_WAIT,
                "timed out waiting for {what}: {t:?}"
            );
            sleep(Duration::from_millis(250));
        }
    }
}

/// A daemon with the RPC on a free loopback port and the seeders of `payloads` as peers.
struct Setup {
    env: Env,
    payloads: Vec<Payload>,
    _seeders: Vec<Ttui>,
    daemon: Daemon,
    rpc: SocketAddr,
    ports: Vec<u16>,
}

fn setup(prefix: &str, config: &str) -> Setup {
    require_loopback_only();
    let env = Env::new(prefix);
    let fixtures = env.root.path().join("fixtures");
    let payloads = three_payloads(&fixtures.join("data"), &fixtures);
    let mut seeders = Vec::new();
    let mut peer_args = Vec::new();
    let mut ports = Vec::new();
    for p in &payloads {
        let port = free_port();
        let extra = ["--no-dht", "--bind", "127.0.0.1"];
        seeders.push(spawn_ttui_seeder(
            &p.torrent.path,
            &fixtures.join("data"),
            port,
            &extra,
        ));
        peer_args.extend(["--peer".to_string(), format!("127.0.0.1:{port}")]);
        ports.push(port);
    }
    let rpc: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let cfg = env.root.path().join("config.toml");
    let root = env.root.path().display().to_string();
    fs::write(&cfg, config.replace("{root}", &root)).unwrap();
    let mut extra = vec!["--config".to_string(), cfg.display().to_string()];
    extra.extend(["--rpc".to_string(), rpc.to_string()]);
    extra.extend(peer_args);
    let daemon = Daemon::start(&env, "1", &extra);
    Setup {
        env,
        payloads,
        _seeders: seeders,
        daemon,
        rpc,
        ports,
    }
}

/// Serves `bytes` once per connection at any path, on loopback, for `n` connections.
fn serve_file(bytes: Vec<u8>, n: usize) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for _ in 0..n {
            let Ok((mut s, _)) = l.accept() else { return };
            let _ = s.set_read_timeout(Some(IO_WAIT));
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/x-bittorrent\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n",
                bytes.len()
            );
            let _ = s.write_all(head.as_bytes());
            let _ = s.write_all(&bytes);
        }
    });
    addr
}

/// `transmission-remote HOST:PORT ARGS`, bounded; its stdout and stderr together.
fn remote(env: &Env, rpc: SocketAddr, args: &[&str]) -> String {
    let mut cmd = env.command("transmission-remote");
    cmd.arg(rpc.to_string()).args(args);
    let out = run(cmd, &format!("transmission-remote {}", args.join(" ")));
    let text = format!("{}{}", out.stdout, out.stderr);
    assert_eq!(out.code, 0, "transmission-remote {args:?}: {text}");
    text
}

fn file_of(p: &Payload, base: &Path) -> PathBuf {
    base.join(&p.files[0].0)
}

#[test]
fn transmission_remote_adds_lists_stops_moves_limits_and_removes() {
    if !prereq::have_tools(&["transmission-remote"]) {
        return;
    }
    let mut s = setup("ttui-rpc-remote-", "");
    let (env, rpc) = (&s.env, s.rpc);
    let [a, b, c] = [&s.payloads[0], &s.payloads[1], &s.payloads[2]];
    // The incomplete directory, set over the RPC: the first torrent downloads there and
    // moves out once complete; off again for the others.
    let incomplete = env.root.path().join("incomplete");
    let shown = incomplete.display().to_string();
    let set = remote(env, rpc, &["--incomplete-dir", &shown]);
    assert!(set.contains("success"), "{set}");
    let fields = json!({"fields": ["incomplete-dir", "incomplete-dir-enabled"]});
    let got = Rpc::new(rpc, None).ok("session-get", fields.clone());
    assert_eq!(got["incomplete-dir-enabled"], true, "{got}");
    assert_eq!(got["incomplete-dir"], shown.as_str(), "{got}");
    // By file (transmission-remote sends its bytes as metainfo), by URL, by magnet.
    let added = remote(env, rpc, &["-a", &a.path()]);
    assert!(added.contains("success"), "{added}");
    let set = remote(env, rpc, &["--no-incomplete-dir"]);
    assert!(set.contains("success"), "{set}");
    let got = Rpc::new(rpc, None).ok("session-get", fields);
    assert_eq!(got["incomplete-dir-enabled"], false, "{got}");
    let url = serve_file(fs::read(&b.torrent.path).unwrap(), 1);
    let added = remote(env, rpc, &["-a", &format!("http://{url}/beta.torrent")]);
    assert!(added.contains("success"), "{added}");
    let magnet = format!(
        "magnet:?xt=urn:btih:{}&dn=gamma.bin&x.pe=127.0.0.1:{}",
        c.hash(),
        s.ports[2]
    );
    let added = remote(env, rpc, &["-a", &magnet]);
    assert!(added.contains("success"), "{added}");

    let mut client = Rpc::new(rpc, None);
    for p in [a, b, c] {
        client.wait(
            "the download",
            &p.hash(),
            &["percentDone", "leftUntilDone"],
            |t| t["percentDone"] == 1.0 && t["leftUntilDone"] == 0,
        );
    }
    assert_same_tree(&a.root, &env.out.join("alpha.bin"));
    assert_same_tree(&b.root, &env.out.join("beta"));
    let log = s.daemon.log_text();
    let moved = format!("complete: moving to {}", env.out.display());
    assert_eq!(
        log.matches(&moved).count(),
        1,
        "only alpha went through {shown}"
    );
    let list = remote(env, rpc, &["-l"]);
    assert_eq!(list.matches("100%").count(), 3, "{list}");
    for name in ["alpha.bin", "beta", "gamma.bin"] {
        assert!(list.contains(name), "{list}");
    }
    let id = |client: &mut Rpc, p: &Payload| {
        client.torrent(&p.hash(), &["id"]).unwrap()["id"]
            .as_u64()
            .unwrap()
            .to_string()
    };
    let (ida, idb, idc) = (id(&mut client, a), id(&mut client, b), id(&mut client, c));

    let info = remote(env, rpc, &["-t", &ida, "-i"]);
    assert!(info.contains("Name: alpha.bin"), "{info}");
    assert!(info.contains("Percent Done: 100%"), "{info}");
    assert!(info.contains(&format!("Hash: {}", a.hash())), "{info}");

    // Stop, start, verify.
    remote(env, rpc, &["-t", &ida, "-S"]);
    client.wait("the stop", &a.hash(), &["status"], |t| t["status"] == 0);
    assert!(remote(env, rpc, &["-l"]).contains("Stopped"));
    remote(env, rpc, &["-t", &ida, "-s"]);
    client.wait("the start", &a.hash(), &["status"], |t| t["status"] == 6);
    remote(env, rpc, &["-t", &idc, "-v"]);
    client.wait("the check", &c.hash(), &["status", "percentDone"], |t| {
        t["status"] == 6 && t["percentDone"] == 1.0
    });

    // Move.
    let moved = env.root.path().join("moved");
    fs::create_dir_all(&moved).unwrap();
    remote(
        env,
        rpc,
        &["-t", &ida, "--move", &moved.display().to_string()],
    );
    let dir = moved.display().to_string();
    client.wait("the move", &a.hash(), &["downloadDir"], |t| {
        t["downloadDir"] == dir.as_str()
    });
    assert!(file_of(a, &moved).is_file());
    assert!(!file_of(a, &env.out).exists());

    // Find (set-location without moving): the user moved the data by hand; the torrent is
    // pointed at the new place and checks it there.
    let found = env.root.path().join("found");
    fs::create_dir_all(&found).unwrap();
    fs::rename(file_of(a, &moved), file_of(a, &found)).unwrap();
    remote(
        env,
        rpc,
        &["-t", &ida, "--find", &found.display().to_string()],
    );
    let dir = found.display().to_string();
    client.wait(
        "the find",
        &a.hash(),
        &["downloadDir", "status", "percentDone"],
        |t| t["downloadDir"] == dir.as_str() && t["status"] == 6 && t["percentDone"] == 1.0,
    );
    assert!(file_of(a, &found).is_file());
    assert!(!file_of(a, &moved).exists(), "nothing was put back");

    // Labels, as Sonarr's category or by hand.
    remote(env, rpc, &["-t", &idb, "-L", "films,hd"]);
    let t = client.torrent(&b.hash(), &["labels"]).unwrap();
    assert_eq!(t["labels"], json!(["films", "hd"]));
    let rows = env.list();
    let row = rows
        .iter()
        .find(|r| r["info_hash"] == b.hash().as_str())
        .unwrap();
    assert_eq!(row["labels"], json!(["films", "hd"]), "{row}");

    // Reannounce: the torrent announces to its tracker now, and its log says so.
    remote(env, rpc, &["-t", &ida, "--reannounce"]);
    let asked = (0..100).any(|_| {
        sleep(Duration::from_millis(100));
        s.daemon
            .log_text()
            .lines()
            .any(|l| l.contains("alpha.bin") && l.contains("announce asked for: announcing now"))
    });
    assert!(asked, "{}", s.daemon.log_text());

    // Limits: one torrent's, then the session's.
    remote(env, rpc, &["-t", &idb, "-d", "100"]);
    let t = client
        .torrent(&b.hash(), &["downloadLimit", "downloadLimited"])
        .unwrap();
    assert_eq!(
        (t["downloadLimit"].clone(), t["downloadLimited"].clone()),
        (json!(100), json!(true))
    );
    let limits: Value = serde_json::from_str(&env.verb(&["limit", &idb, "--json"]).stdout).unwrap();
    assert_eq!(limits["torrents"][0]["down"], 100_000, "{limits}");
    remote(env, rpc, &["-t", &idb, "-D"]);
    let t = client.torrent(&b.hash(), &["downloadLimited"]).unwrap();
    assert_eq!(t["downloadLimited"], false);
    remote(env, rpc, &["-d", "200", "-u", "300"]);
    let sess = client.ok("session-get", json!({}));
    // The daemon runs with --no-dht, PEX and LSD on.
    let on = |k: &str| sess[k].clone();
    assert_eq!(
        (on("dht-enabled"), on("pex-enabled"), on("lpd-enabled")),
        (json!(false), json!(true), json!(true))
    );
    assert_eq!(sess["speed-limit-down"], 200);
    assert_eq!(sess["speed-limit-down-enabled"], true);
    assert_eq!(sess["speed-limit-up"], 300);
    let limits: Value = serde_json::from_str(&env.verb(&["limit", "--json"]).stdout).unwrap();
    assert_eq!(limits["down"], 200_000, "{limits}");
    remote(env, rpc, &["-D", "-U"]);
    let sess = client.ok(
        "session-get",
        json!({"fields": ["speed-limit-down-enabled"]}),
    );
    assert_eq!(sess, json!({"speed-limit-down-enabled": false}));
    // A seeding goal for one torrent.
    remote(env, rpc, &["-t", &idb, "-sr", "1.5"]);
    let t = client
        .torrent(&b.hash(), &["seedRatioMode", "seedRatioLimit"])
        .unwrap();
    assert_eq!(
        (t["seedRatioMode"].clone(), t["seedRatioLimit"].clone()),
        (json!(1), json!(1.5))
    );

    // Remove: one keeping its data, one with it.
    remote(env, rpc, &["-t", &ida, "-r"]);
    remote(env, rpc, &["-t", &idb, "--remove-and-delete"]);
    let left = client.torrents(&["hashString"]);
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0]["hashString"], c.hash().as_str());
    assert!(file_of(a, &found).is_file(), "data kept");
    assert!(!env.out.join("beta").exists(), "data deleted");
    assert_eq!(env.list().len(), 1);
    s.daemon.assert_alive("the end");
}

/// Security at the door: each case costs its client only, and the session goes on.
#[test]
fn the_door_turns_away_what_it_must_and_stays_open_for_the_rest() {
    let config = "[rpc]\nusername = \"ann\"\npassword = \"pa:ss word\"\nhost_whitelist = [\"box.example\"]\n";
    let mut s = setup("ttui-rpc-door-", config);
    let (env, rpc) = (&s.env, s.rpc);
    let a = &s.payloads[0];
    let mut good = Rpc::new(rpc, Some(("ann", "pa:ss word")));
    let meta = base64::engine::general_purpose::STANDARD.encode(fs::read(&a.torrent.path).unwrap());
    let added = good.ok("torrent-add", json!({"metainfo": meta}));
    assert_eq!(added["torrent-added"]["hashString"], a.hash().as_str());
    let again = good.ok("torrent-add", json!({"metainfo": meta}));
    assert_eq!(again["torrent-duplicate"]["hashString"], a.hash().as_str());

    // Credentials: none or wrong is 401 with a Basic challenge; right passes.
    let body = br#"{"method":"session-get"}"#;
    let r = post(rpc, "", body);
    assert_eq!(r.status, 401);
    assert!(r.header("www-authenticate").unwrap().starts_with("Basic"));
    let mut wrong = Rpc::new(rpc, Some(("ann", "nope")));
    assert_eq!(wrong.raw(body).status, 401);
    // The CSRF dance: with credentials but no id, 409 and the id.
    let r = post(rpc, &good.auth, body);
    assert_eq!(r.status, 409);
    let id = r.header("x-transmission-session-id").unwrap().to_string();
    assert!(id.len() >= 32);
    let r = post(
        rpc,
        &format!("{}X-Transmission-Session-Id: {id}\r\n", good.auth),
        body,
    );
    assert_eq!(r.status, 200);
    let r = post(
        rpc,
        &format!("{}X-Transmission-Session-Id: {id}x\r\n", good.auth),
        body,
    );
    assert_eq!(r.status, 409);

    // Reflection: a page on another origin sends no session id (it cannot read the 409's
    // header: no CORS header is ever sent) and so cannot add, stop or remove anything.
    let with_auth = format!("{}Origin: http://evil.example\r\n", good.auth);
    let drive = br#"{"method":"torrent-remove","arguments":{"delete-local-data":true}}"#;
    let r = post(rpc, &with_auth, drive);
    assert_eq!(r.status, 409);
    assert!(
        r.header("access-control-allow-origin").is_none(),
        "{:?}",
        r.headers
    );
    let pre = exchange(
        rpc,
        format!(
            "OPTIONS /transmission/rpc HTTP/1.1\r\nHost: {rpc}\r\nOrigin: http://evil.example\r\n\
             Access-Control-Request-Method: POST\r\nConnection: close\r\n\r\n"
        )
        .as_bytes(),
    );
    assert!(pre.header("access-control-allow-origin").is_none());
    assert_eq!(good.torrents(&["id"]).len(), 1, "the page removed nothing");

    // Host allowlist: a rebinding name is 421; IP literals, localhost and the list pass.
    for (host, want) in [
        ("evil.example:9091", 421),
        ("box.example", 409),
        ("localhost:1", 409),
        ("[::1]:9091", 409),
        ("10.1.2.3", 409),
    ] {
        let raw = format!(
            "POST /transmission/rpc HTTP/1.1\r\nHost: {host}\r\n{}Content-Length: 2\r\nConnection: close\r\n\r\n{{}}",
            good.auth
        );
        assert_eq!(exchange(rpc, raw.as_bytes()).status, want, "{host}");
    }

    // Garbage, an unknown method, a million ids.
    let r = good.raw(b"{\"method\": ");
    assert_eq!(r.status, 200);
    assert_ne!(r.json()["result"], "success");
    let r = good.raw(&[0xff, 0x00, 0x13]);
    assert_ne!(r.json()["result"], "success");
    assert_eq!(
        good.call("torrent-explode", json!({}))["result"],
        "method name not recognized"
    );
    let ids: Vec<u32> = (0..1_000_000).collect();
    let t0 = Instant::now();
    let got = good.ok("torrent-get", json!({"ids": ids, "fields": ["id", "name"]}));
    assert_eq!(got["torrents"].as_array().unwrap().len(), 1);
    assert!(t0.elapsed() < Duration::from_secs(15), "{:?}", t0.elapsed());

    // A body over the limit: refused from its Content-Length, and when it streams past it.
    let extra = format!("{}X-Transmission-Session-Id: {}\r\n", good.auth, good.id);
    let r = exchange(
        rpc,
        format!(
            "POST /transmission/rpc HTTP/1.1\r\nHost: {rpc}\r\n{extra}Content-Length: 104857600\r\n\r\n"
        )
        .as_bytes(),
    );
    assert_eq!(r.status, 413);
    let mut raw = format!(
        "POST /transmission/rpc HTTP/1.1\r\nHost: {rpc}\r\n{extra}Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    .into_bytes();
    let chunk = vec![b' '; 1 << 20];
    for _ in 0..20 {
        raw.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        raw.extend_from_slice(&chunk);
        raw.extend_from_slice(b"\r\n");
    }
    raw.extend_from_slice(b"0\r\n\r\n");
    assert_eq!(exchange(rpc, &raw).status, 413);

    // A slow client that never finishes its headers, and a crowd of idle connections, do
    // not hold up a client that asks something.
    let mut slow = TcpStream::connect(rpc).unwrap();
    slow.write_all(b"POST /transmission/rpc HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .unwrap();
    let crowd: Vec<TcpStream> = (0..1000)
        .filter_map(|_| TcpStream::connect(rpc).ok())
        .collect();
    assert!(crowd.len() > 500, "only {} connections", crowd.len());
    let t0 = Instant::now();
    assert_eq!(good.ok("session-stats", json!({}))["torrentCount"], 1);
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
    drop(crowd);
    drop(slow);

    // A filename that is not a .torrent or .magnet file is never read, nor echoed.
    let secret = env.root.path().join("secret.txt");
    fs::write(&secret, "hunter2-do-not-echo").unwrap();
    let v = good.call(
        "torrent-add",
        json!({"filename": secret.display().to_string()}),
    );
    assert_ne!(v["result"], "success");
    assert!(!v.to_string().contains("hunter2"), "{v}");
    let fake = env.root.path().join("fake.torrent");
    fs::write(&fake, "hunter2-do-not-echo").unwrap();
    let v = good.call(
        "torrent-add",
        json!({"filename": fake.display().to_string()}),
    );
    assert_ne!(v["result"], "success");
    assert!(!v.to_string().contains("hunter2"), "{v}");

    // Requests with no credentials (a browser's first try, a health check, another scheme)
    // are asked for them and never counted: the right password still passes after a crowd of
    // them from the same address, as behind a reverse proxy.
    let failures_logged = || s.daemon.log_text().matches("failed login").count();
    let before = failures_logged();
    for i in 0..30 {
        let extra = if i % 2 == 0 {
            ""
        } else {
            "Authorization: Bearer x\r\n"
        };
        assert_eq!(post(rpc, extra, body).status, 401);
    }
    assert_eq!(good.raw(body).status, 200);
    assert_eq!(
        failures_logged(),
        before,
        "a request without credentials was a failure"
    );

    // Failed logins: past ten in a minute, even the right password waits (429); logged.
    for _ in 0..12 {
        let _ = wrong.raw(body);
    }
    let r = good.raw(body);
    assert_eq!(r.status, 429);
    assert!(s.daemon.log_text().contains("failed login from 127.0.0.1"));
    s.daemon.assert_alive("the end");
    assert_eq!(
        env.list().len(),
        1,
        "the session and its control socket go on"
    );
}

#[test]
fn an_open_address_without_credentials_is_refused_in_one_line() {
    require_loopback_only();
    let env = Env::new("ttui-rpc-refuse-");
    let mut cmd = env.ttui();
    cmd.args(["daemon", "--no-config", "--state-dir"])
        .arg(&env.state)
        .args(["--no-dht", "--port", "0", "--rpc"])
        .arg(format!("0.0.0.0:{}", free_port()));
    let out = run(cmd, "ttui daemon --rpc 0.0.0.0");
    assert_eq!(out.code, 1, "{out:?}");
    assert_one_line(&out.stderr, "the refusal");
    assert!(out.stderr.contains("rpc.username"), "{out:?}");
    assert!(
        !env.state.join("torrents").exists(),
        "nothing started: {out:?}"
    );
}

/// The `transmission-rpc` package from PyPI (installed by tests/run.sh into the venv named
/// by TTUI_PY_VENV): add by path, URL and magnet, every field through its models, stop,
/// start, verify, move, limits, remove.
#[test]
fn the_transmission_rpc_python_package_drives_the_daemon() {
    let Some(python) = std::env::var_os("TTUI_PY_VENV")
        .map(|v| PathBuf::from(v).join("bin/python"))
        .filter(|p| p.is_file())
    else {
        prereq::skip("the transmission-rpc venv (TTUI_PY_VENV, made by tests/run.sh)");
        return;
    };
    // Sonarr files each download under its category's label; the label's table gives it
    // its directory and seeding goal.
    let config = "[labels.tv]\nsave_path = \"{root}/tv\"\nseed_ratio = 5\n";
    let mut s = setup("ttui-rpc-py-", config);
    let env = &s.env;
    let [a, b, c] = [&s.payloads[0], &s.payloads[1], &s.payloads[2]];
    let url = serve_file(fs::read(&b.torrent.path).unwrap(), 1);
    let magnet = format!(
        "magnet:?xt=urn:btih:{}&dn=gamma.bin&x.pe=127.0.0.1:{}",
        c.hash(),
        s.ports[2]
    );
    let moved = env.root.path().join("moved");
    fs::create_dir_all(&moved).unwrap();
    let script = env.root.path().join("drive.py");
    fs::write(&script, PY_DRIVER).unwrap();
    let mut cmd = env.command(python.to_str().unwrap());
    cmd.arg(&script)
        .arg(s.rpc.port().to_string())
        .arg(a.path())
        .arg(format!("http://{url}/beta.torrent"))
        .arg(&magnet)
        .arg(&moved)
        .args([a.hash(), b.hash(), c.hash()])
        .arg(env.root.path().join("tv"));
    let out = run_long(cmd, "the python driver");
    assert_eq!(
        out.code,
        0,
        "{}\n{}\n{}",
        out.stdout,
        out.stderr,
        s.daemon.report()
    );
    assert!(out.stdout.contains("ALL OK"), "{}", out.stdout);
    assert!(file_of(a, &moved).is_file());
    assert!(!env.out.join("beta").exists(), "removed with its data");
    s.daemon.assert_alive("the end");
}

/// Transmission 4.1's JSON-RPC 2.0 form on the same path, after its rpc-spec.md: the 409 says
/// which version speaks it, snake_case names both ways, the spec's examples answered as it
/// shows them, batches with notifications, the error objects and their codes, and the legacy
/// form still beside it.
#[test]
fn the_json_rpc_2_form_answers_as_transmission_4_1_does() {
    let mut s = setup("ttui-rpc-jsonrpc-", "");
    let a = &s.payloads[0];
    let first = post(
        s.rpc,
        "",
        br#"{"jsonrpc":"2.0","method":"session_get","id":1}"#,
    );
    assert_eq!(first.status, 409);
    assert_eq!(first.header("x-transmission-rpc-version"), Some("6.0.0"));
    let mut rpc = Rpc::new(s.rpc, None);
    let mut call = |body: Value| {
        let r = rpc.raw(body.to_string().as_bytes());
        assert_eq!(
            r.status,
            200,
            "{body}: {}",
            String::from_utf8_lossy(&r.body)
        );
        r.json()
    };

    // rpc-spec 2: the example request and its answer.
    let v = call(json!({
        "jsonrpc": "2.0",
        "params": { "fields": ["version", "rpc_version", "rpc_version_semver"] },
        "method": "session_get",
        "id": 912313
    }));
    assert_eq!(v["jsonrpc"], "2.0");
    assert_eq!(v["id"], 912313);
    assert!(v["result"]["version"].is_string(), "{v}");
    assert_eq!(v["result"]["rpc_version"], 18);
    assert_eq!(v["result"]["rpc_version_semver"], "6.0.0");

    let meta = base64::engine::general_purpose::STANDARD.encode(fs::read(&a.torrent.path).unwrap());
    let v = call(json!({
        "jsonrpc": "2.0", "method": "torrent_add", "params": { "metainfo": meta }, "id": "add"
    }));
    assert_eq!(v["id"], "add");
    assert_eq!(
        v["result"]["torrent_added"]["hash_string"],
        a.hash().as_str(),
        "{v}"
    );
    let id = v["result"]["torrent_added"]["id"].clone();

    // rpc-spec 3.3's example: the name and total size of the torrents named.
    let v = call(json!({
        "jsonrpc": "2.0",
        "params": { "fields": ["id", "name", "total_size"], "ids": [id] },
        "method": "torrent_get",
        "id": 39693
    }));
    let t = &v["result"]["torrents"][0];
    assert_eq!(t["id"], id);
    let size: u64 = a.files.iter().map(|f| f.1).sum();
    assert_eq!(t["total_size"], size, "{v}");
    assert_eq!(t.as_object().map(|o| o.len()), Some(3), "{v}");
    // 4.1's sequential download: set, then read back as the session publishes it.
    let v = call(json!({
        "jsonrpc": "2.0", "method": "torrent_set", "id": 7,
        "params": { "ids": [id], "sequential_download": true }
    }));
    assert!(v["result"].is_object(), "{v}");
    let v = call(json!({
        "jsonrpc": "2.0", "method": "torrent_get", "id": 8,
        "params": { "fields": ["sequential_download", "sequential_download_from_piece"], "ids": [id] }
    }));
    assert_eq!(
        v["result"]["torrents"][0]["sequential_download"], true,
        "{v}"
    );
    assert_eq!(
        v["result"]["torrents"][0]["sequential_download_from_piece"], 0,
        "{v}"
    );
    let v = call(json!({
        "jsonrpc": "2.0", "method": "torrent_set", "id": 9,
        "params": { "ids": [id], "sequential_download_from_piece": 5 }
    }));
    assert!(
        v["error"]["code"].is_number(),
        "from a piece is refused: {v}"
    );
    // 4.1's torrent_add takes it too: the torrent is added in order.
    let b = &s.payloads[1];
    let meta_b =
        base64::engine::general_purpose::STANDARD.encode(fs::read(&b.torrent.path).unwrap());
    let v = call(json!({
        "jsonrpc": "2.0", "method": "torrent_add", "id": 10,
        "params": { "metainfo": meta_b.clone(), "paused": true, "sequential_download": true }
    }));
    let id_b = v["result"]["torrent_added"]["id"].clone();
    assert!(id_b.is_number(), "{v}");
    let v = call(json!({
        "jsonrpc": "2.0", "method": "torrent_get", "id": 11,
        "params": { "fields": ["sequential_download"], "ids": [id_b] }
    }));
    assert_eq!(
        v["result"]["torrents"][0]["sequential_download"], true,
        "{v}"
    );
    let v = call(json!({
        "jsonrpc": "2.0", "method": "torrent_add", "id": 12,
        "params": { "metainfo": meta_b, "sequential_download_from_piece": 3 }
    }));
    // Refused before the add (else it would answer torrent_duplicate).
    assert!(v["error"]["code"].is_number(), "from a piece at add: {v}");
    let v = call(json!({
        "jsonrpc": "2.0", "method": "torrent_get", "id": 2,
        "params": { "fields": ["id", "percent_done"], "ids": "recently_active" }
    }));
    assert!(v["result"]["removed"].is_array(), "{v}");
    let v = call(json!({
        "jsonrpc": "2.0", "method": "torrent_get", "id": 3,
        "params": { "fields": ["id", "hash_string"], "format": "table" }
    }));
    assert_eq!(
        v["result"]["torrents"][0],
        json!(["id", "hash_string"]),
        "{v}"
    );

    // A batch: answers for the calls with an id, none for the notification.
    let v = call(json!([
        { "jsonrpc": "2.0", "method": "session_stats", "id": 1 },
        { "jsonrpc": "2.0", "method": "session_get" },
        { "jsonrpc": "2.0", "method": "no_such_method", "id": 3 },
        { "jsonrpc": "2.0", "method": "torrent_get", "params": ["id"], "id": 4 },
        { "jsonrpc": "1.0", "method": "session_get", "id": 5 }
    ]));
    let answers = v.as_array().unwrap();
    assert_eq!(answers.len(), 4, "{v}");
    assert!(answers[0]["result"]["torrent_count"].is_number(), "{v}");
    assert_eq!(answers[1]["error"]["code"], -32601);
    assert_eq!(answers[1]["error"]["message"], "Method not found");
    assert_eq!(answers[1]["id"], 3);
    assert_eq!(answers[2]["error"]["code"], -32602);
    assert_eq!(answers[3]["error"]["code"], -32600);
    let v = call(json!({ "jsonrpc": "2.0", "method": "torrent_get", "params": {}, "id": 6 }));
    assert_eq!(v["error"]["code"], -32602, "{v}");
    assert_eq!(v["error"]["data"]["error_string"], "no fields specified");
    assert_eq!(call(json!([]))["error"]["code"], -32600);

    // Only notifications: carried out, answered with 204 and nothing.
    let r = rpc.raw(br#"[{"jsonrpc":"2.0","method":"session_get"}]"#);
    assert_eq!(r.status, 204);
    assert!(r.body.is_empty());
    // The legacy form is unchanged beside it.
    let legacy = rpc.ok("session-get", json!({"fields": ["rpc-version"]}));
    assert_eq!(legacy["rpc-version"], 17);
    // The session's default order for added torrents (4.1's session-wide
    // `sequential_download`), set in the new form, read in both.
    let v = rpc
        .raw(
            json!({"jsonrpc": "2.0", "method": "session_set", "id": 20,
               "params": {"sequential_download": true}})
            .to_string()
            .as_bytes(),
        )
        .json();
    assert!(v["result"].is_object(), "{v}");
    let v = rpc
        .raw(
            json!({"jsonrpc": "2.0", "method": "session_get", "id": 21,
                   "params": {"fields": ["sequential_download"]}})
            .to_string()
            .as_bytes(),
        )
        .json();
    assert_eq!(v["result"]["sequential_download"], true, "{v}");
    let legacy = rpc.ok("session-get", json!({"fields": ["sequential_download"]}));
    assert_eq!(legacy["sequential_download"], true, "{legacy}");
    // The legacy form's torrent-add: without the key, the session's default; with
    // `sequentialDownload: false`, the add's own word.
    let c = &s.payloads[2];
    let meta_c =
        base64::engine::general_purpose::STANDARD.encode(fs::read(&c.torrent.path).unwrap());
    let added = rpc.ok("torrent-add", json!({"metainfo": meta_c, "paused": true}));
    assert_eq!(added["torrent-added"]["hashString"], c.hash().as_str());
    let t = rpc.wait("c in order", &c.hash(), &["sequentialDownload"], |t| {
        t["sequentialDownload"].is_boolean()
    });
    assert_eq!(t["sequentialDownload"], true, "the session's default: {t}");
    let d_file = s.env.root.path().join("d.bin");
    fs::write(&d_file, vec![7u8; 40_000]).unwrap();
    let d = ttui::internals::create::create_torrent(&d_file, 16384, &[], false).unwrap();
    let meta_d = base64::engine::general_purpose::STANDARD.encode(d);
    let added = rpc.ok(
        "torrent-add",
        json!({"metainfo": meta_d, "paused": true, "sequentialDownload": false}),
    );
    let d_hash = added["torrent-added"]["hashString"]
        .as_str()
        .unwrap()
        .to_string();
    rpc.wait("d rarest first", &d_hash, &["sequentialDownload"], |t| {
        t["sequentialDownload"] == false
    });
    rpc.ok("session-set", json!({"sequential_download": false}));
    let legacy = rpc.ok("session-get", json!({"fields": ["sequential_download"]}));
    assert_eq!(legacy["sequential_download"], false, "{legacy}");
    let t = rpc.torrent(&a.hash(), &["sequentialDownload"]).unwrap();
    assert_eq!(t["sequentialDownload"], true, "a, set by torrent_set: {t}");
    s.daemon.assert_alive("the end");
}

/// `run` with room for a whole download.
fn run_long(mut cmd: std::process::Command, what: &str) -> Out {
    let dir = tempdir("ttui-py-");
    let (o, e) = (dir.path().join("out"), dir.path().join("err"));
    let mut child = cmd
        .stdout(fs::File::create(&o).unwrap())
        .stderr(fs::File::create(&e).unwrap())
        .spawn()
        .unwrap_or_else(|err| panic!("cannot start {what}: {err}"));
    let start = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if start.elapsed() > Duration::from_secs(240) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not finish\n{}", tail(&e, 30));
        }
        sleep(Duration::from_millis(100));
    };
    let read = |p: &Path| String::from_utf8_lossy(&fs::read(p).unwrap_or_default()).into_owned();
    Out {
        code: status.code().unwrap_or(-1),
        stdout: read(&o),
        stderr: read(&e),
    }
}

const PY_DRIVER: &str = r#"
import sys, time, os
from transmission_rpc import Client
port, path, url, magnet, moved, ha, hb, hc, tv = sys.argv[1:10]
c = Client(host="127.0.0.1", port=int(port), timeout=30)
assert c.get_session().rpc_version >= 14
t1 = c.add_torrent(path)
t2 = c.add_torrent(url)
t3 = c.add_torrent(magnet, labels=["tv", "sonarr"])
assert {t1.hash_string, t2.hash_string, t3.hash_string} == {ha, hb, hc}, (t1, t2, t3)
dup = c.add_torrent(path)
assert dup.hash_string == ha
deadline = time.time() + 90
while True:
    ts = c.get_torrents()
    if len(ts) == 3 and all(t.percent_done == 1.0 for t in ts):
        break
    assert time.time() < deadline, [(t.name, t.percent_done, t.status) for t in ts]
    time.sleep(0.5)
# Every field, through the package's own models: each property of its Torrent model is
# read; only a field the server did not send may be missing (KeyError), never mistyped.
props = [n for n, v in vars(type(c.get_torrents()[0])).items() if isinstance(v, property)]
assert len(props) > 60, props
for t in c.get_torrents():
    for name in props:
        try:
            getattr(t, name)
        except KeyError:
            pass
    missing = [k for k in ["id", "name", "hashString", "status", "eta", "percentDone",
                           "leftUntilDone", "totalSize", "downloadDir", "addedDate", "doneDate",
                           "activityDate", "files", "fileStats", "peers", "trackers",
                           "trackerStats", "seedRatioLimit", "seedRatioMode", "seedIdleLimit",
                           "seedIdleMode", "isFinished", "error", "errorString", "labels",
                           "priorities", "wanted", "pieces", "pieceCount", "magnetLink"]
               if k not in t.fields]
    assert not missing, missing
    _ = [f.name for f in t.get_files()]
    assert t.status.seeding or t.status.checking or t.status.seed_pending, (t.name, t.status)
    assert t.done_date is not None
tb = c.get_torrent(hb)
assert len(tb.get_files()) == 3, tb.get_files()
# Labels: given at add (with the label's directory and goal), changed, refused when bad.
tc = c.get_torrent(hc)
assert tc.labels == ["tv", "sonarr"], tc.labels
assert tc.download_dir == tv, (tc.download_dir, tv)
assert tc.seed_ratio_limit == 5.0 and tc.seed_ratio_mode.value == 1, tc.fields
assert c.get_torrent(ha).labels == []
c.change_torrent(hb, labels=["films", "hd"])
assert c.get_torrent(hb).labels == ["films", "hd"]
try:
    c.change_torrent(hb, labels=["a,b"])
    raise AssertionError("a label with a comma was accepted")
except Exception as e:
    assert "comma" in str(e), e
assert c.get_torrent(hb).labels == ["films", "hd"]
c.stop_torrent(hb)
deadline = time.time() + 30
while not c.get_torrent(hb).status.stopped:
    assert time.time() < deadline
    time.sleep(0.25)
c.start_torrent(hb)
c.verify_torrent(hc)
c.move_torrent_data(ha, moved)
deadline = time.time() + 30
while c.get_torrent(ha).download_dir != moved:
    assert time.time() < deadline
    time.sleep(0.25)
c.change_torrent(hb, download_limit=50, download_limited=True, seed_ratio_limit=2.5,
                 seed_ratio_mode=1, seed_idle_limit=45, seed_idle_mode=1)
tb = c.get_torrent(hb)
assert tb.download_limit == 50 and tb.download_limited, tb.fields
assert tb.seed_ratio_limit == 2.5 and tb.seed_ratio_mode.value == 1, tb.fields
assert tb.seed_idle_limit == 45, tb.fields
c.set_session(speed_limit_down=300, speed_limit_down_enabled=True, seed_ratio_limit=3.0,
              seed_ratio_limited=True, download_queue_size=4, download_queue_enabled=True)
s = c.get_session()
assert s.speed_limit_down == 300 and s.speed_limit_down_enabled, s.fields
assert s.seed_ratio_limit == 3.0 and s.seed_ratio_limited, s.fields
assert s.download_queue_size == 4, s.fields
stats = c.session_stats()
assert stats.torrent_count == 3
fs = c.free_space(moved)
assert fs is not None and fs > 0
assert c.port_test() in (True, False)
c.remove_torrent(ha)
c.remove_torrent(hb, delete_data=True)
left = c.get_torrents()
assert [t.hash_string for t in left] == [hc], left
recent = c.get_recently_active_torrents()
assert ha is not None and len(recent[1]) >= 1, recent
print("ALL OK")
"#;
