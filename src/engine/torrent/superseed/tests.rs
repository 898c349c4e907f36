use super::*;

fn addr(n: u8) -> SocketAddr {
    SocketAddr::from(([192, 0, 2, n], 6881))
}

fn none(_: u32) -> bool {
    false
}

/// A peer with nothing, in a swarm with `availability`.
fn fresh(availability: &[u16]) -> Swarm<'_> {
    Swarm {
        has: &none,
        availability,
    }
}

/// Three leechers with nothing: each is offered pieces no one else is offered.
#[test]
fn each_peer_is_offered_distinct_rare_pieces() {
    let mut s = SuperSeed::default();
    let avail = [0u16; 8];
    let swarm = fresh(&avail);
    let a = s.on_connect(addr(1), &swarm);
    let b = s.on_connect(addr(2), &swarm);
    let c = s.on_connect(addr(3), &swarm);
    assert_eq!(a, [0, 1]);
    assert_eq!(b, [2, 3]);
    assert_eq!(c, [4, 5]);
    assert!(s.may_serve(&addr(1), 0));
    assert!(!s.may_serve(&addr(1), 2), "offered to another peer only");
    assert!(!s.may_serve(&addr(1), 7), "never offered");
}

/// The rarest piece first: one the swarm already has twice is offered last.
#[test]
fn the_rarest_piece_is_offered_first() {
    let mut s = SuperSeed::default();
    let avail = [2u16, 0, 1];
    let swarm = fresh(&avail);
    assert_eq!(s.on_connect(addr(1), &swarm), [1, 2]);
}

/// A peer's own HAVE of its offer gives it nothing new (BEP 16); the offer shows up at
/// another peer, and only then is the first peer offered the next piece.
#[test]
fn the_next_piece_comes_once_the_offer_shows_up_elsewhere() {
    let mut s = SuperSeed::default();
    let avail = [0u16; 6];
    let swarm = fresh(&avail);
    s.on_connect(addr(1), &swarm);
    s.on_connect(addr(2), &swarm);
    let has_01 = |i: u32| i < 2;
    let view = |_: &SocketAddr| {
        Some(Swarm {
            has: &has_01,
            availability: &avail,
        })
    };
    assert!(s.on_have(addr(1), 0, view).is_empty(), "its own HAVE");
    assert_eq!(s.offers(&addr(1)), [0, 1]);
    assert_eq!(s.on_have(addr(2), 0, view), [(addr(1), 4)]);
    assert_eq!(s.offers(&addr(1)), [1, 4]);
}

/// A peer that goes frees its offers; one that has every piece is offered nothing.
#[test]
fn offers_are_freed_and_bounded_by_what_the_peer_lacks() {
    let mut s = SuperSeed::default();
    let avail = [0u16; 2];
    let swarm = fresh(&avail);
    assert_eq!(s.on_connect(addr(1), &swarm), [0, 1]);
    // Only offered pieces are left: the second peer gets them anyway, rather than nothing.
    assert_eq!(s.on_connect(addr(2), &swarm), [0, 1]);
    s.on_disconnect(&addr(1));
    assert!(s.offers(&addr(1)).is_empty());
    let all = |_: u32| true;
    let full = Swarm {
        has: &all,
        availability: &avail,
    };
    assert!(s.on_connect(addr(3), &full).is_empty());
}
