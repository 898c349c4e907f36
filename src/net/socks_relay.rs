//! The session's UDP through a SOCKS5 proxy's relay (RFC 1928 §7): while the association is
//! up every datagram of the shared socket (DHT, uTP, UDP trackers) goes to the relay's address
//! wrapped with its destination, and only datagrams from the relay are taken, unwrapped. While
//! it is down nothing leaves: under a proxy UDP never goes around it.
//!
//! The association itself (the TCP control connection the proxy ties the relay to) is the
//! session's (`engine/session/udp_associate.rs`); this is only the state every sender reads,
//! kept here below the engine so uTP, the DHT's transmit and the UDP tracker can share it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, RwLock};

use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use crate::protocol::socks_udp::{self, SocksFrom};

/// Replies one UDP tracker exchange may have queued before it reads them.
const TRACKER_QUEUE: usize = 8;

/// A UDP tracker exchange waiting for replies: its number and its queue.
type Subscriber = (u64, mpsc::Sender<Vec<u8>>);

/// The relay's state, shared by every sender of the session's UDP socket.
pub(crate) struct SocksRelay {
    udp: Arc<UdpSocket>,
    /// The relay's address while the association is up; None while it is down.
    relay: RwLock<Option<SocketAddr>>,
    /// Why the proxy carries no UDP now (None while it does).
    off: Mutex<Option<String>>,
    /// UDP tracker exchanges waiting for a reply, by the tracker's address.
    trackers: Mutex<HashMap<SocketAddr, Vec<Subscriber>>>,
    next_sub: AtomicU64,
    /// Datagrams dropped because the association was down, or not from the relay, or
    /// malformed.
    pub(crate) dropped: AtomicU64,
}

impl SocksRelay {
    /// Down until the session's association says where the relay is.
    pub(crate) fn new(udp: Arc<UdpSocket>) -> Arc<SocksRelay> {
        Arc::new(SocksRelay {
            udp,
            relay: RwLock::new(None),
            off: Mutex::new(Some("no UDP association yet".into())),
            trackers: Mutex::default(),
            next_sub: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
        })
    }

    /// The association is up with its relay at `relay`.
    pub(crate) fn set_up(&self, relay: SocketAddr) {
        if let Ok(mut r) = self.relay.write() {
            *r = Some(relay);
        }
        if let Ok(mut o) = self.off.lock() {
            *o = None;
        }
    }

    /// The association is down (or never came up), for `why`.
    pub(crate) fn set_down(&self, why: String) {
        if let Ok(mut r) = self.relay.write() {
            *r = None;
        }
        if let Ok(mut o) = self.off.lock() {
            *o = Some(why);
        }
    }

    /// Why UDP is off now; None while the relay carries it.
    pub(crate) fn off(&self) -> Option<String> {
        self.off.lock().ok().and_then(|o| o.clone())
    }

    fn relay(&self) -> Option<SocketAddr> {
        self.relay.read().ok().and_then(|r| *r)
    }

    /// The session socket's own address (the one the association names).
    pub(crate) fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.udp.local_addr()
    }

    /// Sends `d` to `to` through the relay, now or never (as every UDP send of the session:
    /// straight to the kernel, never waiting). False when the association is down: the
    /// datagram is dropped, never sent directly.
    pub(crate) fn send(&self, d: &[u8], to: SocketAddr) -> bool {
        let Some(relay) = self.relay() else {
            self.dropped.fetch_add(1, Relaxed);
            return false;
        };
        let wrapped = socks_udp::wrap(to, d);
        let _ = socket2::SockRef::from(self.udp.as_ref()).send_to(&wrapped, &relay.into());
        true
    }

    /// The sender and payload of a datagram that arrived on the session socket from `from`;
    /// None (counted as dropped) unless it came from the relay, well formed, from an address.
    pub(crate) fn unwrap<'d>(
        &self,
        d: &'d [u8],
        from: SocketAddr,
    ) -> Option<(&'d [u8], SocketAddr)> {
        let ok = match self.relay() {
            Some(r) if same_relay(r, from) => match socks_udp::unwrap(d) {
                Ok((SocksFrom::Addr(a), payload)) => Some((payload, a)),
                Ok((SocksFrom::Domain(..), _)) => None,
                Err(e) => {
                    tracing::trace!("from the proxy's relay: {e}");
                    None
                }
            },
            _ => None,
        };
        if ok.is_none() {
            self.dropped.fetch_add(1, Relaxed);
        }
        ok
    }

    /// Replies from `tracker` go to the returned subscription while it lives (every
    /// exchange with that tracker gets each; each keeps those with its transaction id).
    pub(crate) fn tracker_replies(self: &Arc<Self>, tracker: SocketAddr) -> TrackerReplies {
        let (tx, rx) = mpsc::channel(TRACKER_QUEUE);
        let id = self.next_sub.fetch_add(1, Relaxed);
        if let Ok(mut t) = self.trackers.lock() {
            t.entry(tracker).or_default().push((id, tx));
        }
        TrackerReplies {
            relay: Arc::clone(self),
            tracker,
            id,
            rx,
        }
    }

    /// Hands a datagram from `from` to the UDP tracker exchanges waiting on it; false when
    /// none waits.
    pub(crate) fn to_tracker(&self, d: &[u8], from: SocketAddr) -> bool {
        let Ok(t) = self.trackers.lock() else {
            return false;
        };
        match t.get(&from) {
            Some(subs) if !subs.is_empty() => {
                for (_, tx) in subs {
                    let _ = tx.try_send(d.to_vec());
                }
                true
            }
            _ => false,
        }
    }
}

