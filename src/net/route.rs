//! Whether the kernel has a route to an address: asked by connecting a UDP socket, which only
//! looks the route up (no packet leaves). Used so that nothing is tried over IPv6 on a host
//! with no IPv6 route (a peer's IPv6 address is then not dialed at all, rather than failing
//! with "network unreachable" again and again), while `::1` and the IPv6 a host does have
//! keep working. Answers are kept a minute per /48, since a laptop's networks come and go.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long an answer is kept.
const KEEP: Duration = Duration::from_secs(60);
/// Prefixes remembered at once: a tracker's list of thousands of addresses costs at most
/// this many lookups a minute, and a bounded table.
const MAX_KEPT: usize = 1024;

/// Whether the kernel has a route to `to` now (no cache).
pub(crate) fn routed(to: &SocketAddr) -> bool {
    let local: SocketAddr = match to {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    std::net::UdpSocket::bind(local).is_ok_and(|s| s.connect(to).is_ok())
}

/// Each /48 asked about lately: its answer and when it was found.
type Answers = HashMap<[u16; 3], (bool, Instant)>;

static KEPT: Mutex<Option<Answers>> = Mutex::new(None);

/// Whether an IPv6 peer at `ip` can be reached from here (IPv4 always answers yes: a host
/// without IPv4 routes is rare, and its dials fail at once).
pub(crate) fn reaches(ip: IpAddr) -> bool {
    let IpAddr::V6(v6) = ip else {
        return true;
    };
    if v6.is_loopback() {
        return routed(&SocketAddr::from((v6, 9)));
    }
    let s = v6.segments();
    let key = [s[0], s[1], s[2]];
    let now = Instant::now();
    let mut kept = KEPT.lock().unwrap_or_else(|e| e.into_inner());
    let kept = kept.get_or_insert_with(HashMap::new);
    if let Some(&(answer, at)) = kept.get(&key) {
        if now.duration_since(at) < KEEP {
            return answer;
        }
    }
    let answer = routed(&SocketAddr::from((v6, 9)));
    if kept.len() >= MAX_KEPT {
        kept.retain(|_, (_, at)| now.duration_since(*at) < KEEP);
        if kept.len() >= MAX_KEPT {
            kept.clear();
        }
    }
    kept.insert(key, (answer, now));
    answer
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_always_and_ipv6_as_the_kernel_routes_it() {
        assert!(reaches(IpAddr::from([192, 0, 2, 1])));
        let doc = IpAddr::from(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1));
        let direct = routed(&SocketAddr::from((doc, 9)));
        // Asked twice (the second from the table): the same as the kernel says.
        assert_eq!(reaches(doc), direct);
        assert_eq!(reaches(doc), direct);
        let lo = SocketAddr::from((Ipv6Addr::LOCALHOST, 9));
        assert_eq!(reaches(lo.ip()), routed(&lo));
    }
}
