//! The blocklist check against a tracker's swarm: four libtorrent seeds, each on its own
//! 127.0.0.x, announce to two opentrackers; one ttui daemon learns them from the first tracker
//! and its blocklist holds three of them, another learns them from the second and its list
//! holds one. The first must say its blocklist holds most of the swarm (3 of the 4 peers
//! learned), never dial the three, and still download from the fourth; the second, a list
//! that holds less than half, must say nothing about its list. Two trackers, so that neither
//! daemon learns the other as a fifth peer. The seeds send slowly, so both downloads are still
//! running while they are read.

use std::fs;
use std::net::Ipv4Addr;

use super::*;

const SEEDS: usize = 4;
/// 16 MiB at the serving seed's 128 KiB/s: a download that outlasts the case.
const SIZE: u64 = 16 << 20;
const SEED_RATE: u64 = 128 << 10;
/// How long the check may take to speak once the peers are learned and refused.
const FIRE_WAIT: Duration = Duration::from_secs(30);
/// How long the daemon whose list holds one seed is watched for a false word.
const WATCH: Duration = Duration::from_secs(10);

/// A blocklist (p2p format) holding exactly `ips`.
fn blocklist_file(env: &Env, ips: &[Ipv4Addr]) -> String {
    let path = env.root.path().join("blocklist.p2p");
    let lines: String = ips
        .iter()
        .enumerate()
        .map(|(i, ip)| format!("seed {i}:{ip}-{ip}\n"))
        .collect();
    fs::write(&path, lines).unwrap();
    path.display().to_string()
}

/// A daemon on its own `ip` (so a seed's log names ttui's connections by address, apart from
/// the tracker's on 127.0.0.1) with `--blocklist list`; returns once the list is loaded.
fn blocklist_daemon(env: &Env, ip: Ipv4Addr, list: &str) -> Daemon {
    let ip = ip.to_string();
    let d = daemon(env, &["--bind", &ip, "--blocklist", list]);
    let start = Instant::now();
    loop {
        let out = env.verb(&["blocklist", "update", "--json"]);
        let v: Value = serde_json::from_str(&out.stdout).unwrap_or(Value::Null);
        // Adjacent addresses merge into one range: any range means the list is in force.
        if v["ranges"].as_u64() > Some(0) {
            return d;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the blocklist never loaded: {v} {out:?}"
        );
        sleep(Duration::from_millis(200));
    }
}

/// `show ID --json`, parsed.
fn show(env: &Env, id: &str) -> Value {
    let out = env.verb(&["show", id, "--json"]);
    assert_eq!(out.code, 0, "show failed: {out:?}");
    serde_json::from_str(&out.stdout).unwrap()
}

/// The seed's alerts that name ttui at `ip` as a peer (its connections in and out).
fn saw_ttui(seed: &LibtorrentPeer, ip: Ipv4Addr) -> Vec<String> {
    seed.stderr_text()
        .lines()
        .filter(|l| l.contains(&format!("{ip}:")))
        .map(str::to_string)
        .collect()
}

