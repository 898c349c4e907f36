//! What the control verbs (`ttui list`, `show`, `add`, `pause`...) print for people: aligned
//! tables and short lines, sizes and rates with units, the reason in words. Pure: the verbs
//! fetch, these format. Every string that came from outside (names, paths, tracker errors,
//! peer clients) is cut and cleaned here ([`crate::fmt::outside`]); `--json` carries it whole.

use std::time::Duration;

use serde::Serialize;

use crate::control::proto::{AddResult, IdResult};
use crate::control::rows::{TorrentDetail, TorrentRow};
use crate::engine::api::facts::FACTS;
use crate::fmt;

/// Longest name, path or message shown in one cell when the width leaves room.
const MAX_TEXT: usize = 120;
/// A name never gets fewer columns than this, even on a narrow terminal.
const MIN_NAME: usize = 10;
/// Columns are dropped (ratio, upload, peers, size) until the name gets this many.
const WANT_NAME: usize = 20;

/// Columns `s` takes on a terminal (wide characters count two).
fn cols(s: &str) -> usize {
    ratatui::text::Span::raw(s).width()
}

/// Outside text, cleaned and cut to fit `max` columns.
fn fit(s: &str, max: usize) -> String {
    let shown = fmt::outside(s, max.min(MAX_TEXT)).into_owned();
    if cols(&shown) <= max {
        return shown;
    }
    let mut out = String::new();
    let mut used = 0;
    for c in shown.chars() {
        let w = cols(c.encode_utf8(&mut [0; 4]));
        if used + w + 1 > max {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push('…');
    out
}

#[derive(Clone, Copy, PartialEq)]
enum Align {
    Left,
    Right,
}

/// Aligned rows (the header first), two spaces between columns, no trailing blanks.
fn table(head: &[(&str, Align)], rows: &[Vec<String>], indent: &str) -> Vec<String> {
    let mut widths: Vec<usize> = head.iter().map(|(h, _)| cols(h)).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cols(cell));
        }
    }
    let header: Vec<String> = head.iter().map(|(h, _)| h.to_string()).collect();
    std::iter::once(&header)
        .chain(rows)
        .map(|row| {
            let mut line = indent.to_string();
            for (i, cell) in row.iter().enumerate() {
                let pad = " ".repeat(widths[i].saturating_sub(cols(cell)));
                match head[i].1 {
                    Align::Right => line.push_str(&(pad + cell)),
                    Align::Left => line.push_str(&(cell.clone() + &pad)),
                }
                line.push_str("  ");
            }
            line.trim_end().to_string()
        })
        .collect()
}

fn rate(bps: u64) -> String {
    if bps == 0 {
        "-".into()
    } else {
        format!("{}/s", fmt::bytes_short(bps))
    }
}

fn percent(p: f64) -> String {
    let p = if p.is_finite() {
        p.clamp(0.0, 1.0)
    } else {
        0.0
    };
    // 99.96% must not read as done.
    let tenths = (p * 1000.0).floor() / 10.0;
    format!("{tenths:.1}%")
}

fn ratio(r: f64) -> String {
    if r.is_finite() && r >= 0.0 {
        format!("{r:.2}")
    } else {
        "-".into()
    }
}

fn eta(secs: Option<u64>) -> String {
    secs.map_or("-".into(), |s| fmt::duration(Duration::from_secs(s)))
}

/// The first hex digits of an info hash, enough to name it back (`ttui pause 3f2a91c0`).
fn short_hash(h: &str) -> String {
    format!("{}…", fit(h.get(..8).unwrap_or(h), 8))
}

