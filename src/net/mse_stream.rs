//! MSE over a socket: drives `protocol::mse_codec::Handshake` with a deadline, and picks plain or
//! encrypted by policy. After `outgoing`, our BitTorrent handshake has been sent (inside the
//! encrypted exchange when there is one); after `incoming`, the peer's handshake is the next
//! thing read from the returned stream.

use std::future::Future;
use std::io;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::SeedableRng;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;

use super::stream::{Encryption, PeerStream, ReadState, WriteState};
use crate::protocol::mse_codec::{self, Handshake, Method, CRYPTO_PLAIN, CRYPTO_RC4};

/// The whole encrypted exchange must finish within this (it is at most ~1.3 KB each way).
pub(crate) const MSE_TIMEOUT: Duration = Duration::from_secs(10);

/// `--encryption`: what we offer and accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum EncryptionPolicy {
    /// Outgoing: the MSE handshake offering RC4 and plaintext, and a plain retry if the peer
    /// hangs up. Incoming: either. The payload is RC4 when the peer insists, plaintext when it
    /// allows: RC4 costs about 4 CPU-seconds per GiB here (measured against a default
    /// libtorrent: 10.1 s and 6.5 CPU-s for 1 GiB instead of 3.6 s and 2.1), which a peer that
    /// accepts plaintext does not ask us to pay. The handshake itself stays obfuscated.
    #[default]
    Prefer,
    /// MSE with RC4 only, both ways.
    Require,
    /// Plain only; incoming MSE attempts are closed.
    Off,
}

impl std::fmt::Display for EncryptionPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            EncryptionPolicy::Prefer => "prefer",
            EncryptionPolicy::Require => "require",
            EncryptionPolicy::Off => "off",
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum MseError {
    #[error(transparent)]
    Protocol(#[from] mse_codec::Error),
    #[error("closed during the encryption handshake")]
    Closed,
    /// Closed after a shared secret that starts with a zero byte, which libtorrent 1.1 to 2.0
    /// cannot match (see `Handshake::secret_starts_with_zero`): `connect` dials again.
    #[error("closed during the encryption handshake")]
    ClosedAfterShortSecret,
    #[error("encryption handshake timed out waiting for {0}")]
    Timeout(&'static str),
    #[error("encryption handshake: {0}")]
    Io(io::Error),
    #[error("encryption required: peer sent a plain handshake")]
    PlainRefused,
    #[error("encryption is off: closed an encrypted connection")]
    EncryptedRefused,
}

impl MseError {
    /// Whether a peer that failed this way may still take a plain connection (`prefer`).
    pub(crate) fn may_retry_plain(&self) -> bool {
        matches!(
            self,
            MseError::Closed
                | MseError::ClosedAfterShortSecret
                | MseError::Timeout(_)
                | MseError::Protocol(
                    mse_codec::Error::PlainHandshake | mse_codec::Error::BadPublicKey
                )
        )
    }

    fn from_io(e: io::Error) -> Self {
        match e.kind() {
            io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe => MseError::Closed,
            _ => MseError::Io(e),
        }
    }
}

/// `io::Error` from a deadline-bounded read or write.
async fn within<T>(
    deadline: Instant,
    what: &'static str,
    f: impl Future<Output = io::Result<T>>,
) -> Result<T, MseError> {
    match tokio::time::timeout_at(deadline, f).await {
        Err(_) => Err(MseError::Timeout(what)),
        Ok(r) => r.map_err(MseError::from_io),
    }
}

/// Runs the exchange to its end. Returns what was read past it (payload, still encrypted).
async fn drive<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    hs: &mut Handshake,
    first: &[u8],
    lookup: &(dyn Fn(&[u8; 20]) -> Option<[u8; 20]> + Sync),
    deadline: Instant,
) -> Result<Vec<u8>, MseError> {
    let mut rng = StdRng::from_entropy();
    // A peer that may send up to ~1.2 KB of handshake; one fixed buffer holds any read.
    let mut buf = [0u8; 2048];
    // Twenty bytes never finish a handshake, so nothing of `first` is payload.
    hs.feed(first, lookup, &mut rng)?;
    let mut leftover = Vec::new();
    loop {
        let out = hs.take_output();
        if !out.is_empty() {
            within(deadline, "the peer to read", stream.write_all(&out)).await?;
        }
        if hs.is_done() {
            return Ok(leftover);
        }
        let n = within(deadline, hs.waiting_for(), stream.read(&mut buf)).await?;
        if n == 0 {
            return Err(MseError::Closed);
        }
        let used = hs.feed(&buf[..n], lookup, &mut rng)?;
        if hs.is_done() {
            leftover = buf[used..n].to_vec();
        }
    }
}

fn finish<S>(stream: S, hs: Handshake, leftover: Vec<u8>) -> (PeerStream<S>, Encryption) {
    // `drive` returns only once the handshake is done, so `finish` has a result.
    let e = hs
        .finish()
        .unwrap_or_else(|| unreachable!("MSE handshake finished"));
    let enc = match e.method {
        Method::Plain => Encryption::Plain,
        Method::Rc4 => Encryption::Rc4,
    };
    let rd = ReadState::new(e.read, e.read_limit, leftover);
    (
        PeerStream::new(stream, rd, WriteState::new(e.write), enc),
        enc,
    )
}

/// Starts a connection we dialed: MSE (unless `Off`) carrying `our_handshake`, or the plain
/// handshake. With `Prefer`, a failure that `may_retry_plain` is the caller's cue to dial
/// again with `Off` (see `connect`).
pub(crate) async fn outgoing<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    info_hash: [u8; 20],
    policy: EncryptionPolicy,
    our_handshake: &[u8],
) -> Result<(PeerStream<S>, Encryption), MseError> {
    outgoing_within(stream, info_hash, policy, our_handshake, MSE_TIMEOUT).await
}

