//! Rate limits: one mechanism for every byte of payload, whatever carries it (TCP, uTP, MSE,
//! web seeds). Limits apply at the message level (a `piece` read or sent, a web seed's body
//! chunk), so all transports share them and RC4 or uTP headers never count.
//!
//! A hierarchy of token buckets, session → torrent (→ connection, when one is given): a byte
//! goes when every bucket of its `Limiter` has lent it, and the caller then sleeps until the
//! slowest one is paid back. Written here rather than taken from a crate: `governor` (the
//! well-kept choice) answers "now or not yet" per cell and suits request counting, but has no
//! hierarchy, no rate changes of a live limiter, and byte-sized cells would make a 16 KiB block
//! 16,384 cells; `leaky-bucket` is async but flat too. What we need is small: a lending bucket
//! (`bucket.rs`) whose waiters are served in order, which makes the sharing fair.
//!
//! Fairness: each connection holds at most one reservation at a time (it reads or sends one
//! block, then waits), so a bucket shared by N busy connections gives each 1/N; two torrents
//! with the same number of busy peers under one session limit each get half, and a torrent
//! that cannot use its share leaves it to the others at once (nobody reserves for it).
//!
//! A tracker's table in the config (`[trackers."HOST"]`) adds a bucket per direction between
//! the session's and the torrent's, shared by every torrent that announces to that host.
//!
//! Turtle mode swaps the session's limits for the alternative pair (`--alt-down-limit`,
//! `--alt-up-limit`), by a verb or a daily schedule (`schedule.rs`).

mod bucket;
mod gate;
mod resends;
pub(crate) mod schedule;
#[cfg(test)]
mod tests;

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::engine::api::{limit_binds, HeldPair};
pub(crate) use crate::engine::api::{RateOptions, RatePair, Schedule};
pub(crate) use bucket::Bucket;
pub(crate) use gate::Gate;
pub(crate) use resends::Resends;

/// What the connections sharing a bucket take together in one round of turns (`Gate`): each
/// takes its share of it, then sleeps until what it took is paid for. A connection that slept
/// for every 16 KiB block would wake 64 times a second at 1 MiB/s, and each wake costs a
/// timer, a thread switch and a read: at 1 MiB/s three times the CPU of the same transfer
/// unlimited (tests/bench/ratelimit.sh). In turns, one busy connection wakes about
/// 1 / `TURN` times a second; the limit is still paid in full, so over any window longer
/// than a round the rate holds. A second (it was 400 ms): every wake-up a limited connection
/// has beyond the unlimited one's is CPU per MiB the unlimited transfer does not spend
/// (tests/bench/ratelimit_cpu.sh), and a round of a second is still short against the
/// windows rates are read over (a progress line, a 30 s test window).
pub(crate) const TURN: Duration = Duration::from_secs(1);

/// How far a connection may run ahead of its limiter whatever its turn: a cap above `TURN`
/// for when the shares do not add up (a connection joined in the middle of a round).
pub(crate) const RUN_AHEAD: Duration = Duration::from_millis(1200);

/// A chain of buckets a payload byte passes through. Empty: unlimited (local peers exempt).
/// Clones share `held`, so a torrent's limiter knows when any of its connections waited.
#[derive(Clone, Debug, Default)]
pub(crate) struct Limiter {
    buckets: Vec<Arc<Bucket>>,
    /// When a caller last had to wait, in milliseconds after [`epoch`] (0: never).
    held: Arc<AtomicU64>,
}

/// The instant `Limiter::held` counts from.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

impl Limiter {
    pub(crate) fn new(buckets: Vec<Arc<Bucket>>) -> Limiter {
        Limiter {
            buckets,
            held: Arc::default(),
        }
    }

    /// Whether a caller had to wait on these buckets within `within` before `now`.
    pub(crate) fn held_within(&self, within: Duration, now: Instant) -> bool {
        match self.held.load(Ordering::Relaxed) {
            0 => false,
            ms => now.saturating_duration_since(epoch() + Duration::from_millis(ms)) <= within,
        }
    }

    /// Unlimited: never waits.
    pub(crate) fn none() -> Limiter {
        Limiter::default()
    }

    pub(crate) fn is_limited(&self) -> bool {
        self.buckets.iter().any(|b| b.is_limited())
    }

    /// Takes `n` bytes from every bucket; the wait before the next take is the longest.
    pub(crate) fn reserve_at(&self, n: u64, now: Instant) -> Duration {
        let wait = self
            .buckets
            .iter()
            .map(|b| b.reserve(n, now))
            .max()
            .unwrap_or(Duration::ZERO);
        if !wait.is_zero() {
            let ms = now.saturating_duration_since(epoch()).as_millis() as u64;
            self.held.store(ms.max(1), Ordering::Relaxed);
        }
        wait
    }

