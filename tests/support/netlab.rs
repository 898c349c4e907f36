//! A small test internet of network namespaces, made inside the test command's namespace
//! (tests/run.sh gives each test binary a fresh one whose only interface is `lo`; root).
//!
//! ```text
//!                              core (router: routes only to the lab's own prefixes)
//!          ┌──────────────┬─────────┴──────┬──────────────────────┐
//!       vK │ 203.0.113.4K+1/30            │ 198.51.100.4K+1/30   │
//!          │ 2001:db8:K::1/64             │ 2001:db8:K::1/64     │
//!     eth0 │ 203.0.113.4K+2               │ 198.51.100.4K+2      │ (same, for another K)
//!          │ 2001:db8:K::2                │ 2001:db8:K::2        │
//!   ┌──────┴──────┐  ┌─────────────┐  ┌───┴─────────────────┐   │
//!   │ public host │  │ IPv6-only   │  │ NAT router (nft     │  ...
//!   │ (v4, or v4  │  │ host (no v4)│  │ masquerade, no port │
//!   │  and v6)    │  └─────────────┘  │ mapping: a CGNAT)   │
//!   └─────────────┘                   └───┬─────────────────┘
//!                                      hJ │ 192.0.2.4J+1/30, 2001:db8:P::1/64 (P = 0x100+J)
//!                                    eth0 │ 192.0.2.4J+2,    2001:db8:P::2
//!                                  ┌──────┴──────────────────────────┐
//!                                  │ host behind the NAT (IPv4 only, │
//!                                  │ or dual-stack: global IPv6)     │
//!                                  └─────────────────────────────────┘
//! ```
//!
//! A LAN (`Lab::lan`, hosts of `Kind::Lan`) is one Ethernet segment: a bridge in the core
//! (multicast snooping off, so a multicast frame reaches every port) with a veth to each of
//! its hosts, the core's side at `.1` of a /28 in 203.0.113.0/24 and 2001:db8:K::1/64 (it
//! takes four link numbers K..K+3, K a multiple of 4; hosts at .2, .3, … and ::2, ::3, …).
//! Multicast from a host (Local Service Discovery, TTL 1) reaches the others on that LAN and
//! nothing else: the core routes no multicast.
//!
//! ```text
//!                      core ── bridge lanN (203.0.113.4K+1/28, 2001:db8:K::1/64)
//!                       ├───────────────┬───────────────┐
//!                  eth0 │ .4K+2, ::2    │ .4K+3, ::3    │ …
//!                    host            host
//! ```
//!
//! Only documentation ranges are used (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24,
//! 2001:db8::/32). Hosts have a default route to their router (core, or their NAT), but the
//! core has no default route: it knows only the lab's links and the IPv6 prefixes behind each
//! NAT, so nothing leaves this internet (192.0.2.0/24 behind a NAT is unreachable from
//! outside it, as behind a real CGNAT). A host without IPv6 has no IPv6 route at all.
//!
//! Namespaces are named `tl<pid>x<lab>-<name>`, unique per test, so tests of one binary run in
//! parallel. `Lab`'s `Drop` deletes every namespace it made (and with them every veth in
//! them); every command it runs is bounded. Processes started in a host (`Host::spawn`) are
//! `Proc`s, killed by pid when dropped: declare the `Lab` before them, so they go first.

// Each test binary uses a different subset.
#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::common::{run_bounded, Proc};
use crate::prereq;

/// Bound for each `ip`/`nft`/`sysctl` command.
const CMD_LIMIT: Duration = Duration::from_secs(15);

static LABS: AtomicU32 = AtomicU32::new(0);

/// True when the lab can be built (`ip`, `nft`, `sysctl`, python3 for probes); otherwise
/// reports the skip (tests/prereq) and the test returns.
pub fn have_tools() -> bool {
    prereq::have_tools(&["ip", "nft", "sysctl", "/usr/bin/python3"])
}

/// What kind of host `Lab::add` makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A public IPv4 address only.
    Public4,
    /// A public IPv4 address and a global IPv6 one.
    Dual,
    /// A global IPv6 address only.
    Only6,
    /// Behind the named NAT (`Lab::nat`), IPv4 only.
    Nat4(usize),
    /// Behind the named NAT for IPv4, with a global IPv6 address of its own.
    Nat4Global6(usize),
    /// On the named LAN (`Lab::lan`): public IPv4 and IPv6 addresses on a shared segment.
    Lan(usize),
}

