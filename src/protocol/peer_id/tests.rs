use super::*;
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};

/// An id starting with `prefix`, the rest filled the way a real client would: random.
fn id_with(prefix: &[u8], rng: &mut StdRng) -> [u8; 20] {
    let mut id = [0u8; 20];
    rng.fill_bytes(&mut id);
    id[..prefix.len()].copy_from_slice(prefix);
    id
}

fn decode(prefix: &[u8]) -> Option<String> {
    // Several tails per prefix: the name must not depend on the random part.
    let mut rng = StdRng::seed_from_u64(prefix.len() as u64 * 7919);
    let first = decode_client(&id_with(prefix, &mut rng));
    for _ in 0..8 {
        assert_eq!(
            decode_client(&id_with(prefix, &mut rng)),
            first,
            "{prefix:?}"
        );
    }
    first
}

#[track_caller]
fn check(prefix: &[u8], expected: &str) {
    assert_eq!(
        decode(prefix).as_deref(),
        Some(expected),
        "{}",
        String::from_utf8_lossy(prefix)
    );
}

#[test]
fn transmission_test_vectors() {
    // Transmission's own tests/libtransmission/clients-test.cc expectations.
    check(b"-ADB560-", "Advanced Download Manager 11.5.6");
    check(b"-AZ8421-", "Azureus / Vuze 8.4.2.1");
    check(b"-BC0241-", "BitComet 2.41");
    check(b"-BI2300-", "BiglyBT 2.3.0.0");
    check(b"-BL246326", "BitLord 2.4.6-326");
    check(b"-BN0001-", "Baidu Netdisk");
    check(b"-BT791B-", "BitTorrent 7.9.1 (Beta)");
    check(b"-BT791\0-", "BitTorrent 7.9.1");
    check(b"-BW1293-", "BitTorrent Web 1.2.9");
    check(b"-FC1013-", "FileCroc 1.0.1.3");
    check(b"-FD51@\xFF-", "Free Download Manager 5.1.x");
    check(b"-FD51R\xFF-", "Free Download Manager 5.1.27");
    check(b"-FD51W\xFF-", "Free Download Manager 5.1.32");
    check(b"-FD51\x5D\xC7-", "Free Download Manager 5.1.x");
    check(b"-FL51FF-", "Folx 5.x");
    check(b"-FW6830-", "FrostWire 6.8.3");
    check(b"-KT33D1-", "KTorrent 3.3 Dev 1");
    check(b"-Lr10X0-", "LibreTorrent 1.0.33");
    check(b"-MR1100-", "Miro 1.1.0.0");
    check(b"-PI0091-", "PicoTorrent 0.09.1");
    check(b"-PI0120-", "PicoTorrent 0.12.0");
    check(b"-TB2137-", "Torch Browser");
    check(b"-TR0006-", "Transmission 0.6");
    check(b"-TR0072-", "Transmission 0.72");
    check(b"-TR111Z-", "Transmission 1.11 (Dev)");
    check(b"-TR400B-", "Transmission 4.0.0 (Beta)");
    check(b"-TR4000-", "Transmission 4.0.0");
    check(b"-TR4Az0-", "Transmission 4.10.61");
    check(b"-UT341\0-", "µTorrent 3.4.1");
    check(b"-UT7a5\0-", "µTorrent 7.10.5");
    check(b"-UW110Q-", "µTorrent Web 1.1.0");
    check(b"-UW1110Q", "µTorrent Web 1.1.10");
    check(b"-WS1000-", "HTTP Seed");
    check(b"-WW0007-", "WebTorrent 0.7");
    check(b"-WW0300-", "WebTorrent 3.0");
    check(b"-XF9990-", "Xfplay 9.9.9");
    check(b"-XF9992-", "Xfplay 9.9.92");
    check(b"A2-1-18-8-", "aria2 1.18.8");
    check(b"A2-1-2-0-", "aria2 1.2.0");
    check(b"FD6k4SYy9BOU4U4rk3-J", "Free Download Manager 6");
    check(b"S58B-----", "Shad0w 5.8.11");
    check(b"Q1-23-4-", "Queen Bee 1.23.4");
    check(b"TIX0193-", "Tixati 1.93");
    check(
        b"\x65\x78\x62\x63\x00\x38\x4C\x4F\x52\x44\x32\x00\x04\x8E\xCE\xD5\x7B\xD7\x10\x28",
        "BitLord 0.56",
    );
    check(
        b"\x65\x78\x62\x63\x00\x38\x7A\x44\x63\x10\x2D\x6E\x9A\xD6\x72\x3B\x33\x9F\x35\xA9",
        "BitComet 0.56",
    );
}

#[test]
fn transmission_vectors_we_decode_differently() {
    // Transmission prints these as percent-escaped bytes; for us binary inside the
    // version block means "not an Azureus id", so there is no name to give.
    assert_eq!(decode(b"-IIO\x10\x2D\x04-"), None);
    assert_eq!(decode(b"-I\x05O\x08\x03\x01-"), None);
}

