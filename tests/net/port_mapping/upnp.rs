//! UPnP IGD end to end: a real `ttui daemon` is named an IGD's description on loopback
//! (`--port-mapping-igd http://127.0.0.x:5000/rootDesc.xml`; no SSDP multicast is ever sent:
//! the tests run under `TTUI_NO_PUBLIC_ROUTERS` in a namespace that has only `lo`), maps its
//! TCP and UDP port there and shows it in `show --json`, renews, takes another port on a
//! conflict (718; IGD v2's AddAnyPortMapping, v1's next port) and tells trackers that port,
//! asks a permanent lease of a router that takes only those (725), says in one line when the
//! IGD is down and maps once it is back, and deletes its mappings at a clean exit.
//!
//! The IGD is `tests/net/port_mapping/igd_server.py`, not Debian's miniupnpd, which will not
//! forward with a reserved (127/8) external address, for UPnP as for NAT-PMP (the script's
//! header says more). Debian's miniupnpc (`upnpc -u URL`, which skips discovery) maps and
//! unmaps through it first, to show that a real client finds it faithful.

use std::process::Command;
use std::time::{Duration, Instant};

use super::common::*;
use super::kit::*;
use super::{announced_port, mapped, mapping_daemon, prereq, status, wait_status, EXTERNAL, WAIT};
use serde_json::Value;

/// The test IGD on `addr`:5000, with `extra` arguments.
struct Igd {
    proc: Proc,
    state: std::path::PathBuf,
    url: String,
}

impl Igd {
    fn start(env: &Env, addr: &str, extra: &[&str]) -> Igd {
        let state = env.root.path().join(format!("igd-{addr}.json"));
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/net/port_mapping/igd_server.py"
        );
        let mut cmd = Command::new("/usr/bin/python3");
        cmd.arg(script)
            .args(["--addr", addr, "--external", EXTERNAL, "--state"])
            .arg(&state)
            .args(extra);
        let mut proc = Proc::spawn(&format!("igd-{addr}"), &mut cmd, &env.logs);
        proc.wait_for_stdout("the test IGD", "listening", WAIT);
        Igd {
            proc,
            state,
            url: format!("http://{addr}:5000/rootDesc.xml"),
        }
    }

    /// The mappings in force (another client's left out), as the IGD last wrote them.
    fn mappings(&self) -> Vec<Value> {
        let text = std::fs::read_to_string(&self.state).unwrap_or_default();
        serde_json::from_str(&text).unwrap_or_default()
    }

    /// Requests it logged that contain every one of `needles`.
    fn requests(&self, needles: &[&str]) -> usize {
        self.proc
            .stdout_text()
            .lines()
            .filter(|l| needles.iter().all(|n| l.contains(n)))
            .count()
    }
}

fn upnp_daemon(env: &Env, igd: &Igd, port: u16, extra: &[&str]) -> (Daemon, String) {
    let mut args = vec!["--port-mapping-igd", igd.url.as_str()];
    args.extend(extra);
    mapping_daemon(env, port, &args)
}

/// The explainer's reachability evidence in `show ID --json`.
fn reachability(env: &Env, id: &str) -> Value {
    let show: Value = serde_json::from_str(&env.verb(&["show", id, "--json"]).stdout).unwrap();
    show["explain"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["check"] == "reachability")
        .cloned()
        .unwrap_or(Value::Null)
}

#[test]
fn upnpc_maps_and_unmaps_through_the_test_igd() {
    require_loopback_only();
    if !prereq::have_tools(&["upnpc"]) {
        return;
    }
    let env = Env::new("ttui-upnp-upnpc");
    let igd = Igd::start(&env, "127.0.0.6", &["--version", "1"]);
    let upnpc = |args: &[&str]| {
        let out = Command::new("upnpc")
            .args(["-u", &igd.url])
            .args(args)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        (out.status.success(), text)
    };
    let (ok, text) = upnpc(&["-a", "127.0.0.1", "40000", "40000", "TCP", "3600"]);
    assert!(ok, "{text}");
    assert!(
        text.contains(&format!("ExternalIPAddress = {EXTERNAL}")),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "external {EXTERNAL}:40000 TCP is redirected to internal 127.0.0.1:40000"
        )),
        "{text}"
    );
    let m = igd.mappings();
    assert_eq!(m.len(), 1, "{m:?}");
    assert_eq!(m[0]["lease"], 3600, "{m:?}");
    let (ok, text) = upnpc(&["-d", "40000", "TCP"]);
    assert!(ok, "{text}");
    assert_eq!(igd.mappings(), Vec::<Value>::new());
}

