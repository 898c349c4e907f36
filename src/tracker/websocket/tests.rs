//! The socket's task against a fake tracker on loopback, for what the real one (tests/net/
//! ws_tracker.rs) does not produce: a failure reason, a hostile oversized message, relayed
//! offers, a drop and the reconnect, the proxy; and WebRTC's offers and answers through it
//! (a flood of relayed offers).

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use serde_json::{json, Value};
use tokio::net::TcpListener;

use super::*;
use crate::tracker::Progress;

type Server = WebSocketStream<TcpStream>;

/// A tracker at the returned URL: each connection, one after the other, goes to `serve`
/// with its number (from 0).
async fn tracker<F, Fut>(mut serve: F) -> reqwest::Url
where
    F: FnMut(usize, Server) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        for n in 0.. {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let Ok(ws) = tokio_tungstenite::accept_async(stream).await else {
                continue;
            };
            serve(n, ws).await;
        }
    });
    reqwest::Url::parse(&format!("ws://127.0.0.1:{port}/announce")).unwrap()
}

/// The next text message as JSON; None once the socket closed.
async fn next_json(ws: &mut Server) -> Option<Value> {
    loop {
        match ws.next().await? {
            Ok(Message::Text(t)) => return Some(serde_json::from_str(t.as_str()).unwrap()),
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => {}
        }
    }
}

async fn say(ws: &mut Server, v: Value) {
    ws.send(Message::text(v.to_string())).await.unwrap();
}

/// 20 bytes as the protocol's "binary" string.
fn bin(id: &Id) -> String {
    id.iter().map(|b| char::from(*b)).collect()
}

fn req(info_hash: Id, event: AnnounceEvent) -> AnnounceRequest {
    AnnounceRequest {
        info_hash,
        peer_id: *b"-TT0001-wsunit000000",
        port: 6881,
        progress: Progress {
            uploaded: 1,
            downloaded: 2,
            left: 3,
        },
        event,
        numwant: 50,
    }
}

const HASH: Id = [0xe9; 20];
const OTHER: Id = *b"another torrent hash";

fn egress() -> Egress {
    Egress::default()
}

#[tokio::test]
async fn counts_and_interval_answer_and_a_relayed_offer_is_dropped() {
    let (seen_tx, mut seen) = mpsc::unbounded_channel();
    let url = tracker(move |_, mut ws| {
        let seen_tx = seen_tx.clone();
        async move {
            let asked = next_json(&mut ws).await.unwrap();
            seen_tx.send(asked).unwrap();
            // Another peer's offer comes first: it answers nothing of ours.
            say(
                &mut ws,
                json!({"action": "announce", "info_hash": bin(&HASH),
                "peer_id": bin(&[7; 20]), "offer_id": bin(&[8; 20]),
                "offer": {"type": "offer", "sdp": "v=0"}}),
            )
            .await;
            say(
                &mut ws,
                json!({"action": "announce", "info_hash": bin(&HASH),
                "interval": 120, "complete": 3, "incomplete": 4}),
            )
            .await;
            while next_json(&mut ws).await.is_some() {}
        }
    })
    .await;
    let r = announce(&url, &req(HASH, AnnounceEvent::Started), &egress())
        .await
        .unwrap();
    assert_eq!(r.seeders, Some(3));
    assert_eq!(r.leechers, Some(4));
    assert_eq!(r.interval, Duration::from_secs(120));
    assert!(r.peers.is_empty());
    let asked = seen.recv().await.unwrap();
    assert_eq!(asked["action"], "announce");
    assert_eq!(asked["event"], "started");
    assert_eq!(asked["info_hash"], bin(&HASH));
    assert_eq!(asked["left"], 3);
    // Without WebRTC (a private torrent, WebTorrent off): no offers, so the tracker sends
    // us no peers' offers in return.
    assert_eq!(asked["numwant"], 0);
    assert_eq!(asked["offers"], json!([]));
}

#[tokio::test]
async fn a_failure_reason_fails_that_torrents_announce_in_the_trackers_words() {
    let url = tracker(|_, mut ws| async move {
        while let Some(asked) = next_json(&mut ws).await {
            say(
                &mut ws,
                json!({"action": "announce", "info_hash": asked["info_hash"],
                "failure reason": "torrent not\u{1b}[2J allowed"}),
            )
            .await;
        }
    })
    .await;
    let e = announce(&url, &req(HASH, AnnounceEvent::Started), &egress())
        .await
        .unwrap_err();
    // The escape sequence cannot reach the terminal.
    assert_eq!(e, TrackerError::Failure("torrent not[2J allowed".into()));
}

