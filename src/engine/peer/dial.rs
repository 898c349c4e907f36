//! Which transport a connection we dial runs over (`--transport`). `both`: uTP first, and TCP
//! too when uTP has not answered within a head start (or has failed before it ends); the first
//! to finish the BitTorrent handshake wins. A uTP-only peer (libtorrent with TCP off accepts TCP and resets it)
//! answers uTP within a round trip, long before TCP starts; a TCP-only peer costs the head
//! start once, since a peer silent over uTP is remembered (`UtpSocket::is_silent`) and dialed
//! over TCP directly until that expires.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::engine::api::PeerEnd;
use crate::engine::api::TransportPolicy;
use crate::engine::peer::ip_filter::IpFilter;
use crate::engine::peer::proxy::{Proxy, ProxyError};
use crate::engine::peer::stream::Transport;
pub(crate) use crate::engine::peer::tcp::tcp_connect;
use crate::net::utp::UtpSocket;
use crate::net::TransportKind;

pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A socket error as a peer's end; `during_handshake` tells a hang-up in the handshake from
/// one later.
pub(crate) fn io_end(e: &io::Error, during_handshake: bool) -> PeerEnd {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => PeerEnd::Refused,
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe => {
            if during_handshake {
                PeerEnd::ClosedDuringHandshake
            } else {
                PeerEnd::Reset
            }
        }
        io::ErrorKind::UnexpectedEof => {
            if during_handshake {
                PeerEnd::ClosedDuringHandshake
            } else {
                PeerEnd::ClosedByPeer
            }
        }
        io::ErrorKind::TimedOut => PeerEnd::ConnectTimeout,
        _ => match e.raw_os_error() {
            Some(libc::ENETUNREACH) | Some(libc::EHOSTUNREACH) | Some(libc::EADDRNOTAVAIL) => {
                PeerEnd::Unreachable(e.to_string())
            }
            _ => PeerEnd::Io(e.to_string()),
        },
    }
}

/// How long a uTP dial waits for the peer's answer (SYNs at 0 s and 1 s, the RTO's first
/// value) before the peer counts as silent over uTP.
pub(crate) const UTP_CONNECT_TIMEOUT: Duration = Duration::from_millis(2500);
/// With `--transport both`, TCP starts when uTP has not connected within this: a SYN's round
/// trip on most paths, and Happy Eyeballs' connection attempt delay (RFC 8305). A peer farther
/// away gets both attempts and keeps the first to finish the handshake, so a shorter head
/// start costs at most a TCP connection given up, while a TCP-only peer (the most common
/// kind) waits that much less the first time.
pub(crate) const UTP_HEAD_START: Duration = Duration::from_millis(250);

/// Which transports a dial may use: `--transport` and the session's uTP endpoint.
#[derive(Clone)]
pub(crate) struct Transports {
    pub policy: TransportPolicy,
    pub utp: Option<UtpSocket>,
    /// The session's blocklist: a blocked address is never dialed, whoever asks.
    pub filter: Arc<IpFilter>,
    /// The SOCKS5 proxy (`--proxy`): TCP dials go through it, never around it.
    pub proxy: Option<Arc<Proxy>>,
}

/// A dial refused by the blocklist, carried inside the dialer's `io::Error`.
#[derive(Debug)]
struct Blocked;

impl std::fmt::Display for Blocked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("blocked by blocklist")
    }
}

impl std::error::Error for Blocked {}

/// A uTP dial that got no answer, carried inside the dialer's `io::Error`.
#[derive(Debug)]
struct UtpSilent;

impl std::fmt::Display for UtpSilent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("no answer over uTP")
    }
}

impl std::error::Error for UtpSilent {}

/// A failed dial as a peer's end.
pub(crate) fn dial_end(e: &io::Error) -> PeerEnd {
    if e.get_ref().is_some_and(|i| i.is::<UtpSilent>()) {
        PeerEnd::UtpNoAnswer
    } else if e.get_ref().is_some_and(|i| i.is::<Blocked>()) {
        PeerEnd::Blocklisted
    } else if let Some(p) = e.get_ref().and_then(|i| i.downcast_ref::<ProxyError>()) {
        p.end()
    } else {
        io_end(e, false)
    }
}

