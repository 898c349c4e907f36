use super::*;
use crate::protocol::handshake::Handshake as BtHandshake;
use tokio::io::duplex;

const IH: [u8; 20] = [3; 20];

fn lookup(h: &[u8; 20]) -> Option<[u8; 20]> {
    (*h == mse_codec::req2(&IH)).then_some(IH)
}

fn bt(id: u8) -> [u8; 68] {
    BtHandshake::new(IH, [id; 20]).encode()
}

/// Both ends over an in-memory pipe; each sends its handshake then 300 KB and reads the
/// other's, so RC4 runs over many reads and writes of odd sizes.
async fn pair(out: EncryptionPolicy, inc: EncryptionPolicy) -> (Encryption, Encryption) {
    let (a, b) = duplex(1000);
    let dialer = async move {
        let (mut s, e) = outgoing(a, IH, out, &bt(1)).await?;
        let mut theirs = [0u8; 68];
        s.read_exact(&mut theirs).await.map_err(MseError::Io)?;
        assert_eq!(theirs, bt(2));
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        s.write_all(&data).await.map_err(MseError::Io)?;
        s.flush().await.map_err(MseError::Io)?;
        let mut back = vec![0u8; data.len()];
        s.read_exact(&mut back).await.map_err(MseError::Io)?;
        assert_eq!(back, data);
        Ok::<_, MseError>(e)
    };
    let acceptor = async move {
        let (mut s, e) = incoming(b, inc, &lookup).await?;
        let mut theirs = [0u8; 68];
        s.read_exact(&mut theirs).await.map_err(MseError::Io)?;
        assert_eq!(theirs, bt(1));
        s.write_all(&bt(2)).await.map_err(MseError::Io)?;
        let mut data = vec![0u8; 300_000];
        s.read_exact(&mut data).await.map_err(MseError::Io)?;
        // Echo in uneven pieces.
        for c in data.chunks(7777) {
            s.write_all(c).await.map_err(MseError::Io)?;
        }
        s.flush().await.map_err(MseError::Io)?;
        Ok::<_, MseError>(e)
    };
    let (x, y) = tokio::join!(dialer, acceptor);
    (x.unwrap(), y.unwrap())
}

#[tokio::test]
async fn encrypted_both_ways() {
    use EncryptionPolicy::*;
    for (o, i) in [(Require, Prefer), (Prefer, Require), (Require, Require)] {
        assert_eq!(pair(o, i).await, (Encryption::Rc4, Encryption::Rc4));
    }
}

/// Two `prefer` ends run the MSE handshake and then carry the payload in plaintext: RC4 only
/// when one side insists on it.
#[tokio::test]
async fn prefer_to_prefer_obfuscates_the_handshake_and_sends_plaintext() {
    use EncryptionPolicy::*;
    assert_eq!(
        pair(Prefer, Prefer).await,
        (Encryption::Plain, Encryption::Plain)
    );
}

#[tokio::test]
async fn plain_both_ways() {
    use EncryptionPolicy::*;
    for i in [Prefer, Off] {
        assert_eq!(pair(Off, i).await, (Encryption::Plain, Encryption::Plain));
    }
}

#[tokio::test]
async fn policies_refuse() {
    let (a, b) = duplex(1000);
    let ours = bt(1);
    let (o, i) = tokio::join!(
        outgoing(a, IH, EncryptionPolicy::Off, &ours),
        incoming(b, EncryptionPolicy::Require, &lookup)
    );
    assert!(o.is_ok());
    assert!(matches!(i.err(), Some(MseError::PlainRefused)));

    let (a, b) = duplex(1000);
    let (o, i) = tokio::join!(
        async move {
            // The acceptor drops its end when it refuses, so the dialer sees a close.
            outgoing(a, IH, EncryptionPolicy::Require, &bt(1)).await
        },
        incoming(b, EncryptionPolicy::Off, &lookup)
    );
    assert!(matches!(i.err(), Some(MseError::EncryptedRefused)));
    assert!(matches!(o.err(), Some(MseError::Closed)));
}

#[tokio::test]
async fn prefer_falls_back_to_plain_when_the_peer_hangs_up() {
    let mut attempts = 0;
    let mut peers = Vec::new();
    let d = connect(
        || {
            attempts += 1;
            let (a, b) = duplex(1000);
            let first = attempts == 1;
            peers.push(tokio::spawn(async move {
                // A plain-only peer: reads 20 bytes, hangs up unless they are a handshake.
                let mut b = b;
                let mut got = [0u8; 68];
                if b.read_exact(&mut got[..20]).await.is_err() {
                    return false;
                }
                if first {
                    return false;
                }
                b.read_exact(&mut got[20..]).await.is_ok() && got == bt(1)
            }));
            async move { Ok::<_, io::Error>(a) }
        },
        IH,
        EncryptionPolicy::Prefer,
        &bt(1),
    )
    .await
    .unwrap();
    assert_eq!(d.encryption, Encryption::Plain);
    assert!(matches!(d.plain_after, Some(MseError::Closed)));
    let mut res = Vec::new();
    for p in peers {
        res.push(p.await.unwrap());
    }
    assert_eq!(res, [false, true]);
}

