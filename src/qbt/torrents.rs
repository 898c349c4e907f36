//! `torrents/*`: the list (`info`, with qBittorrent's field names and state strings mapped
//! from the engine's typed states) and the actions on torrents named by `hashes` (`|`
//! separated, or `all`). Each action is sent through `engine::api::Client`.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::answer::{targets, within, ActionError};
use super::form::Params;
use super::Ctx;
use crate::engine::api::facts::{self, QbtFacts};
use crate::engine::api::{Catalog, Command, Phase, Set, TorrentId, TorrentLine};
use crate::protocol::hex;

/// qBittorrent's state string (API 2.11: `stoppedDL`/`stoppedUP` for paused torrents,
/// `forcedDL`/`forcedUP` for a force-started one that runs), from the torrent's one status
/// (`api::Status`).
pub(crate) fn state_of(t: &TorrentLine) -> &'static str {
    let s = t.status();
    match s.phase {
        Phase::Error(_) => "error",
        Phase::Moving { .. } => "moving",
        Phase::Paused | Phase::Complete if s.done => "stoppedUP",
        Phase::Paused | Phase::Complete => "stoppedDL",
        Phase::Checking { .. } if s.done => "checkingUP",
        Phase::Checking { .. } => "checkingDL",
        Phase::Metadata if s.forced => "forcedMetaDL",
        Phase::Metadata => "metaDL",
        Phase::Downloading if s.forced => "forcedDL",
        Phase::Downloading if s.queued() => "queuedDL",
        Phase::Downloading if t.down_rate > 0.0 => "downloading",
        Phase::Downloading => "stalledDL",
        Phase::Seeding if s.forced => "forcedUP",
        Phase::Seeding if s.queued() => "queuedUP",
        Phase::Seeding if t.up_rate > 0.0 => "uploading",
        Phase::Seeding => "stalledUP",
    }
}

/// qBittorrent's `progress`: while a torrent checks, how far its check has come (qBittorrent
/// answers libtorrent's progress of the current task then, not the pieces kept: a check's bar
/// fills as it checks); else its verified share of the wanted bytes.
fn progress_of(t: &TorrentLine) -> f64 {
    match t.status().phase {
        Phase::Checking { checked, total, .. } if total > 0 => {
            (f64::from(checked) / f64::from(total)).min(1.0)
        }
        _ => t.progress(),
    }
}

/// Whether `t` passes qBittorrent's `filter`.
fn passes(t: &TorrentLine, filter: &str) -> bool {
    let state = state_of(t);
    let active = t.down_rate > 0.0 || t.up_rate > 0.0;
    match filter {
        "downloading" => matches!(
            state,
            "downloading"
                | "stalledDL"
                | "queuedDL"
                | "metaDL"
                | "forcedMetaDL"
                | "checkingDL"
                | "forcedDL"
        ),
        "seeding" => matches!(state, "uploading" | "stalledUP" | "queuedUP" | "forcedUP"),
        "completed" => t.status().done,
        "paused" | "stopped" => state.starts_with("stopped"),
        "resumed" | "running" => !state.starts_with("stopped"),
        "active" => active,
        "inactive" => !active,
        "stalled" => matches!(state, "stalledDL" | "stalledUP"),
        "stalled_uploading" => state == "stalledUP",
        "stalled_downloading" => state == "stalledDL",
        "checking" => matches!(state, "checkingDL" | "checkingUP"),
        "errored" => state == "error",
        "moving" => state == "moving",
        _ => true,
    }
}

/// What a row's clock fields are read from: they move every second without the line
/// changing, so `sync/maindata` keeps this beside each object it folded and reads them
/// fresh at each answer, as `torrents/info` does. It holds the line folded (the line-up's
/// own `Arc`, not a copy), so a clock fact of the facts table is read as every face reads it.
#[derive(Debug, Clone)]
pub(super) struct Clocks(Arc<TorrentLine>);

impl Clocks {
    pub(super) fn of(t: &Arc<TorrentLine>) -> Clocks {
        Clocks(Arc::clone(t))
    }

