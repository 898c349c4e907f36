//! What the connection does with each command its torrent sends it (`PeerCmd`): PEX and
//! hole-punch messages to send, a request to cancel or preempt, hashes to ask, choke and
//! unchoke, pause and resume, super-seeding's offers and unhiding, the end.

use super::*;

impl PeerConn {
    /// One command from the torrent; Err ends the connection, with its reason.
    pub(crate) fn on_command(&mut self, c: PeerCmd) -> Result<(), PeerEnd> {
        match c {
            PeerCmd::SendPex(payload) => {
                if let Some(id) = self.ext.ut_pex() {
                    self.push(&Message::Extended { id, payload });
                }
            }
            PeerCmd::SendHolepunch(msg) => {
                if let Some(id) = self.ext.holepunch() {
                    let payload = Bytes::from(msg.encode());
                    self.push(&Message::Extended { id, payload });
                }
            }
            PeerCmd::Cancel { index, begin } => self.cancel(index, begin),
            PeerCmd::Preempt(due) => self.preempt(&due),
            PeerCmd::AskHashes(head) => {
                if self.hash_asks.len() >= HASH_ASKS {
                    self.hash_asks.remove(0);
                }
                self.hash_asks.push(head);
                self.push(&Message::HashRequest(head));
            }
            PeerCmd::Choke => {
                if !self.flags.am_choking {
                    self.flags.am_choking = true;
                    self.push(&Message::Choke);
                    self.reject_uploads();
                    self.set_flags();
                }
            }
            PeerCmd::Unchoke => {
                if self.flags.am_choking && !self.paused {
                    self.flags.am_choking = false;
                    self.push(&Message::Unchoke);
                    self.set_flags();
                }
            }
            PeerCmd::Pause => {
                self.paused = true;
                // Cancel what is queued at the peer, or it keeps sending for seconds (a
                // throttled peer holds many of our requests) and the pause does not show.
                for r in self.requests.iter() {
                    encode_into(
                        &Message::Cancel {
                            index: r.index,
                            begin: r.begin,
                            length: r.length,
                        },
                        &mut self.out,
                    );
                }
                self.release_all();
                self.set_interest(false);
                if !self.flags.am_choking {
                    self.flags.am_choking = true;
                    self.push(&Message::Choke);
                    self.reject_uploads();
                    self.set_flags();
                }
            }
            PeerCmd::Resume => {
                self.paused = false;
                let wants = self.torrent.wants_any(&self.peer_has);
                self.set_interest(wants);
                // Also how a change of the wanted files reaches us (the torrent re-weighs
                // every connection): we may be upload-only now, or no longer.
                self.refresh_upload_only();
            }
            PeerCmd::Offer(index) => {
                if self.hidden && self.torrent.has_piece(index) && self.announced.set(index) {
                    self.push(&Message::Have(index));
                }
            }
            PeerCmd::Unhide => {
                if self.hidden {
                    self.hidden = false;
                    // HAVE_ALL is for the start of a connection only: one `have` per piece.
                    self.on_verified_lagged();
                    self.refresh_upload_only();
                }
            }
            PeerCmd::Disconnect(end) => return Err(end),
        }
        Ok(())
    }
}
