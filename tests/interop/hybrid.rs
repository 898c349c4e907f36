//! Hybrid v1+v2 torrents made by libtorrent 2.x: every file padded to a piece boundary with
//! BEP 47 pad files (`.pad/N`, attr `p`, one name repeated when two files need the same
//! padding), executable files marked with attr `x`. ttui must read them, show the pad files
//! as padding, download byte-identical from a libtorrent seeder through opentracker without
//! creating any pad file, and agree with libtorrent on the v1 info hash.
//!
//! Run through tests/run.sh: the download refuses to start unless the process sits in a
//! network namespace whose only interface is `lo`.
// A test crate: it may unwrap, and nothing in it is reachable from outside anyway.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use crate::common;
use crate::kit;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::*;

/// Makes a hybrid torrent of `payload` with python3-libtorrent (`create_torrent` flags 0) and
/// prints its v1 info hash, its v2 info hash (64 hex digits) and, one per line, each pad entry.
const MAKE_HYBRID: &str = r#"
import os, sys
import libtorrent as lt
payload, out, tracker, piece = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
fs = lt.file_storage()
lt.add_files(fs, payload)
ct = lt.create_torrent(fs, piece, flags=0)
ct.add_tracker(tracker)
lt.set_piece_hashes(ct, os.path.dirname(payload))
entry = ct.generate()
with open(out, "wb") as f:
    f.write(lt.bencode(entry))
h = lt.torrent_info(out).info_hashes()
assert h.has_v1() and h.has_v2(), "not a hybrid"
print(str(h.v1))
print(str(h.v2))
for f in entry[b"info"][b"files"]:
    if b"p" in f.get(b"attr", b""):
        print("pad", b"/".join(f[b"path"]).decode())
"#;

const PIECE: u32 = 1 << 16;

struct Hybrid {
    torrent: Torrent,
    v1: [u8; 20],
    /// The v2 hash truncated to 20 bytes, as libtorrent announces it.
    v2_short: [u8; 20],
    /// The whole v2 hash, in hex (for a `btmh` magnet).
    v2_hex: String,
    pads: Vec<String>,
}

fn parse_hex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| {
            u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap_or_else(|e| panic!("{s}: {e}"))
        })
        .collect()
}

fn make_hybrid(payload: &Path, out: &Path, tracker: &str) -> Hybrid {
    let o = Command::new("/usr/bin/python3")
        .arg("-c")
        .arg(MAKE_HYBRID)
        .arg(payload)
        .arg(out)
        .arg(tracker)
        .arg(PIECE.to_string())
        .output()
        .unwrap_or_else(|e| {
            panic!("python3-libtorrent is required (apt install python3-libtorrent): {e}")
        });
    assert!(
        o.status.success(),
        "making the hybrid torrent failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    let mut lines = text.lines();
    let v1 = parse_hex(lines.next().unwrap_or_default());
    let v2_hex = lines.next().unwrap_or_default().to_string();
    let v2 = parse_hex(&v2_hex);
    assert_eq!(
        (v1.len(), v2.len()),
        (20, 32),
        "hashes from libtorrent: {text}"
    );
    let pads = lines
        .filter_map(|l| l.strip_prefix("pad "))
        .map(str::to_owned)
        .collect();
    let mut v2_short = [0u8; 20];
    v2_short.copy_from_slice(&v2[..20]);
    Hybrid {
        torrent: Torrent::load(out),
        v1: v1.try_into().unwrap_or_else(|_| panic!("v1 hash")),
        v2_short,
        v2_hex,
        pads,
    }
}

/// Files whose sizes need padding (two of them the same amount, so one pad name repeats), a
/// file that fills its pieces exactly, an empty file, and an executable one.
fn make_payload(parent: &Path) -> std::path::PathBuf {
    let root = parent.join("hybrid pack");
    let p = u64::from(PIECE);
    let files: &[(&str, u64)] = &[
        ("a.bin", 15 * p + 16_960),
        ("docs/b.bin", 3 * p + 16_960),
        ("docs/deep/exact.bin", 4 * p),
        ("empty", 0),
        ("run.sh", 10_001),
        ("z-last.bin", 2 * p + 77),
    ];
    for (i, (name, len)) in files.iter().enumerate() {
        let path = root.join(name);
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        }
        let file = make_single_file_payload(
            path.parent().unwrap_or(&root),
            path.file_name().and_then(|n| n.to_str()).unwrap_or("x"),
            *len,
            100 + i as u64,
        );
        assert_eq!(file, path);
    }
    fs::set_permissions(root.join("run.sh"), fs::Permissions::from_mode(0o755))
        .unwrap_or_else(|e| panic!("chmod: {e}"));
    root
}

