// Tests may unwrap: a failure is the test's.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::timeout;

use super::*;

/// Every wait of these tests: far above what loopback takes, bounded all the same.
const WAIT: Duration = Duration::from_secs(30);

fn loopback() -> WebRtcConfig {
    WebRtcConfig {
        bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        ..WebRtcConfig::default()
    }
}

/// `a` offers, `b` answers: both ends' streams.
async fn pair(a: &WebRtc, b: &WebRtc) -> (WebRtcStream, WebRtcStream) {
    let offer = a.offer().await.unwrap();
    assert!(offer.sdp.contains("m=application"), "{}", offer.sdp);
    assert!(
        offer.sdp.contains("a=candidate"),
        "no trickle: {}",
        offer.sdp
    );
    let (answer, b_connecting) = b.answer(&offer.sdp).await.unwrap();
    let a_connecting = a.connect(offer.id, &answer).await.unwrap();
    // Each side knows where the other's SDP says it is before ICE runs (the peer table's
    // address meanwhile): its host candidate, the socket's port on one of its addresses.
    for (named, of) in [(b_connecting.named, a), (a_connecting.named, b)] {
        let named = named.expect("the SDP names an address");
        assert_eq!(named.port(), of.local_addr().port());
        assert!(!named.ip().is_unspecified(), "{named}");
    }
    let (sa, sb) = timeout(
        WAIT,
        futures::future::join(a_connecting.established(), b_connecting.established()),
    )
    .await
    .expect("connected in time");
    (sa.unwrap(), sb.unwrap())
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    let mut x = u32::from(seed) | 1;
    (0..len)
        .map(|_| {
            // xorshift: no run repeats at a message's size, so a lost or doubled chunk shows.
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// Equal, or where not (a test's message, not a 4 MiB dump).
fn same(got: &[u8], want: &[u8]) -> bool {
    if got == want {
        return true;
    }
    let at = got.iter().zip(want).position(|(a, b)| a != b);
    let found = at.and_then(|i| {
        let needle = &got[i..(i + 64).min(got.len())];
        want.windows(needle.len()).position(|w| w == needle)
    });
    eprintln!(
        "{} bytes of {}; first difference at {at:?}; what came there is at {found:?} in what was sent",
        got.len(),
        want.len()
    );
    false
}

/// Writes `out` in writes of odd sizes while reading `expect_len` bytes.
async fn exchange(stream: WebRtcStream, out: Vec<u8>, expect_len: usize) -> Vec<u8> {
    let (mut rd, mut wr) = tokio::io::split(stream);
    let writer = async move {
        for chunk in out.chunks(7_001) {
            wr.write_all(chunk).await.unwrap();
        }
        wr.flush().await.unwrap();
        wr
    };
    let reader = async move {
        let mut got = vec![0u8; expect_len];
        rd.read_exact(&mut got).await.unwrap();
        (rd, got)
    };
    let (_wr, (_rd, got)) = futures::future::join(writer, reader).await;
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_endpoints_pass_4_mib_each_way_byte_identical() {
    let a = WebRtc::bind(loopback()).await.unwrap();
    let b = WebRtc::bind(loopback()).await.unwrap();
    let (sa, sb) = pair(&a, &b).await;
    assert_eq!(sa.remote_addr(), Some(b.local_addr()));
    let (to_b, to_a) = (pattern(4 << 20, 1), pattern(4 << 20, 2));
    let (got_a, got_b) = timeout(
        WAIT * 2,
        futures::future::join(
            exchange(sa, to_b.clone(), to_a.len()),
            exchange(sb, to_a.clone(), to_b.len()),
        ),
    )
    .await
    .expect("4 MiB each way in time");
    assert!(same(&got_a, &to_a), "a got what b sent");
    assert!(same(&got_b, &to_b), "b got what a sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_stream_ends_the_peers_after_what_was_written() {
    let a = WebRtc::bind(loopback()).await.unwrap();
    let b = WebRtc::bind(loopback()).await.unwrap();
    let (mut sa, mut sb) = pair(&a, &b).await;
    let data = pattern(300_000, 3);
    sa.write_all(&data).await.unwrap();
    sa.shutdown().await.unwrap();
    let mut got = Vec::new();
    timeout(WAIT, sb.read_to_end(&mut got))
        .await
        .expect("the end in time")
        .unwrap();
    assert!(got == data, "{} bytes of {}", got.len(), data.len());
    // And the writer on the other side learns the connection is gone.
    let write = timeout(WAIT, async {
        loop {
            if let Err(e) = sb.write_all(b"x").await {
                return e;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("a broken pipe in time");
    assert_eq!(write.kind(), std::io::ErrorKind::BrokenPipe);
    drop(sa);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_sdp_is_a_clear_error() {
    let a = WebRtc::bind(loopback()).await.unwrap();
    for bad in [
        "",
        "hello",
        "v=0\r\n",
        "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n",
        "\0\0\0",
        &"a".repeat(MAX_SDP + 1),
    ] {
        let e = a.answer(bad).await.unwrap_err();
        assert!(matches!(e, WebRtcError::BadSdp(_)), "{bad:?}: {e}");
        assert!(e.to_string().starts_with("bad SDP"), "{e}");
    }
    // An offer of audio alone: no data channel, no WebTorrent peer.
    let audio =
        "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n";
    let e = a.answer(audio).await.unwrap_err();
    assert!(e.to_string().contains("no data channel"), "{e}");
    // A garbage answer to a real offer, and an answer to an offer that does not exist.
    let offer = a.offer().await.unwrap();
    let e = a.connect(offer.id, "v=0\r\nnonsense").await.unwrap_err();
    assert!(matches!(e, WebRtcError::BadSdp(_)), "{e}");
    let e = a.connect(offer.id, "v=0").await.unwrap_err();
    assert!(matches!(e, WebRtcError::UnknownOffer), "{e}");
    // The driver still serves after all that.
    let b = WebRtc::bind(loopback()).await.unwrap();
    let (_sa, _sb) = pair(&a, &b).await;
}

/// Of an offer's candidates, the server-reflexive one names the peer (the address the
/// internet sees), wherever it sits in the SDP.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offer_names_its_peer_by_its_server_reflexive_candidate() {
    let b = WebRtc::bind(loopback()).await.unwrap();
    let offer = b.offer().await.unwrap();
    let port = b.local_addr().port();
    let host = offer
        .sdp
        .lines()
        .find(|l| l.starts_with("a=candidate"))
        .unwrap()
        .to_string();
    let srflx = format!(
        "a=candidate:2 1 udp 1686052607 198.51.100.7 40000 typ srflx raddr 127.0.0.1 rport {port}"
    );
    let sdp = offer.sdp.replace(&host, &format!("{host}\r\n{srflx}"));
    let a = WebRtc::bind(loopback()).await.unwrap();
    let (_answer, connecting) = a.answer(&sdp).await.unwrap();
    assert_eq!(
        connecting.named,
        Some(SocketAddr::from(([198, 51, 100, 7], 40000))),
        "{sdp}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_never_answers_ice_times_out_in_the_ice_stage() {
    // The offer's candidate points at a socket that reads nothing and answers nothing.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    let b = WebRtc::bind(loopback()).await.unwrap();
    let offer = b.offer().await.unwrap();
    let b_port = b.local_addr().port();
    let offer_sdp = offer
        .sdp
        .replace(&format!(" {b_port} typ"), &format!(" {silent_port} typ"));
    assert_ne!(offer_sdp, offer.sdp);
    let a = WebRtc::bind(WebRtcConfig {
        ice_timeout: Duration::from_millis(1500),
        ..loopback()
    })
    .await
    .unwrap();
    let (_answer, connecting) = a.answer(&offer_sdp).await.unwrap();
    assert_eq!(*connecting.stage.borrow(), Stage::Ice);
    // Until ICE chooses, the peer table shows where the offer says the peer is.
    assert_eq!(
        connecting.named,
        Some(SocketAddr::from(([127, 0, 0, 1], silent_port)))
    );
    let e = timeout(WAIT, connecting.established())
        .await
        .expect("the ICE deadline")
        .unwrap_err();
    assert_eq!(e.stage(), Some(Stage::Ice), "{e}");
    assert!(matches!(e, WebRtcError::Timeout { .. }), "{e}");
    assert!(e.to_string().starts_with("ICE timed out"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_are_capped() {
    let a = WebRtc::bind(WebRtcConfig {
        max_connections: 2,
        ..loopback()
    })
    .await
    .unwrap();
    let first = a.offer().await.unwrap();
    let _second = a.offer().await.unwrap();
    assert!(matches!(
        a.offer().await.unwrap_err(),
        WebRtcError::TooMany(2)
    ));
    a.withdraw(first.id).await;
    a.offer().await.unwrap();
}

/// An offer as Chromium makes it for one data channel (its lines, in its order).
const CHROMIUM_OFFER: &str = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
        a=group:BUNDLE 0\r\na=extmap-allow-mixed\r\na=msid-semantic: WMS\r\n\
        m=application 50000 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 127.0.0.1\r\n\
        a=candidate:1 1 udp 2113937151 127.0.0.1 50000 typ host generation 0 network-cost 999\r\n\
        a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\na=ice-options:trickle\r\n\
        a=fingerprint:sha-256 9E:2E:6D:1A:59:F7:C6:E1:3E:9B:7C:4E:37:4F:D8:1D:CA:F9:74:20:AB:72:7F:9B:B1:C1:C4:E6:2B:B2:D7:E8\r\n\
        a=setup:actpass\r\na=mid:0\r\na=sctp-port:5000\r\na=max-message-size:262144\r\n";

#[test]
fn the_fuzz_entry_answers_a_real_offer_and_refuses_garbage() {
    let answer = answer_offer_sdp(CHROMIUM_OFFER).unwrap();
    assert!(answer.contains("a=setup:"), "{answer}");
    assert!(answer.contains("a=candidate:"), "{answer}");
    assert!(answer_offer_sdp("m=application\0").is_err());
    assert!(
        answer_offer_sdp("v=0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n").is_err()
    );
}

/// RFC 7983's first byte: 0–3 is STUN, 20–63 DTLS.
fn is_stun(datagram: &[u8]) -> bool {
    datagram.first().is_some_and(|b| *b < 4)
}

/// A peer that answers `offer_sdp` and then does ICE and nothing else: it neither sends
/// nor reads a DTLS record, so ICE connects and DTLS never does.
async fn ice_only_peer(offer_sdp: &str) -> (String, tokio::task::JoinHandle<()>) {
    use str0m::net::{Protocol, Receive};
    use str0m::{Input, Output};
    use tokio::net::UdpSocket;
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let local = socket.local_addr().unwrap();
    let mut rtc = sdp::new_rtc(std::time::Instant::now(), &[local], None, 64 << 10);
    let (answer, _) = sdp::accept_offer(&mut rtc, offer_sdp).unwrap();
    let task = tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        loop {
            let next = loop {
                match rtc.poll_output().unwrap() {
                    Output::Timeout(t) => break t,
                    Output::Transmit(t) if is_stun(&t.contents) => {
                        let _ = socket.send_to(&t.contents, t.destination).await;
                    }
                    _ => {}
                }
            };
            let wait = next
                .saturating_duration_since(std::time::Instant::now())
                .max(Duration::from_millis(1));
            let input = match timeout(wait, socket.recv_from(&mut buf)).await {
                Ok(Ok((n, from))) if is_stun(&buf[..n]) => {
                    match Receive::new(Protocol::Udp, from, local, &buf[..n]) {
                        Ok(r) => Input::Receive(std::time::Instant::now(), r),
                        Err(_) => continue,
                    }
                }
                _ => Input::Timeout(std::time::Instant::now()),
            };
            rtc.handle_input(input).unwrap();
        }
    });
    (answer, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_whose_dtls_never_completes_times_out_in_the_dtls_stage() {
    let a = WebRtc::bind(WebRtcConfig {
        dtls_timeout: Duration::from_millis(1500),
        ..loopback()
    })
    .await
    .unwrap();
    let offer = a.offer().await.unwrap();
    let (answer, peer) = ice_only_peer(&offer.sdp).await;
    let connecting = a.connect(offer.id, &answer).await.unwrap();
    let mut stage = connecting.stage.clone();
    let e = timeout(WAIT, connecting.established())
        .await
        .expect("the DTLS deadline")
        .unwrap_err();
    peer.abort();
    assert_eq!(e.stage(), Some(Stage::Dtls), "{e}");
    assert!(e.to_string().starts_with("DTLS timed out"), "{e}");
    // The peer table saw ICE pass.
    assert_eq!(*stage.borrow_and_update(), Stage::Dtls);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_floods_is_cut_off_and_both_ends_learn_why() {
    let a = WebRtc::bind(loopback()).await.unwrap();
    let b = WebRtc::bind(WebRtcConfig {
        receive_buffer: 64 << 10,
        ..loopback()
    })
    .await
    .unwrap();
    let (mut sa, mut sb) = pair(&a, &b).await;
    let writer = tokio::spawn(async move {
        let r = sa.write_all(&vec![7u8; 1 << 20]).await;
        (sa, r)
    });
    // b reads nothing: SCTP acknowledges all the same, b's unread bytes pass 64 KiB, b cuts
    // the connection and says goodbye, and a's writer fails: it had more to write.
    let (_sa, r) = timeout(WAIT, writer)
        .await
        .expect("the writer ends")
        .unwrap();
    assert!(r.is_err(), "the writer's 1 MiB went somewhere");
    // b's reader gets what was let in, then the reason.
    let mut got = Vec::new();
    let e = timeout(WAIT, sb.read_to_end(&mut got))
        .await
        .expect("the flood's error in time")
        .unwrap_err();
    assert!(e.to_string().contains("flood"), "{e}");
    assert!(got.len() <= 64 << 10, "{} bytes read", got.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_connection_frees_its_place() {
    let a = WebRtc::bind(WebRtcConfig {
        max_connections: 1,
        ..loopback()
    })
    .await
    .unwrap();
    let b = WebRtc::bind(loopback()).await.unwrap();
    let (sa, sb) = pair(&a, &b).await;
    assert!(matches!(a.offer().await, Err(WebRtcError::TooMany(1))));
    drop((sa, sb));
    let freed = timeout(WAIT, async {
        loop {
            match a.offer().await {
                Ok(o) => return o,
                Err(WebRtcError::TooMany(_)) => tokio::time::sleep(Duration::from_millis(50)).await,
                Err(e) => panic!("{e}"),
            }
        }
    })
    .await
    .expect("the place freed in time");
    assert!(freed.sdp.contains("m=application"));
}

#[test]
fn mangled_offers_never_panic() {
    use rand::{Rng, SeedableRng};
    let base = CHROMIUM_OFFER;
    let lines: Vec<&str> = base.split_inclusive("\r\n").collect();
    let mut rng = rand::rngs::StdRng::seed_from_u64(82);
    for _ in 0..600 {
        let mut ls: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        for _ in 0..rng.gen_range(1..4) {
            let i = rng.gen_range(0..ls.len());
            match rng.gen_range(0..5) {
                0 => {
                    ls.remove(i);
                    if ls.is_empty() {
                        ls.push(String::new());
                    }
                }
                1 => {
                    let l = ls[i].clone();
                    ls.insert(i, l);
                }
                2 => {
                    let l = &mut ls[i];
                    let cut = rng.gen_range(0..=l.len());
                    if l.is_char_boundary(cut) {
                        l.truncate(cut);
                    }
                }
                3 => {
                    let l = &mut ls[i];
                    let at = rng.gen_range(0..=l.len());
                    if l.is_char_boundary(at) {
                        let junk = [
                            "\u{1F600}",
                            " ",
                            ":",
                            "-1",
                            "99999999999999999999",
                            "\r\n",
                            "=",
                        ];
                        l.insert_str(at, junk[rng.gen_range(0..junk.len())]);
                    }
                }
                _ => {
                    let j = rng.gen_range(0..ls.len());
                    ls.swap(i, j);
                }
            }
        }
        let offer: String = ls.concat();
        // Ok or a bad SDP: either way, no panic.
        if let Err(e) = answer_offer_sdp(&offer) {
            assert!(matches!(e, WebRtcError::BadSdp(_)), "{e}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_on_the_wildcard_address_connects_both_ways() {
    // As the session binds (0.0.0.0), with loopback as the only candidate: each datagram's
    // own address (IP_PKTINFO) is what str0m must be told it came to.
    let a = WebRtc::bind(WebRtcConfig {
        bind: SocketAddr::from(([0, 0, 0, 0], 0)),
        host_addrs: vec![std::net::IpAddr::from([127, 0, 0, 1])],
        ..WebRtcConfig::default()
    })
    .await
    .unwrap();
    let b = WebRtc::bind(loopback()).await.unwrap();
    for (x, y) in [(&a, &b), (&b, &a)] {
        let (sx, sy) = pair(x, y).await;
        let data = pattern(100_000, 9);
        let (got_x, got_y) = timeout(
            WAIT,
            futures::future::join(
                exchange(sx, data.clone(), data.len()),
                exchange(sy, data.clone(), data.len()),
            ),
        )
        .await
        .expect("in time");
        assert!(same(&got_x, &data) && same(&got_y, &data));
    }
}

/// Not a check: one way's throughput on loopback, for the benchmark to come
/// (`cargo test --lib webrtc::tests::throughput -- --ignored --nocapture`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn throughput() {
    for sctp_buffer in [64 << 10, 128 << 10, 256 << 10, 512 << 10, 1 << 20] {
        let config = WebRtcConfig {
            sctp_buffer,
            ..loopback()
        };
        let mbps = one_way(config.clone(), config).await;
        eprintln!("sctp_buffer {} KiB: {mbps:.0} MB/s", sctp_buffer >> 10);
    }
}

async fn one_way(ca: WebRtcConfig, cb: WebRtcConfig) -> f64 {
    let a = WebRtc::bind(ca).await.unwrap();
    let b = WebRtc::bind(cb).await.unwrap();
    let (mut sa, mut sb) = pair(&a, &b).await;
    let total: usize = 128 << 20;
    let block = vec![0x5au8; 1 << 16];
    let start = std::time::Instant::now();
    let writer = tokio::spawn(async move {
        for _ in 0..total / block.len() {
            sa.write_all(&block).await.unwrap();
        }
        sa
    });
    let mut buf = vec![0u8; 1 << 16];
    let mut got = 0;
    while got < total {
        let n = timeout(WAIT, sb.read(&mut buf)).await.unwrap().unwrap();
        assert!(n > 0, "the end after {got} bytes");
        got += n;
    }
    let secs = start.elapsed().as_secs_f64();
    let _sa = writer.await.unwrap();
    total as f64 / secs / 1e6
}

/// Offers wait for a STUN server that is on its way, and only while it is: at once with none,
/// until the bound while its name resolves, at once again when it will not come.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offers_wait_for_a_stun_server_only_while_it_is_coming() {
    let a = WebRtc::bind(loopback()).await.unwrap();
    let t = std::time::Instant::now();
    a.stun_settled(WAIT).await;
    assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
    a.expect_stun(true).await;
    assert!(a.stun_status().pending);
    let t = std::time::Instant::now();
    a.stun_settled(Duration::from_millis(300)).await;
    assert!(
        t.elapsed() >= Duration::from_millis(300),
        "{:?}",
        t.elapsed()
    );
    a.expect_stun(false).await;
    assert!(!a.stun_status().pending);
    let t = std::time::Instant::now();
    a.stun_settled(WAIT).await;
    assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
}
