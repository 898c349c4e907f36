//! The diagnostic commands: `peers`, `handshake`, `probe`.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};

use crate::engine::api::PeerEnd;
use crate::engine::connect::{connect_and_handshake, read_ext_client};
use crate::protocol::metainfo::Metainfo;
use crate::protocol::peer_id::{decode_client, hex, our_peer_id};
use crate::protocol::text::shorten;
use crate::tracker::{self, AnnounceRequest, Event, Progress};

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Runtime::new().map_err(|e| format!("tokio runtime: {e}"))
}

/// What announcing to every tracker gave.
pub struct Announced {
    /// Distinct peers over all replies, sorted.
    pub peers: Vec<SocketAddr>,
    /// One line per tracker saying how it went.
    pub lines: Vec<String>,
    /// Trackers that answered with a peer list (possibly empty).
    pub answered: usize,
    pub tried: usize,
}

/// Announces to every tracker of every tier in parallel.
pub async fn announce_all(meta: &Metainfo, port: u16) -> Announced {
    let http = tracker::http_client().unwrap_or_default();
    let peer_id = our_peer_id();
    let req = AnnounceRequest {
        info_hash: meta.info_hash,
        peer_id,
        port,
        progress: Progress {
            uploaded: 0,
            downloaded: 0,
            left: meta.info.total_length,
        },
        event: Event::Started,
        numwant: 200,
    };
    let urls: Vec<String> = meta.trackers.iter().flatten().cloned().collect();
    let results =
        futures::future::join_all(urls.iter().map(|u| tracker::announce(u, &req, &http))).await;
    let mut peers = BTreeSet::new();
    let mut lines = Vec::new();
    let mut stopped = Vec::new();
    for (url, r) in urls.iter().zip(results) {
        match r {
            Ok(resp) => {
                // The tracker may list our own announce: a loopback address with the port we
                // reported is us, not a peer.
                let others: BTreeSet<SocketAddr> = resp
                    .peers
                    .into_iter()
                    .filter(|a| {
                        !(a.port() == port && (a.ip().is_loopback() || a.ip().is_unspecified()))
                    })
                    .collect();
                lines.push(format!("{}: {} peers", shorten(url), others.len()));
                peers.extend(others);
                stopped.push(url.clone());
            }
            Err(e) => lines.push(format!("{}: {e}", shorten(url))),
        }
    }
    // We are not staying in the swarm: say so, so the tracker does not hand us out.
    let stop = AnnounceRequest {
        event: Event::Stopped,
        ..req
    };
    let _ = tokio::time::timeout(
        Duration::from_secs(3),
        futures::future::join_all(stopped.iter().map(|u| tracker::announce(u, &stop, &http))),
    )
    .await;
    Announced {
        peers: peers.into_iter().collect(),
        lines,
        answered: stopped.len(),
        tried: urls.len(),
    }
}

