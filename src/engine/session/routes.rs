//! The router of incoming connections: each running or dormant torrent's route by its info
//! hash (and MSE's req2 of it), a hybrid's second name (its v2 hash cut to 20 bytes) as an
//! alias of the first, and the torrent's side of it (`torrent::start::Routing`). The accept
//! path in `mod.rs` reads a handshake and delivers the connection through it.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use tokio::sync::mpsc;

use crate::engine::torrent::shared::Event;
use crate::engine::torrent::start::Routing;
use crate::protocol::mse_codec;

/// A torrent's place in the router, with MSE's req2 (SHA-1 of "req2" and the info hash)
/// computed once: an encrypted connection names its torrent only by it.
pub(crate) struct Route {
    pub(super) req2: [u8; 20],
    pub(super) to: RouteTo,
}

/// Where a routed connection goes.
pub(crate) enum RouteTo {
    /// The torrent's running task.
    Task(mpsc::UnboundedSender<Event>),
    /// A dormant torrent (no task, see `dormancy.rs`): the first connection asks the manager
    /// to wake it (`Routes::wake` gets the info hash) and waits here, with at most
    /// `MAX_PENDING` others, until the woken task routes itself and takes them. Boxed, and
    /// the manager's channel held once in `Routes`: a library of 100,000 sleeps with a route
    /// each, nearly all without a connection waiting (16 bytes a route, from 32).
    // A box of a list, as the lint says, but 8 bytes a route where the list alone is 24.
    #[allow(clippy::box_collection)]
    Dormant(Option<Box<Vec<Event>>>),
}

/// Connections kept for a torrent being woken; more are refused (the peer dials again).
pub(crate) const MAX_PENDING: usize = 16;

impl Route {
    pub(super) fn new(info_hash: [u8; 20], events: mpsc::UnboundedSender<Event>) -> Route {
        Route {
            req2: mse_codec::req2(&info_hash),
            to: RouteTo::Task(events),
        }
    }
}

/// Incoming connections by the info hash their handshake names, and how many were routed.
#[derive(Default)]
pub(crate) struct Routes {
    pub(super) by_hash: HashMap<[u8; 20], Route>,
    /// A hybrid torrent's second name (its v2 hash cut to 20 bytes) → the hash its route is
    /// under, with the second name's req2 for MSE: a peer that knows the torrent as v2 names
    /// it so, and reaches the same torrent and peer table. It goes with the route.
    pub(super) aliases: HashMap<[u8; 20], Alias>,
    pub(super) incoming: u64,
    /// When the latest of them were routed: how many came within the reachability window.
    pub(super) recent: Recent,
    /// Where a dormant torrent's first connection asks to wake it: the manager's channel.
    pub(super) wake: Option<mpsc::UnboundedSender<[u8; 20]>>,
}

pub(crate) struct Alias {
    main: [u8; 20],
    req2: [u8; 20],
}

/// Incoming connections remembered by time: enough to say "many" within any window.
const RECENT_MAX: usize = 1024;

/// When the latest incoming connections were routed, oldest first (at most `RECENT_MAX`).
#[derive(Default)]
pub(crate) struct Recent(std::collections::VecDeque<std::time::Instant>);

impl Recent {
    /// One more, now.
    pub(super) fn push(&mut self) {
        if self.0.len() == RECENT_MAX {
            self.0.pop_front();
        }
        self.0.push_back(std::time::Instant::now());
    }

    /// Those within `window` of now.
    pub(super) fn within(&self, window: std::time::Duration) -> u32 {
        let now = std::time::Instant::now();
        let n = (self.0.iter().rev())
            .take_while(|at| now.saturating_duration_since(**at) <= window)
            .count();
        u32::try_from(n).unwrap_or(u32::MAX)
    }
}

impl Routes {
    /// The hash a torrent is routed under, for either of its names.
    pub(super) fn resolve(&self, named: &[u8; 20]) -> [u8; 20] {
        self.aliases.get(named).map_or(*named, |a| a.main)
    }

    /// Connections naming `alias` go where those naming `main` do.
    pub(super) fn alias(&mut self, alias: [u8; 20], main: [u8; 20]) {
        if alias != main {
            let req2 = mse_codec::req2(&alias);
            self.aliases.insert(alias, Alias { main, req2 });
        }
    }

    /// `main`'s route is gone: so are its other names.
    pub(super) fn remove(&mut self, main: &[u8; 20]) {
        self.by_hash.remove(main);
        self.aliases.retain(|_, a| a.main != *main);
    }

    /// The name (as the peer knows it) an encrypted connection's req2 stands for.
    pub(super) fn by_req2(&self, req2: &[u8; 20]) -> Option<[u8; 20]> {
        let direct = self.by_hash.iter().find(|(_, r)| r.req2 == *req2);
        let alias = || self.aliases.iter().find(|(_, a)| a.req2 == *req2);
        direct
            .map(|(ih, _)| *ih)
            .or_else(|| alias().map(|(ih, _)| *ih))
    }
}

/// How a torrent's task takes and gives back its route (`torrent::start::Routing`).
impl Routing for Mutex<Routes> {
    /// Connections naming `info_hash` (in the clear or by MSE's req2) go to `events` until
    /// `unroute`; those that waited for the torrent to wake go there now.
    fn route(&self, info_hash: [u8; 20], events: mpsc::UnboundedSender<Event>) {
        route_to_task(self, info_hash, events);
    }

    /// Connections naming `alias` (a hybrid's v2 hash) go where `main`'s do, while its
    /// route stands.
    fn alias(&self, alias: [u8; 20], main: [u8; 20]) {
        lock(self).alias(alias, main);
    }

    /// Takes a task's route away; a dormant torrent's stays (the manager owns that one).
    fn unroute(&self, info_hash: &[u8; 20]) {
        let mut routes = lock(self);
        if matches!(
            routes.by_hash.get(info_hash),
            Some(Route {
                to: RouteTo::Task(_),
                ..
            })
        ) {
            routes.remove(info_hash);
        }
    }
}

/// `Routing::route` on the routes themselves.
pub(crate) fn route_to_task(
    routes: &Mutex<Routes>,
    info_hash: [u8; 20],
    events: mpsc::UnboundedSender<Event>,
) {
    let old = lock(routes)
        .by_hash
        .insert(info_hash, Route::new(info_hash, events.clone()));
    // Connections that woke a dormant torrent go to its new task.
    if let Some(Route {
        to: RouteTo::Dormant(Some(pending)),
        ..
    }) = old
    {
        for e in *pending {
            let _ = events.send(e);
        }
    }
}

pub(crate) fn lock(routes: &Mutex<Routes>) -> MutexGuard<'_, Routes> {
    routes.lock().unwrap_or_else(|e| e.into_inner())
}
