use super::*;
use crate::control::rows::{ExplainRow, FileRow, PeerInfo, TrackerRow};

pub(crate) fn row(id: u32, name: &str) -> TorrentRow {
    TorrentRow {
        id,
        info_hash: "3f2a91c0".repeat(5),
        info_hash_v2: None,
        name: name.into(),
        state: "downloading".into(),
        why: None,
        progress: 0.4525,
        wanted_bytes: 3 << 30,
        total_bytes: 4 << 30,
        verified_bytes: 1 << 30,
        downloaded: 1 << 30,
        uploaded: 200 << 20,
        ratio: 0.1953,
        down_rate: 1_258_291,
        up_rate: 30 << 10,
        peers: 12,
        seeds: 3,
        eta_secs: Some(312),
        save_path: "/home/u/Downloads".into(),
        added: 1_795_377_600,
        completed: None,
        queue_position: 0,
        peers_interested: 0,
        next_announce: None,
        labels: Vec::new(),
        final_dir: None,
        blocked: 0,
        super_seeding: false,
        sequential: false,
        first_last: false,
        seeding_secs: 0,
        facts: [("last_activity".to_string(), 0u64.into())]
            .into_iter()
            .collect(),
    }
}

#[test]
fn list_columns_line_up_and_the_reason_follows() {
    let mut a = row(3, "ubuntu-24.04-desktop-amd64.iso");
    a.why = Some("no peer has piece 12 (the only seed left)".into());
    let mut b = row(12, "small");
    b.state = "paused".into();
    b.down_rate = 0;
    b.eta_secs = None;
    let out = list_table(&[a, b], 100);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 5, "{out}");
    assert!(lines[0].starts_with("ID  NAME"), "{out}");
    assert!(lines[1].starts_with(" 3  ubuntu-24.04"), "{out}");
    assert!(lines[2].starts_with("    ↳ no peer has piece 12"), "{out}");
    assert!(lines[3].starts_with("12  small"), "{out}");
    assert!(lines[4].starts_with("2 torrents, ↓ 1.2 MiB/s"), "{out}");
    // Every column ends where its header ends (right-aligned ones) or starts where it starts.
    let state_col = lines[0].find("STATE").unwrap();
    assert_eq!(
        lines[1][state_col..].split_whitespace().next(),
        Some("downloading")
    );
    assert_eq!(
        lines[3][state_col..].split_whitespace().next(),
        Some("paused")
    );
    let eta_end = cols(lines[0]);
    assert!(
        lines[1].ends_with("5m 12s") && cols(lines[1]) == eta_end,
        "{out}"
    );
    assert!(
        lines[3].ends_with('-') && cols(lines[3]) == eta_end,
        "{out}"
    );
    assert!(
        lines[1].contains("45.2%") && lines[1].contains("3.0 GiB"),
        "{out}"
    );
    assert!(
        lines.iter().all(|l| cols(l) <= 100 && !l.ends_with(' ')),
        "{out}"
    );
}

#[test]
fn labels_get_a_column_when_a_torrent_has_one_and_go_first_when_narrow() {
    let mut a = row(3, "show.s01e01.mkv");
    a.labels = vec!["tv".into(), "hd".into()];
    let b = row(4, "other");
    let out = list_table(&[a.clone(), b.clone()], 140);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].ends_with("LABELS"), "{out}");
    assert!(lines[1].ends_with("tv,hd"), "{out}");
    assert!(lines.iter().all(|l| !l.ends_with(' ')), "{out}");
    assert!(!list_table(&[b], 140).contains("LABELS"));
    let narrow = list_table(&[a], 72);
    assert!(
        !narrow.contains("LABELS") && narrow.contains("ETA"),
        "{narrow}"
    );
}

#[test]
fn list_cuts_and_cleans_names_to_the_width() {
    let evil = format!("a\x1b[2J{}\u{202E}gpj.exe", "x".repeat(500));
    let out = list_table(&[row(1, &evil)], 80);
    assert!(!out.contains('\x1b') && !out.contains('\u{202E}'), "{out}");
    assert!(out.lines().all(|l| cols(l) <= 80), "{out}");
    assert!(out.contains('…'));
    // 80 columns: the least needed columns made room for the name.
    assert!(
        !out.contains("RATIO") && out.contains("DOWN") && out.contains("ETA"),
        "{out}"
    );
    // Wide characters count two columns.
    let wide = list_table(&[row(1, &"字".repeat(100))], 80);
    assert!(wide.lines().all(|l| cols(l) <= 80), "{wide}");
    // Not a terminal: names shown to the cap, not to a width.
    let long = list_table(&[row(1, &"n".repeat(100))], 0);
    assert!(long.contains(&"n".repeat(100)));
    assert!(list_table(&[], 80).starts_with("no torrents"));
    // Whatever the session sends, the table is made (rates that would overflow a sum).
    let mut huge = row(u32::MAX, "h");
    huge.down_rate = u64::MAX;
    huge.eta_secs = Some(u64::MAX);
    assert!(list_table(&[huge.clone(), huge], 80).contains("16.0 EiB/s"));
}

