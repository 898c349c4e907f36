//! A torrent with everything ttui makes safe rather than refuses (issue 23), downloaded whole
//! from python3-libtorrent 2.0.8: a `..` element, a backslash, a 300-byte file name, 200 `é`,
//! a Latin-1 name, a repeated path, a link inside the torrent and one pointing out of it, a
//! BEP 47 pad and a legacy `_____padding_file_` one, and a newline after the dictionary.
//! libtorrent seeds from the paths it makes of the same names (asked from libtorrent itself);
//! ttui must write every byte to its own sanitised paths, create the inside link, skip the
//! outside one, and put nothing outside its output directory.
//!
//! Run through tests/run.sh: every test refuses to start unless the process sits in a
//! network namespace whose only interface is `lo`.
// A test crate: it may unwrap, and nothing in it is reachable from outside anyway.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use crate::common;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::Command;

use common::*;
use sha1::{Digest, Sha1};

const PIECE: usize = 16 * 1024;

enum B {
    I(i64),
    S(Vec<u8>),
    L(Vec<B>),
    D(BTreeMap<Vec<u8>, B>),
}

fn enc(b: &B, out: &mut Vec<u8>) {
    match b {
        B::I(i) => out.extend(format!("i{i}e").bytes()),
        B::S(s) => {
            out.extend(format!("{}:", s.len()).bytes());
            out.extend(s);
        }
        B::L(l) => {
            out.push(b'l');
            l.iter().for_each(|x| enc(x, out));
            out.push(b'e');
        }
        B::D(d) => {
            out.push(b'd');
            for (k, v) in d {
                enc(&B::S(k.clone()), out);
                enc(v, out);
            }
            out.push(b'e');
        }
    }
}

fn dict(entries: Vec<(&str, B)>) -> B {
    B::D(
        entries
            .into_iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v))
            .collect(),
    )
}

fn path(elements: &[&[u8]]) -> B {
    B::L(elements.iter().map(|e| B::S(e.to_vec())).collect())
}

/// One entry of the torrent: raw path, length, attr, link target, and where ttui must put it
/// (below the torrent's directory; `None` for pads and for the link it must skip).
struct Entry {
    raw: Vec<&'static [u8]>,
    length: usize,
    attr: &'static str,
    target: Option<Vec<&'static [u8]>>,
    ttui_path: Option<String>,
}

fn entry(raw: Vec<&'static [u8]>, length: usize, ttui_path: &str) -> Entry {
    Entry {
        raw,
        length,
        attr: "",
        target: None,
        ttui_path: Some(ttui_path.to_owned()),
    }
}

fn entries(long: &'static [u8], accents: &'static [u8]) -> Vec<Entry> {
    let long_saved = format!("deep/{}.txt", "L".repeat(236));
    let accents_saved = "é".repeat(120);
    vec![
        entry(vec![b"plain.bin"], 70_000, "plain.bin"),
        Entry {
            raw: vec![b"docs", b"to-plain"],
            // libtorrent counts a link as 0 bytes whatever it claims; so must ttui.
            length: 425,
            attr: "l",
            target: Some(vec![b"plain.bin"]),
            ttui_path: Some("docs/to-plain".into()),
        },
        Entry {
            raw: vec![b"evil"],
            length: 0,
            attr: "l",
            target: Some(vec![b"..", b"..", b"..", b"etc", b"passwd"]),
            ttui_path: None,
        },
        entry(vec![b"..", b"up.bin"], 5_000, "up.bin"),
        entry(vec![b"a\\b", b"c.bin"], 3_000, "ab/c.bin"),
        Entry {
            raw: vec![b"_____padding_file_0_do_not_open"],
            length: 2_000,
            attr: "",
            target: None,
            ttui_path: None,
        },
        entry(vec![b"deep", long], 20_000, &long_saved),
        Entry {
            raw: vec![b".pad", b"7000"],
            length: 7_000,
            attr: "p",
            target: None,
            ttui_path: None,
        },
        entry(vec![accents], 9_000, &accents_saved),
        entry(vec![b"t\xe9mp.bin"], 4_000, "témp.bin"),
        entry(vec![b"dup.txt"], 100, "dup.txt"),
        entry(vec![b"dup.txt"], 200, "dup.1.txt"),
    ]
}

