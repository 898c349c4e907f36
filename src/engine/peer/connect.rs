//! Setting up a connection: dial, exchange the 68-byte handshakes, and the BEP 10 handshake
//! we send. Also used on its own by `ttui handshake`, `ttui probe` and the magnet fetcher.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::codec::FramedRead;

use crate::engine::api::PeerEnd;
use crate::engine::api::TransportPolicy;
use crate::engine::peer::dial::{self, Transports};
use crate::engine::peer::stream::PeerStream;
use crate::net::{self, DialError, Encryption, EncryptionPolicy, MseError};
use crate::protocol::extension::ExtHandshake;
use crate::protocol::handshake::{self, Handshake};
use crate::protocol::message::{Message, MessageCodec};

pub(crate) use crate::engine::peer::dial::CONNECT_TIMEOUT;
pub(crate) use crate::engine::peer::dial::{io_end, tcp_connect};
pub(crate) const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// The `reqq` we advertise: their requests we queue before rejecting.
pub(crate) const OUR_REQQ: usize = 500;

/// Reads the peer's 68-byte handshake, rejecting garbage as soon as the first bytes are wrong.
pub(crate) async fn read_handshake<S: AsyncRead + Unpin>(
    stream: &mut S,
) -> Result<Handshake, PeerEnd> {
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

/// Connects and exchanges plain handshakes; used by `ttui handshake` / `probe` and the
/// magnet fetcher (the engine's peers use `connect_encrypted`).
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
    let connect = tcp_connect(addr, local);
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

/// Why an encrypted handshake failed, as a peer's end.
pub(crate) fn mse_end(e: MseError) -> PeerEnd {
    match e {
        MseError::Closed | MseError::ClosedAfterShortSecret => PeerEnd::ClosedDuringHandshake,
        MseError::Timeout(_) => PeerEnd::HandshakeTimeout,
        e => PeerEnd::Encryption(e.to_string()),
    }
}

/// `connect_and_handshake` with MSE by `policy` over the transports `transports` allows (see
/// `dial::connect_by_policy`: uTP preferred, TCP held while uTP may answer); with
/// `Prefer`, a peer that hangs up on the encrypted attempt is dialed again in plain over the
/// same transport (see `net::connect`). Also returns the encryption in use. With `Off`, a
/// peer that closes during the handshake is reported as one that may require encryption;
/// with `--transport tcp`, as one that may accept only uTP. The note says when the
/// encrypted attempt was refused and plain worked.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn connect_encrypted(
    addr: SocketAddr,
    local: Option<std::net::IpAddr>,
    info_hash: [u8; 20],
    our_id: [u8; 20],
    policy: EncryptionPolicy,
    transports: &Transports,
    dht: bool,
    on_connected: impl FnMut() + Send,
) -> Result<(PeerStream, Handshake, Duration, Encryption, Option<String>), PeerEnd> {
    let ours = Handshake::new(info_hash, our_id).with_dht(dht);
    connect_encrypted_as(addr, local, ours, policy, transports, on_connected).await
}

/// `connect_encrypted` with our handshake as given (its reserved bits: a torrent's
/// connections set the BEP 52 bit for a v2 or hybrid torrent).
pub(crate) async fn connect_encrypted_as(
    addr: SocketAddr,
    local: Option<std::net::IpAddr>,
    ours: Handshake,
    policy: EncryptionPolicy,
    transports: &Transports,
    on_connected: impl FnMut() + Send,
) -> Result<(PeerStream, Handshake, Duration, Encryption, Option<String>), PeerEnd> {
    let (info_hash, our_id) = (ours.info_hash, ours.peer_id);
    let t0 = Instant::now();
    // Every dial shares the callback (`net::connect` may dial twice, the race dials both).
    let on_connected = std::sync::Mutex::new(on_connected);
    let cb = &on_connected;
    let ours = ours.encode();
    let ours = &ours;
    let attempt = |leg: dial::Leg| async move {
        let kind = leg.kind;
        let leg = &leg;
        let dial = move || async move {
            let s = dial::dial(leg, addr, local, transports).await?;
            tracing::info!("{addr}: connected over {kind}");
            (cb.lock().unwrap_or_else(|e| e.into_inner()))();
            Ok(s)
        };
        let d = net::connect(dial, info_hash, policy, ours)
            .await
            .map_err(|e| match e {
                DialError::Connect(e) => dial::dial_end(&e),
                DialError::Handshake(e) => mse_end(e),
            })?;
        let note = d
            .plain_after
            .as_ref()
            .map(net::mse_stream::plain_after_note);
        let mut stream = d.stream;
        let theirs = tokio::time::timeout(HANDSHAKE_TIMEOUT, read_handshake(&mut stream))
            .await
            .map_err(|_| PeerEnd::HandshakeTimeout)??;
        Ok((stream, theirs, d.encryption, note))
    };
    let tcp_only = transports.policy == TransportPolicy::Tcp;
    let res = dial::connect_by_policy(addr, transports, attempt).await;
    let (stream, theirs, enc, note) = res.map_err(|e| closed_hint(e, policy, tcp_only))?;
    if theirs.info_hash != info_hash {
        return Err(PeerEnd::WrongInfoHash);
    }
    if theirs.peer_id == our_id {
        return Err(PeerEnd::SelfConnection);
    }
    Ok((stream, theirs, t0.elapsed(), enc, note))
}

/// A peer that hangs up during the handshake may want what we did not offer: encryption
/// when ours is off, else uTP when we dial only TCP. The row then says so.
fn closed_hint(e: PeerEnd, policy: EncryptionPolicy, tcp_only: bool) -> PeerEnd {
    match (e, policy) {
        (PeerEnd::ClosedDuringHandshake, EncryptionPolicy::Off) => PeerEnd::ClosedMayNeedEncryption,
        (PeerEnd::ClosedDuringHandshake, _) if tcp_only => PeerEnd::ClosedMayNeedUtp,
        (e, _) => e,
    }
}

/// After a handshake, waits briefly for the peer's BEP 10 handshake and returns its client
/// name (`v`), skipping other messages. Used by `ttui handshake` and `ttui probe`.
pub(crate) async fn read_ext_client<S: AsyncRead + Unpin>(
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

#[cfg(test)]
mod tests;
