//! torrent-get's fields: each of rpc-spec 3.3's keys, from a torrent's line (always), its
//! own settings (goals and limits), its file list and its full snapshot (files, peers,
//! trackers, pieces), each gathered only when a field asked needs it. Status numbers, `eta`,
//! `percentDone`, `isFinished` and the goals' modes follow the spec's definitions; the
//! The RPC reference (assets/man/rpc.md, in `ttui man`) lists which ttui state gives which number.

use std::fmt::Write;

use base64::Engine;
use serde_json::{json, Value};

mod out;

pub(crate) use out::Out;

use crate::engine::api::tracker_hostname as host_of;
use crate::engine::api::{
    FilePriority, PeerSource, Phase, PieceState, Set, Settings, Snapshot, TorrentLine,
    TorrentSettings, TorrentState, TrackerStatus,
};

/// Transmission's speed unit: its RPC's `KBps` are 1000 bytes a second.
pub(crate) const SPEED_K: u64 = 1000;
/// Transmission's defaults where a torrent follows no goal of the session.
const DEFAULT_RATIO: f64 = 2.0;
const DEFAULT_IDLE_MINUTES: u64 = 30;

/// What a field may need beyond the line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Needs {
    pub settings: bool,
    pub files: bool,
    pub snapshot: bool,
}

/// Fields that read the torrent's full snapshot (it is built while someone subscribes).
const SNAPSHOT_FIELDS: &[&str] = &[
    "availability",
    "corruptEver",
    "files",
    "fileStats",
    "magnetLink",
    "peers",
    "peersFrom",
    "pieceCount",
    "pieceSize",
    "pieces",
    "priorities",
    "trackerList",
    "trackerStats",
    "trackers",
    "ttui-explain",
    "wanted",
    "webseedsSendingToUs",
];
const SETTINGS_FIELDS: &[&str] = &[
    "downloadLimit",
    "downloadLimited",
    "eta",
    "etaIdle",
    "secondsSeeding",
    "seedIdleLimit",
    "seedIdleMode",
    "seedRatioLimit",
    "seedRatioMode",
    "uploadLimit",
    "uploadLimited",
];
/// `fileCount` is what Sonarr and Radarr ask for (Transmission names it `file-count`).
const FILES_FIELDS: &[&str] = &["file-count", "fileCount"];

pub(crate) fn needs(fields: &[String]) -> Needs {
    let any = |set: &[&str]| fields.iter().any(|f| set.contains(&f.as_str()));
    Needs {
        settings: any(SETTINGS_FIELDS),
        files: any(FILES_FIELDS),
        snapshot: any(SNAPSHOT_FIELDS),
    }
}

/// Transmission's `tr_torrent_activity`.
pub(crate) mod status {
    pub(crate) const STOPPED: u8 = 0;
    pub(crate) const CHECK_WAIT: u8 = 1;
    pub(crate) const CHECK: u8 = 2;
    pub(crate) const DOWNLOAD_WAIT: u8 = 3;
    pub(crate) const DOWNLOAD: u8 = 4;
    pub(crate) const SEED_WAIT: u8 = 5;
    pub(crate) const SEED: u8 = 6;
}

/// The status number of a torrent's line, from its one status (`api::Status`). A move
/// stops the torrent while its files go (Transmission has no word for it).
pub(crate) fn status_of(t: &TorrentLine) -> u8 {
    let s = t.status();
    match s.phase {
        Phase::Paused | Phase::Error(_) | Phase::Moving { .. } => status::STOPPED,
        Phase::Checking { .. } if s.check_waits() => status::CHECK_WAIT,
        Phase::Checking { .. } => status::CHECK,
        Phase::Metadata | Phase::Downloading if s.queued() => status::DOWNLOAD_WAIT,
        Phase::Metadata | Phase::Downloading => status::DOWNLOAD,
        Phase::Seeding | Phase::Complete if s.queued() => status::SEED_WAIT,
        Phase::Seeding | Phase::Complete => status::SEED,
    }
}

