//! The session's accounting: payload bytes uploaded and downloaded, per tracker host and per
//! torrent, per local day, kept across restarts. A private tracker judges a ratio by what it
//! was told, so the ledger counts exactly what trackers are told: each torrent adds the
//! change of the counts its announces carry (`uploaded=`, `downloaded=`) when it updates them
//! (the coordinator's `report_progress`), and its last announce (`stopped`, or the one before
//! it sleeps) carries the counts last added. Summed over a tracker's torrents, the ledger
//! matches the tracker's own sums to the byte.
//!
//! A torrent counts toward each host of its trackers (a tracker is its announce host, the
//! passkey in its path never kept); one without trackers toward "(no tracker)". Trackers'
//! days are kept a year (`TRACKER_DAYS`), then summed into `before`; a torrent's days two
//! months (`TORRENT_DAYS`: enough for this month), its older bytes summed the same way. A
//! removed torrent's account goes once its last day is out of its window: its bytes stay in
//! its trackers' days.
//!
//! Saved whole (JSON, crash-safe replacement) by the session every minute while it changed,
//! and at a clean stop: a power cut loses at most that minute, and never counts a byte twice
//! (the counts and the days are one file, replaced at once; a restarted torrent's counts
//! start again from 0, as its `started` announce's do). serde_json: already the crate's JSON.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use serde::{Deserialize, Serialize};

use crate::engine::api::{DayMoved, Moved, Stats, StatsBy, StatsRow, STATS_DAYS};

/// A tracker's days kept one by one: a year and a few days (last year's same week).
pub(crate) const TRACKER_DAYS: i32 = 370;
/// A torrent's days kept one by one: this month and the last.
pub(crate) const TORRENT_DAYS: i32 = 62;
/// The key of torrents without trackers.
pub(crate) const NO_TRACKER: &str = "(no tracker)";
/// The key of torrents without labels.
pub(crate) const NO_LABEL: &str = "(no label)";
/// The saved file's format name, checked when read.
const FORMAT: &str = "ttui ledger 1";
/// The largest ledger file read back (a year of days for a few thousand trackers, two months
/// for tens of thousands of torrents).
pub(crate) const MAX_SAVED: u64 = 256 << 20;
/// The saved file's name in the state directory.
pub(crate) const FILE: &str = "ledger.json";

/// Bytes per day, and what older days summed to.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Account {
    /// The days no longer kept one by one, summed.
    #[serde(default)]
    before: Moved,
    /// Local days since 1970-01-01.
    #[serde(default)]
    days: BTreeMap<i32, Moved>,
}

impl Account {
    fn add(&mut self, day: i32, m: Moved) {
        self.days.entry(day).or_default().add(m);
    }

    /// Days before `oldest` go into `before`.
    fn prune(&mut self, oldest: i32) {
        let kept = self.days.split_off(&oldest);
        for m in std::mem::replace(&mut self.days, kept).into_values() {
            self.before.add(m);
        }
    }

    /// From day `from` on.
    fn since(&self, from: i32) -> Moved {
        let mut sum = Moved::default();
        for m in self.days.range(from..).map(|(_, m)| *m) {
            sum.add(m);
        }
        sum
    }