/// Pseudo-random bytes for payload entry `n` (zeros for pads).
fn content(n: usize, e: &Entry) -> Vec<u8> {
    let pad = e.attr.contains('p') || e.ttui_path.is_none() && e.target.is_none();
    (0..e.length)
        .map(|i| {
            if pad {
                0
            } else {
                (i as u32)
                    .wrapping_mul(2_654_435_761)
                    .rotate_left(n as u32 + 3) as u8
            }
        })
        .collect()
}

/// The torrent's bytes (with a newline after the dictionary) and the payload, links left out.
fn make_torrent(entries: &[Entry]) -> (Vec<u8>, Vec<Vec<u8>>) {
    let mut payload = Vec::new();
    let mut contents = Vec::new();
    let mut files = Vec::new();
    for (n, e) in entries.iter().enumerate() {
        let mut f = vec![("length", B::I(e.length as i64)), ("path", path(&e.raw))];
        if !e.attr.is_empty() {
            f.push(("attr", B::S(e.attr.as_bytes().to_vec())));
        }
        if let Some(t) = &e.target {
            f.push(("symlink path", path(t)));
            contents.push(Vec::new());
        } else {
            let c = content(n, e);
            payload.extend_from_slice(&c);
            contents.push(c);
        }
        files.push(dict(f));
    }
    let pieces: Vec<u8> = payload
        .chunks(PIECE)
        .flat_map(|c| <[u8; 20]>::from(Sha1::digest(c)))
        .collect();
    let info = dict(vec![
        ("files", B::L(files)),
        ("name", B::S(b"mix".to_vec())),
        ("piece length", B::I(PIECE as i64)),
        ("pieces", B::S(pieces)),
    ]);
    let mut out = Vec::new();
    enc(&dict(vec![("info", info)]), &mut out);
    out.push(b'\n');
    (out, contents)
}

/// libtorrent's own path (below the save directory) of each file entry, or `None` for its
/// pads and links, which it does not read from disk.
fn libtorrent_paths(torrent: &Path) -> Vec<Option<String>> {
    let script = "import sys, libtorrent as lt\n\
                  fs = lt.torrent_info(sys.argv[1]).files()\n\
                  for i in range(fs.num_files()):\n\
                  \x20   skip = fs.file_flags(i) & (lt.file_storage.flag_pad_file | lt.file_storage.flag_symlink)\n\
                  \x20   print('-' if skip else fs.file_path(i))\n";
    let out = Command::new("/usr/bin/python3")
        .arg("-c")
        .arg(script)
        .arg(torrent)
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "libtorrent did not load the torrent: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("libtorrent printed UTF-8")
        .lines()
        .map(|l| (l != "-").then(|| l.to_owned()))
        .collect()
}

