//! The coordinator's side of peer exchange: peers learned from a `ut_pex` list join the
//! peer table, and once a minute each peer that supports it gets what changed (`pex.rs` has
//! the per-connection state machines and the limits).

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Instant;

use bytes::Bytes;

use crate::engine::api::{LogLevel, PeerSource, PeerStage};
use crate::engine::peer::link::PeerCmd;
use crate::engine::peer::pex::PexEvent;
use crate::engine::torrent::coordinator::Coordinator;
use crate::engine::torrent::pex::PexOutbox;
use crate::protocol::extension::PexFlags;

impl Coordinator {
    /// An address that is us (our listen port on a loopback or unspecified address) or no
    /// peer at all (port 0).
    pub(crate) fn is_our_addr(&self, addr: &SocketAddr) -> bool {
        let port = self.shared.listen_port.load(Ordering::Relaxed);
        let ours = addr.port() == port && (addr.ip().is_loopback() || addr.ip().is_unspecified());
        addr.port() == 0 || ours
    }

    pub(crate) fn on_pex(&mut self, conn: u64, e: PexEvent) {
        let now = Instant::now();
        let pex_on = self.shared.pex;
        match e {
            PexEvent::Extensions {
                ut_pex,
                holepunch,
                listen_port,
            } => {
                if let Some(p) = self.peers.by_conn(conn) {
                    p.known.listen_port = listen_port;
                    if let Some(c) = p.conn_mut() {
                        c.pex = (ut_pex && pex_on).then(|| PexOutbox::new(now));
                        c.holepunch = holepunch && pex_on;
                    }
                }
            }
            PexEvent::Flooded(why) => {
                let addr = self.peers.by_conn(conn).map(|p| p.addr);
                if let Some(addr) = addr {
                    self.log(
                        LogLevel::Warn,
                        format!("{addr}: ignoring its peer exchange from now on: {why}"),
                    );
                }
            }
            // A private torrent, or --no-pex: nothing learned by PEX is used.
            PexEvent::Peers(_) if !pex_on => {}
            PexEvent::Peers(msg) => {
                let Some(from) = self.peers.by_conn(conn).map(|p| p.addr) else {
                    return;
                };
                let complete = self.run.complete;
                let mut fresh = Vec::new();
                let mut punchable = Vec::new();
                for (addr, flags) in msg.added {
                    if self.is_our_addr(&addr) || addr == from {
                        continue;
                    }
                    if flags.has(PexFlags::HOLEPUNCH) {
                        punchable.push(addr);
                    }
                    let seed = flags.has(PexFlags::SEED);
                    if let Some(p) = self.peers.get_mut(&addr) {
                        p.known.seed |= seed;
                        self.peers.relisted(&addr, complete, now);
                    } else {
                        fresh.push((addr, seed));
                    }
                }
                let seeds: Vec<SocketAddr> =
                    fresh.iter().filter(|(_, s)| *s).map(|(a, _)| *a).collect();
                let added = self
                    .peers
                    .add(fresh.into_iter().map(|(a, _)| a), PeerSource::Pex, now);
                for a in seeds {
                    if let Some(p) = self.peers.get_mut(&a) {
                        p.known.seed = true;
                    }
                }
                // The sender is connected to it and it takes hole punching: the sender may
                // introduce us (BEP 55) when dialing it fails.
                for a in punchable {
                    if let Some(p) = self.peers.get_mut(&a) {
                        p.known.relay = Some(from);
                    }
                }
                if added > 0 {
                    self.log(
                        LogLevel::Info,
                        format!("{from}: {added} new peer(s) by peer exchange"),
                    );
                }
            }
        }
    }

    /// The peers we would tell others about: connected ones with an address that takes
    /// connections (the one we dialed, or an incoming peer's announced listen port).
    fn pex_list(&self) -> Vec<(SocketAddr, PexFlags)> {
        let n = self.shared.info.num_pieces();
        self.peers
            .active()
            .filter(|p| p.stage() == PeerStage::Connected)
            .filter_map(|p| {
                let mut f = 0;
                let addr = if p.source == PeerSource::Incoming {
                    SocketAddr::new(p.addr.ip(), p.known.listen_port?)
                } else {
                    f |= PexFlags::REACHABLE;
                    p.addr
                };
                if p.setup.encryption == Some(crate::net::Encryption::Rc4) {
                    f |= PexFlags::ENCRYPTION;
                }
                // An upload-only peer (BEP 21) is a seed to those we tell, as libtorrent
                // flags it.
                if p.pieces() == n || p.known.seed || p.upload_only() {
                    f |= PexFlags::SEED;
                }
                if p.setup.transport == Some(crate::net::TransportKind::Utp) {
                    f |= PexFlags::UTP;
                }
                if p.conn().is_some_and(|c| c.holepunch) {
                    f |= PexFlags::HOLEPUNCH;
                }
                Some((addr, PexFlags(f)))
            })
            .collect()
    }

    /// Sends each peer that takes `ut_pex` what changed since we last told it, when due.
    pub(crate) fn pex_tick(&mut self, now: Instant) {
        if !self.shared.pex || self.run.paused {
            return;
        }
        // The list is built only in a tick where some peer is due: most ticks cost one pass.
        let due = self.peers.active().any(|p| {
            p.conn()
                .and_then(|c| c.pex.as_ref())
                .is_some_and(|o| o.due(now))
        });
        if !due {
            return;
        }
        let list = self.pex_list();
        for p in self.peers.values_mut() {
            let me = p.addr;
            let mine = p
                .known
                .listen_port
                .map(|port| SocketAddr::new(me.ip(), port));
            let Some(c) = p.conn_mut() else {
                continue;
            };
            let Some(out) = c.pex.as_mut() else {
                continue;
            };
            let others: Vec<(SocketAddr, PexFlags)> = list
                .iter()
                .filter(|(a, _)| *a != me && Some(*a) != mine)
                .copied()
                .collect();
            if let Some(msg) = out.next(now, &others) {
                c.send(PeerCmd::SendPex(Bytes::from(msg.encode())));
            }
        }
    }
}
