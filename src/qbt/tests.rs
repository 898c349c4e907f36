//! The door in-process: a server on loopback over a session that is only a line-up, and
//! raw HTTP requests, so each check's answer is seen as a client sees it.

use std::sync::Arc;

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, watch};

use super::*;
use crate::engine::api::{SessionSnapshot, TorrentId, TorrentLine, TorrentState};

struct Reply {
    status: u16,
    head: String,
    body: String,
}

async fn send(addr: SocketAddr, raw: String) -> Reply {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(raw.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut buf)).await;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Reply {
        status,
        head: head.to_string(),
        body: body.to_string(),
    }
}

async fn post(addr: SocketAddr, path: &str, extra: &str, body: &str) -> Reply {
    send(
        addr,
        format!(
            "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
             Content-Type: application/x-www-form-urlencoded\r\n{extra}\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    )
    .await
}

async fn login(addr: SocketAddr, password: &str) -> Reply {
    let form = format!("username=admin&password={password}");
    post(addr, "/api/v2/auth/login", "", &form).await
}

async fn get(addr: SocketAddr, path: &str, extra: &str) -> Reply {
    send(
        addr,
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{extra}\r\n"),
    )
    .await
}

fn sid_of(r: &Reply) -> Option<String> {
    r.head.lines().find_map(|l| {
        let v = l.strip_prefix("set-cookie: ")?;
        crate::http::guard::cookie(v, auth::COOKIE).map(str::to_string)
    })
}

struct Server {
    addr: SocketAddr,
    task: JoinHandle<()>,
    engine: JoinHandle<()>,
    _snapshot: watch::Sender<Arc<SessionSnapshot>>,
    /// The super-seeding changes the engine was asked for.
    super_seeds: Arc<std::sync::Mutex<Vec<(TorrentId, bool)>>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
        self.engine.abort();
    }
}

async fn server(ban: Duration) -> Server {
    let (tx, rx) = mpsc::unbounded_channel();
    let mut line = TorrentLine::placeholder(TorrentId(7));
    line.name = "payload".into();
    line.info_hash = [0xab; 20];
    line.state = TorrentState::Seeding;
    line.total_bytes = 10;
    line.wanted_bytes = 10;
    line.verified_bytes = 10;
    line.labels = vec!["hd".into(), "tv".into()];
    let (stx, srx) = watch::channel(Arc::new(with_catalog(vec![line])));
    let lineup = srx.clone();
    let client = Client::new(tx, srx);
    let settings = QbtSettings {
        listen: Some("127.0.0.1:0".parse().unwrap()),
        username: Some("admin".into()),
        password: Some("s3cret".into()),
        api_key: Some("k3y".into()),
        ban: Some(ban),
        ..QbtSettings::default()
    };
    let bound = bind(&settings).await.unwrap().unwrap();
    let addr = bound.local_addr().unwrap();
    let task = bound.serve(Facts::default(), client);
    // The session's part: a catalog where `tv` is a category, and `hd` and every other label
    // on a torrent are tags, as the engine keeps it.
    let super_seeds: Arc<std::sync::Mutex<Vec<(TorrentId, bool)>>> = Arc::default();
    let asked = Arc::clone(&super_seeds);
    let engine = tokio::spawn(async move {
        let mut rx: mpsc::UnboundedReceiver<crate::engine::api::SessionRequest> = rx;
        while let Some(req) = rx.recv().await {
            if let crate::engine::api::SessionRequest::Peek { ids, reply } = req {
                let snap = Arc::new(peeked());
                let out = ids
                    .into_iter()
                    .map(|id| (id, crate::engine::api::Peeked::Now(Arc::clone(&snap))))
                    .collect();
                let _ = reply.send(out);
            } else if let crate::engine::api::SessionRequest::TorrentFile { id, reply } = req {
                let _ = reply.send((id == TorrentId(7)).then(|| b"d4:infod4:name1:xee".to_vec()));
            } else if let crate::engine::api::SessionRequest::SuperSeed { id, on, reply } = req {
                asked.lock().unwrap().push((id, on));
                let _ = reply.send(Ok(()));
            } else if let crate::engine::api::SessionRequest::Catalog { reply, .. } = req {
                let _ = reply.send(Ok(catalog_of(
                    &lineup
                        .borrow()
                        .torrents
                        .iter()
                        .map(|t| TorrentLine::clone(t))
                        .collect::<Vec<_>>(),
                )));
            }
        }
    });
    Server {
        addr,
        task,
        engine,
        _snapshot: stx,
        super_seeds,
    }
}

