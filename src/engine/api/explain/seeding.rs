//! The explainer's word on a seed that uploads nothing: one reason, the first that holds of
//! the seed slots being full, our upload limit at or near zero, nobody in the swarm
//! downloading, and nobody ever reaching us. Same rules as explain.rs (pure, time from the
//! Snapshot): the ones ours to fix come first, since they hold even when a leecher exists.

use super::*;

/// A seed idle this long gets a reason. Past the rate's short window and a slow leecher's gap
/// between blocks, and short enough that the reason shows within 30 s of its cause.
const IDLE_AFTER: Duration = Duration::from_secs(15);
/// An upload limit this low sends a 16 KiB block every 16 s at best: as good as none.
const NEAR_ZERO: u64 = 1024;

pub(super) fn seeding_idle(s: &Snapshot, ctx: &ExplainContext) -> Option<Finding> {
    if s.state != TorrentState::Seeding || s.since_upload < IDLE_AFTER {
        return None;
    }
    let idle = format!("nothing uploaded for {}", fmt::duration(s.since_upload));
    let say = |verdict, why: String, advice: Option<String>| Finding {
        check: Check::SeedingIdle,
        verdict,
        evidence: format!("{idle}: {why}"),
        advice,
    };
    if let Some(q) = &ctx.queued {
        return Some(say(
            Verdict::HoldingBack,
            format!("the seed slots are full ({q})"),
            Some("raise max_active_seeds (--max-active-seeds), or move it up the queue".into()),
        ));
    }
    if let Some((limit, whose)) = upload_limit(s, ctx).filter(|(l, _)| *l <= NEAR_ZERO) {
        return Some(say(
            Verdict::HoldingBack,
            format!("{whose} upload limit is {}", fmt::rate(limit as f64)),
            Some(match whose {
                "this torrent's own" => format!("raise it: `ttui limit {} --up RATE`", s.id.0),
                _ => "raise the upload limit (`ttui limit --up RATE`)".into(),
            }),
        ));
    }
    let peers: Vec<&PeerRow> = connected(s).collect();
    let leeching = peers.iter().filter(|p| p.progress < 1.0).count();
    // The trackers' count: the largest any answered with.
    let counted = s.trackers.iter().filter_map(|t| t.leechers).max();
    if leeching == 0 {
        let why = match counted {
            Some(0) => "the tracker counts 0 leechers".to_string(),
            None if !peers.is_empty() => format!(
                "all {} connected are seeds",
                plural(peers.len(), "peer", "peers")
            ),
            _ => String::new(),
        };
        if !why.is_empty() {
            let why = format!("no one in the swarm is downloading: {why}");
            let advice = "nothing of ours to fix: it keeps seeding for any leecher that comes \
                          (`--seed-idle` can pause it)";
            return Some(say(Verdict::Warning, why, Some(advice.into())));
        }
    }
    let incoming = ctx.incoming_total.unwrap_or_else(|| {
        let n = s.peers.iter().filter(|p| p.source == PeerSource::Incoming);
        n.count() as u64
    });
    // Someone must want in for "nobody reached us" to mean anything: leechers the tracker
    // counts, or peers we learned of (and could not serve).
    let wanted = counted.is_some_and(|n| n > 0) || !s.peers.is_empty();
    if leeching == 0 && incoming == 0 && s.listen_port != 0 && wanted {
        let mut why = format!(
            "no peer has ever connected to us: port {} may be closed or behind NAT",
            s.listen_port
        );
        if let Some(n) = counted.filter(|n| *n > 0) {
            let n = plural(n as usize, "leecher", "leechers");
            why.push_str(&format!(", while the tracker counts {n}"));
        }
        return Some(say(
            Verdict::HoldingBack,
            why,
            Some("forward the port on your router or open it in the firewall".into()),
        ));
    }
    None
}

