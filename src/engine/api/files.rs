//! A torrent's files as a detail view shows them, and the priority a user gives each one.
//! Shared by the picker (which pieces to ask for), the store (saved per torrent), the control
//! verbs (`ttui files`) and the UI's Files tab: one name, `FilePriority`, everywhere.

use super::ValueError;
use crate::protocol::metainfo::Metainfo;

/// How much a user wants a file. `Skip` files are never requested nor created on disk; the
/// picker serves `High` before `Normal` before `Low`, rarest first within a class.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum FilePriority {
    Skip,
    Low,
    #[default]
    Normal,
    High,
}

impl FilePriority {
    pub const ALL: [FilePriority; 4] = [
        FilePriority::Skip,
        FilePriority::Low,
        FilePriority::Normal,
        FilePriority::High,
    ];

    pub fn word(self) -> &'static str {
        match self {
            FilePriority::Skip => "skip",
            FilePriority::Low => "low",
            FilePriority::Normal => "normal",
            FilePriority::High => "high",
        }
    }

    pub fn wanted(self) -> bool {
        self != FilePriority::Skip
    }
}

impl std::fmt::Display for FilePriority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.word())
    }
}

impl std::str::FromStr for FilePriority {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<Self, ValueError> {
        FilePriority::ALL
            .into_iter()
            .find(|p| p.word().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| ValueError::NotAPriority(s.to_string()))
    }
}

/// What `ttui add --only-files LIST --sequential` asks of a new torrent; applied before any
/// file is created.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AddFiles {
    /// Only these files (0-based, padding not counted); None: every file.
    #[serde(default)]
    pub only: Option<Vec<usize>>,
    #[serde(default)]
    pub sequential: bool,
    /// The first and last piece of each wanted file before the others (qBittorrent's
    /// `firstLastPiecePrio`; `Command::SetFirstLast`).
    #[serde(default)]
    pub first_last: bool,
    /// The data is complete where the torrent is saved: its maker (`ttui create --seed`)
    /// has just hashed it, so it seeds without a check. Pieces that turn out wrong are
    /// refused by the peers that fetch them, as with any bad seed.
    #[serde(default)]
    pub complete: bool,
    /// A torrent of one file without a folder is saved in a folder of its own, named after
    /// it without its extension (qBittorrent's `contentLayout=Subfolder`); a torrent with a
    /// folder keeps its layout. Applied to a .torrent at its add (a magnet's layout is the
    /// torrent's own).
    #[serde(default)]
    pub subfolder: bool,
}

/// The folder `subfolder` puts a lone file in: its name without the extension, as
/// qBittorrent names it (the whole name when nothing is left without it).
pub fn subfolder_of(name: &str) -> &str {
    match name.rsplit_once('.') {
        Some((stem, _)) if !stem.is_empty() => stem,
        _ => name,
    }
}

/// One file of a torrent in its full snapshot (the detail view's Files tab).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FileRow {
    /// Relative to the save path, `/`-separated; a folder tree is built from these.
    pub path: String,
    pub size: u64,
    /// Where the file starts in the torrent's payload.
    pub offset: u64,
    /// Bytes of this file inside verified pieces.
    pub done: u64,
    pub priority: FilePriority,
}

/// A torrent's files at start: nothing done, every one `Normal` (the torrent sets the saved
/// priorities and the done bytes as it runs; the add dialog shows them before the add).
pub fn file_rows(meta: &Metainfo) -> Vec<FileRow> {
    meta.info
        .files
        .iter()
        .filter(|f| !f.padding)
        .map(|f| FileRow {
            path: f.path.join("/"),
            size: f.length,
            offset: f.offset,
            done: 0,
            priority: FilePriority::Normal,
        })
        .collect()
}

/// An error unless every index in `files` names one of `count` files.
pub fn check_indices(files: &[usize], count: usize) -> Result<(), ValueError> {
    match files.iter().find(|i| **i >= count) {
        Some(&index) => Err(ValueError::NoSuchFile { index, count }),
        None => Ok(()),
    }
}

/// `0,3-5` → [0, 3, 4, 5]: 0-based file indices and inclusive ranges, as `ttui show` numbers
/// the files; sorted, without repeats. `count` is the number of files (None: not known yet).
pub fn parse_file_list(text: &str, count: Option<usize>) -> Result<Vec<usize>, ValueError> {
    let bad = |part: &str| ValueError::BadFileList {
        text: text.to_string(),
        part: part.to_string(),
    };
    let mut out = Vec::new();
    for part in text.split(',').map(str::trim) {
        if part.is_empty() {
            return Err(bad(part));
        }
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let (Ok(a), Ok(b)) = (a.trim().parse::<usize>(), b.trim().parse::<usize>()) else {
            return Err(bad(part));
        };
        if a > b {
            return Err(bad(part));
        }
        if let Some(n) = count {
            check_indices(&[b], n)?;
        }
        if b - a > 1_000_000 {
            return Err(bad(part));
        }
        out.extend(a..=b);
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priority_words_round_trip_and_order() {
        for p in FilePriority::ALL {
            assert_eq!(p.word().parse::<FilePriority>(), Ok(p));
        }
        assert!("urgent".parse::<FilePriority>().is_err());
        assert!(FilePriority::High > FilePriority::Normal);
        assert!(FilePriority::Low > FilePriority::Skip);
        assert!(!FilePriority::Skip.wanted());
    }

    #[test]
    fn a_lone_file_gets_a_folder_named_without_its_extension() {
        assert_eq!(subfolder_of("Show.S01E01.mkv"), "Show.S01E01");
        assert_eq!(subfolder_of("notes"), "notes");
        assert_eq!(subfolder_of(".hidden"), ".hidden");
        assert_eq!(subfolder_of("a.tar.gz"), "a.tar");
    }
}
