//! `ttui files ID --priority P LIST | --skip LIST | --sequential on|off`: what a client asks
//! to change in a torrent's files. The indices are checked by the session, which knows how
//! many files the torrent has.

use serde::{Deserialize, Serialize};

use crate::engine::api::FilePriority;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilesChange {
    /// These files (0-based, padding not counted) get `priority`.
    #[serde(default)]
    pub files: Vec<usize>,
    #[serde(default)]
    pub priority: Option<FilePriority>,
    #[serde(default)]
    pub sequential: Option<bool>,
}
