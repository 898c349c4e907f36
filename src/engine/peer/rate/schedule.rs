//! The clock turtle mode's daily window (`api::Schedule`) is read against.

/// The local minute of the day, from the C library's idea of the time zone.
pub(crate) fn local_minute_of_day() -> Option<u16> {
    // SAFETY: `time(NULL)` only reads the clock. `localtime_r` writes into the `tm` we own and
    // reads the `time_t` we pass; it returns NULL on failure, which we check before reading.
    unsafe {
        let now = libc::time(std::ptr::null_mut());
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&now, &mut tm).is_null() {
            return None;
        }
        u16::try_from(tm.tm_hour * 60 + tm.tm_min).ok()
    }
}