#[test]
fn clients_seen_on_our_test_swarms() {
    check(b"-TR3000-", "Transmission 3.00");
    check(b"-TR2920-", "Transmission 2.92");
    check(b"-TR300Z-", "Transmission 3.00 (Dev)");
    check(b"-TR4050-", "Transmission 4.0.5");
    check(b"-TR406Z-", "Transmission 4.0.6 (Dev)");
    check(b"A2-1-36-0-", "aria2 1.36.0");
    check(b"-LT2080-", "libtorrent (Rasterbar) 2.0.8");
    check(b"-LT12J0-", "libtorrent (Rasterbar) 1.2.19");
    check(b"-qB4520-", "qBittorrent 4.5.2");
    check(b"-qB46A0-", "qBittorrent 4.6.10");
    check(b"-rQ9100-", "rqbit 9.1.0");
    check(b"-rQ0001-", "rqbit 0.0.0.1");
    check(b"M4-3-6--", "BitTorrent 4.3.6");
    check(b"M7-10-3-", "BitTorrent 7.10.3");
    check(b"-UT355W-", "µTorrent 3.5.5");
    check(b"-UM1870-", "µTorrent Mac 1.8.7");
    check(b"-DE211s-", "Deluge 2.1.1");
    check(b"-DE200D-", "Deluge 2.0.0 (Dev)");
    check(b"-DE201b-", "Deluge 2.0.1 (Beta)");
    check(b"-DE13F0-", "Deluge 1.3.15");
    check(b"S58B-----", "Shad0w 5.8.11");
    check(b"T03I-----", "BitTornado 0.3.18");
    check(b"-BC0200-", "BitComet 2.00");
    check(b"-XL0012-", "Xunlei 0.0.1.2");
    check(b"-SD0100-", "Thunder 0.1.0.0");
    check(b"-lt0D80-", "libTorrent (Rakshasa) 0.13.8");
    check(b"-WD0021-", "WebTorrent Desktop 0.21");
    check(b"-TT0100-", "ttui 0.1.0");
    check(b"-TT1C3Z-", "ttui 1.12.3 (Dev)");
    check(b"-KT4130-", "KTorrent 4.1.3");
    check(b"-BOWA0C-", "Bits on Wheels 1.0.6");
    check(b"DNA010203", "BitTorrent DNA 1.2.3");
    check(b"XBT054d-", "XBT Client 0.5.4 (Debug)");
    check(b"-XC0102-", "Xtorrent 0.1 (2)");
    check(b"\0\x03BS", "BitSpirit 3");
    check(b"\0\0BS", "BitSpirit 1");
}

#[test]
fn unknown_azureus_ids_are_named_honestly() {
    check(b"-ZZ1234-", "unknown client -ZZ1234-");
    check(b"-xy9999-", "unknown client -xy9999-");
}

#[test]
fn noise_is_not_a_client() {
    assert_eq!(decode_client(&[0u8; 20]), None);
    assert_eq!(decode_client(&[0xffu8; 20]), None);
    // Starts like Mainline/Shadow/aria2 but does not follow through.
    assert_eq!(decode(b"\xf1M4-3-6--"), None);
    assert_eq!(decode(b"M4-3-6-x"), None);
    assert_eq!(decode(b"M4-3x6--"), None);
    assert_eq!(decode(b"Z58B-----"), None);
    assert_eq!(decode(b"S58\xb0-----"), None);
    assert_eq!(decode(b"S--------"), None);
    check(b"A2-x-36-0-", "aria2");
}

#[test]
fn our_id_has_the_documented_shape() {
    let a = our_peer_id();
    let b = our_peer_id();
    assert_eq!(
        &a[..8],
        &azureus_prefix(CLIENT_CODE, env!("CARGO_PKG_VERSION"))
    );
    assert!(a[8..].iter().all(u8::is_ascii_alphanumeric));
    // 62^12 possibilities: equal ids mean the random part is not random.
    assert_ne!(a[8..], b[8..]);
    let name = decode_client(&a).unwrap_or_default();
    assert!(name.starts_with("ttui "), "{name}");
}

#[test]
fn version_encoding() {
    assert_eq!(&azureus_prefix(*b"TT", "0.1.0"), b"-TT0100-");
    assert_eq!(&azureus_prefix(*b"TT", "1.12.3"), b"-TT1C30-");
    assert_eq!(&azureus_prefix(*b"TT", "2.40.61"), b"-TT2ez0-");
    assert_eq!(&azureus_prefix(*b"TT", "1.12.3-beta.1"), b"-TT1C3Z-");
    assert_eq!(&azureus_prefix(*b"TT", "1.2.3+build.5"), b"-TT1230-");
    assert_eq!(&azureus_prefix(*b"TT", "1.2.3-rc.1+b"), b"-TT123Z-");
    assert_eq!(&azureus_prefix(*b"TT", "100.0.0"), b"-TTz000-");
    assert_eq!(&azureus_prefix(*b"TT", "7"), b"-TT7000-");
    assert_eq!(&azureus_prefix(*b"TT", ""), b"-TT0000-");
    // Round trip through our own decoder.
    for v in ["0.1.0", "3.14.15", "1.2.3-alpha"] {
        let mut id = [b'a'; 20];
        id[..8].copy_from_slice(&azureus_prefix(CLIENT_CODE, v));
        let expected = match v.split_once('-') {
            Some((core, _)) => format!("ttui {core} (Dev)"),
            None => format!("ttui {v}"),
        };
        assert_eq!(decode_client(&id), Some(expected));
    }
}

