//! What the node keeps for others: announce tokens, the announced peers, and the per-address
//! query budget. Every structure here has a fixed cap, so no sender can grow them.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use sha1::{Digest, Sha1};

use crate::protocol::krpc::NodeId;

/// The secret changes this often; a token stays valid for one to two periods (5–10 minutes).
const SECRET_PERIOD: Duration = Duration::from_secs(5 * 60);
const TOKEN_LEN: usize = 8;

/// Tokens are SHA-1(secret ‖ requester IP), truncated: no per-requester state at all.
pub(crate) struct Tokens {
    current: [u8; 16],
    previous: [u8; 16],
    rotated: Instant,
}

impl Tokens {
    pub(crate) fn new(now: Instant) -> Tokens {
        Tokens {
            current: rand::random(),
            previous: rand::random(),
            rotated: now,
        }
    }

    fn rotate_if_due(&mut self, now: Instant) {
        if now.saturating_duration_since(self.rotated) >= SECRET_PERIOD {
            self.previous = self.current;
            self.current = rand::random();
            self.rotated = now;
        }
    }

    fn make(secret: &[u8; 16], ip: &IpAddr) -> Vec<u8> {
        let mut h = Sha1::new();
        h.update(secret);
        match ip {
            IpAddr::V4(v4) => h.update(v4.octets()),
            IpAddr::V6(v6) => h.update(v6.octets()),
        }
        h.finalize()[..TOKEN_LEN].to_vec()
    }

    pub(crate) fn issue(&mut self, ip: &IpAddr, now: Instant) -> Vec<u8> {
        self.rotate_if_due(now);
        Self::make(&self.current, ip)
    }

    pub(crate) fn check(&mut self, token: &[u8], ip: &IpAddr, now: Instant) -> bool {
        self.rotate_if_due(now);
        token == Self::make(&self.current, ip).as_slice()
            || token == Self::make(&self.previous, ip).as_slice()
    }
}

#[derive(Clone, Copy, Debug)]
pub struct StoreLimits {
    pub per_hash: usize,
    pub hashes: usize,
    pub ttl: Duration,
}

impl Default for StoreLimits {
    fn default() -> Self {
        StoreLimits {
            per_hash: 200,
            hashes: 2000,
            ttl: Duration::from_secs(30 * 60),
        }
    }
}

/// Peers announced to us, per info hash, of one address family (the node keeps one store
/// per family, so each family's caps hold on its own), each expiring `ttl` after its last announce.
pub(crate) struct PeerStore {
    limits: StoreLimits,
    map: HashMap<NodeId, Vec<(SocketAddr, Instant)>>,
}

impl PeerStore {
    pub(crate) fn new(limits: StoreLimits) -> PeerStore {
        PeerStore {
            limits,
            map: HashMap::new(),
        }
    }

    /// Stores or refreshes `peer`. A full hash drops its oldest peer; when the table of hashes
    /// is full, a new hash is refused (the ones already held are as deserving).
    pub(crate) fn announce(&mut self, hash: NodeId, peer: SocketAddr, now: Instant) -> bool {
        if !self.map.contains_key(&hash) && self.map.len() >= self.limits.hashes {
            self.expire(now);
            if self.map.len() >= self.limits.hashes {
                return false;
            }
        }
        let peers = self.map.entry(hash).or_default();
        if let Some(p) = peers.iter_mut().find(|(a, _)| *a == peer) {
            p.1 = now;
            return true;
        }
        if peers.len() >= self.limits.per_hash {
            if let Some(oldest) = (0..peers.len()).min_by_key(|&i| peers[i].1) {
                peers.swap_remove(oldest);
            }
        }
        peers.push((peer, now));
        true
    }

    /// Up to `n` live peers for `hash`, newest first.
    pub(crate) fn get(&self, hash: &NodeId, n: usize, now: Instant) -> Vec<SocketAddr> {
        let Some(peers) = self.map.get(hash) else {
            return Vec::new();
        };
        let mut live: Vec<&(SocketAddr, Instant)> = peers
            .iter()
            .filter(|(_, t)| now.saturating_duration_since(*t) < self.limits.ttl)
            .collect();
        live.sort_by_key(|(_, t)| std::cmp::Reverse(*t));
        live.into_iter().take(n).map(|(a, _)| *a).collect()
    }

    pub(crate) fn expire(&mut self, now: Instant) {
        let ttl = self.limits.ttl;
        self.map.retain(|_, peers| {
            peers.retain(|(_, t)| now.saturating_duration_since(*t) < ttl);
            !peers.is_empty()
        });
    }

