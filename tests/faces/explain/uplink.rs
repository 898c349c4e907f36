//! The upload fills the link and starves a download. Three network namespaces of the case's
//! own make a home network: ttui's (`c0`, 127.0.0.2), a router's, and the world's (`w0`,
//! 127.0.0.3, where python3-libtorrent runs), joined by two veth pairs; loopback-range
//! addresses only, with `route_localnet` on, static neighbours and /32 routes. The router's
//! side towards the world is the uplink: a `tc tbf` of 250 kB/s that queues up to four seconds
//! of packets, as a home router's bloated buffer does. (The queue has to be in another
//! namespace than ttui's: Linux's TCP small queues keep a sender's own qdisc nearly empty,
//! so a shaper on ttui's side would never bloat. This kernel has no netem; tbf's queue is the
//! delay.) ttui downloads torrent A from a libtorrent seed (3 MB/s: the downlink), then a
//! libtorrent leecher starts taking torrent B from ttui: the upload fills the router's queue,
//! our requests and acknowledgements wait behind it, round trips grow from under a
//! millisecond to hundreds, and A's download falls. The explainer must say so for A, with
//! the measured ceiling, the round trips and the fall as evidence, and advise a limit at 80 %
//! of the ceiling; with that limit set (`ttui limit --up`), the queue drains, the verdict goes
//! and the download comes back. Before the leecher, with the download alone, no such verdict.
//!
//! Needs `ip netns`, veth and `tc`'s tbf; without them the case says why and passes as
//! skipped. The namespaces (and the pairs with them) go when the case ends, panicking or not.

use std::fs;
use std::process::Command;

use super::*;

const TTUI_IP: &str = "127.0.0.2";
const WORLD_IP: &str = "127.0.0.3";
const TTUI_PORT: u16 = 6881;
/// The uplink: 250 kB/s (an ADSL line's 2 Mbit/s), with a queue that holds four seconds of
/// it, as such lines' modems do.
const UPLINK: &str = "2mbit";
const UPLINK_QUEUE: &str = "4000ms";
/// The downlink, as the seed's own upload limit.
const SEED_RATE: u64 = 3_000_000;
const A_LEN: u64 = 256 << 20;
const B_LEN: u64 = 48 << 20;
/// Bound of each phase's wait: the explainer speaks within 30 s of its cause, and the queue
/// takes up to half a minute to build (and to drain).
const PHASE_WAIT: Duration = Duration::from_secs(75);

/// ttui's namespace, the router's and the world's, shaped as above; deleted on drop.
struct SlowUplink {
    ttui: String,
    router: String,
    world: String,
}

/// `args` run in namespace `ns`.
fn inside(ns: &str, args: &[&str]) -> Result<String, String> {
    let mut all = vec!["netns", "exec", ns];
    all.extend_from_slice(args);
    sh("ip", &all)
}

impl SlowUplink {
    fn make() -> Result<SlowUplink, String> {
        let pid = std::process::id();
        let n = SlowUplink {
            ttui: format!("ttui-up-c-{pid}"),
            router: format!("ttui-up-r-{pid}"),
            world: format!("ttui-up-w-{pid}"),
        };
        fs::create_dir_all("/run/netns").map_err(|e| format!("/run/netns: {e}"))?;
        n.delete();
        for ns in n.all() {
            sh("ip", &["netns", "add", ns])?;
        }
        n.wire()?;
        Ok(n)
    }

    fn all(&self) -> [&str; 3] {
        [&self.ttui, &self.router, &self.world]
    }

    fn delete(&self) {
        for ns in self.all() {
            let _ = sh("ip", &["netns", "del", ns]);
        }
    }

    fn mac(ns: &str, dev: &str) -> Result<String, String> {
        Ok(
            inside(ns, &["cat", &format!("/sys/class/net/{dev}/address")])?
                .trim()
                .to_string(),
        )
    }

