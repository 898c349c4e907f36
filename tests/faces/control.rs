//! The control socket against well-behaved and hostile clients, with a trivial in-test
//! session behind it: every message survives the wire, another protocol version gets a clear
//! error, and garbage, huge or half frames, a client that never reads and a crowd of clients
//! each cost only their own connection. Binding: 0600, a stale socket (from a killed process)
//! taken over, a live one refused.
// A test crate: it may unwrap, and nothing in it is reachable from outside anyway.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
use tokio::sync::mpsc;
use tokio::time::timeout;

use ttui::internals::control::frame::{self, ReadLimits, MAX_FRAME, MAX_REPLY};
use ttui::internals::control::ids::resolve_ids;
use ttui::internals::control::proto::*;
use ttui::internals::control::server::{BindError, Handler, Limits};
use ttui::internals::control::{Client, ControlServer};
use ttui::internals::engine::api::{SessionSnapshot, TorrentId, TorrentLine};

const BOUND: Duration = Duration::from_secs(10);

fn row(id: u32) -> TorrentRow {
    TorrentRow {
        id,
        info_hash: format!("{id:040x}"),
        info_hash_v2: None,
        name: format!("torrent {id} \u{202E}\x1b[2J"),
        state: "downloading".into(),
        why: Some("no peer has piece 7".into()),
        progress: 0.5,
        wanted_bytes: 1 << 30,
        total_bytes: 2 << 30,
        verified_bytes: 1 << 29,
        downloaded: 1 << 29,
        uploaded: 7,
        ratio: 1.5,
        down_rate: 1000,
        up_rate: 10,
        peers: 4,
        seeds: 1,
        eta_secs: None,
        save_path: "/tmp/x".into(),
        added: 1_700_000_000,
        completed: Some(1_700_000_100),
        queue_position: 0,
        peers_interested: 0,
        next_announce: None,
        labels: vec!["tv".into(), "ünï".into()],
        final_dir: None,
        blocked: 0,
        super_seeding: false,
        sequential: false,
        first_last: false,
        seeding_secs: 0,
        facts: [("last_activity".to_string(), 1_700_000_200u64.into())]
            .into_iter()
            .collect(),
    }
}

fn detail(id: u32) -> TorrentDetail {
    TorrentDetail {
        row: row(id),
        files: vec![FileRow {
            index: 0,
            path: "a/b".into(),
            size: 5,
            verified_bytes: 5,
            priority: "high".into(),
        }],
        trackers: vec![TrackerRow {
            url: "udp://127.0.0.1:1/announce".into(),
            tier: 1,
            status: "error".into(),
            last_error: Some("timed out".into()),
            peers: None,
            seeders: None,
            leechers: None,
            last_announce: None,
            reported: Some(ttui::internals::engine::api::Moved {
                uploaded: 5,
                downloaded: 0,
            }),
        }],
        peers: vec![PeerInfo {
            address: "[::1]:6881".into(),
            client: None,
            state: "choked".into(),
            reason: Some("they choke us".into()),
            down_rate: 0,
            up_rate: 3,
            upload_only: false,
            reached: "hole punched via 203.0.113.5".into(),
            transport: Some("WebRTC".into()),
            webrtc_stage: Some("DTLS".into()),
        }],
        explain: vec![ExplainRow {
            check: "peer_failures".into(),
            verdict: "holding_back".into(),
            evidence: "2 peers closed the plain handshake".into(),
            advice: Some("run with `--encryption prefer`".into()),
        }],
        blocklist: None,
        proxy: None,
        port_mapping: None,
        interface: None,
        uplink: None,
        families: None,
        streams: Vec::new(),
        introductions: 2,
        relay_bytes: 108,
        read_cache: Some(ttui::internals::engine::api::ReadCacheStats {
            capacity: 32 << 20,
            held: 1 << 20,
            hits: 31,
            misses: 1,
            read: 1 << 20,
        }),
    }
}

