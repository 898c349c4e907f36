//! An in-process swarm kit for hostile-peer tests: a small payload and torrent, ttui engines as
//! good seeder and downloader, and a scripted fake peer that speaks (or breaks) the wire
//! protocol on purpose.
//!
//! Everything here runs on the test's own tokio runtime, binds 127.0.0.1 only and is bounded in
//! time: every read or wait takes a limit, and dropping a `Running` or `FakePeer` ends its tasks.
#![allow(dead_code)]

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::{timeout, timeout_at, Instant};
use tokio_util::codec::{Decoder, FramedRead};

use ttui::internals::create::create_torrent;
use ttui::internals::demo::{make_payload, PayloadSpec};
use ttui::internals::engine::api::{Command, PeerRow, Snapshot, TorrentState};
use ttui::internals::engine::{self, Options, TorrentEnd};
use ttui::internals::protocol::bitfield::Bitfield;
use ttui::internals::protocol::handshake::{self, Handshake};
use ttui::internals::protocol::message::{encode_into, Message, MessageCodec};
use ttui::internals::protocol::metainfo::{Info, Metainfo};

pub const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
/// Azureus-style id, so the engine shows a client name for the fake's row.
pub const FAKE_ID: [u8; 20] = *b"-FK0001-hostilepeer1";

/// Memory-measuring tests take this for writing and every other test for reading, so a process
/// RSS delta is not polluted by a neighbour test running on the other harness thread.
pub static MEASURE: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

/// Runs a test body under an overall time limit, so a hung engine fails the test instead of
/// hanging the suite.
pub async fn bounded<F: Future<Output = ()>>(limit: Duration, body: F) {
    if timeout(limit, body).await.is_err() {
        panic!("test did not finish within {limit:?}");
    }
}

