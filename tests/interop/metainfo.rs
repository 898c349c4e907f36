//! `ttui info` against torrents made by other programs (mktorrent, transmission-create,
//! python3-libtorrent), checked against `transmission-show`; malformed torrents give one
//! `error:` line and no panic; a torrent whose paths try to escape writes nothing outside
//! the output directory.
//!
//! A missing tool fails the test under `TTUI_REQUIRE_TOOLS=1` (tests/run.sh sets it) and is
//! reported as a skip elsewhere (tests/support/prereq.rs).
// A test crate: it may unwrap, and nothing in it is reachable from outside anyway.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use crate::common;
use crate::prereq;

use common::{check_success, run_bounded};

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_ttui");
const TRACKER: &str = "http://127.0.0.1:6969/announce";

fn ttui_info(torrent: &Path) -> Output {
    run_bounded(
        Command::new(BIN).arg("info").arg(torrent),
        Duration::from_secs(30),
    )
}

/// The `Info hash:` line of a successful `ttui info`, plus the whole output.
fn ttui_hash(torrent: &Path) -> (String, String) {
    let out = ttui_info(torrent);
    check_success("ttui info", &out);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let hash = text
        .lines()
        .find_map(|l| l.strip_prefix("Info hash: "))
        .unwrap_or_else(|| panic!("no `Info hash:` line in:\n{text}"))
        .trim()
        .to_owned();
    (hash, text)
}

fn transmission_hash(torrent: &Path) -> String {
    let out = run_bounded(
        Command::new("transmission-show").arg(torrent),
        Duration::from_secs(30),
    );
    check_success("transmission-show", &out);
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.trim().strip_prefix("Hash: "))
        .unwrap_or_else(|| panic!("no `Hash:` line in transmission-show output:\n{text}"))
        .trim()
        .to_lowercase()
}

fn line_value<'a>(text: &'a str, prefix: &str) -> &'a str {
    text.lines()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no `{prefix}` line in:\n{text}"))
}

/// A multi-file payload with nested directories and a 1-byte file, and a single file.
/// Returns (multi-file directory, single file).
fn make_payloads(root: &Path) -> (PathBuf, PathBuf) {
    let multi = root.join("pack");
    fs::create_dir_all(multi.join("nested/deeper")).unwrap();
    fs::create_dir_all(multi.join("other")).unwrap();
    let pattern =
        |n: usize, k: usize| -> Vec<u8> { (0..n).map(|i| ((i * k + 7) % 251) as u8).collect() };
    fs::write(multi.join("readme.txt"), b"a payload for ttui tests\n").unwrap();
    fs::write(multi.join("nested/deeper/big.bin"), pattern(300_001, 13)).unwrap();
    fs::write(multi.join("nested/mid.bin"), pattern(40_000, 29)).unwrap();
    fs::write(multi.join("other/tiny"), b"x").unwrap();
    let single = root.join("single.bin");
    fs::write(&single, pattern(123_457, 31)).unwrap();
    (multi, single)
}

