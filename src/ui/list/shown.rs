//! The rows the list shows, kept from one snapshot and one key to the next, so that a library
//! of 100,000 torrents is not filtered and sorted again for every snapshot (one each 0.5 s
//! while anything in it moves) nor for every character typed into the search
//! (tests/bench/tui_scale.sh). [`Shown`] answers exactly what [`order`] and [`counts`] answer
//! for the same lines and query (its tests hold it to that), more cheaply:
//! - a snapshot of the same torrents (more may have come at the end) is compared line by line
//!   with the one before it, a line the session shares unchanged not even read; only the lines
//!   whose place could change (their sort key, state, queue, labels or name) are taken out and
//!   merged back in order, and the filter counts move by those lines alone;
//! - a search that grows (the new text holds the old) narrows the rows shown and looks at no
//!   others; any other search picks from the filter's rows, already sorted, without sorting;
//! - a new filter or label orders everything once, and a new sort the filter's rows, on each
//!   line's key taken once (a number, or the head of its folded name) rather than at each of
//!   the n log n comparisons;
//! - names (folded to lower case) and ids are kept in one buffer each ([`names`]), so that a
//!   search, a sort by name or finding the selected torrent reads memory in order.
//!
//! [`order`]: super::order::order

use std::cmp::Ordering;
use std::sync::Arc;

use crate::engine::api::{TorrentId, TorrentLine};

use super::order::{by, compare, counts, has_label, name_matches, Column, Sort};
use super::words::{state_rank, Filter};
use names::{Names, Needle};

mod names;

/// What the list is asked to show: the state filter, the label, the sort and the search.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Query {
    pub filter: Filter,
    pub label: Option<String>,
    pub sort: Sort,
    pub search: String,
}

/// The list's rows for one [`Query`] over the lines of the snapshot last folded in.
#[derive(Debug, Default)]
pub struct Shown {
    /// The query the rows answer; None until the first.
    query: Option<Query>,
    /// Indices of the lines the filter and label admit, in sort order.
    base: Vec<usize>,
    /// Of `base`, those whose names match the search, in the same order: the rows shown.
    rows: Vec<usize>,
    counts: [usize; 6],
    /// The lines' ids and folded names, in one place each.
    names: Names,
    /// How many lines the last change looked at (its tests: a grown search looks at the rows
    /// shown, a snapshot where nothing moved at no row).
    looked: usize,
}

impl Shown {
    /// Indices into the lines, in the order shown.
    pub fn rows(&self) -> &[usize] {
        &self.rows
    }

    /// How many torrents carrying the label each filter admits, in [`Filter::ALL`] order.
    pub fn counts(&self) -> [usize; 6] {
        self.counts
    }

    /// The index of `id`'s line among those last folded in.
    pub fn index_of(&self, id: TorrentId) -> Option<usize> {
        self.names.index_of(id)
    }

    /// The id of line `i` of those last folded in.
    pub fn id(&self, i: usize) -> Option<TorrentId> {
        self.names.id(i)
    }

    /// The ids of the lines last folded in, in their order.
    pub fn ids(&self) -> &[TorrentId] {
        self.names.ids()
    }

    #[cfg(test)]
    pub(super) fn looked(&self) -> usize {
        self.looked
    }

    /// The same lines (those last folded in), asked `query`: cheaply when only the search or
    /// the sort changed.
    pub fn ask(&mut self, lines: &[Arc<TorrentLine>], query: &Query) {
        if self.names.len() != lines.len() {
            self.names = Names::of(lines);
        }
        let Some(now) = &self.query else {
            return self.rebuild(lines, query);
        };
        if now == query {
            return;
        }
        if (now.filter, &now.label) != (query.filter, &query.label) {
            return self.rebuild(lines, query);
        }
        if now.sort != query.sort {
            // The same rows in another order: the counts and the filter stand.
            sort_rows(lines, &self.names, &mut self.base, query.sort);
            self.rows = matching(lines, &self.names, &self.base, &query.search);
            self.looked = self.base.len();
        } else if grows(&now.search, &query.search) {
            self.looked = self.rows.len();
            let needle = Needle::new(&query.search);
            let names = &self.names;
            self.rows.retain(|&i| names.matches(lines, i, &needle));
        } else {
            self.looked = self.base.len();
            self.rows = matching(lines, &self.names, &self.base, &query.search);
        }
        self.query = Some(query.clone());
    }