fn blocklist_holds_most_of_the_swarm() {
    let root = tempdir("ttui-explain-blocklist-swarm-");
    let data = root.path().join("data");
    let p = Payload::make(&data, &root.path().join("t"), "blocked", &[("", SIZE)], 60);
    let hash = p.torrent.info_hash;
    let mut trackers = [Opentracker::start(&[hash]), Opentracker::start(&[hash])];
    let both = p.torrent.with_trackers(
        &root.path().join("t").join("both.torrent"),
        None,
        &[vec![trackers[0].http_url()], vec![trackers[1].http_url()]],
    );
    // libtorrent announces to every tier: each seed is on both trackers.
    let seeds: Vec<LibtorrentPeer> = (0..SEEDS)
        .map(|_| {
            LibtorrentPeer::start(
                &both,
                &data,
                LtOptions {
                    seed_mode: true,
                    upload_limit: SEED_RATE,
                    ..LtOptions::default()
                },
            )
        })
        .collect();
    for t in &mut trackers {
        t.wait_seeders(&hash, SEEDS as u64);
    }
    let ips: Vec<Ipv4Addr> = seeds.iter().map(|s| s.ip).collect();

    // Three of the four blocked, the swarm learned from the first tracker only.
    let env = Env::new("ttui-explain-blocklist-");
    let ttui_ip = loopback_ip();
    let list = blocklist_file(&env, &ips[..3]);
    let mut d = blocklist_daemon(&env, ttui_ip, &list);
    // Another daemon, its list holding one seed of four, the swarm from the second tracker.
    let env_few = Env::new("ttui-explain-blocklist-few-");
    let few_ip = loopback_ip();
    let list_few = blocklist_file(&env_few, &ips[..1]);
    let mut d_few = blocklist_daemon(&env_few, few_ip, &list_few);

    let one = p.torrent.with_trackers(
        &env.root.path().join("first.torrent"),
        Some(&trackers[0].http_url()),
        &[],
    );
    let other = p.torrent.with_trackers(
        &env_few.root.path().join("second.torrent"),
        Some(&trackers[1].http_url()),
        &[],
    );
    let id = add_torrent(&env, &one);
    let id_few = add_torrent(&env_few, &other);

    let want = "3 peers blocked by your blocklist: 3 of the 4 peers learned (";
    let top = wait_verdict_within(&env, &mut d, &id, "blocklist", "warning", FIRE_WAIT, |f| {
        text(f, "evidence").starts_with(want)
    });
    let evidence = text(&top, "evidence");
    let refused: u64 = evidence
        .strip_prefix(want)
        .and_then(|r| r.strip_suffix(" dials refused)"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no dial count in {evidence:?}"));
    assert!(refused >= 3, "{evidence}");
    assert!(
        text(&top, "advice").contains("check the blocklist"),
        "{top}"
    );
    // Only the blocklist warns: every other finding is fine.
    let others: Vec<Value> = explain(&env, &id)
        .into_iter()
        .filter(|f| f["check"] != "blocklist" && f["verdict"] != "ok")
        .collect();
    assert!(others.is_empty(), "other findings: {others:?}");

    // The session's view agrees: three rows refused by the list, three dials refused, and
    // the fourth seed connected and serving.
    let v = show(&env, &id);
    assert!(
        v["blocklist"]["refused_dials"].as_u64().unwrap_or(0) >= 3,
        "{}",
        v["blocklist"]
    );
    let rows = v["peers"].as_array().cloned().unwrap_or_default();
    for (i, seed) in seeds.iter().enumerate() {
        let addr = seed.addr().to_string();
        let row = rows
            .iter()
            .find(|r| r["address"] == addr.as_str())
            .unwrap_or_else(|| panic!("seed {addr} not listed: {rows:?}"));
        if i < 3 {
            assert_eq!(row["reason"], "blocked by blocklist", "{row}");
        } else {
            assert_eq!(row["state"], "connected", "{row}");
        }
    }
    env.wait_list("the unblocked seed to serve", FIRE_WAIT, &mut d, |rows| {
        row_of(rows, &p.hash())["verified_bytes"].as_u64() > Some(0)
    });
    // The blocked seeds never saw ttui, the serving one did (the same words, so the search
    // would have found a dial).
    assert!(
        !saw_ttui(&seeds[3], ttui_ip).is_empty(),
        "the serving seed never saw ttui at {ttui_ip}:\n{}",
        seeds[3].stderr_text()
    );
    for seed in &seeds[..3] {
        let seen = saw_ttui(seed, ttui_ip);
        assert!(
            seen.is_empty(),
            "blocked seed {} was dialed: {seen:?}",
            seed.ip
        );
    }

    // The list holding one of four: no word about it while the download runs, and its one
    // refusal is there to see.
    let start = Instant::now();
    let mut reads = 0;
    while start.elapsed() < WATCH || reads < 5 {
        d_few.assert_alive("the daemon with the short list");
        let v = show(&env_few, &id_few);
        let findings = v["explain"].as_array().cloned().unwrap_or_default();
        assert!(
            findings.iter().all(|f| f["check"] != "blocklist"),
            "a list holding 1 of 4 was blamed: {findings:?}"
        );
        let learned = v["peers"].as_array().map_or(0, Vec::len);
        if learned == SEEDS && v["blocklist"]["refused_dials"].as_u64() >= Some(1) {
            reads += 1;
        }
        assert!(
            start.elapsed() < FIRE_WAIT + WATCH,
            "the swarm never showed on the second daemon: {v}"
        );
        sleep(Duration::from_millis(500));
    }
    let row = row_of(&env_few.list(), &p.hash()).clone();
    assert_eq!(row["state"], "downloading", "{row}");
    assert!(
        saw_ttui(&seeds[0], few_ip).is_empty(),
        "the one blocked seed was dialed"
    );

    assert!(d.term().success());
    assert!(d_few.term().success());
    drop(seeds);
    drop(trackers);
}

/// Adds the torrent file `t` and returns its id.
fn add_torrent(env: &Env, t: &Torrent) -> String {
    let path = t.path.display().to_string();
    let r = env.verb(&["add", path.as_str()]);
    assert_eq!(r.code, 0, "{r:?}");
    row_of(&env.list(), &t.hash_hex())["id"].to_string()
}

#[test]
fn a_blocklist_holding_most_of_the_swarm_is_named() {
    require_loopback_only();
    if !prereq::have_python_libtorrent() {
        return;
    }
    let started = Instant::now();
    blocklist_holds_most_of_the_swarm();
    eprintln!("blocklist case in {:.1}s", started.elapsed().as_secs_f64());
}