    fn wire(&self) -> Result<(), String> {
        let (c, r, w) = (
            self.ttui.as_str(),
            self.router.as_str(),
            self.world.as_str(),
        );
        sh(
            "ip",
            &[
                "link", "add", "c0", "netns", c, "type", "veth", "peer", "name", "r0", "netns", r,
            ],
        )?;
        sh(
            "ip",
            &[
                "link", "add", "r1", "netns", r, "type", "veth", "peer", "name", "w0", "netns", w,
            ],
        )?;
        for (ns, devs) in [(c, &["c0"][..]), (r, &["r0", "r1"][..]), (w, &["w0"][..])] {
            inside(ns, &["ip", "link", "set", "lo", "up"])?;
            let mut keys = vec!["all".to_string(), "default".to_string()];
            keys.extend(devs.iter().map(|d| d.to_string()));
            for k in keys {
                // 127/8 off `lo` is martian without it; the router must not drop what it
                // forwards for coming from an unexpected side either.
                inside(
                    ns,
                    &[
                        "sysctl",
                        "-qw",
                        &format!("net.ipv4.conf.{k}.route_localnet=1"),
                    ],
                )?;
                inside(
                    ns,
                    &["sysctl", "-qw", &format!("net.ipv4.conf.{k}.rp_filter=0")],
                )?;
            }
            for d in devs {
                inside(ns, &["ip", "link", "set", d, "up"])?;
            }
        }
        inside(r, &["sysctl", "-qw", "net.ipv4.ip_forward=1"])?;

        inside(
            c,
            &["ip", "addr", "add", &format!("{TTUI_IP}/32"), "dev", "c0"],
        )?;
        inside(
            w,
            &["ip", "addr", "add", &format!("{WORLD_IP}/32"), "dev", "w0"],
        )?;
        inside(r, &["ip", "addr", "add", "127.0.0.5/32", "dev", "r0"])?;
        inside(r, &["ip", "addr", "add", "127.0.0.6/32", "dev", "r1"])?;
        // Static neighbours: no ARP for 127/8 to get wrong. CUBIC on each route, most
        // systems' TCP: this kernel's default, BBR, paces to the bottleneck and would build
        // no queue to starve anything (which is why BBR exists); a namespace may not change
        // its default, a route may.
        let route = |ns: &str, to: &str, dev: &str, mac: &str| -> Result<(), String> {
            let to32 = format!("{to}/32");
            inside(
                ns,
                &["ip", "route", "add", &to32, "dev", dev, "congctl", "cubic"],
            )?;
            inside(
                ns,
                &[
                    "ip",
                    "neigh",
                    "replace",
                    to,
                    "lladdr",
                    mac,
                    "dev",
                    dev,
                    "nud",
                    "permanent",
                ],
            )
            .map(drop)
        };
        let (mac_r0, mac_r1) = (Self::mac(r, "r0")?, Self::mac(r, "r1")?);
        let (mac_c0, mac_w0) = (Self::mac(c, "c0")?, Self::mac(w, "w0")?);
        route(c, WORLD_IP, "c0", &mac_r0)?;
        route(r, TTUI_IP, "r0", &mac_c0)?;
        route(r, WORLD_IP, "r1", &mac_w0)?;
        route(w, TTUI_IP, "w0", &mac_r1)?;
        inside(
            r,
            &[
                "tc",
                "qdisc",
                "add",
                "dev",
                "r1",
                "root",
                "tbf",
                "rate",
                UPLINK,
                "burst",
                "32kb",
                "latency",
                UPLINK_QUEUE,
            ],
        )
        .map(drop)
    }

    /// `program` run in namespace `ns` (`ip netns exec` execs it: the pid is its own).
    fn command(env: &Env, ns: &str, program: &str) -> Command {
        let mut cmd = env.command("ip");
        cmd.args(["netns", "exec", ns, program]);
        cmd
    }

    /// The uplink's counters, for the failure message.
    fn stats(&self) -> String {
        inside(&self.router, &["tc", "-s", "qdisc", "show", "dev", "r1"]).unwrap_or_else(|e| e)
    }
}

