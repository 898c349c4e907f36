//! How the process's allocator is set up before any thread is spawned.
//!
//! A download moves every payload byte through short-lived buffers: a connection reads into a
//! 64 KiB buffer, splits its blocks off, and the piece writer frees them a moment later on
//! another thread. With glibc's defaults that memory went back and forth to the kernel: a heap
//! top is handed back as soon as 128 KiB of it is free (`M_TRIM_THRESHOLD`), so each time the
//! writers drained the backlog its pages were returned, and the next reads faulted in fresh
//! zeroed pages for the kernel to copy socket data into (`perf`: `exc_page_fault` and
//! `clear_page_erms` under `_copy_to_iter`): ~90,000 page faults per GiB downloaded. Keeping up
//! to 4 MiB of free heap top (more than a torrent's write backlog, `download::LAG_BYTES`)
//! ends that churn. With one arena per thread, though, each tokio worker's arena kept its own
//! 4 MiB and the peak resident size grew by that much; one arena for the process keeps it
//! where it was. The arena's lock is not contended here: blocks are freed at ~16,000 a GiB,
//! and small allocations go through glibc's per-thread cache without it.
//!
//! `tests/bench/` figures (1 GiB, one seeder, alternating runs, `perf stat`): page faults
//! 78,000–95,000 → 5,700–16,000, CPU 1.29–1.33 → 1.15–1.19 s, peak RSS 15.1–19.2 →
//! 15.2–18.0 MiB (tests/bench/README.md, the data path). Memory freed in bulk, as when many torrents fall asleep,
//! is still handed back by `malloc_trim`, which ignores the threshold.

/// Free heap top kept before glibc trims it.
const TRIM_THRESHOLD: i32 = 4 << 20;

/// Sets the allocator up; called once at start-up, before the runtime's threads exist, by
/// every command that moves payload.
pub(crate) fn tune() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt takes two plain integers and changes only glibc's own malloc parameters,
    // under its own lock; both settings accept these values (any non-negative threshold, any
    // positive arena count). No memory of ours is passed or touched. The return value (0 when
    // a setting did not take) is ignored: either way every allocation stays valid, only the
    // tuning is missing.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
        libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD);
    }
}
