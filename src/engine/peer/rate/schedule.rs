//! Turtle mode's daily window, `alt-schedule = "01:00-07:00"` in local time. A window whose end
//! is before its start runs over midnight (`22:00-06:00`).

/// Minutes after local midnight: `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    pub start: u16,
    pub end: u16,
}

fn minute(hhmm: &str) -> Option<u16> {
    let (h, m) = hhmm.trim().split_once(':')?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some(h * 60 + m)
}

impl Schedule {
    pub fn parse(text: &str) -> Result<Schedule, String> {
        let bad = || format!("not a daily window: {text:?} (e.g. 01:00-07:00)");
        let (a, b) = text.split_once('-').ok_or_else(bad)?;
        let (start, end) = (minute(a).ok_or_else(bad)?, minute(b).ok_or_else(bad)?);
        if start == end {
            return Err(format!("empty daily window: {text:?}"));
        }
        Ok(Schedule { start, end })
    }

    /// Whether the minute of the day lies in the window.
    pub fn contains(&self, minute_of_day: u16) -> bool {
        if self.start < self.end {
            (self.start..self.end).contains(&minute_of_day)
        } else {
            minute_of_day >= self.start || minute_of_day < self.end
        }
    }
}

impl std::fmt::Display for Schedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hm = |m: u16| format!("{:02}:{:02}", m / 60, m % 60);
        write!(f, "{}-{}", hm(self.start), hm(self.end))
    }
}

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