impl Drop for SlowUplink {
    fn drop(&mut self) {
        self.delete();
    }
}

/// python3-libtorrent in the world, seeding `p` or leeching it into `save`, dialing ttui.
fn libtorrent(
    env: &Env,
    ns: &SlowUplink,
    p: &Payload,
    save: &std::path::Path,
    leech: bool,
) -> Proc {
    let mut cmd = SlowUplink::command(env, &ns.world, "/usr/bin/python3");
    let port = if leech { "6883" } else { "6882" };
    cmd.arg(seeders_dir().join("lt_seed.py"))
        .arg("--torrent")
        .arg(&p.torrent.path)
        .arg("--save")
        .arg(save)
        // By device name: given a 127/8 address, libtorrent binds to `lo` and refuses what
        // arrives on `w0` (tests/net/interface.rs).
        .args(["--ip", "w0", "--port", port])
        .args(["--upload-limit", &SEED_RATE.to_string()])
        .args(["--download-limit", "0", "--announce-wait", "0"])
        .args(["--peer", &format!("{TTUI_IP}:{TTUI_PORT}")]);
    if leech {
        cmd.arg("--leech");
    }
    let name = if leech { "lt_leech" } else { "lt_seed" };
    let mut proc = Proc::spawn(name, &mut cmd, &env.logs);
    if !leech {
        proc.wait_for_stdout("libtorrent to seed", "ready", SHOW_WAIT);
    }
    proc
}

/// `show ID --json`.
fn show(env: &Env, id: &str) -> Value {
    let out = env.verb(&["show", id, "--json"]);
    assert_eq!(out.code, 0, "show failed: {out:?}");
    serde_json::from_str(&out.stdout).unwrap()
}

fn finding<'a>(v: &'a Value, check: &str) -> Option<&'a Value> {
    v["explain"]
        .as_array()?
        .iter()
        .find(|f| f["check"] == check)
}

fn num(v: &Value, key: &str) -> u64 {
    v["uplink"][key].as_u64().unwrap_or(0)
}

/// Polls `show` until `done` holds; panics with the last answer, the shaping's counters and
/// the logs.
fn wait_show(
    env: &Env,
    d: &mut Daemon,
    ns: &SlowUplink,
    id: &str,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let start = Instant::now();
    loop {
        d.assert_alive(what);
        let v = show(env, id);
        eprintln!(
            "{what}: {:.0}s uplink {} explain {}",
            start.elapsed().as_secs_f64(),
            v["uplink"],
            v["explain"]
        );
        eprintln!(
            "SS {}",
            inside(&ns.ttui, &["ss", "-tin"])
                .unwrap_or_default()
                .replace('\n', " | ")
        );
        if done(&v) {
            return v;
        }
        if start.elapsed() > PHASE_WAIT {
            panic!(
                "{what}: not within {PHASE_WAIT:?}\nlast: {v:#}\n{}\n{}",
                ns.stats(),
                d.report()
            );
        }
        sleep(Duration::from_secs(1));
    }
}

fn unsupported() -> Option<String> {
    SlowUplink::make().err()
}