#[tokio::test]
async fn login_sets_a_cookie_that_opens_the_api_and_logout_ends_it() {
    let s = server(auth::BAN).await;
    let r = get(s.addr, "/api/v2/app/version", "").await;
    assert_eq!(r.status, 403, "no cookie");
    let r = login(s.addr, "s3cret").await;
    assert_eq!((r.status, r.body.as_str()), (200, "Ok."));
    let sid = sid_of(&r).expect("a SID cookie");
    let cookie = format!("Cookie: SID={sid}\r\n");
    let r = get(s.addr, "/api/v2/app/version", &cookie).await;
    assert_eq!((r.status, r.body.as_str()), (200, app::VERSION));
    let r = get(
        s.addr,
        "/api/v2/torrents/info?filter=seeding&tag=hd&category=tv",
        &cookie,
    )
    .await;
    let list: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(list[0]["hash"], "ab".repeat(20));
    assert_eq!(list[0]["state"], "stalledUP");
    assert_eq!(list[0]["tags"], "hd", "a category is no tag");
    assert_eq!(list[0]["category"], "tv");
    let r = get(s.addr, "/api/v2/torrents/info?filter=paused", &cookie).await;
    assert_eq!(r.body, "[]");
    let r = get(s.addr, "/api/v2/torrents/info?category=", &cookie).await;
    assert_eq!(r.body, "[]", "uncategorised only");
    let r = get(s.addr, "/api/v2/torrents/categories", &cookie).await;
    let cats: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(cats["tv"]["savePath"], "/data/tv");
    let r = get(s.addr, "/api/v2/torrents/tags", &cookie).await;
    assert_eq!(r.body, r#"["hd"]"#);
    for (extra, status, what) in [
        (
            "Cookie: SID=forgedforgedforgedforgedforged12",
            403,
            "forged cookie",
        ),
        ("Authorization: Bearer k3y", 200, "API key"),
        ("Authorization: Bearer nope", 403, "wrong API key"),
        (cookie.trim_end(), 404, "unknown endpoint"),
    ] {
        let path = if status == 404 {
            "/api/v2/no/such"
        } else {
            "/api/v2/app/version"
        };
        let r = get(s.addr, path, &format!("{extra}\r\n")).await;
        assert_eq!(r.status, status, "{what}");
    }
    let r = get(s.addr, "/api/v2/torrents/pause", &cookie).await;
    assert_eq!(r.status, 405, "an action needs POST");
    post(s.addr, "/api/v2/auth/logout", &cookie, "").await;
    let r = get(s.addr, "/api/v2/app/version", &cookie).await;
    assert_eq!(r.status, 403, "after logout");
}

#[tokio::test]
async fn foreign_origins_and_hosts_are_refused() {
    let s = server(auth::BAN).await;
    let key = "Authorization: Bearer k3y\r\n";
    for (foreign, what) in [
        ("Referer: http://evil.example/", "foreign Referer"),
        ("Origin: http://evil.example", "foreign Origin"),
    ] {
        let r = get(
            s.addr,
            "/api/v2/app/version",
            &format!("{key}{foreign}\r\n"),
        )
        .await;
        assert_eq!(r.status, 401, "{what}");
    }
    let same = format!("{key}Referer: http://{}/index.html\r\n", s.addr);
    assert_eq!(get(s.addr, "/api/v2/app/version", &same).await.status, 200);
    let r = send(
        s.addr,
        format!("GET /api/v2/app/version HTTP/1.1\r\nHost: rebind.example\r\nConnection: close\r\n{key}\r\n"),
    )
    .await;
    assert_eq!(r.status, 401, "wrong Host");
    let r = send(
        s.addr,
        format!(
            "POST /api/v2/torrents/info HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n{key}\
             Content-Length: {}\r\n\r\n",
            s.addr,
            MAX_BODY + 1
        ),
    )
    .await;
    assert_eq!(r.status, 413, "oversized body");
}

#[tokio::test]
async fn failed_logins_ban_the_address_until_the_ban_ends() {
    let ban = Duration::from_secs(2);
    let s = server(ban).await;
    // Forms without credentials are not guesses: they never count.
    for _ in 0..10 {
        let r = post(s.addr, "/api/v2/auth/login", "", "").await;
        assert_eq!((r.status, r.body.as_str()), (200, "Fails."));
    }
    for _ in 0..auth::MAX_FAILURES {
        let r = login(s.addr, "guess").await;
        assert_eq!((r.status, r.body.as_str()), (200, "Fails."));
    }
    let r = login(s.addr, "s3cret").await;
    assert_eq!(r.status, 403, "banned, even with the right password");
    tokio::time::sleep(ban + Duration::from_millis(200)).await;
    let r = login(s.addr, "s3cret").await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (200, "Ok."),
        "the ban has ended"
    );
}