/// Everything known of one torrent for one request.
pub(crate) struct View<'a> {
    pub line: &'a TorrentLine,
    pub session: &'a Settings,
    pub own: Option<&'a TorrentSettings>,
    /// Its files, padding left out (when a field asked needs the count).
    pub file_count: Option<usize>,
    pub snap: Option<&'a Snapshot>,
    pub now: u64,
    pub max_peers: usize,
    /// The explainer's worst finding, when asked.
    pub explain: Option<String>,
}

impl View<'_> {
    fn left(&self) -> u64 {
        self.line
            .wanted_bytes
            .saturating_sub(self.line.verified_bytes)
    }

    /// The ratio goal in force: (mode, limit) as Transmission gives them.
    fn ratio_goal(&self) -> (u8, f64, Option<f64>) {
        let session = self.session.goals.ratio;
        match self.own.map(|o| o.ratio) {
            Some(Set::To(r)) => (1, r, Some(r)),
            Some(Set::Off) => (2, session.unwrap_or(DEFAULT_RATIO), None),
            _ => (0, session.unwrap_or(DEFAULT_RATIO), session),
        }
    }

    fn idle_goal(&self) -> (u8, u64, Option<u64>) {
        let minutes = |d: std::time::Duration| d.as_secs().div_ceil(60);
        let session = self.session.goals.idle.map(minutes);
        match self.own.map(|o| o.idle) {
            Some(Set::To(d)) => (1, minutes(d), Some(minutes(d))),
            Some(Set::Off) => (2, session.unwrap_or(DEFAULT_IDLE_MINUTES), None),
            _ => (0, session.unwrap_or(DEFAULT_IDLE_MINUTES), session),
        }
    }

    /// rpc-spec's `eta`: seconds, or -1 (not available) / -2 (unknown).
    fn eta(&self) -> i64 {
        let t = self.line;
        match status_of(t) {
            status::DOWNLOAD if t.down_rate < 1.0 => -2,
            status::DOWNLOAD => (self.left() as f64 / t.down_rate) as i64,
            status::SEED => match self.ratio_goal().2 {
                None => -1,
                Some(_) if t.up_rate < 1.0 => -2,
                Some(goal) => {
                    let base = if t.downloaded > 0 {
                        t.downloaded
                    } else {
                        t.verified_bytes
                    };
                    let want = (goal * base as f64) as u64;
                    (want.saturating_sub(t.uploaded) as f64 / t.up_rate) as i64
                }
            },
            _ => -1,
        }
    }

    /// Stopped after reaching a seeding goal (rpc-spec's `isFinished`).
    fn finished(&self) -> bool {
        self.left() == 0
            && matches!(self.line.state, TorrentState::Paused)
            && self.line.goal_reached
    }

    fn own_limit(&self, down: bool) -> u64 {
        self.own.map_or(0, |o| if down { o.down } else { o.up })
    }
}