    /// The clock fields' values as of `now`, by key: qBittorrent's own two, then the facts
    /// table's clocks.
    pub(super) fn at(&self, now: u64) -> Vec<(&'static str, Value)> {
        let t = &*self.0;
        let mut out = vec![
            ("time_active", Value::from(time_active(t, now))),
            ("seeding_time", Value::from(t.seeding.secs_at(now))),
        ];
        for f in facts::FACTS.iter().filter(|f| f.kind == facts::Kind::Clock) {
            if let (Some(field), Some(v)) = (f.qbt, f.qbt_value(t, now)) {
                out.push((field.key, v));
            }
        }
        out
    }

    /// Whether `key` is one of the fields [`Clocks::at`] reads fresh.
    pub(super) fn is_clock(key: &str) -> bool {
        key == "time_active"
            || key == "seeding_time"
            || facts::FACTS
                .iter()
                .any(|f| f.kind == facts::Kind::Clock && f.qbt.is_some_and(|q| q.key == key))
    }
}

/// Seconds since it was added.
fn time_active(t: &TorrentLine, now: u64) -> u64 {
    now.saturating_sub(t.added)
}

/// One torrent as `torrents/info` and `sync/maindata` give it, with qBittorrent's field
/// names. A struct serialized straight into the answer's bytes, because building a `Value`
/// map a torrent (57 keys, each an allocated `String` in a `BTreeMap`) and then writing it
/// out was most of a `torrents/info` call's time at 10,000 torrents (qbt_api.sh).
#[derive(Debug, serde::Serialize)]
pub(crate) struct Info<'a> {
    hash: Hex<'a>,
    infohash_v1: Hex<'a>,
    infohash_v2: Hex<'a>,
    name: &'a str,
    size: u64,
    total_size: u64,
    progress: f64,
    dlspeed: u64,
    upspeed: u64,
    downloaded: u64,
    uploaded: u64,
    downloaded_session: u64,
    uploaded_session: u64,
    completed: u64,
    amount_left: u64,
    ratio: f64,
    eta: u64,
    state: &'static str,
    num_seeds: u32,
    num_leechs: u32,
    num_complete: u32,
    num_incomplete: u32,
    priority: u32,
    save_path: String,
    download_path: &'static str,
    content_path: String,
    root_path: String,
    category: &'a str,
    tags: String,
    added_on: u64,
    completion_on: u64,
    seeding_time: u64,
    time_active: u64,
    ratio_limit: f64,
    seeding_time_limit: f64,
    inactive_seeding_time_limit: f64,
    max_ratio: i64,
    max_seeding_time: i64,
    max_inactive_seeding_time: i64,
    dl_limit: u64,
    up_limit: u64,
    auto_tmm: bool,
    force_start: bool,
    super_seeding: bool,
    seq_dl: bool,
    f_l_piece_prio: bool,
    availability: f64,
    tracker: &'a str,
    trackers_count: u64,
    magnet_uri: String,
    has_metadata: bool,
    /// The facts of the one table every face reads (`api::facts`), by qBittorrent's keys.
    #[serde(flatten)]
    facts: QbtFacts<'a>,
}

