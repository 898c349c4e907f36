//! A v2-only torrent (BEP 52) served by an honest seed and by a hostile peer that corrupts
//! one block of every piece it serves: ttui downloads it byte-identical, and pins the blame on
//! the hostile peer alone. A piece both sent fails its check. With a python3-libtorrent seed,
//! ttui asks it for the piece's block hashes, which name the bad block at once: its sender is
//! banned and that block alone is fetched again. A ttui seed refuses block hashes: then the
//! piece is fetched again whole, and once it verifies, the blocks of the failed attempt that
//! differ from the good piece name their sender ("smart ban"). The honest seed is never
//! blamed.
//!
//! Run through tests/run.sh: the test refuses to start unless the process sits in a network
//! namespace whose only interface is `lo`.
// A test crate: it may unwrap, and nothing in it is reachable from outside anyway.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use crate::common;
use crate::fakepeer;
use crate::prereq;

use std::fs;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use common::v2::{lt_make, v2_bytes};
use common::*;
use fakepeer::{flip_bytes, greet_as_seed, serve, unchoke_when_interested, Answer, Ctx, FakePeer};
use ttui::internals::protocol::metainfo::Metainfo;

const PIECE: u32 = 65_536;
/// The block of each piece the hostile peer corrupts.
const BAD_BEGIN: u32 = 16_384;

/// Where the blocks past this offset of a piece go when the hostile peer leaves them
/// unanswered: to the honest seed, so the piece has two senders.
const TAIL_BEGIN: u32 = 32_768;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sender_of_bad_blocks_is_banned_and_the_honest_seed_is_not() {
    require_loopback_only();
    if !prereq::have_python_libtorrent() {
        return;
    }
    let _swarm = swarm_lock();
    let o = blame_case(false, Honest::Libtorrent).await;
    // Pieces it sent alone fail on it at once; its ban is for those hash failures, or for
    // the blocks proven bad when a piece it shared was narrowed or verified first.
    assert!(
        o.text
            .lines()
            .any(|l| l.contains(&format!("banned {}", o.liar))),
        "the hostile peer was not banned:\n{}",
        o.text
    );
}

/// The hostile peer answers only the first half of each piece (one block of it bad), so the
/// honest libtorrent seed sends the rest: a piece that fails has two senders. ttui asks the
/// seed for the piece's block hashes (libtorrent answers them), bans the liar at once for the
/// block they prove bad and fetches that block alone again (and so, without asking, for
/// pieces that fail later with the banned liar's blocks in them): about one block wasted a
/// bad block, where fetching each failed piece again whole wastes a piece a bad block.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_piece_shared_with_the_honest_seed_is_narrowed_to_the_liars_block() {
    require_loopback_only();
    if !prereq::have_python_libtorrent() {
        return;
    }
    let _swarm = swarm_lock();
    let o = blame_case(true, Honest::Libtorrent).await;
    let line = |words: &[&str]| o.text.lines().any(|l| words.iter().all(|w| l.contains(w)));
    assert!(
        line(&[&format!("banned {}: sent bad blocks", o.liar)]),
        "the hostile peer was not banned for its bad blocks:\n{}",
        o.text
    );
    let asked = format!("asking {} for its block hashes", o.honest);
    let asked_n = o.text.lines().filter(|l| l.contains(&asked)).count();
    assert!(
        asked_n > 0,
        "the libtorrent seed was not asked for block hashes:\n{}",
        o.text
    );
    assert!(
        line(&[&format!("failed (from {})", o.liar), "fetching those again"]),
        "no piece was narrowed to the liar's blocks:\n{}",
        o.text
    );
    let per_bad = o.wasted as f64 / o.bad.max(1) as f64 / f64::from(PIECE);
    eprintln!(
        "block hashes asked: {asked_n}; wasted: {:.1} % ({per_bad:.2} piece a bad block)",
        o.wasted_pct
    );
    // A block is a quarter of a piece here; what else is wasted (a block that crossed a
    // cancel) stays well under the piece a bad block that whole refetches cost.
    assert!(
        per_bad < 0.75,
        "wasted {:.1} % of the payload, {per_bad:.2} piece a bad block: failed pieces were \
         fetched again whole",
        o.wasted_pct
    );
}

