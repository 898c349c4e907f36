//! The diagnostic commands: `peers`, `handshake`, `probe`.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};

use crate::engine::api::PeerEnd;
use crate::engine::host::{connect_encrypted, read_ext_client};
use crate::net::{Encryption, EncryptionPolicy};
use crate::protocol::hex;
use crate::protocol::metainfo::Metainfo;
use crate::protocol::peer_id::{decode_client, our_peer_id};
use crate::protocol::text::shorten;
use crate::tracker::{self, AnnounceEvent, AnnounceRequest, Progress};

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Runtime::new().map_err(|e| format!("tokio runtime: {e}"))
}

/// What announcing to every tracker gave.
pub(crate) struct Announced {
    /// Distinct peers over all replies, sorted.
    pub peers: Vec<SocketAddr>,
    /// One line per tracker saying how it went.
    pub lines: Vec<String>,
    /// Trackers that answered with a peer list (possibly empty).
    pub answered: usize,
    pub tried: usize,
}

/// Announces to every tracker of every tier in parallel.
pub(crate) async fn announce_all(meta: &Metainfo, port: u16) -> Announced {
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
        event: AnnounceEvent::Started,
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
        event: AnnounceEvent::Stopped,
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
pub(crate) async fn dht_peers(
    info_hash: [u8; 20],
    bootstrap: Vec<String>,
) -> (Vec<SocketAddr>, String) {
    use crate::dht::{is_krpc, Dht, DhtConfig};
    let sock = match tokio::net::UdpSocket::bind("0.0.0.0:0").await {
        Ok(s) => std::sync::Arc::new(s),
        Err(e) => return (Vec::new(), format!("DHT: no UDP socket: {e}")),
    };
    let cfg = DhtConfig {
        bootstrap,
        ..DhtConfig::default()
    };
    // IPv6 too (BEP 32) when it can reach anything, on a socket of its own.
    let known = crate::engine::host::literal_addrs(&cfg.bootstrap);
    let sock6 = crate::engine::host::bind_dht6(0, &known);
    let sockets = crate::dht::Sockets {
        v4: Some(std::sync::Arc::clone(&sock)),
        v6: sock6.clone(),
    };
    let (dht, task) = Dht::spawn(cfg, sockets);
    let recv: Vec<_> = std::iter::once(sock)
        .chain(sock6)
        .map(|sock| {
            let dht = dht.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 2048];
                while let Ok((n, from)) = sock.recv_from(&mut buf).await {
                    if is_krpc(&buf[..n]) {
                        dht.incoming(&buf[..n], from);
                    }
                }
            })
        })
        .collect();
    let start = Instant::now();
    let mut nodes = 0;
    while start.elapsed() < Duration::from_secs(10) {
        nodes = dht.stats().await.map_or(0, |s| s.all_nodes());
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
        nodes = dht.stats().await.map_or(nodes, |s| s.all_nodes());
    }
    dht.shutdown().await;
    for r in recv {
        r.abort();
    }
    task.abort();
    let line = format!("DHT: {} peers from {nodes} nodes", found.len());
    (found.into_iter().collect(), line)
}

/// `ttui peers`: the trackers' peers and (unless `dht` is None or the torrent is private)
/// the DHT's, one ip:port a line on stdout; where they came from on stderr.
pub(crate) fn peers(meta: &Metainfo, port: u16, dht: Option<Vec<String>>) -> Result<i32, String> {
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

pub(crate) struct ProbeResult {
    pub addr: SocketAddr,
    pub result: Result<(String, [u8; 20]), PeerEnd>,
    pub took: Duration,
    /// The payload encryption of the connection that answered.
    pub encryption: Option<Encryption>,
    /// With `prefer`, which ways the peer answered: "RC4 only", "plain only" or "both".
    pub ways: Option<&'static str>,
}

/// One handshake by `policy`; the client comes from the BEP 10 `v` string when the peer
/// sends one within a moment, else from its peer id.
async fn handshake_once(
    meta: &Metainfo,
    addr: SocketAddr,
    policy: EncryptionPolicy,
) -> (
    Result<(String, [u8; 20]), PeerEnd>,
    Duration,
    Option<Encryption>,
) {
    let t0 = Instant::now();
    // A handshake or probe runs over TCP: it has no session and so no UDP socket for uTP.
    let tcp = crate::engine::host::Transports {
        policy: crate::engine::api::TransportPolicy::Tcp,
        utp: None,
        filter: Default::default(),
        proxy: None,
    };
    let id = our_peer_id();
    let dial = connect_encrypted(addr, None, meta.info_hash, id, policy, &tcp, false, || {});
    match dial.await {
        Err(e) => (Err(e), t0.elapsed(), None),
        Ok((mut stream, hs, _, enc, _)) => {
            let took = t0.elapsed();
            let from_v = if hs.supports_extensions() {
                read_ext_client(&mut stream, meta.info.num_pieces(), Duration::from_secs(2)).await
            } else {
                None
            };
            let client = from_v
                .or_else(|| decode_client(&hs.peer_id))
                .unwrap_or_else(|| "unknown client".to_string());
            (Ok((client, hs.peer_id)), took, Some(enc))
        }
    }
}

/// Which ways a peer answered, from an RC4-only and a plain-only attempt.
pub(crate) fn ways_word(rc4: bool, plain: bool) -> Option<&'static str> {
    match (rc4, plain) {
        (true, true) => Some("both"),
        (true, false) => Some("RC4 only"),
        (false, true) => Some("plain only"),
        (false, false) => None,
    }
}

