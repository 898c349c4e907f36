use super::*;

/// How often a well-behaved peer sends (BEP 11: at most once a minute).
const A_MINUTE: Duration = Duration::from_secs(60);

#[test]
fn an_inbox_caps_each_message_and_each_sender() {
    let t0 = Instant::now();
    let mut inbox = PexInbox::new(t0);
    assert_eq!(
        inbox.accept(t0, 150, 150),
        Verdict::Take(MAX_TAKEN_PER_MESSAGE)
    );
    let mut t = t0;
    let mut taken = MAX_TAKEN_PER_MESSAGE;
    while taken < MAX_TAKEN_PER_SENDER {
        t += A_MINUTE;
        match inbox.accept(t, 150, 150) {
            Verdict::Take(n) => taken += n,
            v => panic!("unexpected {v:?} after {taken}"),
        }
    }
    assert_eq!(taken, MAX_TAKEN_PER_SENDER);
    t += A_MINUTE;
    assert_eq!(
        inbox.accept(t, 10, 10),
        Verdict::Ignore,
        "sender's allowance used"
    );
}

#[test]
fn an_oversized_message_marks_a_flood_and_everything_after_is_ignored() {
    let t0 = Instant::now();
    let mut inbox = PexInbox::new(t0);
    assert!(matches!(
        inbox.accept(t0, FLOOD_ENTRIES + 1, 10),
        Verdict::Flood(_)
    ));
    assert_eq!(inbox.accept(t0 + A_MINUTE * 5, 1, 1), Verdict::Ignore);
}

#[test]
fn messages_too_often_mark_a_flood() {
    let t0 = Instant::now();
    let mut inbox = PexInbox::new(t0);
    // A burst of a few (libtorrent's first comes right after the handshake) is fine.
    for i in 0..BURST {
        let t = t0 + Duration::from_millis(u64::from(i) * 100);
        assert_eq!(inbox.accept(t, 1, 1), Verdict::Take(1));
    }
    assert!(matches!(
        inbox.accept(t0 + Duration::from_secs(1), 1, 1),
        Verdict::Flood(_)
    ));
    assert_eq!(inbox.accept(t0 + A_MINUTE * 10, 1, 1), Verdict::Ignore);
}

#[test]
fn one_message_a_minute_never_floods() {
    let t0 = Instant::now();
    let mut inbox = PexInbox::new(t0);
    for i in 0..100u32 {
        let v = inbox.accept(t0 + A_MINUTE * i, 2, 0);
        assert_eq!(v, Verdict::Ignore, "nothing added, nothing taken, no flood");
    }
    assert_eq!(inbox.accept(t0 + A_MINUTE * 101, 2, 2), Verdict::Take(2));
}

#[test]
fn decode_counts_entries_before_the_cut() {
    let mut raw = Vec::new();
    for i in 0..1000u32 {
        raw.extend_from_slice(&i.to_be_bytes());
        raw.extend_from_slice(&6881u16.to_be_bytes());
    }
    let mut payload = format!("d5:added{}:", raw.len()).into_bytes();
    payload.extend_from_slice(&raw);
    payload.push(b'e');
    let (pex, entries) = Pex::decode_counted(&payload).expect("decodes");
    assert_eq!(entries, 1000);
    assert!(pex.added.len() <= crate::protocol::extension::MAX_PEX_PEERS);
}
