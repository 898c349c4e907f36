//! The explainer's word on an open stream that waits (a player on the stream server, `ttui
//! play`, `P` on the Files tab): where its reader waits, measured from the reader's side (the
//! bytes its reads have waited for), and the first of three causes that holds. No connected
//! peer has the piece under the reader; a download limit holds the torrent back; or the swarm
//! is slower than the player reads. A stream that keeps up says nothing.

use super::*;

pub(super) fn stream(s: &Snapshot, ctx: &ExplainContext) -> Option<Finding> {
    let r = s
        .streams
        .iter()
        .filter(|r| r.waiting)
        .max_by_key(|r| r.waited_bytes)?;
    let f = s.files.get(r.file)?;
    let at = f.offset + r.position.min(f.size.saturating_sub(1));
    let piece = u32::try_from(at / u64::from(s.piece_length.max(1))).ok()?;
    let name = f.path.rsplit('/').next().unwrap_or(&f.path);
    let waits = format!(
        "a stream of {} waits at {} for piece {piece} ({} waited for so far)",
        fmt::outside(name, 60),
        fmt::bytes(r.position),
        fmt::bytes(r.waited_bytes)
    );
    let say = |verdict, why: String, advice: Option<String>| Finding {
        check: Check::Stream,
        verdict,
        evidence: format!("{waits}: {why}"),
        advice,
    };
    let have = s.availability.get(piece as usize).copied().unwrap_or(0);
    if have == 0 {
        return Some(say(
            Verdict::HoldingBack,
            "no connected peer has it".into(),
            Some("it comes once a peer that has it connects; seek elsewhere meanwhile".into()),
        ));
    }
    if let Some(l) = limits(s, ctx).filter(|l| l.verdict == Verdict::HoldingBack) {
        return Some(say(Verdict::HoldingBack, l.evidence, l.advice));
    }
    Some(say(
        Verdict::Warning,
        format!(
            "{} it, and the torrent gets {}: the swarm is slower than the player reads",
            plural(usize::from(have), "peer has", "peers have"),
            fmt::rate(s.down_rate)
        ),
        Some("pause the other downloads, or pause the player a while to let it buffer".into()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::api::{FilePriority, FileRow, StreamRow};

    fn waiting_at(position: u64, availability: u16) -> Snapshot {
        let mut s = Snapshot {
            files: vec![FileRow {
                path: "show/film.mp4".into(),
                size: 100_000,
                offset: 0,
                done: 0,
                priority: FilePriority::Normal,
            }],
            streams: vec![StreamRow {
                file: 0,
                position,
                window: Some((4, 6)),
                waited_bytes: 32_768,
                waiting: true,
            }],
            down_rate: 50_000.0,
            ..Snapshot::empty("t", 100_000, 10_000)
        };
        s.availability = vec![availability; 10];
        s
    }

    #[test]
    fn a_waiting_stream_names_its_piece_and_why() {
        let ctx = ExplainContext::default();
        let none = stream(&waiting_at(45_000, 0), &ctx).unwrap();
        assert_eq!(none.verdict, Verdict::HoldingBack);
        assert!(none.evidence.contains("film.mp4"), "{}", none.evidence);
        assert!(none.evidence.contains("piece 4"), "{}", none.evidence);
        assert!(
            none.evidence.ends_with("no connected peer has it"),
            "{}",
            none.evidence
        );

        let slow = stream(&waiting_at(45_000, 2), &ctx).unwrap();
        assert_eq!(slow.verdict, Verdict::Warning);
        assert!(
            slow.evidence.contains("2 peers have it"),
            "{}",
            slow.evidence
        );

        let mut limited = waiting_at(45_000, 2);
        limited.own_limits.down = 50_000;
        limited.limits_held.down = true;
        let held = stream(&limited, &ctx).unwrap();
        assert_eq!(held.verdict, Verdict::HoldingBack);
        assert!(
            held.evidence.contains("download limit"),
            "{}",
            held.evidence
        );

        let mut keeping_up = waiting_at(45_000, 0);
        keeping_up.streams[0].waiting = false;
        assert_eq!(stream(&keeping_up, &ctx), None);
    }
}
