//! The torrent's side of the kill switch (`--interface`, `session/interface.rs` watches it):
//! while the interface is down every connection is closed and nothing is dialed, looked up or
//! announced (the DHT task and the web seeds wait for it too: `dht_peers.rs`, `webseed.rs`);
//! when it is back the torrent announces again and redials the peers it had.

use super::Coordinator;
use crate::engine::api::{LogLevel, PeerEnd};
use crate::engine::peer::link::PeerCmd;
use crate::net::device;

impl Coordinator {
    /// Called first on every tick. Returns true while the interface is down: the tick then
    /// neither dials nor looks peers up.
    pub(super) fn interface_tick(&mut self) -> bool {
        let down = device::is_down();
        if down {
            // Every tick, not only at the edge: a connection accepted in the meantime (its
            // listener is bound to the device, so hardly) goes too.
            let mut closed = 0;
            for p in self.peers.values_mut() {
                if p.has_conn() {
                    p.send(PeerCmd::Disconnect(PeerEnd::InterfaceDown));
                    closed += 1;
                }
            }
            if !self.run.interface_down {
                self.log(
                    LogLevel::Warn,
                    format!(
                        "{}: closed {closed} connections",
                        device::bound().map_or_else(String::new, |d| format!(
                            "interface {} is down: nothing is sent",
                            d.name()
                        ))
                    ),
                );
            }
        } else if self.run.interface_down {
            self.log(
                LogLevel::Info,
                "interface is back: announcing, reconnecting".into(),
            );
            if let Some(tx) = &self.sources.tracker_tx {
                let _ = tx.try_send(crate::tracker::TrackerCommand::Reannounce);
            }
        }
        self.run.interface_down = down;
        down
    }
}
