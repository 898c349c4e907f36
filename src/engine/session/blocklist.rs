//! The session's blocklist: read from its path or URL at start, again every
//! `blocklist_every` and when asked (`ttui blocklist update`, the RPC's `blocklist-update`),
//! and put in force in the shared filter every dial and accept reads (`peer/ip_filter.rs`).
//! A list that fails to download or parse leaves the one in force as it is, and says so in
//! the log and in the status.
//!
//! The parsing is pure (`protocol/blocklist.rs`) and runs on a blocking thread: a list of a
//! million ranges takes a fraction of a second that the async threads should not lose.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};

use crate::engine::api::{BlocklistStatus, RequestError};
use crate::engine::peer::ip_filter::IpFilter;
use crate::protocol::blocklist::{self, BlocklistError, Parsed};

/// Most bytes a downloaded list may have (compressed): the largest public lists are a few
/// MiB gzipped.
const MAX_DOWNLOAD: usize = 64 << 20;
/// How long a download may take, all of it.
const DOWNLOAD_TIME: Duration = Duration::from_secs(120);

/// Why a list could not be read; the list in force stays.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LoadError {
    #[error("{0}")]
    File(std::io::Error),
    #[error("download: {0}")]
    Fetch(#[from] reqwest::Error),
    #[error("download: HTTP {0}")]
    Status(u16),
    #[error("download: over {} MiB", MAX_DOWNLOAD >> 20)]
    TooLarge,
    #[error("download: took over {}s", DOWNLOAD_TIME.as_secs())]
    Timeout,
    #[error("{0}")]
    Parse(#[from] BlocklistError),
    #[error("the reading thread ended")]
    Thread,
}

type Reply = oneshot::Sender<Result<BlocklistStatus, RequestError>>;

/// A blocklist asked for that could not be read at the start: the run does not begin.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("blocklist {list}: {reason}")]
pub(crate) struct BlocklistLoadError {
    /// The list's path or URL, as given.
    pub list: String,
    pub reason: String,
}

/// The loader's handle, kept by the manager.
pub(crate) struct Loader {
    asks: mpsc::UnboundedSender<Reply>,
    status: watch::Receiver<BlocklistStatus>,
    filter: Arc<IpFilter>,
}

impl Loader {
    /// Starts the loader of `source` on the current runtime; it ends with the handle.
    pub(crate) fn spawn(source: String, every: Duration, filter: Arc<IpFilter>) -> Loader {
        let (asks, rx) = mpsc::unbounded_channel();
        let (status_tx, status) = watch::channel(BlocklistStatus {
            source: source.clone(),
            ..BlocklistStatus::default()
        });
        let first = tokio::time::Instant::now();
        tokio::spawn(run(
            source,
            (every, first),
            Arc::clone(&filter),
            rx,
            status_tx,
        ));
        Loader {
            asks,
            status,
            filter,
        }
    }

    /// Reads the list at `source` first and puts it in force before returning, then goes on
    /// as `spawn` does: a run of one torrent dials at once, so it must not start before the
    /// list does. A list that cannot be read is an error (one line) rather than a download
    /// that ignores it.
    pub(crate) async fn start_loaded(
        source: String,
        every: Duration,
        filter: Arc<IpFilter>,
    ) -> Result<Loader, BlocklistLoadError> {
        let (status_tx, status) = watch::channel(BlocklistStatus {
            source: source.clone(),
            ..BlocklistStatus::default()
        });
        let outcome = load(&source).await;
        if let Err(e) = &outcome {
            return Err(BlocklistLoadError {
                list: source.clone(),
                reason: e.to_string(),
            });
        }
        let _ = apply(&source, outcome, &filter, &status_tx);
        let (asks, rx) = mpsc::unbounded_channel();
        let next = tokio::time::Instant::now() + every.max(MIN_EVERY);
        tokio::spawn(run(
            source,
            (every, next),
            Arc::clone(&filter),
            rx,
            status_tx,
        ));
        Ok(Loader {
            asks,
            status,
            filter,
        })
    }

    /// Read the list again; `reply` gets the status after it.
    pub(crate) fn update(&self, reply: Reply) {
        if let Err(e) = self.asks.send(reply) {
            let _ = e.0.send(Err(RequestError::Stopped));
        }
    }

    /// The status with the counters as they are now.
    pub(crate) fn status(&self) -> BlocklistStatus {
        let mut s = self.status.borrow().clone();
        (s.refused_incoming, s.refused_dials) = self.filter.refused();
        s
    }
}

/// The shortest time between two reads of the list.
const MIN_EVERY: Duration = Duration::from_secs(60);

/// Reads the list at `next`, then every `every`, and whenever asked.
async fn run(
    source: String,
    (every, mut next): (Duration, tokio::time::Instant),
    filter: Arc<IpFilter>,
    mut asks: mpsc::UnboundedReceiver<Reply>,
    status: watch::Sender<BlocklistStatus>,
) {
    let every = every.max(MIN_EVERY);
    loop {
        let reply = tokio::select! {
            _ = tokio::time::sleep_until(next) => None,
            ask = asks.recv() => match ask {
                Some(r) => Some(r),
                None => return,
            },
        };
        let outcome = load(&source).await;
        let answer = apply(&source, outcome, &filter, &status);
        if let Some(r) = reply {
            let _ = r.send(answer);
        }
        next = tokio::time::Instant::now() + every;
    }
}

/// Puts a loaded list in force, or keeps the old one and says why.
fn apply(
    source: &str,
    outcome: Result<Parsed, LoadError>,
    filter: &IpFilter,
    status: &watch::Sender<BlocklistStatus>,
) -> Result<BlocklistStatus, RequestError> {
    let (incoming, dials) = filter.refused();
    match outcome {
        Ok(p) => {
            let (ranges, bad) = (p.set.len(), p.bad_lines);
            filter.replace(p.set);
            tracing::info!(
                "blocklist {source}: {ranges} ranges in force ({bad} bad lines skipped)"
            );
            status.send_modify(|s| {
                s.ranges = ranges;
                s.bad_lines = bad;
                s.loaded_at = Some(crate::engine::torrent::report::unix_now());
                s.error = None;
            });
            let mut s = status.borrow().clone();
            (s.refused_incoming, s.refused_dials) = (incoming, dials);
            Ok(s)
        }
        Err(e) => {
            let kept = status.borrow().ranges;
            let words = format!(
                "blocklist update from {source} failed: {e}; the list in force ({kept} ranges) stays"
            );
            tracing::warn!("{words}");
            status.send_modify(|s| s.error = Some(e.to_string()));
            Err(RequestError::Blocklist(words))
        }
    }
}

/// Reads and parses the list at `source` (an http(s) URL, else a path).
pub(crate) async fn load(source: &str) -> Result<Parsed, LoadError> {
    if source.starts_with("http://") || source.starts_with("https://") {
        let body = tokio::time::timeout(DOWNLOAD_TIME, fetch(source))
            .await
            .map_err(|_| LoadError::Timeout)??;
        tokio::task::spawn_blocking(move || blocklist::parse(&body).map_err(LoadError::from))
            .await
            .map_err(|_| LoadError::Thread)?
    } else {
        let path = std::path::PathBuf::from(source);
        tokio::task::spawn_blocking(move || {
            let file = std::fs::File::open(&path).map_err(LoadError::File)?;
            Ok(blocklist::parse_reader(file)?)
        })
        .await
        .map_err(|_| LoadError::Thread)?
    }
}

async fn fetch(url: &str) -> Result<Vec<u8>, LoadError> {
    let mut resp = reqwest::Client::new().get(url).send().await?;
    if !resp.status().is_success() {
        return Err(LoadError::Status(resp.status().as_u16()));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await? {
        if body.len() + chunk.len() > MAX_DOWNLOAD {
            return Err(LoadError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