    /// Counts the caller among the sharers of every bucket until the `Share` is dropped.
    pub(crate) fn join(&self) -> Share {
        for b in &self.buckets {
            b.join();
        }
        Share(self.buckets.clone())
    }

    /// Bytes one connection takes in its turn: its part of a `TURN` of the tightest bucket,
    /// split evenly between the bucket's sharers (u64::MAX when nothing limits).
    pub(crate) fn turn_share(&self) -> u64 {
        self.buckets
            .iter()
            .filter_map(|b| b.turn_share(TURN))
            .min()
            .unwrap_or(u64::MAX)
    }

    /// As `reserve_at` now: the instant before which the caller takes no more, if any.
    pub(crate) fn reserve(&self, n: u64) -> Option<tokio::time::Instant> {
        let now = Instant::now();
        let wait = self.reserve_at(n, now);
        (!wait.is_zero()).then(|| tokio::time::Instant::from_std(now + wait))
    }
}

/// One connection counted among the sharers of a limiter's buckets (`Limiter::join`); it
/// stops counting when dropped.
#[derive(Debug)]
pub(crate) struct Share(Vec<Arc<Bucket>>);

impl Drop for Share {
    fn drop(&mut self) {
        for b in &self.0 {
            b.leave();
        }
    }
}

/// The session's buckets for what it starts with (flags and config file).
pub(crate) fn session_rates(
    options: &RateOptions,
    rules: &crate::engine::api::TrackerRules,
) -> Arc<SessionRates> {
    let mut s = SessionRates::plain(
        options.normal,
        options.alt,
        options.exempt_local,
        options.schedule,
    );
    s.trackers = rules
        .iter()
        .filter(|(_, r)| r.limits != RatePair::default())
        .map(|(host, r)| (host.clone(), Group::new(host, r.limits)))
        .collect();
    Arc::new(s)
}

/// The buckets of one tracker's torrents, from its table; their rates never change at runtime.
#[derive(Debug, Clone)]
pub(crate) struct Group {
    /// "tracker limit (tracker.example)", as the line says it.
    name: Arc<str>,
    down: Arc<Bucket>,
    up: Arc<Bucket>,
}

impl Group {
    fn new(host: &str, limits: RatePair) -> Group {
        Group {
            name: format!("tracker limit ({host})").into(),
            down: Arc::new(Bucket::new(limits.down)),
            up: Arc::new(Bucket::new(limits.up)),
        }
    }
}

/// What the session's limits are now, for `ttui limit` and the snapshot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct RatesView {
    pub normal: RatePair,
    pub alt: RatePair,
    pub turtle: bool,
    /// What applies: `alt` in turtle mode, else `normal`.
    pub effective: RatePair,
}

#[derive(Debug)]
struct Settings {
    normal: RatePair,
    alt: RatePair,
    turtle: bool,
}

/// The session's buckets, held once (`SessionCtx`), and the settings that give their rates.
#[derive(Debug)]
pub(crate) struct SessionRates {
    pub down: Arc<Bucket>,
    pub up: Arc<Bucket>,
    settings: Mutex<Settings>,
    /// Loopback and private-range peers bypass every bucket.
    pub exempt_local: bool,
    /// Bumped on every change of any limit of the session or its torrents: a connection
    /// sleeping on an old debt wakes up and takes again under the new rate.
    changed: tokio::sync::watch::Sender<u64>,
    /// Turtle mode's daily window, and whether the clock was in it at the last look.
    schedule: Option<Schedule>,
    in_window: Mutex<Option<bool>>,
    /// Bytes the session's TCP connections sent and had acknowledged (`net::tcp_info`): what
    /// crossed the uplink, which each torrent's uplink watch samples (`torrent/uplink.rs`).
    pub acked: AtomicU64,
    /// The limits of trackers' tables, by host (`tracker_key`).
    trackers: std::collections::BTreeMap<String, Group>,
}

impl SessionRates {
    #[cfg(test)]
    pub(crate) fn new(normal: RatePair, alt: RatePair, exempt_local: bool) -> Arc<SessionRates> {
        Self::with_schedule(normal, alt, exempt_local, None)
    }

    #[cfg(test)]
    pub(crate) fn with_schedule(
        normal: RatePair,
        alt: RatePair,
        exempt_local: bool,
        schedule: Option<Schedule>,
    ) -> Arc<SessionRates> {
        Arc::new(Self::plain(normal, alt, exempt_local, schedule))
    }