#[test]
fn a_torrent_ttui_must_sanitise_downloads_whole_from_libtorrent() {
    require_loopback_only();
    let _swarm = swarm_lock();
    let long: &'static [u8] = format!("{}.txt", "L".repeat(296)).into_bytes().leak();
    let accents: &'static [u8] = "é".repeat(200).into_bytes().leak();
    let entries = entries(long, accents);
    let (bytes, contents) = make_torrent(&entries);

    let dir = tempdir("ttui-loading-");
    let torrent_path = dir.path().join("mix.torrent");
    fs::write(&torrent_path, &bytes).unwrap();
    let torrent = Torrent::load(&torrent_path);

    // `ttui info` loads it and says what it changed.
    let info = Ttui::run(
        ["info", torrent_path.to_str().unwrap()],
        std::time::Duration::from_secs(30),
    );
    info.assert_success("ttui info");
    for needle in [
        "1 byte(s) after the end",
        "not UTF-8, read as Latin-1",
        "shortened to 240 bytes",
        "a `.` or `..` element was dropped",
        "repeats another path; saved as \"mix/dup.1.txt\"",
        "link \"mix/evil\" is not created: its target leaves the torrent's directory",
        "is a padding file by its name",
        "docs/to-plain -> plain.bin",
    ] {
        assert!(
            info.stdout.contains(needle),
            "no {needle:?} in:\n{}",
            info.stdout
        );
    }

    // The seeder's data, at libtorrent's own names for the same entries.
    let lt_paths = libtorrent_paths(&torrent_path);
    assert_eq!(lt_paths.len(), entries.len(), "{lt_paths:?}");
    let seed_dir = dir.path().join("seed");
    for (p, c) in lt_paths.iter().zip(&contents) {
        if let Some(p) = p {
            let full = seed_dir.join(p);
            fs::create_dir_all(full.parent().unwrap()).unwrap();
            fs::write(&full, c).unwrap();
        }
    }
    let seeder = LibtorrentSeeder::start(&torrent, &seed_dir, LtOptions::default());

    let out = dir.path().join("out");
    let log = dir.path().join("ttui.log");
    let run = Ttui::run(
        [
            torrent_path.display().to_string(),
            "--headless".into(),
            "--no-trackers".into(),
            "--no-dht".into(),
            "--bind".into(),
            "127.0.0.1".into(),
            "--port".into(),
            "0".into(),
            "--peer".into(),
            seeder.addr().to_string(),
            "-o".into(),
            out.display().to_string(),
            "--log-file".into(),
            log.display().to_string(),
        ],
        DOWNLOAD_TIMEOUT,
    );
    run.assert_success("download of the sanitised torrent");
    assert!(
        run.stdout.contains("complete"),
        "{}",
        last_lines(&run.stdout, 20)
    );
    for line in run.stdout.lines().chain(run.stderr.lines()) {
        assert!(line.len() <= 4096, "a printed line of {} bytes", line.len());
    }

    let root = out.join("mix");
    for (e, c) in entries.iter().zip(&contents) {
        let Some(p) = &e.ttui_path else { continue };
        if e.target.is_some() {
            continue;
        }
        let got = fs::read(root.join(p)).unwrap_or_else(|err| panic!("{p}: {err}"));
        assert!(got == *c, "{p}: wrong content");
    }
    let link = root.join("docs/to-plain");
    assert_eq!(fs::read_link(&link).unwrap(), Path::new("../plain.bin"));
    assert_eq!(fs::read(&link).unwrap(), contents[0]);
    assert!(fs::symlink_metadata(root.join("evil")).is_err());
    // Nothing else was created: no pad, no file of a skipped link, nothing beside `mix`.
    let mut top: Vec<String> = fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    top.sort();
    assert_eq!(top, ["mix"]);
    let mut names: Vec<String> = fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut expected: Vec<String> = entries
        .iter()
        .filter_map(|e| e.ttui_path.as_deref())
        .map(|p| p.split('/').next().unwrap_or(p).to_owned())
        .collect();
    expected.sort();
    expected.dedup();
    assert_eq!(names, expected);
    // The log says what was changed.
    let log_text = fs::read_to_string(&log).unwrap_or_default();
    assert!(
        log_text.contains("is saved as") && log_text.contains("repeats another path"),
        "no notes in the log:\n{}",
        last_lines(&log_text, 30)
    );
}

/// One file of [`corpus_torrent`]: raw path, length, attr, link target.
type Spec<'a> = (&'a [&'a [u8]], usize, &'a str, &'a [&'a [u8]]);

/// A multi-file torrent named `name` with `files`,
/// real piece hashes of a zero payload, and `extra` bytes after the dictionary.
fn corpus_torrent(name: &[u8], files: &[Spec], extra: &[u8]) -> Vec<u8> {
    let mut total = 0;
    let list = files
        .iter()
        .map(|&(p, len, attr, target)| {
            let mut f = vec![("length", B::I(len as i64))];
            if !p.is_empty() {
                f.push(("path", path(p)));
            }
            if !attr.is_empty() {
                f.push(("attr", B::S(attr.as_bytes().to_vec())));
            }
            if attr.contains('l') {
                f.push(("symlink path", path(target)));
            } else {
                total += len;
            }
            dict(f)
        })
        .collect();
    let pieces: Vec<u8> = vec![0u8; total]
        .chunks(PIECE)
        .flat_map(|c| <[u8; 20]>::from(Sha1::digest(c)))
        .collect();
    let info = dict(vec![
        ("files", B::L(list)),
        ("name", B::S(name.to_vec())),
        ("piece length", B::I(PIECE as i64)),
        ("pieces", B::S(pieces)),
    ]);
    let mut out = Vec::new();
    enc(&dict(vec![("info", info)]), &mut out);
    out.extend_from_slice(extra);
    out
}

fn line<'a>(text: &'a str, prefix: &str) -> &'a str {
    text.lines()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no `{prefix}` line in:\n{text}"))
}