pub(super) fn a_full_uplink_is_named_and_its_advice_frees_the_download() {
    if let Some(why) = unsupported() {
        eprintln!("skipped: cannot shape a namespace's link here: {why}");
        return;
    }
    let env = Env::new("ttui-explain-uplink-");
    let ns = SlowUplink::make().unwrap();
    let made = env.root.path().join("t");
    let seed_data = env.root.path().join("seed");
    let a = Payload::make(&seed_data, &made, "starved", &[("", A_LEN)], 61);
    // B is complete where the daemon saves: it seeds it.
    let b = Payload::make(&env.out, &made, "seeded", &[("", B_LEN)], 62);
    let extra: Vec<String> = ["--bind", TTUI_IP, "--port", &TTUI_PORT.to_string()]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let cmd = SlowUplink::command(&env, &ns.ttui, env!("CARGO_BIN_EXE_ttui"));
    let mut d = Daemon::start_cmd(&env, "1", &extra, cmd);
    let b_id = add(&env, &b);
    env.wait_list("B to seed", SHOW_WAIT, &mut d, |rows| {
        row_of(rows, &b.hash())["state"] == "seeding"
    });
    let a_id = add(&env, &a);
    let _seed = libtorrent(&env, &ns, &a, &seed_data, false);

    // The download alone, at the downlink's speed: no verdict against the uplink.
    let alone = wait_show(&env, &mut d, &ns, &a_id, "A downloading alone", |v| {
        num(v, "down") >= SEED_RATE / 2 && num(v, "down_best") >= SEED_RATE / 2
    });
    assert!(finding(&alone, "upload_saturation").is_none(), "{alone:#}");
    let rtt_alone = num(&alone, "rtt_ms");

    // A leecher takes B: the uplink fills.
    let leech_dir = env.root.path().join("leech");
    fs::create_dir_all(&leech_dir).unwrap();
    let mut leecher = libtorrent(&env, &ns, &b, &leech_dir, true);
    let full = wait_show(&env, &mut d, &ns, &a_id, "the full-uplink verdict", |v| {
        finding(v, "upload_saturation").is_some()
    });
    let f = finding(&full, "upload_saturation").unwrap();
    assert_eq!(f["verdict"], "holding_back", "{f}");
    let evidence = text(f, "evidence");
    assert!(
        evidence.starts_with("the upload fills the link: ")
            && evidence.contains("% of the most it has carried")
            && evidence.contains("round trips rose from")
            && evidence.contains("this download fell from"),
        "{evidence}"
    );
    // The ceiling measured is the tbf's rate, within what a sliding window makes of it. The
    // verdict can come while the window is still climbing to it (on a loaded machine it came
    // at 176,504 of 250,000): the ceiling must reach the rate, and never pass it by much.
    let settled = wait_show(
        &env,
        &mut d,
        &ns,
        &a_id,
        "the ceiling at the tbf's rate",
        |v| num(v, "up_ceiling") >= 180_000,
    );
    let ceiling = num(&settled, "up_ceiling");
    assert!(
        (180_000..=330_000).contains(&ceiling),
        "ceiling {ceiling}: {settled:#}"
    );
    assert!(
        num(&full, "rtt_rise_ms") >= 40 && num(&full, "rtt_ms") > rtt_alone,
        "{full:#}"
    );
    let starved = num(&full, "down");
    let advice = text(f, "advice");
    let limit = advice
        .split("`ttui limit --up ")
        .nth(1)
        .and_then(|r| r.strip_suffix('`'))
        .unwrap_or_else(|| panic!("no limit in the advice: {advice}"))
        .to_string();
    assert!(advice.contains("(80 % of "), "{advice}");
    eprintln!("verdict: {evidence} / {advice}");

    // The advice taken: the queue drains, the verdict goes, the download comes back. (The
    // verdict comes as the download crosses half its best, so "back" is half as much again.)
    let r = env.verb(&["limit", "--up", &limit]);
    assert_eq!(r.code, 0, "{r:?}");
    let freed = wait_show(&env, &mut d, &ns, &a_id, "the download freed", |v| {
        finding(v, "upload_saturation").is_none()
            && num(v, "down") >= (starved * 3 / 2).max(SEED_RATE / 3)
    });
    let up = num(&freed, "up");
    assert!(up > 0, "B stopped uploading: {freed:#}");
    eprintln!(
        "alone {} B/s at {rtt_alone} ms; full: {} B/s up, {starved} B/s down at {} ms; \
         limited to {limit}: {} B/s down, {up} B/s up at {} ms",
        num(&alone, "down"),
        num(&full, "up"),
        num(&full, "rtt_ms"),
        num(&freed, "down"),
        num(&freed, "rtt_ms"),
    );
    let _ = b_id;
    leecher.kill();
    assert!(d.term().success());
}
