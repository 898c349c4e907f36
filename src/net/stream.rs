//! The byte stream a peer connection runs over, after MSE: RC4 applied in place over the
//! receive buffer as bytes arrive, and over a bounded scratch buffer on the way out; plain
//! connections pass straight through. Below it, a `Transport`: plain TCP, or any
//! `AsyncRead + AsyncWrite` boxed (uTP, a test's in-memory pipe), so the layers below the
//! BitTorrent handshake plug in without the peer task knowing.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use crate::protocol::rc4::Rc4;

/// Largest piece of one write encrypted at a time (the scratch buffer never grows past it).
const WRITE_CHUNK: usize = 64 * 1024;

/// Whether a connection's payload is encrypted (shown in the peer row).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum Encryption {
    #[default]
    Plain,
    Rc4,
}

impl std::fmt::Display for Encryption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Encryption::Plain => "plain",
            Encryption::Rc4 => "RC4",
        })
    }
}

/// The receive side: bytes already read during the handshake, then the socket.
pub(crate) struct ReadState {
    /// Boxed so a connection stays small to move around (an RC4 state is 258 bytes).
    cipher: Option<Box<Rc4>>,
    /// Only this many more bytes are encrypted, then the stream is plain (IA when plaintext
    /// was selected).
    limit: Option<u64>,
    prefix: Vec<u8>,
    pos: usize,
}

impl ReadState {
    /// `prefix` is what was read past the handshake, still as it came off the wire.
    pub(crate) fn new(cipher: Option<Rc4>, limit: Option<u64>, prefix: Vec<u8>) -> Self {
        let mut r = ReadState {
            cipher: cipher.map(Box::new),
            limit,
            prefix,
            pos: 0,
        };
        let mut prefix = std::mem::take(&mut r.prefix);
        r.decrypt(&mut prefix);
        r.prefix = prefix;
        r
    }

    fn decrypt(&mut self, buf: &mut [u8]) {
        let Some(c) = self.cipher.as_mut() else {
            return;
        };
        let n = match self.limit {
            Some(l) => buf.len().min(usize::try_from(l).unwrap_or(usize::MAX)),
            None => buf.len(),
        };
        c.apply_keystream(&mut buf[..n]);
        if let Some(l) = self.limit.as_mut() {
            *l -= n as u64;
            if *l == 0 {
                self.cipher = None;
                self.limit = None;
            }
        }
    }

    fn poll_read<R: AsyncRead + Unpin>(
        &mut self,
        inner: &mut R,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.pos < self.prefix.len() {
            let n = buf.remaining().min(self.prefix.len() - self.pos);
            buf.put_slice(&self.prefix[self.pos..self.pos + n]);
            self.pos += n;
            if self.pos == self.prefix.len() {
                self.prefix = Vec::new();
                self.pos = 0;
            }
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        ready!(Pin::new(inner).poll_read(cx, buf))?;
        self.decrypt(&mut buf.filled_mut()[before..]);
        Poll::Ready(Ok(()))
    }
}

/// The send side: encrypted bytes not yet taken by the socket.
pub(crate) struct WriteState {
    cipher: Option<Box<Rc4>>,
    pending: Vec<u8>,
    sent: usize,
}

impl WriteState {
    pub(crate) fn new(cipher: Option<Rc4>) -> Self {
        WriteState {
            cipher: cipher.map(Box::new),
            pending: Vec::new(),
            sent: 0,
        }
    }

    fn poll_drain<W: AsyncWrite + Unpin>(
        &mut self,
        inner: &mut W,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        while self.sent < self.pending.len() {
            let k = ready!(Pin::new(&mut *inner).poll_write(cx, &self.pending[self.sent..]))?;
            if k == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.sent += k;
        }
        self.pending.clear();
        self.sent = 0;
        Poll::Ready(Ok(()))
    }

