//! The kill switch's watcher (`--interface`): a session task that looks at the interface every
//! second and publishes whether it can carry traffic (`net::device`). Dials, announces and each
//! torrent's coordinator read that: while it is down no peer connection stays open, none is
//! dialed and no tracker is announced to; when it comes back they reconnect and announce.
//!
//! Polling, not rtnetlink's events: one getifaddrs (flags and addresses, `net::device::observe`) a
//! second costs nothing, needs no netlink parser (outside bytes) and no extra crate, and a
//! second is as fast as a VPN client notices its own tunnel dropped. Nothing leaks meanwhile:
//! every socket is bound to the device (SO_BINDTODEVICE), so the kernel drops what the
//! interface cannot carry instead of routing it elsewhere.
//!
//! The decision is pure ([`judge`], [`Watcher::observe`]) and tested below; the task only feeds
//! it observations.

use std::net::IpAddr;
use std::time::Duration;

use crate::net::device::{self, DownWhy, Link, Observation};

/// How often the interface is looked at.
const POLL: Duration = Duration::from_secs(1);

/// What an observation means: up with the address sockets leave from, or down and why. With
/// `bind` (`--bind`), only that address counts: the interface without it is down for us.
pub(crate) fn judge(obs: &Observation, bind: Option<IpAddr>) -> Link {
    if !obs.exists {
        return Link::Down(DownWhy::Missing);
    }
    if !obs.up {
        return Link::Down(DownWhy::Down);
    }
    let addr = match bind {
        Some(b) => obs.addrs.iter().copied().find(|a| *a == b),
        None => {
            // IPv4 first, then a global-ish IPv6 (a link-local one cannot reach peers).
            let v4 = obs.addrs.iter().copied().find(IpAddr::is_ipv4);
            let v6 = obs.addrs.iter().copied().find(|a| match a {
                IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) != 0xfe80,
                IpAddr::V4(_) => false,
            });
            v4.or(v6)
        }
    };
    match addr {
        Some(a) => Link::Up(a),
        None => Link::Down(DownWhy::NoAddress),
    }
}

/// What changed, for the log and for whoever acts on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Change {
    /// The first look.
    Started(Link),
    /// It can no longer carry traffic: stop everything.
    WentDown(DownWhy),
    /// Down for a different reason than before (still nothing sent).
    StillDown(DownWhy),
    /// It carries traffic again, from this address: reconnect and announce.
    CameBack(IpAddr),
    /// Up all along, but its address changed: new connections leave from the new one.
    Moved(IpAddr),
}

/// The watcher's memory: the last state it published, and the interface's index when the
/// long-lived sockets were last bound to it.
#[derive(Debug, Default)]
pub(crate) struct Watcher {
    last: Option<Link>,
    /// None until the first look; then the index the sockets are bound to (None: the
    /// interface was missing, they wait on `lo`, see `net::device::bind_long_lived`).
    index: Option<Option<u32>>,
}

impl Watcher {
    /// True when the interface exists with another index than the one the session's
    /// listeners and UDP socket were bound to: it was created since the session started, or
    /// deleted and created again, so they must be bound again (SO_BINDTODEVICE holds the
    /// index). The first look is taken before they are bound: its index is theirs.
    pub(crate) fn new_index(&mut self, obs: &Observation) -> bool {
        let Some(was) = self.index else {
            self.index = Some(obs.index);
            return false;
        };
        match obs.index {
            Some(now) if was != Some(now) => {
                self.index = Some(Some(now));
                true
            }
            _ => false,
        }
    }

    /// Takes one observation; returns the change it makes, if any.
    pub(crate) fn observe(&mut self, obs: &Observation, bind: Option<IpAddr>) -> Option<Change> {
        let now = judge(obs, bind);
        let before = self.last.replace(now);
        match (before, now) {
            (None, l) => Some(Change::Started(l)),
            (Some(b), n) if b == n => None,
            (Some(Link::Up(_)), Link::Down(why)) => Some(Change::WentDown(why)),
            (Some(Link::Down(_)), Link::Down(why)) => Some(Change::StillDown(why)),
            (Some(Link::Down(_)), Link::Up(a)) => Some(Change::CameBack(a)),
            (Some(Link::Up(_)), Link::Up(a)) => Some(Change::Moved(a)),
        }
    }
}

/// The line the log gets for a change.
pub(crate) fn describe(name: &str, change: Change) -> String {
    match change {
        Change::Started(Link::Up(a)) => {
            format!("interface {name} is up ({a}): every socket is bound to it")
        }
        Change::Started(Link::Down(why)) | Change::WentDown(why) | Change::StillDown(why) => {
            format!("interface {name} is {why}: nothing is sent until it is back")
        }
        Change::CameBack(a) => format!("interface {name} is back ({a}): reconnecting"),
        Change::Moved(a) => format!("interface {name} now has {a}: new connections leave from it"),
    }
}

/// The interface as the faces show it (`api::InterfaceStatus`); None without one.
pub(crate) fn status() -> Option<crate::engine::api::InterfaceStatus> {
    let d = device::bound()?;
    let link = d.link();
    Some(crate::engine::api::InterfaceStatus {
        name: d.name().to_string(),
        up: matches!(link, Link::Up(_)),
        address: match link {
            Link::Up(a) => Some(a),
            Link::Down(_) => None,
        },
        down: match link {
            Link::Up(_) => None,
            Link::Down(why) => Some(why.to_string()),
        },
    })
}