pub(crate) async fn outgoing_within<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    info_hash: [u8; 20],
    policy: EncryptionPolicy,
    our_handshake: &[u8],
    timeout: Duration,
) -> Result<(PeerStream<S>, Encryption), MseError> {
    let deadline = Instant::now() + timeout;
    if policy == EncryptionPolicy::Off {
        within(
            deadline,
            "the peer to read",
            stream.write_all(our_handshake),
        )
        .await?;
        return Ok((PeerStream::plain(stream, Vec::new()), Encryption::Plain));
    }
    let mut rng = StdRng::from_entropy();
    let provide = match policy {
        EncryptionPolicy::Require => CRYPTO_RC4,
        _ => CRYPTO_RC4 | CRYPTO_PLAIN,
    };
    let mut hs = Handshake::initiator(info_hash, provide, our_handshake, &mut rng);
    let leftover = match drive(&mut stream, &mut hs, &[], &|_| None, deadline).await {
        Err(MseError::Closed) if hs.secret_starts_with_zero() => {
            return Err(MseError::ClosedAfterShortSecret);
        }
        r => r?,
    };
    Ok(finish(stream, hs, leftover))
}

/// What `connect` made.
pub(crate) struct Dialed<S> {
    pub stream: PeerStream<S>,
    pub encryption: Encryption,
    /// Set when the encrypted attempt failed and a plain one worked (`Prefer`): why.
    pub plain_after: Option<MseError>,
}

