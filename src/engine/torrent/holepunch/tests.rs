use super::*;
use crate::protocol::holepunch::HoleKind;

fn a(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

const INIT: &str = "198.51.100.2:6881";
const TARGET: &str = "203.0.113.9:51413";

fn error_of(v: Verdict) -> Option<HoleError> {
    match v {
        Verdict::Refuse(HoleMsg {
            kind: HoleKind::Error(e),
            addr,
        }) => {
            assert_eq!(addr, a(TARGET), "an error names the target");
            Some(e)
        }
        _ => None,
    }
}

/// Each of the BEP's four error codes for the case it names; a connected target that takes
/// the extension is introduced: both sides are told the other's endpoint.
#[test]
fn answers_with_the_beps_error_codes() {
    let now = Instant::now();
    let cases = [
        (Target::Unknown, HoleError::NoSuchPeer),
        (Target::NotConnected, HoleError::NotConnected),
        (Target::Connected { supports: false }, HoleError::NoSupport),
    ];
    for (found, want) in cases {
        let mut r = Relay::new(now);
        let v = r.rendezvous(now, a(INIT), a(TARGET), found, &[]);
        assert_eq!(error_of(v), Some(want), "{found:?}");
    }
    let mut r = Relay::new(now);
    let connected = Target::Connected { supports: true };
    // Asking for ourselves, or for itself, is NoSelf whatever the lookup says.
    let v = r.rendezvous(now, a(INIT), a(TARGET), connected, &[a(TARGET)]);
    assert_eq!(error_of(v), Some(HoleError::NoSelf));
    let mut r = Relay::new(now);
    let v = r.rendezvous(now, a(TARGET), a(TARGET), connected, &[]);
    assert_eq!(error_of(v), Some(HoleError::NoSelf));
    let mut r = Relay::new(now);
    assert_eq!(
        r.rendezvous(now, a(INIT), a(TARGET), connected, &[]),
        Verdict::Introduce {
            to_initiator: HoleMsg::connect(a(TARGET)),
            to_target: HoleMsg::connect(a(INIT)),
        }
    );
}

/// One peer gets PER_PEER answers a second, errors included; the next second it gets them
/// again.
#[test]
fn one_peer_is_bounded_per_second() {
    let t0 = Instant::now();
    let mut r = Relay::new(t0);
    for i in 0..PER_PEER {
        let v = r.rendezvous(t0, a(INIT), a(TARGET), Target::Unknown, &[]);
        assert_ne!(v, Verdict::Drop, "rendezvous {i}");
    }
    for _ in 0..100 {
        let v = r.rendezvous(t0, a(INIT), a(TARGET), Target::Unknown, &[]);
        assert_eq!(v, Verdict::Drop);
    }
    let t1 = t0 + Duration::from_millis(999);
    assert_eq!(
        r.rendezvous(t1, a(INIT), a(TARGET), Target::Unknown, &[]),
        Verdict::Drop
    );
    let t2 = t0 + WINDOW;
    assert_ne!(
        r.rendezvous(t2, a(INIT), a(TARGET), Target::Unknown, &[]),
        Verdict::Drop
    );
}

/// Many peers together get PER_SECOND answers a second; a peer dropped by the torrent's bound
/// keeps its own allowance for later.
#[test]
fn all_peers_together_are_bounded_per_second() {
    let t0 = Instant::now();
    let mut r = Relay::new(t0);
    let mut answered = 0;
    for i in 0..200u16 {
        let from = SocketAddr::new(a(INIT).ip(), 1000 + i);
        let v = r.rendezvous(
            t0,
            from,
            a(TARGET),
            Target::Connected { supports: true },
            &[],
        );
        if v != Verdict::Drop {
            answered += 1;
        }
    }
    assert_eq!(answered, PER_SECOND);
    let late = SocketAddr::new(a(INIT).ip(), 1199);
    let t1 = t0 + WINDOW;
    for _ in 0..PER_PEER {
        assert_ne!(
            r.rendezvous(t1, late, a(TARGET), Target::Unknown, &[]),
            Verdict::Drop
        );
    }
}

/// The table of counts stays bounded however many endpoints ask.
#[test]
fn tracked_peers_stay_bounded() {
    let t0 = Instant::now();
    let mut r = Relay::new(t0);
    for i in 0..(3 * MAX_TRACKED) {
        let now = t0 + WINDOW * u32::try_from(i / PER_SECOND as usize).unwrap();
        let from = SocketAddr::new(
            std::net::Ipv4Addr::from(0xc000_0200 + u32::try_from(i).unwrap()).into(),
            1,
        );
        let _ = r.rendezvous(now, from, a(TARGET), Target::Unknown, &[]);
        assert!(r.per_peer.len() <= MAX_TRACKED);
    }
}
