//! Which columns the peer table shows and how wide, from the pane's width and what the visible
//! rows need. Pure arithmetic, kept apart from drawing so it can be tested cell by cell.

use ratatui::layout::Constraint;

/// Index of the state column among the table's columns; it alone is not in
/// [`Columns::fixed`] (it takes what the others leave).
pub(crate) const STATE_COL: usize = 5;
/// Columns from here on are numeric, right-aligned.
pub(crate) const FIRST_NUMERIC: usize = 7;

/// The peer table's column layout for one frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Columns {
    /// At least 100 cells: full byte units and the requests column.
    pub wide: bool,
    /// At least 150 cells: the downloaded and uploaded totals too.
    pub huge: bool,
    /// At least 120 cells: source and connection in words.
    pub roomy: bool,
    /// What an address or client text is cut to (the column may be wider: padding).
    pub addr_w: usize,
    pub client_w: usize,
    /// What a state text is cut to.
    pub state_w: usize,
    /// Widths of every column but State, padding included, in table order.
    pub fixed: Vec<u16>,
}

/// The widest text each content-sized column has to show (in chars).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Needs {
    pub addr: usize,
    pub client: usize,
    pub state: usize,
}

/// Lays out the columns for a table `width` cells wide.
///
/// The state column gets what its longest visible text needs (cut with "…" when even that
/// does not fit). Room beyond that first widens the address, client and numeric columns by
/// up to six cells each, which spreads the slack as even gaps instead of one wide hole
/// after State; anything still left goes back to State.
pub(crate) fn fit(width: u16, needs: Needs) -> Columns {
    let wide = width >= 100;
    let huge = width >= 150;
    // Source and connection in words only when the state column keeps its room.
    let roomy = width >= 120;
    let addr_w = needs.addr.clamp(7, if wide { 40 } else { 21 });
    let client_max = if huge {
        32
    } else if wide {
        24
    } else {
        17
    };
    let client_w = needs.client.clamp(6, client_max);

    // Fixed columns: marker, address, source, connection, client, [state], flags, down, up,
    // have, req, got, sent.
    let rate_w = if wide { 9 } else { 6 };
    let (src_w, conn_w) = if roomy { (8, 7) } else { (3, 4) };
    let mut fixed: Vec<u16> = vec![
        1,
        addr_w as u16,
        src_w,
        conn_w,
        client_w as u16,
        3,
        rate_w,
        rate_w,
        4,
    ];
    if wide {
        fixed.push(3);
    }
    if huge {
        fixed.extend([9, 9]);
    }
    let spacing = fixed.len() as u16;
    let state_room = usize::from(width.saturating_sub(fixed.iter().sum::<u16>() + spacing));
    let state_need = needs.state.max(12);
    // Address, client, then everything after the flags.
    let padded: Vec<usize> = [1, 4].into_iter().chain(6..fixed.len()).collect();
    let spare = state_room.saturating_sub(state_need);
    let pad = (spare / padded.len()).min(6) as u16;
    for &i in &padded {
        if let Some(w) = fixed.get_mut(i) {
            *w += pad;
        }
    }
    let state_w = state_room.saturating_sub(usize::from(pad) * padded.len());
    Columns {
        wide,
        huge,
        roomy,
        addr_w,
        client_w,
        state_w,
        fixed,
    }
}

