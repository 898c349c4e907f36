//! Transmission 4.1's JSON-RPC 2.0 form of the same RPC (its `docs/rpc-spec.md`, rpc version
//! semver 6.0.0): `{"jsonrpc": "2.0", "method": "torrent_get", "params": {…}, "id": 1}`,
//! batches, notifications (no `id`: no answer, HTTP 204) and error objects with codes. Every
//! method and argument is named in snake_case there; the legacy protocol's mix of kebab-case
//! and camelCase stays beside it, on the same path, for the clients that speak it.
//!
//! One set of methods serves both: a call is turned into the legacy form (method and keys
//! through [`LEGACY`], the names the methods know), run by `dispatch::dispatch`, and its
//! answer's keys are turned to snake_case. So a field added to the RPC speaks both forms
//! (`legacy_names_are_all_known` keeps the table whole).

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::{json, Map, Value};

use super::ctx::Ctx;
use super::error::MethodError;
use super::request::Arguments;

/// The RPC version reported to a client that asks in the new form.
pub(crate) const RPC_VERSION: u32 = 18;
pub(crate) const RPC_VERSION_SEMVER: &str = "6.0.0";
/// Most calls in one batch: a bound on the work one request buys.
const MAX_BATCH: usize = 100;

/// JSON-RPC 2.0's error codes, and Transmission's own for a method that failed.
const PARSE_ERROR: i64 = -32700;
const INVALID_REQUEST: i64 = -32600;
const METHOD_NOT_FOUND: i64 = -32601;
const INVALID_PARAMS: i64 = -32602;
const INTERNAL_ERROR: i64 = -32603;
/// libtransmission's `SYSTEM_ERROR`: what the session refused.
const SYSTEM_ERROR: i64 = 5;

/// Every key and method name the legacy protocol uses (kebab-case or camelCase): the new
/// form's snake_case name of each is found by [`to_snake`].
#[rustfmt::skip]
const LEGACY: &[&str] = &[
    "activeTorrentCount", "addedDate", "alt-speed-down", "alt-speed-enabled",
    "alt-speed-time-begin", "alt-speed-time-day", "alt-speed-time-enabled",
    "alt-speed-time-end", "alt-speed-up", "announceState", "bandwidthPriority",
    "blocklist-enabled", "blocklist-size", "blocklist-update", "blocklist-url",
    "bytesCompleted", "cache-size-mb", "clientIsChoked", "clientIsInterested", "clientName",
    "config-dir", "corruptEver", "cumulative-stats", "current-stats", "dateCreated",
    "default-trackers", "delete-local-data", "desiredAvailable", "dht-enabled", "doneDate",
    "download-dir", "download-dir-free-space", "download-queue-enabled", "download-queue-size",
    "downloadCount", "downloadDir", "downloadLimit", "downloadLimited", "downloadSpeed",
    "downloadedBytes", "downloadedEver", "editDate", "errorString", "etaIdle", "file-count",
    "fileCount", "fileStats", "files-unwanted", "files-wanted", "filesAdded", "flagStr",
    "free-space", "fromCache", "fromDht", "fromIncoming", "fromLpd", "fromLtep", "fromPex",
    "fromTracker", "group-get", "group-set", "hasAnnounced", "hasScraped", "hashString",
    "haveUnchecked", "haveValid", "honorsSessionLimits", "idle-seeding-limit",
    "idle-seeding-limit-enabled", "incomplete-dir", "incomplete-dir-enabled", "isBackup",
    "isDownloadingFrom", "isEncrypted", "isFinished", "isIncoming", "isPrivate", "isStalled",
    "isUTP", "isUploadingTo", "lastAnnouncePeerCount", "lastAnnounceResult",
    "lastAnnounceStartTime", "lastAnnounceSucceeded", "lastAnnounceTime",
    "lastAnnounceTimedOut", "lastScrapeResult", "lastScrapeStartTime", "lastScrapeSucceeded",
    "lastScrapeTime", "lastScrapeTimedOut", "leecherCount", "leftUntilDone", "lpd-enabled",
    "magnetLink", "manualAnnounceTime", "maxConnectedPeers", "memory-bytes", "memory-units",
    "metadataPercentComplete", "nextAnnounceTime", "nextScrapeTime", "no-cache",
    "pausedTorrentCount", "peer-limit", "peer-limit-global", "peer-limit-per-torrent",
    "peer-port", "peer-port-random-on-start", "peerIsChoked", "peerIsInterested",
    "peersConnected", "peersFrom", "peersGettingFromUs", "peersSendingToUs", "percentComplete",
    "percentDone", "pex-enabled", "pieceCount", "pieceSize", "port-forwarding-enabled",
    "port-is-open", "port-test", "primary-mime-type", "priority-high", "priority-low",
    "priority-normal", "queue-move-bottom", "queue-move-down", "queue-move-top",
    "queue-move-up", "queue-stalled-enabled", "queue-stalled-minutes", "queuePosition",
    "rateDownload", "rateToClient", "rateToPeer", "rateUpload", "recently-active",
    "recheckProgress", "rename-partial-files", "rpc-version", "rpc-version-minimum",
    "rpc-version-semver", "scrapeState", "script-torrent-added-enabled",
    "script-torrent-added-filename", "script-torrent-done-enabled",
    "script-torrent-done-filename", "script-torrent-done-seeding-enabled",
    "script-torrent-done-seeding-filename", "secondsActive", "secondsDownloading",
    "secondsSeeding", "seed-queue-enabled", "seed-queue-size", "seedIdleLimit", "seedIdleMode",
    "seedRatioLimit", "seedRatioLimited", "seedRatioMode", "seederCount", "sequentialDownload",
    "sequentialDownloadFromPiece", "session-close",
    "session-get", "session-id", "session-set", "session-stats", "sessionCount", "size-bytes",
    "size-units", "sizeWhenDone", "speed-bytes", "speed-limit-down", "speed-limit-down-enabled",
    "speed-limit-up", "speed-limit-up-enabled", "speed-units", "start-added-torrents",
    "startDate", "torrent-add", "torrent-added", "torrent-duplicate", "torrent-get",
    "torrent-reannounce", "torrent-remove", "torrent-rename-path", "torrent-set",
    "torrent-set-location", "torrent-start", "torrent-start-now", "torrent-stop",
    "torrent-verify", "torrentCount", "torrentFile", "totalSize", "trackerList", "trackerStats",
    "trash-original-torrent-files", "uploadLimit", "uploadLimited", "uploadRatio",
    "uploadSpeed", "uploadedBytes", "uploadedEver", "utp-enabled", "webseedsSendingToUs",
];

