//! BEP 52 v2-only torrents against python3-libtorrent 2.0, on loopback: libtorrent makes
//! them (single- and multi-file, with files of a byte, a block and a byte, several pieces
//! and a byte, and an empty file, so every file but the last ends inside a piece) and seeds
//! them; ttui downloads each byte-identical over TCP, checking every piece against its
//! SHA-256 subtree; `ttui info` names the v2 hash libtorrent gives; and a libtorrent leecher
//! downloads each from a ttui seed that checked the data itself at start (so the last piece
//! is laid out as libtorrent has it: whole, ending in a pad).
//! Magnets too: given only `xt=urn:btmh:1220…` and the seed's address, ttui fetches the
//! info dictionary (checked with SHA-256), then each longer file's piece layer with BEP 52
//! hash requests, each reply proven against its file's root, and downloads; a hybrid's magnet
//! (`btih` and `btmh`) needs no layers. A libtorrent leecher that starts from a `btmh`
//! magnet and asks ttui for the piece layers is tests/interop/v2_serve.rs. A v2-only .torrent whose
//! `piece layers` are missing or wrong loads (as in libtorrent) and gets them from the seed
//! the same way. The .torrent and the magnet also download over uTP alone and over required
//! MSE/PE encryption.
//!
//! Run through tests/run.sh: every test refuses to start unless the process sits in a
//! network namespace whose only interface is `lo`.
// A test crate: it may unwrap, and nothing in it is reachable from outside anyway.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use crate::common;
use crate::kit;
use crate::prereq;

use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::v2::{lt_edit_layers, lt_make, v2_bytes as bytes, LayerEdit};
use common::*;

/// A folder whose files end inside pieces (so BEP 52 aligns each next file), with an empty
/// file among them.
fn folder(root: &Path) -> PathBuf {
    let dir = root.join("data").join("v2set");
    fs::create_dir_all(dir.join("sub")).unwrap();
    fs::write(dir.join("a-one-byte"), bytes(1, 1)).unwrap();
    fs::write(dir.join("b-block-and-a-byte"), bytes(16_385, 2)).unwrap();
    fs::write(dir.join("c-empty"), b"").unwrap();
    fs::write(dir.join("sub").join("d-pieces"), bytes(3 * 65_536 + 1, 3)).unwrap();
    fs::write(dir.join("sub").join("e-odd"), bytes(100_000, 4)).unwrap();
    dir
}

/// How ttui and the libtorrent seed talk: TCP in the clear, uTP alone (libtorrent's TCP off
/// both ways, ttui's `--transport utp`), or MSE/PE required on both sides (RC4 forced).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wire {
    Tcp,
    Utp,
    Mse,
}

impl Wire {
    fn seed_options(self) -> LtOptions {
        LtOptions {
            seed_mode: true,
            transport: (self == Wire::Utp).then_some("utp"),
            encryption: (self == Wire::Mse).then_some("forced"),
            ..LtOptions::default()
        }
    }

    fn ttui_args(self) -> Vec<String> {
        let args: &[&str] = match self {
            Wire::Tcp => &[],
            Wire::Utp => &["--transport", "utp"],
            Wire::Mse => &["--encryption", "require"],
        };
        args.iter().map(|s| s.to_string()).collect()
    }
}

/// ttui downloads `torrent` from a libtorrent seeder of `data_dir`, then `ttui info` names
/// libtorrent's v2 hash.
fn download_from_libtorrent(torrent: &Torrent, v2: &str, data_dir: &Path, out: &Path) {
    download_over(torrent, &torrent.path, data_dir, out, Wire::Tcp)
        .assert_success("v2 download from libtorrent");
    let text = ttui_info(&torrent.path);
    assert!(
        text.contains(&format!("Info hash v2: {v2}")),
        "ttui info does not name libtorrent's v2 hash {v2}:\n{text}"
    );
}

/// `ttui info FILE`'s output.
fn ttui_info(file: &Path) -> String {
    let run = Ttui::run(
        ["info", "--no-config", file.to_str().unwrap()],
        Duration::from_secs(30),
    );
    assert!(
        run.status.success(),
        "ttui info {}: {}",
        file.display(),
        run.stderr
    );
    run.stdout
}

