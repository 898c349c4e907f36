//! A torrent's use of the session's DHT node: one task per torrent that runs `get_peers`
//! lookups and tells the coordinator what they found. The first lookup announces our listen
//! port, as does one every `ANNOUNCE_EVERY` while the torrent runs; while the torrent wants
//! peers (downloading with few of them) plain lookups come more often, backing off from
//! `QUICK_FIRST` to `QUICK_MAX`. An announce made while our routing table was thin (fewer
//! than `THIN_TABLE` nodes, as just after start) reached only the few nodes we knew, maybe not
//! those a leecher's lookup ends at: it is made again on the same quick schedule until the
//! table has grown, instead of 20 minutes later (a seed on a young table was found by a
//! libtorrent leecher only now and then). A hybrid torrent is looked up (and announced)
//! under both its hashes, one after the other in each round: the DHT keeps a swarm per
//! hash, and v2-only clients know only the short v2 one (BEP 52). A private torrent never
//! gets here (`Shared::dht` is None).

use std::net::SocketAddr;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::dht::Dht;
use crate::engine::api::{DhtRow, LogLevel, PeerSource};
use crate::engine::torrent::coordinator::Coordinator;
use crate::tracker::SwarmHashes;

pub(crate) const ANNOUNCE_EVERY: Duration = Duration::from_secs(20 * 60);
const QUICK_FIRST: Duration = Duration::from_secs(15);
const QUICK_MAX: Duration = Duration::from_secs(5 * 60);
/// A lookup that has not ended by then is given up (the node ends its own after a minute).
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(90);
/// How long the first lookup waits for the routing table to have a node.
const BOOTSTRAP_WAIT: Duration = Duration::from_secs(20);
const NODES_EVERY: Duration = Duration::from_secs(2);
/// A routing table with fewer nodes than this makes an announce thin (a lookup asks the 8
/// closest nodes it finds).
const THIN_TABLE: usize = 8;

/// What the task tells the coordinator.
#[derive(Debug)]
pub(crate) enum DhtReport {
    /// Nodes in the routing table now.
    Nodes(usize),
    Started,
    /// A peer found; `under_v2`: by the lookup of a hybrid's short v2 hash.
    Peer(SocketAddr, bool),
    Done {
        peers: usize,
        nodes: usize,
        announced: bool,
    },
}

/// Starts the task. `wanting` says whether the torrent wants more peers now; the task ends
/// when `reports` is closed or the handle is aborted.
pub(crate) fn spawn(
    dht: Dht,
    hashes: SwarmHashes,
    port: u16,
    wanting: watch::Receiver<bool>,
    reports: mpsc::UnboundedSender<DhtReport>,
) -> JoinHandle<()> {
    tokio::spawn(tracing::Instrument::in_current_span(run(
        dht, hashes, port, wanting, reports,
    )))
}

async fn nodes(dht: &Dht) -> usize {
    dht.stats().await.map_or(0, |s| s.all_nodes())
}

