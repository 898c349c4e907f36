//! A transport's bytes beyond the payload it delivers, charged to the limits. The payload is
//! charged once, at its piece message (`Gate::take` in the pipeline and the upload queue); a
//! uTP packet sent again, or received in vain (a duplicate, no room), uses the link as much as
//! new data does, so a limit that ignored them would let a lossy uTP connection exceed it.
//! They are charged afterwards, at the connection's tick, as debt: the gate then stays shut
//! until it is paid. TCP's retransmissions happen in the kernel, out of our sight.

/// What a connection has already charged of its transport's counters.
///
/// Invariant: `charged_*` never exceeds the counter it follows; counters only grow, so a
/// smaller one can only come from another connection's stats and starts the count over.
#[derive(Debug, Default)]
pub(crate) struct Resends {
    charged_up: u64,
    charged_down: u64,
}

impl Resends {
    /// The bytes to charge now, `(up, down)`, given the transport's running totals of bytes
    /// sent again and received in vain.
    pub(crate) fn since(&mut self, resent: u64, wasted: u64) -> (u64, u64) {
        let up = resent.checked_sub(self.charged_up).unwrap_or(resent);
        let down = wasted.checked_sub(self.charged_down).unwrap_or(wasted);
        (self.charged_up, self.charged_down) = (resent, wasted);
        (up, down)
    }
}

#[cfg(test)]
mod tests {
    use super::Resends;

    #[test]
    fn charges_each_byte_once_and_starts_over_on_a_smaller_counter() {
        let mut r = Resends::default();
        assert_eq!(r.since(0, 0), (0, 0));
        assert_eq!(r.since(1400, 0), (1400, 0));
        assert_eq!(r.since(1400, 0), (0, 0), "nothing new, nothing charged");
        assert_eq!(r.since(4200, 700), (2800, 700));
        // Another connection's counters (smaller): counted from zero.
        assert_eq!(r.since(100, 50), (100, 50));
        assert_eq!(r.since(100, 60), (0, 10));
    }
}