/// ttui, given the .torrent `given`, downloads `seeded` (the same torrent, maybe with its
/// piece layers) from a libtorrent seeder of `data_dir` that has all of it, over `wire`.
fn download_over(
    seeded: &Torrent,
    given: &Path,
    data_dir: &Path,
    out: &Path,
    wire: Wire,
) -> Finished {
    let seeder = LibtorrentPeer::start(seeded, data_dir, wire.seed_options());
    let peer = SocketAddr::from((seeder.ip, seeder.port)).to_string();
    let mut args: Vec<String> = [
        given.display().to_string(),
        "--headless".into(),
        "--no-trackers".into(),
        "--no-dht".into(),
        "-o".into(),
        out.display().to_string(),
        "--port".into(),
        "0".into(),
        "--bind".into(),
        loopback_ip().to_string(),
        "--peer".into(),
        peer,
    ]
    .into();
    args.extend(wire.ttui_args());
    let run = Ttui::run(args, DOWNLOAD_TIMEOUT);
    drop(seeder);
    run
}

/// A libtorrent leecher downloads `torrent` from a ttui seed of `data_dir`.
fn upload_to_libtorrent(torrent: &Torrent, data_dir: &Path, save: &Path) {
    let port = free_port();
    let mut seeder = spawn_ttui_seeder(&torrent.path, data_dir, port, &["--no-dht"]);
    let opts = LtOptions {
        peers: vec![SocketAddr::from(([127, 0, 0, 1], port))],
        ..LtOptions::default()
    };
    let mut leecher = LibtorrentPeer::start_leecher(torrent, save, opts);
    leecher.wait_done(DOWNLOAD_TIMEOUT);
    seeder.kill();
}

#[test]
fn a_v2_only_folder_goes_both_ways_with_libtorrent() {
    require_loopback_only();
    if !prereq::have_python_libtorrent() {
        return;
    }
    let _swarm = swarm_lock();
    let tmp = tempdir("ttui-v2-folder-");
    let content = folder(tmp.path());
    let (torrent, v2) = lt_make(&content, 65_536, &tmp.path().join("v2set.torrent"), false);
    let out = tmp.path().join("out");
    download_from_libtorrent(&torrent, &v2, content.parent().unwrap(), &out);
    assert_same_tree(&content, &out.join("v2set"));
    let save = tmp.path().join("lt-save");
    upload_to_libtorrent(&torrent, &out, &save);
    assert_same_tree(&content, &save.join("v2set"));
}

#[test]
fn a_v2_only_single_file_goes_both_ways_with_libtorrent() {
    require_loopback_only();
    if !prereq::have_python_libtorrent() {
        return;
    }
    let _swarm = swarm_lock();
    let tmp = tempdir("ttui-v2-single-");
    let data = tmp.path().join("data");
    fs::create_dir_all(&data).unwrap();
    let file = data.join("one.bin");
    fs::write(&file, bytes(5 * 32_768 + 123, 9)).unwrap();
    let (torrent, v2) = lt_make(&file, 32_768, &tmp.path().join("one.torrent"), false);
    let out = tmp.path().join("out");
    download_from_libtorrent(&torrent, &v2, &data, &out);
    assert_eq!(
        fs::read(out.join("one.bin")).unwrap(),
        fs::read(&file).unwrap()
    );
}

/// ttui downloads from a libtorrent seed of `data_dir` given only `link` (and no .torrent).
fn magnet_from_libtorrent(torrent: &Torrent, link: &str, data_dir: &Path, out: &Path) -> Finished {
    magnet_from_libtorrent_with(torrent, link, data_dir, out, &[], Wire::Tcp)
}

/// `magnet_from_libtorrent` with more of ttui's flags, over `wire`.
fn magnet_from_libtorrent_with(
    torrent: &Torrent,
    link: &str,
    data_dir: &Path,
    out: &Path,
    more: &[&str],
    wire: Wire,
) -> Finished {
    let seeder = LibtorrentPeer::start(torrent, data_dir, wire.seed_options());
    let link = format!("{link}&x.pe={}", SocketAddr::from((seeder.ip, seeder.port)));
    let o = out.display().to_string();
    let mut args = vec![
        link.as_str(),
        "--headless",
        "--no-trackers",
        "--no-dht",
        "-o",
        &o,
        "--port",
        "0",
    ];
    args.extend_from_slice(more);
    let wired = wire.ttui_args();
    args.extend(wired.iter().map(String::as_str));
    let run = Ttui::run(args, DOWNLOAD_TIMEOUT);
    drop(seeder);
    run
}

