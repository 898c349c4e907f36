//! ttui's torrents against python3-libtorrent 2.0 and transmission-show (Transmission 3.00).

use std::process::Command;

use serde_json::Value;

use super::*;
use crate::prereq;

/// Loads ttui's torrent with libtorrent (`torrent_info`) and makes libtorrent's own from the
/// same files, in the same order (BEP 52's: each directory's names in byte order; libtorrent
/// sorts v2 and hybrid files that way itself, and for v1 keeps the order it is given), with
/// the same piece size and flags; prints both torrents' info hashes as JSON.
const COMPARE: &str = r#"
import json, os, sys
import libtorrent as lt
path, mode, piece, ours = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
def walk(root, rel=()):
    out = []
    for n in sorted(os.listdir(os.path.join(root, *rel)), key=os.fsencode):
        p = os.path.join(root, *rel, n)
        if n.startswith(".") or os.path.islink(p):
            continue
        if os.path.isdir(p):
            out += walk(root, rel + (n,))
        elif os.path.isfile(p):
            out.append((rel + (n,), os.path.getsize(p), flags(p)))
    return out
def flags(p):
    return lt.file_storage.flag_executable if os.stat(p).st_mode & 0o111 else 0
fs = lt.file_storage()
name = os.path.basename(path)
if os.path.isfile(path):
    fs.add_file(name, os.path.getsize(path), flags(path))
else:
    for rel, size, fl in walk(path):
        fs.add_file(os.path.join(name, *rel), size, fl)
flags = {"v1": lt.create_torrent.v1_only, "v2": lt.create_torrent.v2_only, "hybrid": 0}[mode]
ct = lt.create_torrent(fs, piece, flags=flags)
lt.set_piece_hashes(ct, os.path.dirname(os.path.abspath(path)))
theirs = lt.torrent_info(ct.generate()).info_hashes()
mine = lt.torrent_info(ours).info_hashes()
def hexes(h):
    return [str(h.v1) if h.has_v1() else None, str(h.v2) if h.has_v2() else None]
print(json.dumps({"ours": hexes(mine), "libtorrent": hexes(theirs)}))
"#;

fn libtorrent_hashes(path: &Path, mode: &str, piece: u32, ours: &Path) -> Value {
    let out = Command::new("/usr/bin/python3")
        .arg("-c")
        .arg(COMPARE)
        .arg(path)
        .arg(mode)
        .arg(piece.to_string())
        .arg(ours)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "libtorrent ({mode}, {}): {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn transmission_show(torrent: &Path) -> (bool, String) {
    let out = Command::new("transmission-show")
        .arg(torrent)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn libtorrent_loads_every_mode_and_makes_the_same_torrents() {
    if !prereq::have_python_libtorrent() || !prereq::have_tools(&["transmission-show"]) {
        return;
    }
    let env = Env::new("ttui-create-interop-");
    let tree = make_tree(env.root.path(), "pack");
    let single = make_single_file_payload(env.root.path(), "single.bin", 70_000, 3);
    const PIECE: u32 = 32 * 1024;
    for mode in ["v1", "v2", "hybrid"] {
        for data in [&tree, &single] {
            let name = data.file_name().unwrap().to_str().unwrap();
            let out_name = format!("{name}-{mode}.torrent");
            let v = json(&create(
                &env,
                &[
                    name,
                    &format!("--{mode}"),
                    "--piece-size",
                    "32K",
                    "--no-date",
                    "--json",
                    "-o",
                    &out_name,
                ],
            ));
            let made = env.root.path().join(&out_name);
            let printed = [v["info_hash_v1"].as_str(), v["info_hash_v2"].as_str()];
            assert_eq!(printed[0].is_some(), mode != "v2", "{v}");
            assert_eq!(printed[1].is_some(), mode != "v1", "{v}");
            assert_eq!(v["piece_length"], PIECE, "{v}");
            let lt = libtorrent_hashes(data, mode, PIECE, &made);
            let as_strs = |key: &str| {
                let a = lt[key].as_array().unwrap();
                [a[0].as_str(), a[1].as_str()]
            };
            assert_eq!(
                as_strs("ours"),
                printed,
                "libtorrent reads other hashes ({mode} {name})"
            );
            assert_eq!(
                as_strs("libtorrent"),
                printed,
                "libtorrent makes another torrent of the same files ({mode} {name})"
            );
            let magnet = v["magnet"].as_str().unwrap();
            if let Some(h) = printed[0] {
                assert!(magnet.contains(&format!("xt=urn:btih:{h}")), "{magnet}");
            }
            if let Some(h) = printed[1] {
                assert!(magnet.contains(&format!("xt=urn:btmh:1220{h}")), "{magnet}");
            }

            // Transmission: v1 loads with the same hash. Debian 12's Transmission 3.00 cannot
            // parse any torrent with a BEP 52 `file tree` (its dictionaries' empty key): it
            // refuses libtorrent's own hybrids alike, which this checks instead.
            let (ok, text) = transmission_show(&made);
            if mode == "v1" {
                assert!(ok, "transmission-show refuses {out_name}: {text}");
                assert!(text.contains(printed[0].unwrap()), "{text}");
            } else if !ok {
                let theirs = env.root.path().join(format!("lt-{out_name}"));
                let script = format!(
                    "import libtorrent as lt, os, sys\nfs = lt.file_storage()\n\
                     lt.add_files(fs, sys.argv[1])\nct = lt.create_torrent(fs, {PIECE}, flags={})\n\
                     lt.set_piece_hashes(ct, os.path.dirname(sys.argv[1]))\n\
                     open(sys.argv[2], 'wb').write(lt.bencode(ct.generate()))",
                    if mode == "v2" {
                        "lt.create_torrent.v2_only"
                    } else {
                        "0"
                    }
                );
                let made_lt = Command::new("/usr/bin/python3")
                    .arg("-c")
                    .arg(script)
                    .arg(data)
                    .arg(&theirs)
                    .status()
                    .unwrap();
                assert!(made_lt.success());
                let (lt_ok, lt_text) = transmission_show(&theirs);
                assert!(
                    !lt_ok,
                    "transmission-show reads libtorrent's {mode} torrent but not ttui's: \
                     {text}\n{lt_text}"
                );
            }
        }
    }
}