/// The note (row detail and event log) of a peer that refused our encrypted handshake and
/// accepted a plain one: with `prefer` it is plain for that reason, not by our choice.
pub(crate) fn plain_after_note(why: &MseError) -> String {
    format!("encrypted handshake refused ({why}); plain accepted")
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum DialError {
    /// The TCP connect itself (or its timeout, as the connector reports it).
    #[error("{0}")]
    Connect(io::Error),
    #[error(transparent)]
    Handshake(MseError),
}

/// Dials with `connect` and starts the connection by `policy`; with `Prefer`, dials a second
/// time for a plain handshake when the encrypted one was refused in a way a plain-only peer
/// would refuse it. An encrypted handshake closed after a secret that older libtorrent
/// mishashes is dialed again first, with new keys.
pub(crate) async fn connect<S, F, Fut>(
    mut connect: F,
    info_hash: [u8; 20],
    policy: EncryptionPolicy,
    our_handshake: &[u8],
) -> Result<Dialed<S>, DialError>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: FnMut() -> Fut,
    Fut: Future<Output = io::Result<S>>,
{
    let s = connect().await.map_err(DialError::Connect)?;
    let first = match outgoing(s, info_hash, policy, our_handshake).await {
        // New keys make a new secret, short again only one time in 256.
        Err(MseError::ClosedAfterShortSecret) => {
            let s = connect().await.map_err(DialError::Connect)?;
            outgoing(s, info_hash, policy, our_handshake).await
        }
        r => r,
    };
    match first {
        Ok((stream, encryption)) => Ok(Dialed {
            stream,
            encryption,
            plain_after: None,
        }),
        Err(e) if policy == EncryptionPolicy::Prefer && e.may_retry_plain() => {
            let s = connect().await.map_err(DialError::Connect)?;
            let (stream, encryption) = outgoing(s, info_hash, EncryptionPolicy::Off, our_handshake)
                .await
                .map_err(DialError::Handshake)?;
            Ok(Dialed {
                stream,
                encryption,
                plain_after: Some(e),
            })
        }
        Err(e) => Err(DialError::Handshake(e)),
    }
}

/// Starts a connection a peer made to us: tells MSE from a plain handshake by the first 20
/// bytes (plain starts with 19, "BitTorrent protocol"), and runs MSE when the policy allows.
/// `lookup` maps a req2 hash (`mse_codec::req2(info_hash)`) to a torrent we have.
pub(crate) async fn incoming<S, L>(
    stream: S,
    policy: EncryptionPolicy,
    lookup: &L,
) -> Result<(PeerStream<S>, Encryption), MseError>
where
    S: AsyncRead + AsyncWrite + Unpin,
    L: Fn(&[u8; 20]) -> Option<[u8; 20]> + Sync,
{
    incoming_within(stream, policy, lookup, MSE_TIMEOUT).await
}

pub(crate) async fn incoming_within<S, L>(
    mut stream: S,
    policy: EncryptionPolicy,
    lookup: &L,
    timeout: Duration,
) -> Result<(PeerStream<S>, Encryption), MseError>
where
    S: AsyncRead + AsyncWrite + Unpin,
    L: Fn(&[u8; 20]) -> Option<[u8; 20]> + Sync,
{
    let deadline = Instant::now() + timeout;
    let mut first = [0u8; 20];
    let mut n = 0;
    while n < first.len() {
        let k = within(
            deadline,
            "the peer's first bytes",
            stream.read(&mut first[n..]),
        )
        .await?;
        if k == 0 {
            return Err(MseError::Closed);
        }
        n += k;
        if crate::protocol::handshake::Handshake::check_prefix(&first[..n]).is_err() {
            break;
        }
    }
    let plain = crate::protocol::handshake::Handshake::check_prefix(&first[..n]).is_ok();
    match (plain, policy) {
        (true, EncryptionPolicy::Require) => Err(MseError::PlainRefused),
        (true, _) => Ok((
            PeerStream::plain(stream, first[..n].to_vec()),
            Encryption::Plain,
        )),
        (false, EncryptionPolicy::Off) => Err(MseError::EncryptedRefused),
        (false, policy) => {
            let accept: &[Method] = match policy {
                EncryptionPolicy::Require => &[Method::Rc4],
                // Plaintext when the peer offers it too (see `Prefer`).
                _ => &[Method::Plain, Method::Rc4],
            };
            let mut rng = StdRng::from_entropy();
            let mut hs = Handshake::responder(accept, &mut rng);
            let leftover = drive(&mut stream, &mut hs, &first[..n], lookup, deadline).await?;
            Ok(finish(stream, hs, leftover))
        }
    }
}

#[cfg(test)]
mod tests;