#[test]
fn a_v2_only_magnet_downloads_from_libtorrent_with_layers_from_the_seed() {
    require_loopback_only();
    if !prereq::have_python_libtorrent() {
        return;
    }
    let _swarm = swarm_lock();
    let tmp = tempdir("ttui-v2-magnet-");
    let content = folder(tmp.path());
    // 16 KiB pieces: `d-pieces` needs a layer of 13 hashes, `e-odd` one of 7.
    let (torrent, v2) = lt_make(&content, 16_384, &tmp.path().join("v2set.torrent"), false);
    let out = tmp.path().join("out");
    let link = format!("magnet:?xt=urn:btmh:1220{v2}&dn=v2set");
    let run = magnet_from_libtorrent(&torrent, &link, content.parent().unwrap(), &out);
    run.assert_success("v2-only magnet from libtorrent");
    assert_same_tree(&content, &out.join("v2set"));
}

#[test]
fn a_hybrid_magnet_downloads_from_libtorrent() {
    require_loopback_only();
    if !prereq::have_python_libtorrent() {
        return;
    }
    let _swarm = swarm_lock();
    let tmp = tempdir("ttui-hybrid-magnet-");
    let content = folder(tmp.path());
    let (torrent, v2) = lt_make(&content, 16_384, &tmp.path().join("h.torrent"), true);
    let out = tmp.path().join("out");
    let link = format!(
        "magnet:?xt=urn:btih:{}&xt=urn:btmh:1220{v2}&dn=v2set",
        torrent.hash_hex()
    );
    let run = magnet_from_libtorrent(&torrent, &link, content.parent().unwrap(), &out);
    run.assert_success("hybrid magnet from libtorrent");
    assert_same_tree(&content, &out.join("v2set"));
}

/// A peer that serves a v2-only torrent's info dictionary honestly (so its magnet's SHA-256
/// matches) and answers every hash request with as many hashes as asked, none of them right.
/// Serves one connection at a time on 127.0.0.1 until dropped; every read is bounded.
struct LyingPeer {
    addr: SocketAddr,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl LyingPeer {
    fn start(info: Vec<u8>, info_hash: [u8; 20]) -> LyingPeer {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = std::sync::Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                match listener.accept() {
                    Ok((s, _)) => {
                        // Errors end this connection only: ttui may close it at any point.
                        let _ = Self::serve(s, &info, &info_hash);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(1)),
                }
            }
        });
        LyingPeer {
            addr,
            stop,
            thread: Some(thread),
        }
    }

    fn serve(mut s: std::net::TcpStream, info: &[u8], info_hash: &[u8; 20]) -> std::io::Result<()> {
        use std::io::{Read, Write};
        s.set_nonblocking(false)?;
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        let mut theirs = [0u8; 68];
        s.read_exact(&mut theirs)?;
        let mut ours = Vec::with_capacity(68);
        ours.push(19u8);
        ours.extend_from_slice(b"BitTorrent protocol");
        // BEP 10's bit and BEP 52's.
        ours.extend_from_slice(&[0, 0, 0, 0, 0, 0x10, 0, 0x10]);
        ours.extend_from_slice(info_hash);
        ours.extend_from_slice(b"-LY0001-lyingpeer000");
        s.write_all(&ours)?;
        let frame = |id: u8, body: &[u8]| {
            let mut f = ((body.len() + 1) as u32).to_be_bytes().to_vec();
            f.push(id);
            f.extend_from_slice(body);
            f
        };
        let ext = format!("d1:md11:ut_metadatai3ee13:metadata_sizei{}ee", info.len());
        let mut body = vec![0u8];
        body.extend_from_slice(ext.as_bytes());
        s.write_all(&frame(20, &body))?;
        let mut their_ut = 0u8;
        loop {
            let mut len = [0u8; 4];
            s.read_exact(&mut len)?;
            let len = u32::from_be_bytes(len) as usize;
            if len == 0 {
                continue;
            }
            let mut msg = vec![0u8; len.min(1 << 20)];
            s.read_exact(&mut msg)?;
            match msg[0] {
                20 if msg.get(1) == Some(&0) => {
                    let text = String::from_utf8_lossy(&msg[2..]).into_owned();
                    if let Some(at) = text.find("11:ut_metadatai") {
                        let rest = &text[at + 15..];
                        their_ut = rest[..rest.find('e').unwrap_or(0)].parse().unwrap_or(0);
                    }
                }
                20 => {
                    let text = String::from_utf8_lossy(&msg[2..]).into_owned();
                    let Some(at) = text.find("5:piecei") else {
                        continue;
                    };
                    let rest = &text[at + 8..];
                    let piece: usize = rest[..rest.find('e').unwrap_or(0)].parse().unwrap_or(0);
                    let start = (piece * 16_384).min(info.len());
                    let data = &info[start..(start + 16_384).min(info.len())];
                    let mut body = vec![their_ut];
                    body.extend_from_slice(
                        format!(
                            "d8:msg_typei1e5:piecei{piece}e10:total_sizei{}ee",
                            info.len()
                        )
                        .as_bytes(),
                    );
                    body.extend_from_slice(data);
                    s.write_all(&frame(20, &body))?;
                }
                21 if msg.len() == 49 => {
                    let word = |i: usize| {
                        u32::from_be_bytes(msg[33 + 4 * i..37 + 4 * i].try_into().unwrap())
                    };
                    let (length, proof_layers) = (word(2), word(3));
                    let run_height = length.next_power_of_two().trailing_zeros();
                    let uncles = (i64::from(proof_layers) - i64::from(run_height) + 1).max(0);
                    let mut body = msg[1..].to_vec();
                    body.resize(48 + (length as usize + uncles as usize) * 32, 0xab);
                    s.write_all(&frame(22, &body))?;
                }
                _ => {}
            }
        }
    }
}

