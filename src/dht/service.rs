//! The node as a tokio task. The session owns the UDP socket: it hands every datagram whose
//! first byte is `d` to `Dht::incoming`, and gives `spawn` something that sends (`Transmit`),
//! usually the same socket (`try_send_to` never waits; UDP may drop anyway). With an IPv6
//! socket beside the IPv4 one the session gives `Sockets`, and the node runs in both families.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::protocol::krpc::{CompactNode, NodeId};

use super::family::Families;
use super::node::{DhtStats, Node, NodeConfig};
use super::persist;

/// Datagrams queued for the node; more are dropped (a flood costs a failed `try_send`).
const DATAGRAM_QUEUE: usize = 1024;
const SAVE_EVERY: Duration = Duration::from_secs(10 * 60);
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

/// Where the node's datagrams go.
pub trait Transmit: Send + 'static {
    fn transmit(&self, buf: &[u8], to: SocketAddr);
    /// The address families this can send to; the node uses no other. IPv4 unless said.
    fn families(&self) -> Families {
        Families::V4_ONLY
    }
}

impl Transmit for Arc<tokio::net::UdpSocket> {
    fn transmit(&self, buf: &[u8], to: SocketAddr) {
        // Straight to the kernel: tokio's `try_send_to` answers WouldBlock until the reactor
        // has once seen the socket writable, which dropped the node's first queries (the
        // bootstrap) and delayed joining by the bootstrap retry (5 s). The socket is
        // non-blocking, so this never waits either.
        let _ = socket2::SockRef::from(self.as_ref()).send_to(buf, &to.into());
    }
    fn families(&self) -> Families {
        // An IPv6 socket here is IPv6-only (the session binds it so), like an IPv4 one.
        match self.local_addr() {
            Ok(SocketAddr::V6(_)) => Families {
                v4: false,
                v6: true,
            },
            _ => Families::V4_ONLY,
        }
    }
}

/// The session's UDP sockets, one per family: each datagram leaves by its family's.
pub(crate) struct Sockets {
    pub v4: Option<Arc<tokio::net::UdpSocket>>,
    pub v6: Option<Arc<tokio::net::UdpSocket>>,
}

impl Sockets {
    /// `sock` in the place of its family.
    pub(crate) fn one(sock: Arc<tokio::net::UdpSocket>) -> Sockets {
        match sock.local_addr() {
            Ok(SocketAddr::V6(_)) => Sockets {
                v4: None,
                v6: Some(sock),
            },
            _ => Sockets {
                v4: Some(sock),
                v6: None,
            },
        }
    }
}

impl Transmit for Sockets {
    fn transmit(&self, buf: &[u8], to: SocketAddr) {
        let sock = match to {
            SocketAddr::V4(_) => &self.v4,
            SocketAddr::V6(_) => &self.v6,
        };
        if let Some(s) = sock {
            s.transmit(buf, to);
        }
    }
    fn families(&self) -> Families {
        Families {
            v4: self.v4.is_some(),
            v6: self.v6.is_some(),
        }
    }
}

impl Transmit for mpsc::Sender<(Vec<u8>, SocketAddr)> {
    fn transmit(&self, buf: &[u8], to: SocketAddr) {
        let _ = self.try_send((buf.to_vec(), to));
    }
    fn families(&self) -> Families {
        Families::BOTH
    }
}

/// True when a datagram on the shared socket is KRPC (a bencoded dictionary) and not uTP.
pub fn is_krpc(datagram: &[u8]) -> bool {
    datagram.first() == Some(&b'd')
}

#[derive(Clone, Debug)]
pub struct DhtConfig {
    /// HOST:PORT of bootstrap nodes or routers.
    pub bootstrap: Vec<String>,
    /// Where the routing table is saved and reloaded (`dht.dat`).
    pub state_dir: Option<PathBuf>,
    /// Full node settings; by default the saved id (or a random one) with default limits.
    pub node: Option<NodeConfig>,
    /// Bytes a second the node may send in answer to queries, replies, errors and verifying
    /// pings together; what exceeds it is dropped (`budget.rs`). Overrides `node`'s.
    pub reply_budget_bytes_per_sec: u32,
}

impl Default for DhtConfig {
    fn default() -> Self {
        DhtConfig {
            bootstrap: Vec::new(),
            state_dir: None,
            node: None,
            reply_budget_bytes_per_sec: super::budget::DEFAULT_REPLY_BUDGET,
        }
    }
}

