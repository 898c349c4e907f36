use super::*;

fn id(b: u8) -> NodeId {
    NodeId([b; 20])
}

fn roundtrip(m: Krpc) {
    let bytes = m.encode();
    assert_eq!(Krpc::decode(&bytes), Ok(m));
}

#[test]
fn bep5_ping_example_decodes() {
    let raw = b"d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe";
    let m = Krpc::decode(raw).expect("valid ping");
    assert_eq!(m.tid, b"aa");
    match m.body {
        Body::Query { id, query, .. } => {
            assert_eq!(&id.0, b"abcdefghij0123456789");
            assert_eq!(query, Query::Ping);
        }
        other => panic!("not a query: {other:?}"),
    }
    // Our encoder writes the same bytes (keys sorted).
    assert_eq!(
        Krpc::decode(raw).map(|m| m.encode()).as_deref(),
        Ok(&raw[..])
    );
}

#[test]
fn bep5_get_peers_response_with_values() {
    let raw = b"d1:rd2:id20:abcdefghij01234567895:token8:aoeusnth6:valuesl6:axje.u6:idhtnmee1:t2:aa1:y1:re";
    let m = Krpc::decode(raw).expect("valid response");
    let Body::Response { r, .. } = m.body else {
        panic!("not a response")
    };
    assert_eq!(r.token.as_deref(), Some(&b"aoeusnth"[..]));
    assert_eq!(r.values.len(), 2);
    assert_eq!(r.values[0].port(), u16::from_be_bytes(*b".u"));
}

#[test]
fn every_message_roundtrips() {
    let base = |body| Krpc {
        tid: vec![1, 2],
        version: Some(b"TT01".to_vec()),
        ip: None,
        body,
    };
    for query in [
        Query::Ping,
        Query::FindNode {
            target: id(7),
            want: Want::NONE,
        },
        Query::FindNode {
            target: id(7),
            want: Want::BOTH,
        },
        Query::GetPeers {
            info_hash: id(9),
            want: Want::NONE,
        },
        Query::GetPeers {
            info_hash: id(9),
            want: Want {
                n4: false,
                n6: true,
            },
        },
        Query::AnnouncePeer {
            info_hash: id(9),
            port: 6881,
            implied_port: true,
            token: b"tok".to_vec(),
        },
    ] {
        roundtrip(base(Body::Query {
            id: id(1),
            query,
            read_only: false,
        }));
    }
    let nodes = vec![
        CompactNode {
            id: id(3),
            addr: "127.0.0.3:7000".parse().unwrap(),
        },
        CompactNode {
            id: id(4),
            addr: "10.1.2.3:1".parse().unwrap(),
        },
    ];
    let mut m = base(Body::Response {
        id: id(2),
        r: Response {
            nodes,
            nodes6: vec![CompactNode {
                id: id(5),
                addr: "[::1]:7001".parse().unwrap(),
            }],
            values: vec![
                "127.0.0.9:51413".parse().unwrap(),
                "[2001:db8::9]:51413".parse().unwrap(),
            ],
            token: Some(vec![0xff; 8]),
        },
    });
    m.ip = Some("1.2.3.4:5".parse().unwrap());
    roundtrip(m.clone());
    m.ip = Some("[2001:db8::4]:5".parse().unwrap());
    roundtrip(m);
    roundtrip(base(Body::Error {
        code: 203,
        message: "Protocol Error".into(),
    }));
}

#[test]
fn unknown_method_and_extra_keys_are_tolerated() {
    let raw = b"d1:ad2:id20:abcdefghij01234567895:extrai1ee1:q9:sample_it1:t1:x1:y1:qe";
    let m = Krpc::decode(raw).expect("tolerated");
    assert!(matches!(
        m.body,
        Body::Query { query: Query::Other(ref q), .. } if q == b"sample_it"
    ));
}

#[test]
fn implied_port_with_junk_port_is_accepted() {
    let raw = b"d1:ad2:id20:abcdefghij012345678912:implied_porti1e9:info_hash20:mnopqrstuvwxyz1234564:porti99999e5:token2:tke1:q13:announce_peer1:t1:x1:y1:qe";
    let m = Krpc::decode(raw).expect("implied port");
    let Body::Query {
        query: Query::AnnouncePeer { implied_port, .. },
        ..
    } = m.body
    else {
        panic!("not an announce")
    };
    assert!(implied_port);
}

