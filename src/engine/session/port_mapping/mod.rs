//! Port mapping: asks the router to forward the listen port (TCP, and UDP for uTP and the
//! DHT) to us, so peers behind other NATs can dial in. One task per session: it maps both at
//! start, renews each at half the lease the router granted, publishes what it got (or the
//! router's refusal) for the header, `show --json` and the explainer, and removes the
//! mappings when the session closes.
//! While a mapping holds, its external port is the one peers are told (the handshake's
//! `p`, trackers, the DHT's announces).
//!
//! Two ways, asked at once as libtorrent asks them: PCP/NAT-PMP (`client.rs`, wire formats
//! in `protocol/natpmp.rs` and `protocol/pcp.rs`) and UPnP IGD (`upnp.rs`, `protocol/upnp`).
//! The first whose mappings are all made wins: it is published at once and renewed from
//! then on; the other's, if it maps too, are removed when it finishes, so the router holds
//! one mapping per port. A winner that fails later puts both in the race again. The status
//! names the winner ("PCP", "NAT-PMP", "UPnP IGD2", "UPnP IGD1"); when both fail the error
//! gives each one's reason.
//!
//! Which routers are asked: the NAT-PMP/PCP server `PortMapSettings::gateway` names, else the
//! default route's gateway (`gateway.rs`); the IGD whose description `PortMapSettings::igd`
//! names, else the one an SSDP search finds (`ssdp.rs`). Neither is looked for under
//! `TTUI_NO_PUBLIC_ROUTERS` (`discover` is off): tests and the demo only ever ask a router
//! they name on loopback, or a default route's gateway on loopback, and send no multicast.
//!
//! The default route is looked at every `ROUTE_CHECK`: when its gateway changes (a laptop
//! on another network, a VPN up or down), what the old router held is released (bounded)
//! and the new one is asked at once, rather than at the next renewal an hour later.

mod client;
mod gateway;
mod ssdp;
mod upnp;
mod ways;

use std::net::IpAddr;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::engine::api::{PortMapSettings, PortMappingStatus};
use crate::protocol::natpmp::Proto;
use client::MapError;
use ways::{Mapped, Pmp, Upnp, Want};

/// The first retry after a failure; each next one waits twice as long, up to `RETRY_MAX`
/// (libtorrent and Transmission also keep asking a router that failed, a few times an hour).
const RETRY_FIRST: Duration = Duration::from_secs(10);
const RETRY_MAX: Duration = Duration::from_secs(30 * 60);
/// The shortest wait before a renewal, whatever lease a router grants.
const RENEW_MIN: Duration = Duration::from_secs(1);
/// How often the default route's gateway is looked at (a read of /proc/net/route).
const ROUTE_CHECK: Duration = Duration::from_secs(2);
/// How long closing waits for the removals (each is bounded too; this bounds them all).
const CLOSE_WAIT: Duration = Duration::from_secs(3);

/// The session's port mapper: its task, and the status it keeps.
pub(crate) struct PortMapper {
    status: Arc<Mutex<PortMappingStatus>>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl PortMapper {
    /// Starts mapping `port` for TCP, and for UDP when `udp`.
    pub(crate) fn spawn(
        settings: PortMapSettings,
        port: u16,
        udp: bool,
        bind: Option<IpAddr>,
        announce: Arc<AtomicU16>,
    ) -> PortMapper {
        let status: Arc<Mutex<PortMappingStatus>> = Arc::default();
        let (stop, stopped) = oneshot::channel();
        let mut wanted = vec![Proto::Tcp];
        if udp {
            wanted.push(Proto::Udp);
        }
        let job = Job {
            want: Want {
                settings,
                port,
                wanted,
                bind,
            },
            status: Arc::clone(&status),
            announce,
        };
        PortMapper {
            status,
            stop: Some(stop),
            task: Some(tokio::spawn(job.run(stopped))),
        }
    }

    pub(crate) fn status(&self) -> PortMappingStatus {
        lock(&self.status).clone()
    }

    /// Removes the mappings (waiting at most `CLOSE_WAIT`) and ends the task.
    pub(crate) async fn close(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut task) = self.task.take() {
            if tokio::time::timeout(CLOSE_WAIT, &mut task).await.is_err() {
                tracing::warn!("port mapping: the mappings' removal did not finish in time");
                task.abort();
            }
        }
    }
}

impl Drop for PortMapper {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

fn lock(s: &Mutex<PortMappingStatus>) -> std::sync::MutexGuard<'_, PortMappingStatus> {
    s.lock().unwrap_or_else(|e| e.into_inner())
}

struct Job {
    want: Want,
    status: Arc<Mutex<PortMappingStatus>>,
    /// The port peers are told (`SessionCtx::announce_port`): the mapped external TCP port
    /// while the mapping holds, the listen port otherwise.
    announce: Arc<AtomicU16>,
}

/// Which way's mappings are published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Way {
    Pmp,
    Upnp,
}