/// One host of the lab.
#[derive(Debug, Clone)]
pub struct Host {
    pub name: String,
    /// Its network namespace.
    pub ns: String,
    /// Its IPv4 address (public, or private behind a NAT).
    pub v4: Option<Ipv4Addr>,
    /// Its global IPv6 address.
    pub v6: Option<Ipv6Addr>,
    /// The NAT's public address, for a host behind one.
    pub nat_v4: Option<Ipv4Addr>,
}

impl Host {
    /// Its IPv6 address; panics when it has none.
    pub fn ip6(&self) -> Ipv6Addr {
        self.v6
            .unwrap_or_else(|| panic!("lab host {} has no IPv6 address", self.name))
    }

    /// Its IPv4 address; panics when it has none.
    pub fn ip4(&self) -> Ipv4Addr {
        self.v4
            .unwrap_or_else(|| panic!("lab host {} has no IPv4 address", self.name))
    }

    /// `cmd` run inside this host's namespace (`ip netns exec NS PROGRAM ARGS…`), with its
    /// environment and working directory.
    pub fn command(&self, cmd: &Command) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.ns])
            .arg(cmd.get_program())
            .args(cmd.get_args());
        for (k, v) in cmd.get_envs() {
            match v {
                Some(v) => c.env(k, v),
                None => c.env_remove(k),
            };
        }
        if let Some(dir) = cmd.get_current_dir() {
            c.current_dir(dir);
        }
        c
    }

    /// Starts `cmd` in this host (`ip netns exec` execs the program, so the pid is its own);
    /// logs go to `log_dir/<label>.stdout|stderr`; killed by pid when the `Proc` drops.
    pub fn spawn(&self, label: &str, cmd: &Command, log_dir: &Path) -> Proc {
        Proc::spawn(label, &mut self.command(cmd), log_dir)
    }

    /// Whether a TCP connection from this host to `addr` gets an answer (accepted or
    /// refused: the packet got there and back) within 3 s; no route, a host unreachable or
    /// silence is false.
    pub fn reaches(&self, addr: SocketAddr) -> bool {
        let family = if addr.is_ipv6() {
            "AF_INET6"
        } else {
            "AF_INET"
        };
        let script = format!(
            "import socket,sys\n\
             s=socket.socket(socket.{family},socket.SOCK_STREAM)\n\
             s.settimeout(3)\n\
             try:\n s.connect(({ip:?},{port}))\nexcept ConnectionRefusedError:\n pass\n\
             except OSError as e:\n print(e); sys.exit(1)\n",
            ip = addr.ip().to_string(),
            port = addr.port(),
        );
        let mut probe = Command::new("/usr/bin/python3");
        probe.args(["-c", &script]);
        let out = run_bounded(&mut self.command(&probe), CMD_LIMIT);
        out.status.success()
    }
}

struct Nat {
    ns: String,
    /// Its outside (public) IPv4 address.
    v4: Ipv4Addr,
    /// Its outside IPv6 address (the next hop to the prefixes behind it).
    v6: Ipv6Addr,
}

/// The lab: a core router and what `nat` and `add` attached to it.
pub struct Lab {
    prefix: String,
    core: String,
    /// Every namespace made, the core first.
    namespaces: Vec<String>,
    /// Links to the core made so far (K in the picture).
    core_links: u8,
    /// Links inside NATs made so far (J in the picture).
    inner_links: u8,
    nats: Vec<Nat>,
    lans: Vec<Lan>,
    hosts: Vec<Host>,
}

struct Lan {
    /// The bridge's name in the core.
    bridge: String,
    /// Its first link number (a multiple of 4).
    k: u8,
    /// Hosts on it so far.
    hosts: u8,
}

impl Lab {
    /// A lab with its core router and nothing else.
    pub fn new() -> Lab {
        std::fs::create_dir_all("/run/netns").unwrap_or_else(|e| panic!("/run/netns: {e}"));
        let n = LABS.fetch_add(1, Ordering::Relaxed);
        let prefix = format!("tl{}x{n}", std::process::id());
        let core = format!("{prefix}-core");
        let mut lab = Lab {
            prefix,
            core: core.clone(),
            namespaces: Vec::new(),
            core_links: 0,
            inner_links: 0,
            nats: Vec::new(),
            lans: Vec::new(),
            hosts: Vec::new(),
        };
        lab.make_ns(&core, true);
        lab
    }

    /// The core router's namespace.
    pub fn core_ns(&self) -> &str {
        &self.core
    }

