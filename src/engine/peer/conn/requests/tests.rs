use super::*;
use std::time::Duration;

fn b(index: u32, begin: u32) -> BlockRef {
    BlockRef {
        index,
        begin,
        length: 16384,
    }
}

#[test]
fn a_block_answers_its_request_once_and_a_cancelled_one_stays_acceptable() {
    let mut q = Requests::default();
    for i in 0..4 {
        q.sent(b(i, 0));
    }
    assert_eq!(
        q.answer(1, 0, 100),
        Answer::WrongLength { asked: 16384 },
        "a wrong length leaves the request in flight"
    );
    assert_eq!(q.answer(1, 0, 16384), Answer::Requested(b(1, 0)));
    assert_eq!(q.answer(1, 0, 16384), Answer::Unrequested);
    assert_eq!(q.cancel(2, 0), Some(b(2, 0)));
    assert_eq!(q.cancel(2, 0), None);
    assert_eq!(q.answer(2, 0, 16384), Answer::Stale(b(2, 0)));
    // A rejected request is not stale: no block is coming for it.
    assert!(q.rejected(b(3, 0)));
    assert!(!q.rejected(b(3, 0)));
    assert_eq!(q.answer(3, 0, 16384), Answer::Unrequested);
    assert_eq!(q.give_up_all(), vec![b(0, 0)]);
    assert!(q.is_empty());
    assert_eq!(q.answer(0, 0, 16384), Answer::Stale(b(0, 0)));
}

#[test]
fn stale_requests_are_bounded_oldest_first() {
    let mut q = Requests::default();
    for i in 0..=MAX_STALE as u32 {
        q.sent(b(i, 0));
    }
    assert_eq!(q.give_up_all().len(), MAX_STALE + 1);
    assert_eq!(q.stale.len(), MAX_STALE);
    assert_eq!(q.answer(0, 0, 16384), Answer::Unrequested);
    assert_eq!(q.answer(1, 0, 16384), Answer::Stale(b(1, 0)));
    // The connection's end returns requests without keeping them.
    q.sent(b(9999, 0));
    assert_eq!(q.take_all(), vec![b(9999, 0)]);
    assert_eq!(q.answer(9999, 0, 16384), Answer::Unrequested);
}

#[test]
fn depth_stays_within_reqq_and_at_least_one() {
    let now = Instant::now();
    let mut p = Pacing::new(false, now);
    assert_eq!((p.depth(), p.reqq()), (START_PIPELINE, MAX_PIPELINE));
    p.set_reqq(0);
    assert_eq!((p.depth(), p.reqq()), (1, 1));
    p.set_reqq(100_000);
    assert_eq!(p.reqq(), MAX_PIPELINE);
    p.set_reqq(3);
    // A fast window asks for more than reqq allows: reqq wins.
    p.received(100 << 20);
    p.update(now + Duration::from_secs(1), false);
    assert_eq!(p.depth(), 3);
    assert!(p.rate() > 50e6);
    // Under half a second the window stays open.
    p.received(1);
    p.update(now + Duration::from_millis(1200), false);
    assert_eq!(p.depth(), 3);
    assert_eq!(Pacing::new(true, now).depth(), LIMITED_MIN_PIPELINE);
}

#[test]
fn depth_follows_the_rate_within_reqq() {
    assert_eq!(pipeline_depth(0.0, 500, false), MIN_PIPELINE);
    assert_eq!(pipeline_depth(100.0 * BLOCK_LEN as f64, 500, false), 100);
    assert_eq!(pipeline_depth(1e12, 500, false), MAX_PIPELINE);
    assert_eq!(pipeline_depth(1e12, 40, false), 40);
    // Under a limit a slow connection keeps two requests out, a fast one what it needs.
    assert_eq!(
        pipeline_depth(5.0 * 1024.0, 500, true),
        LIMITED_MIN_PIPELINE
    );
    assert_eq!(pipeline_depth(100.0 * BLOCK_LEN as f64, 500, true), 100);
}

#[test]
fn a_small_reqq_is_obeyed_not_a_panic() {
    // `reqq` 1..=15 is legal; it once made `clamp(min, max)` panic with min > max.
    for reqq in 0..=16 {
        for rate in [0.0, 1e3, 1e9, f64::NAN, f64::INFINITY] {
            for limited in [false, true] {
                let d = pipeline_depth(rate, reqq, limited);
                assert!(
                    (1..=reqq.max(1)).contains(&d),
                    "reqq {reqq} rate {rate}: {d}"
                );
            }
        }
    }
}
