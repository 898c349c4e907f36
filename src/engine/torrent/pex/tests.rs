use super::*;

fn a(n: u16) -> SocketAddr {
    SocketAddr::from(([10, 0, (n >> 8) as u8, n as u8], 6881))
}

fn list(ns: impl IntoIterator<Item = u16>) -> Vec<(SocketAddr, PexFlags)> {
    ns.into_iter()
        .map(|n| (a(n), PexFlags(PexFlags::REACHABLE)))
        .collect()
}

#[test]
fn the_first_message_waits_a_moment_then_one_a_minute() {
    let t0 = Instant::now();
    let mut out = PexOutbox::new(t0);
    let cur = list(1..=3);
    assert_eq!(out.next(t0, &cur), None, "not at once");
    assert_eq!(
        out.next(t0 + FIRST_AFTER - Duration::from_millis(1), &cur),
        None
    );
    let first = out.next(t0 + FIRST_AFTER, &cur).expect("first message");
    assert_eq!(first.added, cur);
    assert!(first.dropped.is_empty());
    // Something changed, but a minute has not passed.
    let t1 = t0 + FIRST_AFTER;
    let cur2 = list(2..=4);
    assert_eq!(out.next(t1 + Duration::from_secs(59), &cur2), None);
    let second = out.next(t1 + SEND_EVERY, &cur2).expect("second message");
    assert_eq!(second.added, list([4]));
    assert_eq!(second.dropped, vec![a(1)]);
}

#[test]
fn nothing_new_sends_nothing_and_keeps_the_clock() {
    let t0 = Instant::now();
    let mut out = PexOutbox::new(t0);
    let cur = list(1..=2);
    assert!(out.next(t0 + FIRST_AFTER, &cur).is_some());
    let t = t0 + FIRST_AFTER + SEND_EVERY;
    assert_eq!(out.next(t, &cur), None);
    // A change right after an empty round goes out at once: the minute had passed.
    let m = out
        .next(t + Duration::from_secs(1), &list(1..=3))
        .expect("sent");
    assert_eq!(m.added, list([3]));
}

#[test]
fn at_most_fifty_added_a_message_the_rest_follow() {
    let t0 = Instant::now();
    let mut out = PexOutbox::new(t0);
    let cur = list(1..=120);
    let m1 = out.next(t0 + FIRST_AFTER, &cur).expect("m1");
    assert_eq!(m1.added.len(), MAX_SEND);
    let m2 = out.next(t0 + FIRST_AFTER + SEND_EVERY, &cur).expect("m2");
    assert_eq!(m2.added.len(), MAX_SEND);
    let m3 = out
        .next(t0 + FIRST_AFTER + SEND_EVERY * 2, &cur)
        .expect("m3");
    assert_eq!(m3.added.len(), 20);
    let mut all: Vec<SocketAddr> = [m1, m2, m3]
        .iter()
        .flat_map(|m| m.added.iter().map(|(a, _)| *a))
        .collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 120, "every peer told exactly once");
    // All gone at once: at most fifty dropped a message too.
    let m4 = out
        .next(t0 + FIRST_AFTER + SEND_EVERY * 3, &[])
        .expect("m4");
    assert_eq!(m4.dropped.len(), MAX_SEND);
    assert!(m4.added.is_empty());
}

#[test]
fn flags_travel_as_given() {
    let t0 = Instant::now();
    let mut out = PexOutbox::new(t0);
    let f = PexFlags(PexFlags::SEED | PexFlags::UTP | PexFlags::ENCRYPTION);
    let m = out.next(t0 + FIRST_AFTER, &[(a(7), f)]).expect("sent");
    let back = Pex::decode(&m.encode()).expect("decodes");
    assert_eq!(back.added, vec![(a(7), f)]);
}
