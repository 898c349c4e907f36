//! Piece-grid statistics: the pieces spread over the cells of the map, and what each cell
//! holds. Computed once per snapshot by the app and read by the piece-map widget.

use std::ops::Range;

use crate::engine::api::{PieceState, Snapshot};

/// Counts for one cell of the map.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CellStats {
    pub total: u32,
    pub verified: u32,
    pub in_flight: u32,
    pub failed: u32,
    /// Fewest connected peers holding any piece in the cell (the bottleneck).
    pub min_avail: u16,
    pub max_avail: u16,
    /// Fewest connected peers holding a piece of the cell we do not have yet (`u16::MAX` when
    /// we have them all): what the availability view shows.
    pub min_avail_needed: u16,
}

/// Pieces in cell `cell` of `cells` when `n` pieces are spread evenly (sizes differ by ≤ 1).
pub(crate) fn cell_range(cell: usize, cells: usize, n: usize) -> Range<usize> {
    if cells == 0 {
        return 0..0;
    }
    let start = (cell as u128 * n as u128 / cells as u128) as usize;
    let end = ((cell as u128 + 1) * n as u128 / cells as u128) as usize;
    start..end
}

pub(crate) fn cell_stats(snap: &Snapshot, range: Range<usize>) -> CellStats {
    // One branch-light pass; this is the hot loop of `on_snapshot` (100k pieces), and of a
    // frame when nothing is cached. A missing availability entry counts as 0 peers.
    let mut counts = [0u32; 4];
    let pieces = snap.pieces.get(range.clone()).unwrap_or(&[]);
    let avail = snap.availability.get(range).unwrap_or(&[]);
    let (mut min, mut max, mut min_needed) = (u16::MAX, 0u16, u16::MAX);
    for (i, &p) in pieces.iter().enumerate() {
        let k = match p {
            PieceState::Missing => 0,
            PieceState::InFlight => 1,
            PieceState::Verified => 2,
            PieceState::Failed => 3,
        };
        counts[k] += 1;
        let a = avail.get(i).copied().unwrap_or(0);
        min = min.min(a);
        max = max.max(a);
        min_needed = min_needed.min(if k == 2 { u16::MAX } else { a });
    }
    CellStats {
        total: pieces.len() as u32,
        in_flight: counts[1],
        verified: counts[2],
        failed: counts[3],
        min_avail: if pieces.is_empty() { 0 } else { min },
        max_avail: max,
        min_avail_needed: min_needed,
    }
}

/// Stats for every cell of a grid of `cells` cells: one pass over the pieces.
pub(crate) fn grid_stats(snap: &Snapshot, cells: usize, out: &mut Vec<CellStats>) {
    out.clear();
    let n = snap.pieces.len();
    out.extend((0..cells).map(|c| cell_stats(snap, cell_range(c, cells, n))));
}

/// How many cells a grid with room for `capacity` cells uses for `n` pieces.
pub(crate) fn grid_cells(capacity: usize, n: usize) -> usize {
    capacity.min(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_cover_every_piece_once() {
        for (cells, n) in [(7, 100), (100, 100), (3, 3), (64, 100_003)] {
            let mut next = 0;
            for c in 0..cells {
                let r = cell_range(c, cells, n);
                assert_eq!(r.start, next);
                assert!(r.len() >= n / cells && r.len() <= n.div_ceil(cells));
                next = r.end;
            }
            assert_eq!(next, n);
        }
    }
}
