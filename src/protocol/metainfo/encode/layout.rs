//! Which parts a new torrent has, and the file list of its v1 part: a hybrid's v1 files are
//! padded (BEP 47 pad files, `attr` `p`, path `.pad/N`) so each file starts and ends on a
//! piece boundary, the v1 pieces then hashing the same bytes as each file's v2 tree. The rule
//! is libtorrent 2.0's (`file_storage::canonicalize`): a pad after every file that does not
//! end on a boundary, the last one included, but none in a single-file torrent.

/// The parts of a new torrent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MetaVersion {
    /// BEP 3: SHA-1 pieces over the files concatenated.
    V1,
    /// BEP 52 only: a SHA-256 tree per file.
    V2,
    /// Both, over the same (padded) pieces: any client loads it.
    #[default]
    Hybrid,
}

impl MetaVersion {
    pub fn has_v1(self) -> bool {
        self != MetaVersion::V2
    }

    pub fn has_v2(self) -> bool {
        self != MetaVersion::V1
    }
}

/// One entry of a v1 `files` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V1Entry {
    pub path: Vec<String>,
    pub length: u64,
    pub pad: bool,
    /// BEP 47 `attr` "x" (never on a pad).
    pub executable: bool,
}

/// The v1 `files` list for `files` (see the module header): for v1 the files themselves,
/// for a hybrid of more than one file each followed by the padding up to the next piece.
pub fn v1_layout(
    files: &[super::NewFile],
    piece_length: u32,
    version: MetaVersion,
) -> Vec<V1Entry> {
    let pad_files = version == MetaVersion::Hybrid && files.len() > 1 && piece_length > 0;
    let piece = u64::from(piece_length);
    let mut out = Vec::with_capacity(files.len() * 2);
    for f in files {
        out.push(V1Entry {
            path: f.path.clone(),
            length: f.length,
            pad: false,
            executable: f.executable,
        });
        let rest = if pad_files { f.length % piece } else { 0 };
        if rest != 0 {
            let pad = piece - rest;
            out.push(V1Entry {
                path: vec![".pad".to_owned(), pad.to_string()],
                length: pad,
                pad: true,
                executable: false,
            });
        }
    }
    out
}
