//! The detail view's tab bar: " 1 Overview │ 2 Peers 4/9 │ 3 Pieces 180/400 │ …", the open
//! tab reversed (visible without colour). Where each label sits is [`crate::ui::tabs`].

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

use crate::engine::api::Snapshot;
use crate::ui::app::App;
use crate::ui::tabs::{labels, Tab};

/// The count a tab's label carries, from the snapshot.
pub(crate) fn counts(snap: &Snapshot) -> impl Fn(Tab) -> Option<String> + '_ {
    move |t| match t {
        Tab::Peers => Some(format!("{}/{}", snap.connected_peers(), snap.peers.len())),
        Tab::Pieces => Some(format!("{}/{}", snap.verified_pieces(), snap.pieces.len())),
        Tab::Files if !snap.files.is_empty() => Some(snap.files.len().to_string()),
        Tab::Trackers if !snap.trackers.is_empty() => Some(snap.trackers.len().to_string()),
        _ => None,
    }
}

pub(crate) fn render(area: Rect, buf: &mut Buffer, snap: &Snapshot, app: &App) {
    if area.height == 0 {
        return;
    }
    let theme = &app.theme;
    for (tab, x, label) in labels(area.width, &counts(snap)) {
        let style = if tab == app.tab {
            theme.title(true)
        } else {
            theme.dim()
        };
        let w = label.chars().count() as u16;
        buf.set_stringn(area.x + x, area.y, &label, usize::from(w), style);
        if x + w < area.width {
            buf.set_string(area.x + x + w, area.y, "│", theme.dim());
        }
    }
}
