//! .torrent files (BEP 3, BEP 12 announce-list). Pure: bytes in, validated types out.
//! OWNER: metainfo helper. The public types below are a contract used by engine/ and ui/;
//! add to them freely but do not rename or remove fields.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use serde_bencode::value::Value;
use sha1::{Digest, Sha1};
use thiserror::Error;

use super::bencode::{self, BencodeError};
use super::geometry::Geometry;

pub type InfoHash = [u8; 20];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// Path components relative to the output directory, already validated: no empty,
    /// `.`, `..`, absolute or separator-containing component. For a single-file torrent this
    /// is `[name]`; for a multi-file torrent `[name, path...]`.
    pub path: Vec<String>,
    pub length: u64,
    /// Byte offset of this file in the torrent's concatenated payload.
    pub offset: u64,
    /// BEP 47 `attr` `p`: a padding file. Its bytes are zeros that fill piece space (hybrid
    /// v1+v2 torrents align every file to a piece this way); it is never created on disk and
    /// its path, often the same `.pad/N` for many entries, names nothing.
    pub padding: bool,
    /// BEP 47 `attr` `x`: the file gets the executable bit.
    pub executable: bool,
    /// BEP 47 `attr` `l`: the file is a symbolic link to this target (`symlink path` joined
    /// with `/`, lossily decoded; empty when the key is missing). Shown, never created.
    pub symlink: Option<String>,
}

impl FileEntry {
    pub fn relative_path(&self) -> PathBuf {
        self.path.iter().collect()
    }

    /// A plain file with the given place in the payload (no BEP 47 attributes).
    pub fn new(path: Vec<String>, length: u64, offset: u64) -> FileEntry {
        FileEntry {
            path,
            length,
            offset,
            padding: false,
            executable: false,
            symlink: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Info {
    pub name: String,
    pub piece_length: u32,
    /// One SHA-1 per piece.
    pub pieces: Vec<[u8; 20]>,
    pub files: Vec<FileEntry>,
    pub total_length: u64,
    pub private: bool,
    pub source: Option<String>,
    /// True when the torrent has `length` (single file) rather than `files`.
    pub single_file: bool,
}

impl Info {
    pub fn num_pieces(&self) -> u32 {
        self.pieces.len() as u32
    }

    /// Piece and block layout. The parser guarantees a valid one; an `Info` built or edited by
    /// hand with a piece length of 0 or too many pieces gets a layout with no pieces at all.
    pub fn geometry(&self) -> Geometry {
        Geometry::new(self.piece_length, self.total_length).unwrap_or(Geometry::EMPTY)
    }

    /// Length of piece `index` (the last one may be short), 0 when out of range.
    pub fn piece_len(&self, index: u32) -> u32 {
        self.geometry().piece_len(index).unwrap_or(0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metainfo {
    /// SHA-1 of the exact bytes of the `info` value as they stand in the file.
    pub info_hash: InfoHash,
    pub info: Info,
    /// Tracker tiers (BEP 12): `announce-list` when present, else `[[announce]]`.
    pub trackers: Vec<Vec<String>>,
    pub comment: Option<String>,
    pub created_by: Option<String>,
    pub creation_date: Option<i64>,
    /// Indices into `info.files` of BEP 47 padding files (`attr` containing `p`): they fill
    /// piece space with zeros (hybrid v1+v2 torrents have them) and need not be written.
    /// The same as the files whose `FileEntry::padding` is set.
    pub padding_files: Vec<usize>,
    /// The exact bytes of the `info` value, served to peers that fetch metadata (BEP 9).
    pub info_bytes: bytes::Bytes,
}

impl Info {
    /// Expected SHA-1 of piece `index`, or `None` when out of range.
    pub fn piece_hash(&self, index: u32) -> Option<&[u8; 20]> {
        self.pieces.get(index as usize)
    }
}

impl Metainfo {
    /// Parses and validates a .torrent file. The info hash is the SHA-1 of the exact bytes of
    /// the `info` value, so keys we do not model (`private`, `source`, `x-…`) still count.
    pub fn from_bytes(buf: &[u8]) -> Result<Metainfo, MetainfoError> {
        // The walk validates the whole input (depth, syntax, trailing bytes) before
        // serde_bencode, which recurses without bound, sees any of it.
        let span = bencode::find_info_span(buf)?;
        let Some(info_bytes) = buf.get(span) else {
            return Err(BencodeError::UnexpectedEof(buf.len()).into());
        };
        let info_hash: InfoHash = Sha1::digest(info_bytes).into();

        let root: Value = serde_bencode::from_bytes(buf)
            .map_err(|e| MetainfoError::Bencode(BencodeError::Serde(e.to_string())))?;
        let Value::Dict(root) = root else {
            return Err(MetainfoError::Bencode(BencodeError::NotADict));
        };
        let info_value = root
            .get(&b"info"[..])
            .ok_or_else(|| MetainfoError::Missing("info".into()))?;
        let (info, padding_files) = parse_info(as_dict(info_value, "info")?)?;
        let trackers = parse_trackers(&root)?;

        // Descriptive keys only: a client that wrote them oddly should not make the torrent
        // unusable, so a wrong type is ignored rather than rejected.
        let text = |key: &str| match root.get(key.as_bytes()) {
            Some(Value::Bytes(b)) => Some(String::from_utf8_lossy(b).into_owned()),
            _ => None,
        };
        let creation_date = match root.get(&b"creation date"[..]) {
            Some(Value::Int(i)) => Some(*i),
            _ => None,
        };
        Ok(Metainfo {
            info_hash,
            info,
            trackers,
            comment: text("comment"),
            created_by: text("created by"),
            creation_date,
            padding_files,
            info_bytes: bytes::Bytes::copy_from_slice(info_bytes),
        })
    }

    pub fn info_hash_hex(&self) -> String {
        to_hex(&self.info_hash)
    }
}

/// Lowercase hex of any bytes.
pub fn to_hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Largest `piece length` accepted. Real torrents stay at or below 16 MiB; anything past
/// this is a hostile or broken file that would make us buffer huge pieces.
pub const MAX_PIECE_LENGTH: u64 = 256 * 1024 * 1024;

/// Every way a .torrent file is rejected. Each message is one line and names the key; text
/// taken from the file is shown with `{:?}` so it cannot break the line or the terminal.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MetainfoError {
    #[error("{0}")]
    Bencode(#[from] BencodeError),
    #[error("missing key `{0}`")]
    Missing(String),
    #[error("`{key}` must be {expected}, found {found}")]
    WrongType {
        key: String,
        expected: &'static str,
        found: &'static str,
    },
    #[error("`{0}` is not valid UTF-8")]
    NotUtf8(String),
    #[error("`info.pieces` is {0} bytes long, not a multiple of 20")]
    PiecesNotMultipleOf20(usize),
    #[error(
        "`info.pieces` holds {found} hashes, but {total_length} bytes in pieces of \
         {piece_length} bytes need {expected}"
    )]
    PieceCountMismatch {
        found: usize,
        expected: u64,
        total_length: u64,
        piece_length: u64,
    },
    #[error("`{key}` must be positive, found {value}")]
    NotPositive { key: String, value: i64 },
    #[error("`{key}` must not be negative, found {value}")]
    Negative { key: String, value: i64 },
    #[error("`info.piece length` is {0} bytes, more than the 256 MiB limit")]
    PieceLengthTooLarge(i64),
    #[error("`info.files`: the total length is 0 bytes, the torrent holds no data")]
    EmptyTotal,
    #[error("`info.files`: the total length overflows 64 bits")]
    TotalOverflow,
    #[error("`{0}` is an empty list")]
    EmptyList(String),
    #[error("`{key}`: unsafe path component {component:?} ({reason})")]
    UnsafePath {
        key: String,
        component: String,
        reason: &'static str,
    },
    #[error("`info` has both `length` and `files`")]
    BothLengthAndFiles,
    #[error("`info` has neither `length` nor `files`")]
    NeitherLengthNorFiles,
    #[error("`info.files`: path {0:?} appears more than once")]
    DuplicatePath(String),
    #[error("`info.files`: {0:?} is both a file and a directory")]
    FileDirectoryConflict(String),
}

type Dict = HashMap<Vec<u8>, Value>;

fn wrong_type(key: &str, expected: &'static str, v: &Value) -> MetainfoError {
    MetainfoError::WrongType {
        key: key.to_owned(),
        expected,
        found: bencode::type_name(v),
    }
}

fn as_dict<'a>(v: &'a Value, key: &str) -> Result<&'a Dict, MetainfoError> {
    match v {
        Value::Dict(d) => Ok(d),
        other => Err(wrong_type(key, "a dictionary", other)),
    }
}

fn as_list<'a>(v: &'a Value, key: &str) -> Result<&'a [Value], MetainfoError> {
    match v {
        Value::List(l) => Ok(l),
        other => Err(wrong_type(key, "a list", other)),
    }
}