#[test]
fn beyond_loopback_credentials_are_required() {
    let open = QbtSettings {
        listen: Some("0.0.0.0:8080".parse().unwrap()),
        ..QbtSettings::default()
    };
    let e = open.credentials().unwrap_err().to_string();
    assert!(e.contains("qbt.username") && !e.contains("rpc"), "{e}");
    let half = QbtSettings {
        username: Some("u".into()),
        ..QbtSettings::default()
    };
    assert!(matches!(
        half.credentials(),
        Err(StartError::Credentials(
            guard::CredentialsError::HalfCredentials("qbt")
        ))
    ));
}

/// The fake session's catalog, as the engine keeps it: `tv` is a category, `hd` and every
/// other label on a torrent are tags.
fn catalog_of(lines: &[TorrentLine]) -> crate::engine::api::Catalog {
    let mut tags = vec!["hd".to_string()];
    for t in lines {
        for l in &t.labels {
            if l != "tv" && !tags.contains(l) {
                tags.push(l.clone());
            }
        }
    }
    crate::engine::api::Catalog {
        categories: vec![crate::engine::api::Category {
            name: "tv".into(),
            save_path: Some("/data/tv".into()),
            from_config: true,
        }],
        tags,
    }
}

/// A line-up of `lines` with the catalog published beside them, as the session does.
fn with_catalog(lines: Vec<TorrentLine>) -> SessionSnapshot {
    SessionSnapshot {
        catalog: Arc::new(catalog_of(&lines)),
        torrents: lines.into_iter().map(Arc::new).collect(),
        ..SessionSnapshot::default()
    }
}

fn seeding(id: u32, fill: u8) -> TorrentLine {
    let mut line = TorrentLine::placeholder(TorrentId(id));
    line.name = format!("t{id}");
    line.info_hash = [fill; 20];
    line.state = TorrentState::Seeding;
    line.total_bytes = 10;
    line.wanted_bytes = 10;
    line.verified_bytes = 10;
    line
}

async fn maindata(addr: SocketAddr, rid: u64) -> Value {
    let key = "Authorization: Bearer k3y\r\n";
    let r = get(addr, &format!("/api/v2/sync/maindata?rid={rid}"), key).await;
    assert_eq!(r.status, 200, "{}", r.body);
    serde_json::from_str(&r.body).unwrap()
}

