//! Small in-process peers with one behaviour each, serving real blocks from the payload files:
//! a rate limit, a choke period, a partial bitfield, leaving at a set time, corrupt data, and
//! three that never get past the handshake (wrong info hash, garbage, silence).
//!
//! They only ever accept connections (the downloader dials them) and speak plain BEP 3 plus the
//! BEP 10 extended handshake, whose `v` string names the behaviour so the client column of the
//! TUI says what each one is doing. The fast extension stays off, so a choke simply discards the
//! requests queued so far, as BEP 3 says.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{sleep_until, timeout, Instant};
use tokio_util::codec::Framed;

use crate::engine::host::Storage;
use crate::engine::ExtHandshake;
use crate::protocol::bitfield::Bitfield;
use crate::protocol::handshake::{self, Handshake};
use crate::protocol::message::{Message, MessageCodec, BLOCK_LEN};
use crate::protocol::metainfo::Info;

/// Most requests queued per connection; a downloader that asks for more is cut off.
const MAX_QUEUE: usize = 2000;
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
const KEEP_ALIVE: Duration = Duration::from_secs(60);

/// What every fake serves from.
pub(super) struct Payload {
    pub info_hash: [u8; 20],
    pub info: Info,
    pub storage: Storage,
}

/// Which pieces a serving fake claims to have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Have {
    All,
    /// Stripes of `run` pieces: have one, miss the next.
    Stripes {
        run: u32,
    },
}

#[derive(Debug, Clone)]
pub(super) struct ServeSpec {
    /// BEP 10 `v`: what the client column shows.
    pub client: String,
    /// Bytes per second of block data, over all its connections.
    pub rate: u64,
    pub have: Have,
    /// Stays choked (while the downloader is interested) until then.
    pub choke_until: Option<Instant>,
    /// Closes every connection and stops listening then.
    pub leave_at: Option<Instant>,
    /// Flips bytes in every block it sends.
    pub corrupt: bool,
}

#[derive(Debug, Clone)]
pub(super) enum Behaviour {
    Serve(ServeSpec),
    /// Answers the handshake with a different info hash.
    WrongInfoHash,
    /// Answers with an HTTP error page instead of a handshake.
    Garbage,
    /// Accepts and never says a word.
    Silent,
}

#[derive(Debug, thiserror::Error)]
enum FakeError {
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("wire: {0}")]
    Wire(#[from] crate::protocol::message::WireError),
    #[error("handshake: {0}")]
    Handshake(#[from] handshake::HandshakeError),
    #[error("timed out")]
    Timeout,
    #[error("bad request {index}/{begin}/{length}")]
    BadRequest { index: u32, begin: u32, length: u32 },
    #[error("more than {MAX_QUEUE} requests queued")]
    Flood,
    #[error("disk: {0}")]
    Disk(String),
}

fn peer_id() -> [u8; 20] {
    let mut id = *b"-DM0001-000000000000";
    let tail: [u8; 12] = rand::random();
    for (dst, src) in id.iter_mut().skip(8).zip(tail) {
        *dst = b'a' + src % 26;
    }
    id
}

/// Shared pacing of one fake: the earliest instant the next block may go out.
struct Pace {
    next: std::sync::Mutex<Instant>,
    rate: u64,
}

impl Pace {
    /// Reserves `len` bytes of the budget and returns when they may be sent.
    fn reserve(&self, len: u32) -> Instant {
        let now = Instant::now();
        let step = Duration::from_secs_f64(f64::from(len) / self.rate.max(1) as f64);
        let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
        let at = (*next).max(now);
        *next = at + step;
        at
    }
}

/// Serves `behaviour` on `listener` until the runtime shuts down (or the fake leaves).
pub(super) fn spawn(listener: TcpListener, behaviour: Behaviour, payload: Arc<Payload>) {
    tokio::spawn(async move {
        match behaviour {
            Behaviour::Serve(spec) => serve_listener(listener, spec, payload).await,
            other => {
                while let Ok((stream, _)) = listener.accept().await {
                    let other = other.clone();
                    let payload = payload.clone();
                    tokio::spawn(async move {
                        let _ = misbehave(stream, other, &payload).await;
                    });
                }
            }
        }
    });
}

async fn serve_listener(listener: TcpListener, spec: ServeSpec, payload: Arc<Payload>) {
    let n = payload.info.num_pieces();
    let have = Arc::new(match spec.have {
        Have::All => Bitfield::full(n),
        Have::Stripes { run } => {
            let run = run.max(1);
            Bitfield::from_bools(&(0..n).map(|i| (i / run) % 2 == 0).collect::<Vec<_>>())
        }
    });
    let pace = Arc::new(Pace {
        next: std::sync::Mutex::new(Instant::now()),
        rate: spec.rate,
    });
    let spec = Arc::new(spec);
    // Far enough away to never fire; `sleep_until` needs some instant either way.
    let never = Instant::now() + Duration::from_secs(365 * 24 * 3600);
    let leave_at = spec.leave_at.unwrap_or(never);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { return };
                let (spec, payload, have, pace) = (spec.clone(), payload.clone(), have.clone(), pace.clone());
                tokio::spawn(async move {
                    if let Err(e) = serve_conn(stream, &spec, &payload, &have, &pace, never).await {
                        tracing::debug!("demo peer {}: {e}", spec.client);
                    }
                });
            }
            // Dropping the listener makes later dials fail with "connection refused".
            _ = sleep_until(leave_at) => return,
        }
    }
}

async fn read_their_handshake(stream: &mut TcpStream) -> Result<Handshake, FakeError> {
    let mut buf = [0u8; handshake::LEN];
    timeout(HANDSHAKE_TIMEOUT, stream.read_exact(&mut buf))
        .await
        .map_err(|_| FakeError::Timeout)??;
    Ok(Handshake::decode(&buf)?)
}