#[test]
fn handshake_v_is_cleaned() {
    assert_eq!(
        client_from_handshake_v("Transmission 3.00"),
        "Transmission 3.00"
    );
    assert_eq!(client_from_handshake_v("aria2/1.36.0"), "aria2/1.36.0");
    assert_eq!(client_from_handshake_v("µTorrent 3.5.5"), "µTorrent 3.5.5");
    assert_eq!(
        client_from_handshake_v("\x1b[2Jevil\x07 \u{202e}client\r\n"),
        "[2Jevil client"
    );
    assert_eq!(client_from_handshake_v("  a \t\t b  "), "a b");
    assert_eq!(client_from_handshake_v("\x00\x01\u{200b}"), "");
    let long = "x".repeat(100);
    assert_eq!(client_from_handshake_v(&long).chars().count(), MAX_V_LEN);
    let wide = "é".repeat(100);
    assert_eq!(client_from_handshake_v(&wide), "é".repeat(MAX_V_LEN));
    // A space is never the last character kept.
    let spaced = format!("{} y", "x".repeat(MAX_V_LEN - 1));
    assert_eq!(client_from_handshake_v(&spaced), "x".repeat(MAX_V_LEN - 1));
}

#[test]
fn describe_prefers_v_then_id() {
    let mut id = [b'z'; 20];
    id[..8].copy_from_slice(b"-TR3000-");
    assert_eq!(
        describe_client(Some("Transmission 3.00"), &id),
        "Transmission 3.00"
    );
    assert_eq!(describe_client(Some("\x07"), &id), "Transmission 3.00");
    assert_eq!(describe_client(None, &id), "Transmission 3.00");
    let noise = [0x90u8; 20];
    assert_eq!(describe_client(None, &noise), "........");
}

#[test]
fn printable_and_hex_forms() {
    let mut id = [0u8; 20];
    id[..8].copy_from_slice(b"-TR3000-");
    id[8] = b' ';
    id[9] = 0x7f;
    id[10] = 0xc3;
    assert_eq!(format_peer_id(&id), "-TR3000- ...........");
    assert_eq!(
        crate::protocol::hex::encode(&[0x00, 0x0f, 0xa0, 0xff]),
        "000fa0ff"
    );
    assert_eq!(crate::protocol::hex::encode(&[]), "");
    assert_eq!(crate::protocol::hex::encode(&id).len(), 40);
    assert!(crate::protocol::hex::encode(&id).starts_with("2d5452333030302d"));
}

#[test]
fn table_is_consistent() {
    for (i, a) in CLIENTS.iter().enumerate() {
        assert!(!a.prefix.is_empty() && a.prefix.len() <= 20, "{}", a.name);
        for b in &CLIENTS[i + 1..] {
            assert_ne!(a.prefix, b.prefix, "duplicate prefix for {}", a.name);
        }
    }
    assert!(supported_prefix_count() >= 60);
}

fn assert_sane(out: Option<String>, id: &[u8; 20]) {
    if let Some(s) = out {
        assert!(!s.is_empty(), "{id:?}");
        assert!(s.chars().count() <= 60, "{s} from {id:?}");
        assert!(!s.chars().any(char::is_control), "{s:?} from {id:?}");
    }
}

#[test]
fn never_panics_on_arbitrary_bytes() {
    let mut rng = StdRng::seed_from_u64(0x7474_7569);
    let mut named = 0;
    for _ in 0..5000 {
        let id = id_with(&[], &mut rng);
        let out = decode_client(&id);
        named += usize::from(out.is_some());
        assert_sane(out, &id);
        assert_eq!(format_peer_id(&id).chars().count(), 20);
        assert_sane(Some(describe_client(None, &id)), &id);
    }
    // Pure noise should almost never be given a client name.
    assert!(named < 50, "{named} random ids got a name");
    // Every known prefix followed by garbage, including garbage in the version block.
    for entry in CLIENTS {
        for _ in 0..50 {
            let id = id_with(entry.prefix, &mut rng);
            let out = decode_client(&id);
            assert!(out.is_some(), "{}", entry.name);
            assert_sane(out, &id);
        }
    }
    // Style-specific starts with every possible next byte.
    for start in [
        &b"M"[..],
        b"Q1-",
        b"S",
        b"A2-",
        b"exbc",
        b"\0",
        b"-TR",
        b"-UT",
    ] {
        for x in 0..=255u8 {
            let mut id = id_with(start, &mut rng);
            id[start.len()] = x;
            assert_sane(decode_client(&id), &id);
        }
    }
}
