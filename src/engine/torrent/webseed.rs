//! Web seeds (BEP 19, `url-list`): one task per URL fetches whole pieces with HTTP range
//! requests. A piece is claimed from the picker like a peer's requests, so peers and the web
//! seed never fetch the same piece, and its blocks go the way a peer's blocks go (hash, write,
//! `have`), so a web seed gets no rule of its own about verified pieces. A failing web seed
//! backs off and shows why in its own row of the peer table.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::task::JoinHandle;

use crate::engine::api::{PeerEnd, PeerRow, PeerSource, PeerStage};
use crate::engine::peer::link::{PeerEvent, TorrentLink};
use crate::engine::torrent::shared::{Event, Shared};
use crate::engine::torrent::stats::RateWindow;
use crate::protocol::geometry::BlockRef;
use crate::protocol::metainfo::Info;

mod fetch;
use fetch::FetchError;

const BACKOFF_MIN: Duration = Duration::from_secs(5);
const BACKOFF_MAX: Duration = Duration::from_secs(300);
/// How long a task waits before asking the picker again when peers hold every missing piece.
const IDLE_POLL: Duration = Duration::from_millis(500);
/// Failure lines kept for the coordinator's log between two ticks.
const MAX_PENDING_LOG: usize = 8;

/// What the task reports and the coordinator shows.
#[derive(Debug)]
struct Status {
    addr: Option<SocketAddr>,
    stage: PeerStage,
    end: Option<PeerEnd>,
    since: Instant,
    in_flight: u32,
    /// Failures in a row (the row's "×N").
    attempts: u32,
    /// Lines for the torrent's log, taken by the coordinator on its tick.
    pending_log: Vec<String>,
}

#[derive(Debug)]
pub(crate) struct WebSeedLive {
    downloaded: AtomicU64,
    /// Set when the torrent gives up on this web seed (bad data); the task stops.
    stop: AtomicBool,
    status: Mutex<Status>,
}

impl WebSeedLive {
    fn status(&self) -> std::sync::MutexGuard<'_, Status> {
        self.status.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn set(&self, stage: PeerStage, end: Option<PeerEnd>) {
        let mut s = self.status();
        if s.stage != stage || s.end != end {
            s.since = Instant::now();
        }
        s.stage = stage;
        s.end = end;
    }

    fn fail(&self, url: &str, end: PeerEnd, retry_in: Option<Duration>) {
        let mut s = self.status();
        let why = match &end {
            PeerEnd::WebSeed(r) => r.clone(),
            other => other.to_string(),
        };
        let line = match retry_in {
            Some(d) => format!("web seed {url}: {why}; retrying in {} s", d.as_secs()),
            None => format!("web seed {url}: {why}; not used again"),
        };
        if s.pending_log.len() < MAX_PENDING_LOG {
            s.pending_log.push(line);
        }
        s.since = Instant::now();
        s.attempts += 1;
        s.stage = PeerStage::Failed;
        s.end = Some(end);
    }
}

/// The coordinator's side of one web seed.
pub(crate) struct WebSeed {
    pub url: String,
    /// The id its blocks carry in the picker (never one a peer connection gets).
    pub conn: u64,
    pub hash_failures: u32,
    live: Arc<WebSeedLive>,
    down: RateWindow,
    task: JoinHandle<()>,
}

/// Starts one task per URL (none for a complete torrent).
pub(crate) fn start_all(urls: &[String], shared: &Arc<Shared>, complete: bool) -> Vec<WebSeed> {
    if complete {
        return Vec::new();
    }
    urls.iter()
        .enumerate()
        .map(|(i, url)| {
            let live = Arc::new(WebSeedLive {
                downloaded: AtomicU64::new(0),
                stop: AtomicBool::new(false),
                status: Mutex::new(Status {
                    addr: None,
                    stage: PeerStage::Connecting,
                    end: None,
                    since: Instant::now(),
                    in_flight: 0,
                    attempts: 0,
                    pending_log: Vec::new(),
                }),
            });
            // Peer connections count up from 1; web seeds count down from the top.
            let conn = u64::MAX - i as u64;
            let task = tokio::spawn(tracing::Instrument::instrument(
                run(Arc::clone(shared), url.clone(), conn, Arc::clone(&live)),
                tracing::info_span!("webseed", url = %crate::tracker::clean_text(url.as_bytes())),
            ));
            WebSeed {
                url: url.clone(),
                conn,
                hash_failures: 0,
                live,
                down: RateWindow::new(Duration::from_secs(3)),
                task,
            }
        })
        .collect()
}

impl WebSeed {
    /// Samples the rate and hands over the lines to log.
    pub(crate) fn tick(&mut self, now: Instant) -> Vec<String> {
        self.down
            .sample(now, self.live.downloaded.load(Ordering::Relaxed));
        std::mem::take(&mut self.live.status().pending_log)
    }