#[tokio::test]
async fn maindata_sends_only_what_changed_since_the_rid() {
    let s = server(auth::BAN).await;
    let publish = |lines: Vec<TorrentLine>| {
        s._snapshot.send_replace(Arc::new(with_catalog(lines)));
    };
    let (mut a, b, c) = (seeding(1, 0x11), seeding(2, 0x22), seeding(3, 0x33));
    // Seeding for an hour: its clock is read at the answer's time.
    let now = crate::engine::api::unix_now();
    a.seeding = crate::engine::api::SeedClock::Running {
        zero_at: now - 3600,
    };
    publish(vec![a.clone(), b.clone(), c.clone()]);
    let full = maindata(s.addr, 0).await;
    assert_eq!(full["full_update"], true);
    let torrents = full["torrents"].as_object().unwrap();
    assert_eq!(torrents.len(), 3);
    let seeded = torrents[&"11".repeat(20)]["seeding_time"].as_u64().unwrap();
    assert!((3600..3700).contains(&seeded), "{seeded}");
    assert_eq!(torrents[&"22".repeat(20)]["seeding_time"], 0);
    assert_eq!(torrents[&"11".repeat(20)]["state"], "stalledUP");
    assert_eq!(full["categories"]["tv"]["savePath"], "/data/tv");
    assert_eq!(full["tags"], json!(["hd"]));
    assert!(full["server_state"]["dl_info_speed"].is_u64());
    let rid = full["rid"].as_u64().unwrap();

    // Nothing changed: nothing but the rid.
    let same = maindata(s.addr, rid).await;
    assert_eq!(same["full_update"], Value::Null);
    assert_eq!(same["torrents"], Value::Null, "{same}");

    // One torrent uploads: only it, only its changed fields (and the clock fields).
    let mut b2 = b.clone();
    b2.up_rate = 2048.0;
    b2.uploaded = 4096;
    b2.labels = vec!["tv".into(), "new".into()];
    publish(vec![a.clone(), b2.clone(), c.clone()]);
    let diff = maindata(s.addr, rid).await;
    let torrents = diff["torrents"].as_object().unwrap();
    assert_eq!(torrents.len(), 1, "{diff}");
    let changed = torrents[&"22".repeat(20)].as_object().unwrap();
    assert_eq!(changed["upspeed"], 2048);
    assert_eq!(changed["uploaded"], 4096);
    assert_eq!(changed["state"], "uploading");
    assert_eq!(changed["category"], "tv");
    assert_eq!(changed["tags"], "new");
    assert!(changed.get("name").is_none(), "an unchanged field: {diff}");
    assert!(changed.get("save_path").is_none(), "{diff}");
    assert_eq!(diff["tags"], json!(["new"]));
    assert_eq!(diff["categories"], Value::Null, "unchanged: {diff}");
    assert!(diff["server_state"].get("dht_nodes").is_none(), "{diff}");
    let rid2 = diff["rid"].as_u64().unwrap();
    assert!(rid2 > rid);

    // A client still at the first rid gets the same; one at the newest gets nothing.
    assert_eq!(maindata(s.addr, rid).await["torrents"], diff["torrents"]);
    assert_eq!(maindata(s.addr, rid2).await["torrents"], Value::Null);

    // A removed torrent and a label no torrent carries any more.
    publish(vec![a.clone(), c.clone()]);
    let gone = maindata(s.addr, rid2).await;
    assert_eq!(gone["torrents_removed"], json!(["22".repeat(20)]), "{gone}");
    assert_eq!(gone["tags_removed"], json!(["new"]));
    assert_eq!(gone["torrents"], Value::Null);
    // Seen from before it was added: removed only.
    let from_start = maindata(s.addr, rid).await;
    assert_eq!(from_start["torrents_removed"], json!(["22".repeat(20)]));
    assert_eq!(from_start["torrents"], Value::Null, "{from_start}");

    // A rid the server never gave, or one too old: a full update.
    for unknown in [rid2 + 1000, u64::MAX / 2] {
        let r = maindata(s.addr, unknown).await;
        assert_eq!(r["full_update"], true, "rid {unknown}");
        assert_eq!(r["torrents"].as_object().unwrap().len(), 2);
    }
    let mut many = a.clone();
    for n in 0..(sync::MAX_REVISIONS as u64 + 2) {
        many.uploaded = n + 1;
        publish(vec![many.clone(), c.clone()]);
        maindata(s.addr, 0).await;
    }
    assert_eq!(maindata(s.addr, rid2).await["full_update"], true, "evicted");
}

/// The torrent every `Peek` of the fake session answers: 3 pieces of 4 bytes, two files,
/// one tracker.
fn peeked() -> crate::engine::api::Snapshot {
    use crate::engine::api::{FilePriority, FileRow, PieceState, Snapshot};
    use crate::engine::api::{TrackerRow, TrackerStatus};
    let mut snap = Snapshot::empty("payload", 10, 4);
    snap.pieces = vec![
        PieceState::Verified,
        PieceState::InFlight,
        PieceState::Missing,
    ];
    snap.availability = vec![3, 1, 2];
    snap.files = vec![
        FileRow {
            path: "payload/a".into(),
            size: 6,
            offset: 0,
            done: 4,
            priority: FilePriority::High,
        },
        FileRow {
            path: "payload/b".into(),
            size: 4,
            offset: 6,
            done: 0,
            priority: FilePriority::Skip,
        },
    ];
    let mut tr = TrackerRow::not_contacted("http://192.0.2.1/announce".into(), 0);
    tr.status = TrackerStatus::Failed("refused".into());
    snap.trackers = vec![tr];
    snap
}

