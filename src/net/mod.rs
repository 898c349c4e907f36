//! Below the BitTorrent handshake: how bytes get to and from a peer.
pub mod mse;
pub mod stream;

pub use mse::{connect, incoming, outgoing, DialError, Dialed, EncryptionPolicy, MseError};
pub use stream::{Encryption, PeerReader, PeerStream, PeerWriter};

/// A TCP peer connection after MSE (plain or RC4), as the engine holds it.
pub type PeerConn = PeerStream<tokio::net::TcpStream>;
