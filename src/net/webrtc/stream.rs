//! An open data channel as a byte stream (`AsyncRead + AsyncWrite`), so the BitTorrent
//! handshake and wire run over it as over TCP and uTP. Messages are chunks of the stream:
//! what arrives is read in order across message bounds, and writes leave in messages of at
//! most [`MAX_MESSAGE`] bytes (the driver joins small writes up to that size).
//!
//! Backpressure: a write takes credit (one permit a byte) from the connection's semaphore
//! of `send_buffer` bytes and hands its bytes to the driver with the permit; the driver
//! returns the credit when SCTP takes the bytes, and SCTP takes them only while its own
//! buffer (`sctp_buffer`) has room. A writer faster than the peer waits here.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use bytes::{Buf, Bytes};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::mpsc;
use tokio_util::sync::PollSemaphore;

use super::driver::{ConnId, Write};
use super::MAX_MESSAGE;

/// One open data channel. Dropping it (or shutting it down) closes the connection once
/// the bytes written before have left.
pub struct WebRtcStream {
    conn: ConnId,
    remote: Option<SocketAddr>,
    incoming: mpsc::UnboundedReceiver<io::Result<Bytes>>,
    /// Bytes the driver queued for us and we have not taken out of `incoming`: the driver
    /// counts up, we count down, and a peer that drives it past `receive_buffer` is cut off.
    unread: Arc<AtomicUsize>,
    current: Bytes,
    writes: mpsc::UnboundedSender<Write>,
    credit: PollSemaphore,
    closed: bool,
}

impl std::fmt::Debug for WebRtcStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebRtcStream")
            .field("conn", &self.conn)
            .field("remote", &self.remote)
            .finish_non_exhaustive()
    }
}

impl WebRtcStream {
    pub(super) fn new(
        conn: ConnId,
        remote: Option<SocketAddr>,
        incoming: mpsc::UnboundedReceiver<io::Result<Bytes>>,
        unread: Arc<AtomicUsize>,
        writes: mpsc::UnboundedSender<Write>,
        credit: Arc<tokio::sync::Semaphore>,
    ) -> Self {
        WebRtcStream {
            conn,
            remote,
            incoming,
            unread,
            current: Bytes::new(),
            writes,
            credit: PollSemaphore::new(credit),
            closed: false,
        }
    }

    /// The peer's address on the candidate pair ICE chose.
    pub fn remote_addr(&self) -> Option<SocketAddr> {
        self.remote
    }

    fn close(&mut self) {
        if !self.closed {
            self.closed = true;
            let _ = self.writes.send(Write::Close { conn: self.conn });
        }
    }
}

impl AsyncRead for WebRtcStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        while this.current.is_empty() {
            match ready!(this.incoming.poll_recv(cx)) {
                Some(Ok(bytes)) => {
                    this.unread.fetch_sub(bytes.len(), Ordering::AcqRel);
                    this.current = bytes;
                }
                Some(Err(e)) => return Poll::Ready(Err(e)),
                // The channel closed: the end of the stream.
                None => return Poll::Ready(Ok(())),
            }
        }
        let n = this.current.len().min(buf.remaining());
        buf.put_slice(&this.current[..n]);
        this.current.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for WebRtcStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.closed {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        let n = buf.len().min(MAX_MESSAGE);
        if n == 0 {
            return Poll::Ready(Ok(0));
        }
        // n ≤ MAX_MESSAGE ≤ the semaphore's size (the driver makes it so): never more
        // permits than exist, which would wait forever.
        let permits = u32::try_from(n).unwrap_or(u32::MAX);
        let Some(permit) = ready!(this.credit.poll_acquire_many(cx, permits)) else {
            // The driver closed the semaphore: the connection is gone.
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        };
        let write = Write::Data {
            conn: this.conn,
            bytes: Bytes::copy_from_slice(&buf[..n]),
            permit,
        };
        if this.writes.send(write).is_err() {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        Poll::Ready(Ok(n))
    }

    /// The bytes are with the driver, which sends them in order and keeps them until SCTP
    /// has taken them, also after a shutdown: nothing to wait for here.
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.close();
        Poll::Ready(Ok(()))
    }
}

impl Drop for WebRtcStream {
    fn drop(&mut self) {
        self.close();
    }
}
