use tokio::sync::mpsc;

use std::net::SocketAddr;
use std::time::Instant;

use crate::engine::api::PeerEnd;
use crate::engine::api::{PeerSource, PeerStage};
use crate::engine::peer::link::PeerCmd;
use crate::engine::peer::link::PeerEvent;
use crate::engine::peer::pex::PexEvent;
use crate::engine::testkit::{addr, connect, coordinator, TestTorrent};
use crate::engine::torrent::coordinator::Coordinator;
use crate::engine::torrent::shared::Event;
use crate::protocol::extension::{Pex, PexFlags};
use crate::protocol::holepunch::HoleError;
use crate::protocol::holepunch::HoleMsg;

fn offers(c: &mut Coordinator, conn: u64, holepunch: bool) {
    c.on_pex(
        conn,
        PexEvent::Extensions {
            ut_pex: true,
            holepunch,
            listen_port: None,
        },
    );
}

/// The hole punch messages queued for a connection since the last call.
fn punches(rx: &mut mpsc::UnboundedReceiver<PeerCmd>) -> Vec<HoleMsg> {
    let mut out = Vec::new();
    while let Ok(cmd) = rx.try_recv() {
        if let PeerCmd::SendHolepunch(m) = cmd {
            out.push(m);
        }
    }
    out
}

/// As the relay: two connected peers that take the extension are introduced (each told the
/// other's endpoint); an unknown target gets NoSuchPeer; past the per-peer bound nothing is
/// sent; a peer that never offered the extension is not answered.
#[test]
fn the_relay_introduces_refuses_and_stays_bounded() {
    let t = TestTorrent::new(16 * 1024, 64 * 1024, &[]);
    let mut c = coordinator(&t);
    let (a, mut rx_a) = connect(&mut c, addr(1), PeerSource::Tracker);
    let (b, mut rx_b) = connect(&mut c, addr(2), PeerSource::Tracker);
    let (n, mut rx_n) = connect(&mut c, addr(3), PeerSource::Tracker);
    offers(&mut c, a, true);
    offers(&mut c, b, true);
    offers(&mut c, n, false);
    let now = Instant::now();
    c.on_holepunch(a, HoleMsg::rendezvous(addr(2)), now);
    assert_eq!(punches(&mut rx_a), [HoleMsg::connect(addr(2))]);
    assert_eq!(punches(&mut rx_b), [HoleMsg::connect(addr(1))]);
    assert_eq!(c.run.introductions, 1, "the introduction is counted");
    // On the wire: 6 bytes of framing and 12 of payload each, a rendezvous in and a connect
    // to each side.
    assert_eq!(c.run.relay_bytes, 3 * 18);
    c.on_holepunch(a, HoleMsg::rendezvous(addr(9)), now);
    assert_eq!(
        punches(&mut rx_a),
        [HoleMsg::error(addr(9), HoleError::NoSuchPeer)]
    );
    c.on_holepunch(a, HoleMsg::rendezvous(addr(2)), now);
    assert_eq!(punches(&mut rx_a), [], "over the per-peer bound");
    assert_eq!(punches(&mut rx_b), []);
    // The target does not take the extension: NoSupport, asked by the other peer.
    c.on_holepunch(b, HoleMsg::rendezvous(addr(3)), now);
    assert_eq!(
        punches(&mut rx_b),
        [HoleMsg::error(addr(3), HoleError::NoSupport)]
    );
    // Naming itself: NoSelf.
    c.on_holepunch(b, HoleMsg::rendezvous(addr(2)), now);
    assert_eq!(
        punches(&mut rx_b),
        [HoleMsg::error(addr(2), HoleError::NoSelf)]
    );
    c.on_holepunch(n, HoleMsg::rendezvous(addr(1)), now);
    assert_eq!(punches(&mut rx_n), []);
    assert_eq!(punches(&mut rx_a), []);
    // Refusals and drops are not introductions.
    assert_eq!(c.run.introductions, 1);
    // Their bytes are the relay's cost too: two refused (in and out), one dropped (in only),
    // and nothing for the peer that never offered the extension.
    assert_eq!(c.run.relay_bytes, 3 * 18 + 3 * 2 * 18 + 18);
}

/// As the initiator: a peer listed by PEX with the hole punch flag whose dial failed is asked
/// for from the peer that listed it, once (not again within ASK_EVERY).
#[test]
fn a_failed_dial_asks_the_pex_sender_for_an_introduction() {
    let t = TestTorrent::new(16 * 1024, 64 * 1024, &[]);
    let mut c = coordinator(&t);
    let (r, mut rx_r) = connect(&mut c, addr(1), PeerSource::Tracker);
    offers(&mut c, r, true);
    let target = SocketAddr::from(([198, 51, 100, 7], 51413));
    let plain = SocketAddr::from(([198, 51, 100, 8], 51413));
    c.on_pex(
        r,
        PexEvent::Peers(Pex {
            added: vec![
                (target, PexFlags(PexFlags::HOLEPUNCH | PexFlags::SEED)),
                (plain, PexFlags(PexFlags::SEED)),
            ],
            dropped: Vec::new(),
        }),
    );
    for _ in 0..2 {
        for to in [target, plain] {
            let now = Instant::now();
            let conn = c.peers_mut().new_conn(to);
            let p = c.peers_mut().get_mut(&to).unwrap();
            let _ = p.begin(conn, PeerStage::Connecting, now);
            c.on_event(Event::Peer(PeerEvent::Ended {
                conn,
                end: PeerEnd::Refused,
            }));
        }
    }
    assert_eq!(punches(&mut rx_r), [HoleMsg::rendezvous(target)]);
}

/// As the target: a `connect` makes us dial the endpoint it names, over uTP, marked as hole
/// punched via the relay; one peer's connects are acted on at most PER_PEER a second.
#[tokio::test]
async fn connects_are_dialed_and_bounded() {
    use crate::engine::torrent::holepunch::PER_PEER;
    let t = TestTorrent::new(16 * 1024, 64 * 1024, &[]);
    let mut c = coordinator(&t);
    let (r, _rx_r) = connect(&mut c, addr(1), PeerSource::Tracker);
    offers(&mut c, r, true);
    let now = Instant::now();
    let targets: Vec<SocketAddr> = (10..16).map(addr).collect();
    for &to in &targets {
        c.on_holepunch(r, HoleMsg::connect(to), now);
    }
    let dialed: Vec<SocketAddr> = targets
        .iter()
        .copied()
        .filter(|a| {
            c.peers_mut()
                .get(a)
                .is_some_and(|p| p.known.punched_via == Some(addr(1).ip()) && p.dial.attempts == 1)
        })
        .collect();
    assert_eq!(dialed, targets[..PER_PEER as usize]);
}