/// `ttui cross-seed DIR`: a row per .torrent, how much of it is on disk and whose data it is.
pub(crate) fn cross_seed_table(rows: &[crate::engine::api::CrossSeedRow]) -> String {
    use Align::*;
    let head = [
        ("FILE", Left),
        ("MATCH", Left),
        ("FOUND", Right),
        ("MISSING", Right),
        ("FROM", Left),
        ("ADDED", Left),
    ];
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let pct = (r.found_bytes * 100)
                .checked_div(r.total_bytes)
                .unwrap_or(0);
            vec![
                fit(&r.file, 48),
                r.matched.word().to_string(),
                format!("{pct}%"),
                fmt::bytes_short(r.total_bytes.saturating_sub(r.found_bytes)),
                r.from
                    .iter()
                    .map(|i| format!("#{i}"))
                    .collect::<Vec<_>>()
                    .join(","),
                match (&r.added, &r.error) {
                    (Some(id), _) => format!("#{id}"),
                    (None, Some(e)) => fit(e, 60),
                    (None, None) => "-".into(),
                },
            ]
        })
        .collect();
    let mut out = String::new();
    for l in table(&head, &cells, "") {
        out.push_str(&l);
        out.push('\n');
    }
    let full = rows
        .iter()
        .filter(|r| r.matched == crate::engine::api::CrossSeedMatch::Full)
        .count();
    out.push_str(&format!(
        "{} of {} match fully; found files are proven by the check once added (--add)\n",
        full,
        rows.len()
    ));
    out
}

/// `ttui stats`: a row per tracker, label or torrent, today, this week, this month and all
/// time, uploaded and downloaded, then what the rows share.
pub(crate) fn stats_table(stats: &crate::engine::api::Stats) -> String {
    use crate::engine::api::StatsBy;
    use Align::*;
    let by = stats.by.word();
    if stats.rows.is_empty() {
        return format!(
            "nothing counted yet by {by}: bytes count once torrents upload or download\n"
        );
    }
    let key = match stats.by {
        StatsBy::Tracker => "TRACKER",
        StatsBy::Label => "LABEL",
        StatsBy::Torrent => "TORRENT",
    };
    let head = [
        (key, Left),
        ("TORRENTS", Right),
        ("TODAY ↑", Right),
        ("TODAY ↓", Right),
        ("WEEK ↑", Right),
        ("WEEK ↓", Right),
        ("MONTH ↑", Right),
        ("MONTH ↓", Right),
        ("ALL ↑", Right),
        ("ALL ↓", Right),
        ("RATIO", Right),
    ];
    let b = |n: u64| {
        if n == 0 {
            "-".to_string()
        } else {
            fmt::bytes_tiny(n)
        }
    };
    let cells: Vec<Vec<String>> = stats
        .rows
        .iter()
        .map(|r| {
            vec![
                fit(&r.key, 40),
                r.torrents.to_string(),
                b(r.today.uploaded),
                b(r.today.downloaded),
                b(r.week.uploaded),
                b(r.week.downloaded),
                b(r.month.uploaded),
                b(r.month.downloaded),
                b(r.all.uploaded),
                b(r.all.downloaded),
                r.ratio.map_or("-".into(), ratio),
            ]
        })
        .collect();
    let mut out = String::new();
    for l in table(&head, &cells, "") {
        out.push_str(&l);
        out.push('\n');
    }
    let shared: u32 = stats.rows.iter().map(|r| r.shared).sum();
    out.push_str(&format!(
        "today is {} (local time); the week starts on Monday; payload bytes, as trackers are told",
        stats.today
    ));
    if shared > 0 && stats.by != StatsBy::Torrent {
        let what = if stats.by == StatsBy::Tracker {
            "several trackers"
        } else {
            "several labels"
        };
        out.push_str(&format!(
            "\ntorrents with {what} count in each of their rows, so the rows add up to more than the session moved"
        ));
    }
    out.push('\n');
    out
}

/// `ttui list`: one line per torrent, with the reason (when there is one) on a line below
/// it; `width` is the terminal's (0: not a terminal, nothing is cut for width).
pub(crate) fn list_table(rows: &[TorrentRow], width: usize) -> String {
    if rows.is_empty() {
        return "no torrents in the session (add one with `ttui add FILE|MAGNET|URL`)\n".into();
    }
    let (head, cells) = list_columns(rows, width);
    let lines = table(&head, &cells, "");
    let mut out = with_reasons(&lines, rows, width);
    let down = rows.iter().fold(0u64, |a, r| a.saturating_add(r.down_rate));
    let up = rows.iter().fold(0u64, |a, r| a.saturating_add(r.up_rate));
    out.push_str(&format!(
        "{} torrent{}, ↓ {}/s, ↑ {}/s\n",
        rows.len(),
        if rows.len() == 1 { "" } else { "s" },
        fmt::bytes_short(down),
        fmt::bytes_short(up)
    ));
    out
}