impl Drop for LyingPeer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[test]
fn a_peer_whose_piece_layer_hashes_do_not_verify_is_named_and_not_used() {
    require_loopback_only();
    if !prereq::have_python_libtorrent() {
        return;
    }
    let tmp = tempdir("ttui-v2-liar-");
    let content = folder(tmp.path());
    let (torrent, v2) = lt_make(&content, 16_384, &tmp.path().join("v2set.torrent"), false);
    let meta = ttui::internals::protocol::metainfo::Metainfo::from_bytes(
        &fs::read(&torrent.path).unwrap(),
    )
    .unwrap();
    let liar = LyingPeer::start(meta.info_bytes.to_vec(), torrent.info_hash);
    let link = format!("magnet:?xt=urn:btmh:1220{v2}&dn=v2set&x.pe={}", liar.addr);
    let o = tmp.path().join("out").display().to_string();
    let run = Ttui::run(
        [
            link.as_str(),
            "--headless",
            "--no-trackers",
            "--no-dht",
            "-o",
            &o,
            "--port",
            "0",
        ],
        Duration::from_secs(90),
    );
    let liar_addr = liar.addr.to_string();
    drop(liar);
    let text = format!("{}\n{}\n{}", run.stdout, run.stderr, run.log_tail);
    assert!(
        !run.status.success(),
        "the liar's torrent finished:\n{text}"
    );
    let named = text
        .lines()
        .any(|l| l.contains(&liar_addr) && l.contains("do not verify (bad data)"));
    assert!(
        named,
        "the lying peer is not named as sending bad data:\n{text}"
    );
    // Its hashes were not used: no payload was written from them.
    assert!(!tmp
        .path()
        .join("out")
        .join("v2set")
        .join("sub")
        .join("d-pieces")
        .exists());
}

