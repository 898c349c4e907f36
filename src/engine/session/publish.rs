//! When the session's list is worth publishing again. Every tick the manager used to clone every
//! torrent's line into a new `SessionSnapshot`; with thousands of idle torrents that was most of
//! the session's CPU at rest (tests/bench/session_scale.sh). Comparing the lines in place
//! allocates nothing, so the list is rebuilt only when something in it changed.

use std::collections::HashMap;
use std::sync::Arc;

use crate::engine::api::{SessionSnapshot, TorrentId, TorrentLine};

/// The index of the first of `now` whose line is not `prev`'s at the same index (`same`
/// compares one without building it); None when `now` shows, in order, exactly `prev`'s
/// lines. The lines before it need no second look when the list is built again
/// (`Before::same_up_to`), so a tick that finds a change walks the slots once in all.
pub(super) fn first_change<T>(
    prev: &[Arc<TorrentLine>],
    now: &[T],
    same: impl Fn(&T, &TorrentLine) -> bool,
) -> Option<usize> {
    match now.iter().zip(prev).position(|(n, p)| !same(n, p)) {
        Some(i) => Some(i),
        None if prev.len() == now.len() => None,
        None => Some(prev.len().min(now.len())),
    }
}

/// The previous publication's lines, found by the slot they show: by index while the list
/// keeps its order (every tick but one after an add or a removal), else by id through a map
/// built once, when the first line out of place is met.
pub(super) struct Before<'a> {
    prev: &'a [Arc<TorrentLine>],
    by_id: Option<HashMap<TorrentId, &'a Arc<TorrentLine>>>,
    /// The lines before this index are known to be the same as now (`first_change`).
    same_up_to: usize,
}

impl<'a> Before<'a> {
    pub(super) fn new(prev: &'a [Arc<TorrentLine>]) -> Before<'a> {
        Before {
            prev,
            by_id: None,
            same_up_to: 0,
        }
    }

    /// `prev`'s lines before `i` show, in order, what the slots there show now: their lines
    /// are taken as they are (`unchanged`), without comparing them again.
    pub(super) fn same_up_to(self, i: usize) -> Before<'a> {
        Before {
            same_up_to: i.min(self.prev.len()),
            ..self
        }
    }

    /// The line at `i`, when it is known to be unchanged.
    pub(super) fn unchanged(&self, i: usize) -> Option<&'a Arc<TorrentLine>> {
        (i < self.same_up_to).then(|| &self.prev[i])
    }

    /// The line that showed torrent `id`, which now sits at index `i`; None: a new torrent.
    pub(super) fn line(&mut self, i: usize, id: TorrentId) -> Option<&'a Arc<TorrentLine>> {
        match self.prev.get(i) {
            Some(p) if p.id == id => Some(p),
            _ => {
                let prev = self.prev;
                let by_id = self
                    .by_id
                    .get_or_insert_with(|| prev.iter().map(|t| (t.id, t)).collect());
                by_id.get(&id).copied()
            }
        }
    }
}

/// True when everything but the lines (and the rates summed from them) is the same. The
/// destructuring names every field, so a field added to `SessionSnapshot` fails to compile
/// here until it is compared.
pub(super) fn same_head(prev: &SessionSnapshot, head: &SessionSnapshot) -> bool {
    let SessionSnapshot {
        torrents: _,
        down_rate: _,
        up_rate: _,
        listen_port,
        dht_nodes,
        dht_nodes6,
        families,
        incoming,
        incoming_in_window,
        default_save_path,
        save_error,
        down_limit,
        up_limit,
        turtle,
        restored,
        blocklist,
        proxy,
        port_mapping,
        interface,
        webrtc,
        reachability_window,
        read_cache,
        rev: _,
        catalog,
        index: _,
    } = head;
    prev.listen_port == *listen_port
        && prev.dht_nodes == *dht_nodes
        && prev.dht_nodes6 == *dht_nodes6
        && prev.families == *families
        && prev.incoming == *incoming
        && prev.incoming_in_window == *incoming_in_window
        && prev.default_save_path == *default_save_path
        && prev.save_error == *save_error
        && prev.down_limit == *down_limit
        && prev.up_limit == *up_limit
        && prev.turtle == *turtle
        && prev.restored == *restored
        && prev.blocklist == *blocklist
        && prev.proxy == *proxy
        && prev.port_mapping == *port_mapping
        && prev.interface == *interface
        && prev.webrtc == *webrtc
        && prev.reachability_window == *reachability_window
        && prev.read_cache == *read_cache
        && (std::sync::Arc::ptr_eq(&prev.catalog, catalog) || prev.catalog == *catalog)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(n: u32) -> Vec<TorrentLine> {
        (1..=n)
            .map(|i| TorrentLine::placeholder(TorrentId(i)))
            .collect()
    }

    #[test]
    fn lines_compare_in_place_up_to_the_first_change() {
        let prev: Vec<_> = lines(3).into_iter().map(Arc::new).collect();
        let mut now = lines(3);
        let eq = |a: &TorrentLine, b: &TorrentLine| a == b;
        assert_eq!(first_change(&prev, &now, eq), None);
        now[1].uploaded = 1;
        assert_eq!(first_change(&prev, &now, eq), Some(1));
        // A torrent more or fewer is a change even when the common ones are equal.
        assert_eq!(first_change(&prev, &lines(4), eq), Some(3));
        assert_eq!(first_change(&prev, &lines(2), eq), Some(2));
        let before = Before::new(&prev).same_up_to(1);
        assert_eq!(before.unchanged(0).map(|t| t.id), Some(TorrentId(1)));
        assert!(
            before.unchanged(1).is_none(),
            "the changed line is compared"
        );
    }

    #[test]
    fn a_line_before_is_found_in_place_or_by_id() {
        let prev: Vec<_> = lines(4).into_iter().map(Arc::new).collect();
        let mut before = Before::new(&prev);
        assert_eq!(
            before.line(1, TorrentId(2)).map(|t| t.id),
            Some(TorrentId(2))
        );
        assert!(before.by_id.is_none(), "in place: no map");
        // Torrent 2 was removed: 3 now sits at index 1.
        assert_eq!(
            before.line(1, TorrentId(3)).map(|t| t.id),
            Some(TorrentId(3))
        );
        assert_eq!(before.line(3, TorrentId(9)), None, "a new torrent");
    }

    #[test]
    fn the_head_ignores_lines_and_their_rates() {
        let prev = SessionSnapshot {
            torrents: lines(2).into_iter().map(Arc::new).collect(),
            down_rate: 5.0,
            ..SessionSnapshot::default()
        };
        let mut head = SessionSnapshot::default();
        assert!(same_head(&prev, &head));
        head.incoming = 1;
        assert!(!same_head(&prev, &head));
        head.incoming = 0;
        head.save_error = Some("disk full".into());
        assert!(!same_head(&prev, &head));
    }
}
