//! Unit tests of `connect.rs`: the handshake reader, and how each failure is named.
use super::*;
use bytes::BytesMut;
use std::io;
use tokio::net::TcpListener;

const HASH: [u8; 20] = [1; 20];
const OURS: [u8; 20] = [2; 20];
const THEIRS: [u8; 20] = [3; 20];
/// Bounds every wait in these tests; none should come near it.
const LIMIT: Duration = Duration::from_secs(10);

async fn read(bytes: &[u8]) -> Result<Handshake, PeerEnd> {
    let mut stream = bytes;
    tokio::time::timeout(LIMIT, read_handshake(&mut stream))
        .await
        .expect("read_handshake returned")
}

#[tokio::test]
async fn a_handshake_is_read_and_a_short_one_is_named() {
    let full = Handshake::new(HASH, THEIRS).encode();
    let h = read(&full).await.unwrap();
    assert_eq!((h.info_hash, h.peer_id), (HASH, THEIRS));
    assert_eq!(read(&[]).await, Err(PeerEnd::ClosedDuringHandshake));
    // Closed after a correct start: not a BitTorrent peer after all.
    assert_eq!(read(&full[..30]).await, Err(PeerEnd::NotBitTorrent));
    assert_eq!(
        read(b"GET / HTTP/1.1\r\n\r\n").await,
        Err(PeerEnd::NotBitTorrent)
    );
}

#[tokio::test]
async fn garbage_is_refused_at_its_first_byte_without_waiting_for_68() {
    let (mut ours, mut theirs) = tokio::io::duplex(256);
    theirs.write_all(b"H").await.unwrap();
    // `theirs` stays open: only the check of the prefix can end the read.
    let end = tokio::time::timeout(LIMIT, read_handshake(&mut ours)).await;
    assert_eq!(end.expect("refused at once"), Err(PeerEnd::NotBitTorrent));
}

#[test]
fn io_errors_are_named_by_when_they_happen() {
    let e = |kind| io::Error::from(kind);
    assert_eq!(
        io_end(&e(io::ErrorKind::ConnectionRefused), false),
        PeerEnd::Refused
    );
    assert_eq!(
        io_end(&e(io::ErrorKind::ConnectionReset), false),
        PeerEnd::Reset
    );
    assert_eq!(
        io_end(&e(io::ErrorKind::ConnectionReset), true),
        PeerEnd::ClosedDuringHandshake
    );
    assert_eq!(
        io_end(&e(io::ErrorKind::UnexpectedEof), false),
        PeerEnd::ClosedByPeer
    );
    assert_eq!(
        io_end(&e(io::ErrorKind::BrokenPipe), true),
        PeerEnd::ClosedDuringHandshake
    );
    assert_eq!(
        io_end(&e(io::ErrorKind::TimedOut), false),
        PeerEnd::ConnectTimeout
    );
    let unreachable = io::Error::from_raw_os_error(libc::EHOSTUNREACH);
    assert!(matches!(
        io_end(&unreachable, false),
        PeerEnd::Unreachable(_)
    ));
    let other = io::Error::from_raw_os_error(libc::EMFILE);
    assert!(matches!(io_end(&other, false), PeerEnd::Io(_)));
}

#[test]
fn encryption_failures_keep_closed_and_timeout_apart() {
    assert_eq!(mse_end(MseError::Closed), PeerEnd::ClosedDuringHandshake);
    assert_eq!(mse_end(MseError::Timeout("pad")), PeerEnd::HandshakeTimeout);
    let refused = mse_end(MseError::PlainRefused);
    assert!(matches!(&refused, PeerEnd::Encryption(why) if why.contains("plain handshake")));
}

#[test]
fn a_hang_up_in_the_handshake_hints_at_what_we_did_not_offer() {
    let closed = || PeerEnd::ClosedDuringHandshake;
    use EncryptionPolicy::{Off, Prefer, Require};
    assert_eq!(
        closed_hint(closed(), Off, false),
        PeerEnd::ClosedMayNeedEncryption
    );
    // Encryption off explains it before the transport does.
    assert_eq!(
        closed_hint(closed(), Off, true),
        PeerEnd::ClosedMayNeedEncryption
    );
    assert_eq!(
        closed_hint(closed(), Prefer, true),
        PeerEnd::ClosedMayNeedUtp
    );
    assert_eq!(
        closed_hint(closed(), Require, true),
        PeerEnd::ClosedMayNeedUtp
    );
    assert_eq!(closed_hint(closed(), Prefer, false), closed());
    assert_eq!(closed_hint(PeerEnd::Refused, Off, true), PeerEnd::Refused);
}

