use super::*;
use crate::protocol::handshake::Handshake;
use tokio::io::AsyncWriteExt;

#[tokio::test]
async fn incoming_connections_go_to_the_torrent_they_name() {
    let routes: Arc<Mutex<Routes>> = Arc::default();
    let (tx_a, mut rx_a) = mpsc::unbounded_channel();
    let (tx_b, mut rx_b) = mpsc::unbounded_channel();
    for (hash, tx) in [([0xaa; 20], tx_a), ([0xbb; 20], tx_b)] {
        lock(&routes).by_hash.insert(hash, Route::new(hash, tx));
    }
    let addr: SocketAddr = "127.0.0.1:9".parse().unwrap();
    for hash in [[0xbb; 20], [0xcc; 20]] {
        let (mut ours, theirs) = tokio::io::duplex(256);
        ours.write_all(&Handshake::new(hash, [1; 20]).encode())
            .await
            .unwrap();
        route(
            PeerStream::boxed(theirs),
            addr,
            Arc::clone(&routes),
            Instant::now(),
        )
        .await;
    }
    match rx_b.try_recv() {
        Ok(Event::Incoming { handshake, .. }) => assert_eq!(handshake.info_hash, [0xbb; 20]),
        other => panic!("{other:?}"),
    }
    assert!(rx_a.try_recv().is_err());
    assert!(rx_b.try_recv().is_err(), "an unknown hash goes nowhere");
}

/// An encrypted connection names no info hash in the clear: the session finds its
/// torrent, whichever it is, by req2 over all of them.
#[tokio::test]
async fn an_encrypted_connection_goes_to_the_torrent_its_req2_names() {
    let routes: Arc<Mutex<Routes>> = Arc::default();
    let (tx_a, mut rx_a) = mpsc::unbounded_channel();
    let (tx_b, mut rx_b) = mpsc::unbounded_channel();
    for (hash, tx) in [([0xaa; 20], tx_a), ([0xbb; 20], tx_b)] {
        lock(&routes).by_hash.insert(hash, Route::new(hash, tx));
    }
    let addr: SocketAddr = "127.0.0.1:9".parse().unwrap();
    let (ours, theirs) = tokio::io::duplex(4096);
    let hs = Handshake::new([0xbb; 20], [1; 20]).encode();
    let dial = net::mse_stream::outgoing(ours, [0xbb; 20], EncryptionPolicy::Require, &hs);
    let serve = accept(
        Transport::Other(Box::new(theirs)),
        addr,
        Arc::clone(&routes),
        EncryptionPolicy::Require,
    );
    let (dialed, ()) = tokio::join!(dialed_ok(dial), serve);
    assert_eq!(dialed, net::Encryption::Rc4);
    match rx_b.try_recv() {
        Ok(Event::Incoming {
            handshake, stream, ..
        }) => {
            assert_eq!(handshake.info_hash, [0xbb; 20]);
            assert_eq!(stream.encryption(), net::Encryption::Rc4);
        }
        other => panic!("{other:?}"),
    }
    assert!(rx_a.try_recv().is_err());
}

async fn dialed_ok<S>(
    f: impl std::future::Future<
        Output = Result<(net::stream::PeerStream<S>, net::Encryption), net::MseError>,
    >,
) -> net::Encryption {
    match f.await {
        Ok((_, enc)) => enc,
        Err(e) => panic!("{e}"),
    }
}

