use super::*;

const A: [u8; 20] = [1; 20];
const B: [u8; 20] = [2; 20];

fn m(up: u64, down: u64) -> Moved {
    Moved {
        uploaded: up,
        downloaded: down,
    }
}

#[test]
fn dates_are_the_calendars() {
    assert_eq!(date_of(0), "1970-01-01");
    assert_eq!(days_from_civil(2026, 11, 30), 20_787);
    assert_eq!(date_of(20_787), "2026-11-30");
    assert_eq!(date_of(days_from_civil(2024, 2, 29)), "2024-02-29");
    // 2026-11-30 is a Monday; 2026-12-06 a Sunday.
    assert_eq!(week_start(20_787), 20_787);
    assert_eq!(week_start(20_793), 20_787);
    assert_eq!(date_of(month_start(20_787)), "2026-11-01");
    assert_eq!(
        date_of(month_start(days_from_civil(2027, 1, 1))),
        "2027-01-01"
    );
    for d in [-1000, 0, 59, 20_000, 20_787, 30_000] {
        let (y, mo, da) = civil(d);
        assert_eq!(days_from_civil(y, mo, da), d);
    }
}

#[test]
fn hosts_drop_the_passkey_port_and_case() {
    assert_eq!(
        host_of("https://Tracker.Example:443/a1b2c3passkey/announce"),
        "tracker.example"
    );
    assert_eq!(
        host_of("udp://user:secret@t.example:6969/announce"),
        "t.example"
    );
    assert_eq!(host_of("http://[2001:db8::1]:80/ann"), "[2001:db8::1]");
}

#[test]
fn a_torrent_with_two_trackers_counts_toward_both_and_says_so() {
    let l = Ledger::default();
    let today = days_from_civil(2026, 11, 30);
    let both = ["http://one.example/p1/announce", "udp://two.example:69"];
    l.count(&A, "a", &both, m(100, 10), today);
    l.count(&B, "b", &both[..1], m(5, 0), today - 1);
    l.count(&B, "b", &both[..1], m(0, 0), today);
    let s = l.report(StatsBy::Tracker, today);
    assert_eq!(s.today, "2026-11-30");
    let one = &s.rows[0];
    assert_eq!(one.key, "one.example");
    assert_eq!((one.torrents, one.shared), (2, 1));
    assert_eq!(one.today, m(100, 10));
    // Sunday was last week; the month holds both days.
    assert_eq!(one.week, m(100, 10));
    assert_eq!(one.month, m(105, 10));
    assert_eq!(one.all, m(105, 10));
    assert_eq!(one.ratio, Some(10.5));
    assert_eq!(one.days.len(), STATS_DAYS);
    assert_eq!(one.days[STATS_DAYS - 2].moved, m(5, 0));
    assert_eq!(one.days[STATS_DAYS - 1].day, "2026-11-30");
    let two = &s.rows[1];
    assert_eq!(
        (two.key.as_str(), two.torrents, two.shared),
        ("two.example", 1, 1)
    );
    assert_eq!(two.all, m(100, 10));
    let none = Ledger::default();
    none.count(&A, "a", &[], m(1, 2), today);
    assert_eq!(none.report(StatsBy::Tracker, today).rows[0].key, NO_TRACKER);
}

#[test]
fn rows_by_label_and_by_torrent() {
    let l = Ledger::default();
    let day = 20_000;
    l.count(&A, "a", &["http://t/"], m(7, 1), day);
    l.count(&B, "b", &["http://t/"], m(3, 0), day);
    let (tv, films) = (
        vec!["tv".to_string()],
        vec!["tv".to_string(), "films".to_string()],
    );
    l.label([(A, &tv[..]), (B, &films[..])].into_iter());
    let s = l.report(StatsBy::Label, day);
    let keys: Vec<(&str, u64, u32)> = s
        .rows
        .iter()
        .map(|r| (r.key.as_str(), r.all.uploaded, r.shared))
        .collect();
    assert_eq!(keys, [("tv", 10, 1), ("films", 3, 1)]);
    let t = l.report(StatsBy::Torrent, day);
    assert_eq!(t.rows[0].key, "a");
    assert_eq!(
        t.rows[0].info_hash.as_deref(),
        Some(&*crate::protocol::hex::encode(&A))
    );
}

