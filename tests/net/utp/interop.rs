//! Wire compatibility with python3-libtorrent 2.0 running uTP only (TCP off both ways):
//! our uTP carries a BitTorrent exchange to a libtorrent seeder and from a libtorrent leecher.

use super::common::*;
use super::*;
use std::path::Path;
use std::process::Command;

/// A uTP-only libtorrent: `seed` (seed_mode, prints "ready") or `leech` (dials `peer`,
/// prints "done" when complete). Exits by itself after 300 s.
const LT_UTP: &str = r#"
import sys, time, signal
import libtorrent as lt
torrent, save, ip, port, mode = sys.argv[1:6]
peer = sys.argv[6] if len(sys.argv) > 6 else None
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
s = lt.session({
    "enable_dht": False, "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
    "dht_bootstrap_nodes": "", "allow_multiple_connections_per_ip": True,
    "enable_incoming_tcp": False, "enable_outgoing_tcp": False,
    "enable_incoming_utp": True, "enable_outgoing_utp": True,
    # Plain BitTorrent on the wire (2 = pe_disabled): encryption is not this test's subject.
    "out_enc_policy": 2,
    "listen_interfaces": "%s:%s" % (ip, port), "outgoing_interfaces": ip,
    "alert_mask": lt.alert.category_t.error_notification | lt.alert.category_t.peer_notification
        | lt.alert.category_t.status_notification,
}, flags=0)
atp = lt.add_torrent_params()
atp.ti = lt.torrent_info(torrent)
atp.save_path = save
if mode == "seed":
    atp.flags = lt.torrent_flags.seed_mode
h = s.add_torrent(atp)
start = time.monotonic()
last_dial = 0.0
said = set()
while time.monotonic() - start < 300:
    for a in s.pop_alerts():
        print("alert: " + a.message(), file=sys.stderr, flush=True)
    st = h.status()
    now = time.monotonic()
    if peer and not st.is_seeding and st.num_peers == 0 and now - last_dial > 2:
        last_dial = now
        host, _, p = peer.rpartition(":")
        h.connect_peer((host, int(p)), 0)
    if st.is_seeding and "ready" not in said:
        said.add("ready")
        print("ready", flush=True)
        if mode == "leech":
            print("done", flush=True)
    s.wait_for_alert(100)
"#;

const PIECE: usize = 256 << 10;
const LEN: usize = 8 << 20;
const BLOCK: usize = 16 << 10;

struct Setup {
    dir: tempfile::TempDir,
    torrent: Torrent,
    payload: Vec<u8>,
}

fn setup() -> Setup {
    require_loopback_only();
    let dir = tempfile::Builder::new()
        .prefix("ttui-utp-")
        .tempdir()
        .unwrap();
    let seed_dir = dir.path().join("seed");
    std::fs::create_dir_all(&seed_dir).unwrap();
    let path = make_single_file_payload(&seed_dir, "utp.bin", LEN as u64, 0x5eed);
    let torrent = mktorrent(
        &path,
        PIECE.trailing_zeros(),
        &dir.path().join("utp.torrent"),
    );
    std::fs::write(dir.path().join("lt_utp.py"), LT_UTP).unwrap();
    let payload = std::fs::read(&path).unwrap();
    Setup {
        dir,
        torrent,
        payload,
    }
}

fn start_lt(
    s: &Setup,
    save: &Path,
    ip: Ipv4Addr,
    port: u16,
    mode: &str,
    peer: Option<SocketAddr>,
) -> Proc {
    let mut cmd = Command::new("/usr/bin/python3");
    cmd.arg(s.dir.path().join("lt_utp.py"))
        .arg(&s.torrent.path)
        .arg(save)
        .args([ip.to_string(), port.to_string(), mode.to_string()]);
    if let Some(p) = peer {
        cmd.arg(p.to_string());
    }
    Proc::spawn(&format!("lt_utp_{mode}"), &mut cmd, s.dir.path())
}

