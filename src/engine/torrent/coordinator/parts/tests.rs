use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::{OPTIMISTIC_EVERY, RECHOKE_EVERY};
use crate::engine::torrent::coordinator::{ChokeSchedule, SessionLink};

#[test]
fn the_choker_runs_every_ten_seconds_and_picks_anew_every_thirty_or_when_it_has_none() {
    let now = Instant::now();
    let mut c = ChokeSchedule::new(now);
    assert!(!c.rechoke_due(now + Duration::from_secs(9)));
    assert!(c.rechoke_due(now + RECHOKE_EVERY));
    assert!(c.optimistic_due(now), "no pick yet");
    c.optimistic = Some(SocketAddr::from(([127, 0, 0, 1], 6881)));
    assert!(!c.optimistic_due(now + Duration::from_secs(29)));
    assert!(c.optimistic_due(now + OPTIMISTIC_EVERY));
}

#[test]
fn a_new_link_belongs_to_no_session_and_owes_no_resume_point() {
    let now = Instant::now();
    let l = SessionLink::new(now);
    assert!(l.line.is_none() && l.reports.is_none() && !l.resume_due);
    assert_eq!((l.last_resume, l.counted_until), (now, now));
}
