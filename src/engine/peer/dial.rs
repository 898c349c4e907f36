//! Which transport a connection we dial runs over (`--transport`). `both`: uTP and TCP are
//! dialed at once and uTP is preferred; the first to finish the BitTorrent handshake wins.
//! TCP's connect measures the round trip (the peer's kernel answers its SYN), and uTP's SYN
//! left with it, so a peer that speaks uTP answers about as soon: TCP's connection is held,
//! unused, for that long again (`tcp_held_for`, at least `UTP_GRACE_FLOOR`, at most
//! `UTP_HEAD_START`), and for the whole head start once uTP has answered. A TCP-only peer
//! (libtorrent with uTP off, rqbit, aria2) thus costs a round trip or two, not the head start
//! it cost when TCP was dialed only after it; libtorrent and Transmission dial uTP alone and
//! fall back to TCP only after uTP's connect timeout. A uTP-only peer (libtorrent with TCP
//! off accepts TCP and resets it) answers uTP within a round trip, so its TCP connection is
//! closed unused. A peer silent over uTP is remembered (`UtpSocket::is_silent`) and dialed
//! over TCP alone until that expires.

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
pub(crate) use crate::net::tcp::tcp_connect;
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
/// With `--transport both`, the longest TCP's connection waits for uTP: a SYN's round trip on
/// most paths, and Happy Eyeballs' connection attempt delay (RFC 8305). Once uTP has
/// answered, TCP waits this long before it starts its handshake as well (a uTP connection
/// that answered and then stalls); a peer farther away than this is raced on both.
pub(crate) const UTP_HEAD_START: Duration = Duration::from_millis(250);
/// The least TCP's connection waits for uTP: RFC 8305's floor for a delay drawn from a
/// measured round trip (10 ms), plus room for the peer's program to be scheduled (its kernel
/// answers TCP's SYN, the program itself uTP's).
pub(crate) const UTP_GRACE_FLOOR: Duration = Duration::from_millis(30);

/// How long after a race's start TCP's connection waits for uTP, when TCP connected after
/// `tcp` and uTP has not answered yet: that round trip again, within the floor and the head
/// start.
pub(crate) fn tcp_held_for(tcp: Duration) -> Duration {
    (tcp + tcp.max(UTP_GRACE_FLOOR)).min(UTP_HEAD_START)
}

/// Where the uTP leg of a race is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum UtpLeg {
    Dialing,
    /// Its transport connected: the peer speaks uTP.
    Answered,
    /// Its attempt failed.
    Ended,
}

/// What the two legs of a race share: when it started, where uTP is, and whether TCP was
/// let go (a second dial of the TCP leg, MSE's plain retry, is not held again).
struct Race {
    start: tokio::time::Instant,
    utp: tokio::sync::watch::Sender<UtpLeg>,
    tcp_let_go: std::sync::atomic::AtomicBool,
}

impl Race {
    fn new() -> Race {
        Race {
            start: tokio::time::Instant::now(),
            utp: tokio::sync::watch::Sender::new(UtpLeg::Dialing),
            tcp_let_go: std::sync::atomic::AtomicBool::new(false),
        }
    }

    fn utp_answered(&self) -> bool {
        *self.utp.borrow() != UtpLeg::Dialing
    }

    fn set_utp(&self, to: UtpLeg) {
        self.utp.send_if_modified(|at| {
            // Ended is final: a late connect of a failed attempt changes nothing.
            let change = *at != to && *at != UtpLeg::Ended;
            if change {
                *at = to;
            }
            change
        });
    }

    /// TCP's connect ended: waits while uTP may still win (see the module's comment).
    async fn hold_tcp(&self) {
        use std::sync::atomic::Ordering;
        if self.tcp_let_go.load(Ordering::Relaxed) {
            return;
        }
        let held_for = tcp_held_for(self.start.elapsed());
        let mut utp = self.utp.subscribe();
        loop {
            let until = match *utp.borrow_and_update() {
                UtpLeg::Ended => break,
                UtpLeg::Answered => self.start + UTP_HEAD_START,
                UtpLeg::Dialing => self.start + held_for,
            };
            tokio::select! {
                () = tokio::time::sleep_until(until) => break,
                changed = utp.changed() => if changed.is_err() { break },
            }
        }
        self.tcp_let_go.store(true, Ordering::Relaxed);
    }
}

