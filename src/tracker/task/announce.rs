//! Announcing: each tier whose time has come sends to its current URL (through the
//! process-wide announce slots), and each outcome goes to its tier, which may fail over to
//! the next URL at once.

use super::*;
use crate::tracker::pace;

impl Task {
    pub(super) fn start_due(&mut self, inflight: &mut FuturesUnordered<AnnounceFuture>) {
        let now = Instant::now();
        let mut changed = false;
        for i in 0..self.tiers.len() {
            let due = self
                .tiers
                .get(i)
                .is_some_and(|t| !t.busy && t.next_at <= now);
            if due {
                if let Some(tier) = self.tiers.get_mut(i) {
                    tier.cursor = 0;
                }
                self.start_announce(i, inflight);
                changed = true;
            }
        }
        if changed {
            self.push_status();
        }
    }

    /// Announces to `trackers[cursor]` of the tier.
    fn start_announce(&mut self, tier_idx: usize, inflight: &mut FuturesUnordered<AnnounceFuture>) {
        let Some(t) = self
            .tiers
            .get(tier_idx)
            .and_then(|tier| tier.trackers.get(tier.cursor))
        else {
            return;
        };
        let event = t.main.next_event(self.complete);
        let url = t.url.clone();
        let req = self.request(self.hashes.main, event, self.config.numwant);
        let also_req = self.hashes.also.map(|h| {
            let ev = t.also.next_event(self.complete);
            self.request(h, ev, self.config.numwant)
        });
        let http = self.http.clone();
        let schedule = self.config.udp_schedule.clone();
        let egress = self.config.egress.clone();
        if let Some(tier) = self.tiers.get_mut(tier_idx) {
            tier.busy = true;
            if let Some(t) = tier.trackers.get_mut(tier.cursor) {
                t.status = TrackerStatus::Announcing;
            }
        }
        inflight.push(Box::pin(async move {
            // Paced first, so a tracker's queue holds no concurrency slot another tracker
            // could use.
            pace::wait_turn(&pace::tracker_key(&url)).await;
            // Never closed, so acquire only fails if it were; then go without a slot.
            let _slot = announce_slots().acquire().await.ok();
            let one = |req: AnnounceRequest| {
                let (url, http, schedule, egress) = (&url, &http, &schedule, &egress);
                async move {
                    match http {
                        Some(http) => announce_from(url, &req, http, schedule, egress).await,
                        None => Err(TrackerError::Io {
                            kind: None,
                            reason: "HTTP client unavailable".into(),
                        }),
                    }
                }
            };
            let (left, also_event) = (req.progress.left, also_req.as_ref().map(|r| r.event));
            let counts = (req.progress.uploaded, req.progress.downloaded);
            // A hybrid's two announces go together: one slot, one wait, one outcome.
            let (result, also) = match also_req {
                Some(a) => {
                    let (r, a) = futures::future::join(one(req), one(a)).await;
                    (r, Some(a))
                }
                None => (one(req).await, None),
            };
            AnnounceDone {
                sent: Sent {
                    tier: tier_idx,
                    url,
                    event,
                    left,
                    counts,
                    also_event,
                },
                result,
                also,
            }
        }));
    }

    pub(super) fn on_outcome(
        &mut self,
        o: AnnounceDone,
        inflight: &mut FuturesUnordered<AnnounceFuture>,
    ) {
        let now = Instant::now();
        let complete = self.complete;
        let config = &self.config;
        let Some(tier) = self.tiers.get_mut(o.sent.tier) else {
            return;
        };
        tier.busy = false;
        let Some(pos) = tier.trackers.iter().position(|t| t.url == o.sent.url) else {
            return;
        };
        let mut logs = Vec::new();
        let mut batch = None;
        let batch_v2: Vec<SocketAddr>;
        let mut fail_over = false;
        let mut seen = None;
        // The v2 hash's answer first: `on_answer` moves the tracker to the tier's front.
        let also_peers = match (o.also, o.sent.also_event) {
            (Some(also), Some(event)) => tier.on_also(pos, also, &o.sent, event, &mut logs),
            _ => Vec::new(),
        };
        match o.result {
            Ok(resp) => {
                seen = resp.seen_as();
                let peers = tier.on_answer(pos, resp, &o.sent, complete, now, &mut logs);
                // A peer in both swarms is dialed under the main hash.
                batch_v2 = also_peers
                    .into_iter()
                    .filter(|p| !peers.contains(p))
                    .collect();
                if !peers.is_empty() {
                    batch = Some(peers);
                }
            }
            Err(e) => {
                fail_over = tier.on_failure(pos, &e, &o.sent, config, now, &mut logs);
                batch_v2 = also_peers;
            }
        }
        for (level, text) in logs {
            self.log(level, text);
        }
        if let Some(seen) = seen {
            self.outbox.push_back(TrackerUpdate::SeenAs(seen));
        }
        if let Some(peers) = batch {
            self.outbox.push_back(TrackerUpdate::Peers(peers));
        }
        if !batch_v2.is_empty() {
            self.outbox.push_back(TrackerUpdate::PeersUnderV2(batch_v2));
        }
        if fail_over {
            self.start_announce(o.sent.tier, inflight);
        }
        self.push_status();
    }
}
