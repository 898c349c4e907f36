//! BEP 52's `file tree`: a dictionary of path elements whose leaves are files, each a
//! dictionary with the one key `""` holding its `length`, its `pieces root` and its `attr`.
//!
//! What is refused and what is tolerated follows libtorrent 2.0 (`extract_files2`,
//! `extract_single_file2`), so a v2 torrent loads here exactly when it loads there: a node
//! that is not a dictionary, an empty name, a negative or absurd length, a non-empty file
//! without a 32-byte non-zero `pieces root`, or a pad file (v2 has none: its files are
//! aligned by construction) are refused with one line naming the path; leading `/` in a name
//! is dropped; a link's length is taken as 0. Names are decoded as UTF-8 (Latin-1 when they
//! are not) but not made safe here: that is `sanitize`'s job for every kind of torrent.

use serde_bencode::value::Value;
use thiserror::Error;

use super::sanitize::{self, Changes};
use super::Dict;
use crate::protocol::bencode::MAX_DEPTH;
use crate::protocol::merkle::{Hash, BLOCK};
use crate::protocol::text::shorten;

/// Largest file accepted: libtorrent's `max_file_size` (2^62 - 1 bytes would overflow its
/// piece arithmetic long before); and its count of leaves must fit its int indices.
const MAX_FILE: u64 = (1 << 62) - 1;
const MAX_LEAVES: u64 = (i32::MAX as u64) / 2;

/// One file of the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeFile {
    /// Path elements below the torrent's name, in tree order.
    pub path: Vec<String>,
    pub length: u64,
    /// The root of the file's hash tree; `None` only for an empty file or a link.
    pub pieces_root: Option<Hash>,
    /// BEP 47's `attr` letters (`x` executable, `h` hidden, `l` link).
    pub attr: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FileTreeError {
    #[error("`file tree` is not a dictionary")]
    NotADict,
    #[error("`file tree` holds no file")]
    Empty,
    #[error("`file tree` entry {0:?} is not a dictionary")]
    NotANode(String),
    #[error("`file tree` has an empty name under {0:?}")]
    EmptyName(String),
    #[error("`file tree` is nested deeper than {MAX_DEPTH} levels at {0:?}")]
    TooDeep(String),
    #[error("`file tree` file {0:?} has no valid `length`")]
    Length(String),
    #[error("`file tree` file {0:?} has no valid `pieces root` (32 bytes, not all zero)")]
    PiecesRoot(String),
    #[error("`file tree` file {0:?} is a pad file, which v2 does not have")]
    PadFile(String),
}

/// The files of `tree` in tree order (each directory's names in byte order, as bencode
/// stores them).
pub fn parse_file_tree(tree: &Value) -> Result<Vec<TreeFile>, FileTreeError> {
    let Value::Dict(tree) = tree else {
        return Err(FileTreeError::NotADict);
    };
    let mut out = Vec::new();
    // Depth-first, one entry at a time, each directory's entries pushed in reverse so they
    // come out in order; the depth is bounded here too, not only by the bencode walk.
    let mut stack: Vec<(Vec<String>, &Vec<u8>, &Value)> = Vec::new();
    push_entries(&mut stack, &[], tree);
    while let Some((prefix, name, node)) = stack.pop() {
        let shown = |path: &[String]| shorten(&path.join("/")).into_owned();
        let mut ignored = Changes::NONE;
        let raw = sanitize::decode(name, &mut ignored);
        // A name of slashes alone is kept for the path cleaner to make safe, as libtorrent
        // does (its corpus has "//"); only the empty name, a file's own key, is no name.
        let trimmed = raw.trim_start_matches('/');
        let kept = if trimmed.is_empty() {
            raw.as_str()
        } else {
            trimmed
        };
        if kept.is_empty() {
            return Err(FileTreeError::EmptyName(shown(&prefix)));
        }
        let mut path = prefix;
        path.push(kept.to_owned());
        if path.len() > MAX_DEPTH {
            return Err(FileTreeError::TooDeep(shown(&path)));
        }
        let Value::Dict(node) = node else {
            return Err(FileTreeError::NotANode(shown(&path)));
        };
        match (node.len(), node.get(&b""[..])) {
            (1, Some(file)) => out.push(file_entry(file, path)?),
            _ => push_entries(&mut stack, &path, node),
        }
    }
    if out.is_empty() {
        return Err(FileTreeError::Empty);
    }
    Ok(out)
}

/// Pushes a directory's entries so that popping gives them in bencode's (byte) order.
fn push_entries<'a>(
    stack: &mut Vec<(Vec<String>, &'a Vec<u8>, &'a Value)>,
    prefix: &[String],
    dir: &'a Dict,
) {
    let mut names: Vec<(&Vec<u8>, &Value)> = dir.iter().collect();
    names.sort_by(|a, b| b.0.cmp(a.0));
    stack.extend(names.into_iter().map(|(n, v)| (prefix.to_vec(), n, v)));
}

fn file_entry(file: &Value, path: Vec<String>) -> Result<TreeFile, FileTreeError> {
    let shown = || shorten(&path.join("/")).into_owned();
    let Value::Dict(file) = file else {
        return Err(FileTreeError::NotANode(shown()));
    };
    let attr = match file.get(&b"attr"[..]) {
        Some(Value::Bytes(a)) => String::from_utf8_lossy(a).into_owned(),
        _ => String::new(),
    };
    if attr.contains('p') {
        return Err(FileTreeError::PadFile(shown()));
    }
    let link = attr.contains('l');
    let length = match file.get(&b"length"[..]) {
        _ if link => 0,
        Some(Value::Int(n)) if *n >= 0 => *n as u64,
        _ => return Err(FileTreeError::Length(shown())),
    };
    if length > MAX_FILE || length / BLOCK >= MAX_LEAVES {
        return Err(FileTreeError::Length(shown()));
    }
    let pieces_root = match file.get(&b"pieces root"[..]) {
        _ if link || length == 0 => None,
        Some(Value::Bytes(b)) => match Hash::try_from(b.as_slice()) {
            Ok(h) if h != [0; 32] => Some(h),
            _ => return Err(FileTreeError::PiecesRoot(shown())),
        },
        _ => return Err(FileTreeError::PiecesRoot(shown())),
    };
    Ok(TreeFile {
        path,
        length,
        pieces_root,
        attr,
    })
}

#[cfg(test)]
mod tests;
