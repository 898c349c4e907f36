//! The coordinator's side of BEP 55 hole punching, all three parties. As the relay it answers
//! a peer's `rendezvous` (the bound and the error codes are `torrent/holepunch.rs`'s); as the
//! initiator it asks the peer that listed an unreachable peer by PEX to introduce us, once a
//! dial to it failed; as either side of an introduction it dials the endpoint a `connect`
//! names at once, over uTP only, so that both NATs open.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::engine::api::{LogLevel, PeerSource, PeerStage};
use crate::engine::peer::link::PeerCmd;
use crate::engine::peer::Start;
use crate::engine::torrent::coordinator::Coordinator;
use crate::engine::torrent::holepunch::{Target, Verdict};
use crate::protocol::holepunch::{HoleKind, HoleMsg};

/// A BEP 55 message's size on the wire: the extended message's length prefix, its ids (20 and
/// the peer's id for `ut_holepunch`) and the payload. What being the relay costs in bytes.
fn wire_len(msg: &HoleMsg) -> u64 {
    4 + 2 + msg.encode().len() as u64
}

/// We ask a relay to introduce us to one peer at most this often.
pub(crate) const ASK_EVERY: Duration = Duration::from_secs(300);

impl Coordinator {
    /// A well-formed `ut_holepunch` message from the peer on `conn`.
    pub(crate) fn on_holepunch(&mut self, conn: u64, msg: HoleMsg, now: Instant) {
        let Some(p) = self.peers.by_conn(conn) else {
            return;
        };
        if !p.conn().is_some_and(|c| c.holepunch) {
            // It never offered the extension (or PEX is off): nothing it says is acted on.
            return;
        }
        let from = p.addr;
        match msg.kind {
            HoleKind::Rendezvous => {
                self.run.relay_bytes += wire_len(&msg);
                self.relay_rendezvous(conn, msg.addr, now)
            }
            HoleKind::Connect => self.punch(from, msg.addr, now),
            HoleKind::Error(e) => self.log(
                LogLevel::Info,
                format!("{from} could not introduce us to {}: {e}", msg.addr),
            ),
        }
    }

    /// The endpoint the peer on `conn` is reached at for a punch: the one its connection
    /// comes from when that is uTP (its NAT's mapping of its uTP socket), else its address
    /// with its announced listen port.
    fn punch_endpoint(&mut self, conn: u64) -> Option<SocketAddr> {
        let p = self.peers.by_conn(conn)?;
        let utp = p.setup.transport == Some(crate::net::TransportKind::Utp);
        Some(match p.known.listen_port {
            Some(port) if !utp && p.source == PeerSource::Incoming => {
                SocketAddr::new(p.addr.ip(), port)
            }
            _ => p.addr,
        })
    }

    /// As the relay: introduce the peer on `conn` to `target`, or tell it why not.
    fn relay_rendezvous(&mut self, conn: u64, target: SocketAddr, now: Instant) {
        let Some(initiator) = self.punch_endpoint(conn) else {
            return;
        };
        // The target as we list it: the address we dialed, or an incoming peer's address with
        // its listen port (what our PEX told the initiator).
        let entry = self
            .peers
            .values()
            .filter(|p| {
                p.addr == target
                    || (p.source == PeerSource::Incoming
                        && p.known.listen_port == Some(target.port())
                        && p.addr.ip() == target.ip())
            })
            .max_by_key(|p| p.conn().is_some());
        let (found, target_conn) = match entry {
            None => (Target::Unknown, None),
            Some(p) => match p.conn() {
                Some(c) if p.stage() == PeerStage::Connected => (
                    Target::Connected {
                        supports: c.holepunch,
                    },
                    p.conn_id(),
                ),
                _ => (Target::NotConnected, None),
            },
        };
        let ours: Vec<SocketAddr> = self
            .is_our_addr(&target)
            .then_some(target)
            .into_iter()
            .collect();
        // The target as the initiator is to dial it: for an incoming target over uTP, where
        // its connection comes from.
        let target_at = target_conn
            .and_then(|c| self.punch_endpoint(c))
            .unwrap_or(target);
        // A peer naming itself is refused as NoSelf, like one naming us.
        let asker = if target_conn == Some(conn) {
            target
        } else {
            initiator
        };
        match self.relay.rendezvous(now, asker, target, found, &ours) {
            Verdict::Drop => {}
            Verdict::Refuse(msg) => {
                self.run.relay_bytes += wire_len(&msg);
                self.send_to_conn(conn, msg)
            }
            Verdict::Introduce { to_target, .. } => {
                let to_initiator = HoleMsg::connect(target_at);
                self.run.relay_bytes += wire_len(&to_initiator);
                self.send_to_conn(conn, to_initiator);
                if let Some(t) = target_conn {
                    self.run.relay_bytes += wire_len(&to_target);
                    self.send_to_conn(t, to_target);
                }
                self.run.introductions += 1;
                self.log(
                    LogLevel::Info,
                    format!("introduced {initiator} and {target_at} (hole punch relay)"),
                );
            }
        }
    }