impl<'a> Info<'a> {
    /// `t`'s object at `now` (Unix seconds); with a catalog its labels are split into
    /// category and tags, without one they are all tags.
    pub(crate) fn of(t: &'a TorrentLine, now: u64, catalog: Option<&Catalog>) -> Info<'a> {
        let left = t.left();
        // qBittorrent's cap on a ratio (and its value for one with nothing downloaded).
        let ratio = t.ratio().min(9999.0);
        // qBittorrent reckons an ETA for downloads only (a check's is ours).
        let downloads = !matches!(t.status().phase, Phase::Checking { .. });
        let eta = (t.eta().filter(|_| left > 0 && downloads))
            .map_or(8_640_000, |d| d.as_secs().min(8_640_000));
        let (seeds_in_swarm, leechers_in_swarm) = t.swarm();
        let (category, tags) = match catalog {
            Some(c) => {
                let (cat, tags) = c.split(&t.labels);
                (cat.unwrap_or(""), tags.join(", "))
            }
            None => ("", t.labels.join(", ")),
        };
        let content_path = t.save_path.join(&t.name).display().to_string();
        let own = &t.own;
        let minutes = |d: Duration| (d.as_secs() / 60) as f64;
        Info {
            hash: Hex(&t.info_hash),
            infohash_v1: Hex(&t.info_hash),
            infohash_v2: Hex(t.info_hash_v2.as_ref().map_or(&[][..], |h| &h[..])),
            magnet_uri: t.magnet_link(),
            name: &t.name,
            size: t.wanted_bytes,
            total_size: t.total_bytes,
            progress: progress_of(t),
            dlspeed: t.down_rate as u64,
            upspeed: t.up_rate as u64,
            downloaded: t.downloaded,
            uploaded: t.uploaded,
            downloaded_session: t.downloaded,
            uploaded_session: t.uploaded,
            completed: t.verified_bytes,
            amount_left: left,
            ratio,
            eta,
            state: state_of(t),
            num_seeds: t.seeds,
            num_leechs: t.leechers(),
            num_complete: seeds_in_swarm.unwrap_or(t.seeds),
            num_incomplete: leechers_in_swarm.unwrap_or(t.leechers()),
            priority: t.queue_position,
            save_path: t.save_path.display().to_string(),
            download_path: "",
            root_path: content_path.clone(),
            content_path,
            category,
            tags,
            added_on: t.added,
            completion_on: t.completed.unwrap_or(0),
            seeding_time: t.seeding.secs_at(now),
            time_active: time_active(t, now),
            ratio_limit: limit(own.ratio, |r| r),
            seeding_time_limit: limit(own.seed_time, minutes),
            inactive_seeding_time_limit: limit(own.idle, minutes),
            max_ratio: -1,
            max_seeding_time: -1,
            max_inactive_seeding_time: -1,
            dl_limit: own.down,
            up_limit: own.up,
            auto_tmm: false,
            force_start: own.forced,
            super_seeding: t.super_seeding,
            seq_dl: t.sequential,
            f_l_piece_prio: t.first_last,
            availability: t.availability.map_or(-1.0, f64::from),
            tracker: t.working_tracker().map_or("", |m| &m.url),
            trackers_count: t.tracker_marks().len() as u64,
            has_metadata: !t.fetching_metadata(),
            facts: QbtFacts { line: t, now },
        }
    }

    fn value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// A hash written as hex straight into the answer (no `String` a hash: a row has three).
#[derive(Debug)]
struct Hex<'a>(&'a [u8]);

impl serde::Serialize for Hex<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut buf = [0u8; 64];
        s.serialize_str(hex::encode_into(self.0, &mut buf))
    }
}

/// One torrent as `torrents/info` gives it, without a catalog (all labels as tags).
pub(crate) fn info_of(t: &TorrentLine, now: u64) -> Value {
    Info::of(t, now, None).value()
}

/// A torrent's object in `torrents/info` and `sync/maindata`: its line's fields, with its
/// category and tags as the catalog splits its labels.
pub(crate) fn row(t: &TorrentLine, now: u64, catalog: &Catalog) -> Value {
    Info::of(t, now, Some(catalog)).value()
}

/// qBittorrent's share limit: -2 the session's, -1 none, else the value.
fn limit<T>(set: Set<T>, of: impl Fn(T) -> f64) -> f64 {
    match set {
        Set::Default => -2.0,
        Set::Off => -1.0,
        Set::To(v) => of(v),
    }
}

