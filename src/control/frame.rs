//! Frames on the control socket: a u32 big-endian length, then that many bytes (JSON).
//!
//! The length is checked against a cap before anything is allocated, and the body is read
//! into a buffer that grows only as bytes arrive, so a 4 GiB length prefix or a client that
//! announces 90 MiB and sends ten bytes costs next to nothing. A frame that has begun must
//! end before a deadline; the wait for a frame to begin may be unbounded (an idle client).

use std::io;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::{timeout, timeout_at, Instant};

/// Largest frame. A request may carry a .torrent of up to 64 MiB
/// ([`crate::engine::host::load::MAX_TORRENT_SIZE`]), which base64 makes 85.4 MiB; the rest is room for
/// the JSON around it.
pub const MAX_FRAME: u32 = 96 << 20;

/// Largest frame the session sends. Its answers grow with the library (`ttui list` gives
/// about 450 bytes a torrent: 45 MB at 100,000), so a request's cap would leave a library a
/// little over 200,000 torrents unlistable. A client reads them from its own session (the
/// socket is private to the user), and the buffer grows only as the bytes arrive.
pub const MAX_REPLY: u32 = 1 << 30;

/// Why a frame could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The peer closed the connection between two frames: the normal end.
    #[error("connection closed")]
    Closed,
    /// The peer closed the connection inside a frame.
    #[error("connection closed in the middle of a frame")]
    Truncated,
    #[error("frame of {len} bytes is larger than the limit of {max} bytes")]
    TooLarge { len: u64, max: u32 },
    #[error("timed out in the middle of a frame")]
    Timeout,
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// How long each part of a read may take.
#[derive(Debug, Clone, Copy)]
pub struct ReadLimits {
    pub max: u32,
    /// From nothing to the first byte of the frame; `None` waits for ever (an idle client).
    pub idle: Option<Duration>,
    /// From the first byte to the last.
    pub frame: Duration,
}

/// The four bytes that start a frame of `len` bytes.
pub fn header(len: usize, max: u32) -> Result<[u8; 4], FrameError> {
    match u32::try_from(len) {
        Ok(n) if n <= max => Ok(n.to_be_bytes()),
        _ => Err(FrameError::TooLarge {
            len: len as u64,
            max,
        }),
    }
}

/// The body length a header announces, refused when over `max`.
pub fn body_len(header: [u8; 4], max: u32) -> Result<usize, FrameError> {
    let len = u32::from_be_bytes(header);
    if len > max {
        return Err(FrameError::TooLarge {
            len: u64::from(len),
            max,
        });
    }
    Ok(len as usize)
}

/// Reads one frame's body.
pub async fn read_frame<R: AsyncRead + Unpin>(
    r: &mut R,
    limits: ReadLimits,
) -> Result<Vec<u8>, FrameError> {
    let mut head = [0u8; 4];
    let first = match limits.idle {
        Some(idle) => timeout(idle, r.read(&mut head))
            .await
            .map_err(|_| FrameError::Timeout)??,
        None => r.read(&mut head).await?,
    };
    if first == 0 {
        return Err(FrameError::Closed);
    }
    let deadline = Instant::now() + limits.frame;
    let rest = async {
        r.read_exact(&mut head[first..]).await.map_err(eof)?;
        let len = body_len(head, limits.max)?;
        // Grows with what arrives, never to the announced length up front.
        let mut body = Vec::with_capacity(len.min(64 << 10));
        let got = (&mut *r).take(len as u64).read_to_end(&mut body).await?;
        if got < len {
            return Err(FrameError::Truncated);
        }
        Ok(body)
    };
    timeout_at(deadline, rest)
        .await
        .map_err(|_| FrameError::Timeout)?
}

fn eof(e: io::Error) -> FrameError {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        FrameError::Truncated
    } else {
        FrameError::Io(e)
    }
}

/// A frame is written in parts of this size, each within the write's limit.
const WRITE_PART: usize = 256 << 10;

/// Writes one frame and flushes it, each part of [`WRITE_PART`] bytes within `limit`: a peer
/// that takes nothing for `limit` is given up on, one that takes a large answer (the list of
/// 100,000 torrents, some 60 MB) steadily but slowly, on a loaded machine, is not.
pub async fn write_frame<W: AsyncWrite + Unpin>(
    w: &mut W,
    body: &[u8],
    max: u32,
    limit: Duration,
) -> Result<(), FrameError> {
    let head = header(body.len(), max)?;
    for part in std::iter::once(&head[..]).chain(body.chunks(WRITE_PART)) {
        timeout(limit, w.write_all(part))
            .await
            .map_err(|_| FrameError::Timeout)??;
    }
    timeout(limit, w.flush())
        .await
        .map_err(|_| FrameError::Timeout)??;
    Ok(())
}

