//! The explainer's checks of our own side: limits, reachability, the uplink, the disk and the
//! CPU. Split from explain.rs only for length; same rules (pure, time from the Snapshot).

use super::*;

/// RC4 costs about 4 CPU-seconds per GiB here (see `EncryptionPolicy::Prefer`).
const RC4_BYTES_PER_CORE_SEC: f64 = (1u64 << 30) as f64 / 4.0;
/// How long without an incoming connection before the port looks closed.
const REACHABILITY_WINDOW: Duration = Duration::from_secs(30 * 60);

pub(super) fn limits(s: &Snapshot, ctx: &ExplainContext) -> Option<Finding> {
    let l = ctx.limits?;
    if l.queued {
        let e = "waiting in the queue for a download slot".to_string();
        return Some(finding(
            Check::Limits,
            Verdict::HoldingBack,
            e,
            Some("raise the number of active downloads, or move it up the queue"),
        ));
    }
    let limit = l.down?;
    if limit > 0.0 && s.down_rate >= 0.9 * limit {
        let kind = if l.down_kind.is_empty() {
            "download"
        } else {
            l.down_kind
        };
        let e = format!("the {kind} limit of {} is reached", fmt::rate(limit));
        return Some(finding(
            Check::Limits,
            Verdict::HoldingBack,
            e,
            Some("raise or lift the limit"),
        ));
    }
    let e = format!("below the download limit of {}", fmt::rate(limit));
    Some(finding(Check::Limits, Verdict::Ok, e, None))
}

pub(super) fn reachability(s: &Snapshot, ctx: &ExplainContext) -> Option<Finding> {
    if s.listen_port == 0 {
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
    if s.elapsed < REACHABILITY_WINDOW || s.peers.is_empty() {
        return None;
    }
    let incoming = ctx.incoming_last_30min.unwrap_or_else(|| {
        let n = s
            .peers
            .iter()
            .filter(|p| p.source == PeerSource::Incoming && p.since < REACHABILITY_WINDOW)
            .count();
        n as u32
    });
    if incoming > 0 {
        let e = format!(
            "{} in the last 30 minutes",
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
        .and_then(|m| super::port_mapping::mapped_but_unreached(m, s.listen_port))
    {
        return Some(f);
    }
    let e = format!(
        "no incoming connection in the last 30 minutes: your port {} may be closed or behind NAT",
        s.listen_port
    );
    Some(finding(
        Check::Reachability,
        Verdict::Warning,
        e,
        Some("forward the port on your router or open it in the firewall"),
    ))
}

pub(super) fn upload_saturation(s: &Snapshot, ctx: &ExplainContext) -> Option<Finding> {
    let cap = ctx.upload_capacity.or(ctx.limits.and_then(|l| l.up))?;
    if cap <= 0.0 || s.up_rate < 0.9 * cap || s.down_rate >= s.up_rate {
        return None;
    }
    let e = format!(
        "upload at {} of {}: a full uplink delays the acknowledgements downloads need",
        fmt::rate(s.up_rate),
        fmt::rate(cap)
    );
    Some(finding(
        Check::UploadSaturation,
        Verdict::Warning,
        e,
        Some("limit the upload to about 80 % of your link"),
    ))
}

pub(super) fn disk(_: &Snapshot, ctx: &ExplainContext) -> Option<Finding> {
    let waiting = ctx.pending_writes?;
    if waiting < 16 {
        return None;
    }
    let e = format!(
        "{} verified, waiting to be written: the disk is not keeping up",
        plural(waiting as usize, "piece", "pieces")
    );
    Some(finding(
        Check::Disk,
        Verdict::HoldingBack,
        e,
        Some("save to a faster disk"),
    ))
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
