//! Every HTTP door holds against one address. One daemon serves the Transmission RPC,
//! qBittorrent's API and the stream server, each with a username and password. Against each
//! in turn, 127.0.0.78 opens 500 connections that each start a request and never finish it:
//! a qBittorrent login whose headers are in and whose body is half sent, an RPC call the same
//! way, and at the stream server a file asked for and never read (a player that stalls).
//! Meanwhile a client from 127.0.0.1 must log in and list the library within a second, and
//! the daemon must hold no more of the flood's connections than one address's share.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use crate::common;
use crate::tools;

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::*;
use tools::*;

/// The flood's size and its address.
const FLOOD: usize = 500;
const FLOODER: [u8; 4] = [127, 0, 0, 78];
/// What a rightful client may take to log in and list while the flood holds on.
const CLIENT_LIMIT: Duration = Duration::from_secs(1);

/// A connection from the flooder's address to `to`, with `bytes` sent and nothing more.
fn stalled(to: SocketAddr, bytes: &[u8]) -> Option<TcpStream> {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).ok()?;
    socket.bind(&SocketAddr::from((FLOODER, 0)).into()).ok()?;
    socket
        .connect_timeout(&to.into(), Duration::from_secs(5))
        .ok()?;
    let mut s: TcpStream = socket.into();
    s.write_all(bytes).ok()?;
    Some(s)
}

#[derive(Debug, Clone, Copy)]
enum Door {
    Rpc,
    Qbt,
    Stream,
}

struct Ports {
    rpc: SocketAddr,
    qbt: SocketAddr,
    stream: SocketAddr,
    hash: String,
}

impl Door {
    fn addr(self, p: &Ports) -> SocketAddr {
        match self {
            Door::Rpc => p.rpc,
            Door::Qbt => p.qbt,
            Door::Stream => p.stream,
        }
    }

    /// What each flooding connection sends: a request that is never finished (or, at the
    /// stream server, whose answer is never read).
    fn stall(self, p: &Ports) -> Vec<u8> {
        let half = "x".repeat(500);
        match self {
            Door::Rpc => format!(
                "POST /transmission/rpc HTTP/1.1\r\nHost: {}\r\n{}Content-Length: 1000\r\n\r\n{half}",
                p.rpc,
                basic()
            ),
            Door::Qbt => format!(
                "POST /api/v2/auth/login HTTP/1.1\r\nHost: {}\r\nContent-Type: \
                 application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\n{half}",
                p.qbt
            ),
            Door::Stream => format!(
                "GET /stream/{}/0 HTTP/1.1\r\nHost: {}\r\n{}\r\n",
                p.hash,
                p.stream,
                basic()
            ),
        }
        .into_bytes()
    }

    /// Logs in and lists from 127.0.0.1; the answer, with the names listed.
    fn log_in_and_list(self, p: &Ports) -> String {
        let to = self.addr(p);
        match self {
            Door::Rpc => rpc_call(
                to,
                r#"{"method":"torrent-get","arguments":{"fields":["name"]}}"#,
            )
            .to_string(),
            Door::Qbt => qbt_get(to, &qbt_login(to), "/api/v2/torrents/info").to_string(),
            Door::Stream => {
                let head = format!("GET /playlist.m3u HTTP/1.1\r\n{}", basic());
                let (status, _, body) = ask(to, &head, "");
                assert_eq!(status, 200, "{body}");
                body
            }
        }
    }
}

/// The daemon's sockets on `port` whose peer is the flooder (from /proc/net/tcp: the test's
/// namespace holds only this daemon and us), ESTABLISHED.
fn held_from_flooder(port: u16) -> usize {
    let peer = FLOODER
        .iter()
        .rev()
        .map(|b| format!("{b:02X}"))
        .collect::<String>();
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    table
        .lines()
        .skip(1)
        .filter(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() > 3
                && f[1].rsplit(':').next() == Some(&format!("{port:04X}")[..])
                && f[2].split(':').next() == Some(&peer[..])
                && f[3] == "01"
        })
        .count()
}

#[test]
fn five_hundred_stalled_requests_from_one_address_leave_every_door_open_to_another() {
    require_loopback_only();
    let (rpc, stream) = (free_port(), free_port());
    let extra = format!(
        "\n[rpc]\nlisten = \"127.0.0.1:{rpc}\"\nusername = \"{USER}\"\npassword = \"{PASSWORD}\"\n\
         [stream]\nlisten = \"127.0.0.1:{stream}\"\nusername = \"{USER}\"\npassword = \"{PASSWORD}\"\n"
    );
    let mut s = Setup::start("ttui-doors-", &extra);
    s.add(0, &[]);
    let ports = Ports {
        rpc: SocketAddr::from(([127, 0, 0, 1], rpc)),
        qbt: s.qbt.parse().unwrap(),
        stream: SocketAddr::from(([127, 0, 0, 1], stream)),
        hash: s.payloads[0].hash(),
    };
    for door in [Door::Rpc, Door::Qbt, Door::Stream] {
        let quiet = door.log_in_and_list(&ports);
        assert!(quiet.contains("alpha.bin"), "{door:?} lists: {quiet}");
        let stall = door.stall(&ports);
        let addr = door.addr(&ports);
        let flood: Vec<TcpStream> = (0..FLOOD).filter_map(|_| stalled(addr, &stall)).collect();
        assert!(
            flood.len() > FLOOD / 2,
            "{door:?}: only {} connected",
            flood.len()
        );
        let start = Instant::now();
        let listed = door.log_in_and_list(&ports);
        let took = start.elapsed();
        eprintln!(
            "{door:?}: logged in and listed in {took:?} beside {} stalled",
            flood.len()
        );
        assert!(listed.contains("alpha.bin"), "{door:?} lists: {listed}");
        assert!(
            took < CLIENT_LIMIT,
            "{door:?}: {took:?}\n{}",
            s.daemon.report()
        );
        // The flooder keeps one address's share of the door (32; the stream server's 16),
        // once the listen backlog has drained (bounded).
        let share = if matches!(door, Door::Stream) { 16 } else { 32 };
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut held = held_from_flooder(addr.port());
        while held > share && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
            held = held_from_flooder(addr.port());
        }
        assert!(held <= share, "{door:?}: the flooder holds {held}");
        drop(flood);
    }
    s.daemon.assert_alive("the end");
}
