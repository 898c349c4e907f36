//! Magnet links: fetch the torrent's `info` dictionary from peers (BEP 9, ut_metadata over
//! the BEP 10 extension protocol) and check it against the magnet's info hashes (SHA-1 for a
//! `btih`, SHA-256 for a `btmh`). A v2-only torrent's piece layers come next from the same
//! peer (`layers.rs`). A v2-only .torrent that lacks some layers (`NeedsLayers`) goes the same
//! way as a magnet of its hash, its info known: the BEP 9 step is skipped and only the layers
//! it lacks are asked for. The engine also uses `MetadataMsg` to serve the dictionary to peers
//! that ask.

use std::collections::BTreeMap;

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures::stream::{FuturesUnordered, StreamExt};
use futures::SinkExt;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use tokio_util::codec::Framed;

use crate::dht::Dht;

use crate::engine::peer::connect::connect_encrypted_as;
use crate::engine::peer::dial::Transports;
use crate::engine::peer::pex::UT_METADATA_ID;
use crate::engine::peer::stream::PeerStream;
use crate::engine::torrent::metadata_wait::{DhtSeen, Sources, Spent};
use crate::net::EncryptionPolicy;
use crate::protocol::extension::{self, ExtHandshake, MetadataMsg as ExtMetadataMsg};
use crate::protocol::handshake::Handshake;
use crate::protocol::magnet::Magnet;
use crate::protocol::merkle::Hash;
use crate::protocol::message::{Message, MessageCodec};
use crate::protocol::metainfo::layers::NeedsLayers;
use crate::protocol::metainfo::{layers as meta_layers, Metainfo};
use crate::tracker::{self, AnnounceEvent, AnnounceRequest, Progress};

pub(crate) const METADATA_PIECE: usize = extension::METADATA_PIECE;

#[cfg(test)]
/// A ut_metadata header in the shape the peer task reads (`msg_type` 0 request, 1 data,
/// 2 reject). New code should use `protocol::extension::MetadataMsg`.
#[derive(Debug)]
pub(crate) struct MetadataMsg {
    pub msg_type: i64,
    pub piece: i64,
    pub total_size: Option<i64>,
}

#[cfg(test)]
/// Splits a ut_metadata message into its header and the data that follows it (bounded
/// decode; see `protocol::extension`).
pub(crate) fn parse_metadata_msg(payload: &[u8]) -> Option<(MetadataMsg, &[u8])> {
    let (msg, rest) = ExtMetadataMsg::decode(payload).ok()?;
    let (msg_type, total_size) = match msg {
        ExtMetadataMsg::Request { .. } => (0, None),
        ExtMetadataMsg::Data { total_size, .. } => {
            (1, total_size.and_then(|s| i64::try_from(s).ok()))
        }
        ExtMetadataMsg::Reject { .. } => (2, None),
    };
    let head = MetadataMsg {
        msg_type,
        piece: i64::from(msg.piece()),
        total_size,
    };
    Some((head, rest))
}

#[cfg(test)]
/// The answer to a ut_metadata request for `piece` of `info` (data, or reject when out of range).
pub(crate) fn metadata_reply(info: &[u8], piece: i64) -> Vec<u8> {
    match u32::try_from(piece) {
        Ok(p) => extension::metadata_reply(info, p),
        // Not a piece index we could ever have: reject with the number echoed saturated.
        Err(_) => ExtMetadataMsg::Reject { piece: u32::MAX }.encode(&[]),
    }
}