/// A handshake by `policy`. With `prefer`, two in turn (one at a time, so the peer never sees
/// two connections from us at once): RC4 only, then plain only, to say which ways it answers.
pub(crate) async fn probe_one(
    meta: &Metainfo,
    addr: SocketAddr,
    policy: EncryptionPolicy,
) -> ProbeResult {
    if policy != EncryptionPolicy::Prefer {
        let (result, took, encryption) = handshake_once(meta, addr, policy).await;
        return ProbeResult {
            addr,
            result,
            took,
            encryption,
            ways: None,
        };
    }
    let rc4 = handshake_once(meta, addr, EncryptionPolicy::Require).await;
    // Not worth a second dial when nothing listens.
    let unreachable = matches!(
        rc4.0,
        Err(PeerEnd::Refused | PeerEnd::ConnectTimeout | PeerEnd::Unreachable(_))
    );
    if unreachable {
        let (result, took, encryption) = rc4;
        return ProbeResult {
            addr,
            result,
            took,
            encryption,
            ways: None,
        };
    }
    let plain = handshake_once(meta, addr, EncryptionPolicy::Off).await;
    let ways = ways_word(rc4.0.is_ok(), plain.0.is_ok());
    let (result, took, encryption) = if use_rc4_answer(&rc4.0, &plain.0) {
        rc4
    } else {
        (plain.0.map_err(closed_both_ways), plain.1, plain.2)
    };
    ProbeResult {
        addr,
        result,
        took,
        encryption,
        ways,
    }
}

/// The RC4 answer when there is one; else the plain one, whose failure says more (a peer
/// that closes only a plain handshake may require encryption).
fn use_rc4_answer<T>(rc4: &Result<T, PeerEnd>, plain: &Result<T, PeerEnd>) -> bool {
    matches!(
        (rc4, plain),
        (Ok(_), _) | (Err(_), Err(PeerEnd::Refused | PeerEnd::ConnectTimeout))
    )
}

/// The plain attempt's failure when the RC4 attempt failed too: a peer that closes both ways
/// does not want encryption (it is full, has one connection per address, or lacks the
/// torrent), so the hint about encryption would mislead.
fn closed_both_ways(e: PeerEnd) -> PeerEnd {
    match e {
        PeerEnd::ClosedMayNeedEncryption => PeerEnd::ClosedDuringHandshake,
        e => e,
    }
}

/// How the encryption column reads: which ways with `prefer`, else the payload's.
fn encryption_word(r: &ProbeResult) -> String {
    match (r.ways, r.encryption) {
        (Some(w), _) => w.to_string(),
        (None, Some(e)) => e.to_string(),
        (None, None) => "-".to_string(),
    }
}

pub(crate) fn handshake(
    meta: &Metainfo,
    addr: SocketAddr,
    policy: EncryptionPolicy,
) -> Result<i32, String> {
    let r = runtime()?.block_on(probe_one(meta, addr, policy));
    let encryption = encryption_word(&r);
    match r.result {
        Ok((client, id)) => {
            println!("Peer ID: {}", hex::encode(&id));
            println!("Client: {client}");
            if let Some(by_id) = decode_client(&id) {
                if by_id != client {
                    println!("Client by peer id: {by_id}");
                }
            }
            println!("Time: {} ms", r.took.as_millis());
            println!("Encryption: {encryption}");
            Ok(0)
        }
        Err(e) => Err(format!("{addr}: {e}")),
    }
}

pub(crate) fn probe(
    meta: &Metainfo,
    extra: &[SocketAddr],
    no_trackers: bool,
    policy: EncryptionPolicy,
) -> Result<i32, String> {
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
            .map(|a| probe_one(meta, a, policy))
            .buffer_unordered(32)
            .collect()
            .await;
        results.sort_by_key(|r| r.addr);
        println!(
            "{:<24} {:<40} {:>8}  ENCRYPTION",
            "ADDRESS", "RESULT", "TIME"
        );
        for r in &results {
            let text = match &r.result {
                Ok((client, _)) => client.clone(),
                Err(e) => e.to_string(),
            };
            println!(
                "{:<24} {:<40} {:>5} ms  {}",
                r.addr.to_string(),
                text,
                r.took.as_millis(),
                encryption_word(r)
            );
        }
        let ok = results.iter().filter(|r| r.result.is_ok()).count();
        println!("{ok} of {} peers answered the handshake", results.len());
        Ok(0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ways_a_peer_answered_in_words() {
        assert_eq!(ways_word(true, true), Some("both"));
        assert_eq!(ways_word(true, false), Some("RC4 only"));
        // Closed both ways: no "it may require encryption" hint.
        let closed: Result<(), PeerEnd> = Err(PeerEnd::ClosedDuringHandshake);
        let plain_closed: Result<(), PeerEnd> = Err(PeerEnd::ClosedMayNeedEncryption);
        assert!(!use_rc4_answer(&closed, &plain_closed));
        assert_eq!(
            plain_closed.clone().map_err(closed_both_ways),
            Err(PeerEnd::ClosedDuringHandshake)
        );
        assert!(use_rc4_answer(&Ok(()), &plain_closed));
        assert_eq!(ways_word(false, true), Some("plain only"));
        assert_eq!(ways_word(false, false), None);
    }
}
