//! Below the BitTorrent handshake: how bytes get to and from a peer (TCP or uTP, plain or
//! encrypted with MSE/PE).
pub mod mse_stream;
pub mod stream;
pub(crate) mod udp_batch;
pub mod utp;

pub use mse_stream::{connect, incoming, outgoing, DialError, Dialed, EncryptionPolicy, MseError};
pub use stream::{Encryption, PeerReader, PeerStream, PeerWriter, Transport, TransportKind};