    /// The namespace of NAT `nat`.
    pub fn nat_ns(&self, nat: usize) -> &str {
        &self.nats[nat].ns
    }

    /// A NAT router (nft masquerade, no port mapping) attached to the core; hosts go behind
    /// it with `Kind::Nat4` / `Kind::Nat4Global6` and the returned index.
    pub fn nat(&mut self, name: &str) -> usize {
        let ns = format!("{}-{name}", self.prefix);
        self.make_ns(&ns, true);
        let k = self.next_core_link();
        let (core_v4, v4) = v4_pair([198, 51, 100], k);
        let (core_v6, v6) = v6_pair(k as u16);
        self.link(&self.core.clone(), &format!("v{k}"), &ns, "eth0");
        addr(&self.core, &format!("v{k}"), core_v4.into(), 30);
        addr(&self.core, &format!("v{k}"), core_v6.into(), 64);
        addr(&ns, "eth0", v4.into(), 30);
        addr(&ns, "eth0", v6.into(), 64);
        run(
            &ns,
            &["ip", "route", "add", "default", "via", &core_v4.to_string()],
        );
        run(
            &ns,
            &[
                "ip",
                "-6",
                "route",
                "add",
                "default",
                "via",
                &core_v6.to_string(),
            ],
        );
        run(&ns, &["nft", "add", "table", "ip", "nat"]);
        run(
            &ns,
            &[
                "nft",
                "add",
                "chain",
                "ip",
                "nat",
                "post",
                "{ type nat hook postrouting priority 100 ; }",
            ],
        );
        run(
            &ns,
            &[
                "nft",
                "add",
                "rule",
                "ip",
                "nat",
                "post",
                "oifname",
                "eth0",
                "masquerade",
            ],
        );
        // Unsolicited UDP from outside is dropped, as a CGNAT drops it, before conntrack
        // confirms it: delivered to the router (and answered by ICMP), it would leave a
        // conntrack entry holding the NAT's port for that remote, so a hole punch after a
        // failed uTP dial would go out from another port and never meet the other side.
        run(&ns, &["nft", "add", "table", "ip", "guard"]);
        run(
            &ns,
            &[
                "nft",
                "add",
                "chain",
                "ip",
                "guard",
                "input",
                "{ type filter hook input priority 0 ; }",
            ],
        );
        run(
            &ns,
            &[
                "nft", "add", "rule", "ip", "guard", "input", "iifname", "eth0", "meta", "l4proto",
                "udp", "drop",
            ],
        );
        self.nats.push(Nat { ns, v4, v6 });
        self.nats.len() - 1
    }

    /// A LAN attached to the core (see the module's doc); hosts join it with `Kind::Lan` and
    /// the returned index.
    pub fn lan(&mut self) -> usize {
        // Four link numbers, the first a multiple of 4: 203.0.113.4K/28 is all the LAN's.
        while self.core_links % 4 != 3 {
            self.core_links += 1;
        }
        let k = self.next_core_link();
        self.core_links += 3;
        assert!(self.core_links < 63, "too many links in one lab");
        let bridge = format!("lan{}", self.lans.len());
        let core = self.core.clone();
        run(
            &core,
            &[
                "ip",
                "link",
                "add",
                "name",
                &bridge,
                "type",
                "bridge",
                "mcast_snooping",
                "0",
            ],
        );
        run(&core, &["ip", "link", "set", &bridge, "up"]);
        addr(
            &core,
            &bridge,
            Ipv4Addr::new(203, 0, 113, 4 * k + 1).into(),
            28,
        );
        addr(&core, &bridge, v6_pair(k as u16).0.into(), 64);
        self.lans.push(Lan {
            bridge,
            k,
            hosts: 0,
        });
        self.lans.len() - 1
    }