/// A session that knows torrents 1 and 2; `list` answers `rows` rows (big answers fill a
/// socket that is not read).
fn session(rows: u32) -> Handler {
    let (tx, mut rx) = mpsc::channel::<(Request, tokio::sync::oneshot::Sender<Response>)>(8);
    tokio::spawn(async move {
        let line = |id: u32, hash: u8| TorrentLine {
            info_hash: [hash; 20],
            ..TorrentLine::placeholder(TorrentId(id))
        };
        let known = SessionSnapshot {
            torrents: [line(1, 0x11), line(2, 0x22)]
                .map(std::sync::Arc::new)
                .into(),
            ..SessionSnapshot::default()
        };
        while let Some((request, reply)) = rx.recv().await {
            let answer = match request {
                Request::List => Response::List((1..=rows).map(row).collect()),
                Request::Show { id } => match resolve_ids(&[id], &known) {
                    Ok(ids) => Response::Show(Box::new(detail(ids[0].0))),
                    Err(e) => Response::Error(e),
                },
                Request::Pause { ids } => match resolve_ids(&ids, &known) {
                    Ok(ids) => Response::Done(
                        ids.into_iter()
                            .map(|TorrentId(id)| IdResult {
                                id,
                                name: format!("t{id}"),
                                error: None,
                            })
                            .collect(),
                    ),
                    Err(e) => Response::Error(e),
                },
                other => Response::Error(ControlError::new(
                    ErrorKind::Internal,
                    format!("test session: {}", other.verb()),
                )),
            };
            let _ = reply.send(answer);
        }
    });
    tx
}

fn quick_limits() -> Limits {
    Limits {
        max_clients: 64,
        max_frame: MAX_FRAME,
        max_reply: MAX_REPLY,
        frame_timeout: Duration::from_millis(500),
        write_timeout: Duration::from_millis(500),
    }
}

/// A server on a fresh socket in `dir`.
fn start(dir: &Path, rows: u32, limits: Limits) -> PathBuf {
    let path = dir.join("control.sock");
    let server = ControlServer::bind(&path).unwrap();
    tokio::spawn(server.run_with(session(rows), limits));
    path
}