#[tokio::test]
async fn a_hostile_oversized_message_closes_the_socket_with_a_clear_reason() {
    let url = tracker(|_, mut ws| async move {
        let _ = next_json(&mut ws).await;
        let huge = format!("{{\"x\":\"{}\"}}", "a".repeat(MAX_MESSAGE * 4));
        let _ = ws.send(Message::text(huge)).await;
        while next_json(&mut ws).await.is_some() {}
    })
    .await;
    let e = announce(&url, &req(HASH, AnnounceEvent::Started), &egress())
        .await
        .unwrap_err();
    let TrackerError::BadReply(why) = &e else {
        panic!("{e:?}");
    };
    assert!(why.contains(&format!("at most {MAX_MESSAGE}")), "{why}");
}

#[tokio::test]
async fn garbage_is_dropped_and_the_answer_after_it_still_counts() {
    let url = tracker(|_, mut ws| async move {
        while let Some(asked) = next_json(&mut ws).await {
            for junk in [
                "not json",
                "[1,2]",
                "{\"action\":\"dance\"}",
                "{\"info_hash\":7}",
            ] {
                ws.send(Message::text(junk)).await.unwrap();
            }
            say(
                &mut ws,
                json!({"action": "announce", "info_hash": asked["info_hash"],
                "interval": 60, "complete": 1, "incomplete": 0,
                "warning message": "be nice"}),
            )
            .await;
        }
    })
    .await;
    let r = announce(&url, &req(HASH, AnnounceEvent::Started), &egress())
        .await
        .unwrap();
    assert_eq!(r.seeders, Some(1));
    assert_eq!(r.warning.as_deref(), Some("be nice"));
}

/// Two torrents share one socket; it closes once both have stopped.
#[tokio::test]
async fn torrents_share_one_socket_until_the_last_stops() {
    let connections = Arc::new(AtomicUsize::new(0));
    let (closed_tx, mut closed) = mpsc::unbounded_channel();
    let counted = connections.clone();
    let url = tracker(move |_, mut ws| {
        counted.fetch_add(1, Ordering::SeqCst);
        let closed_tx = closed_tx.clone();
        async move {
            while let Some(asked) = next_json(&mut ws).await {
                say(
                    &mut ws,
                    json!({"action": "announce", "info_hash": asked["info_hash"],
                    "interval": 120, "complete": 0, "incomplete": 1}),
                )
                .await;
            }
            closed_tx.send(()).unwrap();
        }
    })
    .await;
    let e = egress();
    for hash in [HASH, OTHER] {
        announce(&url, &req(hash, AnnounceEvent::Started), &e)
            .await
            .unwrap();
    }
    announce(&url, &req(HASH, AnnounceEvent::Stopped), &e)
        .await
        .unwrap();
    assert!(
        tokio::time::timeout(Duration::from_millis(300), closed.recv())
            .await
            .is_err(),
        "the socket stays open for the other torrent"
    );
    announce(&url, &req(OTHER, AnnounceEvent::Stopped), &e)
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(5), closed.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(connections.load(Ordering::SeqCst), 1);
}