/// The list's header and cells for `width`: the name takes what the other columns leave; on
/// a narrow terminal the least needed columns go first, so the name keeps room to be read.
fn list_columns(
    rows: &[TorrentRow],
    width: usize,
) -> (Vec<(&'static str, Align)>, Vec<Vec<String>>) {
    use Align::*;
    let head = [
        ("ID", Right),
        ("NAME", Left),
        ("STATE", Left),
        ("DONE", Right),
        ("SIZE", Right),
        ("DOWN", Right),
        ("UP", Right),
        ("RATIO", Right),
        ("PEERS", Right),
        ("ETA", Right),
        ("LABELS", Left),
    ];
    let mut cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.id.to_string(),
                String::new(),
                fit(&r.state, 12),
                percent(r.progress),
                fmt::bytes_short(r.wanted_bytes),
                rate(r.down_rate),
                rate(r.up_rate),
                ratio(r.ratio),
                r.peers.to_string(),
                eta(r.eta_secs),
                fit(&r.labels.join(","), 24),
            ]
        })
        .collect();
    let col_width = |i: usize| {
        let w = cells.iter().map(|c| cols(&c[i])).max().unwrap_or(0);
        w.max(head[i].0.len()) + 2
    };
    // Labels only when a torrent has one; they are the first to go on a narrow terminal.
    let mut keep = [true; 11];
    keep[10] = rows.iter().any(|r| !r.labels.is_empty());
    let others = |keep: &[bool; 11]| -> usize {
        (0..head.len())
            .filter(|&i| i != 1 && keep[i])
            .map(col_width)
            .sum()
    };
    for drop in [10, 7, 6, 8, 4] {
        if width == 0 || width >= others(&keep) + WANT_NAME {
            break;
        }
        keep[drop] = false;
    }
    let name_cols = match width {
        0 => MAX_TEXT,
        w => w.saturating_sub(others(&keep)).max(MIN_NAME),
    };
    for (c, r) in cells.iter_mut().zip(rows) {
        c[1] = fit(&r.name, name_cols);
    }
    let head: Vec<(&str, Align)> = head
        .iter()
        .zip(keep)
        .filter(|k| k.1)
        .map(|k| *k.0)
        .collect();
    for c in &mut cells {
        *c = c
            .drain(..)
            .zip(keep)
            .filter_map(|(x, k)| k.then_some(x))
            .collect();
    }
    (head, cells)
}

/// The table's lines, each torrent's reason (when it has one) on a line of its own below it.
fn with_reasons(lines: &[String], rows: &[TorrentRow], width: usize) -> String {
    let why_indent = cols(&rows.iter().map(|r| r.id).max().unwrap_or(0).to_string()).max(2) + 2;
    let why_cols = match width {
        0 => MAX_TEXT,
        w => w.saturating_sub(why_indent + 2).max(MIN_NAME),
    };
    let mut out = String::new();
    out.push_str(&lines[0]);
    out.push('\n');
    for (line, r) in lines[1..].iter().zip(rows) {
        out.push_str(line);
        out.push('\n');
        if let Some(why) = &r.why {
            out.push_str(&" ".repeat(why_indent));
            out.push_str("↳ ");
            out.push_str(&fit(why, why_cols));
            out.push('\n');
        }
    }
    out
}

/// `ttui show ID`: a summary, then the files, trackers and peers.
pub(crate) fn show_text(d: &TorrentDetail) -> String {
    let mut out = summary_text(&d.row);
    section(&mut out, "files", files_table(d), &[]);
    let errors: Vec<Option<&String>> = d.trackers.iter().map(|t| t.last_error.as_ref()).collect();
    section(&mut out, "trackers", trackers_table(d), &errors);
    section(&mut out, "peers", peers_table(d), &[]);
    explain_text(&mut out, d);
    // The session's, said once it has served blocks: what seeding costs the disk.
    if let Some(words) = d.read_cache.and_then(|c| c.words()) {
        out.push_str(&format!("\n{}\n", fit(&words, MAX_TEXT)));
    }
    out
}