async fn good_client_works(path: &Path) {
    let mut c = timeout(BOUND, Client::connect(path))
        .await
        .unwrap()
        .unwrap();
    let answer = timeout(
        BOUND,
        c.request(&Request::Pause {
            ids: vec!["2".into()],
        }),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(
        answer,
        Response::Done(vec![IdResult {
            id: 2,
            name: "t2".into(),
            error: None
        }])
    );
}

async fn send_raw<T: serde::Serialize>(s: &mut UnixStream, v: &T) {
    let body = serde_json::to_vec(v).unwrap();
    frame::write_frame(s, &body, MAX_FRAME, BOUND)
        .await
        .unwrap();
}

async fn read_raw(s: &mut UnixStream) -> Vec<u8> {
    let limits = ReadLimits {
        max: MAX_FRAME,
        idle: Some(BOUND),
        frame: BOUND,
    };
    frame::read_frame(s, limits).await.unwrap()
}

/// Reads until the server closes the connection; fails if it does not within [`BOUND`].
async fn closed_by_server(s: &mut UnixStream) {
    let mut sink = vec![0u8; 1 << 16];
    let ended = timeout(BOUND, async {
        loop {
            match s.read(&mut sink).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the server kept a hostile connection open");
}

#[tokio::test]
async fn every_message_survives_the_wire() {
    let requests = vec![
        Request::Add {
            items: vec![
                AddItem::Torrent {
                    name: "a.torrent".into(),
                    bytes: (0..=255u8).collect(),
                },
                AddItem::Magnet("magnet:?xt=urn:btih:".to_string() + &"a".repeat(40)),
                AddItem::Url("http://127.0.0.1:1/x.torrent".into()),
            ],
            save_path: Some("/tmp/dl".into()),
            paused: true,
            files: ttui::internals::engine::api::AddFiles {
                only: Some(vec![0, 3, 4]),
                sequential: true,
                first_last: false,
                complete: false,
                subfolder: false,
            },
            labels: vec!["tv".into()],
        },
        Request::Label {
            ids: vec!["2".into()],
            edit: ttui::internals::engine::api::LabelEdit::Change {
                add: vec!["hd".into()],
                remove: vec!["old".into()],
            },
        },
        Request::Files {
            id: "2".into(),
            set: Some(ttui::internals::control::files::FilesChange {
                files: vec![1],
                priority: Some(ttui::internals::engine::api::FilePriority::Skip),
                sequential: Some(false),
            }),
        },
        Request::List,
        Request::Show {
            id: "3f2a91".into(),
        },
        Request::Pause {
            ids: vec!["1".into(), "all".into()],
        },
        Request::Resume {
            ids: vec!["2".into()],
        },
        Request::Verify {
            ids: vec!["all".into()],
        },
        Request::Remove {
            ids: vec!["1".into()],
            delete_data: true,
        },
        Request::Move {
            id: "1".into(),
            dir: "/tmp/elsewhere".into(),
        },
        Request::Shutdown,
    ];
    let responses = vec![
        Response::Added(vec![AddResult {
            source: "a.torrent".into(),
            id: Some(3),
            info_hash: Some("ab".repeat(20)),
            name: Some("a".into()),
            already: false,
            error: None,
        }]),
        Response::List(vec![row(1), row(2)]),
        Response::Show(Box::new(detail(1))),
        Response::Done(vec![IdResult {
            id: 1,
            name: "n".into(),
            error: Some("e".into()),
        }]),
        Response::Error(ControlError::new(ErrorKind::UnknownId, "no torrent 9")),
    ];
    let (mut a, mut b) = tokio::io::duplex(1 << 16);
    let limits = ReadLimits {
        max: MAX_FRAME,
        idle: None,
        frame: BOUND,
    };
    for r in &requests {
        let body = encode(r).unwrap();
        let (sent, got) = tokio::join!(
            frame::write_frame(&mut a, &body, MAX_FRAME, BOUND),
            frame::read_frame(&mut b, limits)
        );
        sent.unwrap();
        assert_eq!(&decode_request(&got.unwrap()).unwrap(), r);
    }
    for r in &responses {
        let body = encode(r).unwrap();
        let (sent, got) = tokio::join!(
            frame::write_frame(&mut a, &body, MAX_FRAME, BOUND),
            frame::read_frame(&mut b, limits)
        );
        sent.unwrap();
        assert_eq!(&decode_response(&got.unwrap()).unwrap(), r);
    }
    // The wire shapes the man page documents (assets/man/scripting.md).
    let add = serde_json::to_value(&requests[0]).unwrap();
    assert_eq!(add["verb"], "add");
    assert_eq!(
        add["items"][0]["torrent"]["bytes"].as_str().unwrap().len(),
        344
    );
    assert_eq!(
        serde_json::to_value(&responses[4]).unwrap()["data"]["kind"],
        "unknown_id"
    );
    // A ratio with no JSON form goes out as 0 and reads back.
    let mut odd = row(1);
    odd.ratio = f64::INFINITY;
    let back = decode_response(&encode(&Response::List(vec![odd])).unwrap()).unwrap();
    assert!(matches!(back, Response::List(r) if r[0].ratio == 0.0));
    // An error kind from a newer session is still an error, with a usable exit code.
    let newer = br#"{"type":"error","data":{"kind":"quota","message":"m"}}"#;
    let e = decode_response(newer).unwrap();
    assert_eq!(
        e,
        Response::Error(ControlError::new(ErrorKind::Internal, "m"))
    );
    assert_eq!(
        [
            ErrorKind::Internal,
            ErrorKind::BadArgument,
            ErrorKind::NoSession,
            ErrorKind::UnknownId
        ]
        .map(ErrorKind::exit_code),
        [1, 2, 3, 4]
    );
}

/// The session's answers may be larger than a request may be: a list grows with the library
/// (45 MB at 100,000 torrents), and a cap made for requests would leave a large library
/// unlistable. An answer past the reply cap is an error, not a cut frame.
#[tokio::test]
async fn an_answer_may_pass_the_request_cap_but_not_the_reply_cap() {
    let dir = tempfile::tempdir().unwrap();
    let small = Limits {
        max_frame: 16 << 10,
        max_reply: 4 << 20,
        ..quick_limits()
    };
    let path = start(dir.path(), 2_000, small);
    let mut c = timeout(BOUND, Client::connect(&path))
        .await
        .unwrap()
        .unwrap();
    let raw = timeout(BOUND, c.request_raw(&Request::List))
        .await
        .unwrap()
        .unwrap();
    assert!(raw.len() > 16 << 10, "the list is {} bytes", raw.len());
    match decode_response(&raw).unwrap() {
        Response::List(rows) => assert_eq!(rows.len(), 2_000),
        other => panic!("not a list: {other:?}"),
    }
    // The same list past the reply cap: the session says so in an error.
    let tight = Limits {
        max_reply: 16 << 10,
        ..small
    };
    let dir = tempfile::tempdir().unwrap();
    let path = start(dir.path(), 2_000, tight);
    let mut c = timeout(BOUND, Client::connect(&path))
        .await
        .unwrap()
        .unwrap();
    let e = timeout(BOUND, c.request(&Request::List))
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        e.message.contains("more than the protocol's limit"),
        "{}",
        e.message
    );
}

#[tokio::test]
async fn another_version_gets_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = start(dir.path(), 1, quick_limits());
    let mut s = UnixStream::connect(&path).await.unwrap();
    send_raw(
        &mut s,
        &Hello {
            version: 2,
            program: "ttui 0.2.0".into(),
        },
    )
    .await;
    let hello: Hello = serde_json::from_slice(&read_raw(&mut s).await).unwrap();
    assert_eq!(hello, Hello::ours());
    let Response::Error(e) = decode_response(&read_raw(&mut s).await).unwrap() else {
        panic!("no error for another version");
    };
    assert_eq!(e.kind, ErrorKind::Version);
    assert!(
        e.message.starts_with(&format!(
            "ttui 0.2.0 speaks control protocol 2, the running session ({}) speaks 1: ",
            hello.program
        )),
        "{}",
        e.message
    );
    closed_by_server(&mut s).await;

    // The client side says the same when the session is the other version.
    let fake = dir.path().join("fake.sock");
    let listener = tokio::net::UnixListener::bind(&fake).unwrap();
    tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        read_raw(&mut s).await;
        send_raw(
            &mut s,
            &Hello {
                version: 9,
                program: "ttui 9.0.0\x1b[2J".into(),
            },
        )
        .await;
        let _ = s.read(&mut [0u8; 1]).await;
    });
    let e = Client::connect(&fake).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Version);
    // What the session says is cleaned before a verb prints it.
    assert!(
        e.message
            .contains("the running session (ttui 9.0.0\u{fffd}[2J) speaks 9"),
        "{}",
        e.message
    );

    // A request this version does not know: a clear error, and the connection goes on.
    let mut s = UnixStream::connect(&path).await.unwrap();
    send_raw(&mut s, &Hello::ours()).await;
    read_raw(&mut s).await;
    send_raw(&mut s, &serde_json::json!({"verb": "attach", "id": "1"})).await;
    let Response::Error(e) = decode_response(&read_raw(&mut s).await).unwrap() else {
        panic!("unknown verb accepted");
    };
    assert_eq!(e.kind, ErrorKind::Version);
    assert!(
        e.message.contains("does not know the request `attach`"),
        "{}",
        e.message
    );
    send_raw(&mut s, &serde_json::json!({"verb": "pause", "ids": 5})).await;
    let Response::Error(e) = decode_response(&read_raw(&mut s).await).unwrap() else {
        panic!("bad request accepted");
    };
    assert_eq!(e.kind, ErrorKind::BadArgument);
    send_raw(&mut s, &Request::List).await;
    assert!(matches!(
        decode_response(&read_raw(&mut s).await).unwrap(),
        Response::List(_)
    ));
}

