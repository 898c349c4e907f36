//! RC4 cost: ttui's cipher in place over a 64 KiB buffer (a socket read's size), reported as
//! CPU seconds (user + sys of this process) per GiB. `bash tests/bench/rc4.sh` runs it next
//! to OpenSSL's RC4 and prints the ratio; alone: `cargo bench --bench rc4 -- [MIB] [ROUNDS]`
//! (256 MiB, best of 3 rounds; no assertions).

use ttui::internals::protocol::rc4::Rc4;

const BUF: usize = 64 << 10;

/// User + system CPU seconds this process has used.
fn cpu_seconds() -> f64 {
    // SAFETY: getrusage writes one `rusage` into the zeroed struct we own and reads nothing.
    let usage = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        if libc::getrusage(libc::RUSAGE_SELF, &mut u) != 0 {
            eprintln!("getrusage failed: {}", std::io::Error::last_os_error());
            std::process::exit(1);
        }
        u
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

fn arg(n: usize, default: u64) -> u64 {
    // `cargo bench` passes `--bench` to harness-less targets; skip flags.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    match args.get(n) {
        None => default,
        Some(a) => a.parse().unwrap_or_else(|_| {
            eprintln!("usage: rc4 [MIB] [ROUNDS] (got {a:?})");
            std::process::exit(2);
        }),
    }
}

fn main() {
    let mib = arg(0, 256).max(1);
    let rounds = arg(1, 3).max(1);
    let mut cipher = Rc4::new(&[0x5a; 20]);
    let mut buf: Vec<u8> = (0..BUF).map(|i| (i * 31 + 7) as u8).collect();
    cipher.apply_keystream(&mut [0u8; 1024]);
    let mut best = f64::MAX;
    for _ in 0..rounds {
        let start = cpu_seconds();
        for _ in 0..(mib << 20) / BUF as u64 {
            cipher.apply_keystream(&mut buf);
        }
        best = best.min(cpu_seconds() - start);
    }
    // Keeps the work observable, so none of it is optimised away.
    let check = buf.iter().fold(0u8, |a, b| a ^ b);
    let per_gib = best * 1024.0 / mib as f64;
    println!(
        "ttui RC4: {per_gib:.3} CPU-s/GiB ({:.0} MB/s, {mib} MiB, best of {rounds}, check {check:02x})",
        (mib << 20) as f64 / best / 1e6
    );
}
