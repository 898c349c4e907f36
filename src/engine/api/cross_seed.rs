//! `ttui cross-seed DIR`: how each .torrent of a folder matches the data the session seeds.

use serde::{Deserialize, Serialize};

/// How much of a torrent's data the session has on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CrossSeedMatch {
    /// Every file found: it would seed without downloading (once its check proves them).
    Full,
    /// Some files found: only the rest would be fetched.
    Partial,
    None,
    /// The session has this torrent already.
    Already,
    /// Not a torrent the session can read.
    Bad,
}

impl CrossSeedMatch {
    pub fn word(self) -> &'static str {
        match self {
            CrossSeedMatch::Full => "full",
            CrossSeedMatch::Partial => "partial",
            CrossSeedMatch::None => "none",
            CrossSeedMatch::Already => "already",
            CrossSeedMatch::Bad => "bad",
        }
    }
}

/// One .torrent of the folder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CrossSeedRow {
    /// Its file's name in the folder.
    pub file: String,
    /// The torrent's name (empty when it could not be read).
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub info_hash: Option<String>,
    #[serde(rename = "match")]
    pub matched: CrossSeedMatch,
    pub total_bytes: u64,
    /// Bytes of the files found on disk (proven only once it is added and checked).
    pub found_bytes: u64,
    /// The session's torrents whose data they are.
    pub from: Vec<u32>,
    /// Why it could not be read, or added.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// `--add`: the id it was added under.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub added: Option<u32>,
}