impl Job {
    async fn run(self, mut stopped: oneshot::Receiver<()>) {
        let (mut pmp, mut upnp) = (Pmp::default(), Upnp::default());
        let mut winner: Option<Way> = None;
        let mut failures = 0u32;
        let mut route = gateway::default_gateway();
        'rounds: loop {
            let result = match winner {
                Some(Way::Pmp) => self.want_ok(pmp.round(&self.want).await),
                Some(Way::Upnp) => self.want_ok(upnp.round(&self.want).await),
                None => self.race(&mut pmp, &mut upnp).await.map(|(way, m)| {
                    winner = Some(way);
                    m
                }),
            };
            let wait = match result {
                Ok(lifetime) => {
                    failures = 0;
                    // Renew at half the lease, as RFC 6886 §3.3 recommends; a permanent
                    // UPnP mapping is added again as often as the lease asked (a router
                    // that rebooted has lost it).
                    let lease = match lifetime {
                        0 => self.want.settings.lease,
                        s => Duration::from_secs(u64::from(s)),
                    };
                    (lease / 2).max(RENEW_MIN)
                }
                Err(e) => {
                    tracing::warn!("port mapping failed: {e}");
                    lock(&self.status).error = Some(e.to_string());
                    self.announce.store(self.want.port, Ordering::Relaxed);
                    winner = None;
                    let wait = RETRY_FIRST.saturating_mul(1 << failures.min(8));
                    failures += 1;
                    wait.min(RETRY_MAX)
                }
            };
            let due = tokio::time::Instant::now() + wait;
            loop {
                tokio::select! {
                    _ = tokio::time::sleep_until(due) => continue 'rounds,
                    _ = &mut stopped => break 'rounds,
                    _ = tokio::time::sleep(ROUTE_CHECK) => {}
                }
                // With both routers named, the route picks neither.
                let named = self.want.settings.gateway.is_some()
                    && (self.want.settings.igd.is_some() || !self.want.settings.discover);
                let now = gateway::default_gateway();
                if named || now == route {
                    continue;
                }
                let name =
                    |g: Option<std::net::Ipv4Addr>| g.map_or("none".into(), |g| g.to_string());
                tracing::info!(
                    "port mapping: the default route's gateway changed ({} -> {}): asking again",
                    name(route),
                    name(now)
                );
                route = now;
                // A named server or IGD is not the route's: only what was found moves.
                if self.want.settings.gateway.is_none() {
                    pmp.release().await;
                    pmp = Pmp::default();
                }
                if self.want.settings.igd.is_none() {
                    upnp.release().await;
                    upnp = Upnp::default();
                }
                winner = None;
                failures = 0;
                continue 'rounds;
            }
        }
        // Both: a way that lost the race may still hold what it mapped before.
        tokio::join!(pmp.release(), upnp.release());
    }

    /// A renewal's result, published when it mapped.
    fn want_ok(&self, r: Result<Mapped, MapError>) -> Result<u32, MapError> {
        r.map(|m| {
            self.publish(&m);
            m.lifetime
        })
    }

    /// Asks both ways at once (those the settings allow); the first that maps everything is
    /// published at once and wins; the other's mappings, if it makes them, are removed.
    async fn race(&self, pmp: &mut Pmp, upnp: &mut Upnp) -> Result<(Way, u32), MapError> {
        let want = &self.want;
        let mut winner: Option<(Way, &'static str, u32)> = None;
        let (mut a, mut b) = (None, None);
        {
            let fa = async {
                if want.pmp_on() {
                    Some(pmp.round(want).await)
                } else {
                    None
                }
            };
            let fb = async {
                if want.upnp_on() {
                    Some(upnp.round(want).await)
                } else {
                    None
                }
            };
            tokio::pin!(fa, fb);
            while a.is_none() || b.is_none() {
                tokio::select! {
                    r = &mut fa, if a.is_none() => a = Some(r),
                    r = &mut fb, if b.is_none() => b = Some(r),
                }
                for (way, r) in [(Way::Pmp, &a), (Way::Upnp, &b)] {
                    if let (None, Some(Some(Ok(m)))) = (winner, r) {
                        self.publish(m);
                        winner = Some((way, m.protocol, m.lifetime));
                    }
                }
            }
        }
        let (a, b) = (a.flatten(), b.flatten());
        match winner {
            Some((way, protocol, lifetime)) => {
                for e in [&a, &b]
                    .into_iter()
                    .flatten()
                    .filter_map(|r| r.as_ref().err())
                {
                    tracing::info!("port mapping: {e} (mapped by {protocol} instead)");
                }
                match (way, &a, &b) {
                    (Way::Upnp, Some(Ok(_)), _) => pmp.release().await,
                    (Way::Pmp, _, Some(Ok(_))) => upnp.release().await,
                    _ => {}
                }
                Ok((way, lifetime))
            }
            None => Err(match (a, b) {
                (Some(Err(x)), Some(Err(y))) => MapError::Both(Box::new(x), Box::new(y)),
                (Some(Err(e)), _) | (_, Some(Err(e))) => e,
                // Neither way on: the settings never say so (the CLI turns mapping off).
                _ => MapError::NoGateway,
            }),
        }
    }

    /// What a way mapped becomes the status, and its TCP port the one announced.
    fn publish(&self, m: &Mapped) {
        let mut s = lock(&self.status);
        for (proto, now, before) in [(Proto::Tcp, &m.tcp, &s.tcp), (Proto::Udp, &m.udp, &s.udp)] {
            if let Some(p) = now {
                if before.as_ref().map(|b| b.external) != Some(p.external)
                    || s.protocol.as_deref() != Some(m.protocol)
                {
                    tracing::info!(
                        "port mapping ({}): {proto} {}:{} -> {}",
                        m.protocol,
                        m.external_ip.map_or("?".into(), |ip| ip.to_string()),
                        p.external,
                        p.internal
                    );
                }
            }
        }
        if let Some(note) = &m.note {
            if s.note.as_ref() != Some(note) {
                tracing::info!("port mapping: {note}");
            }
        }
        s.protocol = Some(m.protocol.to_string());
        s.gateway = Some(m.gateway.clone());
        s.external_ip = m.external_ip;
        s.tcp = m.tcp.clone();
        s.udp = m.udp.clone();
        s.note = m.note.clone();
        s.error = None;
        if let Some(t) = &m.tcp {
            self.announce.store(t.external, Ordering::Relaxed);
        }
    }
}