/// One transport connection of `kind` (the caller checked that the policy allows it).
pub(crate) async fn dial(
    kind: TransportKind,
    addr: SocketAddr,
    local: Option<std::net::IpAddr>,
    t: &Transports,
) -> io::Result<Transport> {
    if t.filter.refuses_dial(addr.ip()) {
        return Err(io::Error::new(io::ErrorKind::PermissionDenied, Blocked));
    }
    // The kill switch, for every transport: TCP's source address would refuse too, but uTP's
    // socket sits on `lo` while the interface is missing and would reach a loopback peer
    // (a dial made before the torrent's first tick looked at the interface).
    if let Some(d) = crate::net::device::bound().filter(|d| !d.is_up()) {
        return Err(d.down_error());
    }
    match kind {
        // Under a proxy uTP's socket sends only through the proxy's relay
        // (`net/socks_relay.rs`), and nothing while it is down.
        TransportKind::Utp => {
            let Some(u) = &t.utp else {
                return Err(io::Error::other("uTP is not available (no UDP socket)"));
            };
            match tokio::time::timeout(UTP_CONNECT_TIMEOUT, u.connect(addr)).await {
                Ok(Ok(s)) => Ok(Transport::Utp(s)),
                Ok(Err(e)) if e.kind() != io::ErrorKind::TimedOut => Err(e),
                _ => Err(io::Error::new(io::ErrorKind::TimedOut, UtpSilent)),
            }
        }
        TransportKind::Tcp => {
            if let Some(proxy) = &t.proxy {
                // The proxy's own timeouts bound this (connect, then the SOCKS5 exchange).
                return match proxy.connect(addr, local).await {
                    Ok(s) => Ok(Transport::Tcp(s)),
                    Err(e) => Err(io::Error::other(e)),
                };
            }
            match tokio::time::timeout(CONNECT_TIMEOUT, tcp_connect(addr, local)).await {
                Err(_) => Err(io::ErrorKind::TimedOut.into()),
                Ok(Ok(s)) => {
                    let _ = s.set_nodelay(true);
                    Ok(Transport::Tcp(s))
                }
                Ok(Err(e)) => Err(e),
            }
        }
    }
}

/// Runs `attempt` (dial, encryption, handshakes) over the transports the policy allows; see
/// the module's comment for `both`.
pub(crate) async fn connect_by_policy<T, F, Fut>(
    addr: SocketAddr,
    t: &Transports,
    attempt: F,
) -> Result<T, PeerEnd>
where
    F: Fn(TransportKind) -> Fut,
    Fut: Future<Output = Result<T, PeerEnd>>,
{
    let utp = t.utp.as_ref().filter(|_| t.policy.utp());
    match (utp, t.policy.tcp()) {
        (None, false) => Err(PeerEnd::Io(
            "uTP is not available (no UDP socket) and TCP is off (--transport utp)".into(),
        )),
        (None, true) => attempt(TransportKind::Tcp).await,
        (Some(_), false) => attempt(TransportKind::Utp).await,
        (Some(u), true) if u.is_silent(addr) => {
            let r = attempt(TransportKind::Tcp).await;
            if r.is_err() {
                // Neither way works now: the peer may have been starting up when it was
                // silent over uTP, so the next attempt tries uTP again.
                u.forget_silent(addr);
            }
            r
        }
        (Some(u), true) => race(addr, u, attempt).await,
    }
}