/// As above beside a ttui seed, which refuses block hashes: the failed pieces are fetched
/// again whole, and the liar is proven by its blocks once they verify.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_block_hashes_a_shared_piece_is_blamed_once_it_verifies() {
    require_loopback_only();
    let _swarm = swarm_lock();
    let o = blame_case(true, Honest::Ttui).await;
    let line = |words: &[&str]| o.text.lines().any(|l| words.iter().all(|w| l.contains(w)));
    assert!(
        line(&[&format!("{} refused its block hashes", o.honest)]),
        "the ttui seed was not asked, or did not refuse:\n{}",
        o.text
    );
    assert!(
        line(&[
            &format!("failed (from {})", o.liar),
            "the piece verified without them"
        ]),
        "the liar was not proven once a piece verified:\n{}",
        o.text
    );
    assert!(
        line(&[&format!("banned {}: sent bad blocks", o.liar)]),
        "the hostile peer was not banned for its bad blocks:\n{}",
        o.text
    );
}

/// The honest seed beside the hostile peer.
#[derive(Clone, Copy, Debug)]
enum Honest {
    /// python3-libtorrent 2.0: answers block hashes.
    Libtorrent,
    /// `ttui seed`: refuses them.
    Ttui,
}

/// What a download beside the hostile peer came to.
struct Outcome {
    /// ttui's output and its whole log.
    text: String,
    liar: String,
    honest: String,
    /// Bytes wasted, and in percent of the payload (ttui's last line).
    wasted: u64,
    wasted_pct: f64,
    /// Bad blocks the hostile peer sent.
    bad: u64,
}

