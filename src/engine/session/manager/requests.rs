//! A request from the UI or the control socket, sent to the part of the manager that does it;
//! every request that can change who runs is followed by the queue's evaluation.

use super::*;
use crate::engine::session::dormancy::Wake;

impl Manager {
    pub(super) async fn on_request(&mut self, r: SessionRequest) {
        self.dirty = true;
        match r {
            SessionRequest::Add {
                source,
                save_path,
                paused,
                files,
                labels,
                reply,
            } => {
                let _ = reply.send(self.add(source, save_path, (paused, files), &labels));
                self.evaluate(false);
            }
            SessionRequest::Labels { id, edit, reply } => {
                let _ = reply.send(self.edit_labels(id, &edit));
            }
            SessionRequest::Torrent { id, command } => {
                self.forget_after_complete(id, Some(&command));
                if !self.pause_command(id, &command) {
                    self.wake_id(id, Wake::Command);
                    self.tell(id, command);
                }
                self.evaluate(false);
            }
            SessionRequest::Force { id, on, reply } => {
                let _ = reply.send(self.force(id, on));
                self.evaluate(false);
            }
            SessionRequest::Queue { id, to, reply } => {
                let _ = reply.send(self.queue_move(id, to));
                self.evaluate(false);
            }
            SessionRequest::Goals {
                id,
                ratio,
                seed_time,
                idle,
                reply,
            } => {
                let _ = reply.send(self.set_goals(id, ratio, seed_time, idle));
                self.evaluate(false);
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
                self.remove(id, delete_data, reply);
                self.evaluate(false);
            }
            SessionRequest::Move { id, dir, reply } => {
                // The user's choice of place wins over the incomplete directory's target.
                self.forget_target(id);
                self.start_move(id, dir, reply);
            }
            SessionRequest::Locate { id, dir, reply } => {
                self.forget_target(id);
                let _ = reply.send(self.locate(id, dir));
            }
            SessionRequest::Subscribe { id, reply } => {
                // The channel is made first: a sleeping torrent's first snapshot shows it
                // parked complete, and the task it wakes to gets the filled cell.
                let port = self.session.ctx.listen_port;
                let slot = self.slots.iter_mut().find(|s| s.id == id);
                let rx = slot.map(|s| s.subscribe(port));
                self.wake_id(id, Wake::Subscribe);
                // After the channel is in the task's cell: an idle torrent ticks slowly and
                // looks at the cell only when it ticks, so it is asked for a snapshot now.
                self.tell(id, Command::Refresh);
                let _ = reply.send(rx);
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
            SessionRequest::Shutdown => {}
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
            SessionRequest::SetSettings { change, reply } => {
                let _ = reply.send(self.set_settings(change));
                self.evaluate(false);
            }
        }
    }

    /// A place the user chose wins over the incomplete directory's target.
    fn forget_target(&mut self, id: TorrentId) {
        if let Some(s) = self.slots.iter_mut().find(|s| s.id == id) {
            (s.policy.kept.target, s.policy.kept.moving) = (None, false);
        }
    }
}
