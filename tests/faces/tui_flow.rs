//! One user's whole session end to end (issue 21): the real `ttui --state-dir DIR` in a tmux
//! pane, two real seeders on loopback (python3-libtorrent with a folder of four files,
//! Transmission with one file), every step typed as a person would:
//!
//! 1. `a`, a partial path, Tab completes the .torrent, one file unchecked in its tree, Enter;
//!    `a`, a magnet link pasted (bracketed; `x.pe` names Transmission), Enter;
//! 2. both complete (`ttui list --json` of the same state dir); the unchecked file was never
//!    created, every other file is byte-identical to the seeder's;
//! 3. Enter opens the detail view: tabs 1–6 each show their own pane; on Files, `H` makes a
//!    file high priority (`ttui files --json`); `L` sets the torrent's limits (`ttui limit`);
//! 4. `q`, then the same command again: both torrents are back, priority and limits kept;
//! 5. `x` `d` removes the folder torrent with its data (gone from disk, its parts file too),
//!    `x` `k` removes the other and keeps its file; `q` exits 0.
//!
//! Every process is killed by pid (the seeders' handles) or with the pane's tmux server;
//! every file lives in a temporary directory. Run through tests/run.sh (loopback only).
// A test crate: it may unwrap, and nothing in it is reachable from outside anyway.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use crate::common;
use crate::kit;
use crate::payload;
use crate::prereq;
use crate::tmux;

use std::fs;
use std::path::{Path, PathBuf};
use std::thread::sleep;
use std::time::{Duration, Instant};

use common::*;
use kit::*;
use payload::*;
use serde_json::Value;
use tmux::Tmux;

const BIN: &str = env!("CARGO_BIN_EXE_ttui");
/// A screen or a verb to show what a key did.
const UI_WAIT: Duration = Duration::from_secs(20);
/// Both downloads (Transmission waits ~10 s before its first byte).
const DONE_WAIT: Duration = Duration::from_secs(90);
const ALBUM: &str = "flow album";
const SINGLE: &str = "flow-single.bin";
/// The album's files in mktorrent's (sorted) order; the second is unchecked when added.
const ALBUM_FILES: &[(&str, u64)] = &[
    ("a-one.bin", (3 << 19) + 3),
    ("b-skip.bin", 700_001),
    ("c-sub/d-deep.bin", 900_007),
    ("e-readme.txt", 5_000),
];
const SKIPPED: usize = 1;

fn quote(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', r"'\''"))
}

/// The row the UI marks as selected (`▸` in the first column), on the list or a tab.
fn selected(screen: &str) -> Option<&str> {
    screen.lines().find(|l| l.starts_with('▸'))
}

/// Moves the selection (`g`, then `j` a row at a time) onto the row containing `name`.
fn select(pane: &Tmux, name: &str, context: impl Fn() -> String) {
    pane.keys(&["g"]);
    for _ in 0..12 {
        sleep(Duration::from_millis(300));
        if selected(&pane.capture()).is_some_and(|l| l.contains(name)) {
            return;
        }
        pane.keys(&["j"]);
    }
    panic!(
        "could not select {name:?}\n{}\n{}",
        pane.capture(),
        context()
    );
}

/// Polls `probe` until it returns Some (at most `timeout`).
fn poll<T>(what: &str, timeout: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let end = Instant::now() + timeout;
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(Instant::now() < end, "timed out after {timeout:?}: {what}");
        sleep(Duration::from_millis(250));
    }
}

fn done(rows: &[Value], hash: &str) -> bool {
    rows.iter()
        .any(|r| r["info_hash"] == hash && r["state"] == "seeding" && r["progress"] == 1.0)
}

fn id_of(env: &Env, hash: &str) -> String {
    row_of(&env.list(), hash)["id"].to_string()
}

/// `ttui files ID --json`: (path, priority) in the torrent's order.
fn priorities(env: &Env, id: &str) -> Vec<(String, String)> {
    let out = env.verb(&["files", id, "--json"]);
    assert_eq!(out.code, 0, "{out:?}");
    let files: Value = serde_json::from_str(&out.stdout).unwrap();
    files
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {files}"))
        .iter()
        .map(|f| {
            let s = |k: &str| f[k].as_str().unwrap_or("").to_string();
            (s("path"), s("priority"))
        })
        .collect()
}