fn as_int(v: &Value, key: &str) -> Result<i64, MetainfoError> {
    match v {
        Value::Int(i) => Ok(*i),
        other => Err(wrong_type(key, "an integer", other)),
    }
}

fn as_bytes<'a>(v: &'a Value, key: &str) -> Result<&'a [u8], MetainfoError> {
    match v {
        Value::Bytes(b) => Ok(b),
        other => Err(wrong_type(key, "a string", other)),
    }
}

fn as_utf8(v: &Value, key: &str) -> Result<String, MetainfoError> {
    let bytes = as_bytes(v, key)?;
    String::from_utf8(bytes.to_vec()).map_err(|_| MetainfoError::NotUtf8(key.to_owned()))
}

fn required<'a>(d: &'a Dict, key: &str, full_key: &str) -> Result<&'a Value, MetainfoError> {
    d.get(key.as_bytes())
        .ok_or_else(|| MetainfoError::Missing(full_key.to_owned()))
}

/// A text key, falling back to its `.utf-8` twin (written by some old clients next to a
/// legacy-encoded original) when the plain key is not valid UTF-8.
fn utf8_with_fallback(d: &Dict, key: &str, full_key: &str) -> Result<String, MetainfoError> {
    let plain = required(d, key, full_key)?;
    match as_utf8(plain, full_key) {
        Err(MetainfoError::NotUtf8(k)) => match d.get(format!("{key}.utf-8").as_bytes()) {
            Some(alt) => as_utf8(alt, &format!("{full_key}.utf-8")),
            None => Err(MetainfoError::NotUtf8(k)),
        },
        other => other,
    }
}

/// Rejects anything that could make a path leave the output directory or mean something
/// other than one plain name on some OS.
fn check_component(component: &str, key: &str) -> Result<(), MetainfoError> {
    let reason = if component.is_empty() {
        "empty"
    } else if component == "." || component == ".." {
        "relative directory reference"
    } else if component.contains('/') || component.contains('\\') {
        "contains a path separator"
    } else if component.contains('\0') {
        "contains NUL"
    } else if matches!(component.as_bytes(), [d, b':', ..] if d.is_ascii_alphabetic()) {
        "Windows drive prefix"
    } else {
        return Ok(());
    };
    Err(MetainfoError::UnsafePath {
        key: key.to_owned(),
        component: component.to_owned(),
        reason,
    })
}