/// Whether `body` is in the new form: a batch, or an object naming `jsonrpc`.
pub fn is_jsonrpc(body: &[u8]) -> bool {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Array(_)) => true,
        Ok(Value::Object(o)) => o.contains_key("jsonrpc"),
        // Not JSON: answered in the legacy form, as clients of both have always had it.
        _ => false,
    }
}

/// The answer to a body in the new form; None when it held only notifications (HTTP 204).
pub(crate) async fn answer(ctx: &Ctx, body: &[u8]) -> Option<Vec<u8>> {
    let value: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => return Some(bytes(&error(Value::Null, PARSE_ERROR, Some(e.to_string())))),
    };
    let out = match value {
        Value::Array(calls) if calls.is_empty() => error(Value::Null, INVALID_REQUEST, None),
        Value::Array(calls) if calls.len() > MAX_BATCH => error(
            Value::Null,
            INVALID_REQUEST,
            Some(format!("a batch of more than {MAX_BATCH} calls")),
        ),
        Value::Array(calls) => {
            let mut answers = Vec::with_capacity(calls.len());
            for c in calls {
                answers.extend(call(ctx, c).await);
            }
            if answers.is_empty() {
                return None;
            }
            Value::Array(answers)
        }
        one => call(ctx, one).await?,
    };
    Some(bytes(&out))
}

fn bytes(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap_or_default()
}

/// An error answer: the code's words as `message`, ours in `data.error_string`.
fn error(id: Value, code: i64, detail: Option<String>) -> Value {
    let message = match code {
        PARSE_ERROR => "Parse error",
        INVALID_REQUEST => "Invalid Request",
        METHOD_NOT_FOUND => "Method not found",
        INVALID_PARAMS => "Invalid params",
        INTERNAL_ERROR => "Internal error",
        _ => "system error",
    };
    let mut e = json!({ "code": code, "message": message });
    if let Some(d) = detail {
        e["data"] = json!({ "error_string": d });
    }
    json!({ "jsonrpc": "2.0", "error": e, "id": id })
}

