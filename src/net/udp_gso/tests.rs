use super::*;
use std::time::Duration;

#[test]
fn plan_keeps_equal_runs_and_ends_a_run_at_a_shorter_datagram() {
    // Full-size DATA, a shorter tail, then an ACK-sized one and another full-size run.
    let lens = [1400, 1400, 1400, 900, 1400, 1400, 20];
    assert_eq!(plan(lens, 64, MAX_GSO_BYTES), vec![0..4, 4..7]);
    // A larger datagram cannot follow a smaller segment size.
    assert_eq!(plan([20, 1400, 1400], 64, MAX_GSO_BYTES), vec![0..1, 1..3]);
    assert_eq!(plan([], 64, MAX_GSO_BYTES), Vec::<Range<usize>>::new());
    assert_eq!(plan([7], 64, MAX_GSO_BYTES), vec![0..1]);
    // Empty datagrams are never segments (a zero segment size means no GSO).
    assert_eq!(plan([0, 0, 5], 64, MAX_GSO_BYTES), vec![0..1, 1..2, 2..3]);
}

#[test]
fn plan_respects_the_segment_and_byte_caps() {
    assert_eq!(plan([100; 5], 2, MAX_GSO_BYTES), vec![0..2, 2..4, 4..5]);
    assert_eq!(
        plan([100; 5], 1, MAX_GSO_BYTES),
        vec![0..1, 1..2, 2..3, 3..4, 4..5]
    );
    assert_eq!(plan([100; 5], 64, 250), vec![0..2, 2..4, 4..5]);
    // 64 full-size uTP datagrams are more than one IPv4 datagram can carry.
    let runs = plan([1400; 64], 64, MAX_GSO_BYTES);
    assert!(runs.iter().all(|r| r.len() * 1400 <= MAX_GSO_BYTES));
    assert_eq!(runs.iter().map(|r| r.len()).sum::<usize>(), 64);
}

fn datagrams() -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = (0..5u8).map(|i| vec![i; 1400]).collect();
    v.push(vec![9; 30]);
    v.push(vec![10; 20]);
    v
}

#[test]
fn a_run_goes_in_one_call_and_a_single_one_by_itself() {
    let ds = datagrams();
    let mut calls = Vec::new();
    let mut singles = Vec::new();
    send_batched(
        &ds,
        64,
        |buf, seg| {
            calls.push((buf.to_vec(), seg));
            Ok(())
        },
        |d| singles.push(d.to_vec()),
    );
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].1, 1400);
    assert_eq!(calls[0].0, ds[..6].concat());
    assert_eq!(singles, vec![ds[6].clone()]);
}

#[test]
fn a_failed_gso_call_is_sent_again_one_by_one_in_order() {
    let ds = datagrams();
    for errno in [libc::EIO, libc::EINVAL] {
        let mut singles = Vec::new();
        send_batched(
            &ds,
            64,
            |_, _| Err(io::Error::from_raw_os_error(errno)),
            |d| singles.push(d.to_vec()),
        );
        assert_eq!(singles, ds, "errno {errno}");
    }
}

#[test]
fn a_full_buffer_is_not_sent_again() {
    let ds = datagrams();
    let mut singles = Vec::new();
    send_batched(
        &ds,
        64,
        |_, _| Err(io::ErrorKind::WouldBlock.into()),
        |d| singles.push(d.to_vec()),
    );
    assert_eq!(singles, vec![ds[6].clone()]);
}

#[test]
fn without_gso_every_datagram_goes_by_itself() {
    let ds = datagrams();
    let mut singles = Vec::new();
    send_batched(
        &ds,
        1,
        |_, _| panic!("no GSO call with one segment per call"),
        |d| singles.push(d.to_vec()),
    );
    assert_eq!(singles, ds);
}

/// The receiver sees the same datagrams, whole and in order, with GSO or without.
#[tokio::test]
async fn the_receiver_gets_each_datagram_whole() {
    for batched in [true, false] {
        let rx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let tx = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
        let out = if batched {
            UdpOut::new(tx, None)
        } else {
            UdpOut::single(tx)
        };
        if !batched {
            assert_eq!(out.max_segments(), 1);
        }
        let ds = datagrams();
        out.send_all(&ds, rx.local_addr().unwrap());
        let mut buf = vec![0u8; 65536];
        for want in &ds {
            let n = rx.recv(&mut buf).unwrap();
            assert_eq!(&buf[..n], &want[..], "batched {batched}");
        }
    }
}

/// Beside an IPv4 socket, an IPv6 one carries what goes to IPv6 addresses (one by one and
/// batched); without it an IPv6 address is refused up front (`sends_to`).
#[tokio::test]
async fn ipv6_addresses_leave_by_the_ipv6_socket() {
    let Ok(rx6) = std::net::UdpSocket::bind("[::1]:0") else {
        return; // No IPv6 loopback here: nothing to show.
    };
    rx6.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let tx4 = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
    let tx6 = Arc::new(UdpSocket::bind("[::1]:0").await.unwrap());
    let to6 = rx6.local_addr().unwrap();
    let to4: SocketAddr = "127.0.0.1:9".parse().unwrap();
    let alone = UdpOut::new(Arc::clone(&tx4), None);
    assert!(!alone.sends_to(to6));
    assert!(alone.sends_to(to4));
    let out = UdpOut::new(tx4, None).with_v6(Arc::clone(&tx6));
    assert!(out.sends_to(to6) && out.sends_to(to4));
    out.send_one(b"one", to6);
    let ds = datagrams();
    out.send_all(&ds, to6);
    let mut buf = vec![0u8; 65536];
    let (n, from) = rx6.recv_from(&mut buf).unwrap();
    assert_eq!((&buf[..n], from), (&b"one"[..], tx6.local_addr().unwrap()));
    for want in &ds {
        let n = rx6.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], &want[..]);
    }
}