    /// A host of `kind`, named `name` in this lab.
    pub fn add(&mut self, name: &str, kind: Kind) -> &Host {
        assert!(
            self.hosts.iter().all(|h| h.name != name),
            "lab host {name} twice"
        );
        let ns = format!("{}-{name}", self.prefix);
        self.make_ns(&ns, false);
        let mut host = Host {
            name: name.to_string(),
            ns: ns.clone(),
            v4: None,
            v6: None,
            nat_v4: None,
        };
        match kind {
            Kind::Public4 | Kind::Dual | Kind::Only6 => {
                let k = self.next_core_link();
                let dev = format!("v{k}");
                self.link(&self.core.clone(), &dev, &ns, "eth0");
                if kind != Kind::Only6 {
                    let (gw, ip) = v4_pair([203, 0, 113], k);
                    addr(&self.core, &dev, gw.into(), 30);
                    addr(&ns, "eth0", ip.into(), 30);
                    run(
                        &ns,
                        &["ip", "route", "add", "default", "via", &gw.to_string()],
                    );
                    host.v4 = Some(ip);
                }
                if kind != Kind::Public4 {
                    let (gw, ip) = v6_pair(k as u16);
                    addr(&self.core, &dev, gw.into(), 64);
                    addr(&ns, "eth0", ip.into(), 64);
                    run(
                        &ns,
                        &[
                            "ip",
                            "-6",
                            "route",
                            "add",
                            "default",
                            "via",
                            &gw.to_string(),
                        ],
                    );
                    host.v6 = Some(ip);
                }
            }
            Kind::Lan(lan) => {
                let core = self.core.clone();
                let (bridge, k, n) = {
                    let l = self
                        .lans
                        .get_mut(lan)
                        .unwrap_or_else(|| panic!("no LAN {lan} in this lab"));
                    l.hosts += 1;
                    assert!(l.hosts <= 13, "too many hosts on one LAN");
                    (l.bridge.clone(), l.k, l.hosts)
                };
                let dev = format!("{bridge}p{n}");
                self.link(&core, &dev, &ns, "eth0");
                run(&core, &["ip", "link", "set", &dev, "master", &bridge]);
                let gw = Ipv4Addr::new(203, 0, 113, 4 * k + 1);
                let ip = Ipv4Addr::new(203, 0, 113, 4 * k + 1 + n);
                addr(&ns, "eth0", ip.into(), 28);
                run(
                    &ns,
                    &["ip", "route", "add", "default", "via", &gw.to_string()],
                );
                let (gw6, _) = v6_pair(k as u16);
                let ip6 = Ipv6Addr::new(0x2001, 0xdb8, k as u16, 0, 0, 0, 0, 1 + n as u16);
                addr(&ns, "eth0", ip6.into(), 64);
                run(
                    &ns,
                    &[
                        "ip",
                        "-6",
                        "route",
                        "add",
                        "default",
                        "via",
                        &gw6.to_string(),
                    ],
                );
                host.v4 = Some(ip);
                host.v6 = Some(ip6);
            }
            Kind::Nat4(nat) | Kind::Nat4Global6(nat) => {
                let j = self.next_inner_link();
                let (router, router_v6_next_hop, router_v4) = {
                    let n = self
                        .nats
                        .get(nat)
                        .unwrap_or_else(|| panic!("no NAT {nat} in this lab"));
                    (n.ns.clone(), n.v6, n.v4)
                };
                let dev = format!("h{j}");
                self.link(&router, &dev, &ns, "eth0");
                let (gw, ip) = v4_pair([192, 0, 2], j);
                addr(&router, &dev, gw.into(), 30);
                addr(&ns, "eth0", ip.into(), 30);
                run(
                    &ns,
                    &["ip", "route", "add", "default", "via", &gw.to_string()],
                );
                host.v4 = Some(ip);
                host.nat_v4 = Some(router_v4);
                if matches!(kind, Kind::Nat4Global6(_)) {
                    let (gw6, ip6) = v6_pair(0x100 + j as u16);
                    addr(&router, &dev, gw6.into(), 64);
                    addr(&ns, "eth0", ip6.into(), 64);
                    run(
                        &ns,
                        &[
                            "ip",
                            "-6",
                            "route",
                            "add",
                            "default",
                            "via",
                            &gw6.to_string(),
                        ],
                    );
                    // The core reaches that prefix through the NAT's outside address.
                    run(
                        &self.core,
                        &[
                            "ip",
                            "-6",
                            "route",
                            "add",
                            &format!("{}/64", prefix_of(0x100 + j as u16)),
                            "via",
                            &router_v6_next_hop.to_string(),
                        ],
                    );
                    host.v6 = Some(ip6);
                }
            }
        }
        self.hosts.push(host);
        self.hosts.last().unwrap_or_else(|| unreachable!())
    }

    /// The host named `name`; panics when there is none.
    pub fn host(&self, name: &str) -> &Host {
        self.hosts
            .iter()
            .find(|h| h.name == name)
            .unwrap_or_else(|| panic!("no lab host {name}"))
    }