/// A whole frame in one buffer, for a single non-blocking write (the "too many clients"
/// answer, which must not wait on anyone).
pub fn encode(body: &[u8], max: u32) -> Result<Vec<u8>, FrameError> {
    let mut out = Vec::with_capacity(4 + body.len());
    out.extend_from_slice(&header(body.len(), max)?);
    out.extend_from_slice(body);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: ReadLimits = ReadLimits {
        max: 1000,
        idle: None,
        frame: Duration::from_secs(5),
    };

    async fn read_all(mut bytes: &[u8]) -> Result<Vec<u8>, FrameError> {
        read_frame(&mut bytes, LIMITS).await
    }

    #[tokio::test]
    async fn round_trip_and_every_split_point() {
        let body = br#"{"verb":"list"}"#;
        let wire = encode(body, 1000).unwrap();
        assert_eq!(read_all(&wire).await.unwrap(), body);
        // Any prefix of a frame is a truncated frame (or nothing at all).
        for cut in 0..wire.len() {
            let got = read_all(&wire[..cut]).await;
            match cut {
                0 => assert!(matches!(got, Err(FrameError::Closed))),
                _ => assert!(matches!(got, Err(FrameError::Truncated)), "{cut}: {got:?}"),
            }
        }
        // Split across two writes of a duplex pipe at every point.
        for cut in 1..wire.len() {
            let (mut a, mut b) = tokio::io::duplex(64);
            let wire2 = wire.clone();
            let writer = tokio::spawn(async move {
                a.write_all(&wire2[..cut]).await.unwrap();
                tokio::task::yield_now().await;
                a.write_all(&wire2[cut..]).await.unwrap();
                a
            });
            assert_eq!(read_frame(&mut b, LIMITS).await.unwrap(), body);
            drop(writer.await.unwrap());
        }
    }

    #[tokio::test]
    async fn over_long_length_is_refused_before_reading_on() {
        let wire = [0xff, 0xff, 0xff, 0xff, b'x'];
        let got = read_all(&wire).await;
        assert!(
            matches!(
                got,
                Err(FrameError::TooLarge {
                    len: 4_294_967_295,
                    max: 1000
                })
            ),
            "{got:?}"
        );
        assert!(header(1001, 1000).is_err());
        assert!(header(1000, 1000).is_ok());
        assert!(header(usize::MAX, u32::MAX).is_err());
    }

    #[tokio::test]
    async fn a_half_frame_times_out_but_idle_waits() {
        let (mut a, mut b) = tokio::io::duplex(64);
        a.write_all(&[0, 0, 0, 10, b'{']).await.unwrap();
        let limits = ReadLimits {
            frame: Duration::from_millis(50),
            ..LIMITS
        };
        let got = read_frame(&mut b, limits).await;
        assert!(matches!(got, Err(FrameError::Timeout)), "{got:?}");

        let (_a, mut b) = tokio::io::duplex(64);
        let idle = ReadLimits {
            idle: Some(Duration::from_millis(50)),
            ..LIMITS
        };
        assert!(matches!(
            read_frame(&mut b, idle).await,
            Err(FrameError::Timeout)
        ));
    }

    #[tokio::test]
    async fn a_writer_nobody_reads_gives_up() {
        let (mut a, _b) = tokio::io::duplex(16);
        let got = write_frame(&mut a, &[7u8; 100], 1000, Duration::from_millis(50)).await;
        assert!(matches!(got, Err(FrameError::Timeout)), "{got:?}");
        let got = write_frame(&mut a, &[7u8; 1001], 1000, Duration::from_millis(50)).await;
        assert!(matches!(got, Err(FrameError::TooLarge { .. })), "{got:?}");
    }

    /// A reader that takes a large answer a part at a time, each well within the limit, gets
    /// all of it though the whole takes many times the limit.
    #[tokio::test]
    async fn a_slow_but_steady_reader_gets_a_large_answer() {
        let (mut a, mut b) = tokio::io::duplex(64 << 10);
        let body = vec![9u8; 8 * WRITE_PART];
        let limit = Duration::from_millis(300);
        let reader = tokio::spawn(async move {
            let mut got = Vec::new();
            let mut buf = vec![0u8; 64 << 10];
            loop {
                tokio::time::sleep(Duration::from_millis(20)).await;
                match b.read(&mut buf).await {
                    Ok(0) | Err(_) => return got,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                }
            }
        });
        let started = std::time::Instant::now();
        write_frame(&mut a, &body, u32::MAX, limit).await.unwrap();
        assert!(started.elapsed() > limit, "{:?}", started.elapsed());
        drop(a);
        let got = reader.await.unwrap();
        assert_eq!(got.len(), 4 + body.len());
    }
}