/// ttui downloads a v2-only file from the hostile peer (corrupting block 1 of each piece, and
/// with `tail_unanswered` leaving the second half of each piece unanswered) and an honest
/// seed. Checks what holds either way: byte-identical, the hostile peer named with its bad
/// blocks, the seed never blamed.
async fn blame_case(tail_unanswered: bool, honest: Honest) -> Outcome {
    let tmp = tempdir("ttui-v2-blame-");
    let data_dir = tmp.path().join("data");
    fs::create_dir_all(&data_dir).unwrap();
    let content = data_dir.join("v2blame.bin");
    let payload = v2_bytes(32 * PIECE as usize + 12_345, 9);
    fs::write(&content, &payload).unwrap();
    let (torrent, _) = lt_make(&content, PIECE, &tmp.path().join("v2blame.torrent"), false);
    let meta = Metainfo::from_bytes(&fs::read(&torrent.path).unwrap()).unwrap();
    assert!(meta.info.v2.is_some(), "a v2-only torrent");

    // ttui lays a v2 file's last piece out whole, ending in a pad of zeros, as libtorrent
    // does: the fake serves that pad too.
    let mut served = payload.clone();
    served.resize(served.len().max(meta.info.total_length as usize), 0);
    let ctx = Arc::new(Ctx {
        info: Arc::new(meta.info.clone()),
        info_hash: torrent.info_hash,
        payload: served,
    });
    let bad_sent = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&bad_sent);
    let liar = FakePeer::listen(ctx, move |mut w, ctx| {
        let counter = Arc::clone(&counter);
        async move {
            greet_as_seed(&mut w, &ctx).await?;
            unchoke_when_interested(&mut w).await?;
            serve(&mut w, &ctx, |_, begin, data| {
                if tail_unanswered && begin >= TAIL_BEGIN {
                    Answer::Ignore
                } else if begin == BAD_BEGIN {
                    counter.fetch_add(1, Ordering::Relaxed);
                    Answer::Send(flip_bytes(data))
                } else {
                    Answer::Send(data)
                }
            })
            .await
            .map(|_| ())
        }
    })
    .await;
    let (lt_seed, ttui_seed, seed_addr) = match honest {
        Honest::Libtorrent => {
            let s = LibtorrentPeer::start(
                &torrent,
                &data_dir,
                LtOptions {
                    seed_mode: true,
                    // Slowed, so that on a loaded machine it has not sent the whole file
                    // before the hostile peer's connection is up.
                    upload_limit: 2_000_000,
                    ..LtOptions::default()
                },
            );
            let a = SocketAddr::from((s.ip, s.port)).to_string();
            (Some(s), None, a)
        }
        Honest::Ttui => {
            let port = free_port();
            // Slowed, as libtorrent's disk threads are: over loopback uTP a ttui seed
            // would send the whole file before the hostile peer is asked for a block.
            let extra = ["--no-dht", "--up-limit", "400K"];
            let s = spawn_ttui_seeder(&torrent.path, &data_dir, port, &extra);
            (None, Some(s), format!("127.0.0.1:{port}"))
        }
    };
    // The whole log, not its tail: which peer was asked for what is told early.
    let log_file = tmp.path().join("ttui.log");
    let liar_addr = liar.addr.to_string();
    let out = tmp.path().join("out");
    let args = vec![
        torrent.path.display().to_string(),
        "--headless".into(),
        "--no-trackers".into(),
        "--no-dht".into(),
        "--encryption".into(),
        "off".into(),
        "-o".into(),
        out.display().to_string(),
        "--port".into(),
        "0".into(),
        "--log-file".into(),
        log_file.display().to_string(),
        // The liar first, so it is asked from the start.
        "--peer".into(),
        liar_addr.clone(),
        "--peer".into(),
        seed_addr.clone(),
    ];
    let run = tokio::task::spawn_blocking(move || Ttui::run(args, DOWNLOAD_TIMEOUT))
        .await
        .unwrap();
    drop(lt_seed);
    drop(ttui_seed);
    liar.stop();
    let mut liar = liar;
    while let Ok(r) = liar.results.try_recv() {
        eprintln!("hostile peer's connection ended: {r:?}");
    }
    let log = fs::read_to_string(&log_file).unwrap_or_default();
    let text = format!("{}\n{}\n{}", run.stdout, run.stderr, log);
    run.assert_success("v2 download beside a peer that sends bad blocks");
    assert!(
        fs::read(out.join("v2blame.bin")).unwrap() == payload,
        "the download is byte-identical"
    );
    let bad = bad_sent.load(Ordering::Relaxed);
    assert!(
        bad > 0,
        "the hostile peer was never asked for a block:\n{text}"
    );
    // Named with its blocks once a piece it sent verified from others.
    let proven = text
        .lines()
        .any(|l| l.contains(&format!("failed (from {liar_addr})")) && l.contains("block"));
    let banned = text
        .lines()
        .any(|l| l.contains(&format!("banned {liar_addr}")));
    eprintln!("bad blocks sent: {bad}; proven by block: {proven}; banned: {banned}");
    eprintln!("{}", run.stdout.lines().last().unwrap_or(""));
    for l in text.lines() {
        if l.contains("failed") || l.contains("banned") || l.contains("block hashes") {
            eprintln!("  {l}");
        }
    }
    assert!(
        proven,
        "the hostile peer's bad blocks were not pinned on it:\n{text}"
    );
    // The honest seed shared failed pieces with the liar, and is neither banned nor named
    // as a sender of bad blocks.
    assert!(
        !text
            .lines()
            .any(|l| l.contains(&format!("banned {seed_addr}"))
                || l.contains(&format!("failed (from {seed_addr})"))),
        "the honest seed was blamed:\n{text}"
    );
    let (wasted, wasted_pct) = wasted_of(&run.stdout)
        .unwrap_or_else(|| panic!("no wasted bytes on the last line:\n{}", run.stdout));
    Outcome {
        text,
        liar: liar_addr,
        honest: seed_addr,
        wasted,
        wasted_pct,
        bad,
    }
}

/// N and P in "wasted N bytes (P % of the payload)" of ttui's summary.
fn wasted_of(stdout: &str) -> Option<(u64, f64)> {
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.contains("% of the payload"))?;
    let after = &line[line.find("wasted ")? + "wasted ".len()..];
    let bytes = after.split_whitespace().next()?.parse().ok()?;
    let pct = &after[after.find('(')? + 1..after.find(" %")?];
    Some((bytes, pct.trim().parse().ok()?))
}
