//! Port mapping: asks the router to forward the listen port (TCP, and UDP for uTP and the
//! DHT) to us, so peers behind other NATs can dial in. One task per session: it maps both at
//! start, renews each at half the lease the router granted, publishes what it got (or the
//! router's refusal) for the header, `show --json` and the explainer, and removes the
//! mappings when the session closes.
//! While a mapping holds, its external port is the one peers are told (the handshake's
//! `p`, trackers, the DHT's announces).
//!
//! The wire formats are `protocol/natpmp.rs` and `protocol/pcp.rs`; `client.rs` holds the
//! exchanges with one server. The server is the one `PortMapSettings::gateway` names, else the
//! default route's gateway (`gateway.rs`), which is never looked up under
//! `TTUI_NO_PUBLIC_ROUTERS`: tests and the demo only ever ask a server they name on loopback.

mod client;
mod gateway;

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::engine::api::{PortMapSettings, PortMappingStatus};
use crate::protocol::natpmp::{Proto, SERVER_PORT};
use client::{Client, Held, MapError};

/// The first retry after a failure; each next one waits twice as long, up to `RETRY_MAX`
/// (libtorrent and Transmission also keep asking a router that failed, a few times an hour).
const RETRY_FIRST: Duration = Duration::from_secs(10);
const RETRY_MAX: Duration = Duration::from_secs(30 * 60);
/// The shortest wait before a renewal, whatever lease a router grants.
const RENEW_MIN: Duration = Duration::from_secs(1);
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
            settings,
            port,
            wanted,
            bind,
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
    settings: PortMapSettings,
    port: u16,
    wanted: Vec<Proto>,
    bind: Option<IpAddr>,
    status: Arc<Mutex<PortMappingStatus>>,
    /// The port peers are told (`SessionCtx::announce_port`): the mapped external TCP port
    /// while the mapping holds, the listen port otherwise.
    announce: Arc<AtomicU16>,
}

impl Job {
    fn server(&self) -> Result<SocketAddr, MapError> {
        if let Some(g) = self.settings.gateway {
            return Ok(g);
        }
        if !self.settings.discover {
            return Err(MapError::NoGateway);
        }
        gateway::default_gateway()
            .map(|ip| SocketAddr::new(IpAddr::V4(ip), SERVER_PORT))
            .ok_or(MapError::NoGateway)
    }

    async fn run(self, mut stopped: oneshot::Receiver<()>) {
        let mut held: Vec<Held> = Vec::new();
        let mut client: Option<Client> = None;
        let mut failures = 0u32;
        loop {
            let wait = match self.round(&mut client, &mut held).await {
                Ok(lifetime) => {
                    failures = 0;
                    // Renew at half the lease, as RFC 6886 §3.3 recommends.
                    (Duration::from_secs(u64::from(lifetime)) / 2).max(RENEW_MIN)
                }
                Err(e) => {
                    tracing::warn!("port mapping failed: {e}");
                    lock(&self.status).error = Some(e.to_string());
                    self.announce.store(self.port, Ordering::Relaxed);
                    let wait = RETRY_FIRST.saturating_mul(1 << failures.min(8));
                    failures += 1;
                    wait.min(RETRY_MAX)
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = &mut stopped => break,
            }
        }
        if let Some(c) = client.as_mut() {
            for h in &held {
                match c.unmap(h).await {
                    Ok(()) => tracing::info!(
                        "port mapping: removed {} {} -> {}",
                        h.proto,
                        h.port.external,
                        h.port.internal
                    ),
                    Err(e) => tracing::warn!("port mapping: removing {} failed: {e}", h.proto),
                }
            }
        }
    }

    /// Maps (or renews) every wanted port; the shortest lease granted.
    async fn round(
        &self,
        client: &mut Option<Client>,
        held: &mut Vec<Held>,
    ) -> Result<u32, MapError> {
        let c = match client {
            Some(c) => c,
            None => {
                let server = self.server()?;
                lock(&self.status).gateway = Some(server.to_string());
                client.insert(Client::new(server, self.bind).await?)
            }
        };
        let lease = u32::try_from(self.settings.lease.as_secs()).unwrap_or(u32::MAX);
        let mut shortest = u32::MAX;
        for &proto in &self.wanted {
            let prev = held.iter().position(|h| h.proto == proto);
            let h = c
                .map(proto, self.port, prev.map(|i| &held[i]), lease)
                .await?;
            if prev.map(|i| held[i].port.external) != Some(h.port.external) {
                tracing::info!(
                    "port mapping ({}): {} {}:{} -> {}",
                    c.dialect.name(),
                    proto,
                    c.external_ip.map_or("?".into(), |ip| ip.to_string()),
                    h.port.external,
                    self.port
                );
            }
            shortest = shortest.min(h.port.lifetime);
            let mut s = lock(&self.status);
            s.protocol = Some(c.dialect.name().to_string());
            s.external_ip = c.external_ip;
            match proto {
                Proto::Tcp => {
                    s.tcp = Some(h.port.clone());
                    self.announce.store(h.port.external, Ordering::Relaxed);
                }
                Proto::Udp => s.udp = Some(h.port.clone()),
            }
            drop(s);
            match prev {
                Some(i) => held[i] = h,
                None => held.push(h),
            }
        }
        lock(&self.status).error = None;
        Ok(shortest)
    }
}