#[test]
fn igd2_maps_tcp_and_udp_renews_and_deletes_them_at_exit() {
    require_loopback_only();
    let env = Env::new("ttui-upnp-igd2");
    let igd = Igd::start(&env, "127.0.0.6", &[]);
    let port = free_port();
    let (d, id) = upnp_daemon(&env, &igd, port, &["--port-mapping-lease", "4s"]);
    let s = wait_status(&env, &id, "both mappings", mapped);
    assert_eq!(s["protocol"], "UPnP IGD2", "{s}");
    assert_eq!(s["gateway"], igd.url.as_str(), "{s}");
    assert_eq!(s["external_ip"], EXTERNAL, "{s}");
    assert_eq!(s["tcp"]["internal"], port, "{s}");
    assert_eq!(
        s["tcp"]["external"], port,
        "the port asked for was free: {s}"
    );
    assert_eq!(s["udp"]["external"], port, "{s}");
    assert_eq!(s["tcp"]["lifetime"], 4, "{s}");
    assert!(s["note"].is_null(), "{s}");
    let m = igd.mappings();
    assert_eq!(m.len(), 2, "{m:?}");
    for proto in ["TCP", "UDP"] {
        assert!(
            m.iter().any(|r| r["proto"] == proto
                && r["internal"] == port
                && r["client"] == "127.0.0.1"
                && r["lease"] == 4),
            "{m:?}"
        );
    }
    // Every request came from loopback, and none was an SSDP search (the log says so).
    assert!(igd.requests(&["GET /rootDesc.xml from 127.0.0.1"]) >= 1);
    assert!(!d.log_text().contains("SSDP"), "{}", d.log_text());

    // A 4 s lease is renewed every 2 s.
    let before = igd.requests(&["AddPortMapping", "Protocol=TCP"]);
    std::thread::sleep(Duration::from_secs(7));
    let renewed = igd.requests(&["AddPortMapping", "Protocol=TCP"]) - before;
    assert!((2..=6).contains(&renewed), "{renewed} renewals in 7 s");
    assert_eq!(igd.mappings().len(), 2, "kept by the renewals");

    let st = d.term();
    assert!(st.success(), "{st}");
    assert_eq!(
        igd.requests(&["DeletePortMapping", "-> ok"]),
        2,
        "{}",
        igd.proc.stdout_text()
    );
    assert_eq!(igd.mappings(), Vec::<Value>::new());
}

#[test]
fn a_conflict_gives_another_port_which_is_published_and_announced() {
    require_loopback_only();
    // IGD v1: the next port is asked.
    let env = Env::new("ttui-upnp-718-v1");
    let port = free_port();
    let taken = port.to_string();
    let igd = Igd::start(&env, "127.0.0.7", &["--version", "1", "--taken", &taken]);
    let (d, id) = upnp_daemon(&env, &igd, port, &["--port-mapping-lease", "4s"]);
    let s = wait_status(&env, &id, "both mappings", mapped);
    assert_eq!(s["protocol"], "UPnP IGD1", "{s}");
    let next = u64::from(port) + 1;
    assert_eq!(s["tcp"]["external"], next, "{s}");
    assert_eq!(
        s["note"],
        format!(
            "UPnP error 718 (ConflictInMappingEntry) from 127.0.0.7:5000: mapped {next} instead of {port}"
        )
        .as_str(),
        "{s}"
    );
    assert!(igd.requests(&["-> 718 ConflictInMappingEntry"]) >= 2);
    // A renewal (every 2 s) asks the port granted again, and the note stays.
    let renewals =
        |n: u64| igd.requests(&["AddPortMapping", &format!("ExternalPort={n}"), "-> ok"]);
    let start = Instant::now();
    while renewals(next) < 4 {
        assert!(start.elapsed() < WAIT, "{}", igd.proc.stdout_text());
        std::thread::sleep(Duration::from_millis(250));
    }
    assert_eq!(status(&env, &id), s, "the renewals change nothing");
    assert_eq!(announced_port(&env), Some(next), "{s}");
    assert!(d.term().success());
    assert_eq!(
        igd.mappings(),
        Vec::<Value>::new(),
        "the granted port is the one deleted"
    );

    // IGD v2: AddAnyPortMapping, and the port it reserved.
    let env = Env::new("ttui-upnp-718-v2");
    let port = free_port();
    let taken = port.to_string();
    let igd = Igd::start(&env, "127.0.0.8", &["--taken", &taken]);
    let (d, id) = upnp_daemon(&env, &igd, port, &[]);
    let s = wait_status(&env, &id, "both mappings", mapped);
    assert_eq!(s["protocol"], "UPnP IGD2", "{s}");
    let granted = s["tcp"]["external"].as_u64().unwrap();
    assert_ne!(granted, u64::from(port), "{s}");
    assert!(
        igd.requests(&["AddAnyPortMapping", "-> ok"]) >= 2,
        "{}",
        igd.proc.stdout_text()
    );
    assert_eq!(announced_port(&env), Some(granted), "{s}");
    assert!(d.term().success());
    assert_eq!(igd.mappings(), Vec::<Value>::new());
}

