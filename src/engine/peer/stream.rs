//! The byte stream a peer task runs over: `net::PeerStream` over a `net::Transport` (plain
//! TCP, or any `AsyncRead + AsyncWrite` boxed), plain or RC4 after MSE. The layers below the
//! BitTorrent handshake plug in there without the peer task knowing.

pub(crate) use crate::net::stream::{PeerStream, Transport, WriteHalf};

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn a_boxed_stream_splits_and_carries_bytes() {
        let (a, b) = tokio::io::duplex(64);
        let (mut r, mut w) = PeerStream::boxed(a).split();
        let mut b = PeerStream::boxed(b);
        w.write_all(b"ping").await.unwrap();
        let mut buf = [0u8; 4];
        b.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"ping");
        b.write_all(b"pong").await.unwrap();
        r.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"pong");
    }
}