enum Command {
    GetPeers {
        info_hash: NodeId,
        announce_port: Option<u16>,
        peers: mpsc::UnboundedSender<SocketAddr>,
    },
    AddNode(SocketAddr),
    External {
        ip: std::net::IpAddr,
        voter: std::net::IpAddr,
    },
    Stats(oneshot::Sender<DhtStats>),
    Nodes(oneshot::Sender<Vec<CompactNode>>),
    Save(oneshot::Sender<io::Result<()>>),
    Shutdown(oneshot::Sender<()>),
}

/// Handle to the running node; cheap to clone.
#[derive(Clone)]
pub struct Dht {
    datagrams: mpsc::Sender<(Vec<u8>, SocketAddr)>,
    commands: mpsc::Sender<Command>,
    id: NodeId,
}

impl Dht {
    /// Starts the node task: loads the saved table from `state_dir`, resolves the bootstrap
    /// names, and joins the network.
    pub fn spawn(cfg: DhtConfig, tx: impl Transmit) -> (Dht, JoinHandle<()>) {
        let saved = cfg.state_dir.as_deref().and_then(persist::load);
        let mut node_cfg = cfg.node.clone().unwrap_or_else(|| {
            NodeConfig::new(saved.as_ref().map_or_else(NodeId::random, |s| s.0))
        });
        node_cfg.reply_budget = cfg.reply_budget_bytes_per_sec;
        node_cfg.families = tx.families();
        let id = node_cfg.id;
        let (dtx, drx) = mpsc::channel(DATAGRAM_QUEUE);
        let (ctx, crx) = mpsc::channel(64);
        let seeds = saved.map(|s| s.1).unwrap_or_default();
        let task = tokio::spawn(run(node_cfg, cfg, seeds, drx, crx, tx));
        (
            Dht {
                datagrams: dtx,
                commands: ctx,
                id,
            },
            task,
        )
    }

    /// The id the node started with; BEP 42 replaces it once our external address is known
    /// and does not fit it (`set_external`).
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// `voter` (a peer's `yourip`, a tracker's BEP 24 `external ip`) saw us at `ip`: once
    /// enough agree the node takes a BEP 42 id that fits it (`Node::vote_external`). Never
    /// waits; dropped when the node's queue is full.
    pub(crate) fn vote_external(&self, ip: std::net::IpAddr, voter: std::net::IpAddr) {
        let _ = self.commands.try_send(Command::External { ip, voter });
    }

    /// One datagram from the shared socket. Never waits: false when it was dropped.
    pub fn incoming(&self, buf: &[u8], from: SocketAddr) -> bool {
        self.datagrams.try_send((buf.to_vec(), from)).is_ok()
    }

    /// Starts an iterative lookup; peers arrive on the receiver as they are found, and it
    /// closes when the lookup ends (after the announce, when `announce_port` is set).
    pub async fn get_peers(
        &self,
        info_hash: [u8; 20],
        announce_port: Option<u16>,
    ) -> mpsc::UnboundedReceiver<SocketAddr> {
        let (tx, rx) = mpsc::unbounded_channel();
        let _ = self
            .commands
            .send(Command::GetPeers {
                info_hash: NodeId(info_hash),
                announce_port,
                peers: tx,
            })
            .await;
        rx
    }

    /// A node learned elsewhere (the BEP 5 `port` message): pinged, and added if it answers.
    pub async fn add_node(&self, addr: SocketAddr) {
        let _ = self.commands.send(Command::AddNode(addr)).await;
    }

    /// `add_node` from code that cannot wait (a peer's message loop); dropped when the
    /// node's queue is full.
    pub(crate) fn try_add_node(&self, addr: SocketAddr) {
        let _ = self.commands.try_send(Command::AddNode(addr));
    }

    pub async fn stats(&self) -> Option<DhtStats> {
        let (tx, rx) = oneshot::channel();
        self.commands.send(Command::Stats(tx)).await.ok()?;
        rx.await.ok()
    }

    /// The routing tables' live nodes, IPv4 then IPv6, each closest to our id first.
    pub async fn nodes(&self) -> Vec<CompactNode> {
        let (tx, rx) = oneshot::channel();
        if self.commands.send(Command::Nodes(tx)).await.is_err() {
            return Vec::new();
        }
        rx.await.unwrap_or_default()
    }

    pub async fn save(&self) -> io::Result<()> {
        let (tx, rx) = oneshot::channel();
        let gone = || io::Error::other("the DHT node has stopped");
        self.commands
            .send(Command::Save(tx))
            .await
            .map_err(|_| gone())?;
        rx.await.map_err(|_| gone())?
    }

