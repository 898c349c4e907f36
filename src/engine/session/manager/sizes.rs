/// A library of 100,000 torrents holds 100,000 slots, most of them asleep: what a slot
/// holds inline is paid by each (`tests/bench/README.md`, memory per torrent). The line
/// is the published one (`lines::Line::Own`), a resume point and settings of its own are
/// boxed; a field that makes it grow past this should be boxed too, or the bound raised
/// knowingly.
#[test]
fn a_slot_stays_small() {
    let size = std::mem::size_of::<super::Slot>();
    eprintln!("Slot: {size} bytes");
    assert!(
        size <= SLOT_MAX,
        "a slot is {size} bytes (at most {SLOT_MAX})"
    );
}

const SLOT_MAX: usize = 480;

/// The same for the line every torrent publishes (`lines.rs`), and a sleeping torrent's
/// route for incoming connections (`routes.rs`).
#[test]
fn a_line_and_a_route_stay_small() {
    let line = std::mem::size_of::<crate::engine::api::TorrentLine>();
    let route = std::mem::size_of::<super::super::routes::Route>();
    eprintln!("TorrentLine: {line} bytes, Route: {route} bytes");
    assert!(
        line <= LINE_MAX,
        "a line is {line} bytes (at most {LINE_MAX})"
    );
    assert!(route <= 40, "a route is {route} bytes (at most 40)");
}

/// 416 since a line carries what its trackers last said, its availability and its last
/// activity (32 bytes: facts every face reads, which no face may work out on its own); 424
/// with when a full copy was last seen (one word, the clock packed in it); 432 with a check's
/// rate and time left (its state outgrew the error's string: 0.8 MB for 100,000 torrents).
const LINE_MAX: usize = 432;
