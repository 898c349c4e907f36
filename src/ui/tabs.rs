//! The detail view's tabs and where each one's label sits on the tab bar. Pure geometry, so
//! the bar's renderer and the mouse agree on which cell belongs to which tab.

use ratatui::layout::Rect;

/// Which pane the navigation keys act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Focus {
    #[default]
    Peers,
    Pieces,
    Log,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tab {
    Overview,
    /// The live screen (peers, grid, graph, events): where the detail view opens.
    #[default]
    Peers,
    Pieces,
    Files,
    Trackers,
    Log,
}

impl Tab {
    pub const ALL: [Tab; 6] = [
        Tab::Overview,
        Tab::Peers,
        Tab::Pieces,
        Tab::Files,
        Tab::Trackers,
        Tab::Log,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Tab::Overview => "Overview",
            Tab::Peers => "Peers",
            Tab::Pieces => "Pieces",
            Tab::Files => "Files",
            Tab::Trackers => "Trackers",
            Tab::Log => "Log",
        }
    }

    pub fn index(self) -> usize {
        Tab::ALL.iter().position(|t| *t == self).unwrap_or(0)
    }

    /// The tab a digit key names: 0 is the first.
    pub fn nth(i: usize) -> Option<Tab> {
        Tab::ALL.get(i).copied()
    }

    pub fn next(self) -> Tab {
        Tab::ALL[(self.index() + 1) % Tab::ALL.len()]
    }

    pub fn prev(self) -> Tab {
        Tab::ALL[(self.index() + Tab::ALL.len() - 1) % Tab::ALL.len()]
    }

    /// The pane whose keys (and highlighted title) the tab shows, when it is one of the
    /// three panes the view had before tabs.
    pub fn focus(self) -> Option<Focus> {
        match self {
            Tab::Peers => Some(Focus::Peers),
            Tab::Pieces => Some(Focus::Pieces),
            Tab::Log => Some(Focus::Log),
            _ => None,
        }
    }
}

/// Each tab's label on the bar and its first column: " 1 Overview ", then " 3 Pieces 12/400 "
/// with the count the caller gives (`extra`). Labels drop their counts, then their words,
/// until the bar fits `width`; whole labels only.
pub(crate) fn labels(width: u16, extra: &dyn Fn(Tab) -> Option<String>) -> Vec<(Tab, u16, String)> {
    let build = |counts: bool, words: bool| -> Vec<String> {
        Tab::ALL
            .iter()
            .map(|&t| {
                let n = t.index() + 1;
                let word = if words { t.title() } else { &t.title()[..3] };
                match extra(t).filter(|_| counts) {
                    Some(e) => format!(" {n} {word} {e} "),
                    None => format!(" {n} {word} "),
                }
            })
            .collect()
    };
    // A rule after each label but the last.
    let total = |v: &[String]| v.iter().map(|s| s.chars().count() + 1).sum::<usize>() - 1;
    let mut chosen = build(true, true);
    for (counts, words) in [(false, true), (false, false)] {
        if total(&chosen) <= usize::from(width) {
            break;
        }
        chosen = build(counts, words);
    }
    let mut x = 0u16;
    let mut out = Vec::new();
    for (t, label) in Tab::ALL.iter().zip(chosen) {
        let w = label.chars().count() as u16;
        if x.saturating_add(w) > width {
            break;
        }
        out.push((*t, x, label));
        x = x.saturating_add(w + 1);
    }
    out
}

/// The tab whose label is under column `x` of a bar drawn in `area`.
pub(crate) fn tab_at(
    area: Rect,
    x: u16,
    y: u16,
    extra: &dyn Fn(Tab) -> Option<String>,
) -> Option<Tab> {
    if y != area.y || area.height == 0 || x < area.x {
        return None;
    }
    let col = x - area.x;
    labels(area.width, extra)
        .into_iter()
        .find(|(_, start, label)| col >= *start && col < start + label.chars().count() as u16)
        .map(|(t, _, _)| t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_and_prev_wrap_around() {
        assert_eq!(Tab::Log.next(), Tab::Overview);
        assert_eq!(Tab::Overview.prev(), Tab::Log);
        assert_eq!(Tab::nth(3), Some(Tab::Files));
        assert_eq!(Tab::nth(6), None);
    }

    #[test]
    fn labels_shrink_to_fit_and_clicks_find_them() {
        let none = |_| None;
        let extra = |t| (t == Tab::Pieces).then(|| "12/400".to_string());
        let wide = labels(80, &extra);
        assert_eq!(wide.len(), 6);
        assert_eq!(wide[2].2, " 3 Pieces 12/400 ");
        let narrow = labels(50, &none);
        assert_eq!(narrow.len(), 6, "{narrow:?}");
        assert_eq!(narrow[0].2, " 1 Ove ");
        let area = Rect::new(0, 5, 80, 1);
        let (_, start, _) = &wide[3];
        // Counts on every tab do not fit 80 columns: all go, the words stay.
        assert_eq!(labels(80, &|_| Some("4/5".into()))[5].2, " 6 Log ");
        assert_eq!(tab_at(area, *start, 5, &extra), Some(Tab::Files));
        assert_eq!(tab_at(area, *start, 6, &extra), None);
        assert_eq!(tab_at(area, 79, 5, &extra), None);
    }
}