/// The value of `field` for one torrent; None for a key this server does not know.
pub(crate) fn value<'a>(field: &str, v: &View<'a>) -> Option<Out<'a>> {
    let t = v.line;
    let snap = v.snap;
    Some(match field {
        "addedDate" => Out::from(t.added),
        "availability" => js(snap.map_or_else(Vec::new, availability)),
        "bandwidthPriority" => Out::from(0),
        "comment" | "creator" | "group" | "primary-mime-type" | "torrentFile" => Out::from(""),
        "corruptEver" => Out::from(snap.map_or(0, |s| s.wasted)),
        "dateCreated" | "editDate" | "haveUnchecked" | "manualAnnounceTime" => Out::from(0),
        "desiredAvailable" => Out::from(if t.peers > 0 { v.left() } else { 0 }),
        "doneDate" => Out::from(t.completed.unwrap_or(0)),
        // Transmission's downloadDir is where the data ends up, not the incomplete dir.
        "downloadDir" => Out::from(
            t.final_dir
                .as_ref()
                .unwrap_or(&t.save_path)
                .to_string_lossy(),
        ),
        "downloadedEver" => Out::from(t.downloaded),
        "downloadLimit" => Out::from(kbps(v.own_limit(true))),
        "downloadLimited" => Out::from(v.own_limit(true) > 0),
        "uploadLimit" => Out::from(kbps(v.own_limit(false))),
        "uploadLimited" => Out::from(v.own_limit(false) > 0),
        "error" => Out::from(if matches!(t.state, TorrentState::Error(_)) {
            3
        } else {
            0
        }),
        "errorString" => Out::from(match &t.state {
            TorrentState::Error(e) => e.as_str(),
            _ => "",
        }),
        "eta" => Out::from(v.eta()),
        "etaIdle" => Out::from(-1),
        "file-count" | "fileCount" => Out::from(file_count(v)),
        "files" => js(snap.map_or_else(Vec::new, |s| {
            s.files
                .iter()
                .map(|f| json!({"bytesCompleted": f.done, "length": f.size, "name": f.path}))
                .collect()
        })),
        "fileStats" => js(snap.map_or_else(Vec::new, |s| {
            s.files
                .iter()
                .map(|f| {
                    json!({
                        "bytesCompleted": f.done,
                        "wanted": f.priority.wanted(),
                        "priority": priority_number(f.priority),
                    })
                })
                .collect()
        })),
        "hashString" => Out::from(crate::protocol::hex::encode(&t.info_hash)),
        "haveValid" => Out::from(t.verified_bytes),
        "honorsSessionLimits" => Out::from(true),
        "id" => Out::from(t.id.0),
        "isFinished" => Out::from(v.finished()),
        "isStalled" => Out::from(t.queue.is_some_and(|q| q.is_stalled())),
        // Transmission 4.1 (`sequential_download` in JSON-RPC): ttui's in-order mode. It
        // always starts from the first wanted piece (a stream's reader moves its own window).
        "sequentialDownload" => Out::from(t.sequential),
        "sequentialDownloadFromPiece" => Out::from(0),
        "labels" => Out::from(&t.labels[..]),
        "leftUntilDone" => Out::from(v.left()),
        "magnetLink" => Out::from(t.magnet_link()),
        "maxConnectedPeers" | "peer-limit" => Out::from(v.max_peers),
        "metadataPercentComplete" => Out::from(if t.fetching_metadata() { 0.0 } else { 1.0 }),
        "name" => Out::from(t.name.as_str()),
        "peers" => js(snap.map_or_else(Vec::new, peers)),
        "peersConnected" => Out::from(t.peers),
        "peersFrom" => Out::Json(peers_from(snap)),
        "peersGettingFromUs" => Out::from(if t.up_rate >= 1.0 {
            t.peers_interested.max(1)
        } else {
            0
        }),
        "peersSendingToUs" => Out::from(if t.down_rate >= 1.0 {
            t.seeds.max(1).min(t.peers.max(1))
        } else {
            0
        }),
        "percentComplete" => Out::from(fraction(t.verified_bytes, t.total_bytes)),
        "percentDone" => Out::from(t.progress()),
        "pieces" => Out::from(snap.map_or_else(String::new, pieces)),
        "pieceCount" => Out::from(snap.map_or(0, |s| s.num_pieces)),
        "pieceSize" => Out::from(snap.map_or(0, |s| s.piece_length)),
        "priorities" => js(snap.map_or_else(Vec::new, |s| {
            s.files
                .iter()
                .map(|f| priority_number(f.priority))
                .collect()
        })),
        "queuePosition" => Out::from(t.queue_position),
        "rateDownload" => Out::from(t.down_rate as u64),
        "rateUpload" => Out::from(t.up_rate as u64),
        "recheckProgress" => Out::from(match t.state {
            TorrentState::Checking { checked, total, .. } if total > 0 => {
                f64::from(checked) / f64::from(total)
            }
            _ => 0.0,
        }),
        "secondsDownloading" => Out::from(match t.completed {
            Some(done) => done.saturating_sub(t.added),
            None if status_of(t) == status::DOWNLOAD => v.now.saturating_sub(t.added),
            None => 0,
        }),
        "secondsSeeding" => Out::from(v.own.map_or(0, |o| o.seeded.as_secs())),
        "seedIdleLimit" => Out::from(v.idle_goal().1),
        "seedIdleMode" => Out::from(v.idle_goal().0),
        "seedRatioLimit" => Out::from(v.ratio_goal().1),
        "seedRatioMode" => Out::from(v.ratio_goal().0),
        "sizeWhenDone" => Out::from(t.wanted_bytes),
        "startDate" => Out::from(t.added),
        "status" => Out::from(status_of(t)),
        "totalSize" => Out::from(t.total_bytes),
        "trackers" => js(snap.map_or_else(Vec::new, trackers)),
        "trackerList" => Out::from(snap.map_or_else(String::new, tracker_list)),
        "trackerStats" => js(snap.map_or_else(Vec::new, |s| tracker_stats(s, v.now))),
        "uploadedEver" => Out::from(t.uploaded),
        "uploadRatio" => Out::from(t.ratio()),
        "wanted" => js(snap.map_or_else(Vec::new, |s| {
            s.files
                .iter()
                .map(|f| u8::from(f.priority.wanted()))
                .collect()
        })),
        "webseeds" => js(Vec::<String>::new()),
        "webseedsSendingToUs" => Out::from(snap.map_or(0, |s| {
            s.peers
                .iter()
                .filter(|p| p.source == PeerSource::WebSeed && p.down_rate >= 1.0)
                .count()
        })),
        "ttui-explain" => Out::from(v.explain.clone()),
        // The facts of the one table every face reads (`api::facts`).
        other => {
            let fact = crate::engine::api::facts::by_rpc(other)?;
            Out::Json(fact.rpc_value(t, v.now)?)
        }
    })
}