#[test]
fn malformed_input_is_an_error_never_a_panic() {
    let cases: &[&[u8]] = &[
        b"",
        b"not bencode",
        b"i42e",
        b"le",
        b"d1:t2:aae",                                   // no y
        b"d1:t2:aa1:y1:ze",                             // unknown y
        b"d1:ti5e1:y1:qe",                              // t not a string
        b"d1:ad2:id3:abce1:q4:ping1:t2:aa1:y1:qe",      // short id
        b"d1:ad2:idi5ee1:q4:ping1:t2:aa1:y1:qe",        // id an int
        b"d1:a4:oops1:q4:ping1:t2:aa1:y1:qe",           // a not a dict
        b"d1:ad2:id20:abcdefghij0123456789e1:q9:find_node1:t2:aa1:y1:qe", // no target
        b"d1:rd2:id20:abcdefghij01234567895:nodes3:abce1:t2:aa1:y1:re", // nodes not 26n
        b"d1:rd2:id20:abcdefghij01234567895:nodesi1ee1:t2:aa1:y1:re",   // nodes an int
        b"d1:rd2:id20:abcdefghij01234567896:valuesl3:abcee1:t2:aa1:y1:re", // bad value length
        b"d1:rd2:id20:abcdefghij01234567896:valuesi1ee1:t2:aa1:y1:re",     // values an int
        b"d1:eli201ee1:t2:aa1:y1:ee",                    // error without message
        b"d1:ad2:id20:abcdefghij01234567894:porti-1e5:token1:x9:info_hash20:abcdefghij0123456789e1:q13:announce_peer1:t2:aa1:y1:qe",
        b"d1:t99999999999999999999:x1:y1:qe",           // absurd string length
        b"d1:t2:aa1:y1:qi99999999999999999999999ee",     // integer overflow
    ];
    for c in cases {
        assert!(
            Krpc::decode(c).is_err(),
            "accepted {:?}",
            String::from_utf8_lossy(c)
        );
    }
}

#[test]
fn caps_on_sizes() {
    // A transaction id longer than the cap.
    let long_t = format!("d1:t{}:{}1:y1:qe", 100, "x".repeat(100));
    assert!(matches!(
        Krpc::decode(long_t.as_bytes()),
        Err(KrpcError::BadLength("t"))
    ));
    // Too many nodes.
    let nodes = vec![0u8; COMPACT_NODE_LEN * (MAX_NODES + 1)];
    let mut raw = b"d1:rd2:id20:abcdefghij01234567895:nodes".to_vec();
    raw.extend_from_slice(format!("{}:", nodes.len()).as_bytes());
    raw.extend_from_slice(&nodes);
    raw.extend_from_slice(b"e1:t2:aa1:y1:re");
    assert!(matches!(
        Krpc::decode(&raw),
        Err(KrpcError::TooMany("nodes"))
    ));
    // Oversized datagrams are refused before parsing.
    let huge = vec![b'd'; MAX_DATAGRAM + 1];
    assert_eq!(
        Krpc::decode(&huge),
        Err(KrpcError::TooLarge(MAX_DATAGRAM + 1))
    );
    // Deep nesting is refused by the bounded bencode walk.
    let mut deep = b"d1:t2:aa1:y1:q1:a".to_vec();
    deep.extend(std::iter::repeat_n(b'l', 1000));
    deep.extend(std::iter::repeat_n(b'e', 1000));
    deep.push(b'e');
    assert!(Krpc::decode(&deep).is_err());
}

#[test]
fn every_prefix_of_a_valid_message_is_rejected() {
    let m = Krpc {
        tid: vec![9],
        version: None,
        ip: None,
        body: Body::Query {
            id: id(1),
            query: Query::GetPeers {
                info_hash: id(2),
                want: Want::BOTH,
            },
            read_only: false,
        },
    }
    .encode();
    for cut in 0..m.len() {
        assert!(Krpc::decode(&m[..cut]).is_err());
    }
}

#[test]
fn distance_and_prefix() {
    let a = NodeId([0; 20]);
    let mut b = [0u8; 20];
    b[1] = 0b0010_0000;
    let b = NodeId(b);
    assert_eq!(a.common_prefix(&b), 10);
    assert_eq!(a.common_prefix(&a), 160);
    assert_eq!(a.distance(&b), b.0);
}

