//! What the task has for the engine, kept until the channel has room: log lines (the
//! oldest dropped past a bound, never peers) and the newest status rows only.

use super::*;

/// Updates waiting for room in the channel. Sending never blocks the loop, so a busy engine
/// cannot stall `Stop`; only the newest Status is kept.
const MAX_OUTBOX: usize = 512;

impl Task {
    pub(super) fn log(&mut self, level: LogLevel, text: String) {
        if self.outbox.len() >= MAX_OUTBOX {
            // Keep peers; drop the oldest log or status line.
            if let Some(i) = self
                .outbox
                .iter()
                .position(|u| !matches!(u, TrackerUpdate::Peers(_)))
            {
                self.outbox.remove(i);
            }
        }
        self.outbox.push_back(TrackerUpdate::Log(level, text));
    }

    pub(super) fn push_status(&mut self) {
        self.outbox
            .retain(|u| !matches!(u, TrackerUpdate::Status(_)));
        let rows = self.rows(Instant::now());
        self.outbox.push_back(TrackerUpdate::Status(rows));
    }

    fn rows(&self, now: Instant) -> Vec<TrackerRow> {
        let mut rows = Vec::new();
        for (tier_idx, tier) in self.tiers.iter().enumerate() {
            for (pos, t) in tier.trackers.iter().enumerate() {
                let next_announce =
                    (!tier.busy && pos == 0).then(|| tier.next_at.saturating_duration_since(now));
                rows.push(TrackerRow {
                    url: t.url.clone(),
                    tier: tier_idx,
                    status: t.status.clone(),
                    last_announce: t.last_done.map(|d| now.saturating_duration_since(d)),
                    next_announce,
                    seeders: t.seeders,
                    leechers: t.leechers,
                    warning: t.warning.clone(),
                    last_counts: t.main.ever_ok.then_some(t.main.counts),
                });
            }
        }
        rows
    }
}