    /// Saves the table and ends the task.
    pub async fn shutdown(&self) {
        let (tx, rx) = oneshot::channel();
        if self.commands.send(Command::Shutdown(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }
}

/// The bootstrap names as addresses of both families (`[::1]:6881` is a literal IPv6
/// one); the node keeps those of the families it uses.
async fn resolve(names: &[String]) -> Vec<SocketAddr> {
    let mut out = Vec::new();
    for name in names {
        // A literal address needs no resolver (and no wait on one).
        if let Ok(addr) = name.parse::<SocketAddr>() {
            out.push(addr);
            continue;
        }
        let found =
            tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host(name.as_str())).await;
        if let Ok(Ok(addrs)) = found {
            out.extend(addrs);
        }
    }
    out
}

/// The line that says our id changed to fit our external address (BEP 42).
fn log_new_id(node: &Node) {
    if let Some(ip) = node.external() {
        tracing::info!("DHT: our address is {ip}; node id now fits it (BEP 42)");
    }
}

fn save(node: &Node, dir: &Option<PathBuf>) -> io::Result<()> {
    match dir {
        Some(dir) => persist::save(dir, &node.id(), &node.nodes_to_save(Instant::now())),
        None => Ok(()),
    }
}

async fn run(
    node_cfg: NodeConfig,
    cfg: DhtConfig,
    saved: Vec<CompactNode>,
    mut datagrams: mpsc::Receiver<(Vec<u8>, SocketAddr)>,
    mut commands: mpsc::Receiver<Command>,
    tx: impl Transmit,
) {
    let mut node = Node::new(node_cfg, Instant::now());
    let mut seeds: Vec<SocketAddr> = saved.iter().map(|n| n.addr).collect();
    seeds.extend(resolve(&cfg.bootstrap).await);
    node.bootstrap(seeds, Instant::now());
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_save = Instant::now();
    let mut done: Option<oneshot::Sender<()>> = None;
    loop {
        for (buf, to) in node.take_outgoing() {
            tx.transmit(&buf, to);
        }
        tokio::select! {
            d = datagrams.recv() => match d {
                Some((buf, from)) => {
                    let before = node.id();
                    node.handle(&buf, from, Instant::now());
                    // Nodes' KRPC `ip` votes (BEP 42) move the id from inside `handle`.
                    if node.id() != before {
                        log_new_id(&node);
                    }
                }
                None => break,
            },
            c = commands.recv() => match c {
                None => break,
                Some(Command::Shutdown(ack)) => {
                    done = Some(ack);
                    break;
                }
                Some(Command::GetPeers { info_hash, announce_port, peers }) => {
                    node.get_peers(info_hash, announce_port, peers, Instant::now());
                }
                Some(Command::AddNode(addr)) => {
                    node.ping(addr, Instant::now());
                }
                Some(Command::External { ip, voter }) => {
                    if node.vote_external(ip, voter, Instant::now()) {
                        log_new_id(&node);
                    }
                }
                Some(Command::Stats(reply)) => {
                    let _ = reply.send(node.stats());
                }
                Some(Command::Nodes(reply)) => {
                    let _ = reply.send(node.nodes_to_save(Instant::now()));
                }
                Some(Command::Save(reply)) => {
                    let _ = reply.send(save(&node, &cfg.state_dir));
                }
            },
            _ = tick.tick() => {
                let now = Instant::now();
                node.tick(now);
                if let Some((dropped, per_sec)) = node.budget_report(now) {
                    tracing::info!(
                        "DHT: {} replies and pings ({} bytes) dropped over the {per_sec} B/s budget",
                        dropped.datagrams,
                        dropped.bytes
                    );
                }
                if now.saturating_duration_since(last_save) >= SAVE_EVERY {
                    last_save = now;
                    if let Err(e) = save(&node, &cfg.state_dir) {
                        tracing::warn!("saving the DHT routing table: {e}");
                    }
                }
            }
        }
    }
    if let Err(e) = save(&node, &cfg.state_dir) {
        tracing::warn!("saving the DHT routing table: {e}");
    }
    if let Some(ack) = done {
        let _ = ack.send(());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bootstrap_literals_of_both_families_need_no_resolver() {
        let names = ["[::1]:6881", "127.0.0.1:6882", "[::1]:bad"].map(String::from);
        let got = resolve(&names).await;
        // "[::1]:bad" is not a literal and no resolver knows it: nothing, and no error.
        assert_eq!(
            got,
            vec![
                "[::1]:6881".parse::<SocketAddr>().unwrap(),
                "127.0.0.1:6882".parse().unwrap()
            ]
        );
    }
}
