//! What a face changes in a slot's policy: force start, super-seeding, its place in the
//! queue, its own goals. Each is kept (saved with the slot's resume data) and weighed at the
//! next pass of the queue.

use super::*;

impl Manager {
    /// `ttui resume --force` (on) and `ttui resume` (off).
    pub(in crate::engine::session::manager) fn force(
        &mut self,
        id: TorrentId,
        on: bool,
    ) -> Result<(), RequestError> {
        let i = self.index(id)?;
        if self.slots[i].policy.kept.forced != on {
            self.slots[i].policy.kept.forced = on;
            self.save_policy(i);
        }
        Ok(())
    }

    /// `ttui super-seed ID on|off`: kept with the torrent; its task, when it runs, hears it
    /// now (a stopped one starts with it).
    pub(in crate::engine::session::manager) fn super_seed(
        &mut self,
        id: TorrentId,
        on: bool,
    ) -> Result<(), RequestError> {
        let i = self.index(id)?;
        if self.slots[i].policy.kept.super_seeding != on {
            self.slots[i].policy.kept.super_seeding = on;
            self.save_policy(i);
        }
        if self.slots[i].state.parked().is_none() {
            self.tell(id, Command::SetSuperSeeding(on));
        }
        Ok(())
    }

    pub(in crate::engine::session::manager) fn queue_move(
        &mut self,
        id: TorrentId,
        m: Move,
    ) -> Result<(), RequestError> {
        let who = self.index(id)?;
        let mut positions: Vec<u32> = self.slots.iter().map(|s| s.queue_position).collect();
        queue::reorder(&mut positions, who, m);
        for (i, p) in positions.into_iter().enumerate() {
            if self.slots[i].queue_position != p {
                self.slots[i].queue_position = p;
                self.save_policy(i);
            }
        }
        self.slots.positions_changed();
        Ok(())
    }

    /// Positions 0..n in the current order: after a restore (damaged resume data puts a
    /// torrent at u32::MAX) and a removal.
    pub(in crate::engine::session::manager) fn renumber(&mut self) {
        let mut positions: Vec<u32> = self.slots.iter().map(|s| s.queue_position).collect();
        if let Some(last) = positions.len().checked_sub(1) {
            // Moving the last to the bottom renumbers without changing the order.
            let mut order: Vec<usize> = (0..positions.len()).collect();
            order.sort_by_key(|&i| (positions[i], i));
            queue::reorder(&mut positions, order[last], Move::Bottom);
        }
        for (slot, p) in self.slots.iter_mut().zip(positions) {
            slot.queue_position = p;
        }
        self.slots.positions_changed();
    }

    pub(in crate::engine::session::manager) fn set_goals(
        &mut self,
        id: TorrentId,
        ratio: Option<goals::Set<f64>>,
        seed_time: Option<goals::Set<Duration>>,
        idle: Option<goals::Set<Duration>>,
    ) -> Result<(), RequestError> {
        let i = self.index(id)?;
        self.slots[i].policy.kept.goals.set(ratio, seed_time, idle);
        self.save_policy(i);
        Ok(())
    }

    pub(in crate::engine::session::manager) fn index(
        &self,
        id: TorrentId,
    ) -> Result<usize, RequestError> {
        self.slots.index(id).ok_or(RequestError::NoTorrent(id))
    }
}