/// A field of /proc/self/status in KiB (`VmRSS`, `VmSize`, ...).
pub fn proc_status_kib(field: &str) -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = text
        .lines()
        .find(|l| l.starts_with(field) && l[field.len()..].starts_with(':'))?;
    line[field.len() + 1..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

// ---------------------------------------------------------------------------------------------
// Payload and torrent

/// What a fake needs to know about the torrent to serve (or mangle) it.
pub struct Ctx {
    pub info: Arc<Info>,
    pub info_hash: [u8; 20],
    /// The payload, concatenated in torrent order.
    pub payload: Vec<u8>,
}

impl Ctx {
    pub fn num_pieces(&self) -> u32 {
        self.info.num_pieces()
    }

    /// The true bytes of a block, when the request is inside the torrent.
    pub fn block(&self, index: u32, begin: u32, length: u32) -> Option<Vec<u8>> {
        let start = u64::from(index) * u64::from(self.info.piece_length) + u64::from(begin);
        let end = start + u64::from(length);
        if u64::from(begin) + u64::from(length) > u64::from(self.info.piece_len(index)) {
            return None;
        }
        self.payload
            .get(start as usize..end as usize)
            .map(<[u8]>::to_vec)
    }

    pub fn full_bitfield(&self) -> Bytes {
        Bytes::copy_from_slice(Bitfield::full(self.num_pieces()).as_bytes())
    }

    pub fn blocks_in(&self, index: u32) -> u32 {
        self.info
            .piece_len(index)
            .div_ceil(ttui::internals::protocol::message::BLOCK_LEN)
    }
}

pub struct Fixture {
    pub tmp: tempfile::TempDir,
    pub meta: Metainfo,
    /// Output directory of the seeder: holds the payload directory named after the torrent.
    pub seed_root: PathBuf,
    pub ctx: Arc<Ctx>,
}

impl Fixture {
    /// About 3.8 MiB in three files whose sizes are not piece multiples, so pieces straddle
    /// files and the last piece is short.
    pub fn new(piece_length: u32) -> Fixture {
        let tmp = tempfile::Builder::new()
            .prefix("ttui-hostile-")
            .tempdir()
            .expect("tempdir");
        let seed_root = tmp.path().join("seed");
        let payload_dir = seed_root.join("hostile");
        let spec = PayloadSpec::new([
            ("a.bin", 1_500_000u64),
            ("sub/b.bin", 2_000_003),
            ("sub/deeper/c.txt", 437_000),
        ]);
        make_payload(&payload_dir, &spec, 0x5eed).expect("make payload");
        let bytes = create_torrent(&payload_dir, piece_length, &[], false).expect("create torrent");
        let meta = Metainfo::from_bytes(&bytes).expect("parse our own torrent");
        let mut payload = Vec::with_capacity(meta.info.total_length as usize);
        for f in &meta.info.files {
            let path = f.path.iter().fold(seed_root.clone(), |p, c| p.join(c));
            payload.extend(std::fs::read(&path).expect("read payload file"));
        }
        assert_eq!(payload.len() as u64, meta.info.total_length);
        let ctx = Arc::new(Ctx {
            info: Arc::new(meta.info.clone()),
            info_hash: meta.info_hash,
            payload,
        });
        Fixture {
            tmp,
            meta,
            seed_root,
            ctx,
        }
    }

    pub fn out_dir(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    fn options(&self, output: PathBuf, peers: Vec<SocketAddr>, seed: bool) -> Options {
        Options {
            output,
            port: 0,
            bind: LOOPBACK,
            peers,
            seed,
            use_trackers: false,
            check_threads: 1,
            // The scripted fakes speak the plain protocol only; with `prefer` each would see
            // an encrypted attempt first and count it as a failed script.
            encryption: ttui::internals::net::EncryptionPolicy::Off,
            ..Options::default()
        }
    }

    /// Starts a ttui engine seeding the complete payload and waits until it listens and has
    /// checked its data. `paused` seeders accept connections but unchoke nobody until resumed,
    /// which lets a test make the fake peer act first, deterministically.
    pub async fn start_seeder(&self, paused: bool) -> Running {
        let e = engine::start(
            self.meta.clone(),
            self.options(self.seed_root.clone(), Vec::new(), true),
        );
        let mut r = Running::new(e);
        let mut snap = r
            .wait_for(
                Duration::from_secs(20),
                "the seeder to listen and seed",
                |s| s.listen_port != 0 && s.state == TorrentState::Seeding,
            )
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        if paused {
            // Sent once the data is checked, so the pause is in force when this returns (the
            // engine would keep a Pause sent during the check and apply it afterwards).
            r.command(Command::Pause);
            // The log line says the pause took effect (the state shows `paused` too).
            snap = r
                .wait_for(Duration::from_secs(5), "the seeder to pause", |s| {
                    log_has(s, "paused")
                })
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        }
        r.addr = Some(SocketAddr::new(LOOPBACK, snap.listen_port));
        r
    }

    pub fn start_downloader(&self, name: &str, peers: Vec<SocketAddr>) -> Running {
        Running::new(engine::start(
            self.meta.clone(),
            self.options(self.out_dir(name), peers, false),
        ))
    }

    /// Every file of the torrent under `out` is byte-identical to the payload.
    pub fn assert_files_match(&self, out: &Path) {
        for f in &self.meta.info.files {
            let want = f.path.iter().fold(self.seed_root.clone(), |p, c| p.join(c));
            let got = f.path.iter().fold(out.to_path_buf(), |p, c| p.join(c));
            let (a, b) = (
                std::fs::read(&want).expect("read payload"),
                std::fs::read(&got).expect("read download"),
            );
            assert!(
                a == b,
                "{} differs from the payload ({} vs {} bytes)",
                got.display(),
                b.len(),
                a.len()
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Engines

/// A running engine; dropping it asks it to quit and aborts its task.
pub struct Running {
    pub snapshots: watch::Receiver<Arc<Snapshot>>,
    pub commands: mpsc::UnboundedSender<Command>,
    done: Option<JoinHandle<TorrentEnd>>,
    /// Where it listens (seeders only).
    pub addr: Option<SocketAddr>,
}

impl Running {
    pub fn new(e: engine::Engine) -> Running {
        Running {
            snapshots: e.snapshots,
            commands: e.commands,
            done: Some(e.done),
            addr: None,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr.expect("engine has a listen address")
    }

    pub fn command(&self, c: Command) {
        let _ = self.commands.send(c);
    }

    pub fn latest(&self) -> Arc<Snapshot> {
        self.snapshots.borrow().clone()
    }

    pub fn is_running(&self) -> bool {
        self.done.as_ref().is_some_and(|h| !h.is_finished())
    }

    pub async fn wait_for(
        &mut self,
        limit: Duration,
        what: &str,
        pred: impl Fn(&Snapshot) -> bool,
    ) -> Result<Arc<Snapshot>, String> {
        wait_snapshot(&mut self.snapshots, limit, what, pred).await
    }

    /// Waits for the engine to end by itself; returns its outcome and its final snapshot.
    pub async fn finish(&mut self, limit: Duration) -> Result<(TorrentEnd, Arc<Snapshot>), String> {
        let Some(h) = self.done.as_mut() else {
            return Err("engine already ended".into());
        };
        let out = match timeout(limit, h).await {
            Err(_) => {
                return Err(format!(
                    "engine did not end within {limit:?}:\n{}",
                    describe(&self.latest())
                ))
            }
            Ok(Err(e)) => return Err(format!("engine task failed: {e}")),
            Ok(Ok(o)) => o,
        };
        self.done = None;
        Ok((out, self.latest()))
    }

    /// Sends Quit and waits for the engine to end.
    pub async fn quit(&mut self, limit: Duration) -> Result<TorrentEnd, String> {
        self.command(Command::Quit);
        self.finish(limit).await.map(|(o, _)| o)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(h) = self.done.take() {
            let _ = self.commands.send(Command::Quit);
            h.abort();
        }
    }
}

/// Waits until a snapshot satisfies `pred`; the error carries the last snapshot, readable.
pub async fn wait_snapshot(
    rx: &mut watch::Receiver<Arc<Snapshot>>,
    limit: Duration,
    what: &str,
    pred: impl Fn(&Snapshot) -> bool,
) -> Result<Arc<Snapshot>, String> {
    let deadline = Instant::now() + limit;
    loop {
        let snap = rx.borrow_and_update().clone();
        if pred(&snap) {
            return Ok(snap);
        }
        match timeout_at(deadline, rx.changed()).await {
            Err(_) => {
                return Err(format!(
                    "timed out after {limit:?} waiting for {what}\n{}",
                    describe(&snap)
                ))
            }
            Ok(Err(_)) => {
                let last = rx.borrow().clone();
                if pred(&last) {
                    return Ok(last);
                }
                return Err(format!(
                    "engine ended while waiting for {what}\n{}",
                    describe(&last)
                ));
            }
            Ok(Ok(())) => {}
        }
    }
}

pub fn row(snap: &Snapshot, addr: SocketAddr) -> Option<&PeerRow> {
    snap.peers.iter().find(|p| p.addr == addr)
}

pub fn log_has(snap: &Snapshot, needle: &str) -> bool {
    snap.log.iter().any(|l| l.text.contains(needle))
}

/// A snapshot in words, for assertion messages.
pub fn describe(s: &Snapshot) -> String {
    let mut out = format!(
        "state {:?}, {}/{} pieces, downloaded {}, wasted {}\n",
        s.state,
        s.verified_pieces(),
        s.num_pieces,
        s.downloaded,
        s.wasted
    );
    for p in &s.peers {
        out += &format!(
            "  peer {} {:?} {:?} end={:?} down={} up={} in_flight={} hash_failures={} flags={:?}\n",
            p.addr,
            p.source,
            p.stage,
            p.end,
            p.downloaded,
            p.uploaded,
            p.requests_in_flight,
            p.hash_failures,
            p.flags
        );
    }
    for l in s.log.iter().rev().take(20).rev() {
        out += &format!("  log {:?} {}\n", l.level, l.text);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// The wire, from the fake's side

/// One connection as the fake sees it: raw writes for malformed input, the engine's own codec
/// for reading.
pub struct Wire {
    stream: TcpStream,
    buf: BytesMut,
    codec: MessageCodec,
    pub local: SocketAddr,
}

/// Upper bound for any single read the fake does, so a script never hangs.
pub const READ_LIMIT: Duration = Duration::from_secs(30);

impl Wire {
    pub fn new(stream: TcpStream, num_pieces: u32) -> Wire {
        let _ = stream.set_nodelay(true);
        let local = stream
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::new(LOOPBACK, 0));
        Wire {
            stream,
            buf: BytesMut::with_capacity(64 * 1024),
            codec: MessageCodec::new(num_pieces),
            local,
        }
    }

    pub async fn connect(addr: SocketAddr, num_pieces: u32) -> Result<Wire, String> {
        let s = timeout(Duration::from_secs(5), TcpStream::connect(addr))
            .await
            .map_err(|_| format!("connect to {addr} timed out"))?
            .map_err(|e| format!("connect to {addr}: {e}"))?;
        Ok(Wire::new(s, num_pieces))
    }

    /// Reads exactly one 68-byte handshake (never more, so no message bytes are swallowed).
    pub async fn read_handshake(&mut self) -> Result<Handshake, String> {
        let mut raw = [0u8; handshake::LEN];
        timeout(READ_LIMIT, self.stream.read_exact(&mut raw))
            .await
            .map_err(|_| "no handshake in time".to_string())?
            .map_err(|e| format!("reading handshake: {e}"))?;
        Handshake::decode(&raw).map_err(|e| e.to_string())
    }

    pub async fn write_raw(&mut self, bytes: &[u8]) -> Result<(), String> {
        timeout(READ_LIMIT, self.stream.write_all(bytes))
            .await
            .map_err(|_| "write timed out".to_string())?
            .map_err(|e| format!("write: {e}"))
    }

    pub async fn send(&mut self, msgs: &[Message]) -> Result<(), String> {
        let mut out = BytesMut::new();
        for m in msgs {
            encode_into(m, &mut out);
        }
        self.write_raw(&out).await
    }

    /// The next message; `Ok(None)` when the other side closed.
    pub async fn recv(&mut self) -> Result<Option<Message>, String> {
        let deadline = Instant::now() + READ_LIMIT;
        loop {
            if let Some(m) = self
                .codec
                .decode(&mut self.buf)
                .map_err(|e| format!("decode: {e}"))?
            {
                return Ok(Some(m));
            }
            let n = match timeout_at(deadline, self.stream.read_buf(&mut self.buf)).await {
                Err(_) => return Err("no message in time".into()),
                Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionReset => return Ok(None),
                Ok(Err(e)) => return Err(format!("read: {e}")),
                Ok(Ok(n)) => n,
            };
            if n == 0 {
                return Ok(None);
            }
        }
    }

    /// Skips messages until one matches `pred`.
    pub async fn wait_msg(
        &mut self,
        what: &str,
        pred: impl Fn(&Message) -> bool,
    ) -> Result<Message, String> {
        loop {
            match self.recv().await? {
                None => return Err(format!("closed while waiting for {what}")),
                Some(m) if pred(&m) => return Ok(m),
                Some(_) => {}
            }
        }
    }

    /// Keeps the connection open, discarding whatever arrives, until the other side closes.
    /// `Ok` means the engine hung up on us (what a test of a violation expects).
    pub async fn hold_until_closed(&mut self, limit: Duration) -> Result<(), String> {
        let mut sink = vec![0u8; 64 * 1024];
        let deadline = Instant::now() + limit;
        loop {
            match timeout_at(deadline, self.stream.read(&mut sink)).await {
                Err(_) => return Err(format!("still open after {limit:?}")),
                Ok(Ok(0)) => return Ok(()),
                Ok(Ok(_)) => {}
                Ok(Err(_)) => return Ok(()),
            }
        }
    }

    /// A clean close: FIN first, then read until the peer closes too, so unread bytes do not
    /// turn our close into a reset.
    pub async fn close_gracefully(mut self, limit: Duration) -> Result<(), String> {
        let _ = self.stream.shutdown().await;
        self.hold_until_closed(limit).await
    }

    /// Separate halves, for a fake that writes a burst while it reads the answers (writing
    /// without reading can deadlock once both socket buffers fill). Bytes already buffered
    /// stay with the reader.
    pub fn split(self) -> (FramedRead<OwnedReadHalf, MessageCodec>, OwnedWriteHalf) {
        let (rd, wr) = self.stream.into_split();
        let mut reader = FramedRead::new(rd, self.codec);
        reader.read_buffer_mut().extend_from_slice(&self.buf);
        (reader, wr)
    }
}

// ---------------------------------------------------------------------------------------------
// The fake peer

/// A scripted peer listening on 127.0.0.1; every accepted connection runs the script. The
/// script's result for each connection can be read from `results`. Dropping it ends the
/// listener and every script.
pub struct FakePeer {
    pub addr: SocketAddr,
    pub results: mpsc::UnboundedReceiver<Result<(), String>>,
    task: JoinHandle<()>,
}

impl FakePeer {
    pub async fn listen<S, Fut>(ctx: Arc<Ctx>, script: S) -> FakePeer
    where
        S: Fn(Wire, Arc<Ctx>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        let listener = TcpListener::bind(SocketAddr::new(LOOPBACK, 0))
            .await
            .expect("bind fake peer");
        let addr = listener.local_addr().expect("fake peer address");
        let (tx, results) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            // Owned here so aborting the accept loop aborts every script too.
            let mut scripts = JoinSet::new();
            loop {
                tokio::select! {
                    acc = listener.accept() => {
                        let Ok((stream, _)) = acc else { continue };
                        let fut = script(Wire::new(stream, ctx.num_pieces()), Arc::clone(&ctx));
                        let tx = tx.clone();
                        scripts.spawn(async move {
                            let _ = tx.send(fut.await);
                        });
                    }
                    Some(_) = scripts.join_next() => {}
                }
            }
        });
        FakePeer {
            addr,
            results,
            task,
        }
    }

    /// The result of the next connection's script to finish.
    pub async fn next_result(&mut self, limit: Duration) -> Option<Result<(), String>> {
        timeout(limit, self.results.recv()).await.ok().flatten()
    }

    pub fn stop(&self) {
        self.task.abort();
    }
}

impl Drop for FakePeer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

// ---------------------------------------------------------------------------------------------
// Script building blocks

/// Answers the engine's handshake as a peer of this torrent.
pub async fn answer_handshake(w: &mut Wire, ctx: &Ctx) -> Result<Handshake, String> {
    let theirs = w.read_handshake().await?;
    if theirs.info_hash != ctx.info_hash {
        return Err("engine sent another info hash".into());
    }
    w.write_raw(&Handshake::new(ctx.info_hash, FAKE_ID).encode())
        .await?;
    Ok(theirs)
}

/// Handshake plus a full bitfield: the engine now wants everything from us.
pub async fn greet_as_seed(w: &mut Wire, ctx: &Ctx) -> Result<(), String> {
    answer_handshake(w, ctx).await?;
    w.send(&[Message::Bitfield(ctx.full_bitfield())]).await
}

/// Waits for `interested` and unchokes.
pub async fn unchoke_when_interested(w: &mut Wire) -> Result<(), String> {
    w.wait_msg("interested", |m| matches!(m, Message::Interested))
        .await?;
    w.send(&[Message::Unchoke]).await
}

/// Opens a connection to an engine as a leecher: handshake both ways. Returns the engine's
/// handshake.
pub async fn dial_as_leecher(addr: SocketAddr, ctx: &Ctx) -> Result<(Wire, Handshake), String> {
    let mut w = Wire::connect(addr, ctx.num_pieces()).await?;
    w.write_raw(&Handshake::new(ctx.info_hash, FAKE_ID).encode())
        .await?;
    let theirs = w.read_handshake().await?;
    if theirs.info_hash != ctx.info_hash {
        return Err("engine answered with another info hash".into());
    }
    Ok((w, theirs))
}

/// What `serve` does with one requested block.
pub enum Answer {
    /// Send these bytes as the block (possibly tampered with).
    Send(Vec<u8>),
    /// Never answer this request.
    Ignore,
}

/// Serves every request until the engine closes (a failed write counts as closed); `answer` decides per block given the true
/// bytes. Returns the number of blocks sent.
pub async fn serve(
    w: &mut Wire,
    ctx: &Ctx,
    mut answer: impl FnMut(u32, u32, Vec<u8>) -> Answer,
) -> Result<u64, String> {
    let mut sent = 0;
    loop {
        match w.recv().await? {
            None => return Ok(sent),
            Some(Message::Request {
                index,
                begin,
                length,
            }) => {
                let data = ctx
                    .block(index, begin, length)
                    .ok_or("engine asked for a block out of range")?;
                if let Answer::Send(data) = answer(index, begin, data) {
                    let piece = Message::Piece {
                        index,
                        begin,
                        data: Bytes::from(data),
                    };
                    // A failed write means the engine hung up (e.g. banned us mid-stream).
                    if w.send(&[piece]).await.is_err() {
                        return Ok(sent);
                    }
                    sent += 1;
                }
            }
            Some(_) => {}
        }
    }
}

pub fn flip_bytes(mut data: Vec<u8>) -> Vec<u8> {
    for b in data.iter_mut().step_by(97) {
        *b ^= 0xA5;
    }
    data
}