    /// A piece it contributed to failed its hash; true when it is now given up on.
    pub(crate) fn hash_failed(&mut self, sole: bool, ban_after: u32) -> bool {
        self.hash_failures += if sole { 2 } else { 1 };
        if self.hash_failures >= ban_after && !self.live.stop.swap(true, Ordering::Relaxed) {
            let end = PeerEnd::HashFailures(self.hash_failures.div_ceil(2));
            self.live.fail(&self.url, end, None);
            return true;
        }
        false
    }

    pub(crate) fn row(&self, now: Instant, num_pieces: u32) -> PeerRow {
        let s = self.live.status();
        let addr = s
            .addr
            .unwrap_or(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)));
        let mut row = PeerRow::new(addr, PeerSource::WebSeed, s.stage);
        row.client = Some(self.url.clone());
        row.end = s.end.clone();
        row.since = now.saturating_duration_since(s.since);
        row.down_rate = self.down.rate();
        row.downloaded = self.live.downloaded.load(Ordering::Relaxed);
        row.progress = if num_pieces > 0 { 1.0 } else { 0.0 };
        row.requests_in_flight = s.in_flight;
        row.hash_failures = self.hash_failures;
        row.attempts = s.attempts;
        row.in_play = !self.live.stop.load(Ordering::Relaxed) && !self.task.is_finished();
        row
    }

    pub(crate) fn stop(&self) {
        self.task.abort();
    }
}

/// Blocks of one claimed piece; dropping it unanswered gives them back to the picker, so a
/// failure, a panic or an abort (quit) never strands a piece.
struct Claim {
    shared: Arc<Shared>,
    blocks: Vec<BlockRef>,
}

impl Drop for Claim {
    fn drop(&mut self) {
        if !self.blocks.is_empty() {
            let blocks = std::mem::take(&mut self.blocks);
            self.shared.download().picker.release(blocks);
        }
    }
}

async fn run(shared: Arc<Shared>, url: String, conn: u64, live: Arc<WebSeedLive>) {
    let client = match fetch::client(&crate::engine::torrent::start::egress(
        shared.bind,
        shared.proxy.as_deref(),
        None,
        None,
    )) {
        Ok(c) => c,
        Err(e) => {
            live.fail(&url, PeerEnd::WebSeed(format!("http client: {e}")), None);
            return;
        }
    };
    let mut backoff = BACKOFF_MIN;
    loop {
        if live.stop.load(Ordering::Relaxed) {
            return;
        }
        if shared.download().picker.is_complete() {
            live.set(PeerStage::Disconnected, Some(PeerEnd::NotNeeded));
            return;
        }
        if shared.paused.load(Ordering::Relaxed) {
            tokio::time::sleep(IDLE_POLL).await;
            continue;
        }
        if crate::net::device::is_down() {
            // The kill switch: no request while the interface is down (its socket could
            // not leave anyway, and each failure would grow the back-off). It says so in
            // its row; the next fetch starts at once when the interface is back.
            live.set(PeerStage::Disconnected, Some(PeerEnd::InterfaceDown));
            backoff = BACKOFF_MIN;
            tokio::time::sleep(IDLE_POLL).await;
            continue;
        }
        let result = match resolve(&url, &live).await {
            Ok(()) => fetch_one(&shared, &client, &url, conn, &live).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(true) => backoff = BACKOFF_MIN,
            Ok(false) => tokio::time::sleep(IDLE_POLL).await,
            Err(reason) => {
                live.fail(&url, PeerEnd::WebSeed(reason.to_string()), Some(backoff));
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(BACKOFF_MAX);
            }
        }
    }
}

/// The server's socket address for the row (looked up until it is known).
async fn resolve(url: &str, live: &WebSeedLive) -> Result<(), FetchError> {
    if live.status().addr.is_some() {
        return Ok(());
    }
    let parsed = reqwest::Url::parse(url).map_err(|e| FetchError::BadUrl(e.to_string()))?;
    let host = parsed.host_str().ok_or(FetchError::NoHost)?.to_string();
    let port = parsed.port_or_known_default().unwrap_or(80);
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let lookup = tokio::net::lookup_host((host.as_str(), port));
    let mut addrs = tokio::time::timeout(Duration::from_secs(10), lookup)
        .await
        .map_err(|_| FetchError::ResolveTimedOut(host.clone()))?
        .map_err(|e| FetchError::Resolve {
            host: host.clone(),
            reason: e.to_string(),
        })?;
    let addr = addrs
        .next()
        .ok_or_else(|| FetchError::NoAddress(host.clone()))?;
    live.status().addr = Some(addr);
    Ok(())
}

