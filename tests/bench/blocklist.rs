//! Blocklist load: reads one list file (PeerGuardian or DAT, gzip or not) the way the
//! session does and prints one line: ranges, bad lines, load seconds, peak RSS in MiB (of
//! this whole process: the list's text is streamed, never held). `bash
//! tests/bench/blocklist.sh` makes the file; alone: `cargo bench --bench blocklist -- FILE`.

use std::time::Instant;

use ttui::internals::protocol::blocklist;

/// Peak resident set of this process, MiB.
fn peak_rss_mib() -> f64 {
    // SAFETY: getrusage writes one `rusage` into the zeroed struct we own and reads nothing.
    let usage = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        if libc::getrusage(libc::RUSAGE_SELF, &mut u) != 0 {
            eprintln!("getrusage failed: {}", std::io::Error::last_os_error());
            std::process::exit(1);
        }
        u
    };
    usage.ru_maxrss as f64 / 1024.0
}

fn main() {
    // `cargo bench` passes `--bench` to harness-less targets; skip flags.
    let Some(path) = std::env::args().skip(1).find(|a| !a.starts_with('-')) else {
        eprintln!("usage: blocklist FILE");
        std::process::exit(2);
    };
    let before = peak_rss_mib();
    let t0 = Instant::now();
    let file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(1);
        }
    };
    let parsed = match blocklist::parse_reader(file) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(1);
        }
    };
    let secs = t0.elapsed().as_secs_f64();
    println!(
        "ranges={} bad_lines={} load_s={secs:.3} peak_rss_mib={:.1} rss_before_mib={before:.1} set_mib={:.1}",
        parsed.set.len(),
        parsed.bad_lines,
        peak_rss_mib(),
        parsed.set.heap_bytes() as f64 / (1 << 20) as f64
    );
}
