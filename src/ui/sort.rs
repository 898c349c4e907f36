//! The peer table's order: sort keys and the total order they make.

use std::cmp::Ordering;

use crate::engine::api::{PeerRow, PeerStage};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortKey {
    /// Download rate, fastest first (then upload rate).
    #[default]
    Rate,
    /// Peer's share of the torrent, most first.
    Progress,
    Client,
    Address,
    /// Connected first, failed last.
    State,
}

impl SortKey {
    pub fn next(self) -> Self {
        match self {
            SortKey::Rate => SortKey::Progress,
            SortKey::Progress => SortKey::Client,
            SortKey::Client => SortKey::Address,
            SortKey::Address => SortKey::State,
            SortKey::State => SortKey::Rate,
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            SortKey::Rate => "rate",
            SortKey::Progress => "progress",
            SortKey::Client => "client",
            SortKey::Address => "address",
            SortKey::State => "state",
        }
    }
}

/// Connected peers first, the dead last: the order a person scans in.
fn stage_rank(stage: PeerStage) -> u8 {
    match stage {
        PeerStage::Connected => 0,
        PeerStage::Handshaking => 1,
        PeerStage::Connecting => 2,
        PeerStage::Queued => 3,
        PeerStage::Disconnected => 4,
        PeerStage::Failed => 5,
    }
}

fn desc(a: f64, b: f64) -> Ordering {
    b.total_cmp(&a)
}

/// Fills `out` with indices of `peers` in display order. Ties fall back to state then address,
/// so the order is total and rows do not jump between equal peers.
pub(crate) fn sort_peers(peers: &[PeerRow], key: SortKey, out: &mut Vec<usize>) {
    out.clear();
    out.extend(0..peers.len());
    let by_state = |a: &PeerRow, b: &PeerRow| stage_rank(a.stage).cmp(&stage_rank(b.stage));
    out.sort_unstable_by(|&i, &j| {
        let (a, b) = (&peers[i], &peers[j]);
        let primary = match key {
            SortKey::Rate => desc(a.down_rate, b.down_rate).then(desc(a.up_rate, b.up_rate)),
            SortKey::Progress => desc(a.progress as f64, b.progress as f64),
            SortKey::Client => match (&a.client, &b.client) {
                (Some(x), Some(y)) => x
                    .chars()
                    .flat_map(char::to_lowercase)
                    .cmp(y.chars().flat_map(char::to_lowercase)),
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (None, None) => Ordering::Equal,
            },
            SortKey::Address => a.addr.cmp(&b.addr),
            SortKey::State => by_state(a, b).then(desc(a.down_rate, b.down_rate)),
        };
        primary.then(by_state(a, b)).then(a.addr.cmp(&b.addr))
    });
}