    /// Accepts up to WRITE_CHUNK bytes once earlier ones are out: they are encrypted into the
    /// scratch buffer (the keystream has moved on, so they are committed) and sent as the
    /// socket takes them; flush and shutdown drain the rest.
    fn poll_write<W: AsyncWrite + Unpin>(
        &mut self,
        inner: &mut W,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        ready!(self.poll_drain(inner, cx))?;
        let Some(c) = self.cipher.as_mut() else {
            return Pin::new(inner).poll_write(cx, data);
        };
        let n = data.len().min(WRITE_CHUNK);
        self.pending.extend_from_slice(&data[..n]);
        c.apply_keystream(&mut self.pending);
        if let Poll::Ready(Err(e)) = self.poll_drain(inner, cx) {
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(n))
    }

    fn poll_flush<W: AsyncWrite + Unpin>(
        &mut self,
        inner: &mut W,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        ready!(self.poll_drain(inner, cx))?;
        Pin::new(inner).poll_flush(cx)
    }

    fn poll_shutdown<W: AsyncWrite + Unpin>(
        &mut self,
        inner: &mut W,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        ready!(self.poll_drain(inner, cx))?;
        Pin::new(inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
/// Anything a peer connection can run over.
pub(crate) trait AsyncStream: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
#[cfg(test)]
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> AsyncStream for T {}

/// What a peer connection runs over, below encryption.
pub(crate) enum Transport {
    Tcp(TcpStream),
    Utp(crate::net::utp::UtpStream),
    /// A WebRTC data channel (a WebTorrent peer, found through a WebSocket tracker).
    WebRtc(crate::net::webrtc::WebRtcStream),
    #[cfg(test)]
    /// An in-memory stream (tests).
    Other(Box<dyn AsyncStream>),
}

/// The transport a peer row shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum TransportKind {
    Tcp,
    Utp,
    WebRtc,
}

impl std::fmt::Display for TransportKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TransportKind::Tcp => "TCP",
            TransportKind::Utp => "uTP",
            TransportKind::WebRtc => "WebRTC",
        })
    }
}

impl Transport {
    /// None for an in-memory stream.
    pub(crate) fn kind(&self) -> Option<TransportKind> {
        match self {
            Transport::Tcp(_) => Some(TransportKind::Tcp),
            Transport::Utp(_) => Some(TransportKind::Utp),
            Transport::WebRtc(_) => Some(TransportKind::WebRtc),
            #[cfg(test)]
            Transport::Other(_) => None,
        }
    }
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Transport::Tcp(s) => write!(f, "Tcp({:?})", s.peer_addr().ok()),
            Transport::Utp(s) => write!(f, "Utp({})", s.peer_addr()),
            Transport::WebRtc(s) => write!(f, "WebRtc({:?})", s.remote_addr()),
            #[cfg(test)]
            Transport::Other(_) => f.write_str("Other"),
        }
    }
}

impl From<TcpStream> for Transport {
    fn from(s: TcpStream) -> Self {
        Transport::Tcp(s)
    }
}

