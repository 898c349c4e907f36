//! Below the BitTorrent handshake: how bytes get to and from a peer (TCP or uTP, plain or
//! encrypted with MSE/PE; WebRTC data channels for browsers).
pub(crate) mod device;
pub(crate) mod mse_stream;
pub(crate) mod route;
pub(crate) mod socks_relay;
pub(crate) mod stream;
pub(crate) mod tcp;
pub(crate) mod tcp_info;
pub(crate) mod udp_batch;
pub(crate) mod udp_gso;
pub(crate) mod utp;
pub(crate) mod webrtc;

pub(crate) use mse_stream::{connect, incoming, DialError, EncryptionPolicy, MseError};
pub(crate) use stream::{Encryption, Transport, TransportKind};
