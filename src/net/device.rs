//! The network interface every peer socket is bound to (`--interface`), and its state now.
//!
//! A VPN user's kill switch: with `--interface wg0`, each socket ttui opens for peers,
//! trackers and web seeds carries SO_BINDTODEVICE, so the kernel never routes it elsewhere,
//! even when the VPN goes down and the default route points at the bare link. The session's
//! watcher (`engine/session/interface.rs`) publishes here whether the interface is up with an
//! address; dials, announces and the coordinator read it to stop at once while it is not.
//!
//! One value per process, set once when the session starts: there is one session per process
//! (ARCHITECTURE.md), and the sockets are opened deep in rooms (a dial, a tracker's HTTP
//! client, a web seed) that would otherwise each carry it through every signature.
//!
//! The interface's flags and addresses come from getifaddrs through `nix` (its safe wrapper:
//! ttui has no `unsafe`, and the standard library has no way to list an interface's
//! addresses).

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::OnceLock;

use tokio::sync::watch;

/// What the watcher last saw of the interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Link {
    /// Up with this address (the `--bind` one when given, else its first IPv4, else IPv6).
    Up(IpAddr),
    /// Not usable: nothing is sent.
    Down(DownWhy),
}

/// Why the interface cannot carry traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DownWhy {
    /// No interface of that name.
    Missing,
    /// It exists but is administratively or operationally down.
    Down,
    /// It is up but has no address (or not the `--bind` one).
    NoAddress,
}

impl std::fmt::Display for DownWhy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DownWhy::Missing => "missing",
            DownWhy::Down => "down",
            DownWhy::NoAddress => "without an address",
        })
    }
}

/// The interface sockets are bound to, and its state as the watcher last saw it.
#[derive(Debug)]
pub(crate) struct Device {
    name: String,
    link: watch::Sender<Link>,
}

static BOUND: OnceLock<Device> = OnceLock::new();

/// Sets the process's interface (first call wins; a second session in the same process, as
/// in tests, keeps the first). Starts as missing until the watcher has looked.
pub(crate) fn set_bound(name: &str) -> &'static Device {
    BOUND.get_or_init(|| Device {
        name: name.to_string(),
        link: watch::Sender::new(Link::Down(DownWhy::Missing)),
    })
}

/// The process's interface, when `--interface` was given.
pub(crate) fn bound() -> Option<&'static Device> {
    BOUND.get()
}

/// True when an interface is set and it cannot carry traffic now: nothing may be sent.
pub(crate) fn is_down() -> bool {
    bound().is_some_and(|d| !d.is_up())
}

impl Device {
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn link(&self) -> Link {
        *self.link.borrow()
    }

    pub(crate) fn is_up(&self) -> bool {
        matches!(self.link(), Link::Up(_))
    }

    /// The watcher's word.
    pub(crate) fn publish(&self, link: Link) {
        self.link
            .send_if_modified(|l| std::mem::replace(l, link) != link);
    }

    /// Binds the session's long-lived sockets to the interface again (it was created anew);
    /// returns how many failed.
    pub(crate) fn rebind_long_lived(&self) -> usize {
        let list = LONG_LIVED.lock().unwrap_or_else(|e| e.into_inner());
        list.iter()
            .filter(|s| s.bind_device(Some(self.name.as_bytes())).is_err())
            .count()
    }

    /// The error a socket gets while the interface is down (no packet leaves).
    pub(crate) fn down_error(&self) -> io::Error {
        io::Error::new(
            io::ErrorKind::NetworkDown,
            format!("interface {} is down: nothing is sent", self.name),
        )
    }
}

/// Binds `socket` to the process's interface when one is set (SO_BINDTODEVICE).
pub(crate) fn bind_socket(socket: &socket2::Socket) -> io::Result<()> {
    match bound() {
        Some(d) => socket.bind_device(Some(d.name.as_bytes())),
        None => Ok(()),
    }
}

/// Sockets that live as long as the session (the listeners, the UDP socket), as duplicates of
/// their descriptors: SO_BINDTODEVICE holds the interface's index, and an interface deleted
/// and created again (a VPN client restarted) has a new one, so these are bound again then.
static LONG_LIVED: std::sync::Mutex<Vec<socket2::Socket>> = std::sync::Mutex::new(Vec::new());

