//! What a process that hosts the engine needs besides `api`: the session's state directory,
//! its lock and store, starting the session (its handle), the process-wide limits the disk
//! layer depends on, a one-shot download's file plan, and the one peer connection `ttui
//! probe` and `ttui handshake` make outside any torrent; reading a .torrent from a file, stdin
//! or a URL (`load`); the DHT's IPv6 socket for `ttui peers`; the storage the demo writes its
//! payload with. The faces use this and `api`, nothing deeper, so the engine's rooms can change
//! behind them.

pub(crate) mod load;

pub(crate) use crate::engine::disk::{
    fds::raise_nofile_limit, ignore_sigxfsz, open_files_budget, Storage,
};
pub(crate) use crate::engine::peer::connect::{connect_encrypted, read_ext_client};
pub(crate) use crate::engine::peer::dial::Transports;
pub(crate) use crate::engine::peer::panic_is_caught;
pub(crate) use crate::engine::session::store::lock::{try_lock, LockError, SessionLock};
pub(crate) use crate::engine::session::store::{default_state_dir, Store};
pub(crate) use crate::engine::session::udp::{bind_dht6, literal_addrs};
pub(crate) use crate::engine::session::{spawn, Persist, SessionHandle};
pub(crate) use crate::engine::torrent::priorities::FilePlan;
