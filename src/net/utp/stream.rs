//! `UtpStream`: tokio AsyncRead + AsyncWrite over one connection, and the per-connection timer
//! task. Incoming packets are processed by the caller of `handle_datagram`, writes by the
//! writer's task; the timer task only wakes for retransmission timeouts, probes and lingering
//! closes. The connection's mutex is never held across an await or a send.

use super::conn::{State, UtpConn};
use super::{Key, Registry, UtpStats};
use crate::net::udp_gso::UdpOut;
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::task::{Context, Poll};
use std::time::Instant;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;

pub(crate) struct Cell {
    conn: Mutex<UtpConn>,
    notify: Notify,
    remote: SocketAddr,
}

impl Cell {
    pub(crate) fn new(conn: UtpConn, remote: SocketAddr) -> Cell {
        Cell {
            conn: Mutex::new(conn),
            notify: Notify::new(),
            remote,
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, UtpConn> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` on the connection, then sends the datagrams it produced outside the lock, in
    /// as few calls as GSO allows.
    pub(crate) fn with<R>(&self, udp: &UdpOut, f: impl FnOnce(&mut UtpConn) -> R) -> R {
        let (r, out, dirty) = {
            let mut c = self.lock();
            let r = f(&mut c);
            let (out, dirty) = c.take_output();
            (r, out, dirty)
        };
        // A full kernel buffer loses datagrams; retransmission covers them.
        udp.send_all(&out, self.remote);
        if dirty {
            self.notify.notify_one();
        }
        r
    }
}

pub(crate) async fn drive(cell: Arc<Cell>, udp: Arc<UdpOut>, registry: Arc<Registry>, key: Key) {
    loop {
        let next = cell.with(&udp, |c| c.on_tick(Instant::now()));
        let Some(at) = next else { break };
        tokio::select! {
            _ = tokio::time::sleep_until(at.into()) => {}
            _ = cell.notify.notified() => {}
        }
    }
    registry.remove(key, &cell);
}

/// Reads one connection's figures without owning its stream (the peer row's RTT and
/// retransmissions). Weak: a peer entry that outlives its connection must not keep the
/// connection's buffers alive.
#[derive(Clone)]
pub struct UtpStatsHandle(Weak<Cell>);

impl UtpStatsHandle {
    /// None once the connection is gone.
    pub fn get(&self) -> Option<UtpStats> {
        Some(self.0.upgrade()?.lock().snapshot_stats())
    }
}

impl std::fmt::Debug for UtpStatsHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UtpStatsHandle")
    }
}

pub struct UtpStream {
    cell: Arc<Cell>,
    udp: Arc<UdpOut>,
}

fn err(kind: io::ErrorKind) -> io::Error {
    io::Error::new(kind, "uTP connection closed")
}

impl UtpStream {
    pub(crate) fn new(cell: Arc<Cell>, udp: Arc<UdpOut>) -> UtpStream {
        UtpStream { cell, udp }
    }

    pub fn peer_addr(&self) -> SocketAddr {
        self.cell.remote
    }

    /// Round-trip time, retransmissions and window figures for the peer row.
    pub fn stats(&self) -> UtpStats {
        self.cell.lock().snapshot_stats()
    }

    /// A handle that reads this connection's figures after the stream was split or moved.
    pub fn stats_handle(&self) -> UtpStatsHandle {
        UtpStatsHandle(Arc::downgrade(&self.cell))
    }

    pub(crate) async fn established(&self) -> io::Result<()> {
        poll_fn(|cx| {
            let mut c = self.cell.lock();
            if let Some(k) = c.error() {
                return Poll::Ready(Err(err(k)));
            }
            if c.state() != State::SynSent {
                return Poll::Ready(Ok(()));
            }
            c.park_writer(cx.waker());
            Poll::Pending
        })
        .await
    }
}

impl AsyncRead for UtpStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.cell.with(&this.udp, |c| {
            if c.has_data() {
                c.read(buf);
                return Poll::Ready(Ok(()));
            }
            if c.got_fin() {
                return Poll::Ready(Ok(()));
            }
            if let Some(k) = c.error() {
                return Poll::Ready(Err(err(k)));
            }
            c.park_reader(cx.waker());
            Poll::Pending
        })
    }
}

impl AsyncWrite for UtpStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.cell.with(&this.udp, |c| {
            if let Some(k) = c.error() {
                return Poll::Ready(Err(err(k)));
            }
            if c.state() == State::Closed || c.fin_queued() {
                return Poll::Ready(Err(err(io::ErrorKind::BrokenPipe)));
            }
            let n = c.write(data);
            if n == 0 && !data.is_empty() {
                c.park_writer(cx.waker());
                return Poll::Pending;
            }
            c.flush(Instant::now());
            Poll::Ready(Ok(n))
        })
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.cell.with(&this.udp, |c| c.shutdown(Instant::now()));
        Poll::Ready(Ok(()))
    }
}

impl Drop for UtpStream {
    fn drop(&mut self) {
        self.cell.with(&self.udp, |c| {
            let now = Instant::now();
            if c.state() == State::SynSent {
                c.fail(io::ErrorKind::ConnectionAborted);
                return;
            }
            c.linger(now);
        });
    }
}
