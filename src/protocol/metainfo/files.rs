//! The `files` list of a multi-file torrent: paths made safe (sanitize.rs), BEP 47
//! attributes (padding, executable, link), legacy padding names, and repeated paths renamed.

use std::collections::HashMap;

use serde_bencode::value::Value;

use super::sanitize::{self, Changes, Notes};
use super::{as_dict, as_int, as_list, required, Dict, FileEntry, MetainfoError};
use crate::protocol::text::shorten;

/// Longest path kept, name included, in bytes. Linux's PATH_MAX is 4096 with the terminating
/// NUL, and the output directory comes on top: a longer path can never be opened, so no
/// shortening makes it work.
pub(super) const MAX_PATH: usize = 4095;

/// BitComet and old µTorrent name their padding files this way, without `attr`.
const LEGACY_PAD: &str = "_____padding_file_";

/// What parsing the list yields: the entries, the indices of the padding files among them,
/// and each entry's path as decoded but not yet made safe (the hybrid check compares those).
pub(super) struct Files {
    pub entries: Vec<FileEntry>,
    pub padding: Vec<usize>,
    pub raw_paths: Vec<Vec<String>>,
}

pub(super) fn parse_files(
    list: &[Value],
    name: &str,
    raw_name: &str,
    notes: &mut Notes,
) -> Result<Files, MetainfoError> {
    if list.is_empty() {
        return Err(MetainfoError::EmptyList("info.files".into()));
    }
    let mut entries = Vec::with_capacity(list.len());
    let mut raw_paths = Vec::with_capacity(list.len());
    let mut padding = Vec::new();
    let mut offset: u64 = 0;
    for (i, item) in list.iter().enumerate() {
        let key = format!("info.files[{i}]");
        let fd = as_dict(item, &key)?;
        // `attr` is a set of flag letters (BEP 47); a mistyped one is ignored.
        let attr: &[u8] = match fd.get(&b"attr"[..]) {
            Some(Value::Bytes(a)) => a,
            _ => b"",
        };
        let length_key = format!("{key}.length");
        let is_link = attr.contains(&b'l');
        // A link has no bytes, so its `length` may be left out (libtorrent reads it as 0).
        let mut length = match fd.get(&b"length"[..]) {
            None if is_link => 0,
            _ => as_int(required(fd, "length", &length_key)?, &length_key)?,
        };
        if length < 0 {
            return Err(MetainfoError::Negative {
                key: length_key,
                value: length,
            });
        }
        let mut pad = attr.contains(&b'p');

        let mut changes = Changes::NONE;
        let raw = raw_path(fd, &key, pad, length, &mut changes)?;
        let mut full = Vec::with_capacity(raw.len() + 1);
        full.push(name.to_owned());
        full.extend(sanitize::clean_path(&raw, &mut changes));
        let shown = || shorten(&full.join("/")).into_owned();

        if !pad && raw.iter().any(|e| e.contains(LEGACY_PAD)) {
            pad = true;
            notes.push_with(|| {
                format!(
                    "file {i} {:?} is a padding file by its name: not written",
                    shown()
                )
            });
        }
        if !pad {
            check_length(&full, &key)?;
            if !changes.is_empty() {
                notes.push_with(|| {
                    format!(
                        "file {i} {} is saved as {:?}: {}",
                        show_raw(&raw),
                        shown(),
                        changes.describe()
                    )
                });
            }
        }
        // Links take no room in the payload (libtorrent counts them as 0 bytes too).
        if is_link && length > 0 {
            notes.push_with(|| {
                format!(
                    "link {:?}: its length of {length} bytes is not payload (a link carries no data)",
                    shown()
                )
            });
            length = 0;
        }
        let symlink = (is_link && !pad).then(|| {
            symlink_target(fd).unwrap_or_else(|why| {
                notes.push_with(|| format!("link {:?} is not created: {why}", shown()));
                String::new()
            })
        });
        let mut entry = FileEntry::new(full, length as u64, offset);
        entry.padding = pad;
        entry.executable = attr.contains(&b'x');
        entry.symlink = symlink;
        if entry.padding {
            padding.push(i);
        } else if raw_name != name || entry.path[1..] != raw[..] {
            entry.source_path = Some(
                std::iter::once(raw_name.to_owned())
                    .chain(raw.iter().cloned())
                    .collect(),
            );
        }
        entries.push(entry);
        raw_paths.push(raw);
        offset = offset
            .checked_add(length as u64)
            .ok_or(MetainfoError::TotalOverflow)?;
    }
    rename_repeats(&mut entries, notes);
    Ok(Files {
        entries,
        padding,
        raw_paths,
    })
}