/// Asks the DHT for the torrent's peers with a node of our own on an ephemeral UDP port,
/// bootstrapped from `bootstrap`: one lookup (no announce), bounded in time. Returns the
/// peers and a line saying how it went.
pub async fn dht_peers(info_hash: [u8; 20], bootstrap: Vec<String>) -> (Vec<SocketAddr>, String) {
    use crate::dht::{is_krpc, Dht, DhtConfig};
    let sock = match tokio::net::UdpSocket::bind("0.0.0.0:0").await {
        Ok(s) => std::sync::Arc::new(s),
        Err(e) => return (Vec::new(), format!("DHT: no UDP socket: {e}")),
    };
    let cfg = DhtConfig {
        bootstrap,
        ..DhtConfig::default()
    };
    let (dht, task) = Dht::spawn(cfg, std::sync::Arc::clone(&sock));
    let recv = {
        let (sock, dht) = (std::sync::Arc::clone(&sock), dht.clone());
        tokio::spawn(async move {
            let mut buf = vec![0u8; 2048];
            while let Ok((n, from)) = sock.recv_from(&mut buf).await {
                if is_krpc(&buf[..n]) {
                    dht.incoming(&buf[..n], from);
                }
            }
        })
    };
    let start = Instant::now();
    let mut nodes = 0;
    while start.elapsed() < Duration::from_secs(10) {
        nodes = dht.stats().await.map_or(0, |s| s.nodes);
        if nodes > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut found = BTreeSet::new();
    if nodes > 0 {
        let mut rx = dht.get_peers(info_hash, None).await;
        let end = tokio::time::Instant::now() + Duration::from_secs(30);
        while let Ok(Some(p)) = tokio::time::timeout_at(end, rx.recv()).await {
            found.insert(p);
        }
        nodes = dht.stats().await.map_or(nodes, |s| s.nodes);
    }
    dht.shutdown().await;
    recv.abort();
    task.abort();
    let line = format!("DHT: {} peers from {nodes} nodes", found.len());
    (found.into_iter().collect(), line)
}

/// `ttui peers`: the trackers' peers and (unless `dht` is None or the torrent is private)
/// the DHT's, one ip:port a line on stdout; where they came from on stderr.
pub fn peers(meta: &Metainfo, port: u16, dht: Option<Vec<String>>) -> Result<i32, String> {
    let dht = dht.filter(|b| !b.is_empty() && !meta.info.private);
    if meta.trackers.is_empty() && dht.is_none() {
        return Err("the torrent lists no trackers (and the DHT is off)".into());
    }
    let (a, (from_dht, dht_line)) = runtime()?.block_on(async {
        let lookup = async {
            match dht {
                Some(b) => dht_peers(meta.info_hash, b).await,
                None => (Vec::new(), String::new()),
            }
        };
        tokio::join!(announce_all(meta, port), lookup)
    });
    for l in &a.lines {
        eprintln!("{l}");
    }
    if !dht_line.is_empty() {
        eprintln!("{dht_line}");
    }
    if a.answered == 0 && from_dht.is_empty() {
        return Err(format!(
            "no tracker answered ({} tried), no peers known",
            a.tried
        ));
    }
    let all: BTreeSet<SocketAddr> = a.peers.iter().chain(&from_dht).copied().collect();
    for p in &all {
        println!("{p}");
    }
    eprintln!(
        "{} distinct peers from {} of {} trackers and {} from the DHT",
        all.len(),
        a.answered,
        a.tried,
        from_dht.len()
    );
    Ok(0)
}

pub struct ProbeResult {
    pub addr: SocketAddr,
    pub result: Result<(String, [u8; 20]), PeerEnd>,
    pub took: Duration,
}

/// One handshake; the client comes from the BEP 10 `v` string when the peer sends one
/// within a moment, else from its peer id.
pub async fn probe_one(meta: &Metainfo, addr: SocketAddr) -> ProbeResult {
    let t0 = Instant::now();
    let result = match connect_and_handshake(addr, None, meta.info_hash, our_peer_id(), || {}).await
    {
        Err(e) => Err(e),
        Ok((mut stream, hs, _)) => {
            let took = t0.elapsed();
            let from_v = if hs.supports_extensions() {
                read_ext_client(&mut stream, meta.info.num_pieces(), Duration::from_secs(2)).await
            } else {
                None
            };
            let client = from_v
                .or_else(|| decode_client(&hs.peer_id))
                .unwrap_or_else(|| "unknown client".to_string());
            return ProbeResult {
                addr,
                result: Ok((client, hs.peer_id)),
                took,
            };
        }
    };
    ProbeResult {
        addr,
        result,
        took: t0.elapsed(),
    }
}

pub fn handshake(meta: &Metainfo, addr: SocketAddr) -> Result<i32, String> {
    let r = runtime()?.block_on(probe_one(meta, addr));
    match r.result {
        Ok((client, id)) => {
            println!("Peer ID: {}", hex(&id));
            println!("Client: {client}");
            if let Some(by_id) = decode_client(&id) {
                if by_id != client {
                    println!("Client by peer id: {by_id}");
                }
            }
            println!("Time: {} ms", r.took.as_millis());
            Ok(0)
        }
        Err(e) => Err(format!("{addr}: {e}")),
    }
}

pub fn probe(meta: &Metainfo, extra: &[SocketAddr], no_trackers: bool) -> Result<i32, String> {
    runtime()?.block_on(async {
        let mut addrs: BTreeSet<SocketAddr> = extra.iter().copied().collect();
        if !no_trackers && !meta.trackers.is_empty() {
            let a = announce_all(meta, 6881).await;
            for l in &a.lines {
                eprintln!("{l}");
            }
            addrs.extend(a.peers);
        }
        if addrs.is_empty() {
            return Err("no peers to probe (no tracker answered and no --peer given)".to_string());
        }
        let mut results: Vec<ProbeResult> = stream::iter(addrs)
            .map(|a| probe_one(meta, a))
            .buffer_unordered(32)
            .collect()
            .await;
        results.sort_by_key(|r| r.addr);
        println!("{:<24} {:<40} {:>8}", "ADDRESS", "RESULT", "TIME");
        for r in &results {
            let text = match &r.result {
                Ok((client, _)) => client.clone(),
                Err(e) => e.to_string(),
            };
            println!(
                "{:<24} {:<40} {:>5} ms",
                r.addr.to_string(),
                text,
                r.took.as_millis()
            );
        }
        let ok = results.iter().filter(|r| r.result.is_ok()).count();
        println!("{ok} of {} peers answered the handshake", results.len());
        Ok(0)
    })
}
