//! Batched UDP send for uTP: the datagrams one turn of a connection produced (a burst of DATA
//! after a write or an ACK that opened the window) leave in as few `sendmsg` calls as UDP GSO
//! allows: a run of datagrams of equal size, the last possibly shorter, goes as one buffer
//! that the kernel cuts back into those datagrams. Where the kernel has no GSO, or a GSO send
//! fails with anything but a full buffer, the datagrams go one `sendto` each, as before.
//!
//! Crate: `quinn-udp`, already ours for the batched receive (`net::udp_batch`, where the
//! choice is explained); its `UdpSocketState` probes GSO at setup (`max_gso_segments`) and
//! turns it off for good on the first EIO/EINVAL, which some drivers answer instead of
//! refusing the socket option.
//!
//! Nothing here waits: a full kernel send buffer loses the datagrams, which uTP's
//! retransmission covers.

use std::io;
use std::net::SocketAddr;
use std::ops::Range;
use std::sync::Arc;

use crate::net::socks_relay::SocksRelay;
use quinn_udp::{Transmit, UdpSockRef, UdpSocketState};
use tokio::net::UdpSocket;

/// Bytes one GSO buffer holds at most: the whole buffer is one UDP datagram to the kernel
/// until it is cut, so it must fit the IPv4 limit (65,507) with room to spare.
const MAX_GSO_BYTES: usize = 64_000;

/// The sending side of the socket that uTP shares with the DHT.
/// Invariant: `gso` is None where quinn-udp could not set the socket up, and when `relay`
/// is set (through a SOCKS5 relay each datagram is wrapped and goes one by one).
pub(crate) struct UdpOut {
    udp: Arc<UdpSocket>,
    gso: Option<UdpSocketState>,
    relay: Option<Arc<SocksRelay>>,
    /// An IPv6 socket beside an IPv4 `udp` (same port): datagrams to IPv6 addresses leave
    /// by it, with its own GSO state.
    v6: Option<(Arc<UdpSocket>, Option<UdpSocketState>)>,
}

impl UdpOut {
    /// GSO where the kernel has it (quinn-udp probes it once per process); with `relay`,
    /// everything through it.
    pub(crate) fn new(udp: Arc<UdpSocket>, relay: Option<Arc<SocksRelay>>) -> UdpOut {
        if relay.is_some() {
            return UdpOut {
                udp,
                gso: None,
                relay,
                v6: None,
            };
        }
        let gso = gso_state(&udp);
        UdpOut {
            udp,
            gso,
            relay: None,
            v6: None,
        }
    }

    /// Sends to IPv6 addresses by `udp6` (not under a relay: everything goes through it).
    pub(crate) fn with_v6(mut self, udp6: Arc<UdpSocket>) -> UdpOut {
        if self.relay.is_none() {
            let gso = gso_state(&udp6);
            self.v6 = Some((udp6, gso));
        }
        self
    }

    /// Whether a datagram to `to` can leave: not an IPv6 address from an IPv4 socket with no
    /// IPv6 one beside it (the relay takes every address).
    pub(crate) fn sends_to(&self, to: SocketAddr) -> bool {
        self.relay.is_some()
            || self.v6.is_some()
            || !to.is_ipv6()
            || self.udp.local_addr().is_ok_and(|a| a.is_ipv6())
    }

    /// The socket (and its GSO state) that sends to `to`.
    fn way(&self, to: SocketAddr) -> (&Arc<UdpSocket>, Option<&UdpSocketState>) {
        match &self.v6 {
            Some((udp6, gso6)) if to.is_ipv6() => (udp6, gso6.as_ref()),
            _ => (&self.udp, self.gso.as_ref()),
        }
    }

    /// One `sendto` per datagram (the fallback, and what tests compare against).
    #[cfg(test)]
    pub(crate) fn single(udp: Arc<UdpSocket>) -> UdpOut {
        UdpOut {
            udp,
            gso: None,
            relay: None,
            v6: None,
        }
    }

    /// Datagrams one call to IPv4 addresses may carry (1: no GSO).
    #[cfg(test)]
    pub(crate) fn max_segments(&self) -> usize {
        self.gso.as_ref().map_or(1, |s| s.max_gso_segments().max(1))
    }