/// Why one source could not give a magnet's metadata. The fetch goes on with the next source
/// and shows this on the source's line.
#[derive(Debug, thiserror::Error)]
pub(crate) enum MetadataError {
    #[error("{0}")]
    Connect(crate::engine::api::PeerEnd),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Wire(#[from] crate::protocol::message::WireError),
    #[error("peer does not support the extension protocol")]
    NoExtensions,
    #[error("extended handshake: {0}")]
    ExtHandshake(crate::protocol::extension::ExtError),
    #[error("peer does not offer the metadata")]
    NotOffered,
    #[error("metadata too large")]
    TooLarge,
    #[error("timed out fetching metadata")]
    TimedOut,
    #[error("closed by peer")]
    Closed,
    #[error("malformed metadata message: {0}")]
    Malformed(crate::protocol::extension::ExtError),
    #[error("metadata piece out of range")]
    OutOfRange,
    #[error("metadata piece of the wrong length")]
    WrongLength,
    #[error("metadata does not match the info hash")]
    HashMismatch,
    #[error("peer rejected the metadata request")]
    Rejected,
    #[error("metadata from peers: {0}")]
    Metainfo(crate::protocol::metainfo::MetainfoError),
    #[error("metadata from peers does not match the magnet's info hash")]
    NotTheMagnets,
    #[error("sent piece-layer hashes that do not verify (bad data): {0}")]
    BadHashes(crate::protocol::merkle::proof::ProofError),
    #[error("a piece-layer request we cannot make: {0}")]
    OurRequest(crate::protocol::merkle::proof::ProofError),
    #[error("peer rejected a piece-layer hash request")]
    HashesRejected,
    #[error("timed out waiting for piece-layer hashes")]
    HashesTimedOut,
}

impl MetadataError {
    /// Whether the peer sent data that is wrong, not merely none: such a peer is not asked
    /// again, and the download does not dial it.
    pub(crate) fn is_bad_data(&self) -> bool {
        matches!(self, MetadataError::BadHashes(_))
    }
}

/// What one peer delivered: the info dictionary (it matches the magnet's hashes) and, for a
/// v2-only torrent, each longer file's piece layer, proven against its `pieces root`.
#[derive(Debug)]
pub(crate) struct Fetched {
    pub info: Vec<u8>,
    pub layers: BTreeMap<Hash, Vec<Hash>>,
}

/// Builds a Metainfo from a verified info dictionary, its proven piece layers and the
/// magnet's trackers: the .torrent they make is read as a file is (one loader). A .torrent
/// that lacked layers (`known`) is completed with them and keeps its own trackers.
pub(crate) fn metainfo_from_info(
    got: &Fetched,
    magnet: &Magnet,
    known: Option<&NeedsLayers>,
) -> Result<Metainfo, MetadataError> {
    if let Some(known) = known {
        return known.complete(&got.layers).map_err(MetadataError::Metainfo);
    }
    let t = meta_layers::torrent_with_layers(&got.info, None, &got.layers);
    let mut meta = Metainfo::from_bytes(&t).map_err(MetadataError::Metainfo)?;
    // Each hash the link names must match. A `btmh`-only link names a hybrid by its v2 hash
    // alone: its info hash is then the v2 hash cut to 20 bytes, which the hybrid's own (the
    // SHA-1 of its info) is not, and the torrent goes on under the SHA-1 as its .torrent does.
    let v1_matches = !magnet.v1 || meta.info_hash == magnet.info_hash;
    let v2_matches = magnet.info_hash_v2.is_none() || meta.info_hash_v2 == magnet.info_hash_v2;
    if !v1_matches || !v2_matches {
        return Err(MetadataError::NotTheMagnets);
    }
    meta.trackers = magnet.trackers.iter().map(|t| vec![t.clone()]).collect();
    Ok(meta)
}

/// Our handshake for a magnet's fetch: the BEP 52 bit set when the magnet names a v2 hash,
/// as a loaded v2 or hybrid torrent's connections set it (libtorrent answers hash requests
/// only from a peer it knows speaks v2).
fn our_handshake(magnet: &Magnet, our_id: [u8; 20], dht: bool) -> Handshake {
    Handshake::new(magnet.info_hash, our_id)
        .with_dht(dht)
        .with_v2(magnet.info_hash_v2.is_some())
}

#[allow(clippy::too_many_arguments)]
async fn from_peer(
    addr: SocketAddr,
    magnet: &Magnet,
    known: Option<&NeedsLayers>,
    our_id: [u8; 20],
    report: &(dyn Fn(String) + Sync),
    encryption: EncryptionPolicy,
    transports: &Transports,
) -> Result<Fetched, MetadataError> {
    // Dialed like the engine's peers: MSE first with `prefer`, only MSE with `require`, over
    // the transports the session allows.
    let (stream, hs, ..) = connect_encrypted_as(
        addr,
        None,
        our_handshake(magnet, our_id, false),
        encryption,
        transports,
        || {},
    )
    .await
    .map_err(MetadataError::Connect)?;
    report(format!("{addr}: connected"));
    match known {
        Some(known) => layers_only(stream, known).await,
        None => exchange(stream, &hs, magnet).await.map(|(got, _)| got),
    }
}

/// The layers a .torrent lacks, asked of a peer whose handshakes are done: its info is
/// known, so there is no BEP 9 step (and no extension protocol needed: `hash request` is a
/// core BEP 52 message).
async fn layers_only(stream: PeerStream, known: &NeedsLayers) -> Result<Fetched, MetadataError> {
    // The codec's smallest cap (64 KiB) fits a run of 512 hashes with its proof, and the
    // bitfield of any torrent whose layers can be fetched (`layers::MAX_HASHES`).
    let mut framed = Framed::new(stream, MessageCodec::new(0));
    let layers = layers::fetch(&mut framed, known.wanted()).await?;
    let info = known.summary().info_bytes.to_vec();
    Ok(Fetched { info, layers })
}

/// The metadata from a peer that dialed us for a magnet still without it (the session's
/// router hands such connections to the fetch): our handshake goes back, then the same
/// ut_metadata exchange as with a peer we dialed. Also returns the listen port its extended
/// handshake gave, so the download can dial it back.
pub(crate) async fn from_incoming(
    mut stream: PeerStream,
    (hs, answered): (&Handshake, bool),
    (magnet, known): (&Magnet, Option<&NeedsLayers>),
    our_id: [u8; 20],
    dht: bool,
) -> Result<(Fetched, Option<u16>), MetadataError> {
    if !answered {
        let ours = our_handshake(magnet, our_id, dht);
        stream.write_all(&ours.encode()).await?;
    }
    match known {
        // It dialed us, so it listens where it came from.
        Some(known) => layers_only(stream, known).await.map(|got| (got, None)),
        None => exchange(stream, hs, magnet).await,
    }
}

/// BEP 9 over a connection whose handshakes are done: the metadata, checked against the info
/// hashes, a v2-only torrent's piece layers, and the listen port the peer's extended
/// handshake gave.
async fn exchange(
    stream: PeerStream,
    hs: &Handshake,
    magnet: &Magnet,
) -> Result<(Fetched, Option<u16>), MetadataError> {
    if !hs.supports_extensions() {
        return Err(MetadataError::NoExtensions);
    }
    // The piece count is unknown until we have the metadata; the codec's smallest cap (64 KiB)
    // fits a 16 KiB metadata piece and any bitfield of a torrent we could fetch this way.
    let mut framed = Framed::new(stream, MessageCodec::new(0));
    let mut ours = ExtHandshake::default();
    ours.m.insert(extension::UT_METADATA.into(), UT_METADATA_ID);
    let payload = Bytes::from(ours.encode());
    framed.send(Message::Extended { id: 0, payload }).await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut their_id = None;
    let mut their_port = None;
    let mut buf = BytesMut::new();
    let mut size = 0usize;
    let mut got = BTreeSet::new();
    loop {
        let msg = match tokio::time::timeout_at(deadline, framed.next()).await {
            Err(_) => return Err(MetadataError::TimedOut),
            Ok(None) => return Err(MetadataError::Closed),
            Ok(Some(Err(e))) => return Err(e.into()),
            Ok(Some(Ok(m))) => m,
        };
        let Message::Extended { id, payload } = msg else {
            continue;
        };
        if id == 0 {
            let h = ExtHandshake::decode(&payload).map_err(MetadataError::ExtHandshake)?;
            // decode keeps metadata_size within 1..=MAX_METADATA.
            let (Some(ut), Some(total)) = (h.id_of(extension::UT_METADATA), h.metadata_size) else {
                return Err(MetadataError::NotOffered);
            };
            their_id = Some(ut);
            their_port = h.p;
            size = usize::try_from(total).map_err(|_| MetadataError::TooLarge)?;
            buf = BytesMut::zeroed(size);
            for piece in 0..extension::metadata_pieces(total) {
                let piece = u32::try_from(piece).map_err(|_| MetadataError::TooLarge)?;
                let payload = Bytes::from(ExtMetadataMsg::Request { piece }.encode(&[]));
                framed.feed(Message::Extended { id: ut, payload }).await?;
            }
            framed.flush().await?;
        } else if id == UT_METADATA_ID && their_id.is_some() {
            let (head, data) = match ExtMetadataMsg::decode(&payload) {
                Ok(x) => x,
                // BEP 9: message types we do not know are ignored.
                Err(extension::ExtError::UnknownMetadataType(_)) => continue,
                Err(e) => return Err(MetadataError::Malformed(e)),
            };
            match head {
                ExtMetadataMsg::Data { piece, .. } => {
                    let start = (piece as usize).checked_mul(METADATA_PIECE);
                    let Some(start) = start.filter(|s| *s < size) else {
                        return Err(MetadataError::OutOfRange);
                    };
                    let want = (size - start).min(METADATA_PIECE);
                    if data.len() != want {
                        return Err(MetadataError::WrongLength);
                    }
                    buf[start..start + want].copy_from_slice(data);
                    got.insert(start);
                    if got.len() == size.div_ceil(METADATA_PIECE) {
                        if !magnet.matches_info(&buf) {
                            return Err(MetadataError::HashMismatch);
                        }
                        let info = buf.to_vec();
                        // Bytes that match the hash yet are no torrent: the caller's
                        // `metainfo_from_info` says why, as it does for any torrent.
                        let wanted = meta_layers::wanted_layers(&info).unwrap_or_default();
                        let layers = layers::fetch(&mut framed, &wanted).await?;
                        return Ok((Fetched { info, layers }, their_port));
                    }
                }
                ExtMetadataMsg::Reject { .. } => return Err(MetadataError::Rejected),
                ExtMetadataMsg::Request { .. } => {}
            }
        }
    }
}

/// How many peers are asked for the metadata at once.
const PARALLEL: usize = 8;
/// How long the DHT may take to know a node before it is counted out as a source.
const DHT_BOOTSTRAP_WAIT: Duration = Duration::from_secs(15);
const DHT_RETRY_MAX: Duration = Duration::from_secs(30);

async fn announce_all(
    magnet: &Magnet,
    our_id: [u8; 20],
    port: u16,
    egress: &tracker::Egress,
) -> Vec<(String, Result<Vec<SocketAddr>, tracker::TrackerError>)> {
    let http = tracker::http_client_from(egress).unwrap_or_default();
    let schedule = tracker::udp::UdpSchedule::default();
    let req = AnnounceRequest {
        info_hash: magnet.info_hash,
        peer_id: our_id,
        port,
        // Size unknown: any non-zero `left` marks us as a leecher.
        progress: Progress {
            uploaded: 0,
            downloaded: 0,
            left: 1,
        },
        event: AnnounceEvent::Started,
        numwant: 100,
    };
    let results = futures::future::join_all(
        magnet
            .trackers
            .iter()
            .map(|u| tracker::announce_from(u, &req, &http, &schedule, egress)),
    )
    .await;
    magnet
        .trackers
        .iter()
        .zip(results)
        .map(|(url, r)| (url.clone(), r.map(|a| a.peers)))
        .collect()
}

async fn next_dht_peer(rx: &mut Option<mpsc::UnboundedReceiver<SocketAddr>>) -> Option<SocketAddr> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// The trackers' answers; never, once they are in (`None`), so a disabled `select!` branch
/// holds nothing to unwrap.
async fn tracker_results<F: std::future::Future + Unpin>(trackers: &mut Option<F>) -> F::Output {
    match trackers {
        Some(answers) => answers.await,
        None => std::future::pending().await,
    }
}

/// Where a magnet's metadata may come from, and how to reach it: the magnet (`x.pe`, its
/// trackers), `--peer`, the session's DHT, listen port, encryption and transports.
pub(crate) struct Fetcher<'a> {
    pub magnet: &'a Magnet,
    /// A .torrent that lacks piece layers: only those are fetched, its info being known.
    pub known: Option<&'a NeedsLayers>,
    pub extra_peers: &'a [SocketAddr],
    pub our_id: [u8; 20],
    pub port: u16,
    pub dht: Option<&'a Dht>,
    /// Gets a line per event.
    pub report: &'a (dyn Fn(String) + Sync),
    pub encryption: EncryptionPolicy,
    pub transports: &'a Transports,
    /// Where and how announces leave (`--bind`, `--proxy`).
    pub egress: tracker::Egress,
    /// Peers that sent data that is wrong (piece-layer hashes that do not verify): never
    /// asked again, whatever source names them, for as long as the magnet fetches.
    pub bad: std::sync::Mutex<HashSet<SocketAddr>>,
}

