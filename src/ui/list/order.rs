//! Which torrents the list shows and in what order: the state filter, the name search and
//! the sort column, as one pure function over the session's lines.

use std::cmp::Ordering;
use std::sync::Arc;

use crate::engine::api::TorrentLine;

use super::words::{state_rank, Filter};

/// The list's columns; each one is also a sort key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Column {
    Name,
    /// Shown only while a torrent on screen has a label.
    Labels,
    State,
    Progress,
    Size,
    Down,
    Up,
    Eta,
    Ratio,
    Peers,
    Added,
}

impl Column {
    /// Screen order, which is also the order `s` cycles the sort through.
    pub const ALL: [Column; 11] = [
        Column::Name,
        Column::Labels,
        Column::State,
        Column::Progress,
        Column::Size,
        Column::Down,
        Column::Up,
        Column::Eta,
        Column::Ratio,
        Column::Peers,
        Column::Added,
    ];

    pub fn next(self) -> Self {
        let i = Self::ALL.iter().position(|c| *c == self).unwrap_or(0);
        Self::ALL[(i + 1) % Self::ALL.len()]
    }

    pub fn title(self) -> &'static str {
        match self {
            Column::Name => "Name",
            Column::Labels => "Labels",
            Column::State => "State",
            Column::Progress => "Progress",
            Column::Size => "Size",
            Column::Down => "Down",
            Column::Up => "Up",
            Column::Eta => "ETA",
            Column::Ratio => "Ratio",
            Column::Peers => "Peers",
            Column::Added => "Added",
        }
    }

    /// The order a first press sorts in: names A to Z, oldest first, soonest done first,
    /// and the most of everything else first.
    pub fn ascending_first(self) -> bool {
        matches!(
            self,
            Column::Name | Column::Labels | Column::State | Column::Eta | Column::Added
        )
    }
}

/// A sort column and direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sort {
    pub column: Column,
    pub ascending: bool,
}

impl Default for Sort {
    /// The order torrents were added in, as the session lists them.
    fn default() -> Self {
        Sort {
            column: Column::Added,
            ascending: true,
        }
    }
}

impl Sort {
    /// The next column, in its natural direction.
    pub fn next(self) -> Sort {
        let column = self.column.next();
        Sort {
            column,
            ascending: column.ascending_first(),
        }
    }
    pub fn reversed(self) -> Sort {
        Sort {
            ascending: !self.ascending,
            ..self
        }
    }
}

/// Case-insensitive substring match without allocating when the needle is ASCII (the common
/// case, and the one that runs over 10,000 names per snapshot).
pub fn name_matches(name: &str, needle: &str) -> bool {
    if needle.is_empty() {
        return true;
    }
    if needle.is_ascii() {
        let (h, n) = (name.as_bytes(), needle.as_bytes());
        return h.len() >= n.len() && h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n));
    }
    name.to_lowercase().contains(&needle.to_lowercase())
}

/// Case-insensitive; bytes when both names are ASCII (most are, and sorting 10,000 names
/// char by char through `to_lowercase` costs several milliseconds).
fn by_name(a: &str, b: &str) -> Ordering {
    if a.is_ascii() && b.is_ascii() {
        a.bytes()
            .map(|c| c.to_ascii_lowercase())
            .cmp(b.bytes().map(|c| c.to_ascii_lowercase()))
    } else {
        a.chars()
            .flat_map(char::to_lowercase)
            .cmp(b.chars().flat_map(char::to_lowercase))
    }
}

fn cmp_f64(a: f64, b: f64) -> Ordering {
    a.total_cmp(&b)
}

/// Primary order of two lines by `column`, ascending. ETA: unknown (not moving) after every
/// known one.
pub(super) fn by(column: Column, a: &TorrentLine, b: &TorrentLine) -> Ordering {
    match column {
        Column::Name => by_name(&a.name, &b.name),
        // Unlabelled last, then by the first label, and so on.
        Column::Labels => match (a.labels.is_empty(), b.labels.is_empty()) {
            (false, true) => Ordering::Less,
            (true, false) => Ordering::Greater,
            _ => a.labels.cmp(&b.labels),
        },
        Column::State => state_rank(a).cmp(&state_rank(b)),
        Column::Progress => cmp_f64(a.progress(), b.progress()),
        Column::Size => a.wanted_bytes.cmp(&b.wanted_bytes),
        Column::Down => cmp_f64(a.down_rate, b.down_rate),
        Column::Up => cmp_f64(a.up_rate, b.up_rate),
        Column::Eta => match (a.eta(), b.eta()) {
            (Some(x), Some(y)) => x.cmp(&y),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        },
        Column::Ratio => cmp_f64(a.ratio(), b.ratio()),
        Column::Peers => a.peers.cmp(&b.peers).then(a.seeds.cmp(&b.seeds)),
        Column::Added => a.added.cmp(&b.added),
    }
}