/// One call; None for a notification.
async fn call(ctx: &Ctx, request: Value) -> Option<Value> {
    let Value::Object(mut r) = request else {
        return Some(error(Value::Null, INVALID_REQUEST, None));
    };
    let id = r.remove("id");
    let valid_id = id
        .as_ref()
        .is_none_or(|i| i.is_string() || i.is_number() || i.is_null());
    let answer_id = id.clone().filter(|_| valid_id).unwrap_or(Value::Null);
    if !valid_id || r.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Some(error(answer_id, INVALID_REQUEST, None));
    }
    let Some(Value::String(method)) = r.remove("method") else {
        return Some(error(answer_id, INVALID_REQUEST, None));
    };
    let params = match r.remove("params") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(p)) => p,
        Some(_) => {
            let why = "params by position are not supported: send an object".to_string();
            return Some(error(answer_id, INVALID_PARAMS, Some(why)));
        }
    };
    let legacy = method.replace('_', "-");
    let args = legacy_map(params);
    let result = super::dispatch::dispatch(ctx, &legacy, &args).await;
    // A notification is carried out and not answered.
    id.as_ref()?;
    Some(match result {
        Ok(a) => {
            let mut result = snake(match a {
                Arguments::Map(m) => Value::Object(m),
                Arguments::Written(b) => serde_json::from_slice(&b).unwrap_or(Value::Null),
            });
            if legacy == "session-get" {
                if let Some(o) = result.as_object_mut() {
                    if o.contains_key("rpc_version") {
                        o.insert("rpc_version".into(), json!(RPC_VERSION));
                    }
                    if o.contains_key("rpc_version_semver") {
                        o.insert("rpc_version_semver".into(), json!(RPC_VERSION_SEMVER));
                    }
                }
            }
            json!({ "jsonrpc": "2.0", "result": result, "id": answer_id })
        }
        Err(MethodError::UnknownMethod) => error(answer_id, METHOD_NOT_FOUND, None),
        Err(MethodError::BadArgument(why)) => error(answer_id, INVALID_PARAMS, Some(why)),
        Err(e @ MethodError::Session(_)) => error(answer_id, SYSTEM_ERROR, Some(e.to_string())),
        Err(e @ MethodError::Gone) => error(answer_id, INTERNAL_ERROR, Some(e.to_string())),
    })
}

/// A legacy name's snake_case form: a hyphen is an underscore, a capital starts a word (a run
/// of capitals is one word: `isUTP` is `is_utp`).
pub(crate) fn to_snake(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    let mut prev_lower = false;
    for c in name.chars() {
        if c == '-' {
            out.push('_');
            prev_lower = false;
        } else if c.is_ascii_uppercase() {
            if prev_lower {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
            prev_lower = false;
        } else {
            out.push(c);
            prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        }
    }
    out
}

/// The legacy name of a snake_case one: from [`LEGACY`], else as it came.
fn legacy_name(snake: &str) -> &str {
    static TABLE: OnceLock<HashMap<String, &'static str>> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut t = HashMap::new();
        let facts = crate::engine::api::facts::FACTS
            .iter()
            .filter_map(|f| f.rpc);
        for k in LEGACY.iter().copied().chain(facts.map(|f| f.key)) {
            t.entry(to_snake(k)).or_insert(k);
        }
        t
    });
    table.get(snake).copied().unwrap_or(snake)
}

/// The params in the legacy form: every key, and the names a method takes as values
/// (`fields`, `ids: "recently_active"`).
pub fn legacy_map(params: Map<String, Value>) -> Map<String, Value> {
    params
        .into_iter()
        .map(|(k, v)| {
            let v = match (k.as_str(), v) {
                ("fields", Value::Array(names)) => Value::Array(
                    names
                        .into_iter()
                        .map(|n| match n {
                            Value::String(s) => Value::String(legacy_name(&s).to_string()),
                            other => other,
                        })
                        .collect(),
                ),
                ("ids", Value::String(s)) => Value::String(legacy_name(&s).to_string()),
                (_, Value::Object(o)) => Value::Object(legacy_map(o)),
                (_, v) => v,
            };
            (legacy_name(&k).to_string(), v)
        })
        .collect()
}

/// An answer with every key in snake_case, and the field names of a `table` answer's first row.
pub fn snake(v: Value) -> Value {
    match v {
        Value::Object(o) => Value::Object(
            o.into_iter()
                .map(|(k, v)| {
                    let v = match (k.as_str(), v) {
                        ("torrents", Value::Array(rows)) => Value::Array(table_rows(rows)),
                        (_, v) => snake(v),
                    };
                    (to_snake(&k), v)
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(snake).collect()),
        v => v,
    }
}

/// `torrents`: objects, or (format `table`) a first row of names and rows of values.
fn table_rows(rows: Vec<Value>) -> Vec<Value> {
    let table = rows.first().is_some_and(Value::is_array);
    rows.into_iter()
        .enumerate()
        .map(|(i, row)| match row {
            Value::Array(names) if table && i == 0 => Value::Array(
                names
                    .into_iter()
                    .map(|n| match n {
                        Value::String(s) => Value::String(to_snake(&s)),
                        other => other,
                    })
                    .collect(),
            ),
            row => snake(row),
        })
        .collect()
}

#[cfg(test)]
mod tests;