/// The tracker drops the socket: the announce waiting fails at once, and the torrent is
/// announced again on a new socket after the back-off, without its event.
#[tokio::test]
async fn a_dropped_socket_reconnects_and_announces_again() {
    let (again_tx, mut again) = mpsc::unbounded_channel();
    let url = tracker(move |n, mut ws| {
        let again_tx = again_tx.clone();
        async move {
            match n {
                0 => {
                    let asked = next_json(&mut ws).await.unwrap();
                    say(
                        &mut ws,
                        json!({"action": "announce", "info_hash": asked["info_hash"],
                        "interval": 120, "complete": 1, "incomplete": 0}),
                    )
                    .await;
                    // The next announce is never answered: the socket drops under it.
                    let _ = next_json(&mut ws).await;
                }
                _ => {
                    if let Some(asked) = next_json(&mut ws).await {
                        again_tx.send(asked).unwrap();
                    }
                    while let Some(asked) = next_json(&mut ws).await {
                        say(
                            &mut ws,
                            json!({"action": "announce", "info_hash": asked["info_hash"],
                            "interval": 120, "complete": 0, "incomplete": 0}),
                        )
                        .await;
                    }
                }
            }
        }
    })
    .await;
    let e = egress();
    announce(&url, &req(HASH, AnnounceEvent::Started), &e)
        .await
        .unwrap();
    let dropped = announce(&url, &req(HASH, AnnounceEvent::None), &e)
        .await
        .unwrap_err();
    assert!(matches!(dropped, TrackerError::Connect(_)), "{dropped:?}");
    let asked = tokio::time::timeout(RECONNECT_FIRST * 3, again.recv())
        .await
        .expect("announced again after the back-off")
        .unwrap();
    assert_eq!(asked["info_hash"], bin(&HASH));
    assert!(asked.get("event").is_none(), "{asked}");
    // Done: the torrent leaves, and the socket's task with it.
    announce(&url, &req(HASH, AnnounceEvent::Stopped), &e)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_closed_port_is_a_connect_error_and_stopped_then_needs_no_socket() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = reqwest::Url::parse(&format!("ws://127.0.0.1:{port}/announce")).unwrap();
    let e = announce(&url, &req(HASH, AnnounceEvent::Started), &egress())
        .await
        .unwrap_err();
    assert_eq!(e, TrackerError::Connect("connection refused".into()));
    announce(&url, &req(HASH, AnnounceEvent::Stopped), &egress())
        .await
        .unwrap();
}

#[tokio::test]
async fn through_a_proxy_it_is_refused_rather_than_going_around() {
    let url = reqwest::Url::parse("wss://tracker.invalid/announce").unwrap();
    let e = Egress {
        proxy: Some("socks5h://127.0.0.1:1".into()),
        ..Egress::default()
    };
    let err = announce(&url, &req(HASH, AnnounceEvent::Started), &e)
        .await
        .unwrap_err();
    assert_eq!(err, TrackerError::WebSocketAroundProxy);
}

/// `wss://` goes through TLS (rustls, with the crypto provider reqwest's build brings): the
/// tracker's side sees a TLS handshake first, and a peer that is no TLS server is a clear
/// error, not a panic.
#[tokio::test]
async fn wss_speaks_tls_first() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let first = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut byte = [0u8; 1];
        s.read_exact(&mut byte).await.unwrap();
        // Not TLS back: an HTTP answer.
        let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
        byte[0]
    });
    let url = reqwest::Url::parse(&format!("wss://127.0.0.1:{port}/announce")).unwrap();
    let e = announce(&url, &req(HASH, AnnounceEvent::Started), &egress())
        .await
        .unwrap_err();
    // 0x16: a TLS handshake record (the ClientHello).
    assert_eq!(first.await.unwrap(), 0x16);
    assert!(
        !matches!(e, TrackerError::Timeout(_)),
        "a clear error at once: {e:?}"
    );
}

/// A session's WebRTC for these tests: a driver on 127.0.0.1, and the connections it is
/// handed.
async fn webrtc() -> (WebRtcPeers, mpsc::UnboundedReceiver<Delivered>) {
    use crate::net::webrtc::{WebRtc, WebRtcConfig};
    let config = WebRtcConfig {
        bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        ..WebRtcConfig::default()
    };
    let rtc = WebRtc::bind(config).await.unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    let deliver = Arc::new(move |d: Delivered| {
        let _ = tx.send(d);
    });
    (WebRtcPeers { rtc, deliver }, rx)
}