#[test]
fn progress_never_rounds_up_to_done() {
    assert_eq!(percent(0.99996), "99.9%");
    assert_eq!(percent(1.0), "100.0%");
    assert_eq!(percent(f64::NAN), "0.0%");
    assert_eq!(percent(-1.0), "0.0%");
    assert_eq!(ratio(f64::INFINITY), "-");
}

#[test]
fn dates_are_utc_calendar_dates() {
    assert_eq!(date(Some(0)), "1970-01-01 00:00 UTC");
    assert_eq!(date(Some(951_782_400)), "2000-02-29 00:00 UTC");
    assert_eq!(
        date(Some(1_795_377_600 + 3600 + 60)),
        "2026-11-22 21:01 UTC"
    );
    assert_eq!(date(None), "-");
}

pub(crate) fn detail() -> TorrentDetail {
    let mut r = row(3, "ubuntu.iso");
    r.why = Some("tracker unreachable".into());
    TorrentDetail {
        row: r,
        files: vec![
            FileRow {
                index: 0,
                path: "dir/ubuntu.iso".into(),
                size: 3 << 30,
                verified_bytes: 1 << 30,
                priority: "normal".into(),
            },
            FileRow {
                index: 1,
                path: "dir/\x07README".into(),
                size: 0,
                verified_bytes: 0,
                priority: "skip".into(),
            },
        ],
        trackers: vec![TrackerRow {
            url: "http://127.0.0.1:6969/announce".into(),
            tier: 0,
            status: "error".into(),
            last_error: Some("connection refused\x1b[31m".into()),
            peers: None,
            seeders: None,
            leechers: None,
            last_announce: None,
            reported: None,
        }],
        peers: vec![PeerInfo {
            address: "127.0.0.1:51413".into(),
            client: Some("Transmission 4.0".into()),
            state: "downloading".into(),
            reason: None,
            down_rate: 1 << 20,
            up_rate: 0,
            upload_only: false,
            reached: "tracker".into(),
            transport: Some("uTP".into()),
            webrtc_stage: None,
        }],
        explain: vec![
            ExplainRow {
                check: "trackers".into(),
                verdict: "holding_back".into(),
                evidence: "1 of 1 tracker failing (127.0.0.1:6969: refused)".into(),
                advice: Some("check the tracker URL".into()),
            },
            ExplainRow {
                check: "dht".into(),
                verdict: "ok".into(),
                evidence: "DHT: 9 nodes".into(),
                advice: None,
            },
        ],
        blocklist: None,
        proxy: None,
        port_mapping: None,
        interface: None,
        uplink: Some(Default::default()),
        families: None,
        streams: Vec::new(),
        introductions: 0,
        relay_bytes: 0,
        read_cache: Some(crate::engine::api::ReadCacheStats {
            capacity: 32 << 20,
            held: 3 << 20,
            hits: 90,
            misses: 10,
            read: 1 << 20,
        }),
    }
}

#[test]
fn show_has_every_section() {
    let out = show_text(&detail());
    assert!(out.starts_with("#3 ubuntu.iso\n"), "{out}");
    assert!(
        out.contains("  state       downloading: tracker unreachable\n"),
        "{out}"
    );
    assert!(out.contains("\nfiles (2)\n"), "{out}");
    // Each fact of the table, in words.
    assert!(out.contains("  last active never\n"), "{out}");
    assert!(out.contains("dir/\u{fffd}README"), "{out}");
    assert!(out.contains("\ntrackers (1)\n"), "{out}");
    assert!(
        out.contains("      ↳ connection refused\u{fffd}[31m\n"),
        "{out}"
    );
    assert!(out.contains("\npeers (1)\n"), "{out}");
    assert!(
        out.contains("Transmission 4.0") && out.contains("1.0 MiB/s"),
        "{out}"
    );
    assert!(!out.contains('\x1b') && !out.contains('\x07'));
    // Only the findings that are not ok, with their advice.
    assert!(
        out.ends_with(
            "\nwhy slow (1)\n  ✖ trackers: 1 of 1 tracker failing (127.0.0.1:6969: refused)\n      ↳ check the tracker URL\n\nread cache: 3 MiB of 32 MiB held, 90% of 100 blocks sent from memory, 1 MiB read into it\n"
        ),
        "{out}"
    );
    assert!(!out.contains("DHT: 9 nodes"), "{out}");
    let empty = TorrentDetail {
        files: vec![],
        trackers: vec![],
        peers: vec![],
        explain: vec![],
        read_cache: None,
        ..detail()
    };
    assert!(show_text(&empty).ends_with("\npeers (0)\n"));
}