/// `path.utf-8` when present and all UTF-8 (written by old clients next to a legacy-encoded
/// `path`), else `path` decoded; a padding file may have no path at all (libtorrent names it
/// `.pad/<length>`).
fn raw_path(
    fd: &Dict,
    key: &str,
    pad: bool,
    length: i64,
    changes: &mut Changes,
) -> Result<Vec<String>, MetainfoError> {
    if let Some(Value::List(parts)) = fd.get(&b"path.utf-8"[..]) {
        let utf8: Option<Vec<String>> = parts
            .iter()
            .map(|p| match p {
                Value::Bytes(b) => String::from_utf8(b.clone()).ok(),
                _ => None,
            })
            .collect();
        if let Some(path) = utf8.filter(|p| !p.is_empty()) {
            return Ok(path);
        }
    }
    let path_key = format!("{key}.path");
    let parts = match fd.get(&b"path"[..]) {
        Some(v) => as_list(v, &path_key)?,
        None if pad => &[],
        None => return Err(MetainfoError::Missing(path_key)),
    };
    if parts.is_empty() {
        if pad {
            return Ok(vec![".pad".into(), length.to_string()]);
        }
        return Err(MetainfoError::EmptyList(path_key));
    }
    parts
        .iter()
        .enumerate()
        .map(|(j, p)| match p {
            Value::Bytes(b) => Ok(sanitize::decode(b, changes)),
            other => Err(super::wrong_type(
                &format!("{path_key}[{j}]"),
                "a string",
                other,
            )),
        })
        .collect()
}

/// The raw path for a note: its elements quoted, shortened.
fn show_raw(raw: &[String]) -> String {
    let quoted: Vec<String> = raw
        .iter()
        .take(64)
        .map(|e| format!("{:?}", shorten(e)))
        .collect();
    let more = if raw.len() > 64 { ", …" } else { "" };
    format!("[{}{more}]", quoted.join(", "))
}

fn check_length(full: &[String], key: &str) -> Result<(), MetainfoError> {
    let length = full.iter().map(|e| e.len() + 1).sum::<usize>() - 1;
    if length > MAX_PATH {
        return Err(MetainfoError::PathTooLong {
            key: format!("{key}.path"),
            length,
            path: shorten(&full.join("/")).into_owned(),
        });
    }
    Ok(())
}

/// `symlink path` (BEP 47: elements relative to the torrent's directory) joined with `/`, or
/// why no link is made. Elements are cleaned like file paths; a `..` is not dropped but
/// refuses the link, since the target it names lies outside the torrent's directory.
fn symlink_target(fd: &Dict) -> Result<String, String> {
    let Some(Value::List(parts)) = fd.get(&b"symlink path"[..]) else {
        return Err("it has no `symlink path`".into());
    };
    let mut changes = Changes::NONE;
    let mut target = Vec::with_capacity(parts.len());
    for p in parts {
        let Value::Bytes(b) = p else {
            return Err("its `symlink path` holds a non-string".into());
        };
        let raw = sanitize::decode(b, &mut changes);
        if raw == ".." {
            return Err("its target leaves the torrent's directory".into());
        }
        if raw.is_empty() || raw == "." {
            continue;
        }
        target.extend(sanitize::clean_element(&raw, &mut changes));
    }
    if target.is_empty() {
        return Err("its target is empty".into());
    }
    Ok(target.join("/"))
}

/// Gives every repeated path, and every file path that is also a directory of another
/// entry, a `.N` before its extension (`bar.1.txt`), as libtorrent does; directories keep
/// their names. Padding files are never created and take part in nothing. Paths go into a
/// trie of (parent node, element), so the cost stays linear in the number of elements.
fn rename_repeats(entries: &mut [FileEntry], notes: &mut Notes) {
    let mut children: HashMap<(usize, String), usize> = HashMap::new();
    let mut nodes = 1usize;
    for e in entries.iter().filter(|e| !e.padding) {
        let mut cur = 0usize;
        for dir in e.path.split_last().map_or(&[][..], |(_, d)| d) {
            cur = *children.entry((cur, dir.clone())).or_insert_with(|| {
                nodes += 1;
                nodes - 1
            });
        }
    }
    let mut next_suffix: HashMap<(usize, String), u64> = HashMap::new();
    for (i, e) in entries.iter_mut().enumerate().filter(|(_, e)| !e.padding) {
        let Some((last, dirs)) = e.path.split_last() else {
            continue;
        };
        let mut cur = 0usize;
        for dir in dirs {
            cur = children.get(&(cur, dir.clone())).copied().unwrap_or(0);
        }
        if let std::collections::hash_map::Entry::Vacant(free) = children.entry((cur, last.clone()))
        {
            free.insert(nodes);
            nodes += 1;
            continue;
        }
        let (stem, ext) = sanitize::split_extension(last);
        let n = next_suffix.entry((cur, last.clone())).or_insert(1);
        let renamed = loop {
            let candidate = format!("{stem}.{n}{ext}");
            *n += 1;
            if !children.contains_key(&(cur, candidate.clone())) {
                break candidate;
            }
        };
        children.insert((cur, renamed.clone()), nodes);
        nodes += 1;
        let old = e.path.join("/");
        if e.source_path.is_none() {
            e.source_path = Some(e.path.clone());
        }
        if let Some(l) = e.path.last_mut() {
            *l = renamed;
        }
        notes.push_with(|| {
            format!(
                "file {i} {:?} repeats another path; saved as {:?}",
                shorten(&old),
                shorten(&e.path.join("/"))
            )
        });
    }
}
