//! A request from the UI or the control socket, sent to the part of the manager that does it;
//! every request that can change who runs is followed by the queue's evaluation.

use std::sync::Arc;

use super::{torrent_saves, Manager};
use crate::engine::api::{
    Added, Command, FileLine, LogLevel, Peeked, RequestError, SessionRequest, TorrentId,
};
use crate::engine::session::dormancy::Wake;

impl Manager {
    pub(super) async fn on_request(&mut self, r: SessionRequest) {
        // A read changes nothing the tick's pass over every slot would look at.
        let read = matches!(
            r,
            SessionRequest::Peek { .. }
                | SessionRequest::Files { .. }
                | SessionRequest::Streams { .. }
                | SessionRequest::Reported { .. }
                | SessionRequest::Settings { .. }
                | SessionRequest::Journal { .. }
                | SessionRequest::PeerJournal { .. }
                | SessionRequest::PieceHashes { .. }
                | SessionRequest::TorrentFile { .. }
        );
        self.dirty |= !read;
        // A read sees the queue as weighed after every change before it.
        if read && std::mem::take(&mut self.evaluate_due) {
            self.evaluate(false);
        }
        match r {
            SessionRequest::Add {
                source,
                save_path,
                paused,
                files,
                labels,
                reply,
            } => {
                let result = self.add(source, save_path, (paused, files), &labels);
                // Its slot is in place: the line-up that lists it goes out soon, for the
                // adder who waits for it (`Manager::publish_due`).
                self.publish_due |= matches!(result, Ok((Added::New { .. }, _)));
                // Named from the answer: the new slot's line may not carry its name yet.
                if let Ok((Added::New { name, .. }, _)) = &result {
                    let journal = &self.session.ctx.journal;
                    journal.push(LogLevel::Info, format!("{name}: added"));
                }
                match result {
                    Ok((added, Some(bytes))) => {
                        let (id, info_hash) = match &added {
                            Added::New { id, info_hash, .. }
                            | Added::Already { id, info_hash, .. } => (*id, *info_hash),
                        };
                        self.keep_added(torrent_saves::Unsaved {
                            id,
                            info_hash,
                            bytes,
                            added,
                            reply,
                        });
                    }
                    other => {
                        let _ = reply.send(other.map(|(added, _)| added));
                    }
                }
                self.evaluate_due = true;
            }
            SessionRequest::Labels { id, edit, reply } => {
                let _ = reply.send(self.edit_labels(id, &edit));
            }
            SessionRequest::Catalog { edit, reply } => self.catalog_request(edit, reply),
            SessionRequest::Torrent { id, command } => {
                self.forget_after_complete(id, Some(&command));
                if !self.pause_command(id, &command) {
                    self.wake_id(id, Wake::Command);
                    self.tell(id, command);
                }
                self.evaluate_due = true;
            }
            SessionRequest::Force { id, on, reply } => {
                let _ = reply.send(self.force(id, on));
                self.evaluate_due = true;
            }
            SessionRequest::SuperSeed { id, on, reply } => {
                let _ = reply.send(self.super_seed(id, on));
            }
            SessionRequest::Queue { id, to, reply } => {
                let _ = reply.send(self.queue_move(id, to));
                self.evaluate_due = true;
            }
            SessionRequest::Goals {
                id,
                ratio,
                seed_time,
                idle,
                reply,
            } => {
                let _ = reply.send(self.set_goals(id, ratio, seed_time, idle));
                self.evaluate_due = true;
            }
            SessionRequest::Verify { id } => {
                self.forget_after_complete(id, None);
                self.verify(id);
            }
            SessionRequest::Remove {
                id,
                delete_data,
                reply,
            } => {
                let what = if delete_data {
                    "removed with its files"
                } else {
                    "removed"
                };
                self.journal(LogLevel::Info, id, what);
                self.remove(id, delete_data, reply);
                self.evaluate_due = true;
            }
            SessionRequest::Move { id, dir, reply } => {
                // The user's choice of place wins over the incomplete directory's target.
                self.forget_target(id);
                self.user_move(id, dir, reply);
            }
            SessionRequest::Locate { id, dir, reply } => {
                self.forget_target(id);
                let _ = reply.send(self.locate(id, dir));
            }
            SessionRequest::RenamePath {
                id,
                path,
                name,
                reply,
            } => self.rename_path(id, (&path, &name), reply),
            SessionRequest::Subscribe { id, reply } => {
                // The channel is made first: a sleeping torrent's first snapshot shows it
                // parked complete, and the task it wakes to gets the filled cell.
                let port = self.session.ctx.listen_port;
                let slot = self.slots.find_mut(id);
                let rx = slot.map(|s| s.subscribe(port));
                self.wake_id(id, Wake::Subscribe);
                // After the channel is in the task's cell: an idle torrent ticks slowly and
                // looks at the cell only when it ticks, so it is asked for a snapshot now.
                self.tell(id, Command::Refresh);
                let _ = reply.send(rx);
            }
            SessionRequest::Peek { ids, reply } => {
                let _ = reply.send(self.peek(&ids));
            }
            SessionRequest::Files { id, reply } => {
                let files = self.slot(id).and_then(|s| s.meta.as_ref()).map(|m| {
                    m.info
                        .files
                        .iter()
                        .map(|f| FileLine {
                            path: f.path.join("/"),
                            size: f.length,
                            offset: f.offset,
                            padding: f.padding,
                        })
                        .collect()
                });
                let _ = reply.send(files);
            }
            SessionRequest::OpenStream { id, file, reply } => {
                let opened = self.open_stream(id, file);
                if opened.is_ok() {
                    self.wake_id(id, Wake::Stream);
                }
                let _ = reply.send(opened);
            }
            SessionRequest::Reported { id, reply } => {
                let rows = self
                    .slot(id)
                    .map(|s| self.session.ctx.ledger.reported(&s.info_hash))
                    .unwrap_or_default();
                let _ = reply.send(rows);
            }
            SessionRequest::Streams { id, reply } => {
                let rows = self
                    .slot(id)
                    .map(|s| self.session.ctx.streams.rows(&s.info_hash))
                    .unwrap_or_default();
                let _ = reply.send(rows);
            }
            SessionRequest::Shutdown => {}
            SessionRequest::CrossSeedReport { torrents, reply } => {
                let _ = reply.send(Ok(self.cross_seed_report(torrents)));
            }
            SessionRequest::Stats { by, reply } => {
                let _ = reply.send(Ok(self.stats(by)));
            }
            SessionRequest::BlocklistUpdate { reply } => match &self.blocklist {
                Some(loader) => loader.update(reply),
                None => {
                    let _ = reply.send(Err(RequestError::NoBlocklist));
                }
            },
            SessionRequest::Limit {
                target,
                change,
                reply,
            } => {
                let _ = reply.send(self.limit(target, change));
            }
            SessionRequest::Settings { ids, reply } => {
                let _ = reply.send(self.settings(&ids));
            }
            SessionRequest::Journal {
                last_known_id,
                reply,
            } => {
                let _ = reply.send(self.session.ctx.journal.main_after(last_known_id));
            }
            SessionRequest::PeerJournal {
                last_known_id,
                reply,
            } => {
                let _ = reply.send(self.session.ctx.journal.peers_after(last_known_id));
            }
            SessionRequest::Trackers { id, edit, reply } => {
                let _ = reply.send(self.edit_trackers(id, &edit));
            }
            SessionRequest::PieceHashes { id, reply } => {
                let hashes = self.slot(id).and_then(|s| s.meta.as_ref()).map(|m| {
                    crate::engine::api::PieceHashes {
                        v1: m.info.pieces.clone(),
                        v2_only: m.info.v2.is_some(),
                    }
                });
                let _ = reply.send(hashes);
            }
            SessionRequest::TorrentFile { id, reply } => {
                let file = self.slot(id).and_then(|s| s.meta.as_ref()).map(|m| {
                    use crate::protocol::metainfo::layers;
                    layers::torrent_file(
                        &m.info_bytes,
                        &m.trackers,
                        &m.web_seeds,
                        &layers::layers_of(m),
                    )
                });
                let _ = reply.send(file);
            }
            SessionRequest::SetSettings { change, reply } => {
                let _ = reply.send(self.set_settings(change));
                self.evaluate_due = true;
            }
        }
    }

