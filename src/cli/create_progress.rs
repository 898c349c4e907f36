//! `ttui create`'s progress while it hashes: one line on stderr redrawn in place (bar,
//! percent, rate, time left) when stderr is a terminal; nothing otherwise, so a script's
//! stderr holds only what was skipped and errors.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Redraws the line every `TICK` until `finished` is set, then clears it.
const TICK: Duration = Duration::from_millis(250);

/// Draws the progress of `done` out of `total` bytes until `finished`; returns at once when
/// stderr is not a terminal.
pub(crate) fn show(total: u64, done: &AtomicU64, finished: &AtomicBool) {
    let mut err = std::io::stderr();
    if !err.is_terminal() {
        return;
    }
    let start = Instant::now();
    while !finished.load(Ordering::Relaxed) {
        std::thread::sleep(TICK);
        let line = line(total, done.load(Ordering::Relaxed), start.elapsed());
        let _ = write!(err, "\r{line}\x1b[K");
        let _ = err.flush();
    }
    let _ = write!(err, "\r\x1b[K");
    let _ = err.flush();
}

/// "hashing [#####-----]  50%  120 MiB/s  0:12 left".
fn line(total: u64, done: u64, elapsed: Duration) -> String {
    const WIDTH: u64 = 24;
    let total = total.max(1);
    let done = done.min(total);
    let filled = (done * WIDTH / total) as usize;
    let bar = format!(
        "{}{}",
        "#".repeat(filled),
        "-".repeat(WIDTH as usize - filled)
    );
    let secs = elapsed.as_secs_f64();
    let rate = if secs > 0.0 { done as f64 / secs } else { 0.0 };
    let left = if rate > 0.0 {
        let d = Duration::from_secs_f64((total - done) as f64 / rate);
        format!("  {} left", crate::fmt::duration(d))
    } else {
        String::new()
    };
    format!(
        "hashing [{bar}] {:>3}%  {}{left}",
        done * 100 / total,
        crate::fmt::rate(rate)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_says_percent_rate_and_time_left() {
        let l = line(100 << 20, 50 << 20, Duration::from_secs(5));
        assert!(l.contains(" 50%"), "{l}");
        assert!(l.contains("10 MiB/s"), "{l}");
        assert!(l.contains("left"), "{l}");
        assert!(line(10, 10, Duration::ZERO).contains("100%"));
        assert!(line(0, 0, Duration::ZERO).contains("  0%"));
    }
}