impl Fetcher<'_> {
    /// Finds peers (magnet `x.pe`, `--peer`, the magnet's trackers, the DHT when given) and
    /// fetches the metadata from the first that delivers a dictionary matching the info hash.
    /// The DHT is asked again (backing off) until a peer delivers or `until`; without the DHT
    /// (or with one that knows no node), the fetch ends once every source is spent. Either
    /// way the error says what each source gave (`metadata_wait::Sources`).
    pub(crate) async fn fetch(&self, until: Instant) -> Result<Metainfo, Spent> {
        let (magnet, known, our_id, dht) = (self.magnet, self.known, self.our_id, self.dht);
        let what = if known.is_some() {
            "piece layers"
        } else {
            "metadata"
        };
        let (report, encryption, transports) = (self.report, self.encryption, self.transports);
        let started = Instant::now();
        let mut queue: VecDeque<SocketAddr> = magnet
            .peers
            .iter()
            .chain(self.extra_peers)
            .copied()
            .collect();
        let mut seen: HashSet<SocketAddr> = HashSet::new();
        queue.retain(|p| seen.insert(*p));
        let mut trackers = (!magnet.trackers.is_empty())
            .then(|| Box::pin(announce_all(magnet, our_id, self.port, &self.egress)));
        let mut dht_rx: Option<mpsc::UnboundedReceiver<SocketAddr>> = None;
        let (mut dht_next, mut dht_found, mut dht_lookups) =
            (dht.map(|_| Instant::now()), 0usize, 0u32);
        let mut attempts = FuturesUnordered::new();
        let mut sources = Sources {
            dht: if dht.is_some() {
                DhtSeen::NoNode
            } else {
                DhtSeen::Off
            },
            ..Sources::default()
        };
        let spent = |msg: String, sources: &Sources| Spent {
            msg,
            sources: sources.clone(),
            fatal: false,
        };
        let deadline = tokio::time::sleep_until(until.into());
        tokio::pin!(deadline);
        // Peers whose dial failed in a way a later dial may not (closed during the handshake,
        // timed out, refused): dialed again as the download dials (`plan_after_end`: 5, 10,
        // 20 s), so a peer that was busy or starting up is not given up on after one try.
        let mut retries = Retries::default();
        loop {
            queue.extend(retries.due(Instant::now()));
            while attempts.len() < PARALLEL {
                let Some(addr) = queue.pop_front() else { break };
                if self.bad.lock().is_ok_and(|b| b.contains(&addr)) {
                    continue;
                }
                if !retries.tries.contains_key(&addr) {
                    sources.peers_tried += 1;
                }
                attempts.push(async move {
                    let r = from_peer(addr, magnet, known, our_id, report, encryption, transports)
                        .await;
                    (addr, r)
                });
            }
            if attempts.is_empty()
                && trackers.is_none()
                && dht_rx.is_none()
                && dht_next.is_none()
                && retries.is_empty()
            {
                let msg = if sources.peers_tried == 0 {
                    format!("no peers to fetch the {what} from (no tracker answered, no DHT peer, no x.pe or --peer)")
                } else {
                    format!(
                        "no peer delivered the {what} (last: {})",
                        sources.last_error
                    )
                };
                return Err(spent(msg, &sources));
            }
            let due = if dht_rx.is_none() { dht_next } else { None };
            let retry_at = retries.next();
            let timer = async move {
                match due {
                    Some(t) => tokio::time::sleep_until(t.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = &mut deadline => {
                    let msg = format!("timed out fetching the torrent's {what} from peers");
                    return Err(spent(msg, &sources));
                }
                Some((addr, r)) = attempts.next(), if !attempts.is_empty() => match r {
                    Ok(got) => {
                        report(got_words(&got, known, addr));
                        // The bytes match the info hash: no peer can send others for it.
                        return metainfo_from_info(&got, magnet, known).map_err(|e| Spent {
                            fatal: true,
                            ..spent(e.to_string(), &sources)
                        });
                    }
                    Err(e) => {
                        match retries.after(addr, &e, Instant::now()) {
                            Some(wait) => report(format!(
                                "{addr}: {e}; trying again in {}",
                                crate::fmt::duration(wait)
                            )),
                            None => report(format!("{addr}: {e}")),
                        }
                        sources.last_error = e.to_string();
                        if e.is_bad_data() {
                            // Named in the torrent's error line too: it is why we gave up.
                            sources.last_error = format!("{addr} {e}");
                            if let Ok(mut bad) = self.bad.lock() {
                                bad.insert(addr);
                            }
                        }
                    }
                },
                results = tracker_results(&mut trackers), if trackers.is_some() => {
                    trackers = None;
                    for (url, r) in results {
                        match r {
                            Ok(peers) => {
                                sources.trackers_answered += 1;
                                report(format!("{url}: {} peers", peers.len()));
                                queue.extend(peers.into_iter().filter(|p| seen.insert(*p)));
                            }
                            Err(e) => {
                                sources.trackers_failed += 1;
                                report(format!("{url}: {e}"));
                            }
                        }
                    }
                },
                p = next_dht_peer(&mut dht_rx) => match p {
                    Some(addr) => {
                        dht_found += 1;
                        if seen.insert(addr) {
                            queue.push_back(addr);
                        }
                    }
                    None => {
                        dht_rx = None;
                        let nodes = match dht { Some(d) => d.stats().await.map_or(0, |s| s.all_nodes()), None => 0 };
                        report(format!("DHT: {dht_found} peers from {nodes} nodes"));
                        sources.dht = DhtSeen::Asked { peers: dht_found, nodes };
                        dht_found = 0;
                        let wait = Duration::from_secs(2u64 << dht_lookups.min(4)).min(DHT_RETRY_MAX);
                        dht_next = Some(Instant::now() + wait);
                    }
                },
                () = sleep_until_some(retry_at), if retry_at.is_some() => {}
                () = timer => {
                    let Some(d) = dht else { dht_next = None; continue };
                    let nodes = d.stats().await.map_or(0, |s| s.all_nodes());
                    if nodes > 0 {
                        dht_lookups += 1;
                        dht_rx = Some(d.get_peers(magnet.info_hash, None).await);
                    } else if started.elapsed() >= DHT_BOOTSTRAP_WAIT {
                        report("DHT: no node answered".into());
                        dht_next = None;
                    } else {
                        dht_next = Some(Instant::now() + Duration::from_millis(250));
                    }
                }
            }
        }
    }
}

/// Peers to dial again, with how often each was dialed.
#[derive(Default)]
struct Retries {
    tries: HashMap<SocketAddr, u32>,
    at: Vec<(Instant, SocketAddr)>,
}

impl Retries {
    /// A dial of `addr` failed with `e`: when it is dialed again (the wait), or None when it
    /// is not (its data was bad, it has no metadata to give, or it was tried enough).
    fn after(&mut self, addr: SocketAddr, e: &MetadataError, now: Instant) -> Option<Duration> {
        let MetadataError::Connect(end) = e else {
            // It answered: what it said (no metadata, a rejection) will not change soon.
            return None;
        };
        let tries = self.tries.entry(addr).or_insert(0);
        *tries += 1;
        let plan = crate::engine::torrent::peer_entry::plan_after_end(
            end,
            crate::engine::torrent::peer_entry::Plan::Queued,
            crate::engine::api::PeerSource::Manual,
            *tries,
            false,
            now,
        );
        let crate::engine::torrent::peer_entry::Plan::BackingOff(t) = plan else {
            return None;
        };
        self.at.push((t, addr));
        Some(t.saturating_duration_since(now))
    }

    /// Those due at `now`, taken out.
    fn due(&mut self, now: Instant) -> Vec<SocketAddr> {
        let (due, later): (Vec<_>, Vec<_>) = self.at.drain(..).partition(|(t, _)| *t <= now);
        self.at = later;
        due.into_iter().map(|(_, a)| a).collect()
    }

    /// The earliest retry.
    fn next(&self) -> Option<Instant> {
        self.at.iter().map(|(t, _)| *t).min()
    }

    fn is_empty(&self) -> bool {
        self.at.is_empty()
    }
}

async fn sleep_until_some(t: Option<Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(t.into()).await,
        None => std::future::pending().await,
    }
}

/// The line that says what a peer delivered: the metadata, or a .torrent's missing layers.
pub(crate) fn got_words(got: &Fetched, known: Option<&NeedsLayers>, addr: SocketAddr) -> String {
    match known {
        None => format!("metadata ({} bytes) from {addr}", got.info.len()),
        Some(_) => format!(
            "piece layers of {} file(s) ({} hashes) from {addr}, proven against their roots",
            got.layers.len(),
            got.layers.values().map(Vec::len).sum::<usize>()
        ),
    }
}

/// What a layer-less .torrent's fetch is doing, for its line's words; None for a magnet's,
/// whose phase says it (`api::Phase::Metadata`).
pub(crate) fn phase(known: Option<&NeedsLayers>) -> Option<&'static str> {
    known.map(|_| "fetching piece layers from peers")
}

/// How long a one-shot run's magnet may take to get its metadata, whatever its sources.
pub(crate) const FETCH_TIMEOUT: Duration = Duration::from_secs(120);

mod layers;
#[cfg(test)]
mod tests;