/// The cases of libtorrent's own test corpus (test/test_torrents) that ttui refused, made
/// here with the same property: ttui loads each with libtorrent's v1 info hash and size.
#[test]
fn libtorrent_corpus_cases_load_with_libtorrents_hash_and_size() {
    let long = format!("{}.23456789", "abcdefghij0123456789".repeat(14));
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "trailing newline",
            corpus_torrent(b"temp", &[(&[b"a"], 425, "", &[])], b"\n"),
        ),
        (
            "slash_path",
            corpus_torrent(b"temp", &[(&[b"/", b"/", b"bar"], 425, "", &[])], b""),
        ),
        (
            "backslash_path",
            corpus_torrent(b"temp", &[(&[b"\\", b"\\", b"bar"], 425, "", &[])], b""),
        ),
        (
            "parent_path",
            corpus_torrent(b"temp", &[(&[b"..", b"..", b"bar"], 425, "", &[])], b""),
        ),
        (
            "hidden_parent_path",
            corpus_torrent(
                b"temp",
                &[(&[b"foo/../../../bar", b"bar"], 425, "", &[])],
                b"",
            ),
        ),
        (
            "absolute_filename",
            corpus_torrent(
                b"temp",
                &[(&[b"abcde"], 425, "", &[]), (&[b"/foobar"], 5, "", &[])],
                b"",
            ),
        ),
        (
            "empty_path_multi",
            corpus_torrent(
                b"temp",
                &[
                    (&[b"abcde"], 425, "", &[]),
                    (&[b""], 3, "", &[]),
                    (&[b""], 5, "", &[]),
                ],
                b"",
            ),
        ),
        (
            "invalid_name2",
            corpus_torrent(b"..", &[(&[b"foo", b"bar.txt"], 425, "", &[])], b""),
        ),
        (
            "slash_path3 (name)",
            corpus_torrent(b"temp/../../abc", &[(&[b"x"], 12_432, "", &[])], b""),
        ),
        (
            "long_name",
            corpus_torrent(long.as_bytes(), &[(&[b"x"], 425, "", &[])], b""),
        ),
        (
            "duplicate_files",
            corpus_torrent(
                b"temp",
                &[
                    (&[b"foo", b"bar.txt"], 425, "", &[]),
                    (&[b"foo", b"bar.txt"], 425, "", &[]),
                ],
                b"",
            ),
        ),
        (
            "pad_file",
            corpus_torrent(
                b"temp",
                &[
                    (&[b"foo", b"bar.txt"], 45, "", &[]),
                    (&[b"_____padding_file_"], 2_124, "", &[]),
                ],
                b"",
            ),
        ),
        (
            "pad_file_no_path",
            corpus_torrent(
                b"temp",
                &[(&[b"foo", b"bar.txt"], 45, "", &[]), (&[], 2_124, "p", &[])],
                b"",
            ),
        ),
        (
            "symlink1",
            corpus_torrent(
                b"temp",
                &[
                    (&[b"a", b"b", b"bar"], 425, "", &[]),
                    (&[b"a", b"b", b"foo"], 425, "l", &[b"a", b"b", b"bar"]),
                ],
                b"",
            ),
        ),
        (
            "latin-1 name",
            corpus_torrent(b"t\xe9mp", &[(&[b"caf\xe9"], 425, "", &[])], b""),
        ),
    ];
    let dir = tempdir("ttui-corpus-");
    let paths: Vec<_> = cases
        .iter()
        .enumerate()
        .map(|(i, (_, bytes))| {
            let p = dir.path().join(format!("case-{i}.torrent"));
            fs::write(&p, bytes).unwrap();
            p
        })
        .collect();
    let script = "import sys, libtorrent as lt\n\
                  for p in sys.argv[1:]:\n\
                  \x20   ti = lt.torrent_info(p)\n\
                  \x20   print(ti.info_hashes().v1, ti.total_size())\n";
    let lt = Command::new("/usr/bin/python3")
        .arg("-c")
        .arg(script)
        .args(&paths)
        .output()
        .expect("run python3");
    assert!(
        lt.status.success(),
        "{}",
        String::from_utf8_lossy(&lt.stderr)
    );
    let lt = String::from_utf8(lt.stdout).unwrap();
    let lt: Vec<&str> = lt.lines().collect();
    assert_eq!(lt.len(), cases.len());
    for ((what, _), (p, lt_line)) in cases.iter().zip(paths.iter().zip(lt)) {
        let run = Ttui::run(
            ["info", p.to_str().unwrap()],
            std::time::Duration::from_secs(30),
        );
        run.assert_success(what);
        let (lt_hash, lt_size) = lt_line.split_once(' ').unwrap();
        assert_eq!(line(&run.stdout, "Info hash: "), lt_hash, "{what}");
        let size = line(&run.stdout, "Total size: ");
        assert!(
            size.ends_with(&format!("({lt_size} bytes)")),
            "{what}: {size} vs {lt_size}"
        );
        // A BEP 47 pad without a path is legal: nothing to say about it.
        assert!(
            *what == "pad_file_no_path" || run.stdout.contains("Changed to load it safely:"),
            "{what}: no note\n{}",
            run.stdout
        );
        let files: Vec<&str> = run
            .stdout
            .lines()
            .skip_while(|l| *l != "Files:")
            .skip(1)
            .collect();
        for f in &files {
            assert!(!f.contains("/../") && !f.contains("  /"), "{what}: {f}");
        }
        eprintln!("{what:>20}: {}", files.join(" | "));
    }
}