/// `torrents/info`: filter, category, tag, hashes, then sort, reverse, offset, limit; the
/// answer's JSON bytes. Labels are split by the catalog published with the line-up.
pub(crate) fn info(ctx: &Ctx, p: &Params) -> Vec<u8> {
    let head = ctx.client.head();
    let catalog = &*head.catalog;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let filter = p.get("filter").unwrap_or("all");
    // No `hashes` (or an empty one): every torrent, as `all`.
    let named = (!p.list("hashes", '|').is_empty())
        .then(|| super::answer::hashes(p))
        .flatten();
    let tag = p.get("tag");
    let category = p.get("category");
    let mut rows: Vec<Info> = head
        .torrents
        .iter()
        .filter(|t| passes(t, filter))
        .filter(|t| named.as_ref().is_none_or(|n| n.contains(&t.info_hash)))
        .filter(|t| {
            let (cat, tags) = catalog.split(&t.labels);
            let tag_ok = match tag {
                None => true,
                Some("") => tags.is_empty(),
                Some(tag) => tags.contains(&tag),
            };
            // "" is "without a category", as in qBittorrent.
            let category_ok = match category {
                None => true,
                Some("") => cat.is_none(),
                Some(c) => cat == Some(c),
            };
            tag_ok && category_ok
        })
        .map(|t| Info::of(t, now, Some(catalog)))
        .collect();
    if let Some(key) = p.get("sort") {
        // Any field sorts; each row's value of it is read from its JSON, a cost only a
        // sorted call pays.
        let mut keyed: Vec<(Value, Info)> = rows
            .into_iter()
            .map(|r| (r.value().get(key).cloned().unwrap_or(Value::Null), r))
            .collect();
        keyed.sort_by(|a, b| compare(&a.0, &b.0));
        rows = keyed.into_iter().map(|(_, r)| r).collect();
    }
    if p.flag("reverse") == Some(true) {
        rows.reverse();
    }
    let offset = p.int("offset").unwrap_or(0);
    let len = rows.len() as i64;
    // A negative offset counts from the end, as in qBittorrent.
    let start = if offset < 0 {
        (len + offset).max(0)
    } else {
        offset.min(len)
    } as usize;
    let mut rows = rows.split_off(start);
    if let Some(n) = p.int("limit").filter(|&n| n > 0) {
        rows.truncate(n as usize);
    }
    // Room for every row at once (a row is some 1.2 KB), not a doubling copy of megabytes.
    let mut out = Vec::with_capacity(rows.len().saturating_mul(1300) + 2);
    match serde_json::to_writer(&mut out, &rows) {
        Ok(()) => out,
        Err(_) => b"[]".to_vec(),
    }
}

fn compare(a: &Value, b: &Value) -> std::cmp::Ordering {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .unwrap_or(0.0)
            .total_cmp(&y.as_f64().unwrap_or(0.0)),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        _ => std::cmp::Ordering::Equal,
    }
}

/// Runs one action on `hashes`; None: not an action of this file.
pub(crate) async fn act(ctx: &Ctx, action: &str, p: &Params) -> Option<Result<(), ActionError>> {
    let ids = targets(ctx, p);
    let result = match action {
        "pause" | "stop" => each(&ids, |id| ctx.client.command(id, Command::Pause)),
        "resume" | "start" => each(&ids, |id| ctx.client.command(id, Command::Resume)),
        "recheck" => each(&ids, |id| ctx.client.verify(id)),
        "reannounce" => each(&ids, |id| ctx.client.command(id, Command::Reannounce)),
        "setForceStart" => {
            let on = p.flag("value").unwrap_or(false);
            each_answered(&ids, |id| ctx.client.force(id, on)).await
        }
        "setSuperSeeding" => set_super_seeding(ctx, &ids, p).await,
        "delete" => {
            let delete_files = p.flag("deleteFiles").unwrap_or(false);
            let r = each_answered(&ids, |id| ctx.client.remove(id, delete_files)).await;
            ctx.client.wait_gone(&ids, Duration::from_secs(2)).await;
            r
        }
        _ => return None,
    };
    Some(result)
}

/// `torrents/setSuperSeeding` (`hashes`, `value=true|false`): BEP 16 per torrent.
async fn set_super_seeding(ctx: &Ctx, ids: &[TorrentId], p: &Params) -> Result<(), ActionError> {
    let on = p.flag("value").unwrap_or(false);
    each_answered(ids, |id| ctx.client.set_super_seeding(id, on)).await
}

/// Asks `f` of every torrent, each answer awaited (bounded); the last failure is the
/// result, the others are still asked.
async fn each_answered<F>(
    ids: &[TorrentId],
    mut f: impl FnMut(TorrentId) -> F,
) -> Result<(), ActionError>
where
    F: std::future::Future<Output = Result<(), crate::engine::api::RequestError>>,
{
    let mut result = Ok(());
    for &id in ids {
        if let Err(e) = within(f(id)).await {
            result = Err(e);
        }
    }
    result
}

