//! Settings the faces hand to the engine: plain data, chosen by flags and the config file.

use std::time::Duration;

/// `--transport`: uTP first with TCP when uTP gets no answer (`Both`), or only one of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum TransportPolicy {
    Tcp,
    Utp,
    #[default]
    Both,
}

impl TransportPolicy {
    pub fn tcp(self) -> bool {
        self != TransportPolicy::Utp
    }
    pub fn utp(self) -> bool {
        self != TransportPolicy::Tcp
    }
}

/// Defaults, shared by the flags and the config file.
pub const DEFAULT_MAX_DOWNLOADS: u32 = 5;
/// No seed limit: every complete torrent seeds (see the rules above).
pub const DEFAULT_MAX_SEEDS: u32 = 0;
pub const DEFAULT_SLOW_RATE: u64 = 2048;
pub const DEFAULT_STALLED_AFTER: Duration = Duration::from_secs(5 * 60);
/// How many torrents of the session download and seed at once (the rules: `session/queue.rs`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QueueSettings {
    /// Downloads at once; 0 = unlimited.
    pub max_downloads: u32,
    /// Seeds uploading at once (idle seeds not counted); 0 = unlimited.
    pub max_seeds: u32,
    /// Bytes a second below which a download (or a seed's upload) is slow.
    pub slow_rate: u64,
    /// How long a download (or a seed with a slot) must stay slow to stop counting.
    pub stalled_after: Duration,
}

impl Default for QueueSettings {
    fn default() -> Self {
        QueueSettings {
            max_downloads: DEFAULT_MAX_DOWNLOADS,
            max_seeds: DEFAULT_MAX_SEEDS,
            slow_rate: DEFAULT_SLOW_RATE,
            stalled_after: DEFAULT_STALLED_AFTER,
        }
    }
}

/// `on_complete_timeout`'s default: long enough for an unpack or a copy to another disk.
pub const DEFAULT_ON_COMPLETE_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// The command run when a torrent completes (`session/on_complete.rs`), and its time limit.
#[derive(Debug, Clone, PartialEq)]
pub struct OnComplete {
    /// None: nothing runs.
    pub program: Option<std::path::PathBuf>,
    pub timeout: Duration,
}

impl Default for OnComplete {
    fn default() -> Self {
        OnComplete {
            program: None,
            timeout: DEFAULT_ON_COMPLETE_TIMEOUT,
        }
    }
}