async fn run(
    dht: Dht,
    hashes: SwarmHashes,
    port: u16,
    wanting: watch::Receiver<bool>,
    reports: mpsc::UnboundedSender<DhtReport>,
) {
    let started = Instant::now();
    loop {
        let n = nodes(&dht).await;
        if reports.send(DhtReport::Nodes(n)).is_err() {
            return;
        }
        if n > 0 || started.elapsed() >= BOOTSTRAP_WAIT {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let mut last_announce: Option<Instant> = None;
    let mut thin = false;
    let mut quick = QUICK_FIRST;
    loop {
        // The kill switch: no lookup (nor announce) while the interface is down; the first
        // round after it is back announces again, as the trackers do.
        if crate::net::device::is_down() {
            while crate::net::device::is_down() {
                tokio::time::sleep(NODES_EVERY).await;
                if reports.send(DhtReport::Nodes(nodes(&dht).await)).is_err() {
                    return;
                }
            }
            last_announce = None;
        }
        let announce =
            port != 0 && (thin || last_announce.is_none_or(|t| t.elapsed() >= ANNOUNCE_EVERY));
        if reports.send(DhtReport::Started).is_err() {
            return;
        }
        let mut found = 0;
        let also = hashes.also.map(|h| (h, true));
        for (info_hash, under_v2) in std::iter::once((hashes.main, false)).chain(also) {
            let mut rx = dht.get_peers(info_hash, announce.then_some(port)).await;
            let deadline = Instant::now() + LOOKUP_TIMEOUT;
            while let Ok(Some(addr)) = tokio::time::timeout_at(deadline, rx.recv()).await {
                found += 1;
                if reports.send(DhtReport::Peer(addr, under_v2)).is_err() {
                    return;
                }
            }
        }
        let n = nodes(&dht).await;
        // With an empty table nobody was told; the next lookup announces again.
        let announced = announce && n > 0;
        if announced {
            last_announce = Some(Instant::now());
            thin = n < THIN_TABLE;
        }
        let done = DhtReport::Done {
            peers: found,
            nodes: n,
            announced,
        };
        if reports.send(done).is_err() {
            return;
        }
        let next = next_lookup(
            Instant::now(),
            *wanting.borrow() || thin,
            last_announce,
            &mut quick,
        );
        // Wait for the next lookup, keeping the node count fresh; a torrent that starts
        // wanting peers again (a seed's leechers left, peers dropped) looks sooner.
        loop {
            let now = Instant::now();
            if now >= next {
                break;
            }
            tokio::time::sleep((next - now).min(NODES_EVERY)).await;
            if reports.send(DhtReport::Nodes(nodes(&dht).await)).is_err() {
                return;
            }
            if *wanting.borrow() && Instant::now() + quick < next {
                break;
            }
        }
    }
}

/// When the lookup after one that ended at `now` is due: soon (`quick`, which doubles up to
/// `QUICK_MAX`) while the torrent wants peers or its last announce was thin (`hurry`), else
/// `ANNOUNCE_EVERY` after the last announce (`quick` starts over).
fn next_lookup(
    now: Instant,
    hurry: bool,
    last_announce: Option<Instant>,
    quick: &mut Duration,
) -> Instant {
    if hurry {
        let wait = *quick;
        *quick = (*quick * 2).min(QUICK_MAX);
        now + wait
    } else {
        *quick = QUICK_FIRST;
        last_announce.map_or(now + QUICK_FIRST, |t| t + ANNOUNCE_EVERY)
    }
}

/// Fewer active peers than this, while downloading, and lookups come more often.
const WANT_PEERS: usize = 10;

impl Coordinator {
    /// Starts this torrent's DHT task, when the torrent may use the DHT.
    pub(crate) fn start_dht(
        &mut self,
    ) -> Option<(JoinHandle<()>, mpsc::UnboundedReceiver<DhtReport>)> {
        if self.given.meta.info.private {
            self.log(
                LogLevel::Info,
                "private torrent: trackers only (no DHT, no peer exchange)".into(),
            );
        }
        let dht = self.shared.dht.clone()?;
        self.shown.snap.dht = Some(DhtRow::default());
        let port = self
            .shared
            .listen_port
            .load(std::sync::atomic::Ordering::Relaxed);
        let (tx, rx) = watch::channel(self.wants_peers());
        self.sources.dht_wanting = Some(tx);
        let hashes = SwarmHashes::new(self.given.meta.info_hash, self.given.meta.hybrid_v2_hash());
        // Made only with the DHT on: a channel preallocates its first block of slots.
        let (reports, from_task) = mpsc::unbounded_channel();
        Some((spawn(dht, hashes, port, rx, reports), from_task))
    }

    fn wants_peers(&self) -> bool {
        !self.run.complete && !self.run.interface_down && self.peers.active().count() < WANT_PEERS
    }

    /// Called every tick: tells the task whether to look more often.
    pub(crate) fn dht_tick(&mut self) {
        let want = self.wants_peers();
        if let Some(tx) = &self.sources.dht_wanting {
            tx.send_if_modified(|w| std::mem::replace(w, want) != want);
        }
    }

    pub(crate) fn on_dht(&mut self, r: DhtReport) {
        let now = std::time::Instant::now();
        let at = self.shown.started.elapsed();
        let Some(row) = self.shown.snap.dht.as_mut() else {
            return;
        };
        match r {
            DhtReport::Nodes(n) => row.nodes = n,
            DhtReport::Started => row.searching = true,
            DhtReport::Peer(addr, under_v2) => {
                if self.peers.add([addr], PeerSource::Dht, now) > 0 {
                    if under_v2 {
                        self.peers.mark_v2_swarm(&[addr]);
                    }
                    self.dial_new_peers(now);
                }
            }
            DhtReport::Done {
                peers,
                nodes,
                announced,
            } => {
                row.searching = false;
                row.lookups += 1;
                row.last_peers = peers;
                row.last_at = Some(at);
                row.nodes = nodes;
                let and = if announced { ", announced" } else { "" };
                self.log(
                    LogLevel::Info,
                    format!("DHT: {peers} peers from {nodes} nodes{and}"),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{next_lookup, spawn, DhtReport, ANNOUNCE_EVERY, QUICK_FIRST, QUICK_MAX};
    use crate::dht::Dht;
    use crate::dht::DhtConfig;
    use std::time::Duration;
    use tokio::sync::{mpsc, watch};
    use tokio::time::Instant;

    #[test]
    fn a_thin_announce_is_made_again_soon_and_a_full_one_in_twenty_minutes() {
        let now = Instant::now();
        let mut quick = QUICK_FIRST;
        // Thin (or wanting peers): 15 s, 30 s, 60 s ... up to 5 min.
        assert_eq!(
            next_lookup(now, true, Some(now), &mut quick),
            now + QUICK_FIRST
        );
        assert_eq!(
            next_lookup(now, true, Some(now), &mut quick),
            now + 2 * QUICK_FIRST
        );
        for _ in 0..10 {
            next_lookup(now, true, Some(now), &mut quick);
        }
        assert_eq!(
            next_lookup(now, true, Some(now), &mut quick),
            now + QUICK_MAX
        );
        // The table grew: the next announce is a full interval after the last.
        assert_eq!(
            next_lookup(now, false, Some(now), &mut quick),
            now + ANNOUNCE_EVERY
        );
        assert_eq!(quick, QUICK_FIRST, "the quick schedule starts over");
        // Never announced (no node yet): try again soon.
        assert_eq!(next_lookup(now, false, None, &mut quick), now + QUICK_FIRST);
    }

    /// Two nodes on loopback: a torrent's task on the first announces, and a lookup on the
    /// second finds the announced port.
    #[tokio::test]
    async fn the_task_announces_and_reports() {
        let sock_a = std::sync::Arc::new(tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap());
        let sock_b = std::sync::Arc::new(tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap());
        let addr_b = sock_b.local_addr().unwrap();
        let (a, _ta) = Dht::spawn(
            DhtConfig {
                bootstrap: vec![addr_b.to_string()],
                ..DhtConfig::default()
            },
            std::sync::Arc::clone(&sock_a),
        );
        let (b, _tb) = Dht::spawn(DhtConfig::default(), std::sync::Arc::clone(&sock_b));
        for (sock, node) in [(sock_a, a.clone()), (sock_b, b.clone())] {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 2048];
                while let Ok((n, from)) = sock.recv_from(&mut buf).await {
                    node.incoming(&buf[..n], from);
                }
            });
        }
        let (tx, mut rx) = mpsc::unbounded_channel();
        let (_want_tx, want_rx) = watch::channel(true);
        let task = spawn(a, [7; 20].into(), 4242, want_rx, tx);
        let done = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(r) = rx.recv().await {
                if let DhtReport::Done { announced, .. } = r {
                    return announced;
                }
            }
            false
        })
        .await
        .expect("a lookup ends");
        assert!(done, "the first lookup announces once the table has a node");
        // "Announced" means the announce_peer left a; b stores it when its datagram queue
        // gets there, so b's lookup is asked again (bounded) until the announce has landed.
        let mut got = None;
        for _ in 0..50 {
            let mut peers = b.get_peers([7; 20], None).await;
            got = tokio::time::timeout(Duration::from_secs(10), peers.recv())
                .await
                .expect("b's lookup ends");
            if got.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(got.map(|p| p.port()), Some(4242));
        task.abort();
    }
}