/// A nested value (a list of files, peers, trackers) as `json!` builds it.
fn js(v: impl serde::Serialize) -> Out<'static> {
    Out::Json(serde_json::to_value(v).unwrap_or(Value::Null))
}

fn kbps(bytes: u64) -> u64 {
    bytes / SPEED_K
}

fn fraction(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        (a as f64 / b as f64).min(1.0)
    }
}

fn file_count(v: &View) -> usize {
    match (v.snap, v.file_count) {
        (Some(s), _) if !s.files.is_empty() => s.files.len(),
        (_, Some(n)) => n,
        _ => 0,
    }
}

/// Transmission's `tr_priority_t`: -1 low, 0 normal, 1 high (a skipped file is unwanted,
/// at normal priority).
pub(crate) fn priority_number(p: FilePriority) -> i8 {
    match p {
        FilePriority::Low => -1,
        FilePriority::High => 1,
        FilePriority::Normal | FilePriority::Skip => 0,
    }
}

fn availability(s: &Snapshot) -> Vec<i32> {
    s.pieces
        .iter()
        .zip(s.availability.iter().copied().chain(std::iter::repeat(0)))
        .map(|(p, n)| {
            if *p == PieceState::Verified {
                -1
            } else {
                i32::from(n)
            }
        })
        .collect()
}

/// The verified pieces as a bitfield, base64 (rpc-spec's `pieces`).
fn pieces(s: &Snapshot) -> String {
    let mut bits = vec![0u8; s.pieces.len().div_ceil(8)];
    for (i, p) in s.pieces.iter().enumerate() {
        if *p == PieceState::Verified {
            bits[i / 8] |= 0x80 >> (i % 8);
        }
    }
    base64::engine::general_purpose::STANDARD.encode(bits)
}

fn peers(s: &Snapshot) -> Vec<Value> {
    s.peers
        .iter()
        .filter(|p| p.stage == crate::engine::api::PeerStage::Connected)
        .map(|p| {
            let mut flags = String::new();
            if p.down_rate >= 1.0 {
                flags.push('D');
            }
            if p.up_rate >= 1.0 {
                flags.push('U');
            }
            if p.encryption
                .is_some_and(|e| e != crate::net::Encryption::Plain)
            {
                flags.push('E');
            }
            if p.source == PeerSource::Incoming {
                flags.push('I');
            }
            json!({
                "address": p.addr.ip().to_string(),
                "clientName": p.client.clone().unwrap_or_default(),
                "clientIsChoked": p.flags.am_choking,
                "clientIsInterested": p.flags.am_interested,
                "flagStr": flags,
                "isDownloadingFrom": p.down_rate >= 1.0,
                "isEncrypted": p.encryption.is_some_and(|e| e != crate::net::Encryption::Plain),
                "isIncoming": p.source == PeerSource::Incoming,
                "isUploadingTo": p.up_rate >= 1.0,
                "isUTP": p.transport == Some(crate::net::TransportKind::Utp),
                "peerIsChoked": p.flags.peer_choking,
                "peerIsInterested": p.flags.peer_interested,
                "port": p.addr.port(),
                "progress": p.progress,
                "rateToClient": p.down_rate as u64,
                "rateToPeer": p.up_rate as u64,
            })
        })
        .collect()
}

