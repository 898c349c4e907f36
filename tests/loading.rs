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

mod common;

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
