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

#[test]
fn the_fuzz_entry_answers_a_real_offer_and_refuses_garbage() {
    // An offer as Chromium makes it (trimmed of nothing: its lines, its order).
    let chromium = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
        a=group:BUNDLE 0\r\na=extmap-allow-mixed\r\na=msid-semantic: WMS\r\n\
        m=application 50000 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 127.0.0.1\r\n\
        a=candidate:1 1 udp 2113937151 127.0.0.1 50000 typ host generation 0 network-cost 999\r\n\
        a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\na=ice-options:trickle\r\n\
        a=fingerprint:sha-256 9E:2E:6D:1A:59:F7:C6:E1:3E:9B:7C:4E:37:4F:D8:1D:CA:F9:74:20:AB:72:7F:9B:B1:C1:C4:E6:2B:B2:D7:E8\r\n\
        a=setup:actpass\r\na=mid:0\r\na=sctp-port:5000\r\na=max-message-size:262144\r\n";
    let answer = answer_offer_sdp(chromium).unwrap();
    assert!(answer.contains("a=setup:"), "{answer}");
    assert!(answer.contains("a=candidate:"), "{answer}");
    assert!(answer_offer_sdp("m=application\0").is_err());
    assert!(
        answer_offer_sdp("v=0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n").is_err()
    );
}
