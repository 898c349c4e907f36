//! BEP 52 helpers shared by the v2 tests: torrents made by python3-libtorrent (v2-only or
//! hybrid) and a libtorrent leecher that starts from a magnet link alone
//! (assets/seeders/lt_magnet.py).

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use super::{
    check_success, free_port, loopback_ip, run_bounded, seeders_dir, tempdir, Proc, Torrent,
};

/// Makes a torrent of `content` (a file or a folder) with libtorrent: v2-only, or a hybrid
/// (`create_torrent` flags 0). Returns it (named by its v1 hash for a hybrid, by its v2 hash
/// cut to 20 bytes for a v2-only one) with its v2 info hash in hex.
pub fn lt_make(content: &Path, piece_length: u32, out: &Path, hybrid: bool) -> (Torrent, String) {
    let script = r#"
import sys, libtorrent as lt
content, piece_length, out, hybrid = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[5]
fs = lt.file_storage()
lt.add_files(fs, content)
flags = 0 if hybrid == "1" else lt.create_torrent.v2_only
t = lt.create_torrent(fs, piece_length, flags=flags)
lt.set_piece_hashes(t, sys.argv[4])
data = lt.bencode(t.generate())
open(out, "wb").write(data)
h = lt.torrent_info(out).info_hashes()
print(h.v2.to_bytes().hex(), h.v1.to_bytes().hex() if h.has_v1() else "-")
"#;
    let parent = content.parent().unwrap();
    let run = run_bounded(
        Command::new("/usr/bin/python3")
            .args(["-c", script])
            .arg(content)
            .arg(piece_length.to_string())
            .arg(out)
            .arg(parent)
            .arg(if hybrid { "1" } else { "0" }),
        Duration::from_secs(60),
    );
    check_success("python3 libtorrent create_torrent", &run);
    let text = String::from_utf8_lossy(&run.stdout);
    let mut words = text.split_whitespace();
    let v2 = words.next().unwrap().to_string();
    let v1 = words.next().unwrap().to_string();
    assert_eq!(v2.len(), 64, "{text}");
    assert_eq!(hybrid, v1 != "-", "{text}");
    let name_hex = if hybrid { &v1 } else { &v2 };
    let mut info_hash = [0u8; 20];
    for (i, b) in info_hash.iter_mut().enumerate() {
        *b = u8::from_str_radix(&name_hex[2 * i..2 * i + 2], 16).unwrap();
    }
    let name = content.file_name().unwrap().to_string_lossy().into_owned();
    let torrent = Torrent {
        path: out.to_path_buf(),
        info_hash,
        name,
    };
    (torrent, v2)
}

/// Bytes that differ from file to file (`seed`) and from block to block.
pub fn v2_bytes(len: usize, seed: usize) -> Vec<u8> {
    (0..len)
        .map(|i| ((i * 31 + seed * 7) % 251) as u8)
        .collect()
}

/// What a magnet leecher saw of the hash messages when it finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashCounts {
    pub hashes: u64,
    pub rejects: u64,
    /// Peer-log lines seen at all: 0 when the libtorrent build logs none (then the two
    /// counts say nothing).
    pub logged: u64,
}

/// python3-libtorrent downloading from one peer, given only a magnet link.
pub struct MagnetLeecher {
    proc: Proc,
    _dir: tempfile::TempDir,
}

impl MagnetLeecher {
    pub fn start(magnet: &str, save: &Path, peer: SocketAddr) -> MagnetLeecher {
        Self::spawn(magnet, save, &["--peer", &peer.to_string()])
    }

    /// libtorrent with the magnet alone, dialing nobody: it announces to the magnet's
    /// trackers and, once it has the info dictionary (from whoever dials it) and finds the
    /// files whole under `save`, seeds on until it is stopped.
    pub fn start_waiting(magnet: &str, save: &Path) -> MagnetLeecher {
        Self::spawn(magnet, save, &["--keep-seeding"])
    }

    fn spawn(magnet: &str, save: &Path, extra: &[&str]) -> MagnetLeecher {
        let dir = tempdir("ttui-lt-magnet-");
        let mut cmd = Command::new("/usr/bin/python3");
        cmd.arg(seeders_dir().join("lt_magnet.py"))
            .args(["--magnet", magnet])
            .arg("--save")
            .arg(save)
            .args(["--ip", &loopback_ip().to_string()])
            .args(["--port", &free_port().to_string()])
            .args(extra);
        let proc = Proc::spawn("lt_magnet", &mut cmd, dir.path());
        MagnetLeecher { proc, _dir: dir }
    }

    pub fn stdout_text(&self) -> String {
        self.proc.stdout_text()
    }

    /// Waits for every piece to be verified; gives what it counted of the hash messages.
    pub fn wait_done(&mut self, timeout: Duration) -> HashCounts {
        self.proc
            .wait_for_stdout("libtorrent to finish from a magnet", "done ", timeout);
        let text = self.proc.stdout_text();
        let line = text.lines().find(|l| l.starts_with("done ")).unwrap();
        let count = |key: &str| -> u64 {
            line.split_whitespace()
                .find_map(|w| w.strip_prefix(key)?.parse().ok())
                .unwrap_or_else(|| panic!("no {key} in {line:?}"))
        };
        HashCounts {
            hashes: count("hashes="),
            rejects: count("rejects="),
            logged: count("logged="),
        }
    }

    pub fn report(&mut self) -> String {
        self.proc.report()
    }
}

/// How `lt_edit_layers` spoils a torrent's `piece layers`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerEdit {
    /// The whole `piece layers` dictionary removed.
    Strip,
    /// One byte of the first layer (by root) flipped: it no longer hashes to its root.
    Corrupt,
}

/// Writes `src` to `out` with its `piece layers` spoiled (`how`), through libtorrent's
/// bencode (a v2 info dictionary is canonical, so it comes out byte for byte). Returns the v2
/// hash libtorrent reads from the spoiled file, which it loads all the same.
pub fn lt_edit_layers(src: &Path, out: &Path, how: LayerEdit) -> String {
    let script = r#"
import sys, libtorrent as lt
src, out, how = sys.argv[1], sys.argv[2], sys.argv[3]
d = lt.bdecode(open(src, "rb").read())
layers = d[b"piece layers"]
assert len(layers) >= 1, "no layers to spoil"
if how == "strip":
    del d[b"piece layers"]
else:
    first = sorted(layers.keys())[0]
    v = bytearray(layers[first])
    v[0] ^= 0xff
    layers[first] = bytes(v)
open(out, "wb").write(lt.bencode(d))
print(lt.torrent_info(out).info_hashes().v2.to_bytes().hex())
"#;
    let run = run_bounded(
        Command::new("/usr/bin/python3")
            .args(["-c", script])
            .arg(src)
            .arg(out)
            .arg(match how {
                LayerEdit::Strip => "strip",
                LayerEdit::Corrupt => "corrupt",
            }),
        Duration::from_secs(60),
    );
    check_success("python3 libtorrent: spoil the piece layers", &run);
    String::from_utf8_lossy(&run.stdout).trim().to_string()
}
