use super::*;
use std::io::Write;

fn v4(s: &str) -> IpAddr {
    IpAddr::V4(s.parse().unwrap())
}

fn v6(s: &str) -> IpAddr {
    IpAddr::V6(s.parse().unwrap())
}

fn gzip(text: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(text).unwrap();
    e.finish().unwrap()
}

#[test]
fn p2p_lines_and_their_boundaries() {
    let p =
        parse(b"# a comment\n\nSome Org:1.2.3.4-1.2.3.255\r\nA: b, c:10.0.0.0-10.0.0.9\n").unwrap();
    assert_eq!(p.bad_lines, 0);
    assert_eq!(p.set.len(), 2);
    assert!(p.set.contains(v4("1.2.3.4")));
    assert!(p.set.contains(v4("1.2.3.255")));
    assert!(!p.set.contains(v4("1.2.3.3")));
    assert!(!p.set.contains(v4("1.2.4.0")));
    assert!(p.set.contains(v4("10.0.0.0")));
    assert!(p.set.contains(v4("10.0.0.9")));
    assert!(!p.set.contains(v4("10.0.0.10")));
    assert!(!p.set.contains(v4("0.0.0.0")));
    assert!(!p.set.contains(v4("255.255.255.255")));
}

#[test]
fn dat_lines_with_padded_addresses_and_levels() {
    let text = b"001.002.003.004 - 001.002.003.255 , 000 , Some Org\n\
                 010.000.000.000 - 010.000.000.255 , 127 , blocked too\n\
                 011.000.000.000 - 011.000.000.255 , 128 , allowed\n\
                 012.000.000.000 - 012.000.000.255 , 255 , allowed\n\
                 013.000.000.000 - 013.000.000.255 , abc , bad level\n";
    let p = parse(text).unwrap();
    assert_eq!(p.bad_lines, 1);
    assert_eq!(p.set.len(), 2);
    assert!(p.set.contains(v4("1.2.3.4")));
    assert!(p.set.contains(v4("1.2.3.255")));
    assert!(p.set.contains(v4("10.0.0.128")));
    assert!(!p.set.contains(v4("11.0.0.1")));
    assert!(!p.set.contains(v4("12.0.0.1")));
    assert!(!p.set.contains(v4("13.0.0.1")));
}

#[test]
fn gzip_is_told_by_its_magic() {
    let text = b"a:1.1.1.1-1.1.1.10\nb:2001:db8::-2001:db8::ffff\n";
    let plain = parse(text).unwrap();
    let gz = parse(&gzip(text)).unwrap();
    assert_eq!(plain, gz);
    assert_eq!(gz.set.len(), 2);
    assert!(gz.set.contains(v4("1.1.1.10")));
    // Truncated gzip is an error, never a half list.
    let mut cut = gzip(text);
    cut.truncate(cut.len() / 2);
    assert!(matches!(parse(&cut), Err(BlocklistError::Gzip(_))));
}

#[test]
fn ipv6_ranges_and_mapped_addresses() {
    let p = parse(
        b"x:2001:db8::10-2001:db8::20\n2001:db8:1::-2001:db8:1::ff , 0 , dat\nm:5.5.5.5-5.5.5.5\n",
    )
    .unwrap();
    assert_eq!(p.bad_lines, 0);
    assert!(p.set.contains(v6("2001:db8::10")));
    assert!(p.set.contains(v6("2001:db8::20")));
    assert!(!p.set.contains(v6("2001:db8::21")));
    assert!(!p.set.contains(v6("2001:db8::f")));
    assert!(p.set.contains(v6("2001:db8:1::80")));
    assert!(p.set.contains(v6("::ffff:5.5.5.5")));
    assert!(!p.set.contains(v6("::ffff:5.5.5.6")));
}

#[test]
fn overlapping_and_adjacent_ranges_merge() {
    let p = parse(
        b"a:10.0.0.0-10.0.0.10\nb:10.0.0.5-10.0.0.20\nc:10.0.0.21-10.0.0.30\nd:10.0.0.40-10.0.0.50\n\
          e:10.0.0.1-10.0.0.2\nf:255.255.255.0-255.255.255.255\ng:255.255.255.255-255.255.255.255\n",
    )
    .unwrap();
    assert_eq!(p.set.len(), 3);
    for a in [
        "10.0.0.0",
        "10.0.0.21",
        "10.0.0.30",
        "10.0.0.40",
        "255.255.255.255",
    ] {
        assert!(p.set.contains(v4(a)), "{a}");
    }
    for a in ["10.0.0.31", "10.0.0.39", "10.0.0.51", "255.255.254.255"] {
        assert!(!p.set.contains(v4(a)), "{a}");
    }
}

#[test]
fn bad_lines_are_counted_not_fatal() {
    let p = parse(
        b"ok:1.1.1.1-1.1.1.2\nno range here\nx:1.1.1.9-1.1.1.1\ny:1.1.1.1-2001:db8::1\n\
          z:1.1.1.256-1.1.1.257\nw:1.1.1.1.1-1.1.1.2\n",
    )
    .unwrap();
    assert_eq!(p.bad_lines, 5);
    assert_eq!(p.set.len(), 1);
    let long = format!("a:{}\nok:2.2.2.2-2.2.2.3\n", "x".repeat(100_000));
    let p = parse(long.as_bytes()).unwrap();
    assert_eq!((p.bad_lines, p.set.len()), (1, 1));
}

#[test]
fn garbage_is_an_error_and_empty_is_an_empty_list() {
    assert!(matches!(
        parse(b"garbage\nmore garbage\n"),
        Err(BlocklistError::NoRanges { bad: 2 })
    ));
    assert!(parse(&[0xff, 0xfe, 0x00, 0x12]).is_err());
    let empty = parse(b"").unwrap();
    assert!(empty.set.is_empty() && empty.bad_lines == 0);
    let comments = parse(b"# only\n\n   \n").unwrap();
    assert!(comments.set.is_empty());
    assert!(!comments.set.contains(v4("1.2.3.4")));
}

#[test]
fn a_million_ranges_with_bad_lines_load() {
    let mut text = String::with_capacity(40 << 20);
    for i in 0..1_000_000u32 {
        // Every range two addresses wide with a gap: none merge.
        let a = Ipv4Addr::from(i * 4 + (1 << 24));
        let b = Ipv4Addr::from(i * 4 + 1 + (1 << 24));
        text.push_str(&format!("range {i}:{a}-{b}\n"));
        if i % 100_000 == 0 {
            text.push_str("not a range\n");
        }
    }
    let p = parse(&gzip(text.as_bytes())).unwrap();
    assert_eq!(p.bad_lines, 10);
    assert_eq!(p.set.len(), 1_000_000);
    assert!(p.set.contains(v4("1.0.0.1")));
    assert!(!p.set.contains(v4("1.0.0.2")));
    assert!(p.set.heap_bytes() < 50 << 20);
}

#[test]
fn fuzz_finds() {
    // Lines the fuzzer may find: each must give a line verdict, never a panic.
    for l in [
        ":",
        "-",
        ",",
        ",,",
        "-,",
        ":-:",
        "1.1.1.1-",
        "-1.1.1.1",
        "::-::",
        " , 999999999999 ,",
    ] {
        let _ = parse_line(l);
    }
}