#[test]
fn mktorrent_hashes_match_transmission() {
    if !prereq::have_tools(&["mktorrent", "transmission-show"]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (multi, single) = make_payloads(tmp.path());
    for (payload, piece_exp) in [(&multi, "15"), (&single, "16")] {
        let torrent = tmp.path().join(format!("mk-{piece_exp}.torrent"));
        let out = run_bounded(
            Command::new("mktorrent")
                .args(["-l", piece_exp, "-a", TRACKER, "-o"])
                .arg(&torrent)
                .arg(payload),
            Duration::from_secs(60),
        );
        check_success("mktorrent", &out);
        let (hash, text) = ttui_hash(&torrent);
        assert_eq!(hash, transmission_hash(&torrent), "{}", torrent.display());
        assert_eq!(hash.len(), 40);
        assert!(text.contains(&format!("  tier 1: {TRACKER}\n")), "{text}");
        assert_eq!(line_value(&text, "Private: "), "no");
    }
    // The file list of the multi-file torrent, with sizes.
    let (_, text) = ttui_hash(&tmp.path().join("mk-15.torrent"));
    assert_eq!(line_value(&text, "Name: "), "pack");
    assert_eq!(
        line_value(&text, "Total size: "),
        "332.06 KiB (340027 bytes)",
        "{text}"
    );
    assert_eq!(line_value(&text, "Piece length: "), "32 KiB");
    assert_eq!(line_value(&text, "Pieces: "), "11");
    for path in [
        "pack/readme.txt",
        "pack/nested/deeper/big.bin",
        "pack/nested/mid.bin",
        "pack/other/tiny",
    ] {
        assert!(
            text.lines()
                .any(|l| l.starts_with("  ") && l.ends_with(&format!("  {path}"))),
            "{path} missing from:\n{text}"
        );
    }
    assert!(text.contains("1 B  pack/other/tiny\n"), "{text}");
}

#[test]
fn transmission_create_hashes_match_transmission() {
    if !prereq::have_tools(&["transmission-create", "transmission-show"]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (multi, single) = make_payloads(tmp.path());
    for (i, payload) in [&multi, &single].into_iter().enumerate() {
        let torrent = tmp.path().join(format!("tr-{i}.torrent"));
        let out = run_bounded(
            Command::new("transmission-create")
                .arg("-o")
                .arg(&torrent)
                .args(["-t", TRACKER])
                .arg(payload),
            Duration::from_secs(60),
        );
        check_success("transmission-create", &out);
        let (hash, text) = ttui_hash(&torrent);
        assert_eq!(hash, transmission_hash(&torrent), "{}", torrent.display());
        assert!(text.contains(&format!("  tier 1: {TRACKER}\n")), "{text}");
    }
}

/// python3-libtorrent, v1 and hybrid (v1+v2), both private and with `source` added to the
/// info dictionary, so the hashed bytes hold keys ttui does not model in its types.
#[test]
fn libtorrent_private_source_hashes_match() {
    if !prereq::have_python_libtorrent() || !prereq::have_tools(&["transmission-show"]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (multi, single) = make_payloads(tmp.path());
    let script = r#"
import sys, libtorrent as lt
payload, out, hybrid = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
fs = lt.file_storage()
lt.add_files(fs, payload)
flags = 0 if hybrid else lt.create_torrent.v1_only
t = lt.create_torrent(fs, 16384, flags=flags)
t.add_tracker(sys.argv[4], 0)
t.set_priv(True)
lt.set_piece_hashes(t, sys.argv[5])
e = t.generate()
e[b"info"][b"source"] = b"TTUI-TEST"
data = lt.bencode(e)
open(out, "wb").write(data)
print(lt.torrent_info(lt.bdecode(data)).info_hashes().v1)
"#;
    for (i, payload) in [&multi, &single].into_iter().enumerate() {
        for hybrid in [false, true] {
            let torrent = tmp.path().join(format!("lt-{i}-{hybrid}.torrent"));
            let out = run_bounded(
                Command::new("/usr/bin/python3")
                    .args(["-c", script])
                    .arg(payload)
                    .arg(&torrent)
                    .arg(if hybrid { "1" } else { "0" })
                    .arg(TRACKER)
                    .arg(tmp.path()),
                Duration::from_secs(60),
            );
            check_success("python3 libtorrent", &out);
            let lt_hash = String::from_utf8_lossy(&out.stdout).trim().to_lowercase();
            let (hash, text) = ttui_hash(&torrent);
            assert_eq!(
                hash,
                lt_hash,
                "libtorrent disagrees on {}",
                torrent.display()
            );
            if !hybrid {
                // transmission-show 3.00 cannot read hybrid torrents.
                assert_eq!(hash, transmission_hash(&torrent));
            }
            assert_eq!(line_value(&text, "Private: "), "yes", "{text}");
            assert_eq!(line_value(&text, "Source: "), "TTUI-TEST", "{text}");
        }
    }
}

/// BEP 52's trees as python3-libtorrent builds them (v2-only torrents of one folder, two
/// piece lengths), against `protocol::merkle` over the same bytes: every file's `pieces root`
/// and `piece layers` entry, for files of one byte, one block, one block and a byte, odd leaf
/// counts, exactly a piece, and empty.
#[test]
fn libtorrent_merkle_trees_match() {
    use ttui::internals::protocol::merkle;
    if !prereq::have_python_libtorrent() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("tree");
    fs::create_dir_all(&dir).unwrap();
    let sizes = [1usize, 16_384, 16_385, 100_000, 65_536, 3 * 65_536 + 1, 0];
    for (i, size) in sizes.iter().enumerate() {
        let bytes: Vec<u8> = (0..*size).map(|b| ((b * 7 + i) % 253) as u8).collect();
        fs::write(dir.join(format!("f{i}.bin")), bytes).unwrap();
    }
    let script = r#"
import sys, libtorrent as lt
folder, piece_length = sys.argv[1], int(sys.argv[2])
fs = lt.file_storage()
lt.add_files(fs, folder)
t = lt.create_torrent(fs, piece_length, flags=lt.create_torrent.v2_only)
lt.set_piece_hashes(t, sys.argv[3])
e = t.generate()
layers = e.get(b"piece layers", {})
for name, node in e[b"info"][b"file tree"].items():
    leaf = node[b""]
    root = leaf.get(b"pieces root", b"")
    print(name.decode(), root.hex() or "-", layers.get(root, b"").hex() or "-")
"#;
    for piece_length in [16_384u64, 65_536] {
        let out = run_bounded(
            Command::new("/usr/bin/python3")
                .args(["-c", script])
                .arg(&dir)
                .arg(piece_length.to_string())
                .arg(tmp.path()),
            Duration::from_secs(60),
        );
        check_success("python3 libtorrent", &out);
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(text.lines().count(), sizes.len(), "{text}");
        for line in text.lines() {
            let [name, root, layer] = line.split(' ').collect::<Vec<_>>()[..] else {
                panic!("{line}")
            };
            let data = fs::read(dir.join(name)).unwrap();
            let leaves: Vec<merkle::Hash> = data
                .chunks(merkle::BLOCK as usize)
                .map(merkle::leaf)
                .collect();
            let hex = |hs: &[merkle::Hash]| -> String {
                hs.iter().flatten().map(|b| format!("{b:02x}")).collect()
            };
            let ours_root = merkle::file_root(&leaves).map(|r| hex(&[r]));
            assert_eq!(
                ours_root.as_deref().unwrap_or("-"),
                root,
                "{name} {piece_length}"
            );
            let ours_layer = hex(&merkle::piece_layer(&leaves, piece_length));
            let ours_layer = if ours_layer.is_empty() {
                "-".into()
            } else {
                ours_layer
            };
            assert_eq!(ours_layer, layer, "{name} {piece_length}");
            let want_len = merkle::layer_len(data.len() as u64, piece_length);
            assert_eq!(
                if layer == "-" {
                    0
                } else {
                    layer.len() as u64 / 64
                },
                want_len,
                "{name} {piece_length}"
            );
        }
    }
}

#[test]
fn pinned_fixture_hash() {
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mktorrent-multi.torrent");
    let (hash, text) = ttui_hash(&fixture);
    assert_eq!(hash, "0c2d6662f641d01d2346c00c1126a48456b92495");
    assert_eq!(line_value(&text, "Total size: "), "68.38 KiB (70017 bytes)");
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/libtorrent-private-source.torrent");
    let (hash, text) = ttui_hash(&fixture);
    assert_eq!(hash, "aab48b1e6b4c9647ce3d9a293f404e7dcb627cb7");
    assert_eq!(line_value(&text, "Source: "), "TTUI-FIXTURE");
}

// ---- hand-written bencode for malformed torrents ----

enum B {
    I(i64),
    S(Vec<u8>),
    L(Vec<B>),
    D(Vec<(&'static str, B)>),
}

fn s(v: &str) -> B {
    B::S(v.as_bytes().to_vec())
}

fn enc(b: &B, out: &mut Vec<u8>) {
    match b {
        B::I(i) => out.extend_from_slice(format!("i{i}e").as_bytes()),
        B::S(v) => {
            out.extend_from_slice(format!("{}:", v.len()).as_bytes());
            out.extend_from_slice(v);
        }
        B::L(items) => {
            out.push(b'l');
            items.iter().for_each(|i| enc(i, out));
            out.push(b'e');
        }
        B::D(entries) => {
            let mut sorted: Vec<&(&str, B)> = entries.iter().collect();
            sorted.sort_by_key(|(k, _)| *k);
            out.push(b'd');
            for (k, v) in sorted {
                enc(&s(k), out);
                enc(v, out);
            }
            out.push(b'e');
        }
    }
}

fn file(path: &[&str], length: i64) -> B {
    B::D(vec![
        ("length", B::I(length)),
        ("path", B::L(path.iter().map(|c| s(c)).collect())),
    ])
}

/// A multi-file torrent: 20 000 + 1 bytes in 16 KiB pieces = 2 pieces. `edit` changes the
/// info entries before encoding.
fn torrent_with(edit: impl FnOnce(&mut Vec<(&'static str, B)>)) -> Vec<u8> {
    let mut info = vec![
        ("name", s("pack")),
        ("piece length", B::I(16384)),
        ("pieces", B::S(vec![0xab; 40])),
        (
            "files",
            B::L(vec![file(&["dir", "a.bin"], 20_000), file(&["b"], 1)]),
        ),
    ];
    edit(&mut info);
    let mut out = Vec::new();
    enc(
        &B::D(vec![("announce", s(TRACKER)), ("info", B::D(info))]),
        &mut out,
    );
    out
}

fn replace(info: &mut Vec<(&'static str, B)>, key: &'static str, value: B) {
    info.retain(|(k, _)| *k != key);
    info.push((key, value));
}

fn remove(info: &mut Vec<(&'static str, B)>, key: &str) {
    info.retain(|(k, _)| *k != key);
}

fn single(length: i64, pieces: usize) -> Vec<u8> {
    torrent_with(|i| {
        remove(i, "files");
        replace(i, "length", B::I(length));
        replace(i, "pieces", B::S(vec![1; 20 * pieces]));
    })
}

fn escaping_path(component_path: &'static [&'static str]) -> Vec<u8> {
    torrent_with(|i| {
        replace(
            i,
            "files",
            B::L(vec![file(component_path, 20_000), file(&["b"], 1)]),
        )
    })
}

fn malformed_cases() -> Vec<(&'static str, Vec<u8>)> {
    let valid = torrent_with(|_| {});
    vec![
        ("empty file", Vec::new()),
        ("not bencode", b"this is not a torrent\n".to_vec()),
        ("truncated", valid[..valid.len() / 2].to_vec()),
        ("top level is a list", b"li1ei2ee".to_vec()),
        ("no info", b"d8:announce3:abce".to_vec()),
        ("info not a dict", b"d4:infoli1eee".to_vec()),
        ("deep nesting", "l".repeat(200_000).into_bytes()),
        ("missing name", torrent_with(|i| remove(i, "name"))),
        (
            "missing piece length",
            torrent_with(|i| remove(i, "piece length")),
        ),
        ("missing pieces", torrent_with(|i| remove(i, "pieces"))),
        (
            "missing length and files",
            torrent_with(|i| remove(i, "files")),
        ),
        (
            "both length and files",
            torrent_with(|i| replace(i, "length", B::I(20_001))),
        ),
        (
            "mistyped piece length",
            torrent_with(|i| replace(i, "piece length", s("16384"))),
        ),
        (
            "mistyped name",
            torrent_with(|i| replace(i, "name", B::I(5))),
        ),
        (
            "mistyped files",
            torrent_with(|i| replace(i, "files", s("x"))),
        ),
        (
            "pieces not a multiple of 20",
            torrent_with(|i| replace(i, "pieces", B::S(vec![0; 39]))),
        ),
        (
            "too few pieces",
            torrent_with(|i| replace(i, "pieces", B::S(vec![0; 20]))),
        ),
        (
            "too many pieces",
            torrent_with(|i| replace(i, "pieces", B::S(vec![0; 60]))),
        ),
        (
            "zero piece length",
            torrent_with(|i| replace(i, "piece length", B::I(0))),
        ),
        (
            "negative piece length",
            torrent_with(|i| replace(i, "piece length", B::I(-16384))),
        ),
        (
            "huge piece length",
            torrent_with(|i| replace(i, "piece length", B::I(1 << 30))),
        ),
        ("zero-length single file", single(0, 0)),
        ("negative single file", single(-1, 1)),
        (
            "negative file in list",
            torrent_with(|i| {
                replace(
                    i,
                    "files",
                    B::L(vec![file(&["a"], -5), file(&["b"], 20_006)]),
                )
            }),
        ),
        (
            "all files empty",
            torrent_with(|i| {
                replace(i, "files", B::L(vec![file(&["a"], 0), file(&["b"], 0)]));
                replace(i, "pieces", B::S(Vec::new()));
            }),
        ),
        (
            "empty files list",
            torrent_with(|i| replace(i, "files", B::L(vec![]))),
        ),
        ("empty path list", escaping_path(&[])),
        (
            "v2 only",
            torrent_with(|i| {
                remove(i, "pieces");
                replace(i, "meta version", B::I(2));
                replace(i, "file tree", B::D(vec![]));
            }),
        ),
        (
            "path longer than PATH_MAX",
            torrent_with(|i| {
                replace(
                    i,
                    "files",
                    B::L(vec![file(&["d"; 3000], 20_000), file(&["b"], 1)]),
                )
            }),
        ),
    ]
}

fn assert_clean_failure(what: &str, out: &Output) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{what}: accepted\n{stdout}");
    assert_eq!(out.status.code(), Some(1), "{what}: {stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{what}: stderr is not one line: {stderr:?}");
    assert!(lines[0].starts_with("error: "), "{what}: {stderr:?}");
    for text in [&stderr, &stdout] {
        assert!(
            !text.contains("panicked") && !text.contains("RUST_BACKTRACE"),
            "{what}: panic text: {text}"
        );
    }
}

#[test]
fn valid_base_torrent_is_accepted() {
    // Guards the malformed cases: each differs from this torrent by one defect only.
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("ok.torrent");
    fs::write(&path, torrent_with(|_| {})).unwrap();
    let (_, text) = ttui_hash(&path);
    assert_eq!(line_value(&text, "Pieces: "), "2");
    // A 0-byte file inside a multi-file torrent is legal.
    fs::write(
        &path,
        torrent_with(|i| {
            replace(
                i,
                "files",
                B::L(vec![file(&["a"], 0), file(&["b"], 20_001), file(&["c"], 0)]),
            )
        }),
    )
    .unwrap();
    let (_, text) = ttui_hash(&path);
    assert!(text.contains("0 B  pack/c\n"), "{text}");
}

#[test]
fn malformed_torrents_fail_with_one_error_line() {
    let tmp = tempfile::tempdir().unwrap();
    for (i, (what, bytes)) in malformed_cases().into_iter().enumerate() {
        let path = tmp.path().join(format!("bad-{i}.torrent"));
        fs::write(&path, &bytes).unwrap();
        let out = ttui_info(&path);
        assert_clean_failure(what, &out);
        // Visible with --nocapture: the message a user would see for each defect.
        eprintln!(
            "{what:>30}: {}",
            String::from_utf8_lossy(&out.stderr).trim_end()
        );
        assert!(
            out.stdout.is_empty(),
            "{what}: printed {:?}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    let out = ttui_info(&tmp.path().join("does-not-exist.torrent"));
    assert_clean_failure("missing file", &out);
}

#[test]
fn escaping_paths_create_nothing_outside_the_output_dir() {
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("out");
    let sibling = tmp.path().join("sibling");
    fs::create_dir_all(&out_dir).unwrap();
    fs::create_dir_all(&sibling).unwrap();
    let torrents_dir = tempfile::tempdir().unwrap();
    // Names that would leave the output directory are made safe: `ttui info` shows how.
    for (name, shown) in [("..", None), ("../sibling", Some("..sibling")), ("/", None)] {
        let torrent = torrents_dir.path().join("name.torrent");
        fs::write(&torrent, torrent_with(|i| replace(i, "name", s(name)))).unwrap();
        let (hash, text) = ttui_hash(&torrent);
        assert_eq!(
            line_value(&text, "Name: "),
            shown.unwrap_or(&hash),
            "{text}"
        );
        assert!(
            text.contains("Changed to load it safely:\n  the name"),
            "{text}"
        );
    }
    // Every escaping path in one torrent whose name escapes too; the download starts (its
    // files are created) and gives up on its one dead peer.
    let torrent = torrents_dir.path().join("escape.torrent");
    let escaping: [&[&str]; 4] = [
        &["..", "..", "sibling", "pwned"],
        &["dir", "..", "..", "..", "sibling", "x"],
        &["/tmp", "ttui-escape"],
        &["..\\..\\sibling", "y"],
    ];
    fs::write(
        &torrent,
        torrent_with(|i| {
            replace(i, "name", s("../sibling"));
            replace(
                i,
                "files",
                B::L(escaping.iter().map(|p| file(p, 1)).collect()),
            );
            replace(i, "pieces", B::S(vec![0xab; 20]));
        }),
    )
    .unwrap();
    let mut child = Command::new(BIN)
        .arg(&torrent)
        .arg("--headless")
        .arg("-o")
        .arg(&out_dir)
        .args([
            "--peer",
            "127.0.0.1:1",
            "--bind",
            "127.0.0.1",
            "--port",
            "0",
            "--no-dht",
        ])
        .arg("--no-trackers")
        .arg("--log-file")
        .arg(torrents_dir.path().join("ttui.log"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Its files' directories exist once the download has started (each file is created at
    // its first write, and nothing is written here: the only peer is a closed port); then
    // there is nothing left to see.
    let expected: Vec<PathBuf> = [
        "sibling/pwned",
        "dir/sibling/x",
        "tmp/ttui-escape",
        "....sibling/y",
    ]
    .iter()
    .map(|p| out_dir.join("..sibling").join(p))
    .collect();
    let start = Instant::now();
    let dir_of = |p: &PathBuf| p.parent().map(Path::to_path_buf).unwrap_or_default();
    while !expected.iter().all(|p| dir_of(p).is_dir()) && start.elapsed() < Duration::from_secs(30)
    {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    for p in &expected {
        assert!(
            dir_of(p).is_dir(),
            "{} missing; stderr: {stderr}",
            dir_of(p).display()
        );
    }
    let sibling_entries: Vec<_> = std::fs::read_dir(&sibling).unwrap().collect();
    assert!(sibling_entries.is_empty(), "wrote into the sibling dir");
    let mut top: Vec<String> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    top.sort();
    assert_eq!(top, ["out", "sibling"], "created something beside out/");
    assert!(!Path::new("/tmp/ttui-escape").exists());
}
