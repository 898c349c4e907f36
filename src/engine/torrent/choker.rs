//! Who gets upload slots. Pure: the coordinator gathers the peers' state, this decides.
//!
//! Regular slots go to the interested peers that give us the most (or, seeding, take the
//! most); one optimistic slot rotates among choked interested peers so newcomers get a chance
//! to prove themselves (BEP 3's tit-for-tat with optimistic unchoking).

use std::net::SocketAddr;

/// Regular upload slots (the optimistic one comes on top).
pub(crate) const UPLOAD_SLOTS: usize = 4;

/// One connected peer as the choker sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Candidate {
    pub addr: SocketAddr,
    /// Handshake done and messages flowing (a connection still being set up is left alone).
    pub connected: bool,
    pub peer_interested: bool,
    pub am_choking: bool,
    /// Bytes per second that rank it: their upload to us, or (seeding) our upload to them.
    pub rate: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Choke {
    Choke(SocketAddr),
    Unchoke(SocketAddr),
}

/// Peers that may take the optimistic slot: connected, interested, choked by us.
pub(crate) fn optimistic_candidates(peers: &[Candidate]) -> Vec<SocketAddr> {
    peers
        .iter()
        .filter(|p| p.connected && p.peer_interested && p.am_choking)
        .map(|p| p.addr)
        .collect()
}

/// The changes that give the `slots` best interested peers, plus `optimistic`, an unchoke
/// and everyone else a choke. Peers already in the wanted state get nothing.
pub(crate) fn rechoke(
    peers: &[Candidate],
    slots: usize,
    optimistic: Option<SocketAddr>,
) -> Vec<Choke> {
    let mut interested: Vec<&Candidate> = peers
        .iter()
        .filter(|p| p.connected && p.peer_interested)
        .collect();
    interested.sort_by(|a, b| b.rate.total_cmp(&a.rate));
    let mut unchoke: Vec<SocketAddr> = interested.iter().take(slots).map(|p| p.addr).collect();
    if let Some(o) = optimistic {
        if !unchoke.contains(&o) {
            unchoke.push(o);
        }
    }
    peers
        .iter()
        .filter_map(|p| match (unchoke.contains(&p.addr), p.am_choking) {
            (true, true) => Some(Choke::Unchoke(p.addr)),
            (false, false) => Some(Choke::Choke(p.addr)),
            _ => None,
        })
        .collect()
}

/// The changes for a seed the session holds back (waiting for a seed slot, or idle under a
/// seed limit): nobody new is unchoked, not even optimistically, but a peer it is serving
/// keeps its unchoke while it still wants data, so no upload in progress is cut; the others
/// are choked.
pub(crate) fn keep_serving(peers: &[Candidate]) -> Vec<Choke> {
    peers
        .iter()
        .filter(|p| {
            let serving = p.connected && p.peer_interested;
            !p.am_choking && !serving
        })
        .map(|p| Choke::Choke(p.addr))
        .collect()
}

/// Whether a peer that just became interested may be unchoked at once, before the next
/// round: only while a slot (the optimistic one included) is free.
pub(crate) fn unchoke_now(peers: &[Candidate], slots: usize) -> bool {
    peers.iter().filter(|p| !p.am_choking).count() < slots + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(n: u8, interested: bool, choking: bool, rate: f64) -> Candidate {
        Candidate {
            addr: SocketAddr::from(([10, 0, 0, n], 6881)),
            connected: true,
            peer_interested: interested,
            am_choking: choking,
            rate,
        }
    }

    #[test]
    fn the_fastest_interested_peers_get_the_slots() {
        let peers = [
            peer(1, true, true, 10.0),
            peer(2, true, true, 50.0),
            peer(3, true, false, 5.0),
            peer(4, false, true, 99.0),
            peer(5, true, true, 30.0),
        ];
        let mut got = rechoke(&peers, 2, None);
        got.sort_by_key(|c| format!("{c:?}"));
        assert_eq!(
            got,
            vec![
                Choke::Choke(peers[2].addr),
                Choke::Unchoke(peers[1].addr),
                Choke::Unchoke(peers[4].addr),
            ]
        );
    }

    #[test]
    fn the_optimistic_peer_is_unchoked_on_top() {
        let peers = [peer(1, true, true, 10.0), peer(2, true, true, 0.0)];
        let got = rechoke(&peers, 1, Some(peers[1].addr));
        assert_eq!(
            got,
            vec![Choke::Unchoke(peers[0].addr), Choke::Unchoke(peers[1].addr)]
        );
        assert_eq!(
            rechoke(&peers, 1, None),
            vec![Choke::Unchoke(peers[0].addr)]
        );
    }

    #[test]
    fn nothing_changes_when_the_state_is_right_and_setup_is_left_alone() {
        let mut setting_up = peer(3, true, true, 100.0);
        setting_up.connected = false;
        let peers = [
            peer(1, true, false, 10.0),
            peer(2, false, true, 0.0),
            setting_up,
        ];
        assert!(rechoke(&peers, 4, None).is_empty());
        assert_eq!(optimistic_candidates(&peers), Vec::<SocketAddr>::new());
        assert_eq!(
            optimistic_candidates(&[peer(4, true, true, 0.0), peer(5, true, false, 0.0)]),
            vec![peer(4, true, true, 0.0).addr]
        );
    }

    #[test]
    fn a_held_seed_unchokes_nobody_new_and_cuts_no_upload() {
        let peers = [
            // Being served, still wants data: keeps its unchoke.
            peer(1, true, false, 100.0),
            // Waiting: stays choked, however fast it could go.
            peer(2, true, true, 500.0),
            // Unchoked but done (not interested any more): choked.
            peer(3, false, false, 0.0),
        ];
        assert_eq!(keep_serving(&peers), vec![Choke::Choke(peers[2].addr)]);
        assert!(keep_serving(&peers[..2]).is_empty());
    }

    #[test]
    fn an_early_unchoke_needs_a_free_slot() {
        let busy: Vec<Candidate> = (0..5).map(|n| peer(n, true, false, 1.0)).collect();
        assert!(!unchoke_now(&busy, 4));
        assert!(unchoke_now(&busy[..4], 4));
    }
}
