//! `ttui limit`: the session's limits (turtle mode included) and torrents' own, changed at
//! runtime. A torrent's own limits go into its resume data at once; the session's come from
//! the config and flags at the next start.

use crate::engine::api::{
    LimitChange, LimitTarget, LimitsNow, RequestError, TorrentLimits, Turtle,
};
use crate::engine::peer::rate::RatePair;

use super::Manager;

impl Manager {
    pub(super) fn limit(
        &mut self,
        target: LimitTarget,
        change: LimitChange,
    ) -> Result<LimitsNow, RequestError> {
        let rates = std::sync::Arc::clone(&self.session.ctx.rates);
        if let Some(t) = change.turtle {
            let on = match t {
                Turtle::On => true,
                Turtle::Off => false,
                Turtle::Toggle => !rates.view().turtle,
            };
            rates.set_turtle(on);
        }
        let touches = change.down.is_some() || change.up.is_some();
        let ids: Vec<usize> = match &target {
            LimitTarget::Session => {
                if touches {
                    rates.set_normal(change.down, change.up);
                }
                Vec::new()
            }
            LimitTarget::All => (0..self.slots.len()).collect(),
            LimitTarget::Torrents(ids) => {
                let mut out = Vec::new();
                for id in ids {
                    let i = self
                        .slots
                        .iter()
                        .position(|s| s.id == *id)
                        .ok_or(RequestError::NoTorrent(*id))?;
                    out.push(i);
                }
                out
            }
        };
        let mut torrents = Vec::new();
        for i in ids {
            if touches {
                self.slots[i].rates.set_own(change.down, change.up);
                self.save_limits(i);
            }
            let slot = &self.slots[i];
            let RatePair { down, up } = slot.rates.own();
            torrents.push(TorrentLimits {
                id: slot.id.0,
                name: slot.line.borrow().name.clone(),
                down,
                up,
            });
        }
        let view = rates.view();
        Ok(LimitsNow {
            down: view.normal.down,
            up: view.normal.up,
            alt_down: view.alt.down,
            alt_up: view.alt.up,
            turtle: view.turtle,
            torrents,
        })
    }

    /// Saves the torrent's resume data again with its new limits (a parked torrent's too).
    fn save_limits(&mut self, i: usize) {
        let slot = &mut self.slots[i];
        let own = slot.rates.own();
        if let Some(point) = slot.last.as_mut() {
            point.rates = own;
        }
        self.save_policy(i);
    }
}