    fn send_to_conn(&mut self, conn: u64, msg: HoleMsg) {
        if let Some(p) = self.peers.by_conn(conn) {
            p.send(PeerCmd::SendHolepunch(msg));
        }
    }

    /// As the initiator: dialing `addr` failed; when a connected peer listed it by PEX as
    /// taking hole punching, ask that peer to introduce us (at most every [`ASK_EVERY`]).
    pub(crate) fn ask_for_punch(&mut self, addr: SocketAddr, now: Instant) {
        if !self.shared.pex {
            return;
        }
        let Some(p) = self.peers.get_mut(&addr) else {
            return;
        };
        let Some(relay) = p.known.relay else {
            return;
        };
        if p.known
            .punch_asked
            .is_some_and(|t| now.saturating_duration_since(t) < ASK_EVERY)
        {
            return;
        }
        let ready = self.peers.get(&relay).is_some_and(|r| {
            r.stage() == PeerStage::Connected && r.conn().is_some_and(|c| c.holepunch)
        });
        if !ready {
            return;
        }
        if let Some(p) = self.peers.get_mut(&addr) {
            p.known.punch_asked = Some(now);
        }
        if let Some(r) = self.peers.get(&relay) {
            r.send(PeerCmd::SendHolepunch(HoleMsg::rendezvous(addr)));
        }
        self.log(
            LogLevel::Info,
            format!("{addr}: could not dial it; asking {relay} to introduce us (hole punch)"),
        );
    }

    /// As either side of an introduction by `relay`: dial `addr` now, over uTP only. Bounded
    /// like relaying (per peer and per second) and by the peer limit, so that a peer cannot
    /// make us dial whomever it likes.
    fn punch(&mut self, relay: SocketAddr, addr: SocketAddr, now: Instant) {
        if self.is_our_addr(&addr) || addr == relay || self.run.paused {
            return;
        }
        if self.peers.active().count() >= self.given.opts.max_peers
            || !self.connects.admit(now, relay)
        {
            return;
        }
        if self.refuse_blocked(addr, now) {
            return;
        }
        if self.peers.get(&addr).is_none() {
            self.peers.add([addr], PeerSource::Pex, now);
        }
        let Some(p) = self.peers.get_mut(&addr) else {
            return;
        };
        if p.has_conn() || p.is_banned() {
            return;
        }
        p.known.punched_via = Some(relay.ip());
        p.dial.attempts += 1;
        let under_v2 = p.known.v2_swarm;
        self.log(
            LogLevel::Info,
            format!("{addr}: dialing over uTP at once, introduced by {relay} (hole punch)"),
        );
        let start = Start::Dial {
            under_v2,
            punch: true,
        };
        self.spawn_peer(addr, start, PeerStage::Connecting, now);
    }
}

#[cfg(test)]
mod tests;
