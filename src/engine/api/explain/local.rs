//! The explainer's checks of our own side: limits, reachability, the uplink, the disk and the
//! CPU. Split from explain.rs only for length; same rules (pure, time from the Snapshot).

use super::*;

/// RC4 costs about 4 CPU-seconds per GiB here (see `EncryptionPolicy::Prefer`).
const RC4_BYTES_PER_CORE_SEC: f64 = (1u64 << 30) as f64 / 4.0;

pub(super) fn limits(s: &Snapshot, ctx: &ExplainContext) -> Option<Finding> {
    // Without the session's word, the torrent's own limit still speaks.
    let l = ctx.limits.unwrap_or_default();
    if l.queued {
        let e = "waiting in the queue for a download slot".to_string();
        return Some(finding(
            Check::Limits,
            Verdict::HoldingBack,
            e,
            Some("raise the number of active downloads, or move it up the queue"),
        ));
    }
    let own = s.own_limits.down as f64;
    let (limit, own_binds) = match l.down {
        Some(session) if own <= 0.0 || session < own => (session, false),
        _ if own > 0.0 => (own, true),
        _ => return None,
    };
    let what = if own_binds {
        "this torrent's own download limit".to_string()
    } else if l.down_kind.is_empty() {
        "the download limit".to_string()
    } else {
        format!("the {} limit", l.down_kind)
    };
    if crate::engine::api::limit_binds(s.down_rate, limit, s.limits_held.down) {
        let e = format!("{what} of {} is reached", fmt::rate(limit));
        let advice = if own_binds {
            format!(
                "raise or lift it: `ttui limit {} --down RATE` (0 lifts it)",
                s.id.0
            )
        } else {
            "raise or lift the limit".to_string()
        };
        return Some(Finding {
            check: Check::Limits,
            verdict: Verdict::HoldingBack,
            evidence: e,
            advice: Some(advice),
        });
    }
    let e = format!("below {what} of {}", fmt::rate(limit));
    Some(finding(Check::Limits, Verdict::Ok, e, None))
}

pub(super) fn reachability(s: &Snapshot, ctx: &ExplainContext) -> Option<Finding> {
    // Through a proxy nobody can reach us, whatever the port: the proxy's check says so.
    if ctx.proxy.is_some() || s.listen_port == 0 {
        return None;
    }
    // A router that refused is worth saying at once: the user can act on it.
    if let Some(f) = ctx
        .port_mapping
        .as_ref()
        .and_then(super::port_mapping::failed)
    {
        return Some(f);
    }
    let window = ctx.reachability_window.unwrap_or(REACHABILITY_WINDOW);
    if s.elapsed < window || s.peers.is_empty() {
        return None;
    }
    let incoming = ctx.incoming_in_window.unwrap_or_else(|| {
        let n = s
            .peers
            .iter()
            // `since` counts from the last change of stage: a peer that dialed in long ago and
            // is still connected proves the port open now.
            .filter(|p| {
                p.source == PeerSource::Incoming
                    && (p.since < window || p.stage == PeerStage::Connected)
            })
            .count();
        n as u32
    });
    let last = window_words(window);
    if incoming > 0 {
        let e = format!(
            "{} in the last {last}",
            plural(
                incoming as usize,
                "incoming connection",
                "incoming connections"
            )
        );
        return Some(finding(Check::Reachability, Verdict::Ok, e, None));
    }
    if let Some(f) = ctx
        .port_mapping
        .as_ref()
        .and_then(|m| super::port_mapping::mapped_but_unreached(m, s.listen_port, &last))
    {
        return Some(f);
    }
    let e = format!(
        "no incoming connection in the last {last}: your port {} may be closed or behind NAT",
        s.listen_port
    );
    Some(finding(
        Check::Reachability,
        Verdict::Warning,
        e,
        Some("forward the port on your router or open it in the firewall"),
    ))
}

/// The window in words: "30 minutes" in production, "20 seconds" under a test's window.
fn window_words(window: Duration) -> String {
    let secs = window.as_secs();
    if secs >= 60 && secs.is_multiple_of(60) {
        plural((secs / 60) as usize, "minute", "minutes")
    } else {
        plural(secs as usize, "second", "seconds")
    }
}

/// Our upload this close to its measured ceiling counts as full.
const UPLINK_FULL: f64 = 0.9;
/// Below this ceiling there is no link worth measuring (a seed that never uploaded).
const UPLINK_MIN_CEILING: f64 = 16.0 * 1024.0;
/// Round trips count as up when the median connection's rose by at least this much, and by
/// at least its own floor (doubled): jitter on a long path is not queueing at our end.
const RTT_RISE_MIN: Duration = Duration::from_millis(40);
/// The download counts as falling below this share of its best of the last half hour.
const DOWN_FELL: f64 = 0.5;

