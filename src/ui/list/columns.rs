//! Which columns fit a width, and how wide each is: a pure function of the width and of how
//! long the visible state texts are, so the list, its tests and the mouse agree on where each
//! column is.

use super::order::Column;

/// The selection and mark at the start of each row ("▸● "), gap included.
pub const MARK_W: u16 = 3;
/// Cells between two columns.
pub const GAP: u16 = 1;
/// The state column is never narrower than "downloading" plus a cell, nor wider than this.
const STATE_MIN: u16 = 12;
const STATE_MAX: u16 = 40;
const NAME_MIN: u16 = 16;
/// Width the name reaches before the optional wide forms get room.
const NAME_COMFORT: u16 = 26;
/// First state column growth, before the name grows: the reason is what the list is for.
const STATE_FIRST: u16 = 24;
/// The labels column: "Labels" and its sort arrow at least; it grows to fit the longest
/// labels on screen up to the most.
const LABELS_MIN: u16 = 7;
const LABELS_MAX: u16 = 24;

/// The least width of each column (Name and State grow past it).
fn min_width(c: Column) -> u16 {
    match c {
        Column::Name => NAME_MIN,
        Column::Labels => LABELS_MIN,
        Column::State => STATE_MIN,
        // "████ 100%".
        Column::Progress => 9,
        Column::Size => 6,
        Column::Down | Column::Up => 6,
        Column::Eta => 7,
        // "12.34", and the title with its sort arrow.
        Column::Ratio => 6,
        Column::Peers => 7,
        Column::Added => 10,
    }
}

/// The first column dropped when the width runs short comes first.
const DROP_ORDER: [Column; 8] = [
    Column::Added,
    Column::Labels,
    Column::Peers,
    Column::Ratio,
    Column::Size,
    Column::Eta,
    Column::Up,
    Column::Down,
];

/// The columns shown at one width and the forms they take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fit {
    /// In screen order, with their widths.
    pub cols: Vec<(Column, u16)>,
    /// Rates as "999.9 KiB" rather than "999.9K".
    pub rates_wide: bool,
    /// Size as "1.2G of 4.0G" when part is wanted, rather than the wanted bytes alone.
    pub size_wide: bool,
    /// Added with the time of day.
    pub added_time: bool,
}

impl Fit {
    pub fn width_of(&self, column: Column) -> Option<u16> {
        self.cols
            .iter()
            .find(|(c, _)| *c == column)
            .map(|(_, w)| *w)
    }
    pub fn has(&self, column: Column) -> bool {
        self.width_of(column).is_some()
    }
    /// The column under screen column `x` of a row starting at `left`.
    pub fn column_at(&self, left: u16, x: u16) -> Option<Column> {
        let mut at = left + MARK_W;
        for &(c, w) in &self.cols {
            if x >= at && x < at + w {
                return Some(c);
            }
            at += w + GAP;
        }
        None
    }
}

fn total(cols: &[(Column, u16)]) -> u16 {
    let gaps = (cols.len() as u16).saturating_sub(1) * GAP;
    MARK_W + cols.iter().map(|(_, w)| *w).sum::<u16>() + gaps
}

fn grow(cols: &mut [(Column, u16)], column: Column, by: u16) {
    if let Some((_, w)) = cols.iter_mut().find(|(c, _)| *c == column) {
        *w += by;
    }
}

/// Fits the columns into `width` cells. `state_need` is the longest state text on screen.
/// Columns drop in [`DROP_ORDER`] until the rest fit at their least widths; the room left
/// goes to the state (up to [`STATE_FIRST`]), then the name (up to [`NAME_COMFORT`]), then the
/// rest of the state text, then the wide forms, and what is still left to the name.
pub fn fit(width: u16, state_need: usize) -> Fit {
    fit_labels(width, state_need, 0)
}

/// [`fit`] with a labels column when `labels_need` (the longest labels text on screen) is
/// not 0: it takes its least width like the others, and grows to `labels_need` after the
/// state's first growth and before the name's.
pub fn fit_labels(width: u16, state_need: usize, labels_need: usize) -> Fit {
    let mut cols: Vec<(Column, u16)> = Column::ALL
        .iter()
        .filter(|&&c| c != Column::Labels || labels_need > 0)
        .map(|&c| (c, min_width(c)))
        .collect();
    let mut drop = DROP_ORDER.iter();
    while total(&cols) > width {
        match drop.next() {
            Some(d) => cols.retain(|(c, _)| c != d),
            None => break,
        }
    }
    // Narrower than the least of what is left: the name gives way first, then the state.
    for column in [Column::Name, Column::State, Column::Progress] {
        let over = total(&cols).saturating_sub(width);
        if let Some((_, w)) = cols.iter_mut().find(|(c, _)| *c == column) {
            *w -= over.min(*w);
        }
    }
    let mut fit = Fit {
        rates_wide: false,
        size_wide: false,
        added_time: false,
        cols: Vec::new(),
    };
    let mut extra = width.saturating_sub(total(&cols));
    let state_need = (state_need.min(usize::from(STATE_MAX)) as u16).max(STATE_MIN);
    let mut take = |cols: &mut Vec<(Column, u16)>, column: Column, want: u16| {
        let by = want.min(extra);
        grow(cols, column, by);
        extra -= by;
    };
    take(
        &mut cols,
        Column::State,
        state_need.min(STATE_FIRST) - STATE_MIN,
    );
    let labels_need = (labels_need.min(usize::from(LABELS_MAX)) as u16).max(LABELS_MIN);
    if cols.iter().any(|(c, _)| *c == Column::Labels) {
        take(&mut cols, Column::Labels, labels_need - LABELS_MIN);
    }
    take(&mut cols, Column::Name, NAME_COMFORT - NAME_MIN);
    take(
        &mut cols,
        Column::State,
        state_need.saturating_sub(STATE_FIRST),
    );
    // Each wide form only when all of it fits; both rates take it or neither does.
    let present = |cols: &Vec<(Column, u16)>, c: Column| cols.iter().any(|(x, _)| *x == c);
    let rates: Vec<Column> = [Column::Down, Column::Up]
        .into_iter()
        .filter(|c| present(&cols, *c))
        .collect();
    let cost = 3 * rates.len() as u16;
    if !rates.is_empty() && extra >= cost {
        for c in rates {
            grow(&mut cols, c, 3);
        }
        extra -= cost;
        fit.rates_wide = true;
    }
    for (column, cost) in [
        (Column::Progress, 7),
        (Column::Size, 10),
        (Column::Added, 6),
    ] {
        if present(&cols, column) && extra >= cost {
            grow(&mut cols, column, cost);
            extra -= cost;
            fit.size_wide |= column == Column::Size;
            fit.added_time |= column == Column::Added;
        }
    }
    grow(&mut cols, Column::Name, extra);
    fit.cols = cols;
    fit
}