    /// The core's routing tables (both families), for a failing test's message.
    pub fn core_routes(&self) -> String {
        let mut s = String::new();
        for fam in ["-4", "-6"] {
            let out = run_bounded(
                Command::new("ip").args(["-n", &self.core, fam, "route", "show"]),
                CMD_LIMIT,
            );
            s.push_str(&String::from_utf8_lossy(&out.stdout));
        }
        s
    }

    fn next_core_link(&mut self) -> u8 {
        self.core_links += 1;
        assert!(self.core_links < 63, "too many links in one lab");
        self.core_links
    }

    fn next_inner_link(&mut self) -> u8 {
        self.inner_links += 1;
        assert!(
            self.inner_links < 63,
            "too many hosts behind NATs in one lab"
        );
        self.inner_links
    }

    /// A namespace with `lo` up, no DAD (addresses usable at once), forwarding when it routes.
    fn make_ns(&mut self, ns: &str, router: bool) {
        // Left by an earlier run of this pid (a recycled pid after a kill): start clean.
        let _ = run_bounded(Command::new("ip").args(["netns", "del", ns]), CMD_LIMIT);
        run_plain(&["ip", "netns", "add", ns]);
        self.namespaces.push(ns.to_string());
        run(ns, &["ip", "link", "set", "lo", "up"]);
        let mut keys = vec![
            "net.ipv6.conf.all.disable_ipv6=0",
            "net.ipv6.conf.default.disable_ipv6=0",
            "net.ipv6.conf.all.accept_dad=0",
            "net.ipv6.conf.default.accept_dad=0",
        ];
        if router {
            keys.extend(["net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"]);
        }
        for key in keys {
            run(ns, &["sysctl", "-qw", key]);
        }
    }

    /// A veth pair made right in the two namespaces, both ends up.
    fn link(&self, ns_a: &str, dev_a: &str, ns_b: &str, dev_b: &str) {
        run_plain(&[
            "ip", "-n", ns_a, "link", "add", dev_a, "type", "veth", "peer", "name", dev_b, "netns",
            ns_b,
        ]);
        run(ns_a, &["ip", "link", "set", dev_a, "up"]);
        run(ns_b, &["ip", "link", "set", dev_b, "up"]);
    }
}

impl Default for Lab {
    fn default() -> Self {
        Lab::new()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        // Deleting a namespace deletes the veth ends in it (and so their peers).
        for ns in self.namespaces.iter().rev() {
            let mut cmd = Command::new("ip");
            cmd.args(["netns", "del", ns]);
            // Not run_bounded: it panics, and a panic in a drop during a panic aborts.
            if let Ok(mut child) = cmd
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
            {
                let deadline = std::time::Instant::now() + CMD_LIMIT;
                while matches!(child.try_wait(), Ok(None)) && std::time::Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(10));
                }
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

/// Link `k`'s IPv4 pair in `net`.0/24: (the router's .4k+1, the far end's .4k+2).
fn v4_pair(net: [u8; 3], k: u8) -> (Ipv4Addr, Ipv4Addr) {
    let [a, b, c] = net;
    (
        Ipv4Addr::new(a, b, c, 4 * k + 1),
        Ipv4Addr::new(a, b, c, 4 * k + 2),
    )
}

/// 2001:db8:`k`::/64.
fn prefix_of(k: u16) -> Ipv6Addr {
    Ipv6Addr::new(0x2001, 0xdb8, k, 0, 0, 0, 0, 0)
}

/// Link `k`'s IPv6 pair in 2001:db8:`k`::/64: (the router's ::1, the far end's ::2).
fn v6_pair(k: u16) -> (Ipv6Addr, Ipv6Addr) {
    (
        Ipv6Addr::new(0x2001, 0xdb8, k, 0, 0, 0, 0, 1),
        Ipv6Addr::new(0x2001, 0xdb8, k, 0, 0, 0, 0, 2),
    )
}

fn addr(ns: &str, dev: &str, ip: IpAddr, len: u8) {
    let cidr = format!("{ip}/{len}");
    if ip.is_ipv6() {
        run(ns, &["ip", "-6", "addr", "add", &cidr, "dev", dev, "nodad"]);
    } else {
        run(ns, &["ip", "addr", "add", &cidr, "dev", dev]);
    }
}

/// Runs `args` inside `ns`, bounded; panics with its stderr on failure.
fn run(ns: &str, args: &[&str]) {
    let mut full = vec!["ip", "netns", "exec", ns];
    full.extend_from_slice(args);
    run_plain(&full);
}

fn run_plain(args: &[&str]) {
    let out = run_bounded(Command::new(args[0]).args(&args[1..]), CMD_LIMIT);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
