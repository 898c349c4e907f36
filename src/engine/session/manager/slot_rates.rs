//! A slot's rate limiters. A torrent's task shares its limiters with the slot (two buckets of
//! its own under the session's, their two chains and the seed queue's flag: about 330 bytes
//! with their allocations), so that `ttui limit` and the queue reach a running task without a
//! message. A torrent without a task has nothing to limit: it keeps only its own limits and
//! the flag, and the limiters are made when a task starts (`for_task`). A sleeping library
//! of 100,000 held 100,000 sets that nothing used.

use std::sync::Arc;

use crate::engine::api::RatePair;
use crate::engine::peer::rate::{SessionRates, TorrentRates};

pub(super) enum SlotRates {
    /// No task: its own limits (0 = none) and whether the queue holds new unchokes back.
    Idle { own: RatePair, held: bool },
    /// Shared with its task (and any task that replaced it since).
    Shared(Box<TorrentRates>),
}

impl SlotRates {
    pub(super) fn idle(own: RatePair) -> SlotRates {
        SlotRates::Idle { own, held: false }
    }

    /// Its own limits.
    pub(super) fn own(&self) -> RatePair {
        match self {
            SlotRates::Idle { own, .. } => *own,
            SlotRates::Shared(rates) => rates.own(),
        }
    }

    /// Changes its own limits (None keeps one); a task sharing them sees it at once.
    pub(super) fn set_own(&mut self, down: Option<u64>, up: Option<u64>) {
        match self {
            SlotRates::Idle { own, .. } => {
                own.down = down.unwrap_or(own.down);
                own.up = up.unwrap_or(own.up);
            }
            SlotRates::Shared(rates) => rates.set_own(down, up),
        }
    }

    /// The queue's word on new unchokes (`TorrentRates::hold_uploads`).
    pub(super) fn hold_uploads(&mut self, on: bool) {
        match self {
            SlotRates::Idle { held, .. } => *held = on,
            SlotRates::Shared(rates) => {
                rates.hold_uploads(on);
            }
        }
    }

    /// The limiters for a task it starts: made now, under the session's and those of its
    /// trackers (`meta`'s), if it has none.
    pub(super) fn for_task(
        &mut self,
        session: &Arc<SessionRates>,
        meta: Option<&crate::protocol::metainfo::Metainfo>,
    ) -> TorrentRates {
        match self {
            SlotRates::Shared(rates) => (**rates).clone(),
            SlotRates::Idle { own, held } => {
                let urls = meta.iter().flat_map(|m| m.trackers.iter().flatten());
                let rates = session.torrent_of(*own, urls.map(String::as_str));
                rates.hold_uploads(*held);
                *self = SlotRates::Shared(Box::new(rates.clone()));
                rates
            }
        }
    }

    /// Its task has ended: the limiters go with it, their settings stay.
    pub(super) fn task_ended(&mut self) {
        if let SlotRates::Shared(rates) = self {
            *self = SlotRates::Idle {
                own: rates.own(),
                held: rates.uploads_held(),
            };
        }
    }
}
