//! The blocklist as a face shows it (`show --json`, the header, the RPC's `blocklist-size`).

/// The list in force, the last update's outcome, and what the list refused.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BlocklistStatus {
    /// The path or URL it is read from.
    pub source: String,
    /// Ranges in force, after merging (0 until a list loads).
    pub ranges: usize,
    /// Lines of the list in force that were not ranges (skipped).
    pub bad_lines: u64,
    /// When the list in force was loaded (Unix seconds); None while none has.
    pub loaded_at: Option<u64>,
    /// Why the last update failed, while it did: the list in force is the older one.
    pub error: Option<String>,
    /// Incoming connections refused since the session started.
    pub refused_incoming: u64,
    /// Dials refused since the session started, all torrents together.
    pub refused_dials: u64,
}

impl BlocklistStatus {
    /// Peers refused both ways.
    pub fn blocked(&self) -> u64 {
        self.refused_incoming + self.refused_dials
    }
}