/// One UDP tracker exchange's replies through the relay; unsubscribes when dropped.
pub(crate) struct TrackerReplies {
    relay: Arc<SocksRelay>,
    tracker: SocketAddr,
    id: u64,
    pub(crate) rx: mpsc::Receiver<Vec<u8>>,
}

impl Drop for TrackerReplies {
    fn drop(&mut self) {
        if let Ok(mut t) = self.relay.trackers.lock() {
            if let Some(subs) = t.get_mut(&self.tracker) {
                subs.retain(|(id, _)| *id != self.id);
                if subs.is_empty() {
                    t.remove(&self.tracker);
                }
            }
        }
    }
}

/// One relay is one session's: two are equal only when they are the same (so an `Egress`
/// holding one can still be compared and used as a key).
impl PartialEq for SocksRelay {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self, other)
    }
}
impl Eq for SocksRelay {}

/// Relays often answer from the address they named, but one that named the unspecified
/// address (answer "anywhere on me") answers from its own; the port must match either way.
fn same_relay(relay: SocketAddr, from: SocketAddr) -> bool {
    relay == from || (relay.ip().is_unspecified() && relay.port() == from.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn socket() -> Arc<UdpSocket> {
        Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap())
    }

    #[tokio::test]
    async fn down_drops_up_wraps_and_only_the_relay_is_heard() {
        let ours = socket().await;
        let relay_sock = socket().await;
        let relay_addr = relay_sock.local_addr().unwrap();
        let r = SocksRelay::new(Arc::clone(&ours));
        let peer: SocketAddr = "127.0.0.9:6881".parse().unwrap();
        assert!(r.off().is_some());
        assert!(!r.send(b"x", peer));
        r.set_up(relay_addr);
        assert_eq!(r.off(), None);
        assert!(r.send(b"hello", peer));
        let mut buf = [0u8; 64];
        let (n, _) = relay_sock.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], &socks_udp::wrap(peer, b"hello")[..]);
        // From the relay: unwrapped; from anyone else: dropped.
        let back = socks_udp::wrap(peer, b"answer");
        assert_eq!(r.unwrap(&back, relay_addr), Some((&b"answer"[..], peer)));
        assert_eq!(r.unwrap(&back, peer), None);
        assert_eq!(r.unwrap(&[0, 0, 1, 1], relay_addr), None);
        r.set_down("the proxy closed the UDP association".into());
        assert_eq!(r.unwrap(&back, relay_addr), None);
        assert!(!r.send(b"x", peer));
        assert!(r.dropped.load(Relaxed) >= 4);
    }

    #[tokio::test]
    async fn tracker_replies_reach_the_waiting_exchange() {
        let r = SocksRelay::new(socket().await);
        let t: SocketAddr = "127.0.0.3:6969".parse().unwrap();
        assert!(!r.to_tracker(b"\0\0\0\x01", t));
        let mut a = r.tracker_replies(t);
        let mut b = r.tracker_replies(t);
        assert!(r.to_tracker(b"\0\0\0\x01", t));
        assert_eq!(a.rx.recv().await.unwrap(), b"\0\0\0\x01");
        assert_eq!(b.rx.recv().await.unwrap(), b"\0\0\0\x01");
        drop(a);
        assert!(r.to_tracker(b"\0", t));
        drop(b);
        assert!(!r.to_tracker(b"\0", t));
    }
}
