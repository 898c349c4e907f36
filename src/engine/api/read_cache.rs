//! The read cache of seeding as the faces see it (`ttui show`, the log).

/// The session's read cache: whole pieces read once from the device and served from memory
/// to every peer that asks while they are held.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ReadCacheStats {
    /// Its bound, bytes (a quarter of the memory the session may use, at most 32 MiB).
    pub capacity: u64,
    /// Bytes held now.
    pub held: u64,
    /// Blocks sent from memory.
    pub hits: u64,
    /// Blocks that made their piece be read from the device.
    pub misses: u64,
    /// Bytes read from the device into it.
    pub read: u64,
}

impl ReadCacheStats {
    /// The share of blocks sent from memory, in percent; None before any.
    pub fn hit_percent(&self) -> Option<u64> {
        let all = self.hits + self.misses;
        (all > 0).then(|| self.hits * 100 / all)
    }

    /// "read cache: 12 MiB of 32 MiB held, 94% of 20,000 blocks from memory"; None while it
    /// has served nothing.
    pub fn words(&self) -> Option<String> {
        let pct = self.hit_percent()?;
        Some(format!(
            "read cache: {} of {} held, {pct}% of {} blocks sent from memory, {} read into it",
            crate::fmt::bytes(self.held),
            crate::fmt::bytes(self.capacity),
            self.hits + self.misses,
            crate::fmt::bytes(self.read),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_say_the_bound_and_the_hits() {
        assert_eq!(ReadCacheStats::default().words(), None);
        let s = ReadCacheStats {
            capacity: 32 << 20,
            held: 12 << 20,
            hits: 94,
            misses: 6,
            read: 6 << 20,
        };
        assert_eq!(s.hit_percent(), Some(94));
        let w = s.words().unwrap();
        assert!(w.contains("94% of 100 blocks"), "{w}");
    }
}