    fn plain(
        normal: RatePair,
        alt: RatePair,
        exempt_local: bool,
        schedule: Option<Schedule>,
    ) -> SessionRates {
        SessionRates {
            schedule,
            in_window: Mutex::new(None),
            down: Arc::new(Bucket::new(normal.down)),
            up: Arc::new(Bucket::new(normal.up)),
            settings: Mutex::new(Settings {
                normal,
                alt,
                turtle: false,
            }),
            exempt_local,
            changed: tokio::sync::watch::channel(0).0,
            acked: AtomicU64::new(0),
            trackers: Default::default(),
        }
    }

    #[cfg(test)]
    /// No limits at all (tests, one-shot tools).
    pub(crate) fn unlimited() -> Arc<SessionRates> {
        SessionRates::new(RatePair::default(), RatePair::default(), false)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Settings> {
        self.settings.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn view(&self) -> RatesView {
        let s = self.lock();
        RatesView {
            normal: s.normal,
            alt: s.alt,
            turtle: s.turtle,
            effective: if s.turtle { s.alt } else { s.normal },
        }
    }

    /// Changes the normal limits (None keeps one) and applies them unless in turtle mode.
    pub(crate) fn set_normal(&self, down: Option<u64>, up: Option<u64>) {
        let mut s = self.lock();
        s.normal.down = down.unwrap_or(s.normal.down);
        s.normal.up = up.unwrap_or(s.normal.up);
        self.apply(&s);
    }

    /// Turns turtle mode on or off; returns whether it is on now.
    pub(crate) fn set_turtle(&self, on: bool) -> bool {
        let mut s = self.lock();
        if s.turtle != on {
            s.turtle = on;
            self.apply(&s);
        }
        on
    }

    /// Called on the session's tick: entering the scheduled window turns turtle mode on,
    /// leaving it turns it off; in between, `ttui limit --turtle` is obeyed.
    pub(crate) fn follow_schedule(&self) {
        if let Some(minute) = self.schedule.and(schedule::local_minute_of_day()) {
            self.on_clock(minute);
        }
    }

    pub(crate) fn on_clock(&self, minute_of_day: u16) {
        let Some(window) = self.schedule else {
            return;
        };
        let inside = window.contains(minute_of_day);
        let mut last = self.in_window.lock().unwrap_or_else(|e| e.into_inner());
        if *last != Some(inside) {
            *last = Some(inside);
            drop(last);
            self.set_turtle(inside);
        }
    }

    fn apply(&self, s: &Settings) {
        let eff = if s.turtle { s.alt } else { s.normal };
        let now = Instant::now();
        if self.down.rate() != eff.down {
            self.down.set_rate(eff.down, now);
        }
        if self.up.rate() != eff.up {
            self.up.set_rate(eff.up, now);
        }
        self.bump();
    }

    fn bump(&self) {
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Wakes when any limit changes.
    pub(crate) fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// A torrent's buckets under the session's, with its own limits (0 = none).
    pub(crate) fn torrent(self: &Arc<Self>, own: RatePair) -> TorrentRates {
        self.torrent_of(own, [])
    }

    /// A torrent's buckets under the session's and those of the trackers it announces to
    /// (`urls`) that have a limit.
    pub(crate) fn torrent_of<'u>(
        self: &Arc<Self>,
        own: RatePair,
        urls: impl IntoIterator<Item = &'u str>,
    ) -> TorrentRates {
        let groups: Vec<Group> = if self.trackers.is_empty() {
            Vec::new()
        } else {
            let mut hosts: Vec<String> = urls
                .into_iter()
                .map(crate::engine::api::tracker_key)
                .collect();
            hosts.sort();
            hosts.dedup();
            hosts
                .iter()
                .filter_map(|h| self.trackers.get(h).cloned())
                .collect()
        };
        let down = Arc::new(Bucket::new(own.down));
        let up = Arc::new(Bucket::new(own.up));
        let chain =
            |session: &Arc<Bucket>, group: fn(&Group) -> &Arc<Bucket>, own: &Arc<Bucket>| {
                let mut v = vec![Arc::clone(session)];
                v.extend(groups.iter().map(|g| Arc::clone(group(g))));
                v.push(Arc::clone(own));
                Limiter::new(v)
            };
        TorrentRates {
            down: chain(&self.down, |g| &g.down, &down),
            up: chain(&self.up, |g| &g.up, &up),
            own_down: down,
            own_up: up,
            groups: groups.into(),
            session: Arc::clone(self),
            uploads_held: Arc::new(AtomicBool::new(false)),
        }
    }
}

/// How recent a wait on a torrent's buckets must be for its line to blame the limit.
const HELD_RECENTLY: Duration = Duration::from_secs(3);

/// One torrent's limiters (session's buckets, then its own).
#[derive(Debug, Clone)]
pub(crate) struct TorrentRates {
    pub down: Limiter,
    pub up: Limiter,
    own_down: Arc<Bucket>,
    own_up: Arc<Bucket>,
    /// Its trackers' limits (`[trackers."HOST"]`), between the session's and its own.
    groups: Arc<[Group]>,
    pub session: Arc<SessionRates>,
    /// Set by the session while a seed limit keeps this torrent, once complete, from
    /// unchoking peers it is not serving yet (`session::queue`: waiting for a seed slot, or
    /// idle). Read by its task's choker; a download ignores it until it completes.
    uploads_held: Arc<AtomicBool>,
}

impl TorrentRates {
    /// The limiters for a connection to `ip`: none when local peers are exempt and it is one.
    pub(crate) fn for_peer(&self, ip: IpAddr) -> (Limiter, Limiter) {
        if self.session.exempt_local && is_local(ip) {
            (Limiter::none(), Limiter::none())
        } else {
            (self.down.clone(), self.up.clone())
        }
    }

    pub(crate) fn own(&self) -> RatePair {
        RatePair {
            down: self.own_down.rate(),
            up: self.own_up.rate(),
        }
    }

    /// Whether the session holds this torrent's new unchokes back (see `uploads_held`).
    pub(crate) fn uploads_held(&self) -> bool {
        self.uploads_held.load(Ordering::Relaxed)
    }

    /// The session's word on new unchokes; returns whether it changed.
    pub(crate) fn hold_uploads(&self, on: bool) -> bool {
        // Read first: the queue asks this of every torrent at each evaluation, and a swap
        // would write (a locked instruction, the line taken from other cores) each time
        // where the flag seldom changes. Only the manager's loop writes it.
        if self.uploads_held.load(Ordering::Relaxed) == on {
            return false;
        }
        self.uploads_held.swap(on, Ordering::Relaxed) != on
    }

    /// Changes the torrent's own limits (None keeps one).
    pub(crate) fn set_own(&self, down: Option<u64>, up: Option<u64>) {
        let now = Instant::now();
        if let Some(d) = down {
            self.own_down.set_rate(d, now);
        }
        if let Some(u) = up {
            self.own_up.set_rate(u, now);
        }
        self.session.bump();
    }

    /// Per direction, whether a connection had to wait on these limiters lately.
    pub(crate) fn held(&self, now: Instant) -> HeldPair {
        HeldPair {
            down: self.down.held_within(HELD_RECENTLY, now),
            up: self.up.held_within(HELD_RECENTLY, now),
        }
    }

    /// Words for the torrent's line when the tightest limit over it is what holds it back
    /// (`api::limit_binds`).
    pub(crate) fn why(&self, down_rate: f64, up_rate: f64) -> Option<String> {
        self.why_at(down_rate, up_rate, Instant::now())
    }

    pub(crate) fn why_at(&self, down_rate: f64, up_rate: f64, now: Instant) -> Option<String> {
        let view = self.session.view();
        let session_name = if view.turtle {
            "turtle mode"
        } else {
            "session limit"
        };
        let own = self.own();
        let pick = |dir: &str, rate: f64, up: bool, by: &Limiter| {
            let of = |p: RatePair| if up { p.up } else { p.down };
            // Its own first, then its trackers', then the session's: the first of the
            // tightest is named.
            let limits = std::iter::once((of(own), "torrent limit"))
                .chain(self.groups.iter().map(|g| {
                    let b = if up { &g.up } else { &g.down };
                    (b.rate(), &*g.name)
                }))
                .chain(std::iter::once((of(view.effective), session_name)));
            let (limit, name) = tightest(limits)?;
            let limit_f = limit as f64;
            limit_binds(rate, limit_f, by.held_within(HELD_RECENTLY, now))
                .then(|| format!("limited: {dir} {} ({name})", crate::fmt::rate(limit_f)))
        };
        pick("down", down_rate, false, &self.down).or_else(|| pick("up", up_rate, true, &self.up))
    }
}

/// The lowest limit that is set (0 is none), the first named of equals.
fn tightest<'a>(limits: impl Iterator<Item = (u64, &'a str)>) -> Option<(u64, &'a str)> {
    limits
        .filter(|(l, _)| *l != 0)
        .fold(None, |best, (l, n)| match best {
            Some((b, _)) if b <= l => best,
            _ => Some((l, n)),
        })
}

/// Loopback, private (RFC 1918), link-local, and IPv6 unique-local addresses.
pub(crate) fn is_local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => a.is_loopback() || a.is_private() || a.is_link_local(),
        IpAddr::V6(a) => {
            if let Some(v4) = a.to_ipv4_mapped() {
                return is_local(IpAddr::V4(v4));
            }
            let seg = a.segments()[0];
            a.is_loopback() || (seg & 0xfe00) == 0xfc00 || (seg & 0xffc0) == 0xfe80
        }
    }
}