fn has_pad_path(root: &Path) -> bool {
    fs::read_dir(root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .flatten()
        .any(|e| {
            let path = e.path();
            e.file_name() == ".pad" || (path.is_dir() && has_pad_path(&path))
        })
}

#[test]
fn hybrid_torrent_with_padding_downloads_from_libtorrent() {
    require_loopback_only();
    let _swarm = swarm_lock();
    let dir = tempfile::Builder::new()
        .prefix("ttui-hybrid-")
        .tempdir()
        .unwrap_or_else(|e| panic!("tempdir: {e}"));
    let data_dir = dir.path().join("data");
    let payload = make_payload(&data_dir);

    let made = make_hybrid(&payload, &dir.path().join("made.torrent"), DEAD_TRACKER);
    // libtorrent announces a hybrid under both hashes: the tracker must know both.
    let mut tracker = Opentracker::start(&[made.v1, made.v2_short]);
    let torrent = made.torrent.with_trackers(
        &dir.path().join("hybrid.torrent"),
        Some(&tracker.http_url()),
        &[],
    );
    let hybrid = Hybrid { torrent, ..made };

    // The case of the bug report: one pad name appears more than once.
    let mut names = hybrid.pads.clone();
    names.sort();
    names.dedup();
    assert!(
        names.len() < hybrid.pads.len(),
        "no repeated pad name: {:?}",
        hybrid.pads
    );
    // v1 info hash: SHA-1 of the info dictionary, as libtorrent computes it.
    assert_eq!(hybrid.torrent.info_hash, hybrid.v1);

    // `ttui info` accepts it, prints libtorrent's v1 hash and marks every pad entry.
    let info = Ttui::run(
        [
            "info".to_string(),
            hybrid.torrent.path.display().to_string(),
        ],
        Duration::from_secs(30),
    );
    info.assert_success("ttui info on a hybrid torrent");
    assert!(
        info.stdout
            .contains(&format!("Info hash: {}", hex(&hybrid.v1))),
        "{}",
        info.stdout
    );
    let pad_lines: Vec<&str> = info
        .stdout
        .lines()
        .filter(|l| l.contains("/.pad/"))
        .collect();
    assert_eq!(pad_lines.len(), hybrid.pads.len(), "{}", info.stdout);
    assert!(
        pad_lines.iter().all(|l| l.contains("padding")),
        "pad files not marked:\n{}",
        info.stdout
    );

    let _seeder = LibtorrentSeeder::start(&hybrid.torrent, &data_dir, LtOptions::default());
    tracker.wait_seeders(&hybrid.v1, 1);

    let out = dir.path().join("out");
    fs::create_dir_all(&out).unwrap_or_else(|e| panic!("{}: {e}", out.display()));
    let run = Ttui::run(
        [
            hybrid.torrent.path.display().to_string(),
            "--headless".into(),
            "--bind".into(),
            "127.0.0.1".into(),
            "--port".into(),
            "0".into(),
            "-o".into(),
            out.display().to_string(),
        ],
        DOWNLOAD_TIMEOUT,
    );
    run.assert_success("hybrid download");
    assert!(
        run.stdout.contains("complete"),
        "exit 0 but no completion line\n{}",
        last_lines(&run.stdout, 20)
    );
    let got = out.join(&hybrid.torrent.name);
    assert!(
        !has_pad_path(&out),
        "a .pad path was created under {}",
        out.display()
    );
    assert_same_tree(&payload, &got);
    let mode = fs::metadata(got.join("run.sh"))
        .unwrap_or_else(|e| panic!("run.sh: {e}"))
        .permissions()
        .mode();
    assert_ne!(mode & 0o100, 0, "attr x not applied: mode {mode:o}");
    let mode = fs::metadata(got.join("a.bin"))
        .unwrap_or_else(|e| panic!("a.bin: {e}"))
        .permissions()
        .mode();
    assert_eq!(mode & 0o111, 0, "a.bin made executable: mode {mode:o}");
    eprintln!(
        "hybrid: {:.1}s — {}",
        run.elapsed.as_secs_f64(),
        last_lines(&run.stdout, 1)
    );
}

/// A hybrid is announced under both its hashes, and a peer listed only in the v2 swarm is
/// dialed under the v2 hash. The seed here is libtorrent given nothing but a `btmh` magnet
/// (the data already in its folder): it announces under the short v2 hash alone and knows
/// the torrent by no other name until it has the info dictionary. ttui, given the hybrid
/// .torrent, must find it in the v2 swarm, dial it under that name, give it the info
/// dictionary (nobody else can), and then download everything from it.
#[test]
fn a_hybrid_reaches_a_seed_that_knows_only_its_v2_hash() {
    require_loopback_only();
    let _swarm = swarm_lock();
    let dir = tempdir("ttui-hybrid-v2-swarm-");
    let data_dir = dir.path().join("data");
    let payload = make_payload(&data_dir);
    let made = make_hybrid(&payload, &dir.path().join("made.torrent"), DEAD_TRACKER);
    let tracker = Opentracker::start(&[made.v1, made.v2_short]);
    let torrent = made.torrent.with_trackers(
        &dir.path().join("hybrid.torrent"),
        Some(&tracker.http_url()),
        &[],
    );
    let magnet = format!(
        "magnet:?xt=urn:btmh:1220{}&tr={}",
        made.v2_hex,
        url_encode(tracker.http_url().as_bytes())
    );
    let mut seed = v2::MagnetLeecher::start_waiting(&magnet, &data_dir);
    // Its announce under the v2 hash is what ttui's finds; under the v1 hash, nobody.
    let listed = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        tracker
            .scrape(&made.v2_short)
            .is_some_and(|s| s.incomplete + s.complete > 0)
    });
    assert!(
        listed,
        "libtorrent never announced under the v2 hash\n{}",
        seed.report()
    );
    assert_eq!(
        tracker
            .scrape(&made.v1)
            .map_or(0, |s| s.incomplete + s.complete),
        0,
        "libtorrent announced under the v1 hash before it had the info dictionary"
    );

    let out = dir.path().join("out");
    fs::create_dir_all(&out).unwrap_or_else(|e| panic!("{}: {e}", out.display()));
    let run = Ttui::run(
        [
            torrent.path.display().to_string(),
            "--headless".into(),
            "--no-dht".into(),
            "--bind".into(),
            "127.0.0.1".into(),
            "--port".into(),
            "0".into(),
            "-o".into(),
            out.display().to_string(),
        ],
        DOWNLOAD_TIMEOUT,
    );
    run.assert_success(&format!(
        "hybrid download from a v2-only seed\n{}",
        seed.report()
    ));
    assert_same_tree(&payload, &out.join(&torrent.name));
    // libtorrent prints what it got on its own time: ttui may be done a moment before it
    // says so (seen under load).
    let told = |s: &str| s.contains("metadata") && s.contains("done ");
    let start = std::time::Instant::now();
    while !told(&seed.stdout_text()) && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let said = seed.stdout_text();
    assert!(
        told(&said),
        "libtorrent did not get the info dictionary from ttui and seed: {said}"
    );
}

