//! `ttui create` end to end: the torrents it makes (v1, v2, hybrid) against python3-libtorrent
//! 2.0 (it loads them, its info hashes are the ones ttui printed, and its own
//! `create_torrent` on the same files gives the same hashes) and Transmission's
//! `transmission-show`; a torrent made with `--seed` downloads from a ttui daemon to a
//! libtorrent leecher byte for byte; what is skipped is reported; bad input is one line.
//!
//! Run through tests/run.sh: the seeding test refuses to run unless the process sits in a
//! network namespace whose only interface is `lo`.
// A test crate: it may unwrap, and nothing in it is reachable from outside anyway.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use crate::common;
mod interop;
use crate::kit;
mod seed;

use std::fs;
use std::path::{Path, PathBuf};

use common::*;
use kit::{run, Env, Out};
use serde_json::Value;

/// A tree with nested directories, an empty file, sizes that are not multiples of the
/// piece size (32 KiB in the tests), one that is, and a file smaller than a block.
pub fn make_tree(parent: &Path, name: &str) -> PathBuf {
    let root = parent.join(name);
    let k = 1024u64;
    let files: &[(&str, u64)] = &[
        ("a.bin", 100 * k + 7),
        ("b dir/c.bin", 40 * k),
        ("b dir/deep/d.bin", 64 * k),
        ("b dir/deep/empty", 0),
        ("e.txt", 5),
        ("z/last.bin", 33 * k + 1),
    ];
    for (i, (path, len)) in files.iter().enumerate() {
        let full = root.join(path);
        let dir = full.parent().unwrap();
        fs::create_dir_all(dir).unwrap();
        make_single_file_payload(
            dir,
            full.file_name().unwrap().to_str().unwrap(),
            *len,
            7 + i as u64,
        );
    }
    // One program among them: its `attr` "x" is in the torrent, as libtorrent writes it.
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(root.join("z/last.bin"), fs::Permissions::from_mode(0o755)).unwrap();
    root
}

/// `ttui create ARGS` in `env` (bounded), parsed as JSON when it succeeded with --json.
pub fn create(env: &Env, args: &[&str]) -> Out {
    let mut cmd = env.ttui();
    cmd.arg("create").args(args);
    run(cmd, &format!("ttui create {}", args.join(" ")))
}

pub fn json(out: &Out) -> Value {
    assert_eq!(out.code, 0, "ttui create failed: {out:?}");
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {out:?}"))
}

#[cfg(unix)]
fn mkfifo(path: &Path) {
    let ok = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "mkfifo {}", path.display());
}

#[test]
fn fifos_links_and_hidden_files_are_skipped_and_reported() {
    let env = Env::new("ttui-create-skips-");
    let tree = make_tree(env.root.path(), "pack");
    fs::write(tree.join(".secret"), b"hidden").unwrap();
    fs::create_dir_all(tree.join(".git")).unwrap();
    fs::write(tree.join(".git/HEAD"), b"ref").unwrap();
    mkfifo(&tree.join("b dir/pipe"));
    std::os::unix::fs::symlink("a.bin", tree.join("link")).unwrap();

    let out = create(&env, &["pack", "--json", "-o", "plain.torrent"]);
    let v = json(&out);
    assert_eq!(v["files"], 6, "{v}");
    for (what, why) in [
        (".secret", "hidden"),
        (".git", "hidden"),
        ("pipe", "FIFO"),
        ("link", "symbolic link"),
    ] {
        assert!(
            out.stderr
                .lines()
                .any(|l| l.starts_with("skipped") && l.contains(what) && l.contains(why)),
            "{what} ({why}) not reported:\n{}",
            out.stderr
        );
        let skipped = v["skipped"].as_array().unwrap();
        assert!(
            skipped
                .iter()
                .any(|s| s["path"].as_str().unwrap().ends_with(what) && s["why"] == why),
            "{what} not in JSON: {v}"
        );
    }
    // Not a terminal: no progress line, no escape sequence.
    assert!(!out.stderr.contains('\x1b'), "{:?}", out.stderr);

    let out = create(
        &env,
        &["pack", "--hidden", "--json", "-o", "hidden.torrent"],
    );
    let v = json(&out);
    assert_eq!(v["files"], 8, "--hidden takes .secret and .git/HEAD: {v}");
    assert!(!out.stderr.contains("hidden)"), "{}", out.stderr);
    assert!(out.stderr.contains("FIFO"), "{}", out.stderr);
}

#[test]
fn bad_input_is_one_line_and_fails() {
    let env = Env::new("ttui-create-bad-");
    let tree = make_tree(env.root.path(), "pack");
    fs::create_dir_all(env.root.path().join("hollow/sub")).unwrap();
    fs::write(env.root.path().join("hollow/sub/zero"), b"").unwrap();
    fs::write(env.root.path().join("taken.torrent"), b"x").unwrap();
    let _ = tree;
    let cases: &[(&[&str], &str)] = &[
        (&["missing"], "No such file"),
        (&["hollow"], "nothing to share"),
        (&["pack", "--piece-size", "20000"], "power of two"),
        (&["pack", "--piece-size", "8K"], "power of two"),
        (&["pack", "--piece-size", "512M"], "power of two"),
        (&["pack", "-o", "taken.torrent"], "exists"),
        (&["pack", "-o", "no/such/dir/x.torrent"], "not a directory"),
        (&["pack", "--v1", "--v2"], "cannot be used with"),
    ];
    for (args, needle) in cases {
        let out = create(&env, args);
        assert_ne!(out.code, 0, "{args:?} succeeded: {out:?}");
        assert!(out.stderr.contains(needle), "{args:?}: {:?}", out.stderr);
        if !needle.contains("cannot be used") {
            // clap's own usage errors are clap's; ours are one line.
            assert_eq!(
                out.stderr.trim_end().lines().count(),
                1,
                "{args:?}: {:?}",
                out.stderr
            );
            assert!(
                out.stderr.starts_with("error: "),
                "{args:?}: {:?}",
                out.stderr
            );
        }
    }
    assert_eq!(
        fs::read(env.root.path().join("taken.torrent")).unwrap(),
        b"x"
    );
    // --force overwrites.
    let out = create(&env, &["pack", "-o", "taken.torrent", "--force", "--json"]);
    json(&out);
    assert!(
        fs::read(env.root.path().join("taken.torrent"))
            .unwrap()
            .len()
            > 100
    );
    // Nothing half-written is left by the failures.
    assert!(!env.root.path().join("pack.torrent").exists());
}