/// A loopback listener that answers one connection with `reply` (after reading our
/// handshake), then closes it.
async fn answering(reply: Option<[u8; 20]>, hash: [u8; 20]) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut theirs = [0u8; handshake::LEN];
        s.read_exact(&mut theirs).await.unwrap();
        if let Some(id) = reply {
            s.write_all(&Handshake::new(hash, id).encode())
                .await
                .unwrap();
        }
    });
    addr
}

async fn dial(addr: SocketAddr) -> (Result<Handshake, PeerEnd>, u32) {
    let mut connected = 0;
    let res = tokio::time::timeout(
        LIMIT,
        connect_and_handshake(addr, None, HASH, OURS, || connected += 1),
    )
    .await
    .expect("bounded by its own timeouts");
    (res.map(|(_, h, _)| h), connected)
}

#[tokio::test]
async fn a_plain_handshake_checks_who_answered() {
    let (ok, connected) = dial(answering(Some(THEIRS), HASH).await).await;
    assert_eq!(ok.unwrap().peer_id, THEIRS);
    assert_eq!(connected, 1);

    let (wrong, _) = dial(answering(Some(THEIRS), [9; 20]).await).await;
    assert_eq!(wrong.unwrap_err(), PeerEnd::WrongInfoHash);
    let (me, _) = dial(answering(Some(OURS), HASH).await).await;
    assert_eq!(me.unwrap_err(), PeerEnd::SelfConnection);
    let (closed, connected) = dial(answering(None, HASH).await).await;
    assert_eq!(closed.unwrap_err(), PeerEnd::ClosedDuringHandshake);
    assert_eq!(connected, 1);
}

#[tokio::test]
async fn a_closed_port_is_refused_before_any_callback() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let (res, connected) = dial(addr).await;
    assert_eq!(res.unwrap_err(), PeerEnd::Refused);
    assert_eq!(connected, 0);
}

fn frame(m: &Message) -> BytesMut {
    let mut out = BytesMut::new();
    crate::protocol::message::encode_into(m, &mut out);
    out
}

#[tokio::test]
async fn the_client_name_comes_from_the_extended_handshake_after_other_messages() {
    let (mut ours, mut theirs) = tokio::io::duplex(4096);
    let h = ExtHandshake {
        v: Some("Transmission 4.0.5".into()),
        ..ExtHandshake::default()
    };
    theirs.write_all(&frame(&Message::Have(3))).await.unwrap();
    theirs.write_all(&frame(&Message::Unchoke)).await.unwrap();
    let ext = Message::Extended {
        id: 0,
        payload: h.encode().into(),
    };
    theirs.write_all(&frame(&ext)).await.unwrap();
    let name = read_ext_client(&mut ours, 8, LIMIT).await;
    assert_eq!(name.as_deref(), Some("Transmission 4.0.5"));
}

#[tokio::test]
async fn no_client_name_from_silence_garbage_or_a_bad_dictionary() {
    let wait = Duration::from_millis(50);
    let (mut ours, _theirs) = tokio::io::duplex(64);
    assert_eq!(read_ext_client(&mut ours, 8, wait).await, None);

    let (mut ours, mut theirs) = tokio::io::duplex(64);
    // A frame longer than the codec allows: the stream is not read further.
    theirs
        .write_all(&[0xff, 0xff, 0xff, 0xff, 20])
        .await
        .unwrap();
    assert_eq!(read_ext_client(&mut ours, 8, LIMIT).await, None);

    let (mut ours, mut theirs) = tokio::io::duplex(64);
    let bad = Message::Extended {
        id: 0,
        payload: bytes::Bytes::from_static(b"not bencode"),
    };
    theirs.write_all(&frame(&bad)).await.unwrap();
    assert_eq!(read_ext_client(&mut ours, 8, LIMIT).await, None);
}
