//! Nothing a peer sends during MSE makes ttui allocate more: the bytes allocated while a
//! hostile stream is fed do not grow with the stream's length. Its own test binary, because
//! it counts allocations with a global allocator.
// A test crate: it may unwrap, and nothing in it is reachable from outside anyway.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use rand::rngs::StdRng;
use rand::SeedableRng;
use ttui::internals::protocol::mse_codec::{self, Handshake, Method};

struct Counting;

thread_local! {
    static ALLOCATED: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: every call goes straight to the system allocator; the counter is a plain
// thread-local cell with no destructor, so touching it never allocates or re-enters.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATED.with(|a| a.set(a.get() + layout.size()));
        // SAFETY: same layout contract as our caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATED.with(|a| a.set(a.get() + new_size));
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocated() -> usize {
    ALLOCATED.with(Cell::get)
}

fn no_torrent(_: &[u8; 20]) -> Option<[u8; 20]> {
    None
}

/// Bytes allocated while `stream` is fed to a fresh responder in 1000-byte reads, until it
/// fails; and the error.
fn feed_responder(stream: &[u8]) -> (usize, Option<mse_codec::Error>) {
    let mut rng = StdRng::seed_from_u64(1);
    let mut hs = Handshake::responder(&[Method::Rc4, Method::Plain], &mut rng);
    let before = allocated();
    let mut at = 0;
    let mut err = None;
    while at < stream.len() {
        let end = (at + 1000).min(stream.len());
        match hs.feed(&stream[at..end], &no_torrent, &mut rng) {
            Ok(0) => break,
            Ok(n) => at += n,
            Err(e) => {
                err = Some(e);
                break;
            }
        }
        let _ = hs.take_output();
    }
    (allocated() - before, err)
}

fn junk(len: usize) -> Vec<u8> {
    (0..len as u64)
        .map(|i| (i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 56) as u8)
        .collect()
}

#[test]
fn a_never_synchronising_stream_costs_the_same_whatever_its_length() {
    let small = junk(4 << 10);
    let big = junk(8 << 20);
    let (a_small, e_small) = feed_responder(&small);
    let (a_big, e_big) = feed_responder(&big);
    assert_eq!(e_small, Some(mse_codec::Error::NeverSynchronised));
    assert_eq!(e_big, Some(mse_codec::Error::NeverSynchronised));
    // Only our own reply (public key and pad) is allocated.
    assert!(a_small <= 2048, "allocated {a_small} bytes");
    assert_eq!(a_small, a_big, "allocation grew with the hostile stream");
}

#[test]
fn text_instead_of_a_key_is_refused_at_96_bytes() {
    let text = b"GET /announce?info_hash=x HTTP/1.1\r\nHost: example\r\n".repeat(10_000);
    let (a, e) = feed_responder(&text);
    assert_eq!(e, Some(mse_codec::Error::BadPublicKey));
    assert_eq!(a, 0, "nothing allocated for a refused key");
}