    /// Sends one datagram to `to`, now or never (through the relay when there is one).
    pub(crate) fn send_one(&self, d: &[u8], to: SocketAddr) {
        match &self.relay {
            Some(r) => {
                r.send(d, to);
            }
            None => send_one(self.way(to).0, d, to),
        }
    }

    /// Sends `datagrams`, in order, to `to`, now or never.
    pub(crate) fn send_all(&self, datagrams: &[Vec<u8>], to: SocketAddr) {
        let one = |d: &[u8]| self.send_one(d, to);
        let (udp, gso) = self.way(to);
        let Some(state) = gso else {
            datagrams.iter().for_each(|d| one(d));
            return;
        };
        let gso = |buf: &[u8], segment: usize| {
            let t = Transmit {
                destination: to,
                ecn: None,
                contents: buf,
                segment_size: Some(segment),
                src_ip: None,
            };
            // Straight to the kernel, as `send_now`: tokio's readiness is not consulted.
            state.try_send(UdpSockRef::from(&**udp), &t)
        };
        let max = state.max_gso_segments().max(1);
        send_batched(datagrams, max, gso, one);
    }
}

/// quinn-udp's sending state for `udp` (GSO where the kernel has it), else None.
fn gso_state(udp: &UdpSocket) -> Option<UdpSocketState> {
    match UdpSocketState::new(UdpSockRef::from(udp)) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::debug!("batched UDP send unavailable, one datagram per call: {e}");
            None
        }
    }
}

/// Sends one datagram now or never. Straight to the kernel rather than tokio's `try_send_to`,
/// which answers WouldBlock until the reactor has once seen the socket writable and so dropped
/// a new socket's first SYN (costing the 1 s retry). The socket is non-blocking: this never
/// waits, and a full kernel buffer loses the datagram, which uTP's retransmission covers.
pub(crate) fn send_one(udp: &UdpSocket, d: &[u8], to: SocketAddr) {
    let _ = socket2::SockRef::from(udp).send_to(d, &to.into());
}

/// Sends each group of `plan` as one GSO call (`gso(buffer, segment size)`) and a group of one
/// with `one`. A failed GSO call is sent again one datagram at a time, unless it failed for a
/// full buffer (sending more would only be lost as well).
pub(crate) fn send_batched(
    datagrams: &[Vec<u8>],
    max_segments: usize,
    mut gso: impl FnMut(&[u8], usize) -> io::Result<()>,
    mut one: impl FnMut(&[u8]),
) {
    let mut buf = Vec::new();
    for g in plan(datagrams.iter().map(Vec::len), max_segments, MAX_GSO_BYTES) {
        let ds = &datagrams[g];
        let [first, ..] = ds else { continue };
        if ds.len() == 1 {
            one(first);
            continue;
        }
        buf.clear();
        ds.iter().for_each(|d| buf.extend_from_slice(d));
        match gso(&buf, first.len()) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => {
                tracing::trace!("GSO send of {} datagrams: {e}; one by one", ds.len());
                ds.iter().for_each(|d| one(d));
            }
        }
    }
}

/// Cuts datagrams of sizes `lens` into runs that one GSO call can carry: every datagram of a
/// run has the size of the first, but the last, which may be shorter; a run has at most
/// `max_segments` datagrams and `max_bytes` bytes (a datagram larger than that is a run of
/// its own). The runs cover all datagrams, in order.
pub(crate) fn plan(
    lens: impl IntoIterator<Item = usize>,
    max_segments: usize,
    max_bytes: usize,
) -> Vec<Range<usize>> {
    let mut runs = Vec::new();
    // The open run: where it starts, its segment size, its bytes, and whether it is closed
    // to further datagrams (it ended with a shorter one).
    let mut open: Option<(usize, usize, usize, bool)> = None;
    let mut n = 0;
    for (i, len) in lens.into_iter().enumerate() {
        n = i + 1;
        if let Some((start, seg, bytes, closed)) = open {
            let fits = !closed
                && len <= seg
                && i - start < max_segments
                && bytes + len <= max_bytes
                && len > 0;
            if fits {
                open = Some((start, seg, bytes + len, len < seg));
                continue;
            }
            runs.push(start..i);
        }
        open = Some((i, len, len, len == 0));
    }
    if let Some((start, ..)) = open {
        runs.push(start..n);
    }
    runs
}

#[cfg(test)]
mod tests;
