//! `torrent-rename-path` as Transmission's clients send it (the `transmission-rpc`
//! package's `rename_torrent_path`, the web client's request) and `ttui rename`: a
//! file inside a folder, then the top folder, renamed on disk with their bytes; what is
//! refused changes nothing; a restart keeps the names and trusts the pieces without hashing;
//! a leecher that knows only the .torrent's names still downloads everything from it.

use super::*;

const RENAME_PY: &str = r#"
import sys
from transmission_rpc import Client
port, tid, path, name = sys.argv[1:5]
c = Client(host="127.0.0.1", port=int(port), timeout=30)
print(c.rename_torrent_path(int(tid), path, name))
"#;

/// The files of the torrent as `torrent-get` names them.
fn names(client: &mut Rpc, hash: &str) -> Vec<String> {
    let t = client.torrent(hash, &["files"]).unwrap();
    let mut n: Vec<String> = t["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap().to_string())
        .collect();
    n.sort();
    n
}

fn tree(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn a_file_and_the_top_folder_are_renamed_on_disk_and_kept_across_a_restart() {
    if !prereq::have_tools(&["transmission-remote"]) {
        return;
    }
    let s = setup("ttui-rpc-rename-", "");
    let Setup {
        env,
        payloads,
        _seeders: seeders,
        daemon,
        rpc,
        ..
    } = s;
    let beta = &payloads[1];
    let added = remote(&env, rpc, &["-a", &beta.path()]);
    assert!(added.contains("success"), "{added}");
    let mut client = Rpc::new(rpc, None);
    let t = client.wait("the download", &beta.hash(), &["percentDone", "id"], |t| {
        t["percentDone"] == 1.0
    });
    let id = t["id"].as_u64().unwrap().to_string();
    // Only ours from here on: the leecher below can get its bytes from nowhere else.
    drop(seeders);
    let two = fs::read(beta.root.join("sub/two.bin")).unwrap();

    // A file inside a folder, with the Python package (transmission-remote 3.00 has no
    // rename; where the package's venv is missing, the same request by hand).
    let n: u64 = id.parse().unwrap();
    let python = std::env::var_os("TTUI_PY_VENV")
        .map(|v| PathBuf::from(v).join("bin/python"))
        .filter(|p| p.is_file());
    if let Some(python) = python {
        let script = env.root.path().join("rename.py");
        fs::write(&script, RENAME_PY).unwrap();
        let mut cmd = env.command(python.to_str().unwrap());
        cmd.arg(&script)
            .args([rpc.port().to_string(), id.clone()])
            .args(["beta/sub/two.bin", "deux.bin"]);
        let out = run(cmd, "rename_torrent_path");
        fs::remove_file(&script).unwrap();
        assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
        assert_eq!(out.stdout.trim(), "('beta/sub/two.bin', 'deux.bin')");
    } else {
        eprintln!("no transmission-rpc venv (TTUI_PY_VENV): the file is renamed by hand");
        let args = json!({"ids": [n], "path": "beta/sub/two.bin", "name": "deux.bin"});
        client.ok("torrent-rename-path", args);
    }
    assert_eq!(fs::read(env.out.join("beta/sub/deux.bin")).unwrap(), two);
    assert!(!env.out.join("beta/sub/two.bin").exists());
    assert_eq!(
        names(&mut client, &beta.hash()),
        ["beta/one.bin", "beta/sub/deux.bin", "beta/three.bin"]
    );

    // The top folder, as Transmission's web client asks it: the torrent's name follows.
    let top = "Beta renamed";
    let a = client.ok(
        "torrent-rename-path",
        json!({"ids": [n], "path": "beta", "name": top}),
    );
    assert_eq!(a, json!({"path": "beta", "name": top, "id": n}));
    assert!(!env.out.join("beta").exists());
    assert_eq!(
        tree(&env.out.join(top)),
        ["one.bin", "sub/deux.bin", "three.bin"]
    );
    assert_eq!(
        fs::read(env.out.join(top).join("sub/deux.bin")).unwrap(),
        two
    );
    let t = client.torrent(&beta.hash(), &["name", "status"]).unwrap();
    assert_eq!(t["name"], top, "{t}");

    // Refused, each in one clear line, and nothing changes.
    fs::write(env.out.join(top).join("stray.bin"), b"not ours").unwrap();
    for (path, name, why) in [
        ("Beta renamed/one.bin", "a/b", "invalid new name"),
        ("Beta renamed/one.bin", "..", "invalid new name"),
        ("Beta renamed/one.bin", "", "invalid new name"),
        ("Beta renamed/one.bin", "three.bin", "has a file or folder"),
        ("Beta renamed/one.bin", "stray.bin", "exists already"),
        ("Beta renamed/nothing", "x", "no file or folder"),
        ("beta/one.bin", "x", "no file or folder"),
    ] {
        let v = client.call(
            "torrent-rename-path",
            json!({"ids": [n], "path": path, "name": name}),
        );
        let result = v["result"].as_str().unwrap();
        assert!(result.contains(why), "{path} -> {name}: {v}");
        assert!(!result.contains('\n'), "{v}");
    }
    let v = client.call(
        "torrent-rename-path",
        json!({"ids": [], "path": "Beta renamed", "name": "x"}),
    );
    assert!(
        v["result"].as_str().unwrap().contains("requires 1 torrent"),
        "{v}"
    );
    assert_eq!(
        tree(&env.out.join(top)),
        ["one.bin", "stray.bin", "sub/deux.bin", "three.bin"]
    );
    fs::remove_file(env.out.join(top).join("stray.bin")).unwrap();

    // `ttui rename`, its --json row, and its refusal.
    let out = env.verb(&["rename", &id, "Beta renamed/three.bin", "3.bin", "--json"]);
    assert_eq!(out.code, 0, "{out:?}");
    let rows: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(rows[0]["id"], n, "{rows}");
    assert_eq!(rows[0]["error"], Value::Null, "{rows}");
    let bad = env.verb(&["rename", &id, "Beta renamed/3.bin", "../x"]);
    assert_ne!(bad.code, 0, "{bad:?}");
    assert_one_line(&bad.stderr, "ttui rename with a bad name");
    let renamed = [
        "Beta renamed/3.bin",
        "Beta renamed/one.bin",
        "Beta renamed/sub/deux.bin",
    ];
    assert_eq!(names(&mut client, &beta.hash()), renamed);
    client.wait(
        "seeding after the renames",
        &beta.hash(),
        &["status"],
        |t| t["status"] == 6,
    );

    // A clean stop and a start: the names are kept and the pieces trusted, nothing hashed.
    assert!(daemon.term().success());
    let mut daemon = Daemon::start(&env, "2", &["--rpc".to_string(), rpc.to_string()]);
    let mut client = Rpc::new(rpc, None);
    let t = client.wait(
        "seeding after the restart",
        &beta.hash(),
        &["status", "percentDone", "name"],
        |t| t["status"] == 6 && t["percentDone"] == 1.0,
    );
    assert_eq!(t["name"], top, "{t}");
    assert_eq!(names(&mut client, &beta.hash()), renamed);
    let log = daemon.log_text();
    // Said by the session as it comes back asleep, and by its task once woken.
    let resumed = verified_counts(&log, "from the saved resume data (files unchanged)");
    assert!(!resumed.is_empty(), "{log}");
    assert!(
        resumed.iter().all(|&c| c == (beta.pieces, beta.pieces)),
        "{log}"
    );
    assert!(
        lines_with(&log, "checked existing data").is_empty(),
        "{log}"
    );

    // A leecher knows only the .torrent's names; it gets every byte from the renamed files.
    let sess = client.ok("session-get", json!({"fields": ["peer-port"]}));
    let port = sess["peer-port"].as_u64().unwrap();
    let leech = env.root.path().join("leech");
    let run = Ttui::run(
        [
            beta.path(),
            "--headless".into(),
            "--no-trackers".into(),
            "--no-dht".into(),
            "-o".into(),
            leech.display().to_string(),
            "--port".into(),
            free_port().to_string(),
            "--peer".into(),
            format!("127.0.0.1:{port}"),
        ],
        DONE_WAIT,
    );
    run.assert_success("the leecher");
    assert_same_tree(&beta.root, &leech.join("beta"));
    daemon.assert_alive("the end");
}

/// Renamed while it downloads (slowed by the session's limit so the rename lands halfway):
/// the bytes written before go with the file, the rest are written under the new name, and
/// the file is whole and verified at the end; nothing is left at the old name.
#[test]
fn a_file_renamed_while_it_downloads_loses_nothing() {
    if !prereq::have_tools(&["transmission-remote"]) {
        return;
    }
    let s = setup("ttui-rpc-rename-live-", "");
    let (env, rpc) = (&s.env, s.rpc);
    let gamma = &s.payloads[2];
    let mut client = Rpc::new(rpc, None);
    client.ok(
        "session-set",
        json!({"speed-limit-down": 150, "speed-limit-down-enabled": true}),
    );
    let added = remote(env, rpc, &["-a", &gamma.path()]);
    assert!(added.contains("success"), "{added}");
    let t = client.wait("a part of it", &gamma.hash(), &["percentDone", "id"], |t| {
        t["percentDone"].as_f64().is_some_and(|p| p > 0.1)
    });
    let n = t["id"].as_u64().unwrap();
    let a = client.ok(
        "torrent-rename-path",
        json!({"ids": [n], "path": "gamma.bin", "name": "gamma renamed.bin"}),
    );
    assert_eq!(a["name"], "gamma renamed.bin");
    // The pieces verified up to its last resume point are kept (those since are fetched
    // again, as after a move).
    let t = client
        .torrent(&gamma.hash(), &["percentDone", "name"])
        .unwrap();
    assert!(
        t["percentDone"].as_f64().unwrap() < 1.0,
        "renamed halfway: {t}"
    );
    client.ok("session-set", json!({"speed-limit-down-enabled": false}));
    client.wait("the download", &gamma.hash(), &["percentDone"], |t| {
        t["percentDone"] == 1.0
    });
    assert_eq!(
        fs::read(env.out.join("gamma renamed.bin")).unwrap(),
        fs::read(&gamma.root).unwrap()
    );
    assert!(!env.out.join("gamma.bin").exists());
    let t = client.torrent(&gamma.hash(), &["name", "files"]).unwrap();
    assert_eq!(t["name"], "gamma renamed.bin", "{t}");
    assert_eq!(t["files"][0]["name"], "gamma renamed.bin", "{t}");
}
