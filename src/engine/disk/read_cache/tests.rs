use std::sync::Arc;
use std::time::{Duration, Instant};

use super::*;

fn unit(n: u8, len: usize) -> impl FnOnce() -> Option<Vec<u8>> {
    move || Some(vec![n; len])
}

#[test]
fn a_unit_is_read_once_and_served_from_memory() {
    let c = ReadCache::new(1 << 20);
    let mut reads = 0;
    let got = c.get_or_load((1, 0, 0), 1000, || {
        reads += 1;
        Some(vec![7; 1000])
    });
    assert_eq!(got.as_deref().map(<[u8]>::len), Some(1000));
    let mut dst = [0u8; 10];
    assert!(c.copy((1, 0, 0), 990, &mut dst));
    assert_eq!(dst, [7; 10]);
    assert!(!c.copy((1, 0, 0), 995, &mut dst), "past the unit's end");
    assert!(!c.copy((1, 1, 0), 0, &mut dst), "another piece");
    let again = c.get_or_load((1, 0, 0), 1000, || panic!("read twice"));
    assert!(again.is_some());
    assert_eq!(reads, 1);
    let s = c.stats();
    assert_eq!((s.hits, s.misses, s.read, s.held), (2, 1, 1000, 1000));
}

#[test]
fn the_bound_holds_and_the_oldest_goes_first() {
    let c = ReadCache::new(3000);
    for p in 0..3 {
        c.get_or_load((1, p, 0), 1000, unit(p as u8, 1000));
        std::thread::sleep(Duration::from_millis(2));
    }
    let mut dst = [0u8; 1];
    assert!(
        c.copy((1, 0, 0), 0, &mut dst),
        "piece 0 used again: now the newest"
    );
    c.get_or_load((1, 3, 0), 1000, unit(3, 1000));
    assert_eq!(c.stats().held, 3000);
    assert!(c.copy((1, 0, 0), 0, &mut dst));
    assert!(!c.copy((1, 1, 0), 0, &mut dst), "piece 1 was the oldest");
    // A unit over half the bound is not cached: the caller reads its block itself.
    assert!(c.get_or_load((1, 9, 0), 1600, unit(9, 1600)).is_none());
    c.set_capacity(1000);
    assert_eq!(c.stats().held, 1000);
    c.set_capacity(0);
    assert_eq!(c.stats().held, 0);
}

#[test]
fn writes_closed_storages_and_idle_units_are_forgotten() {
    let c = ReadCache::new(10_000);
    for (s, p) in [(1, 0), (1, 1), (2, 0)] {
        c.get_or_load((s, p, 0), 1000, unit(1, 1000));
    }
    c.forget_piece(1, 1);
    let mut dst = [0u8; 1];
    assert!(!c.copy((1, 1, 0), 0, &mut dst));
    assert!(c.copy((1, 0, 0), 0, &mut dst));
    c.forget_storage(1);
    assert!(!c.copy((1, 0, 0), 0, &mut dst));
    assert_eq!(c.stats().held, 1000);
    c.expire(Instant::now() + Duration::from_secs(5));
    assert_eq!(c.stats().held, 1000, "used 5 s ago: kept");
    c.expire(Instant::now() + IDLE);
    assert_eq!(c.stats().held, 0);
}

#[test]
fn a_failed_read_is_not_kept() {
    let c = ReadCache::new(10_000);
    assert!(c.get_or_load((1, 0, 0), 1000, || None).is_none());
    assert_eq!(c.stats().held, 0);
    assert!(c.get_or_load((1, 0, 0), 1000, unit(1, 1000)).is_some());
}

#[test]
fn a_unit_being_read_is_waited_for_not_read_again() {
    let c = Arc::new(ReadCache::new(10_000));
    let reads = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (c, reads) = (Arc::clone(&c), Arc::clone(&reads));
            std::thread::spawn(move || {
                c.get_or_load((1, 0, 0), 1000, || {
                    reads.fetch_add(1, Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(50));
                    Some(vec![5; 1000])
                })
            })
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap().as_deref().map(|u| u[0]), Some(5));
    }
    assert_eq!(reads.load(Ordering::Relaxed), 1);
}
