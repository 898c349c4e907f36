use super::{Parked, Stored};
use crate::engine::torrent::priorities::FilePlan;
use crate::engine::torrent::report::{Lifetime, ResumePoint};
use crate::protocol::bitfield::Bitfield;

fn resume_point(pieces: u32) -> ResumePoint {
    ResumePoint {
        have: Bitfield::new(pieces),
        lifetime: Lifetime::default(),
        paused: false,
        peers: Vec::new(),
        clean: true,
        files: FilePlan::default(),
        rates: Default::default(),
        durable: None,
    }
}

#[test]
fn a_parked_torrent_checks_first_only_when_nothing_vouches_for_its_data() {
    let bare = Parked::default();
    assert!(bare.checks_first(None), "nothing stored, no resume point");
    let point = resume_point(4);
    assert!(
        !bare.checks_first(Some(&point)),
        "its last resume point vouches"
    );
    let trusted = Parked {
        stored: Some(Box::new(Stored {
            trusted: Some(Bitfield::new(4)),
            ..Stored::default()
        })),
        ..Parked::default()
    };
    assert!(!trusted.checks_first(None), "the store vouches");
    let changed = Parked {
        stored: Some(Box::new(Stored {
            trusted: Some(Bitfield::new(4)),
            to_check: vec![2],
            ..Stored::default()
        })),
        ..Parked::default()
    };
    assert!(
        changed.checks_first(Some(&point)),
        "a file changed since the save"
    );
}

#[test]
fn a_complete_torrent_resumed_with_nothing_to_check_sleeps() {
    let point = resume_point(4);
    let resumed = Parked {
        complete: true,
        ..Parked::default()
    };
    assert!(resumed.sleeps_when_resumed(Some(&point)));
    assert!(
        !resumed.sleeps_when_resumed(None),
        "nothing vouches for its data: its task checks it"
    );
    let still_paused = Parked {
        paused: true,
        ..resumed
    };
    assert!(!still_paused.sleeps_when_resumed(Some(&point)));
    let download = Parked::default();
    assert!(
        !download.sleeps_when_resumed(Some(&point)),
        "a download starts its task"
    );
    let noted = Parked {
        complete: true,
        stored: Some(Box::new(Stored {
            trusted: Some(Bitfield::new(4)),
            notes: vec!["a file is missing".into()],
            ..Stored::default()
        })),
        ..Parked::default()
    };
    assert!(!noted.sleeps_when_resumed(None), "its task tells the note");
    let asleep = Parked {
        complete: true,
        dormant: true,
        ..Parked::default()
    };
    assert!(!asleep.sleeps_when_resumed(Some(&point)));
}

#[test]
fn the_stored_part_is_made_once_when_needed() {
    let mut p = Parked::default();
    assert!(p.stored.is_none());
    p.stored_mut().lifetime.seeding_secs = 7;
    p.stored_mut().files.sequential = true;
    let s = p.stored.as_deref();
    assert_eq!(s.map(|s| s.lifetime.seeding_secs), Some(7));
    assert_eq!(s.map(|s| s.files.sequential), Some(true));
}

/// Most parked slots of a library are asleep after their first run: what a torrent never
/// started needs (trusted pieces, plan, counters, notes) is not carried inline by each.
#[test]
fn a_parked_slot_without_a_stored_part_is_small() {
    assert!(
        std::mem::size_of::<Parked>() <= 64,
        "{} bytes",
        std::mem::size_of::<Parked>()
    );
}