#[test]
fn an_igd_that_takes_only_permanent_leases_gets_one() {
    require_loopback_only();
    let env = Env::new("ttui-upnp-725");
    let igd = Igd::start(&env, "127.0.0.12", &["--version", "1", "--permanent-only"]);
    let port = free_port();
    let (d, id) = upnp_daemon(&env, &igd, port, &[]);
    let s = wait_status(&env, &id, "both mappings", mapped);
    assert_eq!(s["protocol"], "UPnP IGD1", "{s}");
    assert_eq!(s["tcp"]["lifetime"], 0, "permanent: {s}");
    assert_eq!(
        igd.requests(&["-> 725 OnlyPermanentLeasesSupported"]),
        1,
        "asked once"
    );
    assert_eq!(
        igd.requests(&["AddPortMapping", "LeaseDuration=0", "-> ok"]),
        2
    );
    assert!(d.term().success());
    assert_eq!(igd.mappings(), Vec::<Value>::new());
}

#[test]
fn an_igd_down_is_one_line_and_asked_again_later() {
    require_loopback_only();
    let env = Env::new("ttui-upnp-down");
    let url = "http://127.0.0.10:5000/rootDesc.xml";
    let port = free_port();
    let (mut d, id) = mapping_daemon(&env, port, &["--port-mapping-igd", url]);
    let s = wait_status(&env, &id, "the failure", |s| s["error"].is_string());
    let e = s["error"].as_str().unwrap();
    assert!(
        e.starts_with(&format!("UPnP IGD {url}: ")) && e.to_lowercase().contains("refused"),
        "{e}"
    );
    assert!(!e.contains('\n'), "{e}");
    let reach = reachability(&env, &id);
    assert_eq!(
        reach["evidence"],
        format!("port mapping failed: {e}").as_str(),
        "{reach}"
    );
    d.assert_alive("with no IGD");
    // The IGD comes up: the next attempt (10 s after the first failure) maps.
    let t = Instant::now();
    let igd = Igd::start(&env, "127.0.0.10", &[]);
    let s = wait_status(&env, &id, "the mappings once the IGD is up", mapped);
    assert!(t.elapsed() < WAIT, "{:?}", t.elapsed());
    assert_eq!(s["protocol"], "UPnP IGD2", "{s}");
    assert!(s["error"].is_null(), "{s}");
    assert!(d.term().success());
    assert_eq!(igd.mappings(), Vec::<Value>::new());
}

#[test]
fn pcp_and_upnp_both_named_one_wins_and_the_other_is_removed() {
    require_loopback_only();
    let env = Env::new("ttui-upnp-race");
    let pmp = super::Server::start(&env, "127.0.0.11", &[]);
    let igd = Igd::start(&env, "127.0.0.11", &[]);
    let port = free_port();
    let gateway = "127.0.0.11:5351";
    let (d, id) = mapping_daemon(
        &env,
        port,
        &[
            "--port-mapping-gateway",
            gateway,
            "--port-mapping-igd",
            &igd.url,
        ],
    );
    let s = wait_status(&env, &id, "both mappings", mapped);
    let winner = s["protocol"].as_str().unwrap().to_string();
    assert!(winner == "PCP" || winner == "UPnP IGD2", "{s}");
    // Once both have answered, only the winner's mappings remain.
    let start = Instant::now();
    loop {
        let (p, u) = (pmp.mappings().len(), igd.mappings().len());
        let want = if winner == "PCP" { (2, 0) } else { (0, 2) };
        if (p, u) == want && start.elapsed() > Duration::from_secs(5) {
            break;
        }
        assert!(
            start.elapsed() < WAIT,
            "PCP holds {p}, UPnP {u}; {winner} won"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    assert_eq!(status(&env, &id)["protocol"], winner.as_str());
    assert!(d.term().success());
    assert_eq!(pmp.mappings(), Vec::<Value>::new());
    assert_eq!(igd.mappings(), Vec::<Value>::new());
}
