use super::*;

/// `d1:x` + `l`×n + `e`×n + `e`: the shape that once overflowed a worker's stack.
fn nested(n: usize) -> Vec<u8> {
    let mut t = b"d1:x".to_vec();
    t.extend(std::iter::repeat_n(b'l', n));
    t.extend(std::iter::repeat_n(b'e', n));
    t.push(b'e');
    t
}

#[test]
fn handshake_round_trips() {
    let mut h = ExtHandshake::default();
    h.m.insert(UT_METADATA.into(), 3);
    h.m.insert(UT_PEX.into(), 1);
    h.v = Some("ttui 0.1.0".into());
    h.reqq = Some(1);
    h.p = Some(6881);
    h.metadata_size = Some(12_345);
    h.yourip = Some("127.0.0.1".parse().unwrap());
    h.upload_only = true;
    let bytes = h.encode();
    assert!(
        bytes.starts_with(b"d1:md11:ut_metadatai3e6:ut_pexi1ee13:metadata_sizei12345e1:pi6881e")
    );
    assert_eq!(ExtHandshake::decode(&bytes).unwrap(), h);
    assert_eq!(h.id_of(UT_METADATA), Some(3));
    assert_eq!(h.client().as_deref(), Some("ttui 0.1.0"));
    let v6 = ExtHandshake {
        yourip: Some("::1".parse().unwrap()),
        ..Default::default()
    };
    assert_eq!(ExtHandshake::decode(&v6.encode()).unwrap(), v6);
}

#[test]
fn handshake_reads_real_libtorrent_bytes() {
    let raw = b"d12:complete_agoi-1e1:md11:lt_donthavei7e10:share_modei8e11:upload_onlyi3e12:ut_holepunchi4e11:ut_metadatai2e6:ut_pexi1ee13:metadata_sizei5000e4:reqqi500e11:upload_onlyi0e1:v18:libtorrent/2.0.8.06:yourip4:\x7f\x00\x00\x01e";
    let h = ExtHandshake::decode(raw).unwrap();
    assert_eq!(h.id_of(UT_METADATA), Some(2));
    assert_eq!(h.id_of(UT_PEX), Some(1));
    assert_eq!(h.reqq, Some(500));
    assert_eq!(h.metadata_size, Some(5000));
    assert_eq!(h.v.as_deref(), Some("libtorrent/2.0.8.0"));
    assert_eq!(h.yourip, Some("127.0.0.1".parse().unwrap()));
    assert!(!h.upload_only);
    // Its message ids for the BEP 21 and BEP 54 messages.
    assert_eq!(h.id_of(UPLOAD_ONLY), Some(3));
    assert_eq!(h.id_of(LT_DONTHAVE), Some(7));
}

/// The handshake key of a partial seed (libtorrent writes `upload_only` = 1 once every wanted
/// piece is in): any non-zero integer means on, a string or 0 means off.
#[test]
fn handshake_reads_upload_only() {
    let on = ExtHandshake::decode(b"d1:mde11:upload_onlyi1ee").unwrap();
    assert!(on.upload_only);
    let two = ExtHandshake::decode(b"d1:mde11:upload_onlyi2ee").unwrap();
    assert!(two.upload_only);
    let off = ExtHandshake::decode(b"d1:mde11:upload_onlyi0ee").unwrap();
    assert!(!off.upload_only);
    let odd = ExtHandshake::decode(b"d1:mde11:upload_only1:1e").unwrap();
    assert!(!odd.upload_only);
    // Sent only when on.
    let ours = ExtHandshake {
        upload_only: true,
        ..ExtHandshake::default()
    };
    assert_eq!(ours.encode(), b"d1:mde11:upload_onlyi1ee");
    assert_eq!(ExtHandshake::default().encode(), b"d1:mdee");
}

#[test]
fn upload_only_message_is_one_byte() {
    assert_eq!(decode_upload_only(&[1]), Ok(true));
    assert_eq!(decode_upload_only(&[0xff]), Ok(true));
    assert_eq!(decode_upload_only(&[0]), Ok(false));
    assert_eq!(decode_upload_only(&encode_upload_only(true)), Ok(true));
    assert_eq!(decode_upload_only(&encode_upload_only(false)), Ok(false));
    for bad in [&[][..], &[1, 0][..]] {
        assert_eq!(
            decode_upload_only(bad),
            Err(ExtError::BadLength {
                name: UPLOAD_ONLY,
                got: bad.len(),
                expected: 1
            })
        );
    }
}