fn parse_info(d: &Dict) -> Result<(Info, Vec<usize>), MetainfoError> {
    let name = utf8_with_fallback(d, "name", "info.name")?;
    check_component(&name, "info.name")?;

    let piece_length = as_int(
        required(d, "piece length", "info.piece length")?,
        "info.piece length",
    )?;
    if piece_length <= 0 {
        return Err(MetainfoError::NotPositive {
            key: "info.piece length".into(),
            value: piece_length,
        });
    }
    if piece_length as u64 > MAX_PIECE_LENGTH {
        return Err(MetainfoError::PieceLengthTooLarge(piece_length));
    }
    // Bounded by MAX_PIECE_LENGTH just above, so it fits.
    let piece_length = piece_length as u32;

    let raw_pieces = as_bytes(required(d, "pieces", "info.pieces")?, "info.pieces")?;
    if raw_pieces.len() % 20 != 0 {
        return Err(MetainfoError::PiecesNotMultipleOf20(raw_pieces.len()));
    }
    let pieces: Vec<[u8; 20]> = raw_pieces
        .chunks_exact(20)
        .map(|c| {
            let mut h = [0u8; 20];
            h.copy_from_slice(c);
            h
        })
        .collect();

    let (files, padding, single_file) = match (d.get(&b"length"[..]), d.get(&b"files"[..])) {
        (Some(_), Some(_)) => return Err(MetainfoError::BothLengthAndFiles),
        (None, None) => return Err(MetainfoError::NeitherLengthNorFiles),
        (Some(len), None) => {
            let length = as_int(len, "info.length")?;
            if length <= 0 {
                return Err(MetainfoError::NotPositive {
                    key: "info.length".into(),
                    value: length,
                });
            }
            let entry = FileEntry::new(vec![name.clone()], length as u64, 0);
            (vec![entry], Vec::new(), true)
        }
        (None, Some(list)) => {
            let (files, padding) = parse_files(as_list(list, "info.files")?, &name)?;
            (files, padding, false)
        }
    };

    let total_length = files
        .iter()
        .try_fold(0u64, |acc, f| acc.checked_add(f.length))
        .ok_or(MetainfoError::TotalOverflow)?;
    if total_length == 0 {
        return Err(MetainfoError::EmptyTotal);
    }
    // A payload needing more than u32::MAX pieces has no geometry; no hash list matches it.
    let expected = Geometry::new(piece_length, total_length).map(|g| u64::from(g.num_pieces()));
    if expected != Some(pieces.len() as u64) {
        let expected = total_length.div_ceil(u64::from(piece_length));
        return Err(MetainfoError::PieceCountMismatch {
            found: pieces.len(),
            expected,
            total_length,
            piece_length: u64::from(piece_length),
        });
    }

    let private = match d.get(&b"private"[..]) {
        Some(v) => as_int(v, "info.private")? != 0,
        None => false,
    };
    let source = match d.get(&b"source"[..]) {
        Some(v) => {
            let s = String::from_utf8_lossy(as_bytes(v, "info.source")?).into_owned();
            (!s.is_empty()).then_some(s)
        }
        None => None,
    };

    let info = Info {
        name,
        piece_length,
        pieces,
        files,
        total_length,
        private,
        source,
        single_file,
    };
    Ok((info, padding))
}

/// The files and the indices of the padding files among them.
fn parse_files(list: &[Value], name: &str) -> Result<(Vec<FileEntry>, Vec<usize>), MetainfoError> {
    if list.is_empty() {
        return Err(MetainfoError::EmptyList("info.files".into()));
    }
    let mut files = Vec::with_capacity(list.len());
    let mut padding = Vec::new();
    let mut offset: u64 = 0;
    for (i, item) in list.iter().enumerate() {
        let key = format!("info.files[{i}]");
        let fd = as_dict(item, &key)?;
        let length_key = format!("{key}.length");
        let length = as_int(required(fd, "length", &length_key)?, &length_key)?;
        if length < 0 {
            return Err(MetainfoError::Negative {
                key: length_key,
                value: length,
            });
        }
        let path_key = format!("{key}.path");
        let mut path = parse_path(fd, "path", &path_key);
        if matches!(path, Err(MetainfoError::NotUtf8(_))) && fd.contains_key(&b"path.utf-8"[..]) {
            path = parse_path(fd, "path.utf-8", &format!("{key}.path.utf-8"));
        }
        let mut full = Vec::new();
        full.push(name.to_owned());
        full.extend(path?);
        // `attr` is a set of flag letters (BEP 47); a mistyped one is ignored.
        let attr: &[u8] = match fd.get(&b"attr"[..]) {
            Some(Value::Bytes(a)) => a,
            _ => b"",
        };
        let mut entry = FileEntry::new(full, length as u64, offset);
        entry.padding = attr.contains(&b'p');
        entry.executable = attr.contains(&b'x');
        if attr.contains(&b'l') {
            entry.symlink = Some(symlink_target(fd));
        }
        if entry.padding {
            padding.push(i);
        }
        files.push(entry);
        offset = offset
            .checked_add(length as u64)
            .ok_or(MetainfoError::TotalOverflow)?;
    }
    check_layout(&files)?;
    Ok((files, padding))
}