async fn misbehave(
    mut stream: TcpStream,
    behaviour: Behaviour,
    payload: &Payload,
) -> Result<(), FakeError> {
    match behaviour {
        Behaviour::WrongInfoHash => {
            read_their_handshake(&mut stream).await?;
            let mut wrong = payload.info_hash;
            for b in &mut wrong {
                *b ^= 0x5a;
            }
            stream
                .write_all(&Handshake::new(wrong, peer_id()).encode())
                .await?;
            hold_until_closed(&mut stream, Duration::from_secs(15)).await;
        }
        Behaviour::Garbage => {
            stream
                .write_all(
                    b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                )
                .await?;
            hold_until_closed(&mut stream, Duration::from_secs(5)).await;
        }
        Behaviour::Silent => hold_until_closed(&mut stream, Duration::from_secs(60)).await,
        Behaviour::Serve(_) => {}
    }
    Ok(())
}

/// Reads and discards until the other side closes or `limit` passes.
async fn hold_until_closed(stream: &mut TcpStream, limit: Duration) {
    let mut sink = [0u8; 1024];
    let _ = timeout(limit, async {
        while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
    })
    .await;
}

async fn serve_conn(
    mut stream: TcpStream,
    spec: &ServeSpec,
    payload: &Arc<Payload>,
    have: &Bitfield,
    pace: &Pace,
    never: Instant,
) -> Result<(), FakeError> {
    let theirs = read_their_handshake(&mut stream).await?;
    if theirs.info_hash != payload.info_hash {
        return Ok(());
    }
    let mut ours = Handshake::new(payload.info_hash, peer_id());
    ours.reserved[7] &= !0x04; // no fast extension (see the module comment)
    stream.write_all(&ours.encode()).await?;
    let num_pieces = payload.info.num_pieces();
    let mut framed = Framed::new(stream, MessageCodec::new(num_pieces));
    if theirs.supports_extensions() {
        let ext = ExtHandshake {
            v: Some(spec.client.clone()),
            reqq: u32::try_from(MAX_QUEUE).ok(),
            ..ExtHandshake::default()
        };
        let bytes = ext.encode();
        framed
            .send(Message::Extended {
                id: 0,
                payload: Bytes::from(bytes),
            })
            .await?;
    }
    framed
        .send(Message::Bitfield(Bytes::copy_from_slice(have.as_bytes())))
        .await?;

    let leave_at = spec.leave_at.unwrap_or(never);
    let choke_until = spec.choke_until.unwrap_or_else(Instant::now);
    let mut choked = true;
    let mut interested = false;
    let mut queue: VecDeque<(u32, u32, u32)> = VecDeque::new();
    // The instant the head of the queue may be sent, once reserved from the shared pace.
    let mut send_at: Option<Instant> = None;
    let mut keep_alive = tokio::time::interval_at(Instant::now() + KEEP_ALIVE, KEEP_ALIVE);
    loop {
        if choked && interested && Instant::now() >= choke_until {
            choked = false;
            framed.send(Message::Unchoke).await?;
        }
        if !choked && send_at.is_none() {
            if let Some(&(_, _, length)) = queue.front() {
                send_at = Some(pace.reserve(length));
            }
        }
        tokio::select! {
            msg = framed.next() => {
                let Some(msg) = msg else { return Ok(()) };
                match msg? {
                    Message::Interested => interested = true,
                    Message::NotInterested => interested = false,
                    Message::Request { index, begin, length } => {
                        let piece_len = payload.info.piece_len(index);
                        let valid = index < num_pieces
                            && have.get(index)
                            && length > 0
                            && length <= BLOCK_LEN
                            && u64::from(begin) + u64::from(length) <= u64::from(piece_len);
                        if !valid {
                            return Err(FakeError::BadRequest { index, begin, length });
                        }
                        // Requests while choked are ignored, as BEP 3 allows.
                        if !choked {
                            if queue.len() >= MAX_QUEUE {
                                return Err(FakeError::Flood);
                            }
                            queue.push_back((index, begin, length));
                        }
                    }
                    Message::Cancel { index, begin, length } => {
                        if let Some(pos) = queue.iter().position(|r| *r == (index, begin, length)) {
                            queue.remove(pos);
                        }
                    }
                    _ => {}
                }
            }
            _ = sleep_until(send_at.unwrap_or(never)), if send_at.is_some() => {
                send_at = None;
                if let Some((index, begin, length)) = queue.pop_front() {
                    let data = read_block(payload, index, begin, length, spec.corrupt).await?;
                    framed.send(Message::Piece { index, begin, data }).await?;
                }
            }
            _ = sleep_until(choke_until), if choked && interested => {}
            _ = keep_alive.tick() => framed.send(Message::KeepAlive).await?,
            _ = sleep_until(leave_at) => return Ok(()),
        }
    }
}

async fn read_block(
    payload: &Arc<Payload>,
    index: u32,
    begin: u32,
    length: u32,
    corrupt: bool,
) -> Result<Bytes, FakeError> {
    let payload = payload.clone();
    tokio::task::spawn_blocking(move || {
        let mut buf = vec![0u8; length as usize];
        payload
            .storage
            .read_block(index, begin, &mut buf)
            .map_err(|e| FakeError::Disk(e.to_string()))?;
        if corrupt {
            for b in buf.iter_mut().step_by(97) {
                *b ^= 0xff;
            }
        }
        Ok(Bytes::from(buf))
    })
    .await
    .map_err(|e| FakeError::Disk(e.to_string()))?
}
