//! The STUN client of the WebRTC socket: a Binding request (RFC 8489) to the configured
//! server, from the socket the connections use, tells the address a NAT maps it to; that
//! address goes into every later offer and answer as a server-reflexive candidate, so a
//! browser behind its own NAT can reach us through ours.
//!
//! Messages are `protocol::stun`'s (str0m's STUN codec is ICE's, and takes no answer
//! without credentials). A request carries none (a STUN server's Binding needs none); an
//! answer counts only when it comes from the server's address, is a success and names our
//! transaction.
//!
//! What the server learns: our address and port as it sees them, and that we asked; nothing
//! of the torrents. Asked at start, then every `REFRESH` (NAT mappings change); an unanswered
//! request is sent again after 0.5, 1, 2 and 4 s, then the server is taken as silent until
//! the next refresh (`Stun::silent`).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::protocol::stun;

/// How often the mapping is asked again once known.
const REFRESH: Duration = Duration::from_secs(5 * 60);
/// Waits before each send of one request (RFC 8489's 500 ms, doubling), then silence.
const RESENDS: [Duration; 5] = [
    Duration::from_millis(0),
    Duration::from_millis(500),
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(4),
];

/// The client's state: one request out at a time.
pub(super) struct Stun {
    pub(super) server: SocketAddr,
    txn: Option<[u8; 12]>,
    /// Sends of the current request so far.
    sent: usize,
    /// When to send next (the first send, a resend, or the refresh).
    pub(super) next: Instant,
    /// Our address as the server saw it, once it answered.
    pub(super) mapped: Option<SocketAddr>,
    /// True once a request went unanswered to the end (until an answer comes).
    pub(super) silent: bool,
}

impl Stun {
    pub(super) fn new(server: SocketAddr, now: Instant) -> Stun {
        Stun {
            server,
            txn: None,
            sent: 0,
            next: now,
            mapped: None,
            silent: false,
        }
    }

    /// The request to send now, when due: its bytes.
    pub(super) fn poll(&mut self, now: Instant) -> Option<Vec<u8>> {
        if now < self.next {
            return None;
        }
        if self.sent == RESENDS.len() {
            // Unanswered to the end: silent until the refresh, then a new transaction.
            if !self.silent {
                tracing::info!(server = %self.server, "WebRTC: no STUN answer: browser peers behind NATs may not reach us");
            }
            self.silent = true;
            self.txn = None;
            self.sent = 0;
            self.next = now + REFRESH;
            return None;
        }
        let txn = *self.txn.get_or_insert_with(rand::random);
        self.sent += 1;
        self.next = now + RESENDS.get(self.sent).copied().unwrap_or(RESENDS[4]);
        Some(stun::binding_request(&txn).to_vec())
    }

    /// A datagram from the server: true when it answered our request (the mapping is
    /// known, or known again); anything else from there is dropped.
    pub(super) fn on_datagram(&mut self, data: &[u8], from: SocketAddr, now: Instant) -> bool {
        if from != self.server {
            return false;
        }
        let Some(txn) = self.txn else {
            return false;
        };
        let mapped = match stun::binding_answer(data, &txn) {
            Ok(a) => a,
            Err(stun::StunError::Refused(why)) => {
                tracing::info!(server = %self.server, "WebRTC: the STUN server refused: {why}");
                return false;
            }
            Err(_) => return false,
        };
        if self.mapped != Some(mapped) {
            tracing::info!(server = %self.server, "WebRTC: the STUN server sees us at {mapped}");
        }
        self.mapped = Some(mapped);
        self.silent = false;
        self.txn = None;
        self.sent = 0;
        self.next = now + REFRESH;
        true
    }

    /// True when a datagram from `from` is the server's (ours to read, not a peer's).
    pub(super) fn is_server(&self, from: SocketAddr) -> bool {
        from == self.server
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server's answer to the request out: MAPPED-ADDRESS (IPv4), as an RFC 3489 server
    /// sends it.
    fn reply(s: &Stun, mapped: SocketAddr) -> Vec<u8> {
        let SocketAddr::V4(v4) = mapped else {
            panic!("IPv4 here")
        };
        let mut m = vec![0x01, 0x01, 0x00, 0x0c, 0x21, 0x12, 0xa4, 0x42];
        m.extend_from_slice(&s.txn.unwrap());
        m.extend_from_slice(&[0x00, 0x01, 0x00, 0x08, 0x00, 0x01]);
        m.extend_from_slice(&v4.port().to_be_bytes());
        m.extend_from_slice(&v4.ip().octets());
        m
    }

    #[test]
    fn a_request_is_a_binding_and_its_answer_gives_the_mapping() {
        let server: SocketAddr = "192.0.2.1:3478".parse().unwrap();
        let t0 = Instant::now();
        let mut s = Stun::new(server, t0);
        let req = s.poll(t0).unwrap();
        // A Binding request (0x0001) with STUN's magic cookie.
        assert_eq!(&req[..2], &[0, 1]);
        assert_eq!(&req[4..8], &[0x21, 0x12, 0xa4, 0x42]);
        let mapped: SocketAddr = "203.0.113.9:40000".parse().unwrap();
        let other: SocketAddr = "198.51.100.1:3478".parse().unwrap();
        let answer = reply(&s, mapped);
        // From elsewhere, or garbage: not an answer.
        assert!(!s.on_datagram(&answer, other, t0));
        assert!(!s.on_datagram(b"\x01\x01garbage", server, t0));
        assert!(s.on_datagram(&answer, server, t0));
        assert_eq!(s.mapped, Some(mapped));
        // A second copy of the answer names no transaction of ours any more.
        assert!(!s.on_datagram(&answer, server, t0));
        assert!(s.poll(t0 + Duration::from_secs(1)).is_none());
        assert!(s.poll(t0 + REFRESH).is_some());
    }

    #[test]
    fn an_unanswered_request_is_sent_five_times_then_the_server_is_silent() {
        let server: SocketAddr = "192.0.2.1:3478".parse().unwrap();
        let t0 = Instant::now();
        let mut s = Stun::new(server, t0);
        let mut sends = 0;
        let mut now = t0;
        for _ in 0..200 {
            if s.poll(now).is_some() {
                sends += 1;
            }
            now += Duration::from_millis(100);
        }
        assert_eq!(sends, 5);
        assert!(s.silent && s.mapped.is_none());
    }

    #[test]
    fn garbage_from_the_server_never_panics() {
        let server: SocketAddr = "192.0.2.1:3478".parse().unwrap();
        let t0 = Instant::now();
        let mut s = Stun::new(server, t0);
        let req = s.poll(t0).unwrap();
        for len in 0..req.len() {
            let _ = s.on_datagram(&req[..len], server, t0);
        }
        let mut flipped = req.clone();
        for i in 0..flipped.len() {
            flipped[i] ^= 0xff;
            let _ = s.on_datagram(&flipped, server, t0);
        }
    }
}