#[test]
fn add_and_done_lines() {
    let ok = AddResult {
        source: "ubuntu.torrent".into(),
        id: Some(3),
        info_hash: Some("3f2a91c0".repeat(5)),
        name: Some("ubuntu.iso".into()),
        already: false,
        error: None,
    };
    let again = AddResult {
        id: Some(2),
        already: true,
        ..ok.clone()
    };
    let bad = AddResult {
        source: "magnet:?xt=bad\x1b".into(),
        id: None,
        info_hash: None,
        name: None,
        already: false,
        error: Some("not a magnet link".into()),
    };
    let all = [ok, again, bad];
    assert_eq!(
        add_lines(&all),
        "added #3 ubuntu.iso (3f2a91c0…)\nalready in the session: #2 ubuntu.iso (3f2a91c0…)\n"
    );
    assert_eq!(
        add_errors(&all),
        "cannot add magnet:?xt=bad\u{fffd}: not a magnet link\n"
    );
    let done = [
        IdResult {
            id: 3,
            name: "a".into(),
            error: None,
        },
        IdResult {
            id: 4,
            name: "b".into(),
            error: Some("moving".into()),
        },
    ];
    assert_eq!(done_lines("paused", &done), "paused #3 a\n");
    assert_eq!(done_errors(&done), "#4 b: moving\n");
}

#[test]
fn json_is_one_value_with_the_documented_fields() {
    let v: serde_json::Value = serde_json::from_str(&json(&[row(1, "a\x1b")])).unwrap();
    let obj = &v[0];
    for key in [
        "id",
        "info_hash",
        "name",
        "state",
        "why",
        "progress",
        "wanted_bytes",
        "verified_bytes",
        "downloaded",
        "uploaded",
        "ratio",
        "down_rate",
        "up_rate",
        "peers",
        "save_path",
        "added",
        "completed",
        "queue_position",
        "super_seeding",
        "sequential",
    ] {
        assert!(obj.get(key).is_some(), "{key} missing");
    }
    assert_eq!(obj["name"], "a\x1b", "JSON carries names whole");
    assert!(obj["why"].is_null() && obj["completed"].is_null());
    let d: serde_json::Value = serde_json::from_str(&json(&detail())).unwrap();
    assert_eq!(d["peers"][0]["address"], "127.0.0.1:51413");
    assert_eq!(d["peers_connected"], 12);
    assert_eq!(d["files"][1]["priority"], "skip");
    assert_eq!(d["trackers"][0]["last_error"], "connection refused\x1b[31m");
    assert_eq!(d["explain"][0]["check"], "trackers");
    assert_eq!(d["explain"][0]["verdict"], "holding_back");
    assert_eq!(d["explain"][1]["advice"], serde_json::Value::Null);
    let back: TorrentDetail = serde_json::from_str(&json(&detail())).unwrap();
    assert_eq!(back, detail());
    // The address families and the facts table's keys go through too (the families were
    // read back but never written).
    let mut more = detail();
    more.families = Some(crate::engine::api::Families {
        ipv4: true,
        ipv6: false,
    });
    more.row
        .facts
        .insert("last_activity".into(), 1_795_377_700u64.into());
    let text = json(&more);
    let d: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(d["families"]["ipv4"], true, "{d}");
    assert_eq!(d["last_activity"], 1_795_377_700u64, "{d}");
    let back: TorrentDetail = serde_json::from_str(&text).unwrap();
    assert_eq!(back, more);
    // A server from before the explainer: no `explain`, an empty list.
    let mut old = d.clone();
    old.as_object_mut().unwrap().remove("explain");
    let back: TorrentDetail = serde_json::from_value(old).unwrap();
    assert!(back.explain.is_empty());
}
