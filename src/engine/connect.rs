//! Setting up a connection: dial, exchange the 68-byte handshakes, and the BEP 10 handshake
//! we send. Also used on its own by `ttui handshake`, `ttui probe` and the magnet fetcher.

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::codec::FramedRead;

use crate::engine::api::PeerEnd;
use crate::protocol::extension::ExtHandshake;
use crate::protocol::handshake::{self, Handshake};
use crate::protocol::message::{Message, MessageCodec};

pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// The `reqq` we advertise: their requests we queue before rejecting.
pub(crate) const OUR_REQQ: usize = 500;

pub(crate) fn io_end(e: &io::Error, during_handshake: bool) -> PeerEnd {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => PeerEnd::Refused,
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe => {
            if during_handshake {
                PeerEnd::ClosedDuringHandshake
            } else {
                PeerEnd::Reset
            }
        }
        io::ErrorKind::UnexpectedEof => {
            if during_handshake {
                PeerEnd::ClosedDuringHandshake
            } else {
                PeerEnd::ClosedByPeer
            }
        }
        io::ErrorKind::TimedOut => PeerEnd::ConnectTimeout,
        _ => match e.raw_os_error() {
            Some(libc::ENETUNREACH) | Some(libc::EHOSTUNREACH) | Some(libc::EADDRNOTAVAIL) => {
                PeerEnd::Unreachable(e.to_string())
            }
            _ => PeerEnd::Io(e.to_string()),
        },
    }
}

/// Reads the peer's 68-byte handshake, rejecting garbage as soon as the first bytes are wrong.
pub async fn read_handshake<S: AsyncRead + Unpin>(stream: &mut S) -> Result<Handshake, PeerEnd> {
    let mut buf = [0u8; handshake::LEN];
    let mut n = 0;
    while n < handshake::LEN {
        let k = stream
            .read(&mut buf[n..])
            .await
            .map_err(|e| io_end(&e, true))?;
        if k == 0 {
            return Err(if n == 0 {
                PeerEnd::ClosedDuringHandshake
            } else {
                PeerEnd::NotBitTorrent
            });
        }
        n += k;
        Handshake::check_prefix(&buf[..n]).map_err(|_| PeerEnd::NotBitTorrent)?;
    }
    Handshake::decode(&buf).map_err(|_| PeerEnd::NotBitTorrent)
}

/// Connects and exchanges handshakes; used by the engine and by `ttui handshake` / `probe`.
/// `local` binds the outgoing socket to that address first (the `--bind` address), when it is
/// of the peer's family.
pub async fn connect_and_handshake(
    addr: SocketAddr,
    local: Option<std::net::IpAddr>,
    info_hash: [u8; 20],
    our_id: [u8; 20],
    mut on_connected: impl FnMut(),
) -> Result<(TcpStream, Handshake, Duration), PeerEnd> {
    let t0 = Instant::now();
    let connect = async {
        match local.filter(|ip| ip.is_ipv4() == addr.is_ipv4()) {
            None => TcpStream::connect(addr).await,
            Some(ip) => {
                let socket = if addr.is_ipv4() {
                    tokio::net::TcpSocket::new_v4()?
                } else {
                    tokio::net::TcpSocket::new_v6()?
                };
                socket.bind(SocketAddr::new(ip, 0))?;
                socket.connect(addr).await
            }
        }
    };
    let mut stream = match tokio::time::timeout(CONNECT_TIMEOUT, connect).await {
        Err(_) => return Err(PeerEnd::ConnectTimeout),
        Ok(Err(e)) => return Err(io_end(&e, false)),
        Ok(Ok(s)) => s,
    };
    let _ = stream.set_nodelay(true);
    on_connected();
    let ours = Handshake::new(info_hash, our_id);
    let theirs = tokio::time::timeout(HANDSHAKE_TIMEOUT, async {
        stream
            .write_all(&ours.encode())
            .await
            .map_err(|e| io_end(&e, true))?;
        read_handshake(&mut stream).await
    })
    .await
    .map_err(|_| PeerEnd::HandshakeTimeout)??;
    if theirs.info_hash != info_hash {
        return Err(PeerEnd::WrongInfoHash);
    }
    if theirs.peer_id == our_id {
        return Err(PeerEnd::SelfConnection);
    }
    Ok((stream, theirs, t0.elapsed()))
}

/// After a handshake, waits briefly for the peer's BEP 10 handshake and returns its client
/// name (`v`), skipping other messages. Used by `ttui handshake` and `ttui probe`.
pub async fn read_ext_client<S: AsyncRead + Unpin>(
    stream: &mut S,
    num_pieces: u32,
    wait: Duration,
) -> Option<String> {
    let mut reader = FramedRead::new(stream, MessageCodec::new(num_pieces));
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, reader.next()).await {
            Ok(Some(Ok(Message::Extended { id: 0, payload }))) => {
                return ExtHandshake::decode(&payload).ok()?.client();
            }
            Ok(Some(Ok(_))) => continue,
            _ => return None,
        }
    }
}