/// One transport an attempt runs over; in a race (`--transport both`) it shares the race's
/// state with the other leg.
#[derive(Clone)]
pub(crate) struct Leg {
    pub kind: TransportKind,
    race: Option<Arc<Race>>,
}

impl Leg {
    /// A transport tried on its own.
    pub(crate) fn alone(kind: TransportKind) -> Leg {
        Leg { kind, race: None }
    }

    /// The transport's connect ended (`connected`: it did). uTP's tells the race the peer
    /// answers over uTP; TCP's waits here, its connection unused, while uTP may still win.
    pub(crate) async fn connect_ended(&self, connected: bool) {
        let Some(race) = &self.race else { return };
        match self.kind {
            TransportKind::Utp if connected => race.set_utp(UtpLeg::Answered),
            TransportKind::Utp | TransportKind::WebRtc => {}
            TransportKind::Tcp => race.hold_tcp().await,
        }
    }
}

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

/// One transport connection over `leg` (the caller checked that the policy allows it); in a
/// race, TCP's returns only when uTP has had its chance (`Leg::connect_ended`).
pub(crate) async fn dial(
    leg: &Leg,
    addr: SocketAddr,
    local: Option<std::net::IpAddr>,
    t: &Transports,
) -> io::Result<Transport> {
    let r = dial_transport(leg.kind, addr, local, t).await;
    leg.connect_ended(r.is_ok()).await;
    r
}