#[tokio::test]
async fn no_session_is_its_own_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("control.sock");
    let e = Client::connect(&path).await.unwrap_err();
    assert_eq!((e.kind, e.kind.exit_code()), (ErrorKind::NoSession, 3));
    assert!(
        e.message.contains("no ttui session is running"),
        "{}",
        e.message
    );
    // A socket file nobody listens on is no session either.
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    assert_eq!(
        Client::connect(&path).await.unwrap_err().kind,
        ErrorKind::NoSession
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_clients_cost_only_their_own_connection() {
    let dir = tempfile::tempdir().unwrap();
    // 3000 rows make each `list` answer about 1.3 MB: a few fill any socket buffer.
    let path = start(dir.path(), 3000, quick_limits());
    good_client_works(&path).await;

    // Garbage: "GET / HTTP/1.1" read as a length is over a gigabyte.
    let mut s = UnixStream::connect(&path).await.unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    closed_by_server(&mut s).await;
    good_client_works(&path).await;

    // A 4 GiB length prefix after a proper hello: told why, then dropped.
    let mut s = UnixStream::connect(&path).await.unwrap();
    send_raw(&mut s, &Hello::ours()).await;
    read_raw(&mut s).await;
    s.write_all(&[0xff, 0xff, 0xff, 0xff, b'{']).await.unwrap();
    let Response::Error(e) = decode_response(&read_raw(&mut s).await).unwrap() else {
        panic!("a 4 GiB frame was not refused");
    };
    assert!(
        e.message.contains("4294967295 bytes is larger"),
        "{}",
        e.message
    );
    closed_by_server(&mut s).await;
    good_client_works(&path).await;

    // Half a frame, then silence: dropped once the frame's deadline passes.
    let mut s = UnixStream::connect(&path).await.unwrap();
    send_raw(&mut s, &Hello::ours()).await;
    read_raw(&mut s).await;
    s.write_all(&[0, 0, 0, 100, b'{']).await.unwrap();
    good_client_works(&path).await;
    closed_by_server(&mut s).await;

    // Half a hello (two bytes of the length), then silence.
    let mut s = UnixStream::connect(&path).await.unwrap();
    s.write_all(&[0, 0]).await.unwrap();
    closed_by_server(&mut s).await;

    // Many requests, never reading an answer: dropped when an answer cannot be written.
    let mut s = UnixStream::connect(&path).await.unwrap();
    send_raw(&mut s, &Hello::ours()).await;
    read_raw(&mut s).await;
    let list = frame::encode(&encode(&Request::List).unwrap(), MAX_FRAME).unwrap();
    let mut sent = 0;
    for _ in 0..2000 {
        match timeout(Duration::from_millis(200), s.write_all(&list)).await {
            Ok(Ok(())) => sent += 1,
            _ => break,
        }
    }
    assert!(sent > 2, "sent {sent}");
    good_client_works(&path).await;
    // Past the write deadline; reading before it would make this a client that reads.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    closed_by_server(&mut s).await;
    good_client_works(&path).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crowd_of_clients_is_turned_away_politely() {
    let dir = tempfile::tempdir().unwrap();
    let path = start(
        dir.path(),
        1,
        Limits {
            max_clients: 64,
            ..Limits::default()
        },
    );
    let connects = (0..200).map(|_| {
        let path = path.clone();
        tokio::spawn(async move { timeout(BOUND, Client::connect(&path)).await.unwrap() })
    });
    let mut kept = Vec::new();
    let mut busy = 0;
    for c in connects.collect::<Vec<_>>() {
        match c.await.unwrap() {
            Ok(client) => kept.push(client),
            Err(e) => {
                assert!(
                    e.message.contains("64 control clients already"),
                    "{}",
                    e.message
                );
                busy += 1;
            }
        }
    }
    assert_eq!((kept.len(), busy), (64, 136));
    // The ones let in are served while the crowd stands.
    for c in kept.iter_mut().take(3) {
        assert!(matches!(
            c.request(&Request::List).await.unwrap(),
            Response::List(_)
        ));
    }
    drop(kept);
    // Slots come back as clients leave.
    let mut ok = false;
    for _ in 0..50 {
        if Client::connect(&path).await.is_ok() {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(ok, "slots never came back");
    good_client_works(&path).await;
}

#[tokio::test]
async fn socket_is_private_and_a_live_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("control.sock");
    let server = ControlServer::bind(&path).unwrap();
    let mode = std::fs::symlink_metadata(&path)
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "mode {mode:o}");
    assert!(matches!(
        ControlServer::bind(&path),
        Err(BindError::AlreadyRunning(_))
    ));
    // The session goes away (its receiver is dropped): serving ends and the socket goes.
    let (tx, rx) = mpsc::channel(1);
    let serving = tokio::spawn(server.run(tx));
    assert!(Client::connect(&path).await.is_ok());
    drop(rx);
    timeout(BOUND, serving).await.unwrap().unwrap();
    assert!(!path.exists(), "socket left behind");

    // A live socket of a session that takes no lock is refused too.
    let other = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let e = ControlServer::bind(&path).unwrap_err();
    assert!(e.to_string().contains("already running"), "{e}");
    drop(other);
    std::fs::remove_file(&path).unwrap();

    // Something that is not a socket is left alone.
    std::fs::write(&path, b"mine").unwrap();
    assert!(ControlServer::bind(&path)
        .unwrap_err()
        .to_string()
        .contains("not a socket"));
    assert_eq!(std::fs::read(&path).unwrap(), b"mine");
}

/// The child half of [`a_killed_session_is_taken_over`]: binds, says so, waits to be killed.
#[test]
fn child_binds_and_waits() {
    let Some(path) = std::env::var_os("TTUI_CONTROL_CHILD") else {
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let server = ControlServer::bind(Path::new(&path)).unwrap();
        println!("bound");
        tokio::spawn(server.run(session(1)));
        tokio::time::sleep(Duration::from_secs(30)).await;
    });
}

#[tokio::test]
async fn a_killed_session_is_taken_over() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("control.sock");
    // The child test's name in this binary: its module path without the crate's name.
    let child_test = format!(
        "{}::child_binds_and_waits",
        module_path!().split_once("::").map_or("", |m| m.1)
    );
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            child_test.as_str(),
            "--nocapture",
            "--test-threads=1",
        ])
        .env("TTUI_CONTROL_CHILD", &path)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut up = false;
    for _ in 0..200 {
        if Client::connect(&path).await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let refused = ControlServer::bind(&path);
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(up, "the child session never answered");
    assert!(matches!(refused, Err(BindError::AlreadyRunning(_))));
    // SIGKILL ran no destructor: the socket file is still there, and nobody answers it.
    assert!(path.exists());
    assert_eq!(
        Client::connect(&path).await.unwrap_err().kind,
        ErrorKind::NoSession
    );
    let server = ControlServer::bind(&path).unwrap();
    tokio::spawn(server.run(session(1)));
    good_client_works(&path).await;
}

#[test]
fn the_largest_torrent_fits_one_frame_and_batches_split() {
    let max = ttui::internals::cli::load::MAX_TORRENT_SIZE as usize;
    let biggest = AddItem::Torrent {
        name: "n".repeat(4096),
        bytes: vec![0xA5; max],
    };
    let requests = add_requests(vec![biggest.clone(), biggest], Some("/tmp".into()), false);
    assert_eq!(
        requests.len(),
        2,
        "two 64 MiB torrents cannot share a frame"
    );
    // Both batches are alike: one is checked (90 MB of JSON takes a while).
    for r in &requests[..1] {
        let body = encode(r).unwrap();
        assert!(body.len() <= MAX_FRAME as usize, "{} bytes", body.len());
        assert_eq!(&decode_request(&body).unwrap(), r);
    }
    let small: Vec<AddItem> = (0..100)
        .map(|i| AddItem::Magnet(format!("magnet:?xt=urn:btih:{i:040}")))
        .collect();
    let batched = add_requests(small.clone(), None, true);
    assert_eq!(
        batched,
        vec![Request::Add {
            items: small,
            save_path: None,
            paused: true,
            files: Default::default(),
            labels: Vec::new(),
        }]
    );
}