/// Fills `out` with the indices of the lines that pass `filter`, carry `label` (when one is
/// chosen) and match `search`, in `sort` order. Ties fall back to the id, so the order is
/// total and equal rows never swap.
pub fn order(
    lines: &[Arc<TorrentLine>],
    (filter, label): (Filter, Option<&str>),
    search: &str,
    sort: Sort,
    out: &mut Vec<usize>,
) {
    out.clear();
    out.extend(
        lines
            .iter()
            .enumerate()
            .filter(|(_, t)| {
                filter.admits(t) && has_label(t, label) && name_matches(&t.name, search)
            })
            .map(|(i, _)| i),
    );
    out.sort_unstable_by(compare(lines, sort));
}

/// The list's order of two indices into `lines`: by `sort`, ties by id (a total order).
pub(super) fn compare(
    lines: &[Arc<TorrentLine>],
    sort: Sort,
) -> impl Fn(&usize, &usize) -> Ordering + '_ {
    move |&i, &j| {
        let (a, b) = (&lines[i], &lines[j]);
        let primary = by(sort.column, a, b);
        let primary = if sort.ascending {
            primary
        } else {
            primary.reverse()
        };
        primary.then(a.id.cmp(&b.id))
    }
}

/// Whether `t` carries `label`; every torrent does when no label is chosen.
pub fn has_label(t: &TorrentLine, label: Option<&str>) -> bool {
    label.is_none_or(|l| t.labels.iter().any(|x| x == l))
}

/// The label after `now` among those the torrents carry, in name order; None (every torrent)
/// after the last, and when none carries any.
pub fn next_label(lines: &[Arc<TorrentLine>], now: Option<&str>) -> Option<String> {
    let all: std::collections::BTreeSet<&str> = lines
        .iter()
        .flat_map(|t| t.labels.iter().map(String::as_str))
        .collect();
    match now {
        None => all.first(),
        Some(now) => all
            .range::<&str, _>((std::ops::Bound::Excluded(now), std::ops::Bound::Unbounded))
            .next(),
    }
    .map(|l| (*l).to_string())
}