#[test]
fn old_days_are_summed_and_a_removed_torrent_goes_with_its_last_day() {
    let l = Ledger::default();
    l.count(&A, "a", &["http://t/"], m(1, 0), 1000);
    l.count(&B, "b", &["http://t/"], m(2, 0), 1000);
    l.forget(&A);
    l.count(&B, "b", &["http://t/"], m(4, 0), 1000 + TRACKER_DAYS + 1);
    let s = l.report(StatsBy::Tracker, 1000 + TRACKER_DAYS + 1);
    assert_eq!(
        s.rows[0].all,
        m(7, 0),
        "pruned days still count in all time"
    );
    assert_eq!(s.rows[0].month, m(4, 0));
    let t = l.report(StatsBy::Torrent, 1000 + TRACKER_DAYS + 1);
    assert_eq!(t.rows.len(), 1, "the removed torrent's account went");
    assert_eq!(t.rows[0].all, m(6, 0));
}

#[test]
fn a_saved_ledger_reads_back_and_only_a_change_is_saved() {
    let l = Ledger::default();
    assert!(l.encode_if_changed().is_none());
    l.count(&A, "a", &["http://t/"], m(1, 2), 100);
    let bytes = l.encode_if_changed().unwrap();
    assert!(l.encode_if_changed().is_none());
    let back = Ledger::default();
    // Counted before the file was read: added to it.
    back.count(&B, "b", &["http://t/"], m(10, 0), 100);
    back.read_saved(&bytes).unwrap();
    assert_eq!(back.report(StatsBy::Tracker, 100).rows[0].all, m(11, 2));
    assert_eq!(back.report(StatsBy::Torrent, 100).rows.len(), 2);
    let other = b"{\"format\":\"other\",\"trackers\":{},\"torrents\":{}}";
    assert!(back
        .read_saved(other)
        .unwrap_err()
        .contains("not a ttui ledger"));
    assert!(back.read_saved(b"{").is_err());
    assert_eq!(
        back.report(StatsBy::Tracker, 100).rows[0].all,
        m(11, 2),
        "kept"
    );
}

#[test]
fn the_local_day_follows_the_time_zone() {
    // Whatever the zone, a day is within one of UTC's.
    let utc = (1_780_000_000i64 / 86_400) as i32;
    assert!((local_day(1_780_000_000) - utc).abs() <= 1);
}

#[test]
fn what_a_torrent_told_each_host_adds_up_over_counts_runs_and_a_save() {
    let l = Ledger::default();
    let one = "https://t1.example/passkey/announce";
    let two = "udp://t2.example:6969";
    l.count(&A, "a", &[one], m(10, 1), 100);
    l.count(&A, "a", &[one, two], m(5, 0), 100);
    // Another run: its counts start from 0 again, and add on.
    l.count(&A, "a", &[one, two], m(7, 3), 101);
    l.count(&B, "b", &[two], m(1, 1), 101);
    let want = vec![
        ("t1.example".to_string(), m(22, 4)),
        ("t2.example".to_string(), m(12, 3)),
    ];
    assert_eq!(l.reported(&A), want);
    let saved = l.encode_if_changed().unwrap();
    let back = Ledger::default();
    back.count(&A, "a", &[two], m(1, 0), 101);
    back.read_saved(&saved).unwrap();
    assert_eq!(
        back.reported(&A),
        [want[0].clone(), ("t2.example".to_string(), m(13, 3))]
    );
    assert!(back.reported(&[9; 20]).is_empty());
}
