//! `log/main` and `log/peers` (qBittorrent's `logcontroller.cpp`): the session's log ring
//! (`engine::api::Client::journal`) in qBittorrent's words. A main entry is `{id, message,
//! timestamp, type}` with `type` 1 normal, 2 info, 4 warning, 8 critical, filtered by the
//! booleans `normal`, `info`, `warning`, `critical` (each on unless `false`); a peer entry
//! is `{id, ip, timestamp, blocked, reason}`. Both take `last_known_id` (default -1: all
//! the ring keeps). ttui's levels map onto three of the four: its info lines are
//! qBittorrent's normal ones, warnings warnings, errors critical; none is `info`.

use std::time::Duration;

use hyper::StatusCode;
use serde_json::{json, Value};

use super::form::Params;
use super::{json, text, Ctx};
use crate::engine::api::{JournalEntry, LogLevel};
use crate::http::Answer;

/// How long a read of the log may wait for the session.
const LOG_WAIT: Duration = Duration::from_secs(5);

/// The calls of this file, all reads (GET or POST).
pub(super) const READS: &[&str] = &["log/main", "log/peers"];

/// qBittorrent's message type for a level.
pub(super) fn kind(level: LogLevel) -> u8 {
    match level {
        LogLevel::Info => 1,
        LogLevel::Warn => 4,
        LogLevel::Error => 8,
    }
}

/// The types `p` asks for: each of qBittorrent's four flags is on unless given false.
pub(super) fn wanted(p: &Params) -> u8 {
    [("normal", 1), ("info", 2), ("warning", 4), ("critical", 8)]
        .iter()
        .filter(|(name, _)| p.flag(name) != Some(false))
        .fold(0, |all, (_, bit)| all | bit)
}

/// `log/main`'s answer from the ring's entries.
pub(super) fn main_rows(entries: &[JournalEntry], wanted: u8) -> Value {
    let rows: Vec<Value> = entries
        .iter()
        .filter(|e| kind(e.level) & wanted != 0)
        .map(|e| {
            json!({
                "id": e.id,
                "message": e.message,
                "timestamp": e.time,
                "type": kind(e.level),
            })
        })
        .collect();
    Value::Array(rows)
}

/// Answers one of these calls; None: not one of them.
pub(super) async fn route(ctx: &Ctx, call: &str, p: &Params) -> Option<Answer> {
    let last = p.int("last_known_id").unwrap_or(-1);
    let slow = || {
        text(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the session did not answer in time",
        )
    };
    let answer = match call {
        "log/main" => match tokio::time::timeout(LOG_WAIT, ctx.client.journal(last)).await {
            Ok(Ok(entries)) => json(&main_rows(&entries, wanted(p))),
            _ => slow(),
        },
        "log/peers" => match tokio::time::timeout(LOG_WAIT, ctx.client.peer_journal(last)).await {
            Ok(Ok(entries)) => {
                let rows: Vec<Value> = entries
                    .iter()
                    .map(|e| {
                        json!({
                            "id": e.id,
                            "ip": e.ip.to_string(),
                            "timestamp": e.time,
                            "blocked": e.blocked,
                            "reason": e.reason,
                        })
                    })
                    .collect();
                json(&Value::Array(rows))
            }
            _ => slow(),
        },
        _ => return None,
    };
    Some(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: u64, level: LogLevel) -> JournalEntry {
        JournalEntry {
            id,
            time: 1_700_000_000,
            level,
            message: format!("t: {id}"),
        }
    }

    #[test]
    fn levels_filter_as_qbittorrent_flags_ask() {
        let all = [
            entry(0, LogLevel::Info),
            entry(1, LogLevel::Warn),
            entry(2, LogLevel::Error),
        ];
        let p = Params::parse(Some("normal=false&info=true"), b"");
        assert_eq!(wanted(&p), 2 | 4 | 8);
        let rows = main_rows(&all, wanted(&p));
        let types: Vec<u64> = rows
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["type"].as_u64().unwrap())
            .collect();
        assert_eq!(types, [4, 8]);
        let p = Params::parse(None, b"critical=false&warning=false");
        let rows = main_rows(&all, wanted(&p));
        assert_eq!(rows[0]["id"], 0);
        assert_eq!(rows.as_array().unwrap().len(), 1);
        assert_eq!(rows[0]["timestamp"], 1_700_000_000u64);
    }
}