/// How many of the lines carrying `label` each filter admits (for the filter bar), in
/// [`Filter::ALL`] order.
pub fn counts(lines: &[Arc<TorrentLine>], label: Option<&str>) -> [usize; 6] {
    let mut n = [0; 6];
    for t in lines.iter().filter(|t| has_label(t, label)) {
        for (i, f) in Filter::ALL.iter().enumerate() {
            n[i] += usize::from(f.admits(t));
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::api::TorrentState;
    use crate::ui::list::test_line as line;

    fn lines() -> Vec<Arc<TorrentLine>> {
        let mut v = vec![
            line(1, "Debian", TorrentState::Downloading),
            line(2, "arch", TorrentState::Seeding),
            line(3, "Ubuntu", TorrentState::Paused),
            line(4, "fedora", TorrentState::Error("disk full".into())),
            line(5, "Mint", TorrentState::Paused),
        ];
        v[0].down_rate = 500.0;
        v[0].verified_bytes = 10;
        v[1].up_rate = 900.0;
        v[2].down_rate = 500.0;
        v[4].queue = Some(crate::engine::api::QueueState::Waiting {
            seed: false,
            rank: 1,
            slots: 1,
        });
        v[4].why = v[4].queue.map(|q| q.why());
        for (i, t) in v.iter_mut().enumerate() {
            t.added = 1000 - i as u64;
        }
        v.into_iter().map(Arc::new).collect()
    }

    fn ids(v: &[Arc<TorrentLine>], order: &[usize]) -> Vec<u32> {
        order.iter().map(|&i| v[i].id.0).collect()
    }

    #[test]
    fn sorts_by_any_column_with_ties_by_id() {
        let v = lines();
        let mut out = vec![];
        let sort = |column, ascending| Sort { column, ascending };
        order(
            &v,
            (Filter::All, None),
            "",
            sort(Column::Name, true),
            &mut out,
        );
        assert_eq!(ids(&v, &out), [2, 1, 4, 5, 3], "case does not matter");
        order(
            &v,
            (Filter::All, None),
            "",
            sort(Column::Name, false),
            &mut out,
        );
        assert_eq!(ids(&v, &out), [3, 5, 4, 1, 2]);
        order(
            &v,
            (Filter::All, None),
            "",
            sort(Column::Down, false),
            &mut out,
        );
        assert_eq!(ids(&v, &out), [1, 3, 2, 4, 5], "equal rates: by id");
        order(&v, (Filter::All, None), "", Sort::default(), &mut out);
        assert_eq!(ids(&v, &out), [5, 4, 3, 2, 1], "oldest first");
        order(
            &v,
            (Filter::All, None),
            "",
            sort(Column::State, true),
            &mut out,
        );
        assert_eq!(
            ids(&v, &out),
            [4, 1, 2, 5, 3],
            "errors first, then the active"
        );
        order(
            &v,
            (Filter::All, None),
            "",
            sort(Column::Eta, true),
            &mut out,
        );
        assert_eq!(
            ids(&v, &out)[..2],
            [2, 1],
            "done, then moving, then unknown"
        );
    }

    #[test]
    fn every_column_sorts_and_the_cycle_comes_back() {
        let v = lines();
        let mut s = Sort::default();
        let mut out = vec![];
        for _ in 0..Column::ALL.len() {
            s = s.next();
            order(&v, (Filter::All, None), "", s, &mut out);
            assert_eq!(out.len(), v.len());
            let mut back = vec![];
            order(&v, (Filter::All, None), "", s.reversed(), &mut back);
            assert_eq!(back.len(), v.len());
        }
        assert_eq!(s.column, Column::Added);
        assert_eq!(Sort::default().reversed().reversed(), Sort::default());
    }

    #[test]
    fn filter_and_search_combine() {
        let v = lines();
        let mut out = vec![];
        order(&v, (Filter::Paused, None), "", Sort::default(), &mut out);
        assert_eq!(ids(&v, &out), [3], "the queued one is not plain paused");
        order(&v, (Filter::Queued, None), "", Sort::default(), &mut out);
        assert_eq!(ids(&v, &out), [5]);
        order(&v, (Filter::All, None), "U", Sort::default(), &mut out);
        assert_eq!(ids(&v, &out), [3]);
        order(&v, (Filter::All, None), "n", Sort::default(), &mut out);
        assert_eq!(ids(&v, &out), [5, 3, 1], "Mint, Ubuntu, Debian");
        order(&v, (Filter::Seeding, None), "n", Sort::default(), &mut out);
        assert!(out.is_empty());
        assert_eq!(counts(&v, None), [5, 1, 1, 1, 1, 1]);
        assert!(!name_matches("ab", "abc"));
    }

    #[test]
    fn the_label_filter_cycles_through_the_labels_in_use() {
        let mut v = lines();
        Arc::make_mut(&mut v[0]).labels = vec!["tv".into(), "hd".into()];
        Arc::make_mut(&mut v[2]).labels = vec!["tv".into()];
        Arc::make_mut(&mut v[3]).labels = vec!["films".into()];
        let mut out = vec![];
        order(&v, (Filter::All, Some("tv")), "", Sort::default(), &mut out);
        assert_eq!(ids(&v, &out), [3, 1]);
        order(
            &v,
            (Filter::Paused, Some("tv")),
            "",
            Sort::default(),
            &mut out,
        );
        assert_eq!(ids(&v, &out), [3]);
        order(
            &v,
            (Filter::All, Some("none")),
            "",
            Sort::default(),
            &mut out,
        );
        assert!(out.is_empty());
        assert_eq!(counts(&v, Some("tv"))[0], 2);
        let mut seen = vec![];
        let mut now = next_label(&v, None);
        while let Some(l) = now {
            now = next_label(&v, Some(&l));
            seen.push(l);
            assert!(seen.len() < 10, "{seen:?}");
        }
        assert_eq!(seen, ["films", "hd", "tv"]);
        assert_eq!(next_label(&v, Some("gone")).as_deref(), Some("hd"));
        assert_eq!(next_label(&lines(), None), None);
        assert!(name_matches("Ünïcode Ärger", "ärg"));
        assert!(!name_matches("ab", "abc"));
    }
}
