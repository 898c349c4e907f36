use super::*;

const HASH: [u8; 20] = [
    0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
    0x01, 0x23, 0x45, 0x67,
];

/// What libtorrent 2.0.8's `render_lsd_packet` writes for one torrent on port 6881 with
/// cookie 0x1a2b3c (`cookie: %x`).
const LIBTORRENT: &[u8] = b"BT-SEARCH * HTTP/1.1\r\n\
Host: 239.192.152.143:6771\r\n\
Port: 6881\r\n\
Infohash: 0123456789abcdef0123456789abcdef01234567\r\n\
cookie: 1a2b3c\r\n\
\r\n\r\n";

#[test]
fn we_send_libtorrents_exact_bytes_and_read_them_back() {
    assert_eq!(encode(Family::V4, 6881, &[HASH], "1a2b3c"), LIBTORRENT);
    let a = parse(LIBTORRENT).unwrap();
    assert_eq!(
        a,
        Announce {
            port: 6881,
            hashes: vec![HASH],
            cookie: Some("1a2b3c".into()),
        }
    );
    let v6 = encode(Family::V6, 1, &[HASH], "7");
    assert!(v6.starts_with(b"BT-SEARCH * HTTP/1.1\r\nHost: [ff15::efc0:988f]:6771\r\n"));
    assert_eq!(parse(&v6).unwrap().port, 1);
}

#[test]
fn several_hashes_any_case_and_bare_newlines() {
    let two = encode(Family::V4, 51413, &[HASH, [0xff; 20]], "c");
    assert_eq!(parse(&two).unwrap().hashes, vec![HASH, [0xff; 20]]);
    let loose = b"bt-search * HTTP/1.1\nHOST: x\nPORT:   7000 \nINFOHASH: \
0123456789ABCDEF0123456789ABCDEF01234567\n\n";
    let a = parse(loose).unwrap();
    assert_eq!((a.port, a.hashes, a.cookie), (7000, vec![HASH], None));
}

#[test]
fn bad_hashes_are_skipped_and_none_left_is_an_error() {
    let text = format!(
        "BT-SEARCH * HTTP/1.1\r\nPort: 1\r\nInfohash: {}\r\nInfohash: xyz\r\n\
         Infohash: {}\r\nInfohash: {}\r\n\r\n",
        "0".repeat(40),
        "g".repeat(40),
        "a".repeat(41),
    );
    assert_eq!(parse(text.as_bytes()), Err(LsdError::NoHash));
    // The same hash twice counts once.
    let twice = encode(Family::V4, 1, &[HASH, HASH], "c");
    assert_eq!(parse(&twice).unwrap().hashes.len(), 1);
}

#[test]
fn hostile_input_is_bounded_and_never_panics() {
    // Not a search, an empty datagram, no end of header.
    assert_eq!(
        parse(b"M-SEARCH * HTTP/1.1\r\n\r\n"),
        Err(LsdError::NotSearch)
    );
    assert_eq!(parse(b""), Err(LsdError::NotSearch));
    assert_eq!(
        parse(b"BT-SEARCH * HTTP/1.1\r\nPort: 1\r\n"),
        Err(LsdError::Unterminated)
    );
    // Ports: zero, too big, signs, hex, too many digits, missing.
    for p in [
        "0",
        "65536",
        "-1",
        "+80",
        "0x50",
        "000080",
        "",
        "99999999999999999999",
    ] {
        let text = format!(
            "BT-SEARCH * HTTP/1.1\r\nPort: {p}\r\nInfohash: {}\r\n\r\n",
            "1".repeat(40)
        );
        assert_eq!(parse(text.as_bytes()), Err(LsdError::BadPort), "port {p:?}");
    }
    let no_port = format!(
        "BT-SEARCH * HTTP/1.1\r\nInfohash: {}\r\n\r\n",
        "1".repeat(40)
    );
    assert_eq!(parse(no_port.as_bytes()), Err(LsdError::BadPort));
    // Too long.
    let big = vec![b'a'; MAX_DATAGRAM + 1];
    assert_eq!(parse(&big), Err(LsdError::TooLong(MAX_DATAGRAM + 1)));
    // Too many lines before the empty one: not read to the end.
    let mut many = String::from("BT-SEARCH * HTTP/1.1\r\nPort: 1\r\n");
    for _ in 0..MAX_LINES {
        many.push_str("X: y\r\n");
    }
    many.push_str(&format!("Infohash: {}\r\n\r\n", "1".repeat(40)));
    assert_eq!(parse(many.as_bytes()), Err(LsdError::Unterminated));
    // Many hashes: capped.
    let hashes: Vec<[u8; 20]> = (1..=25u8).map(|i| [i; 20]).collect();
    let lots = encode(Family::V4, 1, &hashes, "c");
    assert!(lots.len() <= MAX_DATAGRAM);
    assert_eq!(parse(&lots).unwrap().hashes.len(), MAX_HASHES);
    // A long or binary cookie is cut and made printable.
    let text = format!(
        "BT-SEARCH * HTTP/1.1\r\nPort: 1\r\nInfohash: {}\r\ncookie: {}\u{7f}\r\n\r\n",
        "1".repeat(40),
        "z".repeat(100)
    );
    let c = parse(text.as_bytes()).unwrap().cookie.unwrap();
    assert_eq!(c.len(), MAX_COOKIE);
    let bin = b"BT-SEARCH\r\nPort: 1\r\nInfohash: 1111111111111111111111111111111111111111\r\ncookie: \xff\x00\r\n\r\n";
    assert_eq!(parse(bin).unwrap().cookie.as_deref(), Some("??"));
    // Every prefix of a real announce: an error or the announce, never a panic.
    for n in 0..LIBTORRENT.len() {
        let _ = parse(&LIBTORRENT[..n]);
    }
}
