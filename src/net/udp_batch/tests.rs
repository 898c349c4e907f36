use super::*;
use std::time::Duration;

async fn pair() -> (UdpSocket, std::net::UdpSocket) {
    let rx = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    tx.connect(rx.local_addr().unwrap()).unwrap();
    (rx, tx)
}

/// Reads until `want` datagrams came (bounded), returning them and the calls it took.
async fn read_all(rx: &mut BatchRecv, udp: &UdpSocket, want: usize) -> (Vec<Vec<u8>>, usize) {
    let mut got = Vec::new();
    let mut calls = 0;
    for _ in 0..1000 {
        if got.len() >= want {
            break;
        }
        match rx.try_recv(udp, |d, _| got.push(d.to_vec())) {
            Ok(n) => {
                calls += 1;
                assert!(n >= 1);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                tokio::time::timeout(Duration::from_secs(5), udp.readable())
                    .await
                    .expect("readable within 5 s")
                    .unwrap();
            }
            Err(e) => panic!("{e}"),
        }
    }
    (got, calls)
}

fn datagrams() -> Vec<Vec<u8>> {
    (0..5u8).map(|i| vec![i; 10 + 300 * i as usize]).collect()
}

#[tokio::test]
async fn a_short_batch_arrives_whole_and_in_order() {
    let (udp, tx) = pair().await;
    let mut rx = BatchRecv::new(&udp);
    assert!(rx.is_batched(), "Linux has recvmmsg");
    let sent = datagrams();
    for d in &sent {
        tx.send(d).unwrap();
    }
    let (got, calls) = read_all(&mut rx, &udp, sent.len()).await;
    assert_eq!(got, sent);
    // Five datagrams queued before the first read: one batched call takes them all.
    assert_eq!(calls, 1);
}

#[tokio::test]
async fn the_fallback_reads_one_datagram_a_call() {
    let (udp, tx) = pair().await;
    let mut rx = BatchRecv::single();
    assert!(!rx.is_batched());
    let sent = datagrams();
    for d in &sent {
        tx.send(d).unwrap();
    }
    let (got, calls) = read_all(&mut rx, &udp, sent.len()).await;
    assert_eq!(got, sent);
    assert_eq!(calls, sent.len());
}

#[tokio::test]
async fn more_than_a_batch_takes_several_calls() {
    let (udp, tx) = pair().await;
    let mut rx = BatchRecv::new(&udp);
    let sent: Vec<Vec<u8>> = (0..BATCH * 2 + 3)
        .map(|i| (i as u32).to_be_bytes().to_vec())
        .collect();
    for d in &sent {
        tx.send(d).unwrap();
    }
    let (got, calls) = read_all(&mut rx, &udp, sent.len()).await;
    assert_eq!(got, sent);
    assert_eq!(calls, 3);
}

#[test]
fn gro_buffers_are_cut_at_the_stride() {
    let buf: Vec<u8> = (0..25u8).collect();
    let mut parts = Vec::new();
    assert_eq!(split_gro(&buf, 10, |d| parts.push(d.to_vec())), 3);
    assert_eq!(
        parts,
        vec![buf[..10].to_vec(), buf[10..20].to_vec(), buf[20..].to_vec()]
    );
    // No GRO information, or a single datagram: the buffer as it is.
    for stride in [0, 25, 1400] {
        let mut n = 0;
        assert_eq!(split_gro(&buf, stride, |d| n += d.len()), 1);
        assert_eq!(n, 25);
    }
}

/// A GSO send on loopback arrives as one GRO buffer on a socket with UDP_GRO (the batched
/// reader) and as separate datagrams without it (the fallback): both hand over the segments.
#[tokio::test]
async fn gso_segments_come_out_one_by_one_batched_or_not() {
    for batched in [true, false] {
        let (udp, tx) = pair().await;
        let mut rx = if batched {
            BatchRecv::new(&udp)
        } else {
            BatchRecv::single()
        };
        let state = UdpSocketState::new(UdpSockRef::from(&tx)).unwrap();
        let contents: Vec<u8> = (0..250u32).map(|i| i as u8).collect();
        let segs = if state.max_gso_segments() > 1 {
            100
        } else {
            250
        };
        state
            .try_send(
                UdpSockRef::from(&tx),
                &quinn_udp::Transmit {
                    destination: udp.local_addr().unwrap(),
                    ecn: None,
                    contents: &contents,
                    segment_size: (segs < contents.len()).then_some(segs),
                    src_ip: None,
                },
            )
            .unwrap();
        let want = contents.len().div_ceil(segs);
        let (got, _) = read_all(&mut rx, &udp, want).await;
        let expect: Vec<Vec<u8>> = contents.chunks(segs).map(<[u8]>::to_vec).collect();
        assert_eq!(got, expect, "batched: {batched}");
    }
}