/// Claims one piece, fetches it and hands its blocks on. `Ok(false)`: nothing to claim now.
async fn fetch_one(
    shared: &Arc<Shared>,
    client: &reqwest::Client,
    url: &str,
    conn: u64,
    live: &WebSeedLive,
) -> Result<bool, FetchError> {
    let mut claim = Claim {
        shared: Arc::clone(shared),
        blocks: Vec::new(),
    };
    let Some(index) = shared.download().picker.claim_piece(&mut claim.blocks) else {
        return Ok(false);
    };
    live.status().in_flight = claim.blocks.len() as u32;
    live.set(PeerStage::Connected, None);
    let fetched = fetch::piece(client, url, &shared.info, index).await;
    live.status().in_flight = 0;
    let data = fetched?;
    live.status().attempts = 0;
    let len = data.len() as u64;
    deliver(shared, conn, index, data, std::mem::take(&mut claim.blocks));
    live.downloaded
        .fetch_add(piece_len(&shared.info, index), Ordering::Relaxed);
    // The down limit paces a web seed by the piece: the next request waits until this
    // piece's bytes are paid for (the same buckets as the peers').
    if let Some(t) = shared.rates.down.reserve(len) {
        tokio::time::sleep_until(t).await;
    }
    Ok(true)
}

fn piece_len(info: &Info, index: u32) -> u64 {
    let start = index as u64 * info.piece_length as u64;
    (info.total_length.saturating_sub(start)).min(info.piece_length as u64)
}

/// The blocks of a fetched piece, through the same path as a peer's blocks.
fn deliver(shared: &Arc<Shared>, conn: u64, index: u32, data: Bytes, blocks: Vec<BlockRef>) {
    shared
        .downloaded
        .fetch_add(data.len() as u64, Ordering::Relaxed);
    for r in blocks {
        let (a, b) = (r.begin as usize, (r.begin + r.length) as usize);
        let Some(block) = (b <= data.len()).then(|| data.slice(a..b)) else {
            // `fetch::piece` checked the length; a short piece would only fail its hash.
            shared.release(vec![r]);
            continue;
        };
        let got = shared.receive(r, block, conn);
        if got.duplicate {
            shared.wasted.fetch_add(r.length as u64, Ordering::Relaxed);
        }
        if got.endgame {
            shared.send(Event::Peer(PeerEvent::BlockDone {
                index,
                begin: r.begin,
                conn,
            }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed(live: Arc<WebSeedLive>) -> WebSeed {
        WebSeed {
            url: "http://127.0.0.9:8000/".into(),
            conn: u64::MAX,
            hash_failures: 0,
            live,
            down: RateWindow::new(Duration::from_secs(3)),
            task: tokio::spawn(std::future::pending()),
        }
    }

    fn live() -> Arc<WebSeedLive> {
        Arc::new(WebSeedLive {
            downloaded: AtomicU64::new(0),
            stop: AtomicBool::new(false),
            status: Mutex::new(Status {
                addr: Some(SocketAddr::from(([127, 0, 0, 9], 8000))),
                stage: PeerStage::Connected,
                end: None,
                since: Instant::now(),
                in_flight: 0,
                attempts: 0,
                pending_log: Vec::new(),
            }),
        })
    }

    #[tokio::test]
    async fn a_failure_shows_in_its_row_and_the_log() {
        let mut w = seed(live());
        w.live.fail(
            &w.url,
            PeerEnd::WebSeed("HTTP 404".into()),
            Some(BACKOFF_MIN),
        );
        w.live.fail(
            &w.url,
            PeerEnd::WebSeed("HTTP 404".into()),
            Some(BACKOFF_MIN),
        );
        let row = w.row(Instant::now(), 10);
        assert_eq!(row.source, PeerSource::WebSeed);
        assert_eq!(row.addr, SocketAddr::from(([127, 0, 0, 9], 8000)));
        assert_eq!(row.stage, PeerStage::Failed);
        assert_eq!(row.client.as_deref(), Some("http://127.0.0.9:8000/"));
        assert!(row.in_play, "it backs off and tries again");
        assert_eq!(
            crate::ui::widgets::peer_words::state_text(&row),
            "failed: web seed: HTTP 404 (×2)"
        );
        let lines = w.tick(Instant::now());
        assert_eq!(
            lines,
            vec!["web seed http://127.0.0.9:8000/: HTTP 404; retrying in 5 s"; 2]
        );
        assert!(
            w.tick(Instant::now()).is_empty(),
            "each line is logged once"
        );
        w.stop();
    }

    #[tokio::test]
    async fn bad_data_stops_it_once() {
        let mut w = seed(live());
        assert!(!w.hash_failed(true, 4));
        assert!(w.hash_failed(true, 4));
        assert!(!w.hash_failed(true, 4), "given up on once");
        let row = w.row(Instant::now(), 10);
        assert!(!row.in_play);
        assert_eq!(row.end, Some(PeerEnd::HashFailures(2)));
        assert_eq!(w.tick(Instant::now()).len(), 1);
        w.stop();
    }
}