/// A magnet that names a hybrid by its v2 hash alone (`xt=urn:btmh:` only, as the README
/// allows) takes the metadata from a libtorrent seed of the hybrid: the one-shot downloads it
/// byte-identical, and a session keeps it under its SHA-1 name across a restart, once, as
/// its .torrent would be, with nothing fetched again.
#[test]
fn a_hybrid_named_by_its_v2_hash_alone_downloads_and_is_kept_under_its_sha1() {
    require_loopback_only();
    let _swarm = swarm_lock();
    let dir = tempdir("ttui-hybrid-btmh-");
    let data_dir = dir.path().join("data");
    let payload = make_payload(&data_dir);
    let made = make_hybrid(&payload, &dir.path().join("made.torrent"), DEAD_TRACKER);
    let torrent = made
        .torrent
        .with_trackers(&dir.path().join("hybrid.torrent"), None, &[]);
    let seed = LibtorrentSeeder::start(&torrent, &data_dir, LtOptions::default());
    let magnet = format!("magnet:?xt=urn:btmh:1220{}", made.v2_hex);
    let peer = seed.addr().to_string();

    let out = dir.path().join("out");
    fs::create_dir_all(&out).unwrap_or_else(|e| panic!("{}: {e}", out.display()));
    let run = Ttui::run(
        [
            "--headless",
            "--no-dht",
            "--no-trackers",
            "--bind",
            "127.0.0.1",
            "--port",
            "0",
            "--peer",
            &peer,
            "-o",
            &out.display().to_string(),
            &magnet,
        ],
        DOWNLOAD_TIMEOUT,
    );
    run.assert_success("the one-shot of a hybrid's btmh-only magnet");
    assert_same_tree(&payload, &out.join(&torrent.name));

    let env = kit::Env::new("ttui-hybrid-btmh-session");
    let extra = vec!["--peer".to_string(), peer.clone()];
    let mut d = kit::Daemon::start(&env, "first", &extra);
    let added = env.verb(&["add", &magnet]);
    assert_eq!(added.code, 0, "{added:?}");
    let v1 = hex(&made.v1);
    let rows = env.wait_list("the magnet to complete", DOWNLOAD_TIMEOUT, &mut d, |rows| {
        rows.iter()
            .any(|r| r["info_hash"] == v1.as_str() && r["state"] == "seeding")
    });
    assert_eq!(rows.len(), 1, "{rows:?}");
    d.term();
    let short = hex(&made.v2_short);
    assert!(
        env.torrent_path(&v1).exists(),
        "no .torrent under the SHA-1"
    );
    assert!(
        !env.resume_path(&short).exists(),
        "the magnet's first name was kept beside the SHA-1"
    );
    let mut d = kit::Daemon::start(&env, "again", &extra);
    let rows = env.wait_list(
        "the torrent back, seeding",
        Duration::from_secs(60),
        &mut d,
        |rows| rows.iter().any(|r| r["state"] == "seeding"),
    );
    assert_eq!(rows.len(), 1, "one torrent, not two: {rows:?}");
    assert_eq!(
        kit::row_of(&rows, &v1)["verified_bytes"],
        kit::row_of(&rows, &v1)["total_bytes"]
    );
    d.term();
    assert_same_tree(&payload, &env.out.join(&torrent.name));
}
