//! Unit tests of `stream.rs`: windows, fairness and the slice a read returns.
use super::*;

fn span(start: u64, len: u64) -> FileSpan {
    FileSpan {
        index: 0,
        path: "t/f".into(),
        start,
        len,
    }
}

#[test]
fn a_window_is_at_least_two_pieces_and_ends_with_the_file() {
    let g = Geometry::new(1 << 16, 100 << 16).unwrap();
    let f = span(10 << 16, 20 << 16);
    let w = window(&g, &f, 0, 0).unwrap();
    assert_eq!((w.first, w.last, w.tail), (10, 11, 29));
    assert_eq!(w.pieces(), vec![10, 29, 11]);
    // 4 s at 1 MiB/s: 64 pieces of 64 KiB, cut at the file's end.
    let w = window(&g, &f, 5 << 16, 1 << 20).unwrap();
    assert_eq!((w.first, w.last), (15, 29));
    assert_eq!(w.pieces().len(), 15);
    // The last byte.
    let w = window(&g, &f, (20 << 16) - 1, 0).unwrap();
    assert_eq!((w.first, w.last), (29, 29));
    assert!(window(&g, &span(0, 0), 0, 0).is_none());
}

#[test]
fn a_fast_swarm_window_is_capped() {
    let g = Geometry::new(1 << 20, 1 << 40).unwrap();
    let w = window(&g, &span(0, 1 << 40), 0, 1 << 30).unwrap();
    assert_eq!(u64::from(w.last - w.first + 1), MAX_WINDOW_BYTES >> 20);
}

#[test]
fn readers_share_the_front_of_the_list() {
    assert_eq!(
        interleave(&[vec![1, 2, 3], vec![10, 2], vec![]]),
        vec![1, 10, 2, 3]
    );
    assert!(interleave(&[]).is_empty());
}

#[test]
fn a_read_stops_at_its_piece_end_and_the_file_end() {
    let g = Geometry::new(100, 1000).unwrap();
    assert_eq!(piece_slice(&g, 250, 500, 1 << 20), Some((2, 50, 50)));
    assert_eq!(piece_slice(&g, 250, 20, 1 << 20), Some((2, 50, 20)));
    assert_eq!(piece_slice(&g, 250, 500, 7), Some((2, 50, 7)));
    assert_eq!(piece_slice(&g, 1000, 5, 10), None);
    assert_eq!(piece_slice(&g, 5, 5, 0), None);
}

#[test]
fn a_reader_jumps_when_it_opens_or_leaves_its_window() {
    let g = Geometry::new(1 << 16, 100 << 16).unwrap();
    let f = span(10 << 16, 20 << 16);
    let w = window(&g, &f, 0, 1 << 18).unwrap();
    assert!(jumped(None, &w), "a stream that just opened");
    // Reading on in order slides the window: the piece under the reader was in the old one.
    let on = window(&g, &f, 3 << 16, 1 << 18).unwrap();
    assert!(!jumped(Some((w.first, w.last)), &on));
    let far = window(&g, &f, 18 << 16, 1 << 18).unwrap();
    assert!(jumped(Some((w.first, w.last)), &far));
    // What it waits for first: the piece under it, the next, and the file's last.
    assert_eq!(far.due(), vec![28, 29]);
    assert_eq!(w.due(), vec![10, 11, 29]);
}