    /// A new snapshot: `old` the lines the rows were made of, `new` the lines now.
    pub fn on_lines(&mut self, old: &[Arc<TorrentLine>], new: &[Arc<TorrentLine>], query: &Query) {
        if self.query.as_ref() != Some(query)
            || new.len() < old.len()
            || self.names.len() != old.len()
        {
            self.names = Names::of(new);
            return self.rebuild(new, query);
        }
        let mut moved = Vec::new();
        let mut renamed = Vec::new();
        for (i, (a, b)) in old.iter().zip(new).enumerate() {
            // The session shares a line it did not change: the same torrent, nothing to
            // compare, and no need to read either (at 100,000 lines, reading each one is
            // most of the cost of a snapshot).
            if Arc::ptr_eq(a, b) {
                continue;
            }
            if self.names.id(i) != Some(b.id) {
                // Removed or reordered by the session: the indices mean other torrents now.
                self.names = Names::of(new);
                return self.rebuild(new, query);
            }
            if moves(a, b, query.sort.column) {
                moved.push(i);
                if a.name != b.name {
                    renamed.push(i);
                }
            }
        }
        for &i in &renamed {
            if !self.names.rename(i, &new[i].name) {
                self.names = Names::of(&new[..old.len()]);
                break;
            }
        }
        for t in &new[old.len()..] {
            self.names.push(t);
        }
        moved.extend(old.len()..new.len());
        self.looked = moved.len();
        if moved.is_empty() {
            return;
        }
        let label = query.label.as_deref();
        for &i in &moved {
            if let Some(a) = old.get(i) {
                count(&mut self.counts, a, label, false);
            }
            count(&mut self.counts, &new[i], label, true);
        }
        let mut out = vec![false; new.len()];
        for &i in &moved {
            out[i] = true;
        }
        let cmp = compare(new, query.sort);
        let mut back: Vec<usize> = moved
            .into_iter()
            .filter(|&i| query.filter.admits(&new[i]) && has_label(&new[i], label))
            .collect();
        back.sort_unstable_by(&cmp);
        self.base = merge(&self.base, &out, &back, &cmp);
        let needle = Needle::new(&query.search);
        back.retain(|&i| self.names.matches(new, i, &needle));
        self.rows = merge(&self.rows, &out, &back, &cmp);
    }

    /// Everything again but the names, from the lines alone.
    fn rebuild(&mut self, lines: &[Arc<TorrentLine>], query: &Query) {
        let label = query.label.as_deref();
        self.counts = counts(lines, label);
        self.base = (0..lines.len())
            .filter(|&i| query.filter.admits(&lines[i]) && has_label(&lines[i], label))
            .collect();
        sort_rows(lines, &self.names, &mut self.base, query.sort);
        self.rows = matching(lines, &self.names, &self.base, &query.search);
        self.looked = lines.len();
        self.query = Some(query.clone());
    }
}

/// Whether a line's place among the rows, its filter or its match may differ between two
/// snapshots of the same torrent: anything the order, the filters, the label or the search
/// read. Everything else (another column's figure) leaves its row where it was.
fn moves(a: &TorrentLine, b: &TorrentLine, column: Column) -> bool {
    by(column, a, b) != Ordering::Equal
        || a.state != b.state
        || a.queue != b.queue
        || a.labels != b.labels
        || a.name != b.name
}

/// Adds (or takes away) `t`'s part in the filter counts.
fn count(counts: &mut [usize; 6], t: &TorrentLine, label: Option<&str>, add: bool) {
    if !has_label(t, label) {
        return;
    }
    for (n, f) in counts.iter_mut().zip(Filter::ALL) {
        if f.admits(t) {
            *n = if add { *n + 1 } else { n.saturating_sub(1) };
        }
    }
}

/// Whether every name that matches `new` matches `old` too, so the rows of `new` are among
/// those of `old`. ASCII only: lower-casing other text can depend on what is around a letter
/// (a Greek final sigma), so a grown needle there is matched afresh.
fn grows(old: &str, new: &str) -> bool {
    old.is_ascii() && new.is_ascii() && name_matches(new, old)
}

/// The indices of `from` whose names match `search`, in the same order.
fn matching(lines: &[Arc<TorrentLine>], names: &Names, from: &[usize], search: &str) -> Vec<usize> {
    if search.is_empty() {
        return from.to_vec();
    }
    let needle = Needle::new(search);
    from.iter()
        .copied()
        .filter(|&i| names.matches(lines, i, &needle))
        .collect()
}

