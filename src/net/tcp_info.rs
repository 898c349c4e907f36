//! What the kernel knows of a TCP connection (`TCP_INFO`): its smoothed round trip, the
//! lowest it saw, and the bytes the peer acknowledged. The explainer's full-uplink check
//! needs both: the kernel times every segment against its acknowledgement, including the time
//! it waited in the queues of our own link, which is exactly what a saturated uplink makes
//! grow; and acknowledged bytes are what crossed the link, where bytes handed to the socket
//! run ahead of it by the whole send buffer. No crate we use exposes `TCP_INFO` (nix and
//! socket2 do not), so this is the one `getsockopt` of ours.

use std::os::fd::RawFd;
use std::time::Duration;

/// Reads one socket's `TCP_INFO`. Holds only the descriptor's number: it is asked while the
/// connection that owns it runs (`peer::PeerTask::session`), and a number that no longer
/// names a TCP socket only makes the call fail (the buffer is ours either way).
#[derive(Debug, Clone, Copy)]
pub(crate) struct TcpProbe {
    fd: RawFd,
}

/// One reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TcpFigures {
    /// The smoothed round trip, and the lowest the kernel saw lately (`tcpi_min_rtt`, over
    /// its own window of minutes).
    pub rtt: Duration,
    pub min_rtt: Duration,
    /// Bytes we sent that the peer acknowledged, since the connection opened.
    pub bytes_acked: u64,
}

impl TcpProbe {
    pub(crate) fn of(stream: &tokio::net::TcpStream) -> TcpProbe {
        use std::os::fd::AsRawFd;
        TcpProbe {
            fd: stream.as_raw_fd(),
        }
    }

    /// None before the first round-trip sample, or when the call fails.
    pub(crate) fn read(self) -> Option<TcpFigures> {
        let mut info = std::mem::MaybeUninit::<libc::tcp_info>::zeroed();
        let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
        // SAFETY: `info` is a buffer of `len` bytes that lives across the call, and the kernel
        // writes at most `len` bytes into it (it shortens `len` when its struct is smaller).
        // The descriptor is only read; a stale or wrong one makes the call fail, no more.
        let rc = unsafe {
            libc::getsockopt(
                self.fd,
                libc::IPPROTO_TCP,
                libc::TCP_INFO,
                info.as_mut_ptr().cast(),
                &mut len,
            )
        };
        if rc != 0 {
            return None;
        }
        // SAFETY: zeroed is a valid `tcp_info` (plain integers), and the call filled a prefix;
        // an older kernel's shorter struct leaves the newer fields zero, read as "none".
        let info = unsafe { info.assume_init() };
        if info.tcpi_rtt == 0 {
            return None;
        }
        let us = |v: u32| Duration::from_micros(u64::from(v));
        let min = match info.tcpi_min_rtt {
            0 => info.tcpi_rtt,
            m => m.min(info.tcpi_rtt),
        };
        Some(TcpFigures {
            rtt: us(info.tcpi_rtt),
            min_rtt: us(min),
            bytes_acked: info.tcpi_bytes_acked,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn a_connection_has_a_round_trip_and_counts_what_was_acknowledged() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let (c, s) = tokio::join!(tokio::net::TcpStream::connect(addr), l.accept());
        let (mut c, (mut s, _)) = (c.unwrap(), s.unwrap());
        c.write_all(&[7u8; 100_000]).await.unwrap();
        let mut got = vec![0u8; 100_000];
        s.read_exact(&mut got).await.unwrap();
        let probe = TcpProbe::of(&c);
        let mut seen = None;
        for _ in 0..100 {
            seen = probe.read().filter(|f| f.bytes_acked >= 100_000);
            if seen.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let f = seen.expect("loopback acknowledges 100 kB");
        assert!(
            f.rtt < Duration::from_secs(1) && f.min_rtt <= f.rtt,
            "{f:?}"
        );
        assert!(f.bytes_acked <= 100_001, "{f:?}");
        assert_eq!(TcpProbe { fd: -1 }.read(), None);
    }
}
