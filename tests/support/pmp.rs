//! The NAT-PMP/PCP test server (`pmp_server.py`) and the daemon that maps through it, shared
//! by tests/net/port_mapping.rs and tests/net/port_mapping_route.rs.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::common::*;
use super::kit::*;
use super::payload::*;

pub const EXTERNAL: &str = "127.0.0.9";
pub const WAIT: Duration = Duration::from_secs(30);

/// The test server on `addr`:5351, with `extra` arguments.
pub struct Server {
    pub proc: Proc,
    state: PathBuf,
}

impl Server {
    pub fn start(env: &Env, addr: &str, extra: &[&str]) -> Server {
        let state = env.root.path().join(format!("pmp-{addr}.json"));
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/pmp_server.py");
        let mut cmd = Command::new("/usr/bin/python3");
        cmd.arg(script)
            .args(["--addr", addr, "--external", EXTERNAL, "--state"])
            .arg(&state)
            .args(extra);
        let mut proc = Proc::spawn(&format!("pmp-{addr}"), &mut cmd, &env.logs);
        proc.wait_for_stdout("the NAT-PMP/PCP server", "listening", WAIT);
        Server { proc, state }
    }

    /// The mappings in force, as the server last wrote them.
    pub fn mappings(&self) -> Vec<Value> {
        let text = std::fs::read_to_string(&self.state).unwrap_or_default();
        serde_json::from_str(&text).unwrap_or_default()
    }

    /// Requests it logged that contain `needle`.
    pub fn requests(&self, needle: &str) -> usize {
        self.proc
            .stdout_text()
            .lines()
            .filter(|l| l.contains(needle))
            .count()
    }
}

/// A daemon that maps through `gateway`, with a torrent added so `show --json` has one.
pub fn daemon(env: &Env, gateway: &str, port: u16, extra: &[&str]) -> (Daemon, String) {
    let gateway = format!("{gateway}:5351");
    let mut args = vec!["--port-mapping-gateway", &gateway];
    args.extend(extra);
    mapping_daemon(env, port, &args)
}

/// A daemon listening on `port` with the port-mapping flags `mapping`, and a torrent.
pub fn mapping_daemon(env: &Env, port: u16, mapping: &[&str]) -> (Daemon, String) {
    mapping_daemon_with(env, port, mapping, &[])
}

/// As `mapping_daemon`, with environment variables `vars` set for the daemon.
pub fn mapping_daemon_with(
    env: &Env,
    port: u16,
    mapping: &[&str],
    vars: &[(&str, &str)],
) -> (Daemon, String) {
    let mut args: Vec<String> = [
        "--port",
        &port.to_string(),
        // A DHT (toward a loopback address that answers nothing) so the UDP port is bound.
        "--dht-bootstrap",
        "127.0.0.1:9",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(mapping.iter().map(|s| s.to_string()));
    let d = Daemon::start_with(env, "portmap", &args, vars);
    let p = Payload::make(
        &env.root.path().join("data"),
        &env.root.path().join("torrents"),
        "mapped",
        &[("", 100_000)],
        7,
    );
    let added = env.verb(&["add", &p.path()]);
    assert_eq!(added.code, 0, "{added:?}");
    (d, p.hash())
}

pub fn status(env: &Env, id: &str) -> Value {
    let out = env.verb(&["show", id, "--json"]);
    serde_json::from_str::<Value>(&out.stdout).unwrap_or(Value::Null)["port_mapping"].clone()
}

pub fn wait_status(env: &Env, id: &str, what: &str, ok: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    loop {
        let s = status(env, id);
        if ok(&s) {
            return s;
        }
        assert!(start.elapsed() < WAIT, "timed out waiting for {what}: {s}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

pub fn mapped(s: &Value) -> bool {
    s["tcp"]["external"].is_u64() && s["udp"]["external"].is_u64() && s["error"].is_null()
}
