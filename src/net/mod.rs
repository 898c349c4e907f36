//! Below the BitTorrent handshake: how bytes get to and from a peer.
pub mod mse;
pub mod stream;

pub use mse::{connect, incoming, outgoing, DialError, Dialed, EncryptionPolicy, MseError};
pub use stream::{Encryption, PeerReader, PeerStream, PeerWriter};
