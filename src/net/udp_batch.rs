//! Batched UDP receive for the socket that carries the DHT and uTP: one `recvmmsg` reads up to
//! [`BATCH`] datagrams, and a buffer that UDP GRO filled with several datagrams of one sender
//! is cut back into them. Where the batched call is not available the reader falls back to one
//! `recv_from` per datagram; callers see the same datagrams either way.
//!
//! Crate or own code: `quinn-udp` (MIT/Apache-2.0, quinn's own socket layer, used by quinn and
//! by most QUIC stacks in Rust) wraps `recvmmsg`, GRO, and GSO `sendmsg` with their fallbacks
//! for old kernels and other systems, holds all the `unsafe` of the control messages, and needs
//! only `libc`, `socket2` (both already ours) and `tracing`. It works on a borrowed tokio
//! socket (`UdpSockRef` from any `AsFd`), so the session keeps its one `tokio::net::UdpSocket`
//! and its readiness. Hand-written `libc::recvmmsg` would be the same code with the `unsafe` in
//! our crate; `nix`'s wrapper offers no GRO/GSO handling; `tokio` itself has no batched call.
//!
//! What `UdpSocketState::new` changes on the socket, and why that is harmless here: it turns
//! on UDP_GRO (we split by `stride`), IP_PKTINFO / IP_RECVTOS (control messages; WebRTC's
//! driver reads the destination address of IP_PKTINFO, the others ignore them) and "don't
//! fragment" (DHT, uTP and WebRTC datagrams stay under 1,500 bytes).

use std::io::{self, IoSliceMut};
use std::net::{IpAddr, SocketAddr};

use quinn_udp::{RecvMeta, UdpSockRef, UdpSocketState};
use tokio::net::UdpSocket;

/// Datagrams one batched call reads at most (quinn-udp's own batch on Linux is 32).
pub(crate) const BATCH: usize = if quinn_udp::BATCH_SIZE < 32 {
    quinn_udp::BATCH_SIZE
} else {
    32
};
/// Room for one slot: the largest UDP payload, which also bounds a GRO buffer, so nothing is
/// ever truncated. The buffers are zero pages until written, so RSS grows with use only.
const SLOT: usize = 64 * 1024;

/// Reads one socket in batches. Invariant: `slots.len() == BATCH * SLOT` when batched,
/// `SLOT` in the fallback; `meta.len() == BATCH`.
pub(crate) struct BatchRecv {
    /// None: the socket refused quinn-udp's setup, or a test asked for the fallback.
    state: Option<UdpSocketState>,
    slots: Vec<u8>,
    meta: Vec<RecvMeta>,
}

impl BatchRecv {
    /// Batched where the socket allows it; one datagram per call otherwise.
    pub(crate) fn new(udp: &UdpSocket) -> BatchRecv {
        match UdpSocketState::new(UdpSockRef::from(udp)) {
            Ok(state) => BatchRecv {
                state: Some(state),
                slots: vec![0; BATCH * SLOT],
                meta: vec![RecvMeta::default(); BATCH],
            },
            Err(e) => {
                tracing::debug!("batched UDP receive unavailable, one datagram per call: {e}");
                BatchRecv::single()
            }
        }
    }

    /// One `recv_from` per call (the fallback, and what tests use to compare against).
    pub(crate) fn single() -> BatchRecv {
        BatchRecv {
            state: None,
            slots: vec![0; SLOT],
            meta: vec![RecvMeta::default(); BATCH],
        }
    }

    pub(crate) fn is_batched(&self) -> bool {
        self.state.is_some()
    }

    /// Reads what is waiting without blocking and hands each datagram to `each`, in arrival
    /// order. Returns how many datagrams it handed over (at least one), or the socket's error:
    /// WouldBlock when nothing is waiting.
    pub(crate) fn try_recv(
        &mut self,
        udp: &UdpSocket,
        mut each: impl FnMut(&[u8], SocketAddr),
    ) -> io::Result<usize> {
        self.try_recv_to(udp, |d, from, _| each(d, from))
    }

    /// `try_recv`, also giving the address each datagram came to when the kernel tells it
    /// (IP_PKTINFO, which quinn-udp turns on: a socket bound to a wildcard address learns
    /// which of the machine's addresses was used); None in the fallback.
    pub(crate) fn try_recv_to(
        &mut self,
        udp: &UdpSocket,
        mut each: impl FnMut(&[u8], SocketAddr, Option<IpAddr>),
    ) -> io::Result<usize> {
        let Some(state) = &self.state else {
            let (n, from) = udp.try_recv_from(&mut self.slots)?;
            each(&self.slots[..n], from, None);
            return Ok(1);
        };
        let mut bufs: Vec<IoSliceMut<'_>> =
            self.slots.chunks_mut(SLOT).map(IoSliceMut::new).collect();
        let meta = &mut self.meta;
        // Through tokio so a WouldBlock clears the readiness `readable().await` waits on.
        let n = udp.try_io(tokio::io::Interest::READABLE, || {
            state.recv(UdpSockRef::from(udp), &mut bufs, meta)
        })?;
        drop(bufs);
        let mut count = 0;
        for (i, m) in self.meta[..n].iter().enumerate() {
            let slot = &self.slots[i * SLOT..i * SLOT + m.len.min(SLOT)];
            count += split_gro(slot, m.stride, |d| each(d, m.addr, m.dst_ip));
        }
        Ok(count)
    }
}

/// Cuts a buffer that GRO may have filled with several datagrams (each `stride` bytes but the
/// last) into them; returns how many. A stride of 0 (no GRO information) is one datagram.
pub(crate) fn split_gro(buf: &[u8], stride: usize, mut each: impl FnMut(&[u8])) -> usize {
    if stride == 0 || stride >= buf.len() {
        each(buf);
        return 1;
    }
    let mut n = 0;
    for d in buf.chunks(stride) {
        each(d);
        n += 1;
    }
    n
}

#[cfg(test)]
mod tests;
