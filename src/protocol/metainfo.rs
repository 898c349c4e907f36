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

    /// Bytes outside BEP 47 padding files: what is written to disk (`total_length` counts the
    /// padding too, as pieces do).
    pub fn data_length(&self) -> u64 {
        self.files
            .iter()
            .filter(|f| !f.padding)
            .map(|f| f.length)
            .sum()
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
    /// BEP 19 web seeds (`url-list`): http(s) URLs, deduplicated, at most [`MAX_WEB_SEEDS`].
    pub web_seeds: Vec<String>,
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
            web_seeds: parse_web_seeds(&root),
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

/// Web seeds kept from one torrent: a file listing thousands costs nothing.
pub const MAX_WEB_SEEDS: usize = 16;

/// BEP 19 `url-list`: one URL or a list of them. Like the descriptive keys, a wrong type or a
/// URL that is not http(s) is skipped, not an error: web seeds are optional.
fn parse_web_seeds(root: &Dict) -> Vec<String> {
    let items: Vec<&Value> = match root.get(&b"url-list"[..]) {
        Some(v @ Value::Bytes(_)) => vec![v],
        Some(Value::List(l)) => l.iter().collect(),
        _ => Vec::new(),
    };
    let mut out: Vec<String> = Vec::new();
    for v in items {
        let Value::Bytes(b) = v else { continue };
        let Ok(url) = std::str::from_utf8(b) else {
            continue;
        };
        let url = url.trim();
        let lower = url.to_ascii_lowercase();
        let web = lower.starts_with("http://") || lower.starts_with("https://");
        if web && !out.iter().any(|u| u == url) {
            out.push(url.to_owned());
        }
        if out.len() >= MAX_WEB_SEEDS {
            break;
        }
    }
    out
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
mod tests;
#[cfg(test)]
mod tests_files;