async fn race<T, F, Fut>(addr: SocketAddr, u: &UtpSocket, attempt: F) -> Result<T, PeerEnd>
where
    F: Fn(TransportKind) -> Fut,
    Fut: Future<Output = Result<T, PeerEnd>>,
{
    let over_utp = attempt(TransportKind::Utp);
    // An attempt's future does nothing until polled: TCP is dialed when the head start is
    // over or as soon as uTP has failed (a reset or a refused handshake need not wait it out).
    let over_tcp = attempt(TransportKind::Tcp);
    let head_start = tokio::time::sleep(UTP_HEAD_START);
    tokio::pin!(over_utp, over_tcp, head_start);
    let (mut utp_end, mut tcp_end) = (None, None);
    let mut tcp_go = false;
    loop {
        tokio::select! {
            () = &mut head_start, if !tcp_go => tcp_go = true,
            r = &mut over_utp, if utp_end.is_none() => match r {
                Ok(x) => return Ok(x),
                Err(e) => {
                    if e == PeerEnd::UtpNoAnswer {
                        u.mark_silent(addr);
                    }
                    utp_end = Some(e);
                    tcp_go = true;
                }
            },
            r = &mut over_tcp, if tcp_go && tcp_end.is_none() => match r {
                Ok(x) => {
                    if utp_end.is_none() {
                        // TCP won while uTP was still waiting: next time, TCP directly.
                        u.mark_silent(addr);
                    }
                    return Ok(x);
                }
                // Nothing listens on TCP and uTP has been silent for the head start: the
                // peer is most likely down; do not wait out uTP's timeout as well.
                Err(PeerEnd::Refused) if utp_end.is_none() => return Err(PeerEnd::Refused),
                Err(e) => tcp_end = Some(e),
            },
        }
        if let (Some(ue), Some(te)) = (&utp_end, &tcp_end) {
            // A uTP attempt that got an answer and failed later says more than TCP's.
            return Err(if *ue == PeerEnd::UtpNoAnswer { te } else { ue }.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::utp::UtpConfig;
    use std::sync::Mutex;

    async fn both() -> Transports {
        let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let (utp, _listener) = UtpSocket::new(std::sync::Arc::new(udp), UtpConfig::default());
        Transports {
            policy: TransportPolicy::Both,
            utp: Some(utp),
            filter: Arc::default(),
            proxy: None,
        }
    }

    /// A fake attempt: each transport answers after its delay with its result; the calls
    /// are recorded.
    async fn fake(
        kind: TransportKind,
        calls: &Mutex<Vec<TransportKind>>,
        utp: (u64, Result<(), PeerEnd>),
        tcp: (u64, Result<(), PeerEnd>),
    ) -> Result<TransportKind, PeerEnd> {
        calls.lock().unwrap().push(kind);
        let (ms, r) = if kind == TransportKind::Utp { utp } else { tcp };
        tokio::time::sleep(Duration::from_millis(ms)).await;
        r.map(|()| kind)
    }

    const ADDR: &str = "127.0.0.9:6881";

    #[tokio::test]
    async fn a_peer_answering_utp_never_gets_a_tcp_dial() {
        let t = both().await;
        let calls = Mutex::new(Vec::new());
        let r = connect_by_policy(ADDR.parse().unwrap(), &t, |k| {
            fake(k, &calls, (5, Ok(())), (1, Err(PeerEnd::Reset)))
        })
        .await;
        assert_eq!(r, Ok(TransportKind::Utp));
        assert_eq!(*calls.lock().unwrap(), vec![TransportKind::Utp]);
    }

    /// A uTP attempt that fails fast (a reset, a handshake refused) lets TCP go at once.
    #[tokio::test]
    async fn a_failed_utp_attempt_ends_the_head_start() {
        let t = both().await;
        let calls = Mutex::new(Vec::new());
        let start = tokio::time::Instant::now();
        let r = connect_by_policy(ADDR.parse().unwrap(), &t, |k| {
            fake(k, &calls, (5, Err(PeerEnd::Reset)), (2, Ok(())))
        });
        assert_eq!(r.await, Ok(TransportKind::Tcp));
        assert!(start.elapsed() < UTP_HEAD_START, "{:?}", start.elapsed());
        assert_eq!(
            *calls.lock().unwrap(),
            vec![TransportKind::Utp, TransportKind::Tcp]
        );
    }

    #[tokio::test]
    async fn a_tcp_only_peer_costs_the_head_start_once() {
        let t = both().await;
        let addr: SocketAddr = ADDR.parse().unwrap();
        let calls = Mutex::new(Vec::new());
        let silent = (
            UTP_CONNECT_TIMEOUT.as_millis() as u64,
            Err(PeerEnd::UtpNoAnswer),
        );
        let start = tokio::time::Instant::now();
        let r = connect_by_policy(addr, &t, |k| fake(k, &calls, silent.clone(), (2, Ok(()))));
        assert_eq!(r.await, Ok(TransportKind::Tcp));
        let took = start.elapsed();
        assert!(
            took >= UTP_HEAD_START && took < UTP_HEAD_START * 2,
            "{took:?}"
        );
        // Remembered: the reconnect goes straight to TCP.
        calls.lock().unwrap().clear();
        let start = tokio::time::Instant::now();
        let r = connect_by_policy(addr, &t, |k| fake(k, &calls, silent.clone(), (2, Ok(()))));
        assert_eq!(r.await, Ok(TransportKind::Tcp));
        assert!(start.elapsed() < UTP_HEAD_START, "{:?}", start.elapsed());
        assert_eq!(*calls.lock().unwrap(), vec![TransportKind::Tcp]);
        // Neither works: uTP is tried again next time.
        let r = connect_by_policy(addr, &t, |k| {
            fake(k, &calls, silent.clone(), (2, Err(PeerEnd::Refused)))
        });
        assert_eq!(r.await, Err(PeerEnd::Refused));
        assert!(!t.utp.as_ref().unwrap().is_silent(addr));
    }

    /// A uTP-only libtorrent accepts TCP and resets it; a slow uTP answer still wins.
    #[tokio::test]
    async fn a_reset_over_tcp_waits_for_utp() {
        let t = both().await;
        let calls = Mutex::new(Vec::new());
        let r = connect_by_policy(ADDR.parse().unwrap(), &t, |k| {
            fake(
                k,
                &calls,
                (1500, Ok(())),
                (1, Err(PeerEnd::ClosedDuringHandshake)),
            )
        });
        assert_eq!(r.await, Ok(TransportKind::Utp));
    }

    #[tokio::test]
    async fn both_failing_reports_the_more_telling_reason() {
        let t = both().await;
        let addr: SocketAddr = ADDR.parse().unwrap();
        let calls = Mutex::new(Vec::new());
        let silent = (2500, Err(PeerEnd::UtpNoAnswer));
        let start = std::time::Instant::now();
        let r = connect_by_policy(addr, &t, |k| {
            fake(k, &calls, silent.clone(), (1, Err(PeerEnd::Refused)))
        });
        assert_eq!(r.await, Err(PeerEnd::Refused));
        assert!(
            start.elapsed() < UTP_HEAD_START * 2,
            "a refused TCP ends the wait"
        );
        let r = connect_by_policy(addr, &t, |k| {
            fake(
                k,
                &calls,
                (600, Err(PeerEnd::UtpNoAnswer)),
                (1, Err(PeerEnd::Reset)),
            )
        });
        assert_eq!(r.await, Err(PeerEnd::Reset));
        let t = both().await;
        let r = connect_by_policy(addr, &t, |k| {
            fake(
                k,
                &calls,
                (1, Err(PeerEnd::WrongInfoHash)),
                (1, Err(PeerEnd::Refused)),
            )
        });
        assert_eq!(r.await, Err(PeerEnd::WrongInfoHash));
    }

    #[tokio::test]
    async fn one_transport_policies_use_only_theirs() {
        let mut t = both().await;
        let calls = Mutex::new(Vec::new());
        t.policy = TransportPolicy::Utp;
        let r = connect_by_policy(ADDR.parse().unwrap(), &t, |k| {
            fake(k, &calls, (5, Err(PeerEnd::UtpNoAnswer)), (1, Ok(())))
        });
        assert_eq!(r.await, Err(PeerEnd::UtpNoAnswer));
        t.policy = TransportPolicy::Tcp;
        let r = connect_by_policy(ADDR.parse().unwrap(), &t, |k| {
            fake(k, &calls, (1, Ok(())), (1, Ok(())))
        });
        assert_eq!(r.await, Ok(TransportKind::Tcp));
        assert_eq!(
            *calls.lock().unwrap(),
            vec![TransportKind::Utp, TransportKind::Tcp]
        );
    }
}