/// BEP 54: the piece index as 4 bytes big-endian, nothing before or after it.
#[test]
fn donthave_is_a_big_endian_index_of_exactly_four_bytes() {
    assert_eq!(decode_donthave(&[0, 0, 1, 2]), Ok(258));
    assert_eq!(decode_donthave(&[0xff; 4]), Ok(u32::MAX));
    assert_eq!(encode_donthave(258), [0, 0, 1, 2]);
    for i in [0, 7, 0x0102_0304, u32::MAX] {
        assert_eq!(decode_donthave(&encode_donthave(i)), Ok(i));
    }
    for bad in [&[][..], &[0, 0, 1][..], &[0, 0, 0, 1, 0][..]] {
        let e = decode_donthave(bad).unwrap_err();
        assert_eq!(
            e,
            ExtError::BadLength {
                name: LT_DONTHAVE,
                got: bad.len(),
                expected: 4
            }
        );
        assert!(e.to_string().starts_with("lt_donthave: "), "{e}");
    }
}

#[test]
fn handshake_ignores_odd_fields_but_not_garbage() {
    // Wrong types, out-of-range numbers and disabled extensions are dropped one by one.
    let raw = b"d1:md1:ai0e1:bi300e1:c1:x1:di-1e1:ei9ee4:reqqi0e1:pi70000e13:metadata_sizei99999999999e1:vi5ee";
    let h = ExtHandshake::decode(raw).unwrap();
    assert_eq!(h.m.len(), 2);
    assert_eq!(h.id_of("a"), None, "id 0 disables");
    assert_eq!(h.m.get("a"), Some(&0));
    assert_eq!(h.id_of("e"), Some(9));
    assert_eq!(
        (h.reqq, h.p, h.metadata_size, h.v),
        (None, None, None, None)
    );
    assert_eq!(ExtHandshake::decode(b"le").unwrap_err(), ExtError::NotADict);
    assert!(ExtHandshake::decode(b"").is_err());
    assert!(ExtHandshake::decode(b"d1:mdee trailing").is_err());
    // `m` can only hold so many names.
    let mut many = b"d1:md".to_vec();
    for i in 0..1000 {
        let k = format!("x{i:04}");
        many.extend(format!("{}:{}i1e", k.len(), k).as_bytes());
    }
    many.extend(b"ee");
    assert_eq!(ExtHandshake::decode(&many).unwrap().m.len(), MAX_EXTENSIONS);
    // A huge `v` is cut before it is kept.
    let big = format!("d1:v{}:{}e", 100_000, "a".repeat(100_000));
    let h = ExtHandshake::decode(big.as_bytes()).unwrap();
    assert_eq!(h.v.map(|v| v.len()), Some(MAX_CLIENT_BYTES));
}

#[test]
fn every_codec_refuses_deep_nesting() {
    for n in [bencode::MAX_DEPTH + 1, 20_000] {
        let t = nested(n);
        assert!(
            matches!(
                ExtHandshake::decode(&t),
                Err(ExtError::Bencode(BencodeError::TooDeep(_)))
            ),
            "{n}"
        );
        assert!(matches!(
            MetadataMsg::decode(&t),
            Err(ExtError::Bencode(BencodeError::TooDeep(_)))
        ));
        assert!(matches!(
            Pex::decode(&t),
            Err(ExtError::Bencode(BencodeError::TooDeep(_)))
        ));
    }
    // Within the bound, nesting in an unknown key is fine.
    assert!(ExtHandshake::decode(&nested(bencode::MAX_DEPTH - 1)).is_ok());
}

#[test]
fn metadata_round_trips_and_replies() {
    let info: Vec<u8> = (0..40_000u32).map(|i| i as u8).collect();
    let r = metadata_reply(&info, 2);
    let (head, data) = MetadataMsg::decode(&r).unwrap();
    assert_eq!(
        head,
        MetadataMsg::Data {
            piece: 2,
            total_size: Some(40_000)
        }
    );
    assert_eq!(data, &info[32768..]);
    let first = metadata_reply(&info, 0);
    let (head, data) = MetadataMsg::decode(&first).unwrap();
    assert_eq!(head.piece(), 0);
    assert_eq!(data, &info[..METADATA_PIECE]);
    let reject = metadata_reply(&info, 3);
    assert_eq!(reject, b"d8:msg_typei2e5:piecei3ee");
    assert_eq!(
        MetadataMsg::decode(&reject).unwrap(),
        (MetadataMsg::Reject { piece: 3 }, &b""[..])
    );
    assert!(matches!(
        MetadataMsg::decode(&metadata_reply(&info, u32::MAX))
            .unwrap()
            .0,
        MetadataMsg::Reject { .. }
    ));
    let req = MetadataMsg::Request { piece: 7 }.encode(&[]);
    assert_eq!(req, b"d8:msg_typei0e5:piecei7ee");
    assert_eq!(metadata_pieces(0), 0);
    assert_eq!(metadata_pieces(16_385), 2);
}

