//! The process's file-descriptor limit (RLIMIT_NOFILE): read by the budgets that share it
//! (the session's open payload files: a quarter, disk/open_files.rs; connections in their
//! handshake: an eighth, accept_budget.rs; the rest for established connections and the
//! process's own files), and raised to the hard limit by a
//! session, which may hold thousands of torrents (as rtorrent and qBittorrent do).

/// The soft limit, or 1,024 when it cannot be read.
pub(crate) fn nofile_limit() -> u64 {
    get().map_or(1024, |l| l.rlim_cur)
}

/// Raises the soft limit to the hard one; returns the limit now in force.
pub(crate) fn raise_nofile_limit() -> u64 {
    let Some(mut limit) = get() else {
        return 1024;
    };
    if limit.rlim_cur < limit.rlim_max {
        let wanted = libc::rlimit {
            rlim_cur: limit.rlim_max,
            rlim_max: limit.rlim_max,
        };
        // SAFETY: setrlimit reads one `rlimit` through the pointer, which points to a live,
        // properly aligned local of exactly that type; nothing is written or kept.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &wanted) } == 0 {
            limit = wanted;
        }
    }
    limit.rlim_cur
}

fn get() -> Option<libc::rlimit> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one `rlimit` through the pointer, which points to a live,
    // properly aligned local of exactly that type; nothing else is read or kept.
    let ok = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0;
    ok.then_some(limit)
}

#[cfg(test)]
mod tests {
    #[test]
    fn raising_never_lowers_the_limit() {
        let before = super::nofile_limit();
        assert!(super::raise_nofile_limit() >= before);
        assert!(super::nofile_limit() >= before);
    }
}
