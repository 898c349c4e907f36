use super::*;

fn v4(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// The BEP's layout byte by byte: type, addr_type, address, port, err_code, all big-endian.
#[test]
fn encodes_the_bep_layout() {
    let m = HoleMsg::rendezvous(v4("203.0.113.5:6881"));
    assert_eq!(
        m.encode(),
        [0, 0, 203, 0, 113, 5, 0x1a, 0xe1, 0, 0, 0, 0].to_vec()
    );
    let e = HoleMsg::error(v4("198.51.100.7:1"), HoleError::NoSelf);
    assert_eq!(
        e.encode(),
        [2, 0, 198, 51, 100, 7, 0, 1, 0, 0, 0, 4].to_vec()
    );
    let c = HoleMsg::connect("[2001:db8::1]:443".parse().unwrap());
    let raw = c.encode();
    assert_eq!(raw.len(), LEN_V6);
    assert_eq!(&raw[..2], &[1, 1]);
    assert_eq!(raw[2], 0x20);
    assert_eq!(&raw[18..], &[0x01, 0xbb, 0, 0, 0, 0]);
}

#[test]
fn round_trips_every_kind_and_family() {
    let addrs = [v4("192.0.2.1:51413"), "[2001:db8::5]:6881".parse().unwrap()];
    let kinds = [
        HoleKind::Rendezvous,
        HoleKind::Connect,
        HoleKind::Error(HoleError::NoSuchPeer),
        HoleKind::Error(HoleError::NotConnected),
        HoleKind::Error(HoleError::NoSupport),
        HoleKind::Error(HoleError::NoSelf),
        HoleKind::Error(HoleError::Other(77)),
    ];
    for addr in addrs {
        for kind in kinds {
            let m = HoleMsg { kind, addr };
            assert_eq!(HoleMsg::decode(&m.encode()), Ok(m));
        }
    }
}

#[test]
fn error_codes_are_the_beps() {
    for (e, c) in [
        (HoleError::NoSuchPeer, 1),
        (HoleError::NotConnected, 2),
        (HoleError::NoSupport, 3),
        (HoleError::NoSelf, 4),
    ] {
        assert_eq!(e.code(), c);
        assert_eq!(HoleError::from_code(c), e);
    }
}

/// Every wrong length, type or family is an error, never a panic; nothing trails a message.
#[test]
fn malformed_payloads_are_refused() {
    // An error message needs its err_code: every cut of one is short.
    let good = HoleMsg::error(v4("192.0.2.1:1"), HoleError::NoSupport).encode();
    for n in 0..good.len() {
        assert_eq!(
            HoleMsg::decode(&good[..n]),
            Err(HoleParseError::BadLength(n)),
            "cut at {n}"
        );
    }
    let mut long = good.clone();
    long.push(0);
    assert_eq!(HoleMsg::decode(&long), Err(HoleParseError::BadLength(13)));
    // A connect is whole at 8 bytes (libtorrent's) or 12, nothing between.
    let connect = HoleMsg::connect(v4("192.0.2.1:1")).encode();
    for n in [0, 1, 7, 9, 10, 11] {
        assert_eq!(
            HoleMsg::decode(&connect[..n]),
            Err(HoleParseError::BadLength(n)),
            "connect cut at {n}"
        );
    }
    // An IPv4 message claiming IPv6 is too short for it, and the other way round.
    let mut as6 = good.clone();
    as6[1] = 1;
    assert_eq!(HoleMsg::decode(&as6), Err(HoleParseError::BadLength(12)));
    let mut six = HoleMsg::error("[2001:db8::1]:1".parse().unwrap(), HoleError::NoSelf).encode();
    six[1] = 0;
    assert_eq!(HoleMsg::decode(&six), Err(HoleParseError::BadLength(24)));
    let mut fam = good.clone();
    fam[1] = 2;
    assert_eq!(
        HoleMsg::decode(&fam),
        Err(HoleParseError::UnknownAddrType(2))
    );
    let mut typ = good;
    typ[0] = 3;
    assert_eq!(HoleMsg::decode(&typ), Err(HoleParseError::UnknownType(3)));
    let mut zero = connect;
    zero[0] = 2;
    assert_eq!(HoleMsg::decode(&zero), Err(HoleParseError::ZeroError));
}

/// libtorrent 2.0.8 writes no err_code on rendezvous and connect (8 or 20 bytes): taken, as
/// it takes ours with one.
#[test]
fn libtorrents_short_rendezvous_and_connect_are_taken() {
    let v4_connect = [1, 0, 198, 51, 100, 10, 0x1a, 0xe1];
    assert_eq!(
        HoleMsg::decode(&v4_connect),
        Ok(HoleMsg::connect(v4("198.51.100.10:6881")))
    );
    let six: SocketAddr = "[2001:db8::7]:6881".parse().unwrap();
    let full = HoleMsg::rendezvous(six).encode();
    assert_eq!(HoleMsg::decode(&full[..20]), Ok(HoleMsg::rendezvous(six)));
    // An error without its code is short.
    let mut err = v4_connect;
    err[0] = 2;
    assert_eq!(HoleMsg::decode(&err), Err(HoleParseError::BadLength(8)));
}

/// A code on a rendezvous or connect is ignored, as libtorrent ignores it.
#[test]
fn err_code_outside_an_error_is_ignored() {
    let mut raw = HoleMsg::rendezvous(v4("192.0.2.9:9")).encode();
    raw[11] = 3;
    assert_eq!(
        HoleMsg::decode(&raw),
        Ok(HoleMsg::rendezvous(v4("192.0.2.9:9")))
    );
}
