//! The door in-process: a server on loopback over a session that is only a line-up, and
//! raw HTTP requests, so each check's answer is seen as a client sees it.

use std::sync::Arc;

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
        auth::cookie(v, auth::COOKIE).map(str::to_string)
    })
}

struct Server {
    addr: SocketAddr,
    task: JoinHandle<()>,
    engine: JoinHandle<()>,
    _snapshot: watch::Sender<Arc<SessionSnapshot>>,
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
    let snap = SessionSnapshot {
        torrents: vec![line],
        ..SessionSnapshot::default()
    };
    let (stx, srx) = watch::channel(Arc::new(snap));
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
    // The session's part: a catalog where `tv` is a category and `hd` a tag.
    let engine = tokio::spawn(async move {
        let mut rx: mpsc::UnboundedReceiver<crate::engine::api::SessionRequest> = rx;
        while let Some(req) = rx.recv().await {
            if let crate::engine::api::SessionRequest::Catalog { reply, .. } = req {
                let _ = reply.send(Ok(crate::engine::api::Catalog {
                    categories: vec![crate::engine::api::Category {
                        name: "tv".into(),
                        save_path: Some("/data/tv".into()),
                        from_config: true,
                    }],
                    tags: vec!["hd".into()],
                }));
            }
        }
    });
    Server {
        addr,
        task,
        engine,
        _snapshot: stx,
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
