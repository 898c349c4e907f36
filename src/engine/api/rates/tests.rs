use super::*;

const KIB: u64 = 1024;
const MIB: u64 = 1024 * 1024;

#[test]
fn rates_parse_with_binary_units() {
    for (text, want) in [
        ("0", 0),
        ("2M", 2 * MIB),
        ("500K", 500 * KIB),
        ("500k", 500 * KIB),
        ("1.5MiB", 3 * MIB / 2),
        ("1.5 MiB/s", 3 * MIB / 2),
        ("1G", 1024 * MIB),
        ("4096", 4096),
        ("100KB", 100 * KIB),
        (" 7b ", 7),
    ] {
        assert_eq!(parse_rate(text), Ok(want), "{text}");
    }
    for bad in [
        "",
        "M",
        "-1M",
        "1.2.3K",
        "5X",
        "1e999",
        "1T",
        "99999999999999999999G",
        "abc",
    ] {
        assert!(parse_rate(bad).is_err(), "{bad}");
    }
    assert_eq!(show_rate(0), "unlimited");
    assert_eq!(show_rate(2 * MIB), "2 MiB/s");
}

#[test]
fn schedules_parse_and_wrap_midnight() {
    let s = Schedule::parse("01:00-07:00").unwrap();
    assert_eq!((s.start, s.end), (60, 420));
    assert!(s.contains(60) && s.contains(419) && !s.contains(420) && !s.contains(59));
    assert_eq!(s.to_string(), "01:00-07:00");
    let n = Schedule::parse("22:30-6:15").unwrap();
    assert!(n.contains(23 * 60) && n.contains(0) && n.contains(6 * 60) && !n.contains(12 * 60));
    for bad in [
        "",
        "01:00",
        "25:00-01:00",
        "01:60-02:00",
        "1-2",
        "01:00-01:00",
        "a:bc-01:00",
    ] {
        assert!(Schedule::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn rates_parse_and_print_back() {
    assert_eq!(parse_rate("2K"), Ok(2048));
    assert_eq!(parse_rate("1.5M"), Ok(1_572_864));
    assert_eq!(parse_rate("100"), Ok(100));
    for bad in ["", "K", "-1K", "x", "1e30M"] {
        assert!(parse_rate(bad).is_err(), "{bad:?}");
    }
    for v in [0, 100, 2048, 3 << 20, 1500] {
        assert_eq!(parse_rate(&rate_flag(v)), Ok(v));
    }
}