fn want_priorities(high: bool) -> Vec<(String, String)> {
    ALBUM_FILES
        .iter()
        .enumerate()
        .map(|(i, (rel, _))| {
            let p = match i {
                SKIPPED => "skip",
                0 if high => "high",
                _ => "normal",
            };
            (format!("{ALBUM}/{rel}"), p.to_string())
        })
        .collect()
}

fn limit_text(env: &Env, id: &str) -> String {
    let out = env.verb(&["limit", id]);
    assert_eq!(out.code, 0, "{out:?}");
    out.stdout
}

/// Whether a screen shows a tab's own pane.
type ShowsTab = fn(&str) -> bool;

const LIMIT_LINE: &str = "down 1 MiB/s, up 300 KiB/s";

/// The downloaded album: the skipped file absent, the others as the seeder has them.
fn assert_album_on_disk(out: &Path, seeded: &Path) {
    for (i, (rel, _)) in ALBUM_FILES.iter().enumerate() {
        let got = out.join(ALBUM).join(rel);
        if i == SKIPPED {
            assert!(!got.exists(), "the unchecked {rel} was created");
        } else {
            let want = fs::read(seeded.join(rel)).unwrap();
            let have = fs::read(&got).unwrap_or_else(|e| panic!("{}: {e}", got.display()));
            assert!(have == want, "{rel} differs from the seeder's");
        }
    }
}