async fn dial_transport(
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
        // A WebRTC peer has no address to dial: its connection starts from an offer
        // relayed by a WebSocket tracker (`tracker/websocket/rtc.rs`).
        TransportKind::WebRtc => Err(io::Error::other(
            "a WebRTC peer is reached through its tracker's offers, not dialed",
        )),
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
    F: Fn(Leg) -> Fut,
    Fut: Future<Output = Result<T, PeerEnd>>,
{
    let utp = t.utp.as_ref().filter(|_| t.policy.utp());
    match (utp, t.policy.tcp()) {
        (None, false) => Err(PeerEnd::Io(
            "uTP is not available (no UDP socket) and TCP is off (--transport utp)".into(),
        )),
        (None, true) => attempt(Leg::alone(TransportKind::Tcp)).await,
        (Some(_), false) => attempt(Leg::alone(TransportKind::Utp)).await,
        (Some(u), true) if u.is_silent(addr) => {
            let r = attempt(Leg::alone(TransportKind::Tcp)).await;
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
    F: Fn(Leg) -> Fut,
    Fut: Future<Output = Result<T, PeerEnd>>,
{
    let race = Arc::new(Race::new());
    let leg = |kind| Leg {
        kind,
        race: Some(Arc::clone(&race)),
    };
    // Both dial at once; TCP's attempt waits in its dial while uTP may still win.
    let over_utp = attempt(leg(TransportKind::Utp));
    let over_tcp = attempt(leg(TransportKind::Tcp));
    tokio::pin!(over_utp, over_tcp);
    let (mut utp_end, mut tcp_end) = (None, None);
    loop {
        tokio::select! {
            r = &mut over_utp, if utp_end.is_none() => match r {
                Ok(x) => return Ok(x),
                Err(e) => {
                    if e == PeerEnd::UtpNoAnswer {
                        u.mark_silent(addr);
                    }
                    race.set_utp(UtpLeg::Ended);
                    utp_end = Some(e);
                }
            },
            r = &mut over_tcp, if tcp_end.is_none() => match r {
                Ok(x) => {
                    if !race.utp_answered() {
                        // TCP won while uTP was still silent: next time, TCP directly.
                        u.mark_silent(addr);
                    }
                    return Ok(x);
                }
                // Nothing listens on TCP and uTP has been silent while TCP was held: the
                // peer is most likely down; do not wait out uTP's timeout as well.
                Err(PeerEnd::Refused) if !race.utp_answered() => return Err(PeerEnd::Refused),
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

    /// How a fake transport behaves: its connect ends after `connect` ms (`connects` or not),
    /// then the handshakes end after `then` ms more with `end`.
    #[derive(Clone)]
    struct Way {
        connect: u64,
        connects: bool,
        then: u64,
        end: Result<(), PeerEnd>,
    }

    fn works(connect: u64, then: u64) -> Way {
        Way {
            connect,
            connects: true,
            then,
            end: Ok(()),
        }
    }

    fn fails_after(connect: u64, then: u64, e: PeerEnd) -> Way {
        Way {
            end: Err(e),
            ..works(connect, then)
        }
    }

    fn no_connect(connect: u64, e: PeerEnd) -> Way {
        Way {
            connects: false,
            ..fails_after(connect, 0, e)
        }
    }

    /// uTP to a peer that does not speak it: nothing comes back until the timeout.
    fn silent() -> Way {
        no_connect(UTP_CONNECT_TIMEOUT.as_millis() as u64, PeerEnd::UtpNoAnswer)
    }

    /// What the fakes did, in order: a dial, then a handshake begun on a connection.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Step {
        Dial(TransportKind),
        Handshake(TransportKind),
    }

    /// A fake attempt over `leg`, as `connect_encrypted_as` makes one: the transport's
    /// connect (ended as `dial` ends it), then the handshakes.
    async fn fake(
        leg: Leg,
        steps: &Mutex<Vec<Step>>,
        utp: &Way,
        tcp: &Way,
    ) -> Result<TransportKind, PeerEnd> {
        let kind = leg.kind;
        steps.lock().unwrap().push(Step::Dial(kind));
        let way = if kind == TransportKind::Utp { utp } else { tcp };
        tokio::time::sleep(Duration::from_millis(way.connect)).await;
        leg.connect_ended(way.connects).await;
        if way.connects {
            steps.lock().unwrap().push(Step::Handshake(kind));
            tokio::time::sleep(Duration::from_millis(way.then)).await;
        }
        way.end.clone().map(|()| kind)
    }

    const ADDR: &str = "127.0.0.9:6881";
    use Step::{Dial, Handshake};
    use TransportKind::{Tcp, Utp};

    async fn run(
        t: &Transports,
        steps: &Mutex<Vec<Step>>,
        utp: Way,
        tcp: Way,
    ) -> Result<TransportKind, PeerEnd> {
        connect_by_policy(ADDR.parse().unwrap(), t, |leg| fake(leg, steps, &utp, &tcp)).await
    }

    #[test]
    fn tcp_waits_for_utp_a_round_trip_again_within_the_floor_and_the_head_start() {
        let ms = Duration::from_millis;
        assert_eq!(tcp_held_for(ms(0)), UTP_GRACE_FLOOR);
        assert_eq!(tcp_held_for(ms(10)), ms(10) + UTP_GRACE_FLOOR);
        assert_eq!(tcp_held_for(ms(100)), ms(200));
        assert_eq!(tcp_held_for(ms(200)), UTP_HEAD_START);
    }

    /// TCP is dialed at once too, but a peer answering uTP gets no TCP handshake.
    #[tokio::test]
    async fn a_peer_answering_utp_gets_no_tcp_handshake() {
        let t = both().await;
        let steps = Mutex::new(Vec::new());
        let r = run(&t, &steps, works(5, 5), works(1, 1)).await;
        assert_eq!(r, Ok(Utp));
        let steps = steps.lock().unwrap().clone();
        assert!(steps.contains(&Dial(Tcp)), "{steps:?}");
        assert!(!steps.contains(&Handshake(Tcp)), "{steps:?}");
        assert!(!t.utp.as_ref().unwrap().is_silent(ADDR.parse().unwrap()));
    }

    /// A uTP attempt that fails fast (a reset, a handshake refused) lets TCP go at once.
    #[tokio::test]
    async fn a_failed_utp_attempt_lets_tcp_go() {
        let t = both().await;
        let steps = Mutex::new(Vec::new());
        let start = tokio::time::Instant::now();
        let r = run(&t, &steps, fails_after(2, 3, PeerEnd::Reset), works(1, 2)).await;
        assert_eq!(r, Ok(Tcp));
        assert!(start.elapsed() < UTP_HEAD_START, "{:?}", start.elapsed());
    }

    /// The stream bench's seeder (libtorrent, uTP off): TCP goes on after its round trip
    /// and the floor, not after the head start; the next dial goes to TCP directly.
    #[tokio::test]
    async fn a_tcp_only_peer_costs_a_round_trip_not_the_head_start() {
        let t = both().await;
        let addr: SocketAddr = ADDR.parse().unwrap();
        let steps = Mutex::new(Vec::new());
        let start = tokio::time::Instant::now();
        assert_eq!(run(&t, &steps, silent(), works(1, 2)).await, Ok(Tcp));
        let took = start.elapsed();
        assert!(took >= UTP_GRACE_FLOOR && took < UTP_HEAD_START, "{took:?}");
        // A farther peer: held for its round trip again.
        let t2 = both().await;
        let start = tokio::time::Instant::now();
        assert_eq!(run(&t2, &steps, silent(), works(80, 2)).await, Ok(Tcp));
        let took = start.elapsed();
        assert!(
            took >= Duration::from_millis(160) && took < UTP_HEAD_START,
            "{took:?}"
        );
        // Remembered: the reconnect goes straight to TCP.
        steps.lock().unwrap().clear();
        let start = tokio::time::Instant::now();
        assert_eq!(run(&t, &steps, silent(), works(1, 2)).await, Ok(Tcp));
        assert!(start.elapsed() < UTP_GRACE_FLOOR, "{:?}", start.elapsed());
        assert_eq!(*steps.lock().unwrap(), [Dial(Tcp), Handshake(Tcp)]);
        // Neither works: uTP is tried again next time.
        let r = run(&t, &steps, silent(), no_connect(1, PeerEnd::Refused)).await;
        assert_eq!(r, Err(PeerEnd::Refused));
        assert!(!t.utp.as_ref().unwrap().is_silent(addr));
    }

    /// uTP answered but its handshakes are slow: TCP waits the whole head start, then both
    /// go on and the first handshake wins; the peer is not taken for TCP-only.
    #[tokio::test]
    async fn a_utp_answer_holds_tcp_for_the_head_start() {
        let t = both().await;
        let steps = Mutex::new(Vec::new());
        let start = tokio::time::Instant::now();
        assert_eq!(run(&t, &steps, works(5, 2000), works(1, 2)).await, Ok(Tcp));
        assert!(start.elapsed() >= UTP_HEAD_START, "{:?}", start.elapsed());
        assert!(!t.utp.as_ref().unwrap().is_silent(ADDR.parse().unwrap()));
    }

    /// A uTP-only libtorrent accepts TCP and resets it; a slow uTP answer still wins.
    #[tokio::test]
    async fn a_reset_over_tcp_waits_for_utp() {
        let t = both().await;
        let steps = Mutex::new(Vec::new());
        let tcp = fails_after(1, 1, PeerEnd::ClosedDuringHandshake);
        assert_eq!(run(&t, &steps, works(100, 1400), tcp).await, Ok(Utp));
    }

    #[tokio::test]
    async fn both_failing_reports_the_more_telling_reason() {
        let t = both().await;
        let steps = Mutex::new(Vec::new());
        let start = std::time::Instant::now();
        let r = run(&t, &steps, silent(), no_connect(1, PeerEnd::Refused)).await;
        assert_eq!(r, Err(PeerEnd::Refused));
        assert!(
            start.elapsed() < UTP_HEAD_START,
            "a refused TCP ends the wait"
        );
        let quiet = no_connect(600, PeerEnd::UtpNoAnswer);
        let r = run(&t, &steps, quiet, fails_after(1, 1, PeerEnd::Reset)).await;
        assert_eq!(r, Err(PeerEnd::Reset));
        let t = both().await;
        let wrong = fails_after(1, 1, PeerEnd::WrongInfoHash);
        let r = run(&t, &steps, wrong, no_connect(1, PeerEnd::Refused)).await;
        assert_eq!(r, Err(PeerEnd::WrongInfoHash));
    }

    #[tokio::test]
    async fn one_transport_policies_use_only_theirs() {
        let mut t = both().await;
        let steps = Mutex::new(Vec::new());
        t.policy = TransportPolicy::Utp;
        let r = run(&t, &steps, no_connect(5, PeerEnd::UtpNoAnswer), works(1, 0)).await;
        assert_eq!(r, Err(PeerEnd::UtpNoAnswer));
        t.policy = TransportPolicy::Tcp;
        assert_eq!(run(&t, &steps, works(1, 0), works(1, 0)).await, Ok(Tcp));
        assert_eq!(
            *steps.lock().unwrap(),
            [Dial(Utp), Dial(Tcp), Handshake(Tcp)]
        );
    }
}