/// A hybrid is reached by its v2 hash cut to 20 bytes too, in the clear and by MSE's req2:
/// the connection keeps the name it used (our handshake repeats it), and the alias goes
/// with the torrent's route.
#[tokio::test]
async fn a_hybrid_is_reached_by_its_v2_name_too() {
    let routes: Arc<Mutex<Routes>> = Arc::default();
    let (tx, mut rx) = mpsc::unbounded_channel();
    Routing::route(&*routes, [0xaa; 20], tx);
    Routing::alias(&*routes, [0x22; 20], [0xaa; 20]);
    let addr: SocketAddr = "127.0.0.1:9".parse().unwrap();
    let (mut ours, theirs) = tokio::io::duplex(256);
    ours.write_all(&Handshake::new([0x22; 20], [1; 20]).encode())
        .await
        .unwrap();
    route(
        PeerStream::boxed(theirs),
        addr,
        Arc::clone(&routes),
        Instant::now(),
    )
    .await;
    match rx.try_recv() {
        Ok(Event::Incoming { handshake, .. }) => assert_eq!(handshake.info_hash, [0x22; 20]),
        other => panic!("{other:?}"),
    }
    let (ours, theirs) = tokio::io::duplex(4096);
    let hs = Handshake::new([0x22; 20], [1; 20]).encode();
    let dial = net::mse_stream::outgoing(ours, [0x22; 20], EncryptionPolicy::Require, &hs);
    let serve = accept(
        Transport::Other(Box::new(theirs)),
        addr,
        Arc::clone(&routes),
        EncryptionPolicy::Require,
    );
    let (dialed, ()) = tokio::join!(dialed_ok(dial), serve);
    assert_eq!(dialed, net::Encryption::Rc4);
    assert!(matches!(rx.try_recv(), Ok(Event::Incoming { .. })));
    Routing::unroute(&*routes, &[0xaa; 20]);
    assert!(
        lock(&routes).aliases.is_empty(),
        "the alias outlived its route"
    );
}

/// A dormant hybrid wakes for a peer that names it by its v2 hash: the manager is asked to
/// wake it by its own hash, and the woken task gets the connection.
#[tokio::test]
async fn a_dormant_hybrid_wakes_for_its_v2_name() {
    let routes: Arc<Mutex<Routes>> = Arc::default();
    let (wake_tx, mut wake_rx) = mpsc::unbounded_channel();
    {
        let mut r = lock(&routes);
        r.alias([0x22; 20], [0xaa; 20]);
        r.wake = Some(wake_tx);
        r.by_hash.insert(
            [0xaa; 20],
            Route {
                req2: mse_codec::req2(&[0xaa; 20]),
                to: RouteTo::Dormant(None),
            },
        );
    }
    let (mut ours, theirs) = tokio::io::duplex(256);
    ours.write_all(&Handshake::new([0x22; 20], [1; 20]).encode())
        .await
        .unwrap();
    let addr: SocketAddr = "127.0.0.1:9".parse().unwrap();
    route(
        PeerStream::boxed(theirs),
        addr,
        Arc::clone(&routes),
        Instant::now(),
    )
    .await;
    assert_eq!(wake_rx.try_recv().ok(), Some([0xaa; 20]));
    let (events_tx, mut events_rx) = mpsc::unbounded_channel();
    route_to_task(&routes, [0xaa; 20], events_tx);
    match events_rx.try_recv() {
        Ok(Event::Incoming { handshake, .. }) => assert_eq!(handshake.info_hash, [0x22; 20]),
        other => panic!("{other:?}"),
    }
}

/// A torrent added is listed before the session's next tick: the faces that wait for the
/// line-up to list what they added (`torrents/add`, `ttui add`) waited a tick (500 ms) an
/// add, so a library added 25 files a form took 25 s for 10,000. In paused time, where only
/// the timers move the clock, an add listed by the tick would take 500 ms.
#[tokio::test(start_paused = true)]
async fn an_added_torrent_is_listed_before_the_next_tick() {
    use crate::engine::api::{AddOptions, AddSource, Added};
    use crate::engine::torrent::options::Options;
    let dir = tempfile::tempdir().unwrap();
    let opts = Options {
        output: dir.path().to_path_buf(),
        port: 0,
        bind: "127.0.0.1".parse().unwrap(),
        use_trackers: false,
        ..Options::default()
    };
    let handle = super::manager::spawn(opts, None);
    let client = handle.client();
    let mut ids = Vec::new();
    for n in 0..3u8 {
        let payload = dir.path().join(format!("p{n}.bin"));
        std::fs::write(&payload, vec![n; 40_000]).unwrap();
        let bytes = crate::create::create_torrent(&payload, 16384, &[], false).unwrap();
        let source = AddSource::Torrent {
            name: format!("p{n}"),
            bytes,
        };
        let started = tokio::time::Instant::now();
        let Ok(Added::New { id, .. }) = client.add(source, AddOptions::default()).await else {
            panic!("add {n} refused");
        };
        ids.push(id);
        assert!(
            client
                .wait_listed(&ids, std::time::Duration::from_secs(10))
                .await
        );
        let waited = started.elapsed();
        assert!(
            waited < std::time::Duration::from_millis(250),
            "add {n} listed after {waited:?}"
        );
    }
    let _ = client.shutdown();
    let _ = handle.done.await;
}
