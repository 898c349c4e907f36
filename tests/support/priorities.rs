//! What the `--only-files` tests (tests/interop/priorities.rs, tests/interop/priorities_magnet.rs) share: the
//! five-file payload, a python3-libtorrent seeder of it, and the checks on what a download
//! made of it (files present or absent, priorities, the finished row).
//!
//! Included with `#[path]` next to tests/support/kit.rs and payload.rs, which it builds on.

use std::fs;
use std::path::Path;

use serde_json::Value;

use crate::common::{require_loopback_only, swarm_lock, LibtorrentSeeder, LtOptions, SwarmGuard};
use crate::kit::{row_of, Env};
use crate::payload::Payload;

pub const NAMES: [&str; 5] = ["a.bin", "b.bin", "c.bin", "d.bin", "e.bin"];
pub const SIZES: [u64; 5] = [300_000, 200_000, 500_000, 150_000, 250_000];

/// What every test here starts with: loopback only, python3-libtorrent installed (else None:
/// the test is skipped), the swarm lock held (bind it first so it is dropped last), a fresh Env.
pub fn setup(prefix: &str) -> Option<(SwarmGuard, Env)> {
    require_loopback_only();
    if !crate::prereq::have_python_libtorrent() {
        return None;
    }
    let lock = swarm_lock();
    Some((lock, Env::new(prefix)))
}

/// A payload, its libtorrent seeder and the seeder's `ip:port` for `--peer`.
pub struct Swarm {
    pub p: Payload,
    pub seed: LibtorrentSeeder,
    pub addr: String,
}

impl Swarm {
    /// `files` under `fixtures/data/name` (bytes from `seed_no`), seeded by libtorrent.
    pub fn new(env: &Env, name: &str, files: &[(&str, u64)], seed_no: u64, log: bool) -> Swarm {
        let fixtures = env.root.path().join("fixtures");
        let data = fixtures.join("data");
        let p = Payload::make(&data, &fixtures, name, files, seed_no);
        // Its trackers stripped, so it is ready at once; it serves the metadata (BEP 9) too.
        let bare =
            p.torrent
                .with_trackers(&fixtures.join(format!("{name}-bare.torrent")), None, &[]);
        let opts = LtOptions {
            seed_mode: true,
            log_uploads: log,
            ..LtOptions::default()
        };
        let seed = LibtorrentSeeder::start(&bare, &data, opts);
        let addr = seed.addr().to_string();
        Swarm { p, seed, addr }
    }

    /// The five files of NAMES and SIZES in a folder `multi`.
    pub fn multi(env: &Env, seed_no: u64, log: bool) -> Swarm {
        let files: Vec<(&str, u64)> = NAMES.iter().copied().zip(SIZES).collect();
        Swarm::new(env, "multi", &files, seed_no, log)
    }

    pub fn magnet(&self) -> String {
        format!("magnet:?xt=urn:btih:{}&dn=multi", self.p.hash())
    }

    /// `--peer ADDR`, for `Daemon::start`.
    pub fn peer_args(&self) -> Vec<String> {
        vec!["--peer".into(), self.addr.clone()]
    }
}

/// The wanted files of `p` byte-identical under `out`, the others never created.
pub fn assert_only(out: &Path, p: &Payload, wanted: &[usize]) {
    let data = p.root.parent().unwrap();
    for (i, (rel, _)) in p.files.iter().enumerate() {
        let path = out.join(rel);
        if wanted.contains(&i) {
            let got = fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let want = fs::read(data.join(rel)).unwrap();
            assert!(got == want, "{} differs", rel.display());
        } else {
            assert!(
                !path.exists(),
                "skipped file {} was created",
                path.display()
            );
        }
    }
}

/// `ttui files ID --json`.
pub fn files_json(env: &Env, id: &str) -> Vec<Value> {
    let out = env.verb(&["files", id, "--json"]);
    assert_eq!(out.code, 0, "{out:?}");
    match serde_json::from_str::<Value>(&out.stdout) {
        Ok(Value::Array(rows)) => rows,
        other => panic!("files --json is not an array: {other:?}"),
    }
}

/// Each file's priority as `ttui files ID --json` says it.
pub fn priorities(env: &Env, id: &str) -> Vec<String> {
    files_json(env, id)
        .iter()
        .map(|r| r["priority"].as_str().unwrap().to_string())
        .collect()
}

/// The torrent `hash` seeds with all it wants.
pub fn done_row(rows: &[Value], hash: &str) -> bool {
    rows.iter()
        .any(|r| r["info_hash"] == hash && r["state"] == "seeding" && r["progress"] == 1.0)
}

/// Its `id` field (for the verbs), from the row of `hash`.
pub fn id_of(rows: &[Value], hash: &str) -> String {
    row_of(rows, hash)["id"].to_string()
}
