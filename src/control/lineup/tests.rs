use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;
use crate::control::proto::{decode_response, encode, Response};

fn line(id: u32, name: &str) -> Arc<TorrentLine> {
    let mut l = TorrentLine::placeholder(TorrentId(id));
    l.name = name.to_string();
    Arc::new(l)
}

/// A frame as the client reads it: through the wire's JSON.
fn over_the_wire(change: LineUpChange) -> LineUpChange {
    let wire = encode(&Response::Session(Box::new(change))).unwrap();
    match decode_response(&wire).unwrap() {
        Response::Session(c) => *c,
        other => panic!("not a session frame: {other:?}"),
    }
}

/// What the screen compares: every field, the lines by value and in order.
fn same(a: &SessionSnapshot, b: &SessionSnapshot) -> bool {
    a == b
}

#[test]
fn a_resting_line_up_sends_no_line_and_the_client_draws_nothing_again() {
    let snap = Arc::new(SessionSnapshot {
        torrents: (1..=1000).map(|i| line(i, &format!("t{i}"))).collect(),
        down_rate: 10.0,
        ..SessionSnapshot::default()
    });
    let (mut framer, mut client) = (Framer::default(), Assembler::default());
    let first = framer.frame(&snap);
    assert_eq!(first.session.torrents.len(), 1000);
    let shown = client.apply(over_the_wire(first)).unwrap();
    assert!(same(&shown, &snap));
    // Published again with the same lines and fields: a heartbeat.
    let again = Arc::new(SessionSnapshot::clone(&snap));
    let beat = framer.frame(&again);
    assert!(beat.session.torrents.is_empty() && beat.order.is_none());
    assert!(client.apply(over_the_wire(beat)).is_none());
    // One line moves and the rates with it: that line alone goes, the rest stay shared.
    let mut moved = SessionSnapshot::clone(&snap);
    moved.up_rate = 3.0;
    let mut l = TorrentLine::clone(&moved.torrents[500]);
    l.down_rate = 1234.0;
    moved.torrents[500] = Arc::new(l);
    let moved = Arc::new(moved);
    let change = framer.frame(&moved);
    assert_eq!(change.session.torrents.len(), 1);
    assert!(change.order.is_none());
    let shown = client.apply(over_the_wire(change)).unwrap();
    assert!(same(&shown, &moved));
}

#[test]
fn unchanged_lines_stay_the_same_arc_on_the_client() {
    let snap = Arc::new(SessionSnapshot {
        torrents: (1..=3).map(|i| line(i, "x")).collect(),
        ..SessionSnapshot::default()
    });
    let (mut framer, mut client) = (Framer::default(), Assembler::default());
    let first = client.apply(over_the_wire(framer.frame(&snap))).unwrap();
    let mut next = SessionSnapshot::clone(&snap);
    next.torrents[1] = line(2, "renamed");
    let next = Arc::new(next);
    let second = client.apply(over_the_wire(framer.frame(&next))).unwrap();
    assert!(Arc::ptr_eq(&first.torrents[0], &second.torrents[0]));
    assert!(Arc::ptr_eq(&first.torrents[2], &second.torrents[2]));
    assert_eq!(second.torrents[1].name, "renamed");
}

/// Random line-ups in a row (lines changed, added, removed, reordered, the session's fields
/// moved): the client's line-up is the session's after every frame, and a frame carries
/// exactly the lines that are not the same `Arc` as the frame before.
#[test]
fn the_client_follows_the_session_through_random_changes() {
    for seed in 0..40u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut next_id = 1u32;
        let mut torrents: Vec<Arc<TorrentLine>> = Vec::new();
        let (mut framer, mut client) = (Framer::default(), Assembler::default());
        let mut last: Option<SessionSnapshot> = None;
        for step in 0..60 {
            let before: Vec<Arc<TorrentLine>> = torrents.clone();
            match rng.gen_range(0..6) {
                0 => {
                    for _ in 0..rng.gen_range(1..4) {
                        torrents.push(line(next_id, &format!("t{next_id}")));
                        next_id += 1;
                    }
                }
                1 if !torrents.is_empty() => {
                    let i = rng.gen_range(0..torrents.len());
                    torrents.remove(i);
                }
                2 if torrents.len() > 1 => {
                    let (a, b) = (
                        rng.gen_range(0..torrents.len()),
                        rng.gen_range(0..torrents.len()),
                    );
                    torrents.swap(a, b);
                }
                3 | 4 if !torrents.is_empty() => {
                    for _ in 0..rng.gen_range(1..3) {
                        let i = rng.gen_range(0..torrents.len());
                        let mut l = TorrentLine::clone(&torrents[i]);
                        l.down_rate = f64::from(rng.gen_range(0..1000u32));
                        l.name = format!("{}-{step}", l.name);
                        torrents[i] = Arc::new(l);
                    }
                }
                _ => {}
            }
            let snap = Arc::new(SessionSnapshot {
                torrents: torrents.clone(),
                down_rate: f64::from(rng.gen_range(0..3u32)),
                listen_port: 6881,
                ..SessionSnapshot::default()
            });
            let change = framer.frame(&snap);
            let fresh = snap
                .torrents
                .iter()
                .filter(|t| !before.iter().any(|b| Arc::ptr_eq(b, t)))
                .count();
            assert_eq!(
                change.session.torrents.len(),
                if last.is_none() {
                    snap.torrents.len()
                } else {
                    fresh
                },
                "seed {seed} step {step}: the frame carries more than what changed"
            );
            match client.apply(over_the_wire(change)) {
                Some(shown) => {
                    assert!(same(&shown, &snap), "seed {seed} step {step}");
                    last = Some(shown);
                }
                None => {
                    let last = last.as_ref().expect("a first frame is never empty");
                    assert!(
                        same(last, &snap),
                        "seed {seed} step {step}: a change was lost"
                    );
                }
            }
        }
    }
}

#[test]
fn rates_that_are_not_numbers_go_as_zero() {
    let mut l = TorrentLine::placeholder(TorrentId(1));
    l.down_rate = f64::NAN;
    let snap = Arc::new(SessionSnapshot {
        torrents: vec![Arc::new(l)],
        up_rate: f64::INFINITY,
        ..SessionSnapshot::default()
    });
    let shown = Assembler::default()
        .apply(over_the_wire(Framer::default().frame(&snap)))
        .unwrap();
    assert_eq!((shown.torrents[0].down_rate, shown.up_rate), (0.0, 0.0));
}