/// The name line and the key-value summary under it.
fn summary_text(r: &TorrentRow) -> String {
    let state = match &r.why {
        Some(why) => format!("{}: {}", fit(&r.state, 12), fit(why, MAX_TEXT)),
        None => fit(&r.state, 12),
    };
    let summary = [
        ("info hash", fit(&r.info_hash, 40)),
        ("state", state),
        (
            "progress",
            format!(
                "{} of {} wanted ({} verified, {} in the torrent)",
                percent(r.progress),
                fmt::bytes(r.wanted_bytes),
                fmt::bytes(r.verified_bytes),
                fmt::bytes(r.total_bytes)
            ),
        ),
        (
            "speed",
            format!("↓ {}  ↑ {}", rate(r.down_rate), rate(r.up_rate)),
        ),
        (
            "transferred",
            format!(
                "{} down, {} up, ratio {}",
                fmt::bytes(r.downloaded),
                fmt::bytes(r.uploaded),
                ratio(r.ratio)
            ),
        ),
        ("peers", format!("{} connected, {} seeds", r.peers, r.seeds)),
        ("eta", eta(r.eta_secs)),
        ("saved in", fit(&r.save_path, MAX_TEXT)),
        ("added", date(Some(r.added))),
        ("completed", date(r.completed)),
    ];
    // Then each fact of the one table every face reads, in its words.
    let facts = FACTS
        .iter()
        .filter_map(|f| r.facts.get(f.key).map(|v| (f.label, f.words(v))));
    let mut out = format!("#{} {}\n", r.id, fit(&r.name, MAX_TEXT));
    for (k, v) in summary.into_iter().chain(facts) {
        out.push_str(&format!("  {k:<12}{v}\n"));
    }
    out
}

fn files_table(d: &TorrentDetail) -> Vec<String> {
    use Align::*;
    let files: Vec<Vec<String>> = d
        .files
        .iter()
        .map(|f| {
            let done = if f.size == 0 {
                1.0
            } else {
                f.verified_bytes as f64 / f.size as f64
            };
            vec![
                f.index.to_string(),
                fmt::bytes_short(f.size),
                percent(done),
                fit(&f.priority, 8),
                fit(&f.path, MAX_TEXT),
            ]
        })
        .collect();
    let head = [
        ("#", Right),
        ("SIZE", Right),
        ("DONE", Right),
        ("PRIORITY", Left),
        ("PATH", Left),
    ];
    table(&head, &files, "  ")
}

fn trackers_table(d: &TorrentDetail) -> Vec<String> {
    use Align::*;
    let trackers: Vec<Vec<String>> = d
        .trackers
        .iter()
        .map(|t| {
            let count = |n: Option<u64>| n.map_or("-".to_string(), |n| n.to_string());
            let moved = |m: Option<crate::engine::api::Moved>| {
                m.map_or("-".to_string(), |m| {
                    format!(
                        "{} / {}",
                        crate::fmt::bytes(m.uploaded),
                        crate::fmt::bytes(m.downloaded)
                    )
                })
            };
            vec![
                t.tier.to_string(),
                fit(&t.status, 16),
                count(t.peers),
                count(t.seeders.map(u64::from)),
                count(t.leechers.map(u64::from)),
                moved(t.reported),
                fit(&t.url, MAX_TEXT),
            ]
        })
        .collect();
    let head = [
        ("TIER", Right),
        ("STATUS", Left),
        ("PEERS", Right),
        ("SEEDS", Right),
        ("LEECHERS", Right),
        ("REPORTED UP / DOWN", Right),
        ("URL", Left),
    ];
    table(&head, &trackers, "  ")
}

fn peers_table(d: &TorrentDetail) -> Vec<String> {
    use Align::*;
    let peers: Vec<Vec<String>> = d
        .peers
        .iter()
        .map(|p| {
            // A WebRTC connection coming up names its stage: "connecting (ICE)".
            let state = match &p.webrtc_stage {
                Some(st) => format!("{} ({st})", p.state),
                None => p.state.clone(),
            };
            vec![
                fit(&p.address, 48),
                fit(p.client.as_deref().unwrap_or("-"), 24),
                fit(p.transport.as_deref().unwrap_or("-"), 6),
                fit(&state, 26),
                rate(p.down_rate),
                rate(p.up_rate),
                fit(p.reason.as_deref().unwrap_or(""), MAX_TEXT),
            ]
        })
        .collect();
    let head = [
        ("ADDRESS", Left),
        ("CLIENT", Left),
        ("CONN", Left),
        ("STATE", Left),
        ("DOWN", Right),
        ("UP", Right),
        ("REASON", Left),
    ];
    table(&head, &peers, "  ")
}