#[test]
fn a_v2_magnet_completes_from_an_honest_seed_beside_a_lying_peer() {
    require_loopback_only();
    if !prereq::have_python_libtorrent() {
        return;
    }
    let _swarm = swarm_lock();
    let tmp = tempdir("ttui-v2-liar-and-seed-");
    let content = folder(tmp.path());
    let (torrent, v2) = lt_make(&content, 16_384, &tmp.path().join("v2set.torrent"), false);
    let meta = ttui::internals::protocol::metainfo::Metainfo::from_bytes(
        &fs::read(&torrent.path).unwrap(),
    )
    .unwrap();
    let liar = LyingPeer::start(meta.info_bytes.to_vec(), torrent.info_hash);
    let liar_addr = liar.addr.to_string();
    // The liar first: both are asked at once, and its answers come before libtorrent's
    // (with MSE off: the liar speaks only plain BitTorrent, and a fallback would slow it).
    let link = format!("magnet:?xt=urn:btmh:1220{v2}&dn=v2set&x.pe={liar_addr}");
    let out = tmp.path().join("out");
    let data = content.parent().unwrap();
    let off = ["--encryption", "off"];
    let run = magnet_from_libtorrent_with(&torrent, &link, data, &out, &off, Wire::Tcp);
    drop(liar);
    run.assert_success("v2-only magnet beside a lying peer");
    assert_same_tree(&content, &out.join("v2set"));
    let text = format!("{}\n{}\n{}", run.stdout, run.stderr, run.log_tail);
    // Which of the two answers first is the scheduler's choice; when the liar's hashes were
    // checked (the usual case), it was named and banned from the download.
    let caught = text.contains("do not verify");
    eprintln!("the lying peer's hashes were checked and refused: {caught}");
    if caught {
        assert!(
            text.lines()
                .any(|l| l.contains(&format!("banned {liar_addr}")) && l.contains("bad data")),
            "the lying peer was caught but not banned:\n{text}"
        );
    }
}

/// ttui is given a v2-only .torrent whose `piece layers` are spoiled (`how`), while the
/// libtorrent seed has the whole torrent: `ttui info` loads it and says which layers it
/// lacks, and the download asks the seed for them (proven against each file's root), then
/// finishes byte-identical.
fn download_without_layers(how: LayerEdit) {
    let tmp = tempdir("ttui-v2-nolayers-");
    let content = folder(tmp.path());
    // 16 KiB pieces: `b-block-and-a-byte` needs a layer of 2 hashes, `d-pieces` one of 13,
    // `e-odd` one of 7; spoiling corrupts the first of them by root.
    let (torrent, v2) = lt_make(&content, 16_384, &tmp.path().join("v2set.torrent"), false);
    let spoiled = tmp.path().join("spoiled.torrent");
    assert_eq!(lt_edit_layers(&torrent.path, &spoiled, how), v2, "{how:?}");
    let info = ttui_info(&spoiled);
    assert!(info.contains(&format!("Info hash v2: {v2}")), "{info}");
    let files = if how == LayerEdit::Strip { 3 } else { 1 };
    let lacking =
        format!("Piece layers missing: {files} file(s); they will be fetched from peers:");
    assert!(info.contains(&lacking), "{how:?}: {info}");
    let out = tmp.path().join("out");
    let run = download_over(
        &torrent,
        &spoiled,
        content.parent().unwrap(),
        &out,
        Wire::Tcp,
    );
    run.assert_success("v2-only .torrent lacking piece layers, from libtorrent");
    assert_same_tree(&content, &out.join("v2set"));
    let text = format!("{}\n{}", run.stderr, run.log_tail);
    assert!(
        text.contains(&format!("piece layers of {files} file(s)")),
        "{how:?}: no layers fetched from the seed:\n{text}"
    );
}

#[test]
fn a_v2_torrent_without_piece_layers_gets_them_from_libtorrent() {
    require_loopback_only();
    if !prereq::have_python_libtorrent() {
        return;
    }
    let _swarm = swarm_lock();
    download_without_layers(LayerEdit::Strip);
}

#[test]
fn a_v2_torrent_with_a_wrong_piece_layer_drops_it_and_gets_it_from_libtorrent() {
    require_loopback_only();
    if !prereq::have_python_libtorrent() {
        return;
    }
    let _swarm = swarm_lock();
    download_without_layers(LayerEdit::Corrupt);
}