async fn read_msg(s: &mut UtpStream) -> std::io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    s.read_exact(&mut len).await?;
    let len = u32::from_be_bytes(len) as usize;
    assert!(len <= BLOCK + 13, "message of {len} bytes");
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).await?;
    Ok(body)
}

fn msg(id: u8, body: &[u8]) -> Vec<u8> {
    let mut v = ((body.len() + 1) as u32).to_be_bytes().to_vec();
    v.push(id);
    v.extend_from_slice(body);
    v
}

fn plain_handshake(info_hash: [u8; 20]) -> Handshake {
    let mut hs = Handshake::new(info_hash, *b"-TT0001-utpinterop01");
    // No extension or fast bits: the peer then speaks only BEP 3 messages.
    hs.reserved = [0; 8];
    hs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn download_from_utp_only_libtorrent_seeder() {
    let _swarm = swarm_lock();
    let s = setup();
    let ip = loopback_ip();
    let port = free_port();
    let mut lt = start_lt(&s, &s.dir.path().join("seed"), ip, port, "seed", None);
    tokio::task::block_in_place(|| lt.wait_for_stdout("libtorrent to seed", "ready", WAIT));

    let (sock, _l) = UtpSocket::bind(LOCAL, UtpConfig::default()).await.unwrap();
    let cpu0 = cpu_seconds();
    let start = Instant::now();
    let mut c = timeout(
        Duration::from_secs(10),
        sock.connect(SocketAddr::from((ip, port))),
    )
    .await
    .expect("uTP connect within 10 s")
    .unwrap_or_else(|e| panic!("uTP connect: {e}\n{}", lt.report()));
    c.write_all(&plain_handshake(s.torrent.info_hash).encode())
        .await
        .unwrap();
    let mut reply = [0u8; 68];
    timeout(Duration::from_secs(10), c.read_exact(&mut reply))
        .await
        .expect("handshake reply within 10 s")
        .unwrap_or_else(|e| panic!("handshake reply: {e}\n{}", lt.report()));
    assert_eq!(&reply[1..20], b"BitTorrent protocol");
    assert_eq!(
        reply[28..48],
        s.torrent.info_hash,
        "libtorrent answered for our torrent"
    );
    assert_eq!(&reply[48..56], b"-LT2080-");

    let pieces = LEN / PIECE;
    let got = timeout(Duration::from_secs(120), async {
        let mut have_bitfield = false;
        c.write_all(&msg(2, b"")).await?; // interested
        let mut data = vec![0u8; LEN];
        let mut received = 0usize;
        let mut requested = false;
        while received < LEN {
            let m = read_msg(&mut c).await?;
            match m.first() {
                Some(5) => {
                    assert_eq!(m.len() - 1, pieces.div_ceil(8));
                    assert!(m[1..].iter().all(|b| *b == 0xff), "a seed has every piece");
                    have_bitfield = true;
                }
                Some(1) if !requested => {
                    requested = true;
                    let mut reqs = Vec::new();
                    for off in (0..LEN).step_by(BLOCK) {
                        let mut b = Vec::new();
                        b.extend(((off / PIECE) as u32).to_be_bytes());
                        b.extend(((off % PIECE) as u32).to_be_bytes());
                        b.extend((BLOCK as u32).to_be_bytes());
                        reqs.extend(msg(6, &b));
                    }
                    c.write_all(&reqs).await?;
                }
                Some(7) => {
                    let idx = u32::from_be_bytes([m[1], m[2], m[3], m[4]]) as usize;
                    let begin = u32::from_be_bytes([m[5], m[6], m[7], m[8]]) as usize;
                    let at = idx * PIECE + begin;
                    data[at..at + m.len() - 9].copy_from_slice(&m[9..]);
                    received += m.len() - 9;
                }
                _ => {}
            }
        }
        Ok::<_, std::io::Error>((data, have_bitfield))
    })
    .await
    .unwrap_or_else(|_| panic!("8 MiB within 120 s\n{}", lt.report()))
    .unwrap_or_else(|e| panic!("download: {e}\n{}", lt.report()));
    let took = start.elapsed();
    assert!(got.1, "libtorrent sent its bitfield");
    assert!(got.0 == s.payload, "bytes from libtorrent differ");
    let st = c.stats();
    eprintln!(
        "8 MiB from a uTP-only libtorrent: {:.1} MB/s, {:.2} CPU-s (ours), rtt {:?}, retransmits {}",
        LEN as f64 / 1e6 / took.as_secs_f64(),
        cpu_seconds() - cpu0,
        st.rtt,
        st.retransmits
    );
    drop(c);
    lt.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn utp_only_libtorrent_leecher_downloads_from_us() {
    let _swarm = swarm_lock();
    let s = setup();
    let port = free_port();
    let (sock, mut listener) = UtpSocket::bind(
        SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        UtpConfig::default(),
    )
    .await
    .unwrap();
    let save = s.dir.path().join("leech");
    std::fs::create_dir_all(&save).unwrap();
    let ip = loopback_ip();
    let mut lt = start_lt(
        &s,
        &save,
        ip,
        free_port(),
        "leech",
        Some(sock.local_addr().unwrap()),
    );

    let payload = Arc::new(s.payload.clone());
    let info_hash = s.torrent.info_hash;
    let stop = Arc::new(tokio::sync::Notify::new());
    let stop2 = stop.clone();
    let server = tokio::spawn(async move {
        let stop = stop2;
        let mut c = listener.accept().await.expect("incoming uTP");
        let mut hs = [0u8; 68];
        c.read_exact(&mut hs).await?;
        assert_eq!(hs[28..48], info_hash, "leecher asked for our torrent");
        c.write_all(&plain_handshake(info_hash).encode()).await?;
        let pieces = LEN / PIECE;
        let mut bf = vec![0xffu8; pieces.div_ceil(8)];
        if !pieces.is_multiple_of(8) {
            let last = bf.len() - 1;
            bf[last] = 0xff << (8 - pieces % 8);
        }
        c.write_all(&msg(5, &bf)).await?;
        let mut served = 0usize;
        loop {
            let m = tokio::select! {
                r = read_msg(&mut c) => match r {
                    Ok(m) => m,
                    Err(_) => return Ok::<_, std::io::Error>((served, c.stats())),
                },
                _ = stop.notified() => return Ok((served, c.stats())),
            };
            match m.first() {
                Some(2) => c.write_all(&msg(1, b"")).await?,
                Some(6) if m.len() == 13 => {
                    let idx = u32::from_be_bytes([m[1], m[2], m[3], m[4]]) as usize;
                    let begin = u32::from_be_bytes([m[5], m[6], m[7], m[8]]) as usize;
                    let len = u32::from_be_bytes([m[9], m[10], m[11], m[12]]) as usize;
                    let at = idx * PIECE + begin;
                    assert!(len <= BLOCK && at + len <= LEN);
                    let mut body = m[1..9].to_vec();
                    body.extend_from_slice(&payload[at..at + len]);
                    c.write_all(&msg(7, &body)).await?;
                    served += len;
                }
                _ => {}
            }
        }
    });
    let start = Instant::now();
    tokio::task::block_in_place(|| {
        lt.wait_for_stdout("libtorrent to download over uTP", "done", WAIT)
    });
    let took = start.elapsed();
    let got = std::fs::read(save.join("utp.bin")).unwrap();
    assert!(got == s.payload, "libtorrent's copy differs");
    stop.notify_one();
    let (served, st) = timeout(Duration::from_secs(10), server)
        .await
        .expect("our side sees the close")
        .expect("server task")
        .expect("server io");
    assert!(served >= LEN, "served {served}");
    eprintln!(
        "8 MiB to a uTP-only libtorrent leecher: {:.1} MB/s, rtt {:?}, retransmits {}",
        LEN as f64 / 1e6 / took.as_secs_f64(),
        st.rtt,
        st.retransmits
    );
    lt.kill();
}