/// "why slow": the findings that are not ok, each with its advice; nothing when all is well.
fn explain_text(out: &mut String, d: &TorrentDetail) {
    let bad: Vec<_> = d.explain.iter().filter(|e| e.verdict != "ok").collect();
    if bad.is_empty() {
        return;
    }
    out.push_str(&format!("\nwhy slow ({})\n", bad.len()));
    for e in bad {
        let mark = if e.verdict == "holding_back" {
            "✖"
        } else {
            "!"
        };
        out.push_str(&format!(
            "  {mark} {}: {}\n",
            fit(&e.check, 20),
            fit(&e.evidence, MAX_TEXT)
        ));
        if let Some(a) = &e.advice {
            out.push_str(&format!("      ↳ {}\n", fit(a, MAX_TEXT)));
        }
    }
}

/// A titled table; `notes[i]`, when there is one, goes on a line under row `i`.
fn section(out: &mut String, title: &str, lines: Vec<String>, notes: &[Option<&String>]) {
    let n = lines.len() - 1;
    out.push_str(&format!("\n{title} ({n})\n"));
    if n == 0 {
        return;
    }
    for (i, line) in lines.iter().enumerate() {
        out.push_str(line);
        out.push('\n');
        if let Some(Some(note)) = i.checked_sub(1).and_then(|j| notes.get(j)) {
            out.push_str(&format!("      ↳ {}\n", fit(note, MAX_TEXT)));
        }
    }
}

/// "2026-11-22 20:04 UTC" from Unix seconds; "-" for none.
fn date(unix: Option<u64>) -> String {
    unix.map_or_else(|| "-".into(), |at| format!("{} UTC", fmt::date(at, true)))
}

/// `ttui add` / `ttui FILE` with a session running: one line per torrent added or found.
pub(crate) fn add_lines(results: &[AddResult]) -> String {
    let mut out = String::new();
    for r in results.iter().filter(|r| r.error.is_none()) {
        let id = r.id.map_or("?".into(), |i| format!("#{i}"));
        let name = fit(r.name.as_deref().unwrap_or(&r.source), MAX_TEXT);
        let hash = r.info_hash.as_deref().map(short_hash);
        let hash = hash.map_or(String::new(), |h| format!(" ({h})"));
        let what = if r.already {
            "already in the session:"
        } else {
            "added"
        };
        out.push_str(&format!("{what} {id} {name}{hash}\n"));
    }
    out
}

/// The lines for the items that could not be added, for stderr.
pub(crate) fn add_errors(results: &[AddResult]) -> String {
    let mut out = String::new();
    for r in results {
        if let Some(e) = &r.error {
            out.push_str(&format!(
                "cannot add {}: {}\n",
                fit(&r.source, MAX_TEXT),
                fit(e, MAX_TEXT)
            ));
        }
    }
    out
}

/// `ttui pause|resume|verify|remove|move`: "paused #3 ubuntu.iso", one a line.
pub(crate) fn done_lines(past: &str, results: &[IdResult]) -> String {
    let mut out = String::new();
    for r in results.iter().filter(|r| r.error.is_none()) {
        out.push_str(&format!("{past} #{} {}\n", r.id, fit(&r.name, MAX_TEXT)));
    }
    out
}

/// The lines for the torrents the verb failed on, for stderr.
pub(crate) fn done_errors(results: &[IdResult]) -> String {
    let mut out = String::new();
    for r in results {
        if let Some(e) = &r.error {
            out.push_str(&format!(
                "#{} {}: {}\n",
                r.id,
                fit(&r.name, MAX_TEXT),
                fit(e, MAX_TEXT)
            ));
        }
    }
    out
}

/// `--json`: pretty-printed, one value, ending in a newline.
pub(crate) fn json<T: Serialize + ?Sized>(value: &T) -> String {
    // Our rows always serialize; should one not, the output is still one JSON value.
    let mut s = serde_json::to_string_pretty(value)
        .unwrap_or_else(|e| serde_json::json!({ "error": e.to_string() }).to_string());
    s.push('\n');
    s
}

#[cfg(test)]
pub(crate) mod tests;