/// `bind_socket`, for a socket the session keeps: it is bound again when the interface's
/// index changes ([`Device::rebind_long_lived`]). While the interface is missing it is bound
/// to `lo` instead, so it hears nothing from outside and sends nothing out until then.
pub(crate) fn bind_long_lived(socket: &socket2::Socket) -> io::Result<()> {
    match bind_socket(socket) {
        Err(e) if e.raw_os_error() == Some(libc::ENODEV) => socket.bind_device(Some(b"lo"))?,
        r => r?,
    }
    if bound().is_some() {
        let dup = socket.try_clone()?;
        LONG_LIVED
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(dup);
    }
    Ok(())
}

/// The source address for a connection to `peer`: `local` (`--bind`) when of its family, else
/// the interface's address when of its family; an error while the interface is down.
pub(crate) fn source_for(peer: SocketAddr, local: Option<IpAddr>) -> io::Result<Option<IpAddr>> {
    let family = |ip: &IpAddr| ip.is_ipv4() == peer.is_ipv4();
    let from_device = match bound() {
        None => None,
        Some(d) => match d.link() {
            Link::Up(ip) => Some(ip),
            Link::Down(_) => return Err(d.down_error()),
        },
    };
    Ok(local.filter(family).or(from_device.filter(family)))
}

/// One look at an interface: what the kernel says now.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Observation {
    pub(crate) exists: bool,
    /// IFF_UP and IFF_RUNNING: administratively up and an operstate that carries traffic
    /// ("up", or "unknown" as tunnels such as WireGuard report).
    pub(crate) up: bool,
    pub(crate) addrs: Vec<IpAddr>,
    /// The kernel's index of it: a new one means it was deleted and created again.
    pub(crate) index: Option<u32>,
}

/// Looks at interface `name` through getifaddrs, which lists every link (an AF_PACKET entry
/// each, address or not) with its flags. Not /sys/class/net: sysfs shows the network
/// namespace it was mounted in, which need not be ours (a container, a test's namespace),
/// while getifaddrs asks the kernel over netlink in the process's own.
pub(crate) fn observe(name: &str) -> Observation {
    use nix::net::if_::InterfaceFlags as F;
    let Ok(all) = nix::ifaddrs::getifaddrs() else {
        return Observation::default();
    };
    let mut obs = Observation::default();
    for a in all.filter(|a| a.interface_name == name) {
        obs.exists = true;
        obs.up |= a.flags.contains(F::IFF_UP | F::IFF_RUNNING);
        let ip = a.address.and_then(|s| {
            s.as_sockaddr_in()
                .map(|v4| IpAddr::V4(v4.ip()))
                .or_else(|| s.as_sockaddr_in6().map(|v6| IpAddr::V6(v6.ip())))
        });
        obs.addrs.extend(ip);
    }
    if obs.exists {
        obs.index = nix::net::if_::if_nametoindex(name).ok();
    }
    obs
}

/// Why `--interface` (with `--bind`) cannot be used as given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum InterfaceError {
    #[error("interface {0:?}: not a network interface's name (1 to 15 bytes, no '/' nor space)")]
    Name(String),
    #[error("bind = {bind} is not an address of interface {name} (it has {has}): bind to one of its addresses, or leave bind out")]
    NotOurs {
        name: String,
        bind: IpAddr,
        has: String,
    },
}

/// Checks `--interface NAME` and, with `--bind`, that the address belongs to it. An interface
/// missing or without an address now passes: the session starts and waits for it.
pub(crate) fn check(name: &str, bind: Option<IpAddr>) -> Result<(), InterfaceError> {
    let bad = name.is_empty()
        || name.len() > 15
        || name == "."
        || name == ".."
        || name
            .bytes()
            .any(|b| b == b'/' || b.is_ascii_whitespace() || b == 0);
    if bad {
        return Err(InterfaceError::Name(name.to_string()));
    }
    let Some(bind) = bind.filter(|b| !b.is_unspecified()) else {
        return Ok(());
    };
    let obs = observe(name);
    if obs.addrs.is_empty() || obs.addrs.contains(&bind) {
        return Ok(());
    }
    let has: Vec<String> = obs.addrs.iter().map(ToString::to_string).collect();
    Err(InterfaceError::NotOurs {
        name: name.to_string(),
        bind,
        has: has.join(", "),
    })
}