#[test]
fn a_users_whole_session_from_add_to_remove() {
    require_loopback_only();
    if !prereq::have_tools(&["tmux", "transmission-daemon", "mktorrent"])
        || !prereq::have_python_libtorrent()
    {
        return;
    }
    let _swarm = swarm_lock();
    let started = Instant::now();
    let step = |what: &str| eprintln!("[{:5.1}s] {what}", started.elapsed().as_secs_f64());

    // The payloads, their tracker-less torrents (the album's in a folder of its own, beside
    // the other's, so Tab has to tell them apart) and the two seeders.
    let env = Env::new("ttui-flow-");
    let root = env.root.path().to_path_buf();
    let (fixtures, pick) = (root.join("fixtures"), root.join("pick"));
    let data = fixtures.join("data");
    let album = Payload::make(&data, &fixtures, ALBUM, ALBUM_FILES, 21);
    let single = Payload::make(&data, &fixtures, SINGLE, &[("", (2 << 20) + 11)], 22);
    fs::create_dir_all(&pick).unwrap();
    let album_t = album
        .torrent
        .with_trackers(&pick.join("flow-album.torrent"), None, &[]);
    let single_t = single
        .torrent
        .with_trackers(&pick.join("flow-single.torrent"), None, &[]);
    let lt = LibtorrentPeer::start(
        &album_t,
        &data,
        LtOptions {
            seed_mode: true,
            ..LtOptions::default()
        },
    );
    let tr = TransmissionSeeder::start(&single_t, &data);
    let (album_hash, single_hash) = (album.hash(), single.hash());
    step(&format!(
        "seeders up: libtorrent {}, Transmission {}",
        lt.addr(),
        tr.addr()
    ));

    // The pane runs the session, then (after Enter) the same command again.
    let session = |run: u32| {
        format!(
            "{} --state-dir {} -o {} --no-dht --port 0 --bind 127.0.0.1 --transport tcp \
             --peer {} --peer {} --log-file {}\necho \"FLOW-EXIT{run}=$?\"\n",
            quote(Path::new(BIN)),
            quote(&env.state),
            quote(&env.out),
            lt.addr(),
            tr.addr(),
            quote(&env.logs.join(format!("tui-{run}.log"))),
        )
    };
    let script = root.join("flow.sh");
    let r = quote(&root);
    fs::write(
        &script,
        format!(
            "cd {r} || exit 1\nunset XDG_RUNTIME_DIR NO_COLOR\n\
             export TTUI_NO_PUBLIC_ROUTERS=1 TERM=xterm-256color XDG_STATE_HOME={r} \
             XDG_DATA_HOME={r} XDG_CONFIG_HOME={r}\n{}read -r _\n{}sleep 60\n",
            session(1),
            session(2)
        ),
    )
    .unwrap();
    let pane = Tmux::start(120, 40, &format!("sh {}", quote(&script)));
    let logs = env.logs.clone();
    let context = move || {
        format!(
            "{}\n{}",
            tail(&logs.join("tui-1.log"), 25),
            tail(&logs.join("tui-2.log"), 25)
        )
    };
    pane.wait_for("the empty list", UI_WAIT, &context, |s| s.contains("a add"));

    // 1a. `a`, a partial path, Tab: the album's tree; uncheck its second file, Enter.
    pane.keys(&["a"]);
    pane.wait_for("the add dialog", UI_WAIT, &context, |s| {
        s.contains("Add a torrent")
    });
    pane.keys(&["C-u"]);
    pane.type_text(&format!("{}/flow-a", pick.display()));
    pane.keys(&["Tab"]);
    let screen = pane.wait_for("the completed path and its tree", UI_WAIT, &context, |s| {
        s.contains("flow-album.torrent") && s.contains("4 files") && s.contains("b-skip.bin")
    });
    assert!(screen.contains("4 checked"), "{screen}");
    // Source, Save to, Start paused, the album's folder, a-one.bin, b-skip.bin.
    pane.keys(&["Down", "Down", "Down", "Down", "Down", "Space"]);
    let screen = pane.wait_for("b-skip.bin unchecked", UI_WAIT, &context, |s| {
        s.contains("3 checked")
    });
    assert!(
        screen.lines().any(|l| l.contains("[ ] b-skip.bin")),
        "{screen}"
    );
    pane.keys(&["Enter"]);
    pane.wait_for("the album in the list", UI_WAIT, &context, |s| {
        !s.contains("Add a torrent") && s.lines().any(|l| l.contains(ALBUM))
    });

    // 1b. `a` again: a pasted magnet link, Enter.
    pane.keys(&["a"]);
    pane.wait_for("the add dialog again", UI_WAIT, &context, |s| {
        s.contains("Add a torrent")
    });
    pane.keys(&["C-u"]);
    let magnet = format!(
        "magnet:?xt=urn:btih:{single_hash}&dn={SINGLE}&x.pe={}",
        tr.addr()
    );
    pane.paste(&magnet);
    pane.wait_for("the pasted link", UI_WAIT, &context, |s| {
        s.contains("once the metadata arrives")
    });
    pane.keys(&["Enter"]);
    pane.wait_for("the dialog closed", UI_WAIT, &context, |s| {
        !s.contains("Add a torrent")
    });
    step("both added from the dialog");

    // 2. Both complete, as the session's own list says; the files on disk.
    let rows = poll("both torrents to complete", DONE_WAIT, || {
        let rows = env.list();
        (done(&rows, &album_hash) && done(&rows, &single_hash)).then_some(rows)
    });
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(
        row_of(&rows, &album_hash)["why"],
        "done (3 of 4 files wanted)"
    );
    assert_album_on_disk(&env.out, &album.root);
    assert!(fs::read(env.out.join(SINGLE)).unwrap() == fs::read(&single.root).unwrap());
    step("both complete, files as seeded, the unchecked one absent");

    // 3. The album's detail view: every tab shows its own pane.
    let album_id = id_of(&env, &album_hash);
    select(&pane, ALBUM, &context);
    pane.keys(&["Enter"]);
    pane.wait_for("the detail view", UI_WAIT, &context, |s| {
        s.contains("1 Overview") && s.contains(ALBUM)
    });
    let tabs: [(&str, &str, ShowsTab); 6] = [
        ("1", "Overview", |s| s.contains("Why is it slow?")),
        ("2", "Peers", |s| {
            s.contains("Address") && s.contains("Client")
        }),
        ("3", "Pieces", |s| {
            s.contains("have (v)") && !s.contains("Address")
        }),
        ("4", "Files", |s| {
            s.contains("Priority") && s.contains("1 skipped")
        }),
        ("5", "Trackers", |s| s.contains("Other sources of peers")),
        ("6", "Log", |s| s.contains(" Events ")),
    ];
    for (key, name, shows) in tabs {
        pane.keys(&[key]);
        pane.wait_for(&format!("the {name} tab"), UI_WAIT, &context, shows);
    }
    // Files: `H` on a-one.bin.
    pane.keys(&["4"]);
    select(&pane, "a-one.bin", &context);
    pane.keys(&["H"]);
    poll("a-one.bin high in `ttui files`", UI_WAIT, || {
        (priorities(&env, &album_id) == want_priorities(true)).then_some(())
    });
    pane.wait_for("high on the Files tab", UI_WAIT, &context, |s| {
        selected(s).is_some_and(|l| l.contains("a-one.bin") && l.contains("high"))
    });
    // Overview: `L`, the torrent's own limits.
    pane.keys(&["1"]);
    pane.keys(&["L"]);
    pane.wait_for("the limits dialog", UI_WAIT, &context, |s| {
        s.contains(&format!("Rate limits: {ALBUM}"))
    });
    pane.type_text("1M");
    pane.keys(&["Tab"]);
    pane.type_text("300K");
    pane.keys(&["Enter"]);
    poll("the album's limits in `ttui limit`", UI_WAIT, || {
        limit_text(&env, &album_id)
            .contains(LIMIT_LINE)
            .then_some(())
    });
    pane.wait_for("the dialog closed", UI_WAIT, &context, |s| {
        !s.contains("Rate limits:")
    });
    pane.keys(&["Escape"]);
    pane.wait_for("the list", UI_WAIT, &context, |s| {
        !s.contains("1 Overview") && s.contains(SINGLE) && s.contains(ALBUM)
    });
    step("tabs visited, priority and limits set");

    // 4. Quit and start again: both back, priority and limits kept.
    pane.keys(&["q"]);
    pane.wait_for("the first session to exit 0", UI_WAIT, &context, |s| {
        s.contains("FLOW-EXIT1=0")
    });
    pane.keys(&["Enter"]);
    pane.wait_for("both in the list again", UI_WAIT, &context, |s| {
        !s.contains("FLOW-EXIT1") && s.contains(SINGLE) && s.contains(ALBUM)
    });
    let rows = poll("both complete after the restart", UI_WAIT, || {
        let rows = env.list();
        (rows.len() == 2 && done(&rows, &album_hash) && done(&rows, &single_hash)).then_some(rows)
    });
    assert_eq!(
        row_of(&rows, &album_hash)["why"],
        "done (3 of 4 files wanted)"
    );
    assert_album_on_disk(&env.out, &album.root);
    let album_id = id_of(&env, &album_hash);
    assert_eq!(priorities(&env, &album_id), want_priorities(true));
    let limits = limit_text(&env, &album_id);
    assert!(limits.contains(LIMIT_LINE), "{limits}");
    step("restarted: both back, priority and limits kept");

    // 5. Remove the album with its data, the single file without.
    select(&pane, ALBUM, &context);
    pane.keys(&["x"]);
    pane.wait_for("the remove dialog", UI_WAIT, &context, |s| {
        s.contains(&format!("Remove {ALBUM}?"))
    });
    pane.keys(&["d"]);
    let parts = env.out.join(format!(".{album_hash}.parts"));
    poll("the album's data deleted", UI_WAIT, || {
        (!env.out.join(ALBUM).exists() && !parts.exists()).then_some(())
    });
    poll("the album gone from the list", UI_WAIT, || {
        (env.list().len() == 1).then_some(())
    });
    pane.wait_for("the removal's answer", UI_WAIT, &context, |s| {
        s.contains(&format!("removed {ALBUM} and its data"))
    });
    select(&pane, SINGLE, &context);
    pane.keys(&["x"]);
    pane.wait_for("the remove dialog", UI_WAIT, &context, |s| {
        s.contains(&format!("Remove {SINGLE}?"))
    });
    pane.keys(&["k"]);
    poll("the list empty", UI_WAIT, || {
        env.list().is_empty().then_some(())
    });
    pane.wait_for("the empty list and the answer", UI_WAIT, &context, |s| {
        s.contains("no torrents yet") && s.contains(&format!("removed {SINGLE} (data kept)"))
    });
    let kept: PathBuf = env.out.join(SINGLE);
    assert!(
        fs::read(&kept).unwrap() == fs::read(&single.root).unwrap(),
        "the kept file changed"
    );
    pane.keys(&["q"]);
    pane.wait_for("the second session to exit 0", UI_WAIT, &context, |s| {
        s.contains("FLOW-EXIT2=0")
    });
    // Restarted with the album removed, and removed again: nothing brings it back.
    assert!(!env.out.join(ALBUM).exists());
    step("removed: the album's data gone, the single file kept");
    drop((lt, tr));
}