    fn all(&self) -> Moved {
        let mut sum = self.before;
        sum.add(self.since(i32::MIN));
        sum
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct TorrentAccount {
    name: String,
    /// The hosts it counted toward (several when it had several trackers).
    #[serde(default)]
    trackers: BTreeSet<String>,
    /// What it has told each of them in all (the sum of its announces' counts over every run:
    /// each run's `uploaded=` starts from 0 with `started`).
    #[serde(default)]
    reported: BTreeMap<String, Moved>,
    /// Its labels when last told (`Ledger::label`).
    #[serde(default)]
    labels: Vec<String>,
    /// Removed from the session: dropped once its days are out of the window.
    #[serde(default)]
    gone: bool,
    /// Not flattened: serde's flatten reads the days' number keys as strings, and fails.
    #[serde(default)]
    account: Account,
}

#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
struct Book {
    format: String,
    trackers: BTreeMap<String, Account>,
    /// By info hash (hex).
    torrents: BTreeMap<String, TorrentAccount>,
    /// The last day pruned.
    #[serde(default)]
    pruned: i32,
}

/// The session's accounting, shared by every torrent (cheap to lock: a count is a few map
/// updates, once a tick per torrent that moved bytes).
#[derive(Debug, Default)]
pub(crate) struct Ledger {
    book: Mutex<Book>,
    /// Changed since it was last encoded for saving.
    dirty: AtomicBool,
}

impl Ledger {
    /// Takes what a saved file holds (at the session's start, before any torrent counts),
    /// or says why it cannot be read and keeps what it has.
    pub(crate) fn read_saved(&self, bytes: &[u8]) -> Result<(), String> {
        let book: Book = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        if book.format != FORMAT {
            return Err(format!("not a ttui ledger (format {:?})", book.format));
        }
        let mut mine = self.book();
        let counted = std::mem::replace(&mut *mine, book);
        // Anything counted before the file was read is added, not lost.
        for (h, a) in counted.trackers {
            let into = mine.trackers.entry(h).or_default();
            into.before.add(a.before);
            for (d, m) in a.days {
                into.add(d, m);
            }
        }
        for (h, t) in counted.torrents {
            let into = mine.torrents.entry(h).or_default();
            into.name = t.name;
            into.trackers.extend(t.trackers);
            for (h, m) in t.reported {
                into.reported.entry(h).or_default().add(m);
            }
            into.account.before.add(t.account.before);
            for (d, m) in t.account.days {
                into.account.add(d, m);
            }
        }
        Ok(())
    }

    /// A poisoned lock: a count panicked midway; its numbers are still the best there are.
    fn book(&self) -> MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A torrent moved `m` since its last count, on local day `day`, announcing to
    /// `trackers` (URLs).
    pub(crate) fn count(
        &self,
        info_hash: &[u8; 20],
        name: &str,
        trackers: &[&str],
        m: Moved,
        day: i32,
    ) {
        if m.is_zero() {
            return;
        }
        let hosts: BTreeSet<String> = if trackers.is_empty() {
            [NO_TRACKER.to_string()].into()
        } else {
            trackers.iter().map(|u| host_of(u)).collect()
        };
        let mut book = self.book();
        book.prune_to(day);
        for h in &hosts {
            match book.trackers.get_mut(h) {
                Some(a) => a.add(day, m),
                None => {
                    let mut a = Account::default();
                    a.add(day, m);
                    book.trackers.insert(h.clone(), a);
                }
            }
        }
        let t = book
            .torrents
            .entry(crate::protocol::hex::encode(info_hash))
            .or_default();
        if t.name != name {
            t.name = name.to_string();
        }
        t.gone = false;
        for h in &hosts {
            match t.reported.get_mut(h) {
                Some(r) => r.add(m),
                None => {
                    t.reported.insert(h.clone(), m);
                }
            }
        }
        t.trackers.extend(hosts);
        t.account.add(day, m);
        drop(book);
        self.dirty.store(true, Ordering::Relaxed);
    }

    /// The torrents' labels now, for rows by label (a removed torrent keeps its last ones).
    pub(crate) fn label<'a>(&self, labels: impl Iterator<Item = ([u8; 20], &'a [String])>) {
        let mut book = self.book();
        let mut changed = false;
        for (hash, l) in labels {
            if let Some(t) = book.torrents.get_mut(&crate::protocol::hex::encode(&hash)) {
                if t.labels != l {
                    t.labels = l.to_vec();
                    changed = true;
                }
            }
        }
        drop(book);
        if changed {
            self.dirty.store(true, Ordering::Relaxed);
        }
    }

    /// The torrent left the session: its account goes once its days are out of the window.
    /// What the torrent has told each tracker host in all, over every run (`ttui show`).
    pub(crate) fn reported(&self, info_hash: &[u8; 20]) -> Vec<(String, Moved)> {
        let key = crate::protocol::hex::encode(info_hash);
        let book = self.book();
        book.torrents.get(&key).map_or_else(Vec::new, |t| {
            t.reported.iter().map(|(h, m)| (h.clone(), *m)).collect()
        })
    }

    pub(crate) fn forget(&self, info_hash: &[u8; 20]) {
        if let Some(t) = self
            .book()
            .torrents
            .get_mut(&crate::protocol::hex::encode(info_hash))
        {
            t.gone = true;
            self.dirty.store(true, Ordering::Relaxed);
        }
    }

    /// The ledger as saved, when it changed since the last call.
    pub(crate) fn encode_if_changed(&self) -> Option<Vec<u8>> {
        if !self.dirty.swap(false, Ordering::Relaxed) {
            return None;
        }
        let mut book = self.book();
        book.format = FORMAT.to_string();
        match serde_json::to_vec(&*book) {
            Ok(b) => Some(b),
            Err(e) => {
                // Cannot happen (string keys and numbers); said rather than lost silently.
                tracing::error!("the ledger could not be encoded: {e}");
                None
            }
        }
    }

    /// Marks it changed again: a save that failed is tried at the next turn.
    pub(crate) fn save_failed(&self) {
        self.dirty.store(true, Ordering::Relaxed);
    }

