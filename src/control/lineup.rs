//! The session's line-up over the control socket (`Request::Watch`, what `ttui attach`
//! draws): each frame carries what changed since the frame before on the same stream, and the
//! client puts the line-up back together.
//!
//! The session publishes a line that did not change as the same `Arc` again, so "changed" is
//! a pointer comparison. Whole line-ups cost what exists, not what moves: an attached screen
//! on a library of 100,000 resting torrents kept the session and the client at about 60 % of
//! a core each, serializing and parsing every line twice a second. A frame now carries the
//! session's own fields, the lines that changed, and the order of every torrent only when
//! the set or order changed; at rest, no line at all.

use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::engine::api::{SessionSnapshot, TorrentId, TorrentLine};

/// One frame of a `Watch` stream: the change since the frame before it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LineUpChange {
    /// The session's own fields; its `torrents` are the lines that are new or changed.
    pub session: SessionSnapshot,
    /// Every torrent's id in the line-up's order, when the set or the order changed (always
    /// in a stream's first frame); None: the same torrents in the same order as before.
    pub order: Option<Vec<TorrentId>>,
}

/// The session's end of a stream: the line-up last framed.
#[derive(Default)]
pub(crate) struct Framer {
    sent: Option<Arc<SessionSnapshot>>,
}

impl Framer {
    /// The change from the line-up last framed to `now` (all of it, the first time).
    pub(crate) fn frame(&mut self, now: &Arc<SessionSnapshot>) -> LineUpChange {
        let before = self.sent.replace(Arc::clone(now));
        let (changed, order) = match before.as_deref() {
            Some(before) => changed_lines(&before.torrents, &now.torrents),
            None => (
                now.torrents.clone(),
                Some(now.torrents.iter().map(|t| t.id).collect()),
            ),
        };
        let mut session = now.head();
        session.torrents = changed.into_iter().map(json_safe).collect();
        session.down_rate = finite(session.down_rate);
        session.up_rate = finite(session.up_rate);
        LineUpChange { session, order }
    }
}

/// The lines of `now` that are not the same `Arc` as before, and the order of `now` when
/// its torrents or their order differ from `before`.
fn changed_lines(
    before: &[Arc<TorrentLine>],
    now: &[Arc<TorrentLine>],
) -> (Vec<Arc<TorrentLine>>, Option<Vec<TorrentId>>) {
    // The usual case: the same torrents in the same order. A line shared with the frame
    // before is not read at all (at 100,000 each read is a cache miss).
    if before.len() == now.len() {
        let mut changed = Vec::new();
        let mut same_order = true;
        for (b, n) in before.iter().zip(now) {
            if Arc::ptr_eq(b, n) {
                continue;
            }
            if b.id != n.id {
                same_order = false;
                break;
            }
            changed.push(Arc::clone(n));
        }
        if same_order {
            return (changed, None);
        }
    }
    let was: HashMap<TorrentId, &Arc<TorrentLine>> = before.iter().map(|t| (t.id, t)).collect();
    let changed = now
        .iter()
        .filter(|n| was.get(&n.id).is_none_or(|b| !Arc::ptr_eq(b, n)))
        .cloned()
        .collect();
    (changed, Some(now.iter().map(|t| t.id).collect()))
}

/// JSON has no NaN or infinity (serde_json writes null, which does not read back as a number,
/// and the client would take the frame for a broken link). Copied only where a rate is not a
/// number: the other lines stay shared.
fn json_safe(mut t: Arc<TorrentLine>) -> Arc<TorrentLine> {
    if !t.down_rate.is_finite() || !t.up_rate.is_finite() {
        let line = Arc::make_mut(&mut t);
        line.down_rate = finite(line.down_rate);
        line.up_rate = finite(line.up_rate);
    }
    t
}

pub(crate) fn finite(v: f64) -> f64 {
    if v.is_finite() {
        v
    } else {
        0.0
    }
}

/// The client's end of a stream: the line-up put back together from its changes.
#[derive(Debug, Default)]
pub(crate) struct Assembler {
    /// The session's own fields last seen (no torrents).
    head: Option<SessionSnapshot>,
    order: Vec<TorrentId>,
    lines: HashMap<TorrentId, Arc<TorrentLine>>,
}

impl Assembler {
    /// The line-up after `change`, or None when it changed nothing (a heartbeat: the screen
    /// has nothing to draw again). A line the change does not carry is the same `Arc` as in
    /// the line-up before, so the screen skips it as it does in the session's own process.
    /// An order that names a torrent no change ever carried (the session's error) leaves
    /// that torrent out.
    pub(crate) fn apply(&mut self, change: LineUpChange) -> Option<SessionSnapshot> {
        let LineUpChange { mut session, order } = change;
        let lines = std::mem::take(&mut session.torrents);
        if lines.is_empty() && order.is_none() && self.head.as_ref() == Some(&session) {
            return None;
        }
        for t in lines {
            self.lines.insert(t.id, t);
        }
        if let Some(order) = order {
            let keep: std::collections::HashSet<TorrentId> = order.iter().copied().collect();
            self.lines.retain(|id, _| keep.contains(id));
            self.order = order;
        }
        self.head = Some(session.head());
        session.torrents = self
            .order
            .iter()
            .filter_map(|id| self.lines.get(id).cloned())
            .collect();
        Some(session)
    }
}

#[cfg(test)]
mod tests;