#[test]
fn metadata_rejects_malformed_headers() {
    assert_eq!(
        MetadataMsg::decode(b"d8:msg_typei1e"),
        Err(ExtError::Bencode(BencodeError::UnexpectedEof(14)))
    );
    assert_eq!(
        MetadataMsg::decode(b"d5:piecei0ee"),
        Err(ExtError::BadField("msg_type"))
    );
    assert_eq!(
        MetadataMsg::decode(b"d8:msg_typei0e5:piecei-1ee"),
        Err(ExtError::BadField("piece"))
    );
    assert_eq!(
        MetadataMsg::decode(b"d8:msg_typei9e5:piecei0ee"),
        Err(ExtError::UnknownMetadataType(9))
    );
    assert_eq!(
        MetadataMsg::decode(b"d8:msg_typei0e5:piecei0eexx"),
        Err(ExtError::UnexpectedData(2))
    );
    assert_eq!(MetadataMsg::decode(b"i1e"), Err(ExtError::NotADict));
    // Every truncation is an error, never a panic.
    let full = metadata_reply(&[1, 2, 3], 0);
    let dict_end = full.len() - 3;
    for cut in 0..dict_end {
        assert!(MetadataMsg::decode(&full[..cut]).is_err(), "{cut}");
    }
}

#[test]
fn pex_round_trips_both_families() {
    let pex = Pex {
        added: vec![
            (
                "127.0.0.1:6881".parse().unwrap(),
                PexFlags(PexFlags::SEED | PexFlags::ENCRYPTION),
            ),
            ("[::1]:51413".parse().unwrap(), PexFlags(PexFlags::UTP)),
            ("10.0.0.2:80".parse().unwrap(), PexFlags::default()),
        ],
        dropped: vec![
            "127.0.0.9:1".parse().unwrap(),
            "[fe80::1]:2".parse().unwrap(),
        ],
    };
    let bytes = pex.encode();
    let back = Pex::decode(&bytes).unwrap();
    // v4 entries come first after a round trip.
    assert_eq!(back.added.len(), 3);
    assert_eq!(back.added[0], pex.added[0]);
    assert_eq!(back.added[1], pex.added[2]);
    assert_eq!(back.added[2], pex.added[1]);
    assert!(back.added[0].1.has(PexFlags::SEED));
    assert_eq!(back.dropped, pex.dropped);
}

#[test]
fn pex_caps_and_skips() {
    // 10,000 peers in `added`, flags missing for most, a ragged tail, and one port 0.
    let mut added = Vec::new();
    added.extend_from_slice(&[127, 0, 0, 1, 0, 0]);
    for i in 0..10_000u32 {
        added.extend_from_slice(&i.to_be_bytes());
        added.extend_from_slice(&[0x1a, 0xe1]);
    }
    added.extend_from_slice(&[1, 2, 3]);
    let mut raw = format!("d5:added{}:", added.len()).into_bytes();
    raw.extend_from_slice(&added);
    raw.extend_from_slice(b"7:added.f2:\x00\x02e");
    let pex = Pex::decode(&raw).unwrap();
    assert_eq!(
        pex.added.len(),
        MAX_PEX_PEERS - 1,
        "port 0 skipped, cap kept"
    );
    // The second entry (first kept) pairs with the second flag byte.
    assert_eq!(pex.added[0].1, PexFlags(0x02));
    assert_eq!(pex.added[1].1, PexFlags(0));
    // An empty or foreign dictionary is an empty message.
    assert_eq!(Pex::decode(b"de").unwrap(), Pex::default());
    assert_eq!(Pex::decode(b"d5:addedi3ee").unwrap(), Pex::default());
    assert_eq!(Pex::decode(b"le"), Err(ExtError::NotADict));
    // Encoding caps too.
    let many = Pex {
        added: (0..1000u16)
            .map(|p| (SocketAddr::from(([127, 0, 0, 1], p + 1)), PexFlags(0)))
            .collect(),
        dropped: Vec::new(),
    };
    assert_eq!(
        Pex::decode(&many.encode()).unwrap().added.len(),
        MAX_PEX_PEERS
    );
}
