use super::*;
use crate::dht::DhtConfig;
use crate::net::utp::UtpConfig;
use crate::protocol::utp_packet::{self, Header, PacketType};
use std::sync::atomic::Ordering::Relaxed;

fn utp_packet(ty: PacketType, conn_id: u16, seq: u16) -> Vec<u8> {
    let h = Header {
        ty,
        conn_id,
        ts_us: 1,
        ts_diff_us: 0,
        wnd: 1 << 20,
        seq,
        ack: 0,
    };
    let mut d = Vec::new();
    utp_packet::encode(&h, None, b"payload", &mut d);
    d
}

/// One batch holding a uTP SYN, a DHT ping, uTP data for no connection and a stray datagram:
/// each goes to its handler, in one batched call or one call each in the fallback.
async fn mixed_batch(batched: bool) {
    let udp = bind("127.0.0.1".parse().unwrap(), 0).unwrap();
    let (dht, _dht_task) = Dht::spawn(DhtConfig::default(), Arc::clone(&udp));
    let (utp_sock, mut listener) = UtpSocket::new(Arc::clone(&udp), UtpConfig::default());
    let counters = UdpCounters::default();
    let mut rx = if batched {
        BatchRecv::new(&udp)
    } else {
        BatchRecv::single()
    };

    let peer = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let to = udp.local_addr().unwrap();
    let ping = b"d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe";
    for d in [
        utp_packet(PacketType::Syn, 700, 1),
        ping.to_vec(),
        utp_packet(PacketType::Data, 9000, 5),
        b"\xffnot a protocol of ours".to_vec(),
    ] {
        peer.send_to(&d, to).await.unwrap();
    }
    let mut calls = 0;
    let mut seen = 0;
    for _ in 0..100 {
        if seen >= 4 {
            break;
        }
        match recv_batch(
            &mut rx,
            &udp,
            &Handlers {
                dht: Some(&dht),
                utp: Some(&utp_sock),
                counters: &counters,
                relay: None,
            },
        ) {
            Ok(n) => {
                calls += 1;
                seen += n;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                tokio::time::timeout(Duration::from_secs(5), udp.readable())
                    .await
                    .expect("readable")
                    .unwrap();
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(seen, 4);
    assert_eq!(calls, if batched { 1 } else { 4 });
    assert_eq!(counters.krpc.load(Relaxed), 1);
    assert_eq!(counters.utp.load(Relaxed), 2);
    assert_eq!(counters.dropped.load(Relaxed), 1);
    assert_eq!(utp_sock.counters().unknown_conn.load(Relaxed), 1);
    // The SYN became a connection, the data for no connection a RESET, the ping an answer.
    let stream = tokio::time::timeout(Duration::from_secs(5), listener.accept())
        .await
        .expect("accepted")
        .expect("socket alive");
    assert_eq!(stream.peer_addr(), peer.local_addr().unwrap());
    let (mut reset, mut state, mut pong) = (false, false, false);
    let mut buf = [0u8; 2048];
    while !(reset && state && pong) {
        let (n, _) = tokio::time::timeout(Duration::from_secs(5), peer.recv_from(&mut buf))
            .await
            .expect("three answers")
            .unwrap();
        let d = &buf[..n];
        if d.starts_with(b"d") {
            pong |= d.windows(4).any(|w| w == b"1:rd");
        } else {
            let h = utp_packet::decode(d).unwrap().header;
            reset |= h.ty == PacketType::Reset && h.conn_id == 9000;
            state |= h.ty == PacketType::State && h.conn_id == 700;
        }
    }
}

#[tokio::test]
async fn a_batch_mixing_dht_and_utp_reaches_both() {
    mixed_batch(true).await;
}

#[tokio::test]
async fn the_fallback_reaches_both_too() {
    mixed_batch(false).await;
}

/// The DHT gets an IPv6 socket only where IPv6 reaches something: never for an IPv6 node
/// nobody has a route to, always for one on the loopback (when the machine has `::1`).
#[tokio::test]
async fn the_dht_binds_ipv6_only_where_it_has_a_route() {
    let anywhere = super::routed(&"[2001:db8::1]:6881".parse().unwrap());
    if !anywhere {
        // A unique-local address with no route: still no IPv6.
        let nowhere = vec!["[fd00:dead::1]:6881".parse().unwrap()];
        assert!(super::bind_dht6(0, &nowhere).is_none());
        assert!(super::bind_dht6(0, &[]).is_none());
    }
    let lo = std::net::UdpSocket::bind("[::1]:0").is_ok();
    let known = super::literal_addrs(&["[::1]:6881".into(), "router.example:1".into()]);
    assert_eq!(
        known,
        vec!["[::1]:6881".parse::<std::net::SocketAddr>().unwrap()]
    );
    assert_eq!(super::bind_dht6(0, &known).is_some(), lo || anywhere);
}