#[test]
fn bep32_nodes6_want_and_ipv6_values() {
    // A find_node asking for both families, as BEP 32 writes it.
    let raw = b"d1:ad2:id20:abcdefghij01234567896:target20:mnopqrstuvwxyz1234564:wantl2:n42:n6ee1:q9:find_node1:t2:aa1:y1:qe";
    let m = Krpc::decode(raw).expect("find_node with want");
    let Body::Query {
        query: Query::FindNode { want, .. },
        ..
    } = m.body
    else {
        panic!("not a find_node")
    };
    assert_eq!(want, Want::BOTH);
    assert_eq!(m.encode(), raw.to_vec());
    // Unknown families are ignored; a wrong type is an error; the list is capped.
    let only6 = b"d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz1234564:wantl2:n62:n8ee1:q9:get_peers1:t2:aa1:y1:qe";
    assert!(matches!(
        Krpc::decode(only6).map(|m| m.body),
        Ok(Body::Query {
            query: Query::GetPeers {
                want: Want {
                    n4: false,
                    n6: true
                },
                ..
            },
            ..
        })
    ));
    let bad = b"d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz1234564:wanti1ee1:q9:get_peers1:t2:aa1:y1:qe";
    assert_eq!(Krpc::decode(bad), Err(KrpcError::WrongType("want")));
    let many = format!(
        "d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz1234564:wantl{}ee1:q9:get_peers1:t2:aa1:y1:qe",
        "2:n4".repeat(MAX_WANT + 1)
    );
    assert_eq!(
        Krpc::decode(many.as_bytes()),
        Err(KrpcError::TooMany("want"))
    );
    // nodes6: 38-byte entries, each an IPv6 node; values mix 6- and 18-byte peers.
    let mut entry = b"abcdefghij0123456789".to_vec();
    entry.extend_from_slice(&std::net::Ipv6Addr::LOCALHOST.octets());
    entry.extend_from_slice(&6881u16.to_be_bytes());
    let mut peer6 = std::net::Ipv6Addr::LOCALHOST.octets().to_vec();
    peer6.extend_from_slice(&51413u16.to_be_bytes());
    let mut raw = b"d1:rd2:id20:abcdefghij01234567896:nodes638:".to_vec();
    raw.extend_from_slice(&entry);
    raw.extend_from_slice(b"6:valuesl6:axje.u18:");
    raw.extend_from_slice(&peer6);
    raw.extend_from_slice(b"ee1:t2:aa1:y1:re");
    let Body::Response { r, .. } = Krpc::decode(&raw).expect("nodes6").body else {
        panic!("not a response")
    };
    assert!(r.nodes.is_empty());
    assert_eq!(r.nodes6.len(), 1);
    assert_eq!(r.nodes6[0].addr, "[::1]:6881".parse().unwrap());
    assert_eq!(r.values.len(), 2);
    assert_eq!(r.values[1], "[::1]:51413".parse().unwrap());
    // Wrong lengths and too many entries are refused, as for `nodes`.
    for (bad, err) in [
        (
            b"d1:rd2:id20:abcdefghij01234567896:nodes626:abcdefghij0123456789abcdefe1:t2:aa1:y1:re"
                .to_vec(),
            KrpcError::BadLength("nodes6"),
        ),
        (
            b"d1:rd2:id20:abcdefghij01234567896:nodes6i1ee1:t2:aa1:y1:re".to_vec(),
            KrpcError::WrongType("nodes6"),
        ),
        (
            b"d1:rd2:id20:abcdefghij01234567896:valuesl17:abcdefghij0123456ee1:t2:aa1:y1:re"
                .to_vec(),
            KrpcError::BadLength("values"),
        ),
    ] {
        assert_eq!(Krpc::decode(&bad), Err(err));
    }
    let nodes = vec![0u8; COMPACT_NODE6_LEN * (MAX_NODES + 1)];
    let mut raw = b"d1:rd2:id20:abcdefghij01234567896:nodes6".to_vec();
    raw.extend_from_slice(format!("{}:", nodes.len()).as_bytes());
    raw.extend_from_slice(&nodes);
    raw.extend_from_slice(b"e1:t2:aa1:y1:re");
    assert!(matches!(
        Krpc::decode(&raw),
        Err(KrpcError::TooMany("nodes6"))
    ));
}

#[test]
fn each_node_list_encodes_its_own_family_only() {
    let mixed = vec![
        CompactNode {
            id: id(1),
            addr: "127.0.0.1:1".parse().unwrap(),
        },
        CompactNode {
            id: id(2),
            addr: "[::1]:2".parse().unwrap(),
        },
    ];
    assert_eq!(decode_nodes(&encode_nodes(&mixed)), Ok(vec![mixed[0]]));
    assert_eq!(decode_nodes6(&encode_nodes6(&mixed)), Ok(vec![mixed[1]]));
}