/// Watches `name` until the session ends; publishes each change and logs it.
pub(crate) fn spawn(name: &str, bind: Option<IpAddr>) -> tokio::task::JoinHandle<()> {
    let dev = device::set_bound(name);
    // The first look is taken now, so the listeners and the first dials see the truth.
    let mut watcher = Watcher::default();
    let step =
        move |watcher: &mut Watcher| {
            let obs = device::observe(dev.name());
            if watcher.new_index(&obs) {
                let failed = dev.rebind_long_lived();
                tracing::info!(
                "interface {} was created again: listeners and the UDP socket bound to it anew{}",
                dev.name(),
                if failed > 0 { format!(" ({failed} failed)") } else { String::new() }
            );
            }
            if let Some(change) = watcher.observe(&obs, bind) {
                dev.publish(judge(&obs, bind));
                let line = describe(dev.name(), change);
                match change {
                    Change::Started(Link::Up(_)) | Change::CameBack(_) | Change::Moved(_) => {
                        tracing::info!("{line}")
                    }
                    _ => tracing::warn!("{line}"),
                }
            }
        };
    step(&mut watcher);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(POLL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            step(&mut watcher);
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(exists: bool, up: bool, addrs: &[&str]) -> Observation {
        Observation {
            exists,
            up,
            addrs: addrs.iter().map(|a| a.parse().unwrap()).collect(),
            index: exists.then_some(7),
        }
    }

    #[test]
    fn a_new_index_means_bind_again() {
        let mut w = Watcher::default();
        let at = |index| Observation {
            index,
            ..obs(true, true, &["10.0.0.2"])
        };
        // Missing at the start: the sockets wait on `lo`, and are bound when it appears.
        assert!(!w.new_index(&at(None)));
        assert!(w.new_index(&at(Some(7))));
        assert!(!w.new_index(&at(Some(7))));
        // Gone, then created again with another index.
        assert!(!w.new_index(&at(None)));
        assert!(w.new_index(&at(Some(9))));
        assert!(!w.new_index(&at(Some(9))));
        // There from the start: its index is the sockets'.
        let mut w = Watcher::default();
        assert!(!w.new_index(&at(Some(3))));
        assert!(!w.new_index(&at(Some(3))));
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn judge_needs_existence_state_and_address() {
        assert_eq!(
            judge(&obs(false, false, &[]), None),
            Link::Down(DownWhy::Missing)
        );
        assert_eq!(
            judge(&obs(true, false, &["10.0.0.2"]), None),
            Link::Down(DownWhy::Down)
        );
        assert_eq!(
            judge(&obs(true, true, &[]), None),
            Link::Down(DownWhy::NoAddress)
        );
        assert_eq!(
            judge(&obs(true, true, &["fe80::1"]), None),
            Link::Down(DownWhy::NoAddress)
        );
        assert_eq!(
            judge(
                &obs(true, true, &["fe80::1", "2001:db8::5", "10.0.0.2"]),
                None
            ),
            Link::Up(ip("10.0.0.2"))
        );
        assert_eq!(
            judge(&obs(true, true, &["2001:db8::5"]), None),
            Link::Up(ip("2001:db8::5"))
        );
    }

    #[test]
    fn with_bind_only_that_address_counts() {
        let b = Some(ip("10.0.0.3"));
        assert_eq!(
            judge(&obs(true, true, &["10.0.0.2"]), b),
            Link::Down(DownWhy::NoAddress)
        );
        assert_eq!(
            judge(&obs(true, true, &["10.0.0.2", "10.0.0.3"]), b),
            Link::Up(ip("10.0.0.3"))
        );
    }

    #[test]
    fn a_sequence_of_observations() {
        let mut w = Watcher::default();
        let up = obs(true, true, &["10.0.0.2"]);
        let seen: Vec<Option<Change>> = [
            obs(false, false, &[]),
            obs(false, false, &[]),
            obs(true, false, &[]),
            obs(true, true, &[]),
            up.clone(),
            up.clone(),
            obs(true, true, &["10.0.0.9"]),
            obs(true, false, &["10.0.0.9"]),
            obs(false, false, &[]),
            up,
        ]
        .iter()
        .map(|o| w.observe(o, None))
        .collect();
        assert_eq!(
            seen,
            vec![
                Some(Change::Started(Link::Down(DownWhy::Missing))),
                None,
                Some(Change::StillDown(DownWhy::Down)),
                Some(Change::StillDown(DownWhy::NoAddress)),
                Some(Change::CameBack(ip("10.0.0.2"))),
                None,
                Some(Change::Moved(ip("10.0.0.9"))),
                Some(Change::WentDown(DownWhy::Down)),
                Some(Change::StillDown(DownWhy::Missing)),
                Some(Change::CameBack(ip("10.0.0.2"))),
            ]
        );
    }

    #[test]
    fn losing_the_address_is_going_down() {
        let mut w = Watcher::default();
        w.observe(&obs(true, true, &["10.0.0.2"]), None);
        assert_eq!(
            w.observe(&obs(true, true, &[]), None),
            Some(Change::WentDown(DownWhy::NoAddress))
        );
    }
}
