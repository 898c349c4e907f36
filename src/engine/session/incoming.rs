//! Incoming connections: the accept loops (TCP, and uTP over the session's UDP socket), the
//! layer below the BitTorrent handshake (plain or MSE), and each connection routed to the
//! torrent its handshake names.

use super::*;
use crate::engine::api::PeerEnd;
use crate::engine::torrent::rtc_setup::RtcSetup;

/// Accepts incoming connections; each is handshaken in its own task and handed to the
/// torrent its handshake names. At most `accept_budget::tcp()` wait for their handshake at
/// once (the rest wait in the kernel's backlog, costing no descriptor); out of descriptors,
/// the loop pauses (see `accept_budget.rs`).
pub(super) async fn accept_loop(
    listener: TcpListener,
    (routes, filter): (Arc<Mutex<Routes>>, Arc<IpFilter>),
    policy: EncryptionPolicy,
) {
    let budget = accept_budget::tcp();
    let mut backoff = accept_budget::Backoff::default();
    loop {
        let Some(slot) = budget.slot().await else {
            return;
        };
        let (stream, addr) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                accept_budget::pause_after(&mut backoff, &e, budget.capacity()).await;
                continue;
            }
        };
        accept_budget::note_accepted(&mut backoff);
        // Closed before a byte is read or written: a blocked peer learns nothing of us.
        if filter.refuses_incoming(addr.ip()) {
            tracing::debug!("{addr}: incoming refused: blocked by blocklist");
            continue;
        }
        let routes = Arc::clone(&routes);
        tokio::spawn(async move {
            accept(Transport::Tcp(stream), addr, routes, policy).await;
            drop(slot);
        });
    }
}

/// Accepts incoming uTP connections like TCP ones (with a budget of their own).
pub(super) async fn utp_accept_loop(
    mut listener: UtpListener,
    (routes, filter): (Arc<Mutex<Routes>>, Arc<IpFilter>),
    policy: EncryptionPolicy,
) {
    let budget = accept_budget::utp();
    while let Some(slot) = budget.slot().await {
        let Some(stream) = listener.accept().await else {
            return;
        };
        let addr = stream.peer_addr();
        if filter.refuses_incoming(addr.ip()) {
            tracing::debug!("{addr}: incoming over uTP refused: blocked by blocklist");
            continue;
        }
        tracing::info!("{addr}: incoming over uTP");
        let routes = Arc::clone(&routes);
        tokio::spawn(async move {
            accept(Transport::Utp(stream), addr, routes, policy).await;
            drop(slot);
        });
    }
}

/// The layer below the BitTorrent handshake for an accepted connection: a plain handshake or
/// MSE/PE, told apart by the first bytes and allowed by `policy`. An encrypted connection
/// names its torrent only by a hash of the info hash (req2), so it is looked up over every
/// torrent of the session; then the connection is routed like a plain one.
pub(crate) async fn accept(
    stream: Transport,
    addr: SocketAddr,
    routes: Arc<Mutex<Routes>>,
    policy: EncryptionPolicy,
) {
    let since = Instant::now();
    let lookup = {
        let routes = Arc::clone(&routes);
        move |req2: &[u8; 20]| lock(&routes).by_req2(req2)
    };
    match net::incoming(stream, policy, &lookup).await {
        Ok((stream, enc)) => {
            tracing::info!("{addr}: incoming, payload {enc}");
            route(stream, addr, routes, since).await
        }
        Err(e) => tracing::info!("{addr}: incoming: {e}"),
    }
}

/// Reads the handshake of an incoming connection and hands the connection to its torrent.
pub(crate) async fn route(
    stream: PeerStream,
    addr: SocketAddr,
    routes: Arc<Mutex<Routes>>,
    since: Instant,
) {
    // Its failures are logged here; an accepted connection has no row until it is routed.
    let _ = route_answered(stream, addr, routes, since, false).await;
}