fn peers_from(snap: Option<&Snapshot>) -> Value {
    let mut n = [0usize; 7];
    for p in snap.iter().flat_map(|s| &s.peers) {
        if p.stage != crate::engine::api::PeerStage::Connected {
            continue;
        }
        let i = match p.source {
            PeerSource::Dht => 1,
            PeerSource::Incoming => 2,
            PeerSource::Pex => 5,
            PeerSource::Lsd => 3,
            PeerSource::Tracker | PeerSource::WebSeed => 6,
            PeerSource::Manual => 0,
        };
        n[i] += 1;
    }
    json!({
        "fromCache": n[0], "fromDht": n[1], "fromIncoming": n[2], "fromLpd": n[3],
        "fromLtep": n[4], "fromPex": n[5], "fromTracker": n[6],
    })
}

/// The site's name: the host's second-level label (`tracker.example.org` → `example`).
fn sitename(url: &str) -> String {
    let host = host_of(url);
    if host.parse::<std::net::IpAddr>().is_ok() || host.starts_with('[') {
        return host.to_string();
    }
    let labels: Vec<&str> = host.split('.').collect();
    match labels.len() {
        0 | 1 => host.to_string(),
        n => labels[n - 2].to_string(),
    }
}

fn scrape_of(url: &str) -> String {
    match url.rfind("/announce") {
        Some(i) if url.starts_with("http") => {
            format!("{}/scrape{}", &url[..i], &url[i + "/announce".len()..])
        }
        _ => String::new(),
    }
}

fn trackers(s: &Snapshot) -> Vec<Value> {
    s.trackers
        .iter()
        .enumerate()
        .map(|(i, t)| {
            json!({
                "announce": t.url, "id": i, "scrape": scrape_of(&t.url),
                "sitename": sitename(&t.url), "tier": t.tier,
            })
        })
        .collect()
}

fn tracker_list(s: &Snapshot) -> String {
    let mut out = String::new();
    let mut tier = None;
    for t in &s.trackers {
        if tier.is_some_and(|x| x != t.tier) {
            out.push('\n');
        }
        tier = Some(t.tier);
        let _ = writeln!(out, "{}", t.url);
    }
    out
}

fn tracker_stats(s: &Snapshot, now: u64) -> Vec<Value> {
    s.trackers
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let (state, ok, result, peers) = match &t.status {
                // tr_tracker_state: 0 inactive, 1 waiting, 2 queued, 3 active.
                TrackerStatus::NotContacted => (1, false, String::new(), 0),
                TrackerStatus::Announcing => (3, false, String::new(), 0),
                TrackerStatus::Ok { peers } => (1, true, "Success".to_string(), *peers),
                TrackerStatus::Failed(e) => (1, false, e.clone(), 0),
            };
            let last = t
                .last_announce
                .map_or(0, |d| now.saturating_sub(d.as_secs()));
            let next = t.next_announce.map_or(0, |d| now + d.as_secs());
            json!({
                "announceState": state, "announce": t.url, "downloadCount": -1,
                "hasAnnounced": t.last_announce.is_some(), "hasScraped": false,
                "host": host_of(&t.url), "id": i, "isBackup": false,
                "lastAnnouncePeerCount": peers, "lastAnnounceResult": result,
                "lastAnnounceStartTime": last, "lastAnnounceSucceeded": ok,
                "lastAnnounceTime": last, "lastAnnounceTimedOut": false,
                "lastScrapeResult": "", "lastScrapeStartTime": 0, "lastScrapeSucceeded": false,
                "lastScrapeTime": 0, "lastScrapeTimedOut": false,
                "leecherCount": t.leechers.map_or(-1, i64::from),
                "nextAnnounceTime": next, "nextScrapeTime": 0, "scrapeState": 0,
                "scrape": scrape_of(&t.url), "seederCount": t.seeders.map_or(-1, i64::from),
                "sitename": sitename(&t.url), "tier": t.tier,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests;