fn each(
    ids: &[TorrentId],
    mut f: impl FnMut(TorrentId) -> Result<(), crate::engine::api::RequestError>,
) -> Result<(), ActionError> {
    for &id in ids {
        f(id)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::api::TorrentState;

    fn line(state: TorrentState, verified: u64) -> TorrentLine {
        let mut t = TorrentLine::placeholder(TorrentId(1));
        t.state = state;
        t.total_bytes = 100;
        t.wanted_bytes = 100;
        t.verified_bytes = verified;
        t
    }

    #[test]
    fn states_map_from_the_engines_typed_states() {
        assert_eq!(state_of(&line(TorrentState::Paused, 0)), "stoppedDL");
        assert_eq!(state_of(&line(TorrentState::Paused, 100)), "stoppedUP");
        assert_eq!(state_of(&line(TorrentState::Downloading, 0)), "stalledDL");
        let mut busy = line(TorrentState::Downloading, 10);
        busy.down_rate = 5.0;
        assert_eq!(state_of(&busy), "downloading");
        assert_eq!(state_of(&line(TorrentState::Seeding, 100)), "stalledUP");
        assert_eq!(
            state_of(&line(TorrentState::checking(1, 4), 0)),
            "checkingDL"
        );
        assert_eq!(state_of(&line(TorrentState::Error("x".into()), 0)), "error");
        let mut meta = line(TorrentState::Downloading, 0);
        meta.total_bytes = 0;
        assert_eq!(state_of(&meta), "metaDL");
    }

    #[test]
    fn a_checks_progress_is_how_far_it_has_checked() {
        let checking = line(TorrentState::checking(1, 4), 0);
        assert_eq!(info_of(&checking, 0)["progress"], 0.25);
        // A verify of a complete torrent: its bar starts again, as qBittorrent's does.
        let verify = line(TorrentState::checking(0, 4), 100);
        assert_eq!(info_of(&verify, 0)["progress"], 0.0);
        assert_eq!(
            info_of(&line(TorrentState::Downloading, 50), 0)["progress"],
            0.5
        );
    }

    #[test]
    fn a_row_has_qbittorrents_fields_with_labels_split_by_the_catalog() {
        let mut t = line(TorrentState::Seeding, 100);
        t.name = "payload".into();
        t.save_path = "/data".into();
        t.labels = vec!["hd".into(), "tv".into()];
        let catalog = Catalog {
            categories: vec![crate::engine::api::Category {
                name: "tv".into(),
                save_path: None,
                from_config: false,
            }],
            tags: vec!["hd".into()],
        };
        let v = row(&t, 5_000, &catalog);
        let keys = v.as_object().map_or(0, |o| o.len());
        assert_eq!(keys, 54, "{v}");
        assert_eq!(v["category"], "tv");
        assert_eq!(v["tags"], "hd");
        assert_eq!(v["content_path"], "/data/payload");
        assert_eq!(v["state"], "stalledUP");
        assert_eq!(v["amount_left"], 0);
        assert_eq!(v["progress"], 1.0);
        assert_eq!(v["ratio_limit"], -2.0);
        assert_eq!(v["max_ratio"], -1);
        assert_eq!(v["time_active"], 5_000);
        assert_eq!(
            v["magnet_uri"],
            format!("magnet:?xt=urn:btih:{}&dn=payload", "00".repeat(20))
        );
        // Without a catalog every label is a tag.
        assert_eq!(info_of(&t, 5_000)["tags"], "hd, tv");
        assert_eq!(info_of(&t, 5_000)["category"], "");
    }

    #[test]
    fn filters_follow_the_states() {
        let paused = line(TorrentState::Paused, 0);
        let seeding = line(TorrentState::Seeding, 100);
        assert!(passes(&paused, "stopped") && passes(&paused, "paused"));
        assert!(!passes(&paused, "downloading"));
        assert!(passes(&seeding, "seeding") && passes(&seeding, "completed"));
        assert!(!passes(&seeding, "errored"));
        assert!(passes(&seeding, "all"));
    }
}