/// `route`, for a connection that already carries our handshake when `answered`; why the
/// connection went nowhere, when it did not reach its torrent (logged here too).
async fn route_answered(
    mut stream: PeerStream,
    addr: SocketAddr,
    routes: Arc<Mutex<Routes>>,
    since: Instant,
    answered: bool,
) -> Result<(), PeerEnd> {
    let hs = match tokio::time::timeout(HANDSHAKE_TIMEOUT, read_handshake(&mut stream)).await {
        Ok(Ok(hs)) => hs,
        Ok(Err(e)) => {
            tracing::info!("{addr}: incoming handshake failed: {e}");
            return Err(e);
        }
        Err(_) => {
            tracing::info!("{addr}: incoming handshake timed out");
            return Err(PeerEnd::HandshakeTimeout);
        }
    };
    let info_hash = hs.info_hash;
    let event = Event::Incoming {
        stream: Box::new(stream),
        addr,
        handshake: hs,
        since,
        answered,
    };
    let mut guard = lock(&routes);
    let routes = &mut *guard;
    // The torrent's route, whichever of its names the peer used (the handshake keeps it, and
    // our answer repeats it).
    let info_hash = routes.resolve(&info_hash);
    match routes.by_hash.get_mut(&info_hash).map(|r| &mut r.to) {
        Some(RouteTo::Task(events)) => {
            routes.incoming += 1;
            routes.recent.push();
            let _ = events.send(event);
            Ok(())
        }
        Some(RouteTo::Dormant(pending))
            if pending.as_ref().is_none_or(|p| p.len() < MAX_PENDING) =>
        {
            routes.incoming += 1;
            routes.recent.push();
            let pending = pending.get_or_insert_with(Box::default);
            if pending.is_empty() {
                tracing::info!("{addr}: incoming for a dormant torrent: waking it");
                if let Some(wake) = &routes.wake {
                    let _ = wake.send(info_hash);
                }
            }
            pending.push(event);
            Ok(())
        }
        Some(RouteTo::Dormant(_)) => {
            tracing::info!("{addr}: incoming for a torrent still waking up, refused");
            Err(PeerEnd::Protocol(
                "refused: the torrent is still waking up".into(),
            ))
        }
        None => {
            tracing::info!("{addr}: incoming for another torrent, refused");
            Err(PeerEnd::WrongInfoHash)
        }
    }
}

/// Where the session's WebSocket trackers hand the WebRTC connections they start
/// (`tracker::websocket::WebRtcPeers::deliver`): each waits for its data channel in a task
/// of its own (bounded by the driver's stage deadlines and connection cap), then goes
/// through the blocklist and the router like an accepted connection. WebTorrent sends its
/// handshake as soon as the channel opens, whichever side offered, so reading it first (as
/// for an accepted connection) never waits on us.
pub(super) fn webrtc_delivery(
    routes: Arc<Mutex<Routes>>,
    filter: Arc<IpFilter>,
    ours: Handshake,
) -> Arc<dyn Fn(crate::tracker::websocket::Delivered) + Send + Sync> {
    Arc::new(move |d| {
        let (routes, filter) = (Arc::clone(&routes), Arc::clone(&filter));
        tokio::spawn(webrtc_accept(d, routes, filter, ours));
    })
}

async fn webrtc_accept(
    d: crate::tracker::websocket::Delivered,
    routes: Arc<Mutex<Routes>>,
    filter: Arc<IpFilter>,
    ours: Handshake,
) {
    let since = Instant::now();
    let hash = crate::protocol::hex::encode(&d.info_hash);
    let mut stage = d.connecting.stage.clone();
    let setup = Arc::new(RtcSetup::new(
        crate::protocol::peer_id::describe_client(None, &d.peer_id),
        d.peer_id,
        d.we_offered,
        d.connecting.named,
        *stage.borrow_and_update(),
        since,
    ));
    // Its torrent shows it from now on, while the torrent runs (a sleeping one is not woken
    // for a connection that may never come up; the session's log has its failure).
    {
        let guard = lock(&routes);
        let main = guard.resolve(&d.info_hash);
        if let Some(RouteTo::Task(events)) = guard.by_hash.get(&main).map(|r| &r.to) {
            let _ = events.send(Event::WebRtcSetup(Arc::clone(&setup)));
        }
    }
    let established = d.connecting.established();
    tokio::pin!(established);
    let result = loop {
        tokio::select! {
            r = &mut established => break r,
            Ok(()) = stage.changed() => {
                let now = *stage.borrow_and_update();
                setup.stage(now, Instant::now());
            }
        }
    };
    let fail = |end: PeerEnd| {
        setup.fail(end, Instant::now());
        if let Some(words) = setup.failure_words() {
            tracing::info!(info_hash = %hash, "{words}");
        }
    };
    let stream = match result {
        Ok(s) => s,
        Err(e) => return fail(PeerEnd::WebRtc(e.to_string())),
    };
    let Some(addr) = stream.remote_addr() else {
        return fail(PeerEnd::WebRtc("no address on the chosen pair".into()));
    };
    setup.open(addr, Instant::now());
    if filter.refuses_incoming(addr.ip()) {
        return fail(PeerEnd::Blocklisted);
    }
    tracing::info!(
        info_hash = %hash,
        "{addr}: WebRTC data channel open ({}, {})",
        setup.client(),
        setup.side()
    );
    let mut stream = PeerStream::plain(Transport::WebRtc(stream), Vec::new());
    // Ours goes at once, under the name the tracker paired us by: both sides send theirs as
    // the channel opens, so neither waits for the other (two ttuis, or a peer that waits).
    let ours = Handshake {
        info_hash: d.info_hash,
        ..ours
    };
    let sent = tokio::time::timeout(
        HANDSHAKE_TIMEOUT,
        tokio::io::AsyncWriteExt::write_all(&mut stream, &ours.encode()),
    )
    .await;
    match sent {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return fail(PeerEnd::Io(format!("our handshake not sent: {e}"))),
        Err(_) => return fail(PeerEnd::HandshakeTimeout),
    }
    match route_answered(stream, addr, routes, since, true).await {
        Ok(()) => setup.joined(),
        Err(end) => fail(end),
    }
}