    /// Rows by `by`, local day `today`: largest upload of all time first.
    pub(crate) fn report(&self, by: StatsBy, today: i32) -> Stats {
        let mut book = self.book();
        book.prune_to(today);
        let rows = match by {
            StatsBy::Tracker => {
                let mut shared: BTreeMap<&str, u32> = BTreeMap::new();
                let mut counted: BTreeMap<&str, u32> = BTreeMap::new();
                for t in book.torrents.values() {
                    for h in &t.trackers {
                        *counted.entry(h).or_default() += 1;
                        if t.trackers.len() > 1 {
                            *shared.entry(h).or_default() += 1;
                        }
                    }
                }
                book.trackers
                    .iter()
                    .map(|(h, a)| {
                        let n = (
                            counted.get(h.as_str()).copied().unwrap_or(0),
                            shared.get(h.as_str()).copied().unwrap_or(0),
                        );
                        row(h.clone(), None, n, a, today)
                    })
                    .collect()
            }
            StatsBy::Label => {
                let mut by_label: BTreeMap<&str, (Account, u32, u32)> = BTreeMap::new();
                for t in book.torrents.values() {
                    let labels: Vec<&str> = if t.labels.is_empty() {
                        vec![NO_LABEL]
                    } else {
                        t.labels.iter().map(String::as_str).collect()
                    };
                    let many = u32::from(labels.len() > 1);
                    for l in labels {
                        let e = by_label.entry(l).or_default();
                        e.0.before.add(t.account.before);
                        for (d, m) in &t.account.days {
                            e.0.add(*d, *m);
                        }
                        e.1 += 1;
                        e.2 += many;
                    }
                }
                by_label
                    .into_iter()
                    .map(|(l, (a, n, s))| row(l.to_string(), None, (n, s), &a, today))
                    .collect()
            }
            StatsBy::Torrent => book
                .torrents
                .iter()
                .map(|(h, t)| row(t.name.clone(), Some(h.clone()), (1, 0), &t.account, today))
                .collect(),
        };
        let mut rows: Vec<StatsRow> = rows;
        rows.sort_by(|a, b| {
            b.all
                .uploaded
                .cmp(&a.all.uploaded)
                .then_with(|| a.key.cmp(&b.key))
        });
        Stats {
            by,
            today: date_of(today),
            rows,
        }
    }
}

impl Book {
    /// Days out of their windows are summed; a removed torrent's account goes with its last
    /// day. Once a day.
    fn prune_to(&mut self, today: i32) {
        if self.pruned >= today {
            return;
        }
        self.pruned = today;
        for a in self.trackers.values_mut() {
            a.prune(today - TRACKER_DAYS);
        }
        self.torrents.retain(|_, t| {
            t.account.prune(today - TORRENT_DAYS);
            !(t.gone && t.account.days.is_empty())
        });
    }
}

fn row(
    key: String,
    hash: Option<String>,
    (n, shared): (u32, u32),
    a: &Account,
    today: i32,
) -> StatsRow {
    let all = a.all();
    let days = (0..STATS_DAYS as i32)
        .rev()
        .map(|back| {
            let d = today - back;
            DayMoved {
                day: date_of(d),
                moved: a.days.get(&d).copied().unwrap_or_default(),
            }
        })
        .collect();
    StatsRow {
        key,
        info_hash: hash,
        torrents: n,
        shared,
        today: a.since(today),
        week: a.since(week_start(today)),
        month: a.since(month_start(today)),
        all,
        ratio: all.ratio(),
        days,
    }
}

/// A tracker's key: its announce host, lowercased, without port, path, user or password.
pub(crate) fn host_of(url: &str) -> String {
    let h = crate::engine::api::tracker_key(url);
    if h.is_empty() {
        NO_TRACKER.to_string()
    } else {
        h
    }
}

/// Monday of the week of `day` (1970-01-01 was a Thursday).
pub(crate) fn week_start(day: i32) -> i32 {
    day - (day + 3).rem_euclid(7)
}

/// The 1st of the month of `day`.
pub(crate) fn month_start(day: i32) -> i32 {
    let (y, m, _) = civil(day);
    days_from_civil(y, m, 1)
}

/// `YYYY-MM-DD`.
pub(crate) fn date_of(day: i32) -> String {
    let (y, m, d) = civil(day);
    format!("{y:04}-{m:02}-{d:02}")
}

/// (year, month, day) of a day count.
fn civil(day: i32) -> (i32, u32, u32) {
    let (y, m, d) = crate::fmt::civil_from_days(i64::from(day));
    (i32::try_from(y).unwrap_or(i32::MAX), m, d)
}

/// The day count of a date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(y: i32, m: u32, d: u32) -> i32 {
    let y = i64::from(y) - i64::from(m <= 2);
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe - 719_468) as i32
}

/// The local day of a Unix time: days since 1970-01-01 in the system's time zone.
pub(crate) fn local_day(unix: u64) -> i32 {
    let unix = i64::try_from(unix).unwrap_or(i64::MAX);
    (unix.saturating_add(utc_offset(unix))).div_euclid(86_400) as i32
}

/// Today, local.
pub(crate) fn today() -> i32 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    local_day(now)
}

/// Seconds east of UTC at `unix` in the local time zone (0 when it cannot be read).
fn utc_offset(unix: i64) -> i64 {
    let t: libc::time_t = unix;
    // SAFETY: `libc::tm` is a plain C struct of integers and one `*const c_char`, for which
    // all-zero bytes are a valid value (null `tm_zone`).
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: `localtime_r` reads the `time_t` and writes one `tm` through the two pointers,
    // both to live locals of the right types, and keeps neither; it is the thread-safe form.
    let r = unsafe { libc::localtime_r(&t, &mut tm) };
    if r.is_null() {
        return 0;
    }
    tm.tm_gmtoff
}

#[cfg(test)]
mod tests;