/// With WebRTC, a leecher's announce carries 10 offers; the answer the tracker relays to one
/// of them starts a connection, handed over with the peer's id, and its data channel opens
/// against the peer that answered (another driver, as a browser would).
#[tokio::test]
async fn offers_go_out_and_a_relayed_answer_connects() {
    let (ours, mut delivered) = webrtc().await;
    let (far, _) = webrtc().await;
    let (seen_tx, mut seen) = mpsc::unbounded_channel();
    let (far_tx, mut far_rx) = mpsc::unbounded_channel();
    let url = tracker(move |_, mut ws| {
        let (seen_tx, far_tx, far) = (seen_tx.clone(), far_tx.clone(), far.rtc.clone());
        async move {
            let asked = next_json(&mut ws).await.unwrap();
            let first = asked["offers"][0].clone();
            seen_tx.send(asked).unwrap();
            let sdp = first["offer"]["sdp"].as_str().unwrap();
            let (answer, connecting) = far.answer(sdp).await.unwrap();
            far_tx.send(connecting).unwrap();
            say(
                &mut ws,
                json!({"action": "announce", "info_hash": bin(&HASH),
                "peer_id": bin(&[9; 20]), "offer_id": first["offer_id"],
                "answer": {"type": "answer", "sdp": answer}}),
            )
            .await;
            say(
                &mut ws,
                json!({"action": "announce", "info_hash": bin(&HASH),
                "interval": 120, "complete": 1, "incomplete": 0}),
            )
            .await;
            while next_json(&mut ws).await.is_some() {}
        }
    })
    .await;
    let e = Egress {
        webrtc: Some(ours),
        ..Egress::default()
    };
    let r = announce(&url, &req(HASH, AnnounceEvent::Started), &e)
        .await
        .unwrap();
    assert_eq!(r.seeders, Some(1));
    let asked = seen.recv().await.unwrap();
    let offers = asked["offers"].as_array().unwrap();
    assert_eq!(offers.len(), 10);
    assert_eq!(asked["numwant"], 10);
    for o in offers {
        assert_eq!(o["offer_id"].as_str().unwrap().chars().count(), 20);
        assert!(o["offer"]["sdp"].as_str().unwrap().starts_with("v=0"));
    }
    let d = tokio::time::timeout(Duration::from_secs(20), delivered.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(d.we_offered);
    assert_eq!((d.info_hash, d.peer_id), (HASH, [9; 20]));
    let far_connecting = far_rx.recv().await.unwrap();
    let (a, b) = tokio::join!(d.connecting.established(), far_connecting.established());
    a.unwrap();
    b.unwrap();
}

/// A hostile tracker relays 10,000 offers (one real SDP under as many offer ids, and
/// garbage SDPs among them) before the counts: they are answered at the pace per socket and
/// within the driver's cap, the garbage is answered by nothing, and the announce still gets
/// its answer in time.
#[tokio::test]
async fn ten_thousand_relayed_offers_are_paced_and_the_announce_still_answers() {
    let (ours, mut delivered) = webrtc().await;
    let (far, _) = webrtc().await;
    let real = far.rtc.offer().await.unwrap().sdp;
    let (res_tx, mut res) = mpsc::unbounded_channel();
    let url = tracker(move |_, mut ws| {
        let (res_tx, real) = (res_tx.clone(), real.clone());
        async move {
            let _ = next_json(&mut ws).await.unwrap();
            for i in 0..10_000u32 {
                let mut id = [0u8; 20];
                id[..4].copy_from_slice(&i.to_be_bytes());
                let sdp = if i % 3 == 0 {
                    "v=0\r\nnot an sdp"
                } else {
                    &real
                };
                say(
                    &mut ws,
                    json!({"action": "announce", "info_hash": bin(&HASH),
                    "peer_id": bin(&[7; 20]), "offer_id": bin(&id),
                    "offer": {"type": "offer", "sdp": sdp}}),
                )
                .await;
            }
            say(
                &mut ws,
                json!({"action": "announce", "info_hash": bin(&HASH),
                "interval": 120, "complete": 2, "incomplete": 5}),
            )
            .await;
            let mut answers = 0;
            let until = tokio::time::Instant::now() + Duration::from_secs(2);
            while let Ok(Some(v)) = tokio::time::timeout_at(until, next_json(&mut ws)).await {
                if v.get("answer").is_some() {
                    assert_eq!(v["to_peer_id"], bin(&[7; 20]));
                    answers += 1;
                }
            }
            res_tx.send(answers).unwrap();
            while next_json(&mut ws).await.is_some() {}
        }
    })
    .await;
    let e = Egress {
        webrtc: Some(ours),
        ..Egress::default()
    };
    let started = std::time::Instant::now();
    let r = announce(&url, &req(HASH, AnnounceEvent::Started), &e)
        .await
        .unwrap();
    assert_eq!((r.seeders, r.leechers), (Some(2), Some(5)));
    let answers = res.recv().await.unwrap();
    let secs = started.elapsed().as_secs() + 1;
    let cap = (20 * secs as usize + 20).min(64);
    assert!(
        (1..=cap).contains(&answers),
        "{answers} answers in {secs} s"
    );
    let mut handed = 0;
    while let Ok(d) = delivered.try_recv() {
        assert!(!d.we_offered);
        handed += 1;
    }
    assert_eq!(
        handed, answers,
        "each answer sent is one connection handed over"
    );
}