/// `kept` without the indices `out` marks, with `back` (sorted by `cmp`) merged in by `cmp`.
/// Each of `back` finds its place by bisection: a snapshot moves a few rows among 100,000,
/// and walking them all through `cmp` would read every row's line.
fn merge(
    kept: &[usize],
    out: &[bool],
    back: &[usize],
    cmp: impl Fn(&usize, &usize) -> Ordering,
) -> Vec<usize> {
    let kept: Vec<usize> = kept
        .iter()
        .copied()
        .filter(|&i| !out.get(i).copied().unwrap_or(true))
        .collect();
    let mut merged = Vec::with_capacity(kept.len() + back.len());
    let mut from = 0;
    for &j in back {
        // `back` is sorted, so each place is at or after the one before.
        let at = from + kept[from..].partition_point(|i| cmp(i, &j) == Ordering::Less);
        merged.extend_from_slice(&kept[from..at]);
        merged.push(j);
        from = at;
    }
    merged.extend_from_slice(&kept[from..]);
    merged
}

/// Sorts `rows` (indices into `lines`) in [`compare`]'s order, each line's key taken once
/// rather than at each of the n log n comparisons (through `compare`, 100,000 rows took a
/// third of a second on the dev build, each comparison reading two lines): a number for the
/// columns of figures; for Name the first bytes of the folded names as a number, the whole
/// folds (from `names`, in one buffer) only where those are equal; for Labels whether a
/// torrent has any, the labels themselves read only where both have.
fn sort_rows(lines: &[Arc<TorrentLine>], names: &Names, rows: &mut Vec<usize>, sort: Sort) {
    let direct = |o: Ordering| if sort.ascending { o } else { o.reverse() };
    match sort.column {
        Column::Labels => {
            let mut keyed: Vec<(bool, TorrentId, usize)> = rows
                .iter()
                .map(|&i| (lines[i].labels.is_empty(), lines[i].id, i))
                .collect();
            keyed.sort_unstable_by(|(a, x, i), (b, y, j)| {
                let primary = match (a, b) {
                    (false, false) => lines[*i].labels.cmp(&lines[*j].labels),
                    // Unlabelled last.
                    _ => a.cmp(b),
                };
                direct(primary).then(x.cmp(y))
            });
            rows.clear();
            rows.extend(keyed.into_iter().map(|(_, _, i)| i));
        }
        Column::Name => {
            let mut keyed: Vec<(u128, TorrentId, usize)> = rows
                .iter()
                .map(|&i| (names.head(i), names.id(i).unwrap_or(lines[i].id), i))
                .collect();
            keyed.sort_unstable_by(|(a, x, i), (b, y, j)| {
                let primary = a.cmp(b).then_with(|| names.by_name(*i, *j));
                direct(primary).then(x.cmp(y))
            });
            rows.clear();
            rows.extend(keyed.into_iter().map(|(_, _, i)| i));
        }
        column => {
            // Descending: the key's bits flipped, so ties still fall to the id, ascending.
            let mut keyed: Vec<(u128, TorrentId, usize)> = rows
                .iter()
                .map(|&i| {
                    let k = figure(column, &lines[i]);
                    (if sort.ascending { k } else { !k }, lines[i].id, i)
                })
                .collect();
            keyed.sort_unstable();
            rows.clear();
            rows.extend(keyed.into_iter().map(|(_, _, i)| i));
        }
    }
}

/// A column of figures as one number that orders as [`by`] orders the lines by it (0 for
/// Name and Labels, which compare text).
fn figure(column: Column, t: &TorrentLine) -> u128 {
    let float = |x: f64| u128::from(total_order(x));
    match column {
        Column::Name | Column::Labels => 0,
        Column::State => u128::from(state_rank(t)),
        Column::Progress => float(t.progress()),
        Column::Size => u128::from(t.wanted_bytes),
        Column::Down => float(t.down_rate),
        Column::Up => float(t.up_rate),
        // Unknown after every known time.
        Column::Eta => t.eta().map_or(u128::MAX, |d| d.as_nanos()),
        Column::Ratio => float(t.ratio()),
        Column::Peers => (u128::from(t.peers) << 32) | u128::from(t.seeds),
        Column::Added => u128::from(t.added),
    }
}

/// `x`'s bits with the sign flipped (and the rest too when negative), so that their order as
/// integers is `f64::total_cmp`'s.
fn total_order(x: f64) -> u64 {
    let bits = x.to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | 1 << 63
    }
}

#[cfg(test)]
mod tests;