/// The columns for a table `width` wide showing `visible` rows.
pub fn fit_rows(width: u16, visible: &[&crate::engine::api::TorrentLine]) -> Fit {
    let need = visible
        .iter()
        .map(|t| super::words::state_text(t).chars().count())
        .max()
        .unwrap_or(0);
    let labels = visible
        .iter()
        .filter(|t| !t.labels.is_empty())
        .map(|t| labels_text(t).chars().count())
        .max()
        .unwrap_or(0);
    fit_labels(width, need, labels)
}

/// A torrent's labels as its cell shows them.
pub fn labels_text(t: &crate::engine::api::TorrentLine) -> String {
    t.labels.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(f: &Fit) -> Vec<&'static str> {
        f.cols.iter().map(|(c, _)| c.title()).collect()
    }

    #[test]
    fn labels_take_a_column_only_when_a_torrent_has_one() {
        assert!(!fit(160, 20).has(Column::Labels));
        let f = fit_labels(160, 20, 9);
        assert_eq!(f.width_of(Column::Labels), Some(9));
        assert_eq!(total(&f.cols), 160);
        assert_eq!(
            fit_labels(160, 20, 500).width_of(Column::Labels),
            Some(LABELS_MAX)
        );
        // Narrow: it goes right after Added.
        let narrow = fit_labels(80, 33, 9);
        assert!(!narrow.has(Column::Labels) && !narrow.has(Column::Added));
        assert!(narrow.has(Column::Ratio) || narrow.has(Column::Eta));
    }

    #[test]
    fn every_width_is_filled_exactly() {
        for width in [40, 60, 80, 100, 120, 160, 200, 300] {
            for need in [0, 11, 33, 500] {
                let f = fit(width, need);
                assert_eq!(total(&f.cols), width, "{width} {need}: {f:?}");
            }
        }
    }

    #[test]
    fn eighty_columns_keep_the_state_and_drop_peers_and_added() {
        let f = fit(80, 33);
        assert_eq!(
            names(&f),
            ["Name", "State", "Progress", "Size", "Down", "Up", "ETA", "Ratio"]
        );
        assert_eq!(f.width_of(Column::Name), Some(NAME_MIN));
        assert_eq!(f.width_of(Column::State), Some(STATE_MIN + 2));
        assert!(!f.rates_wide && !f.size_wide && !f.added_time);
    }

    #[test]
    fn one_twenty_shows_every_column_and_a_readable_name() {
        let f = fit(120, 33);
        // Every column but Labels, which shows only when a torrent has one.
        assert_eq!(f.cols.len(), Column::ALL.len() - 1);
        assert_eq!(f.width_of(Column::Name), Some(NAME_COMFORT));
        assert_eq!(f.width_of(Column::State), Some(STATE_FIRST + 1));
        assert!(!f.rates_wide);
    }

    #[test]
    fn two_hundred_takes_every_wide_form() {
        let f = fit(200, 33);
        assert_eq!(f.cols.len(), Column::ALL.len() - 1);
        assert_eq!(f.width_of(Column::State), Some(33));
        assert!(f.rates_wide && f.size_wide && f.added_time);
        assert_eq!(f.width_of(Column::Progress), Some(16));
        assert!(f.width_of(Column::Name) > Some(NAME_COMFORT));
        // A short state leaves its room to the name.
        assert!(fit(200, 11).width_of(Column::Name) > f.width_of(Column::Name));
    }

    #[test]
    fn narrow_screens_keep_name_state_and_progress() {
        let f = fit(44, 33);
        assert_eq!(names(&f), ["Name", "State", "Progress"]);
        // Narrower than even that: the name shrinks to nothing before anything overflows.
        let f = fit(20, 33);
        assert!(f.cols.iter().all(|(_, w)| *w <= 20));
    }

    #[test]
    fn clicks_land_in_their_column() {
        let f = fit(80, 11);
        assert_eq!(f.column_at(0, 0), None, "the mark");
        assert_eq!(f.column_at(0, MARK_W), Some(Column::Name));
        let name_w = f.width_of(Column::Name).unwrap_or(0);
        assert_eq!(f.column_at(0, MARK_W + name_w), None, "the gap");
        assert_eq!(f.column_at(0, MARK_W + name_w + GAP), Some(Column::State));
        assert_eq!(f.column_at(0, 79), Some(Column::Ratio));
    }
}