/// ttui downloads a folder from libtorrent over `wire`, as a v2-only torrent and as a hybrid,
/// from the .torrent and from its magnet (a v2-only one's layers come over the same wire; a
/// hybrid's magnet names both hashes), byte-identical each time.
fn v2_over(wire: Wire) {
    for hybrid in [false, true] {
        let kind = if hybrid { "hybrid" } else { "v2" };
        let tmp = tempdir("ttui-v2-wire-");
        let content = folder(tmp.path());
        let made = tmp.path().join(format!("{kind}.torrent"));
        let (torrent, v2) = lt_make(&content, 16_384, &made, hybrid);
        let data = content.parent().unwrap();
        let out = tmp.path().join("out-torrent");
        download_over(&torrent, &torrent.path, data, &out, wire)
            .assert_success(&format!("{kind} .torrent from libtorrent over {wire:?}"));
        assert_same_tree(&content, &out.join("v2set"));
        let out = tmp.path().join("out-magnet");
        let mut link = format!("magnet:?xt=urn:btmh:1220{v2}&dn=v2set");
        if hybrid {
            link.push_str(&format!("&xt=urn:btih:{}", torrent.hash_hex()));
        }
        let bind = ["--bind", &loopback_ip().to_string()].map(str::to_string);
        let bind: Vec<&str> = bind.iter().map(String::as_str).collect();
        magnet_from_libtorrent_with(&torrent, &link, data, &out, &bind, wire)
            .assert_success(&format!("{kind} magnet from libtorrent over {wire:?}"));
        assert_same_tree(&content, &out.join("v2set"));
    }
}

#[test]
fn v2_downloads_from_libtorrent_over_utp_alone() {
    require_loopback_only();
    if !prereq::have_python_libtorrent() {
        return;
    }
    let _swarm = swarm_lock();
    v2_over(Wire::Utp);
}

#[test]
fn v2_downloads_from_libtorrent_over_required_encryption() {
    require_loopback_only();
    if !prereq::have_python_libtorrent() {
        return;
    }
    let _swarm = swarm_lock();
    v2_over(Wire::Mse);
}

/// A `ttui daemon` is given a v2-only .torrent without `piece layers` while a libtorrent seed
/// has the whole torrent: it fetches the layers from the seed, downloads byte-identical and
/// keeps the .torrent with the proven layers, so after a restart with the seed gone the
/// torrent is back seeding without asking anyone.
#[test]
fn a_session_fetches_a_torrents_missing_layers_and_keeps_them() {
    require_loopback_only();
    if !prereq::have_python_libtorrent() {
        return;
    }
    let _swarm = swarm_lock();
    let env = kit::Env::new("ttui-v2-nolayers-session-");
    let content = folder(env.root.path());
    let (torrent, v2) = lt_make(
        &content,
        16_384,
        &env.root.path().join("v2set.torrent"),
        false,
    );
    let spoiled = env.root.path().join("spoiled.torrent");
    assert_eq!(
        lt_edit_layers(&torrent.path, &spoiled, LayerEdit::Strip),
        v2
    );
    let seeder = LibtorrentPeer::start(
        &torrent,
        content.parent().unwrap(),
        Wire::Tcp.seed_options(),
    );
    let peer = SocketAddr::from((seeder.ip, seeder.port)).to_string();
    let mut daemon = kit::Daemon::start(&env, "1", &["--peer".into(), peer]);
    let added = env.verb(&["add", spoiled.to_str().unwrap()]);
    assert_eq!(added.code, 0, "{added:?}");
    let hash = torrent.hash_hex();
    env.wait_list(
        "the layer-less torrent to seed",
        DOWNLOAD_TIMEOUT,
        &mut daemon,
        |rows| kit::all_seeding(rows, 1),
    );
    assert_same_tree(&content, &env.out.join("v2set"));
    let log = daemon.log_text();
    assert!(
        log.contains("piece layers of 3 file(s)"),
        "no layers fetched:\n{}",
        daemon.report()
    );
    drop(seeder);
    daemon.term();
    // Kept with its layers: `ttui info` on the kept file lacks none.
    let kept = env.torrent_path(&hash);
    let info = ttui_info(&kept);
    assert!(info.contains(&format!("Info hash v2: {v2}")), "{info}");
    assert!(!info.contains("Piece layers missing"), "{info}");
    // Back with no peer at all: seeding from its check, nobody asked.
    let mut daemon = kit::Daemon::start(&env, "2", &[]);
    env.wait_list(
        "the kept torrent to seed again",
        Duration::from_secs(60),
        &mut daemon,
        |rows| kit::all_seeding(rows, 1),
    );
    daemon.term();
}