#[tokio::test]
async fn per_torrent_reads_answer_from_the_torrents_snapshot() {
    let s = server(auth::BAN).await;
    let key = "Authorization: Bearer k3y\r\n";
    let hash = "ab".repeat(20);
    let read = |call: &str| format!("/api/v2/torrents/{call}?hash={hash}");
    let body = |r: Reply| -> Value { serde_json::from_str(&r.body).unwrap() };

    let files = body(get(s.addr, &read("files"), key).await);
    assert_eq!(files[0]["name"], "payload/a");
    assert_eq!(files[0]["priority"], 7);
    assert_eq!(files[0]["piece_range"], json!([0, 1]));
    // Each of its pieces is with some peer: all of it is available.
    assert_eq!(files[0]["availability"], 1.0);
    assert_eq!(files[1]["priority"], 0);
    assert_eq!(files[1]["piece_range"], json!([1, 2]));
    assert_eq!(files[1]["is_seed"], false);

    let states = body(get(s.addr, &read("pieceStates"), key).await);
    assert_eq!(states, json!([2, 1, 0]));

    let trackers = body(get(s.addr, &read("trackers"), key).await);
    assert_eq!(trackers[0]["url"], "** [DHT] **");
    assert_eq!(trackers[3]["url"], "http://192.0.2.1/announce");
    assert_eq!(trackers[3]["status"], 4);
    assert_eq!(trackers[3]["msg"], "refused");

    let props = body(get(s.addr, &read("properties"), key).await);
    assert_eq!(props["pieces_num"], 3);
    assert_eq!(props["pieces_have"], 1);
    assert_eq!(props["piece_size"], 4);
    assert_eq!(props["save_path"], "");

    assert_eq!(body(get(s.addr, &read("webseeds"), key).await), json!([]));

    let path = format!("/api/v2/sync/torrentPeers?hash={hash}&rid=3");
    let peers = body(get(s.addr, &path, key).await);
    assert_eq!(peers["full_update"], true);
    assert_eq!(peers["rid"], 4);
    assert_eq!(peers["peers"], json!({}), "no connected peer");

    for call in [
        "torrents/properties",
        "torrents/files",
        "torrents/trackers",
        "torrents/webseeds",
        "torrents/pieceStates",
        "sync/torrentPeers",
    ] {
        let path = format!("/api/v2/{call}?hash={}", "cd".repeat(20));
        let r = get(s.addr, &path, key).await;
        assert_eq!(
            (r.status, r.body.as_str()),
            (404, "Torrent hash was not found"),
            "{call}"
        );
    }
}

#[tokio::test]
async fn transfer_limits_and_their_mode_are_read_from_the_line_up() {
    let s = server(auth::BAN).await;
    let key = "Authorization: Bearer k3y\r\n";
    let read = |call: &'static str| async move { get(s.addr, call, key).await.body };
    assert_eq!(read("/api/v2/transfer/speedLimitsMode").await, "0");
    let snap = SessionSnapshot {
        down_limit: 51_200,
        up_limit: 10_240,
        turtle: true,
        ..SessionSnapshot::default()
    };
    s._snapshot.send_replace(Arc::new(snap));
    assert_eq!(read("/api/v2/transfer/speedLimitsMode").await, "1");
    assert_eq!(read("/api/v2/transfer/downloadLimit").await, "51200");
    assert_eq!(read("/api/v2/transfer/uploadLimit").await, "10240");
    let r = get(s.addr, "/api/v2/transfer/toggleSpeedLimitsMode", key).await;
    assert_eq!(r.status, 405, "a switch needs POST");
}