#[tokio::test]
async fn require_does_not_fall_back() {
    let mut attempts = 0;
    let r = connect(
        || {
            attempts += 1;
            let (a, b) = duplex(1000);
            drop(b);
            async move { Ok::<_, io::Error>(a) }
        },
        IH,
        EncryptionPolicy::Require,
        &bt(1),
    )
    .await;
    assert!(matches!(
        r.err(),
        Some(DialError::Handshake(MseError::Closed))
    ));
    assert_eq!(attempts, 1);
}

#[tokio::test]
async fn silent_peer_times_out_in_each_phase() {
    const T: Duration = Duration::from_millis(200);
    // Says nothing at all.
    let (a, _b) = duplex(4096);
    let r = outgoing_within(a, IH, EncryptionPolicy::Require, &bt(1), T).await;
    assert!(matches!(
        r.err(),
        Some(MseError::Timeout("the peer's public key"))
    ));
    // Sends a public key and then nothing.
    let (a, mut b) = duplex(4096);
    let kp = mse_codec::KeyPair::generate(&mut rand::thread_rng());
    b.write_all(&kp.public).await.unwrap();
    let r = outgoing_within(a, IH, EncryptionPolicy::Require, &bt(1), T).await;
    assert!(matches!(
        r.err(),
        Some(MseError::Timeout("the peer to synchronise"))
    ));
    // An acceptor that gets 20 bytes of a key and then silence.
    let (a, mut b) = duplex(4096);
    b.write_all(&kp.public[..20]).await.unwrap();
    let r = incoming_within(a, EncryptionPolicy::Prefer, &lookup, T).await;
    assert!(matches!(
        r.err(),
        Some(MseError::Timeout("the peer's public key"))
    ));
}

#[tokio::test]
async fn peer_stopping_half_way_is_closed() {
    let (a, mut b) = duplex(4096);
    let kp = mse_codec::KeyPair::generate(&mut rand::thread_rng());
    b.write_all(&kp.public[..50]).await.unwrap();
    drop(b);
    let r = incoming(a, EncryptionPolicy::Prefer, &lookup).await;
    assert!(matches!(r.err(), Some(MseError::Closed)));
}

#[tokio::test]
async fn garbage_instead_of_a_public_key() {
    let (a, mut b) = duplex(4096);
    b.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nServer: nope\r\n\r\n0123456789012345678901234567890123456789")
        .await
        .unwrap();
    let r = outgoing(a, IH, EncryptionPolicy::Prefer, &bt(1)).await;
    let e = r.err().unwrap();
    assert_eq!(
        e.to_string(),
        "not encrypted: peer sent garbage instead of a public key"
    );
    assert!(e.may_retry_plain());
}

/// libtorrent 1.1 to 2.0 hangs up on a handshake whose secret starts with a zero byte (it
/// hashes that secret wrongly into the req3 mask). Here the first peer picks its key so the
/// secret is short and hangs up as libtorrent does; `require` dials again, with new keys,
/// and the second peer completes the handshake.
#[tokio::test]
async fn a_handshake_closed_after_a_short_secret_is_dialed_again() {
    let mut attempts = 0;
    let mut peers = Vec::new();
    let d = connect(
        || {
            attempts += 1;
            let (a, mut b) = duplex(4096);
            let first = attempts == 1;
            peers.push(tokio::spawn(async move {
                if !first {
                    return incoming(b, EncryptionPolicy::Require, &lookup)
                        .await
                        .is_ok();
                }
                let mut ya = [0u8; 96];
                if b.read_exact(&mut ya).await.is_err() {
                    return false;
                }
                // One key in 256 makes a short secret; 10,000 tries miss with odds ~10^-17.
                let kp = (0..10_000)
                    .map(|_| mse_codec::KeyPair::generate(&mut rand::thread_rng()))
                    .find(|kp| kp.shared_secret(&ya).is_ok_and(|s| s[0] == 0));
                let Some(kp) = kp else {
                    return false;
                };
                // Hang up once the dialer has the key (its req1 hash arrives).
                b.write_all(&kp.public).await.is_ok() && b.read_exact(&mut [0u8; 20]).await.is_ok()
            }));
            async move { Ok::<_, io::Error>(a) }
        },
        IH,
        EncryptionPolicy::Require,
        &bt(1),
    )
    .await
    .unwrap();
    assert_eq!(d.encryption, Encryption::Rc4);
    assert!(d.plain_after.is_none());
    let mut res = Vec::new();
    for p in peers {
        res.push(p.await.unwrap());
    }
    assert_eq!(res, [true, true]);
}