    pub(crate) fn hashes(&self) -> usize {
        self.map.len()
    }

    pub(crate) fn peers(&self) -> usize {
        self.map.values().map(Vec::len).sum()
    }
}

/// Token bucket per source address. The table is capped; when it is full an arbitrary entry
/// gives way, so a flood from many (spoofed) addresses costs O(1) per datagram and no memory.
pub(crate) struct RateLimiter {
    per_sec: f64,
    burst: f64,
    cap: usize,
    map: HashMap<IpAddr, (f64, Instant)>,
}

impl RateLimiter {
    pub(crate) fn new(per_sec: f64, burst: f64, cap: usize) -> RateLimiter {
        RateLimiter {
            per_sec,
            burst,
            cap,
            map: HashMap::new(),
        }
    }

    /// Spends one token of `ip`'s budget; false means drop the datagram.
    pub(crate) fn allow(&mut self, ip: IpAddr, now: Instant) -> bool {
        if !self.map.contains_key(&ip) && self.map.len() >= self.cap {
            if let Some(victim) = self.map.keys().next().copied() {
                self.map.remove(&victim);
            }
        }
        let (per_sec, burst) = (self.per_sec, self.burst);
        let (tokens, last) = self.map.entry(ip).or_insert((burst, now));
        let elapsed = now.saturating_duration_since(*last).as_secs_f64();
        *tokens = (*tokens + elapsed * per_sec).min(burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Forgets addresses whose budget is full again (they owe nothing).
    pub(crate) fn forget_idle(&mut self, now: Instant) {
        let (per_sec, burst) = (self.per_sec, self.burst);
        self.map.retain(|_, (tokens, last)| {
            *tokens + now.saturating_duration_since(*last).as_secs_f64() * per_sec < burst
        });
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(i: u32) -> SocketAddr {
        SocketAddr::from((std::net::Ipv4Addr::from(0x0a00_0000 + i), 1000))
    }

    #[test]
    fn tokens_are_per_ip_and_expire_after_two_rotations() {
        let t0 = Instant::now();
        let mut t = Tokens::new(t0);
        let a: IpAddr = "127.0.0.2".parse().unwrap();
        let b: IpAddr = "127.0.0.3".parse().unwrap();
        let tok = t.issue(&a, t0);
        assert!(t.check(&tok, &a, t0));
        assert!(!t.check(&tok, &b, t0));
        assert!(t.check(&tok, &a, t0 + SECRET_PERIOD));
        assert!(!t.check(&tok, &a, t0 + SECRET_PERIOD * 2));
        assert!(!t.check(b"", &a, t0));
    }

    #[test]
    fn store_caps_and_expiry() {
        let now = Instant::now();
        let limits = StoreLimits {
            per_hash: 3,
            hashes: 2,
            ttl: Duration::from_secs(60),
        };
        let mut s = PeerStore::new(limits);
        let h = NodeId([1; 20]);
        for i in 0..10 {
            assert!(s.announce(h, peer(i), now + Duration::from_millis(i as u64)));
        }
        assert_eq!(s.get(&h, 50, now), vec![peer(9), peer(8), peer(7)]);
        assert!(s.announce(NodeId([2; 20]), peer(1), now));
        assert!(!s.announce(NodeId([3; 20]), peer(1), now));
        assert_eq!((s.hashes(), s.peers()), (2, 4));
        let later = now + Duration::from_secs(61);
        assert!(s.get(&h, 50, later).is_empty());
        s.expire(later);
        assert_eq!(s.hashes(), 0);
        assert!(s.announce(NodeId([3; 20]), peer(1), later));
    }

    #[test]
    fn rate_limit_drops_a_flood_and_refills() {
        let now = Instant::now();
        let mut r = RateLimiter::new(10.0, 20.0, 100);
        let ip: IpAddr = "127.0.0.9".parse().unwrap();
        let allowed = (0..10_000).filter(|_| r.allow(ip, now)).count();
        assert_eq!(allowed, 20);
        assert!(r.allow(ip, now + Duration::from_millis(150)));
        // Many addresses never grow the table past its cap.
        for i in 0..10_000u32 {
            r.allow(IpAddr::V4(std::net::Ipv4Addr::from(i)), now);
        }
        assert_eq!(r.len(), 100);
        r.forget_idle(now + Duration::from_secs(10));
        assert!(r.is_empty());
    }
}