    /// The full snapshots of `ids` for a reader, in one pass over the slots. A running task
    /// is asked for a fresh one (without counting as work on it: a reader polling every few
    /// seconds must not keep a quiet torrent from sleeping); any other slot answers what it
    /// shows now, built for this answer when nobody subscribes (nothing is kept in its cell).
    /// So does a task that moves its data: it takes no command until its files are in place,
    /// and a reader would wait out its whole limit (every `torrent-get` of the session, each
    /// qBittorrent read of the torrent) for the snapshot it has now.
    fn peek(&mut self, ids: &[TorrentId]) -> Vec<(TorrentId, Peeked)> {
        let at = self.slots.indices(ids);
        let port = self.session.ctx.listen_port;
        let mut out = Vec::with_capacity(at.len());
        for i in at {
            let slot = &mut self.slots[i];
            let running = slot.state.runs();
            let peeked = if running && slot.policy.kept.moving {
                let now = Arc::clone(&slot.subscribe(port).borrow());
                Peeked::Now(now)
            } else if running {
                let rx = slot.subscribe(port);
                // After the channel is in the task's cell, as `Subscribe` does.
                let _ = slot.commands.send(Command::Refresh);
                Peeked::Coming(rx)
            } else {
                let snap = match slot.snapshots.as_ref().and_then(|c| c.get()) {
                    Some(tx) => Arc::clone(&tx.borrow()),
                    None => Arc::new(slot.first_snapshot(port)),
                };
                let idle = slot.idle_for(self.started_unix);
                Peeked::Now(if snap.since_upload < idle {
                    let mut s = crate::engine::api::Snapshot::clone(&snap);
                    s.since_upload = idle;
                    Arc::new(s)
                } else {
                    snap
                })
            };
            out.push((slot.id, peeked));
        }
        out
    }

    /// A place the user chose wins over the incomplete directory's target.
    fn forget_target(&mut self, id: TorrentId) {
        if let Some(s) = self.slots.find_mut(id) {
            let kept = &mut s.policy.kept;
            (kept.target, kept.moving, kept.user_move) = (None, false, false);
        }
    }
}