/// The upload fills the link and starves the download: our upload near the most the session
/// ever sustained, every connection's round trip up by the queue that builds behind it, and
/// this download fallen from its best. All three, or nothing is said (`torrent/uplink.rs`).
pub(super) fn upload_saturation(s: &Snapshot, _: &ExplainContext) -> Option<Finding> {
    let u = &s.uplink;
    let (rtt, floor, rise) = (u.rtt?, u.rtt_floor?, u.rtt_rise?);
    let full = u.up_ceiling >= UPLINK_MIN_CEILING && u.up >= UPLINK_FULL * u.up_ceiling;
    let queued = rise >= RTT_RISE_MIN && rise >= floor;
    let fell = u.down_best > 0.0 && u.down < DOWN_FELL * u.down_best;
    if !(full && queued && fell) {
        return None;
    }
    let e = format!(
        "the upload fills the link: {} is {:.0} % of the most it has carried ({}); round \
         trips rose from {} to {} and this download fell from {} to {}",
        fmt::rate(u.up),
        100.0 * u.up / u.up_ceiling,
        fmt::rate(u.up_ceiling),
        millis(floor),
        millis(rtt),
        fmt::rate(u.down_best),
        fmt::rate(u.down),
    );
    // 80 %: the queue at the link drains, and requests and acknowledgements pass at once.
    let target = 0.8 * u.up_ceiling;
    let advice = format!(
        "set an upload limit of about {} (80 % of {}): `ttui limit --up {}`",
        fmt::rate(target),
        fmt::rate(u.up_ceiling),
        limit_arg(target)
    );
    Some(Finding {
        check: Check::UploadSaturation,
        verdict: Verdict::HoldingBack,
        evidence: e,
        advice: Some(advice),
    })
}

/// A round trip in milliseconds; a tenth under 10 ms, where a LAN's or loopback's sit.
fn millis(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 0.1 {
        "under 0.1 ms".to_string()
    } else if ms < 10.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{ms:.0} ms")
    }
}

/// A rate as `ttui limit` takes it: whole KiB a second.
fn limit_arg(bytes_per_sec: f64) -> String {
    format!("{}K", (bytes_per_sec / 1024.0).floor().max(1.0) as u64)
}

/// Held back for the writers at least this share of the last 5 s: the disk, not the swarm,
/// sets the pace.
const DISK_HELD_SHARE: f32 = 0.5;

/// Reads for peers waiting this long without a pause: the disk is not answering.
const READS_STUCK: Duration = Duration::from_secs(2);
/// Reads for peers taking this long on average, with several queued: the disk sets the pace
/// of the upload (a hard disk's seek is ~10 ms; a read of a piece, tens).
const READS_SLOW: Duration = Duration::from_millis(100);

/// The disk holds the torrent back: its writers cannot keep up with a download, or its reads
/// keep peers waiting for pieces.
pub(super) fn disk(s: &Snapshot, _: &ExplainContext) -> Option<Finding> {
    let d = &s.disk;
    if d.held < DISK_HELD_SHARE {
        return disk_reads(d);
    }
    let e = format!(
        "the disk is not keeping up: its writers' backlog is full ({} waiting) and reading \
         from peers was held back {:.0} % of the last 5 s; the disk writes {}, the peers sent \
         up to {}",
        fmt::bytes(d.backlog),
        d.held * 100.0,
        fmt::rate(d.write_rate),
        fmt::rate(d.down_peak.max(s.down_rate))
    );
    Some(finding(
        Check::Disk,
        Verdict::HoldingBack,
        e,
        Some("save to a faster (or less busy) disk"),
    ))
}

/// The reads' side of `disk`.
fn disk_reads(d: &crate::engine::api::DiskRow) -> Option<Finding> {
    if !d.reads_here {
        return None;
    }
    let reads = |n: u32| plural(n as usize, "read", "reads");
    if let Some(waited) = d.read_waited.filter(|w| *w >= READS_STUCK) {
        let e = format!(
            "the disk is not answering: {} for peers waiting, none done for {}{}",
            reads(d.reads_waiting),
            fmt::duration(waited),
            d.read_average
                .map(|a| format!(" (before that they took {} each)", millis(a)))
                .unwrap_or_default()
        );
        let advice = "check the disk (`dmesg`, the mount): peers wait for its pieces";
        return Some(finding(Check::Disk, Verdict::HoldingBack, e, Some(advice)));
    }
    let average = d.read_average.filter(|a| *a >= READS_SLOW)?;
    if d.reads_waiting < 2 {
        return None;
    }
    let e = format!(
        "reading from the disk is slow: reads for peers take {} each lately, {} queued on it",
        millis(average),
        reads(d.reads_waiting)
    );
    let advice = "a faster or less busy disk, or fewer torrents seeding from this one";
    Some(finding(Check::Disk, Verdict::Warning, e, Some(advice)))
}

pub(super) fn rc4_cpu(s: &Snapshot, _: &ExplainContext) -> Option<Finding> {
    let rc4: f64 = connected(s)
        .filter(|p| p.encryption == Some(Encryption::Rc4))
        .map(|p| p.down_rate + p.up_rate)
        .sum();
    let share = rc4 / RC4_BYTES_PER_CORE_SEC;
    if share < 0.5 {
        return None;
    }
    let e = format!(
        "RC4 encryption takes about {:.0} % of a core ({} encrypted)",
        share * 100.0,
        fmt::rate(rc4)
    );
    Some(finding(Check::Rc4Cpu, Verdict::Warning, e, Some("peers that allow plain connections do not need it: keep `--encryption prefer`, not `require`")))
}