/// The tightest upload limit over the torrent and whose it is, when there is one.
fn upload_limit(s: &Snapshot, ctx: &ExplainContext) -> Option<(u64, &'static str)> {
    let session = ctx.limits.and_then(|l| l.up).map(|u| u as u64);
    let own = (s.own_limits.up > 0).then_some(s.own_limits.up);
    match (own, session) {
        (Some(o), session) if session.is_none_or(|v| o <= v) => Some((o, "this torrent's own")),
        (_, Some(v)) => Some((v, "the session's")),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::api::{PeerAddr, QueueState, RatePair, TrackerRow};

    /// A seed of 4 pieces, idle for a minute, listening on 6881, with one tracker that
    /// answered `leechers`, and nothing else known.
    fn idle_seed(leechers: Option<u32>) -> Snapshot {
        let mut t = TrackerRow::not_contacted("http://127.0.0.1:1/announce".into(), 0);
        t.leechers = leechers;
        Snapshot {
            state: TorrentState::Seeding,
            since_upload: Duration::from_secs(60),
            listen_port: 6881,
            trackers: vec![t],
            ..Snapshot::empty("s", 4 << 14, 1 << 14)
        }
    }

    fn peer(port: u16, source: PeerSource, progress: f32) -> PeerRow {
        let addr: PeerAddr = format!("127.0.0.1:{port}").parse().unwrap();
        PeerRow {
            progress,
            ..PeerRow::new(addr, source, PeerStage::Connected)
        }
    }

    fn idle(s: &Snapshot, ctx: &ExplainContext) -> Option<Finding> {
        explain(s, ctx)
            .into_iter()
            .find(|f| f.check == Check::SeedingIdle)
    }

    fn reached(n: u64) -> ExplainContext {
        ExplainContext {
            incoming_total: Some(n),
            ..ExplainContext::default()
        }
    }

    #[test]
    fn a_busy_or_recent_seed_or_a_download_gets_no_word() {
        let mut s = idle_seed(Some(3));
        s.since_upload = Duration::from_secs(5);
        assert_eq!(idle(&s, &ExplainContext::default()), None);
        let s = Snapshot {
            state: TorrentState::Downloading,
            ..idle_seed(Some(0))
        };
        assert_eq!(idle(&s, &ExplainContext::default()), None);
        // Reached, with a leecher connected that wants nothing yet: no reason we know.
        let mut s = idle_seed(Some(1));
        s.peers.push(peer(2, PeerSource::Incoming, 0.5));
        assert_eq!(idle(&s, &reached(1)), None);
    }

    #[test]
    fn no_leechers_by_the_tracker_or_by_the_peers() {
        let f = idle(&idle_seed(Some(0)), &reached(0)).unwrap();
        assert_eq!(
            (f.check.name(), f.verdict),
            ("seeding_idle", Verdict::Warning)
        );
        assert_eq!(
            f.evidence,
            "nothing uploaded for 1m 00s: no one in the swarm is downloading: the tracker counts 0 leechers"
        );
        assert!(f.advice.unwrap().contains("nothing of ours to fix"));
        let mut s = idle_seed(None);
        s.peers = vec![
            peer(2, PeerSource::Tracker, 1.0),
            peer(3, PeerSource::Pex, 1.0),
        ];
        let f = idle(&s, &ExplainContext::default()).unwrap();
        assert!(
            f.evidence
                .ends_with("downloading: all 2 peers connected are seeds"),
            "{}",
            f.evidence
        );
        // Nothing told us of the swarm: no word on it, nor on our port.
        assert_eq!(idle(&idle_seed(None), &reached(1)), None);
        assert_eq!(idle(&idle_seed(None), &reached(0)), None);
    }

    #[test]
    fn leechers_counted_but_nobody_ever_came_in() {
        let f = idle(&idle_seed(Some(2)), &reached(0)).unwrap();
        assert_eq!(f.verdict, Verdict::HoldingBack);
        assert!(
            f.evidence.contains("port 6881 may be closed"),
            "{}",
            f.evidence
        );
        assert!(
            f.evidence.ends_with("the tracker counts 2 leechers"),
            "{}",
            f.evidence
        );
        assert!(f.advice.unwrap().contains("forward the port"));
        // Someone once did: we are reachable, and this is not the reason.
        assert_eq!(idle(&idle_seed(Some(2)), &reached(4)), None);
        // Not listening: no port to blame.
        let s = Snapshot {
            listen_port: 0,
            ..idle_seed(Some(2))
        };
        assert_eq!(idle(&s, &reached(0)), None);
    }

    #[test]
    fn an_upload_limit_near_zero_ours_or_the_sessions() {
        let mut s = idle_seed(Some(2));
        s.peers.push(peer(2, PeerSource::Incoming, 0.2));
        s.own_limits = RatePair { down: 0, up: 512 };
        let f = idle(&s, &reached(1)).unwrap();
        assert_eq!(f.verdict, Verdict::HoldingBack);
        assert!(
            f.evidence
                .ends_with("this torrent's own upload limit is 512 B/s"),
            "{}",
            f.evidence
        );
        assert!(f.advice.unwrap().contains("ttui limit 0 --up"));
        s.own_limits = RatePair::default();
        let mut ctx = reached(1);
        ctx.limits = Some(Limits {
            up: Some(1.0),
            ..Limits::default()
        });
        let f = idle(&s, &ctx).unwrap();
        assert!(
            f.evidence.ends_with("the session's upload limit is 1 B/s"),
            "{}",
            f.evidence
        );
        // A limit that lets blocks through is not the reason.
        ctx.limits = Some(Limits {
            up: Some(50_000.0),
            ..Limits::default()
        });
        assert_eq!(idle(&s, &ctx), None);
    }

    #[test]
    fn full_seed_slots_come_first() {
        let mut ctx = reached(0);
        ctx.queued = Some(QueueState::Waiting {
            seed: true,
            rank: 1,
            slots: 1,
        });
        let mut s = idle_seed(Some(0));
        s.own_limits.up = 1;
        let f = idle(&s, &ctx).unwrap();
        assert_eq!(f.verdict, Verdict::HoldingBack);
        assert!(
            f.evidence
                .ends_with("the seed slots are full (queued: 1st for 1 seed slot)"),
            "{}",
            f.evidence
        );
        assert!(f.advice.unwrap().contains("--max-active-seeds"));
    }
}