/// A 10 MB name and a 10 MB tracker URL print short lines; so does every error.
#[test]
fn huge_strings_never_make_a_long_line() {
    let dir = tempdir("ttui-huge-");
    let big = "n".repeat(10 << 20);
    let mut t = corpus_torrent(big.as_bytes(), &[(&[big.as_bytes()], 425, "", &[])], b"");
    // Announce first in key order: put it in by hand before `info`.
    let url = format!("http://127.0.0.1/{}", "u".repeat(10 << 20));
    t.splice(1..1, format!("8:announce{}:{url}", url.len()).into_bytes());
    let p = dir.path().join("huge.torrent");
    fs::write(&p, &t).unwrap();
    let run = Ttui::run(
        ["info", p.to_str().unwrap()],
        std::time::Duration::from_secs(30),
    );
    run.assert_success("ttui info");
    assert!(
        run.stdout.len() < 20_000,
        "{} bytes printed",
        run.stdout.len()
    );
    assert!(run.stdout.lines().all(|l| l.len() <= 4096));
    assert!(line(&run.stdout, "Name: ").len() == 240, "{}", run.stdout);
    // An error quoting the torrent's text (a path no file system takes): one short line.
    let deep: Vec<&[u8]> = vec![b"directory"; 3000];
    let bad = dir.path().join("bad.torrent");
    fs::write(
        &bad,
        corpus_torrent(big.as_bytes(), &[(&deep, 1, "", &[])], b""),
    )
    .unwrap();
    let run = Ttui::run(
        ["info", bad.to_str().unwrap()],
        std::time::Duration::from_secs(30),
    );
    assert!(!run.status.success());
    assert!(run.stderr.len() <= 4096, "{} bytes", run.stderr.len());
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(run.stderr.contains("cannot be created"), "{}", run.stderr);
}

/// `ttui info X | head -c 100`: the reader closes the pipe; ttui stops without a word.
#[test]
fn a_closed_stdout_ends_ttui_info_quietly() {
    use std::io::Read;
    use std::process::Stdio;
    let dir = tempdir("ttui-pipe-");
    // 4000 files: far more output than a pipe holds, so ttui is still writing when it closes.
    let names: Vec<String> = (0..4000)
        .map(|i| format!("file-number-{i:05}.bin"))
        .collect();
    let files: Vec<[&[u8]; 1]> = names.iter().map(|n| [n.as_bytes()]).collect();
    let specs: Vec<Spec> = files.iter().map(|f| (&f[..], 1, "", &[][..])).collect();
    let p = dir.path().join("many.torrent");
    fs::write(&p, corpus_torrent(b"many", &specs, b"")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ttui"))
        .arg("info")
        .arg(&p)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut head = [0u8; 100];
    stdout.read_exact(&mut head).unwrap();
    drop(stdout);
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if start.elapsed() > std::time::Duration::from_secs(30) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("ttui info kept running after its reader left");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(head.starts_with(b"Name: many\n"));
    assert!(status.success(), "{status}: {stderr}");
    assert_eq!(stderr, "");
}
