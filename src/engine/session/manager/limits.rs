//! `ttui limit`: the session's limits (turtle mode included) and torrents' own, changed at
//! runtime. A torrent's own limits go into its resume data at once; the session's come from
//! the config and flags at the next start.

use crate::engine::api::RatePair;
use crate::engine::api::{
    LimitChange, LimitTarget, LimitsNow, RequestError, TorrentId, TorrentLimits, Turtle,
};

use super::{Manager, Slot};

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
                    let i = self.slots.index(*id).ok_or(RequestError::NoTorrent(*id))?;
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

impl Manager {
    /// A torrent's own goals, limits and force start, as its line and `settings` tell them.
    /// A goal it leaves to the default shows its trackers' (`TrackerGoals::shown`).
    pub(super) fn own_settings(
        slot: &Slot,
        rules: &crate::engine::api::TrackerRules,
    ) -> crate::engine::api::OwnSettings {
        use crate::engine::api::{Set, TrackerGoals};
        use crate::engine::session::goals::Kind;
        let g = &slot.policy.kept.goals;
        let t = crate::engine::session::goals::trackers_set(rules, slot.meta.as_deref());
        fn set<T>(v: Option<T>, off: u8, k: Kind) -> Set<T> {
            match v {
                Some(v) => Set::To(v),
                None if off & k as u8 != 0 => Set::Off,
                None => Set::Default,
            }
        }
        let RatePair { down, up } = slot.rates.own();
        crate::engine::api::OwnSettings {
            ratio: TrackerGoals::shown(set(g.ratio, g.off, Kind::Ratio), t.ratio),
            seed_time: TrackerGoals::shown(set(g.seed_time, g.off, Kind::Time), t.seed_time),
            idle: TrackerGoals::shown(set(g.idle, g.off, Kind::Idle), t.idle),
            down,
            up,
            forced: slot.policy.kept.forced,
        }
    }

    /// The session's settings and those of the torrents `ids` names, in the session's order
    /// (`SessionRequest::Settings`).
    pub(super) fn settings(&self, ids: &[TorrentId]) -> crate::engine::api::Settings {
        use crate::engine::api::TorrentSettings;
        let view = self.session.ctx.rates.view();
        // A poll of one torrent (`recently-active`) costs one lookup.
        let torrents = self
            .slots
            .indices(ids)
            .into_iter()
            .map(|i| &self.slots[i])
            .map(|slot| {
                let own = Self::own_settings(slot, &self.opts.trackers);
                TorrentSettings {
                    id: slot.id,
                    ratio: own.ratio,
                    seed_time: own.seed_time,
                    idle: own.idle,
                    down: own.down,
                    up: own.up,
                    seeded: slot.policy.seeded(),
                    forced: own.forced,
                }
            })
            .collect();
        crate::engine::api::Settings {
            incomplete_dir: self.opts.incomplete_dir.clone(),
            sequential: self.opts.sequential,
            goals: self.opts.goals,
            goal_action: self.opts.goal_action,
            max_downloads: self.opts.queue.max_downloads,
            max_seeds: self.opts.queue.max_seeds,
            stalled_after: self.opts.queue.stalled_after,
            limits: LimitsNow {
                down: view.normal.down,
                up: view.normal.up,
                alt_down: view.alt.down,
                alt_up: view.alt.up,
                turtle: view.turtle,
                torrents: Vec::new(),
            },
            torrents,
        }
    }

    /// Changes the session's goals and queue sizes (`SessionRequest::SetSettings`); the
    /// queue's next evaluation applies them.
    pub(super) fn set_settings(
        &mut self,
        change: crate::engine::api::SettingsChange,
    ) -> Result<(), RequestError> {
        if change
            .ratio
            .flatten()
            .is_some_and(|r| !(r.is_finite() && r >= 0.0))
        {
            return Err(RequestError::BadSetting(
                "a ratio goal is a number of 0 or more".into(),
            ));
        }
        if let Some(Some(dir)) = &change.incomplete_dir {
            if !dir.is_absolute() {
                return Err(RequestError::BadSetting(
                    "the incomplete directory must be an absolute path".into(),
                ));
            }
        }
        if let Some(r) = change.ratio {
            self.opts.goals.ratio = r;
        }
        if let Some(dir) = change.incomplete_dir {
            self.opts.incomplete_dir = dir;
        }
        if let Some(on) = change.sequential {
            self.opts.sequential = on;
        }
        if let Some(i) = change.idle {
            self.opts.goals.idle = i;
        }
        let q = &mut self.opts.queue;
        if let Some(n) = change.max_downloads {
            q.max_downloads = n;
        }
        if let Some(n) = change.max_seeds {
            q.max_seeds = n;
        }
        if let Some(d) = change.stalled_after {
            q.stalled_after = d;
        }
        Ok(())
    }
}