impl Columns {
    /// The column titles, in table order (State included).
    pub(crate) fn header(&self) -> Vec<&'static str> {
        let mut header = vec![
            "",
            "Address",
            if self.roomy { "Source" } else { "Src" },
            "Conn",
            "Client",
            "State",
            "Flg",
            "Down/s",
            "Up/s",
            "Have",
        ];
        if self.wide {
            header.push("Req");
        }
        if self.huge {
            header.extend(["Got", "Sent"]);
        }
        header
    }

    /// The table's constraints: the fixed widths with State filling the rest.
    pub(crate) fn constraints(&self) -> Vec<Constraint> {
        let mut widths: Vec<Constraint> =
            self.fixed.iter().map(|&w| Constraint::Length(w)).collect();
        widths.insert(STATE_COL, Constraint::Fill(1));
        widths
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn needs(addr: usize, client: usize, state: usize) -> Needs {
        Needs {
            addr,
            client,
            state,
        }
    }

    /// Every column plus its one-cell gap, State at its cut width, adds up to the pane.
    fn total(c: &Columns) -> usize {
        c.fixed.iter().map(|&w| usize::from(w)).sum::<usize>() + c.fixed.len() + c.state_w
    }

    #[test]
    fn narrow_pane_shows_ten_columns_in_short_words() {
        let c = fit(80, needs(15, 10, 20));
        assert!(!c.wide && !c.huge && !c.roomy);
        assert_eq!(c.header().len(), 10);
        assert_eq!(c.constraints().len(), 10);
        assert_eq!(c.header()[2], "Src");
        // 80 - (1+15+3+4+10+3+6+6+4) - 9 gaps = 19 < 20 needed: no padding, State takes it all.
        assert_eq!(c.fixed, vec![1, 15, 3, 4, 10, 3, 6, 6, 4]);
        assert_eq!(c.state_w, 19);
        assert_eq!(total(&c), 80);
    }

    #[test]
    fn widths_grow_column_by_column() {
        let c = fit(100, needs(15, 10, 12));
        assert!(c.wide && !c.roomy && !c.huge);
        assert_eq!(c.header().last(), Some(&"Req"));
        let c = fit(120, needs(15, 10, 12));
        assert!(c.roomy && !c.huge);
        assert_eq!(c.header()[2], "Source");
        let c = fit(150, needs(15, 10, 12));
        assert!(c.huge);
        assert_eq!(c.header().len(), 13);
        assert_eq!(c.constraints().len(), 13);
        assert_eq!(c.constraints()[STATE_COL], Constraint::Fill(1));
    }

    #[test]
    fn content_widths_are_clamped() {
        let c = fit(80, needs(0, 0, 0));
        assert_eq!((c.addr_w, c.client_w), (7, 6));
        let c = fit(80, needs(60, 60, 0));
        assert_eq!((c.addr_w, c.client_w), (21, 17));
        let c = fit(100, needs(60, 60, 0));
        assert_eq!((c.addr_w, c.client_w), (40, 24));
        let c = fit(150, needs(60, 60, 0));
        assert_eq!(c.client_w, 32);
    }

    #[test]
    fn slack_is_spread_as_padding_up_to_six() {
        // 100 wide: fixed 1+15+3+4+10+3+9+9+4+3 = 61, 10 gaps: 29 for State, 17 spare over
        // six padded columns (not the flags): 2 each, 17 back to State.
        let c = fit(100, needs(15, 10, 12));
        assert_eq!(c.fixed, vec![1, 17, 3, 4, 12, 3, 11, 11, 6, 5]);
        assert_eq!(c.state_w, 17);
        assert_eq!((c.addr_w, c.client_w), (15, 10));
        assert_eq!(total(&c), 100);
        // Very wide: padding stops at six, the rest goes to State.
        let c = fit(400, needs(15, 10, 12));
        assert_eq!(c.fixed[1], 15 + 6);
        assert_eq!(total(&c), 400);
        assert!(c.state_w > 12 + 100);
    }

    #[test]
    fn state_gets_its_need_before_padding() {
        let c = fit(100, needs(15, 10, 29));
        assert_eq!(c.fixed[1], 15);
        assert_eq!(c.state_w, 29);
    }

    #[test]
    fn too_narrow_leaves_state_nothing_and_never_panics() {
        for w in 0..40 {
            let c = fit(w, needs(50, 50, 50));
            assert_eq!(c.state_w, 0, "width {w}");
        }
    }
}