/// `symlink path` (a list of components) as one `/`-joined string for display; whatever its
/// shape, the link is never created, so a malformed target is shown rather than rejected.
fn symlink_target(fd: &Dict) -> String {
    let Some(Value::List(parts)) = fd.get(&b"symlink path"[..]) else {
        return String::new();
    };
    parts
        .iter()
        .map(|p| match p {
            Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
            _ => "?".to_owned(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn parse_path(fd: &Dict, key: &str, full_key: &str) -> Result<Vec<String>, MetainfoError> {
    let components = as_list(required(fd, key, full_key)?, full_key)?;
    if components.is_empty() {
        return Err(MetainfoError::EmptyList(full_key.to_owned()));
    }
    components
        .iter()
        .enumerate()
        .map(|(j, c)| {
            let ck = format!("{full_key}[{j}]");
            let s = as_utf8(c, &ck)?;
            check_component(&s, &ck)?;
            Ok(s)
        })
        .collect()
}

/// Two files with one path, or a file that is also another file's directory, would make
/// the storage layer overwrite or fail half-way; reject them up front. Padding files are left
/// out: they are never created, and one `.pad/N` name legitimately appears many times. Paths
/// go into a trie of (parent node, component) so the cost stays linear in the number of
/// components, even for a hostile file with very long paths.
fn check_layout(files: &[FileEntry]) -> Result<(), MetainfoError> {
    #[derive(Default, Clone, Copy)]
    struct Node {
        is_file: bool,
        has_children: bool,
    }
    let mut nodes: Vec<Node> = vec![Node::default()];
    let mut children: HashMap<(usize, &str), usize> = HashMap::new();
    for f in files.iter().filter(|f| !f.padding) {
        let mut cur = 0usize;
        for (depth, component) in f.path.iter().enumerate() {
            if nodes.get(cur).is_some_and(|n| n.is_file) {
                let prefix = f.path.get(..depth).unwrap_or_default().join("/");
                return Err(MetainfoError::FileDirectoryConflict(prefix));
            }
            if let Some(n) = nodes.get_mut(cur) {
                n.has_children = true;
            }
            cur = *children
                .entry((cur, component.as_str()))
                .or_insert_with(|| {
                    nodes.push(Node::default());
                    nodes.len() - 1
                });
        }
        let full = || f.path.join("/");
        match nodes.get_mut(cur) {
            Some(n) if n.is_file => return Err(MetainfoError::DuplicatePath(full())),
            Some(n) if n.has_children => return Err(MetainfoError::FileDirectoryConflict(full())),
            Some(n) => n.is_file = true,
            None => {}
        }
    }
    Ok(())
}

fn parse_trackers(root: &Dict) -> Result<Vec<Vec<String>>, MetainfoError> {
    let announce = match root.get(&b"announce"[..]) {
        Some(v) => Some(as_utf8(v, "announce")?),
        None => None,
    };
    let mut seen: HashSet<String> = HashSet::new();
    let mut tiers: Vec<Vec<String>> = Vec::new();
    if let Some(list) = root.get(&b"announce-list"[..]) {
        for (i, tier) in as_list(list, "announce-list")?.iter().enumerate() {
            let tier_key = format!("announce-list[{i}]");
            let mut urls = Vec::new();
            for (j, url) in as_list(tier, &tier_key)?.iter().enumerate() {
                let url = as_utf8(url, &format!("{tier_key}[{j}]"))?;
                let url = url.trim();
                if !url.is_empty() && seen.insert(url.to_owned()) {
                    urls.push(url.to_owned());
                }
            }
            if !urls.is_empty() {
                tiers.push(urls);
            }
        }
    }
    // BEP 12: a usable announce-list replaces `announce` entirely.
    if tiers.is_empty() {
        if let Some(url) = announce.as_deref().map(str::trim) {
            if !url.is_empty() {
                tiers.push(vec![url.to_owned()]);
            }
        }
    }
    Ok(tiers)
}

/// SHA-1 of each `piece_length`-sized chunk of `data` (the last may be short).
pub fn hash_pieces(data: &[u8], piece_length: u32) -> Vec<[u8; 20]> {
    if piece_length == 0 {
        return Vec::new();
    }
    data.chunks(piece_length as usize)
        .map(|c| Sha1::digest(c).into())
        .collect()
}

/// Builds a .torrent. `files`: one entry with an empty path = single-file torrent of that
/// length; otherwise each entry is (path below `name`, length). `trackers` are BEP 12 tiers;
/// the first URL also goes into `announce` for clients that ignore `announce-list`.
pub fn encode_torrent(
    name: &str,
    files: &[(Vec<String>, u64)],
    piece_length: u32,
    piece_hashes: &[[u8; 20]],
    trackers: &[Vec<String>],
    private: bool,
    source: Option<&str>,
) -> Vec<u8> {
    let bytes = |s: &str| Value::Bytes(s.as_bytes().to_vec());
    // Lengths beyond i64 cannot be written in bencode; clamp so from_bytes reports them.
    let int = |n: u64| Value::Int(i64::try_from(n).unwrap_or(i64::MAX));

    let mut info: Dict = HashMap::new();
    info.insert(b"name".to_vec(), bytes(name));
    info.insert(b"piece length".to_vec(), int(u64::from(piece_length)));
    info.insert(b"pieces".to_vec(), Value::Bytes(piece_hashes.concat()));
    match files {
        [(path, length)] if path.is_empty() => {
            info.insert(b"length".to_vec(), int(*length));
        }
        _ => {
            let list = files
                .iter()
                .map(|(path, length)| {
                    let mut f: Dict = HashMap::new();
                    f.insert(b"length".to_vec(), int(*length));
                    f.insert(
                        b"path".to_vec(),
                        Value::List(path.iter().map(|c| bytes(c)).collect()),
                    );
                    Value::Dict(f)
                })
                .collect();
            info.insert(b"files".to_vec(), Value::List(list));
        }
    }
    if private {
        info.insert(b"private".to_vec(), Value::Int(1));
    }
    if let Some(s) = source {
        info.insert(b"source".to_vec(), bytes(s));
    }

    let mut root: Dict = HashMap::new();
    root.insert(b"info".to_vec(), Value::Dict(info));
    root.insert(b"created by".to_vec(), bytes("ttui"));
    if let Some(first) = trackers.iter().flatten().next() {
        root.insert(b"announce".to_vec(), bytes(first));
        let tiers = trackers
            .iter()
            .map(|tier| Value::List(tier.iter().map(|u| bytes(u)).collect()))
            .collect();
        root.insert(b"announce-list".to_vec(), Value::List(tiers));
    }
    bencode::encode_value(&Value::Dict(root))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PIECE: u32 = 16 * 1024;

    fn s(v: &str) -> String {
        v.to_owned()
    }

    /// A valid multi-file torrent: 20 000 + 0 + 15 000 bytes → 3 pieces of 16 KiB.
    fn multi() -> Vec<u8> {
        let files = vec![
            (vec![s("dir"), s("a.bin")], 20_000),
            (vec![s("empty")], 0),
            (vec![s("dir"), s("sub"), s("b.bin")], 15_000),
        ];
        let hashes = hash_pieces(&[5u8; 35_000], PIECE);
        let trackers = vec![vec![s("http://127.0.0.1:6969/announce")]];
        encode_torrent("pack", &files, PIECE, &hashes, &trackers, false, None)
    }

    fn decode(bytes: &[u8]) -> Dict {
        match bencode::decode_value(bytes).unwrap() {
            Value::Dict(d) => d,
            _ => panic!("not a dict"),
        }
    }

    /// Re-encodes `multi()` after `f` changed its top-level dictionary.
    fn mutated(f: impl FnOnce(&mut Dict)) -> Vec<u8> {
        let mut root = decode(&multi());
        f(&mut root);
        bencode::encode_value(&Value::Dict(root))
    }

    fn info(root: &mut Dict) -> &mut Dict {
        match root.get_mut(&b"info"[..]) {
            Some(Value::Dict(d)) => d,
            _ => panic!("no info"),
        }
    }

    fn file(root: &mut Dict, i: usize) -> &mut Dict {
        match info(root).get_mut(&b"files"[..]) {
            Some(Value::List(l)) => match l.get_mut(i) {
                Some(Value::Dict(d)) => d,
                _ => panic!("no file {i}"),
            },
            _ => panic!("no files"),
        }
    }

    fn set(d: &mut Dict, key: &str, v: Value) {
        d.insert(key.as_bytes().to_vec(), v);
    }

    fn bytes(v: &str) -> Value {
        Value::Bytes(v.as_bytes().to_vec())
    }

    fn path(components: &[&str]) -> Value {
        Value::List(components.iter().map(|c| bytes(c)).collect())
    }

    /// Parsing must fail, and the message must be one line naming `needle`.
    fn rejects(input: &[u8], needle: &str) -> MetainfoError {
        let err = Metainfo::from_bytes(input).expect_err("accepted a bad torrent");
        let msg = err.to_string();
        assert!(msg.contains(needle), "{msg:?} does not mention {needle:?}");
        assert!(!msg.contains('\n'), "{msg:?} is not one line");
        err
    }

    #[test]
    fn multi_file_layout() {
        let m = Metainfo::from_bytes(&multi()).unwrap();
        let info = &m.info;
        assert!(!info.single_file);
        assert_eq!(info.name, "pack");
        assert_eq!(info.total_length, 35_000);
        assert_eq!(info.num_pieces(), 3);
        assert_eq!(info.piece_len(0), PIECE);
        assert_eq!(info.piece_len(2), 35_000 - 2 * PIECE);
        assert_eq!(info.piece_len(3), 0);
        let layout: Vec<(String, u64, u64)> = info
            .files
            .iter()
            .map(|f| (f.path.join("/"), f.length, f.offset))
            .collect();
        assert_eq!(
            layout,
            vec![
                (s("pack/dir/a.bin"), 20_000, 0),
                (s("pack/empty"), 0, 20_000),
                (s("pack/dir/sub/b.bin"), 15_000, 20_000),
            ]
        );
        assert_eq!(
            info.files[2].relative_path(),
            PathBuf::from("pack/dir/sub/b.bin")
        );
        assert_eq!(m.trackers, vec![vec![s("http://127.0.0.1:6969/announce")]]);
        assert_eq!(m.created_by.as_deref(), Some("ttui"));
        assert!(!info.private);
        assert_eq!(info.source, None);
        let span = bencode::find_info_span(&multi()).unwrap();
        let expected: InfoHash = Sha1::digest(&multi()[span]).into();
        assert_eq!(m.info_hash, expected);
    }

    #[test]
    fn single_file_private_with_source_round_trips() {
        let data = vec![9u8; 40_000];
        let hashes = hash_pieces(&data, PIECE);
        let t = encode_torrent(
            "x.iso",
            &[(vec![], 40_000)],
            PIECE,
            &hashes,
            &[],
            true,
            Some("SRC"),
        );
        let m = Metainfo::from_bytes(&t).unwrap();
        assert!(m.info.single_file && m.info.private);
        assert_eq!(m.info.source.as_deref(), Some("SRC"));
        assert_eq!(m.info.pieces, hashes);
        assert_eq!(m.info.piece_hash(2), hashes.get(2));
        assert_eq!(m.info.piece_hash(3), None);
        assert_eq!(
            m.info.files,
            vec![FileEntry::new(vec![s("x.iso")], 40_000, 0)]
        );
        assert!(m.trackers.is_empty());
        // `private` and `source` are part of the hashed bytes: dropping them changes the hash.
        let public = encode_torrent(
            "x.iso",
            &[(vec![], 40_000)],
            PIECE,
            &hashes,
            &[],
            false,
            None,
        );
        assert_ne!(
            Metainfo::from_bytes(&public).unwrap().info_hash,
            m.info_hash
        );
    }

    #[test]
    fn hash_covers_raw_bytes_with_unknown_keys_and_unsorted_order() {
        // Hand-written: `name` before `length` (unsorted) and an unknown key with a nested
        // value. A decode/re-encode would sort the keys and hash differently.
        let pieces = Sha1::digest(b"abc");
        let build = |source: &[u8]| {
            let info = [
                &b"d4:name3:abc6:lengthi3e12:piece lengthi16384e6:pieces20:"[..],
                &pieces,
                b"7:x-extrad1:ali1ei2eee6:source",
                source,
                b"e",
            ]
            .concat();
            let torrent = [&b"d8:announce9:http://x/4:info"[..], &info, b"e"].concat();
            (info, torrent)
        };
        // `source` mistyped as an integer is rejected...
        rejects(&build(b"i7e").1, "info.source");
        // ...so make it a string and check the hash.
        let (info, t) = build(b"1:S");
        let m = Metainfo::from_bytes(&t).unwrap();
        let raw: InfoHash = Sha1::digest(&info).into();
        assert_eq!(m.info_hash, raw);
        let Value::Dict(decoded) = bencode::decode_value(&info).unwrap() else {
            panic!()
        };
        let reencoded: InfoHash = Sha1::digest(bencode::encode_value(&Value::Dict(decoded))).into();
        assert_ne!(
            m.info_hash, reencoded,
            "the test input must not be canonical"
        );
        assert_eq!(m.info.source.as_deref(), Some("S"));
    }

    #[test]
    fn pinned_real_torrents() {
        let cases: [(&[u8], &str, u64, u32, bool); 3] = [
            (
                include_bytes!("../../tests/fixtures/mktorrent-multi.torrent"),
                "0c2d6662f641d01d2346c00c1126a48456b92495",
                70_017,
                3,
                false,
            ),
            (
                include_bytes!("../../tests/fixtures/libtorrent-private-source.torrent"),
                "aab48b1e6b4c9647ce3d9a293f404e7dcb627cb7",
                50_000,
                4,
                true,
            ),
            (
                include_bytes!("../../tests/fixtures/libtorrent-hybrid-private-source.torrent"),
                "ec2d78d3df6148f3ecaa39d9678094aca42b9195",
                50_000,
                4,
                true,
            ),
        ];
        for (bytes, hash, total, pieces, private) in cases {
            let m = Metainfo::from_bytes(bytes).unwrap();
            assert_eq!(m.info_hash_hex(), hash);
            assert_eq!(m.info.total_length, total);
            assert_eq!(m.info.num_pieces(), pieces);
            assert_eq!(m.info.private, private);
        }
        let m = Metainfo::from_bytes(include_bytes!(
            "../../tests/fixtures/mktorrent-multi.torrent"
        ))
        .unwrap();
        assert_eq!(
            m.trackers,
            vec![
                vec![
                    s("http://127.0.0.1:6969/announce"),
                    s("udp://127.0.0.1:6969")
                ],
                vec![s("http://127.0.0.2:6969/announce")]
            ]
        );
        let paths: Vec<String> = m.info.files.iter().map(|f| f.path.join("/")).collect();
        assert_eq!(
            paths,
            [
                "fixture-pack/a.txt",
                "fixture-pack/sub/b.bin",
                "fixture-pack/sub/deeper/c"
            ]
        );
        assert_eq!(m.comment.as_deref(), Some("fixture for ttui"));
        assert_eq!(m.creation_date, None);
        let m = Metainfo::from_bytes(include_bytes!(
            "../../tests/fixtures/libtorrent-private-source.torrent"
        ))
        .unwrap();
        assert_eq!(m.info.source.as_deref(), Some("TTUI-FIXTURE"));
        assert!(m.info.single_file);
    }

    #[test]
    fn not_bencode_or_not_a_torrent() {
        rejects(b"", "empty input");
        rejects(b"hello", "not bencode");
        rejects(&[&multi()[..], b"xx"].concat(), "trailing garbage");
        rejects(b"li1ee", "not a bencoded dictionary");
        rejects(b"d8:announce1:xe", "missing key `info`");
        rejects(b"d4:info3:abce", "`info` is not a dictionary");
    }

    #[test]
    fn missing_keys() {
        for key in ["name", "piece length", "pieces"] {
            rejects(
                &mutated(|r| {
                    info(r).remove(key.as_bytes());
                }),
                &format!("missing key `info.{key}`"),
            );
        }
        rejects(
            &mutated(|r| {
                file(r, 1).remove(&b"length"[..]);
            }),
            "missing key `info.files[1].length`",
        );
        rejects(
            &mutated(|r| {
                file(r, 2).remove(&b"path"[..]);
            }),
            "missing key `info.files[2].path`",
        );
        let e = rejects(
            &mutated(|r| {
                info(r).remove(&b"files"[..]);
            }),
            "neither `length` nor `files`",
        );
        assert_eq!(e, MetainfoError::NeitherLengthNorFiles);
        rejects(
            &mutated(|r| set(info(r), "length", Value::Int(35_000))),
            "both `length` and `files`",
        );
    }

    #[test]
    fn mistyped_keys() {
        type Edit = Box<dyn Fn(&mut Dict)>;
        let cases: Vec<(Edit, &str)> = vec![
            (
                Box::new(|r| set(r, "info", Value::List(vec![]))),
                "`info` is not a dictionary",
            ),
            (
                Box::new(|r| set(info(r), "name", Value::Int(1))),
                "`info.name` must be a string, found an integer",
            ),
            (
                Box::new(|r| set(info(r), "piece length", bytes("16384"))),
                "`info.piece length` must be an integer, found a string",
            ),
            (
                Box::new(|r| set(info(r), "pieces", Value::List(vec![]))),
                "`info.pieces` must be a string, found a list",
            ),
            (
                Box::new(|r| set(info(r), "files", Value::Dict(HashMap::new()))),
                "`info.files` must be a list, found a dictionary",
            ),
            (
                Box::new(|r| set(info(r), "private", bytes("1"))),
                "`info.private` must be an integer",
            ),
            (
                Box::new(|r| set(file(r, 0), "length", bytes("1"))),
                "`info.files[0].length` must be an integer",
            ),
            (
                Box::new(|r| set(file(r, 0), "path", bytes("a"))),
                "`info.files[0].path` must be a list",
            ),
            (
                Box::new(|r| set(file(r, 0), "path", Value::List(vec![Value::Int(1)]))),
                "`info.files[0].path[0]` must be a string",
            ),
            (
                Box::new(|r| {
                    let Some(Value::List(l)) = info(r).get_mut(&b"files"[..]) else {
                        panic!()
                    };
                    l.push(Value::Int(4));
                }),
                "`info.files[3]` must be a dictionary",
            ),
            (
                Box::new(|r| set(r, "announce", Value::Int(1))),
                "`announce` must be a string",
            ),
            (
                Box::new(|r| set(r, "announce-list", bytes("x"))),
                "`announce-list` must be a list",
            ),
            (
                Box::new(|r| set(r, "announce-list", Value::List(vec![bytes("x")]))),
                "`announce-list[0]` must be a list",
            ),
            (
                Box::new(|r| {
                    set(
                        r,
                        "announce-list",
                        Value::List(vec![Value::List(vec![Value::Int(1)])]),
                    )
                }),
                "`announce-list[0][0]` must be a string",
            ),
            (
                Box::new(|r| set(info(r), "name", Value::Bytes(vec![0xff, 0xfe]))),
                "`info.name` is not valid UTF-8",
            ),
        ];
        for (f, needle) in cases {
            rejects(&mutated(f), needle);
        }
    }

    #[test]
    fn pieces_and_lengths() {
        let e = rejects(
            &mutated(|r| set(info(r), "pieces", Value::Bytes(vec![0; 59]))),
            "`info.pieces` is 59 bytes long, not a multiple of 20",
        );
        assert_eq!(e, MetainfoError::PiecesNotMultipleOf20(59));
        rejects(
            &mutated(|r| set(info(r), "pieces", Value::Bytes(vec![0; 40]))),
            "holds 2 hashes, but 35000 bytes in pieces of 16384 bytes need 3",
        );
        rejects(
            &mutated(|r| set(info(r), "pieces", Value::Bytes(vec![0; 80]))),
            "holds 4 hashes",
        );
        rejects(
            &mutated(|r| set(info(r), "pieces", Value::Bytes(vec![]))),
            "holds 0 hashes",
        );
        rejects(
            &mutated(|r| set(info(r), "piece length", Value::Int(0))),
            "`info.piece length` must be positive, found 0",
        );
        rejects(
            &mutated(|r| set(info(r), "piece length", Value::Int(-16384))),
            "`info.piece length` must be positive, found -16384",
        );
        rejects(
            &mutated(|r| set(info(r), "piece length", Value::Int(512 << 20))),
            "`info.piece length` is 536870912 bytes, more than the 256 MiB limit",
        );
        rejects(
            &mutated(|r| set(file(r, 0), "length", Value::Int(-1))),
            "`info.files[0].length` must not be negative, found -1",
        );
        rejects(
            &mutated(|r| {
                set(file(r, 0), "length", Value::Int(i64::MAX));
                set(file(r, 2), "length", Value::Int(i64::MAX));
                set(file(r, 1), "length", Value::Int(i64::MAX));
            }),
            "overflows",
        );
        // Every file empty: legal files, but nothing to download.
        let e = rejects(
            &mutated(|r| {
                for i in 0..3 {
                    set(file(r, i), "length", Value::Int(0));
                }
                set(info(r), "pieces", Value::Bytes(vec![]));
            }),
            "total length is 0",
        );
        assert_eq!(e, MetainfoError::EmptyTotal);

        // Single file: zero and negative length.
        let single = |len: i64| {
            mutated(|r| {
                let i = info(r);
                i.remove(&b"files"[..]);
                set(i, "length", Value::Int(len));
            })
        };
        rejects(&single(0), "`info.length` must be positive, found 0");
        rejects(&single(-5), "`info.length` must be positive, found -5");
        assert_eq!(
            Metainfo::from_bytes(&single(35_000))
                .unwrap()
                .info
                .total_length,
            35_000
        );
    }

    #[test]
    fn piece_length_at_the_limit_is_accepted() {
        let t = mutated(|r| {
            set(info(r), "piece length", Value::Int(MAX_PIECE_LENGTH as i64));
            set(info(r), "pieces", Value::Bytes(vec![1; 20]));
        });
        let m = Metainfo::from_bytes(&t).unwrap();
        assert_eq!(u64::from(m.info.piece_length), MAX_PIECE_LENGTH);
        assert_eq!(m.info.piece_len(0), 35_000);
    }

    #[test]
    fn unsafe_paths_and_names() {
        let bad = [
            ("", "empty"),
            (".", "relative directory reference"),
            ("..", "relative directory reference"),
            ("/etc", "path separator"),
            ("a/b", "path separator"),
            ("a\\b", "path separator"),
            ("a\0b", "NUL"),
            ("C:", "Windows drive prefix"),
            ("c:evil", "Windows drive prefix"),
        ];
        for (component, reason) in bad {
            let e = rejects(
                &mutated(|r| set(file(r, 2), "path", path(&["dir", component]))),
                "`info.files[2].path[1]`: unsafe path component",
            );
            assert!(e.to_string().contains(reason), "{e}");
            let e = rejects(
                &mutated(|r| set(info(r), "name", bytes(component))),
                "`info.name`",
            );
            assert!(e.to_string().contains(reason), "{e}");
        }
        rejects(
            &mutated(|r| set(file(r, 0), "path", path(&[]))),
            "`info.files[0].path` is an empty list",
        );
        rejects(
            &mutated(|r| set(info(r), "files", Value::List(vec![]))),
            "`info.files` is an empty list",
        );
        // Harmless look-alikes stay legal.
        let ok = mutated(|r| set(file(r, 2), "path", path(&["..hidden", "a.b", "C"])));
        assert!(Metainfo::from_bytes(&ok).is_ok());
        // A newline in a rejected name is escaped, keeping the message on one line.
        rejects(
            &mutated(|r| set(info(r), "name", bytes("x\n/y"))),
            "\"x\\n/y\"",
        );
    }

    #[test]
    fn utf8_twins_are_used_when_the_plain_key_is_not_utf8() {
        let t = mutated(|r| {
            set(info(r), "name", Value::Bytes(vec![0xe9]));
            set(info(r), "name.utf-8", bytes("é"));
            set(
                file(r, 0),
                "path",
                Value::List(vec![Value::Bytes(vec![0xff])]),
            );
            set(file(r, 0), "path.utf-8", path(&["ok"]));
        });
        let m = Metainfo::from_bytes(&t).unwrap();
        assert_eq!(m.info.name, "é");
        assert_eq!(m.info.files[0].path, vec![s("é"), s("ok")]);
    }

    #[test]
    fn padding_files_are_marked() {
        let t = mutated(|r| {
            set(file(r, 1), "attr", bytes("p"));
            set(file(r, 1), "path", path(&[".pad", "0"]));
            set(file(r, 2), "attr", bytes("x"));
            set(file(r, 0), "attr", Value::Int(1));
        });
        let m = Metainfo::from_bytes(&t).unwrap();
        assert_eq!(m.padding_files, vec![1]);
        assert_eq!(m.info.files[1].path, vec![s("pack"), s(".pad"), s("0")]);
        let flags: Vec<(bool, bool)> = m
            .info
            .files
            .iter()
            .map(|f| (f.padding, f.executable))
            .collect();
        assert_eq!(flags, [(false, false), (true, false), (false, true)]);
        assert!(Metainfo::from_bytes(&multi())
            .unwrap()
            .padding_files
            .is_empty());
    }

    #[test]
    fn padding_paths_may_repeat_and_collide() {
        // libtorrent names pad files by size: one `.pad/N` appears once per padded file. They
        // are never created, so neither a repeat nor a clash with a real path matters.
        let t = mutated(|r| {
            for i in [0, 1] {
                set(file(r, i), "attr", bytes("p"));
                set(file(r, i), "path", path(&[".pad", "16384"]));
            }
        });
        let m = Metainfo::from_bytes(&t).unwrap();
        assert_eq!(m.padding_files, vec![0, 1]);
        let t = mutated(|r| {
            set(file(r, 1), "attr", bytes("p"));
            set(file(r, 1), "path", path(&["dir", "sub", "b.bin", "x"]));
        });
        assert!(Metainfo::from_bytes(&t).is_ok());
        // Without the attribute the repeat is still refused.
        rejects(
            &mutated(|r| {
                set(file(r, 0), "attr", bytes("x"));
                for i in [0, 1] {
                    set(file(r, i), "path", path(&[".pad", "16384"]));
                }
            }),
            "appears more than once",
        );
    }

    #[test]
    fn symlink_attribute_is_recorded() {
        let t = mutated(|r| {
            set(file(r, 1), "attr", bytes("l"));
            set(file(r, 1), "symlink path", path(&["dir", "a.bin"]));
            set(file(r, 2), "attr", bytes("lx"));
        });
        let m = Metainfo::from_bytes(&t).unwrap();
        let links: Vec<Option<&str>> = m.info.files.iter().map(|f| f.symlink.as_deref()).collect();
        assert_eq!(links, [None, Some("dir/a.bin"), Some("")]);
        assert!(m.info.files[2].executable);
    }

    #[test]
    fn colliding_paths() {
        // The directory comes first, the file second: also a conflict.
        rejects(
            &mutated(|r| {
                set(file(r, 0), "path", path(&["dir", "a.bin", "x"]));
                set(file(r, 2), "path", path(&["dir", "a.bin"]));
            }),
            "\"pack/dir/a.bin\" is both a file and a directory",
        );
        rejects(
            &mutated(|r| set(file(r, 2), "path", path(&["dir", "a.bin"]))),
            "path \"pack/dir/a.bin\" appears more than once",
        );
        rejects(
            &mutated(|r| set(file(r, 1), "path", path(&["dir", "a.bin", "x"]))),
            "\"pack/dir/a.bin\" is both a file and a directory",
        );
        // Same names in different directories are fine.
        let ok = mutated(|r| set(file(r, 2), "path", path(&["other", "a.bin"])));
        assert!(Metainfo::from_bytes(&ok).is_ok());
    }

    #[test]
    fn long_paths_are_checked_in_linear_time() {
        let long: Vec<&str> = std::iter::repeat_n("d", 200_000).collect();
        let start = std::time::Instant::now();
        let t = mutated(|r| set(file(r, 2), "path", path(&long)));
        assert!(Metainfo::from_bytes(&t).is_ok());
        assert!(start.elapsed() < std::time::Duration::from_secs(5));
    }

    #[test]
    fn tracker_tiers() {
        let list = |tiers: &[&[&str]]| {
            Value::List(
                tiers
                    .iter()
                    .map(|t| Value::List(t.iter().map(|u| bytes(u)).collect()))
                    .collect(),
            )
        };
        let trackers = |f: &dyn Fn(&mut Dict)| {
            let t = mutated(|r| f(r));
            Metainfo::from_bytes(&t).unwrap().trackers
        };
        // announce-list wins; empty tiers and urls dropped; duplicates removed across tiers.
        assert_eq!(
            trackers(&|r| set(
                r,
                "announce-list",
                list(&[
                    &["udp://a", " ", "udp://b"],
                    &[],
                    &["udp://a", "http://c "],
                    &[""]
                ])
            )),
            vec![vec![s("udp://a"), s("udp://b")], vec![s("http://c")]]
        );
        // An announce-list with nothing usable falls back to announce.
        assert_eq!(
            trackers(&|r| set(r, "announce-list", list(&[&[], &[""]]))),
            vec![vec![s("http://127.0.0.1:6969/announce")]]
        );
        assert_eq!(
            trackers(&|r| {
                r.remove(&b"announce-list"[..]);
                set(r, "announce", bytes(""));
            }),
            Vec::<Vec<String>>::new()
        );
    }

    #[test]
    fn descriptive_keys_are_lenient() {
        let t = mutated(|r| {
            set(r, "comment", Value::Int(3));
            set(r, "created by", Value::Bytes(vec![b'a', 0xff]));
            set(r, "creation date", bytes("yesterday"));
        });
        let m = Metainfo::from_bytes(&t).unwrap();
        assert_eq!(m.comment, None);
        assert_eq!(m.created_by.as_deref(), Some("a\u{fffd}"));
        assert_eq!(m.creation_date, None);
    }

    #[test]
    fn truncated_or_corrupted_input_never_panics() {
        let t = include_bytes!("../../tests/fixtures/mktorrent-multi.torrent");
        for cut in 0..t.len() {
            assert!(
                Metainfo::from_bytes(&t[..cut]).is_err(),
                "prefix {cut} accepted"
            );
        }
        // Every single-byte change to a few telling values: must give Ok or Err, never panic.
        let mut copy = t.to_vec();
        for i in 0..copy.len() {
            let orig = copy[i];
            for b in [b'0', b'9', b'e', b'd', b'l', b'i', b':', b'-', 0xff] {
                copy[i] = b;
                let _ = Metainfo::from_bytes(&copy);
            }
            copy[i] = orig;
        }
    }
}