#[tokio::test]
async fn preferences_have_every_key_of_qbittorrent_5_and_export_gives_the_torrent_file() {
    let s = server(auth::BAN).await;
    let key = "Authorization: Bearer k3y\r\n";
    let r = get(s.addr, "/api/v2/app/preferences", key).await;
    let prefs: Value = serde_json::from_str(&r.body).unwrap();
    let keys = prefs.as_object().map_or(0, |o| o.len());
    assert!(keys >= 190, "{keys} keys");
    for k in [
        "max_ratio_act",
        "max_inactive_seeding_time",
        "max_inactive_seeding_time_enabled",
        "torrent_content_layout",
        "add_stopped_enabled",
        "scan_dirs",
        "rss_refresh_interval",
        "rss_smart_episode_filters",
        "web_ui_port",
        "save_path",
    ] {
        assert!(prefs.get(k).is_some(), "{k} missing");
    }
    assert_eq!(prefs["max_ratio_act"], 0);
    let hash = "ab".repeat(20);
    let r = get(s.addr, &format!("/api/v2/torrents/export?hash={hash}"), key).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body, "d4:infod4:name1:xee");
    assert!(r.head.contains("application/x-bittorrent"), "{}", r.head);
    let r = get(
        s.addr,
        &format!("/api/v2/torrents/export?hash={}", "cd".repeat(20)),
        key,
    )
    .await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn set_super_seeding_asks_the_engine_and_info_shows_the_flag() {
    let s = server(auth::BAN).await;
    let key = "Authorization: Bearer k3y\r\n";
    let hash = "ab".repeat(20);
    for value in ["true", "false"] {
        let body = format!("hashes={hash}&value={value}");
        let r = post(s.addr, "/api/v2/torrents/setSuperSeeding", key, &body).await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    assert_eq!(
        *s.super_seeds.lock().unwrap(),
        [(TorrentId(7), true), (TorrentId(7), false)]
    );
    let mut line = seeding(7, 0xab);
    line.super_seeding = true;
    s._snapshot.send_replace(Arc::new(SessionSnapshot {
        torrents: vec![Arc::new(line)],
        ..SessionSnapshot::default()
    }));
    let r = get(s.addr, "/api/v2/torrents/info", key).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let info: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(info[0]["super_seeding"], true, "{info}");
}

/// A valid one-file .torrent named `f{n}`.
fn torrent_file(n: usize) -> Vec<u8> {
    let name = format!("f{n}");
    let pieces = "a".repeat(20);
    format!(
        "d4:infod6:lengthi1e4:name{}:{name}12:piece lengthi16384e6:pieces20:{pieces}ee",
        name.len()
    )
    .into_bytes()
}

#[tokio::test]
async fn a_form_of_many_torrents_waits_for_the_line_up_once() {
    use crate::engine::api::{Added, SessionRequest};
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (stx, srx) = watch::channel(Arc::new(SessionSnapshot::default()));
    let settings = QbtSettings {
        listen: Some("127.0.0.1:0".parse().unwrap()),
        username: Some("admin".into()),
        password: Some("s3cret".into()),
        ..QbtSettings::default()
    };
    let bound = bind(&settings).await.unwrap().unwrap();
    let addr = bound.local_addr().unwrap();
    let task = bound.serve(Facts::default(), Client::new(tx, srx));
    // The session's part, as the real one: each add answered at once, the line-up that lists
    // it published at the next tick.
    let engine = tokio::spawn(async move {
        let mut lines = Vec::new();
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        loop {
            tokio::select! {
                req = rx.recv() => match req {
                    Some(SessionRequest::Add { reply, .. }) => {
                        let id = TorrentId(lines.len() as u32 + 1);
                        lines.push(seeding(id.0, id.0 as u8));
                        let name = format!("t{}", id.0);
                        let _ = reply.send(Ok(Added::New { id, name, info_hash: [0; 20] }));
                    }
                    Some(_) => {}
                    None => return,
                },
                _ = tick.tick() => {
                    let snap = SessionSnapshot { torrents: lines.clone().into_iter().map(Arc::new).collect(), ..SessionSnapshot::default() };
                    stx.send_replace(Arc::new(snap));
                }
            }
        }
    });
    let sid = sid_of(&login(addr, "s3cret").await).expect("a cookie");
    let mut body = Vec::new();
    for n in 0..20 {
        body.extend_from_slice(
            format!(
                "--b\r\nContent-Disposition: form-data; name=\"torrents\"; \
                 filename=\"f{n}.torrent\"\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(&torrent_file(n));
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(
        b"--b\r\nContent-Disposition: form-data; name=\"skip_checking\"\r\n\r\ntrue\r\n--b--\r\n",
    );
    let head = format!(
        "POST /api/v2/torrents/add HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Cookie: SID={sid}\r\nContent-Type: multipart/form-data; boundary=b\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    );
    let started = std::time::Instant::now();
    let r = send(addr, head + &String::from_utf8(body).unwrap()).await;
    let took = started.elapsed();
    engine.abort();
    task.abort();
    assert_eq!((r.status, r.body.as_str()), (200, "Ok."));
    // One wait of a tick per torrent would be 20 ticks, 5 to 10 s.
    assert!(took < Duration::from_secs(3), "the form took {took:?}");
}