impl AsyncRead for Transport {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Transport::Utp(s) => Pin::new(s).poll_read(cx, buf),
            Transport::WebRtc(s) => Pin::new(s).poll_read(cx, buf),
            #[cfg(test)]
            Transport::Other(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Transport {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Transport::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            Transport::Utp(s) => Pin::new(s).poll_write(cx, buf),
            Transport::WebRtc(s) => Pin::new(s).poll_write(cx, buf),
            #[cfg(test)]
            Transport::Other(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Tcp(s) => Pin::new(s).poll_flush(cx),
            Transport::Utp(s) => Pin::new(s).poll_flush(cx),
            Transport::WebRtc(s) => Pin::new(s).poll_flush(cx),
            #[cfg(test)]
            Transport::Other(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Transport::Utp(s) => Pin::new(s).poll_shutdown(cx),
            Transport::WebRtc(s) => Pin::new(s).poll_shutdown(cx),
            #[cfg(test)]
            Transport::Other(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

pub(crate) type ReadHalf = Box<dyn AsyncRead + Unpin + Send>;
pub(crate) type WriteHalf = Box<dyn AsyncWrite + Unpin + Send>;

/// A connection with the encryption its handshake settled on. The engine holds
/// `PeerStream<Transport>` (the default); the MSE functions work over any stream.
pub(crate) struct PeerStream<S = Transport> {
    inner: S,
    rd: ReadState,
    wr: WriteState,
    encryption: Encryption,
}

impl<S: std::fmt::Debug> std::fmt::Debug for PeerStream<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerStream")
            .field("inner", &self.inner)
            .field("encryption", &self.encryption)
            .finish_non_exhaustive()
    }
}

impl<S> PeerStream<S> {
    pub(crate) fn new(inner: S, rd: ReadState, wr: WriteState, encryption: Encryption) -> Self {
        PeerStream {
            inner,
            rd,
            wr,
            encryption,
        }
    }

    /// A plain connection whose first bytes were already read (to tell it from MSE).
    pub(crate) fn plain(inner: S, already_read: Vec<u8>) -> Self {
        Self::new(
            inner,
            ReadState::new(None, None, already_read),
            WriteState::new(None),
            Encryption::Plain,
        )
    }

    pub(crate) fn encryption(&self) -> Encryption {
        self.encryption
    }

    pub(crate) fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl PeerStream<Transport> {
    /// A plain TCP connection nothing was read from yet.
    pub(crate) fn tcp(s: TcpStream) -> Self {
        Self::plain(Transport::Tcp(s), Vec::new())
    }

    #[cfg(test)]
    /// A plain connection over another transport.
    pub(crate) fn boxed(s: impl AsyncStream) -> Self {
        Self::plain(Transport::Other(Box::new(s)), Vec::new())
    }

    /// Read and write halves the task can use at once, each with its own cipher. TCP splits
    /// without a lock; other transports go through tokio's split.
    pub(crate) fn split(self) -> (ReadHalf, WriteHalf) {
        match self.inner {
            Transport::Tcp(s) => {
                let _ = s.set_nodelay(true);
                let (r, w) = s.into_split();
                (
                    Box::new(PeerReader {
                        inner: r,
                        st: self.rd,
                    }),
                    Box::new(PeerWriter {
                        inner: w,
                        st: self.wr,
                    }),
                )
            }
            Transport::Utp(s) => halves(s, self.rd, self.wr),
            Transport::WebRtc(s) => halves(s, self.rd, self.wr),
            #[cfg(test)]
            Transport::Other(s) => halves(s, self.rd, self.wr),
        }
    }
}

/// Read and write halves through tokio's split (a lock between them), each with its cipher.
fn halves<S: AsyncRead + AsyncWrite + Send + 'static>(
    s: S,
    rd: ReadState,
    wr: WriteState,
) -> (ReadHalf, WriteHalf) {
    let (r, w) = tokio::io::split(s);
    (
        Box::new(PeerReader { inner: r, st: rd }),
        Box::new(PeerWriter { inner: w, st: wr }),
    )
}

impl From<TcpStream> for PeerStream<Transport> {
    fn from(s: TcpStream) -> Self {
        Self::tcp(s)
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for PeerStream<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let me = self.get_mut();
        me.rd.poll_read(&mut me.inner, cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for PeerStream<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let me = self.get_mut();
        me.wr.poll_write(&mut me.inner, cx, data)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let me = self.get_mut();
        me.wr.poll_flush(&mut me.inner, cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let me = self.get_mut();
        me.wr.poll_shutdown(&mut me.inner, cx)
    }
}

/// The receive half of a split PeerStream.
pub(crate) struct PeerReader<R> {
    inner: R,
    st: ReadState,
}

impl<R: AsyncRead + Unpin> AsyncRead for PeerReader<R> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let me = self.get_mut();
        me.st.poll_read(&mut me.inner, cx, buf)
    }
}

/// The send half of a split PeerStream.
pub(crate) struct PeerWriter<W> {
    inner: W,
    st: WriteState,
}

impl<W: AsyncWrite + Unpin> AsyncWrite for PeerWriter<W> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let me = self.get_mut();
        me.st.poll_write(&mut me.inner, cx, data)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let me = self.get_mut();
        me.st.poll_flush(&mut me.inner, cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let me = self.get_mut();
        me.st.poll_shutdown(&mut me.inner, cx)
    }
}
