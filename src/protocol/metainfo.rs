//! .torrent files (BEP 3, BEP 12 announce-list). Pure: bytes in, validated types out. Names
//! that can be made safe are (metainfo/sanitize.rs, metainfo/files.rs) and the changes are
//! listed in [`Metainfo::notes`]; what cannot be made safe is refused with a message saying so.
//! OWNER: metainfo helper. The public types below are a contract used by engine/ and ui/;
//! add to them freely but do not rename or remove fields.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use serde_bencode::value::Value;
use sha1::{Digest, Sha1};
use thiserror::Error;

use super::bencode::{self, BencodeError};
use super::geometry::Geometry;
use super::merkle::{self, layers::PieceLayers};
use super::text::shorten;
use sanitize::{Changes, Notes};

pub use encode::{
    encode_torrent, hash_pieces, v1_layout, write_torrent, MetaVersion, NewFile, NewTorrent,
    V1Entry, CREATED_BY,
};
pub use v2::only::{V2Piece, V2Pieces};

mod encode;
pub mod file_tree;
mod files;
pub mod layers;
pub mod sanitize;
mod v2;

pub use super::info_hash::InfoHash;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// Path components relative to the output directory, already made safe (see
    /// metainfo/sanitize.rs): none is empty, `.` or `..`, holds a separator or a control
    /// character, or is longer than 240 bytes, and no two created entries share a path. For
    /// a single-file torrent this is `[name]`; for a multi-file torrent `[name, path...]`.
    pub path: Vec<String>,
    pub length: u64,
    /// Byte offset of this file in the torrent's concatenated payload.
    pub offset: u64,
    /// BEP 47 `attr` `p`, or a legacy `_____padding_file_…` name: a padding file. Its bytes
    /// are zeros that fill piece space (hybrid v1+v2 torrents align every file to a piece this
    /// way); it is never created on disk and its path, often the same `.pad/N` for many
    /// entries, names nothing.
    pub padding: bool,
    /// BEP 47 `attr` `x`: the file gets the executable bit.
    pub executable: bool,
    /// BEP 47 `attr` `l`: the entry is a symbolic link to this target, relative to the
    /// torrent's directory (`symlink path`, cleaned like paths, joined with `/`). Empty when
    /// the link cannot be made safely (no target, or one that leaves the torrent's directory):
    /// such a link is skipped, with a note. A link's `length` is 0: it carries no payload.
    pub symlink: Option<String>,
    /// The path as the torrent spells it (name first), kept only when making it safe or
    /// unique changed it: web seeds (BEP 19) serve files under the torrent's own names.
    pub source_path: Option<Vec<String>>,
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
            source_path: None,
        }
    }

    /// The path a web seed's URL is built from (BEP 19).
    pub fn url_path(&self) -> &[String] {
        self.source_path.as_deref().unwrap_or(&self.path)
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
    /// A v2-only torrent's pieces, checked with SHA-256 trees instead of `pieces` (empty
    /// then). A hybrid's pieces are checked by their v1 hashes and have none.
    pub v2: Option<V2Pieces>,
}

impl Info {
    pub fn num_pieces(&self) -> u32 {
        match &self.v2 {
            Some(v2) => v2.pieces.len() as u32,
            None => self.pieces.len() as u32,
        }
    }

    /// Whether `bytes` are piece `index`, by the piece's own kind of hash.
    pub fn piece_matches(&self, index: u32, bytes: &[u8]) -> bool {
        match &self.v2 {
            Some(v2) => v2
                .pieces
                .get(index as usize)
                .is_some_and(|p| p.matches_bytes(bytes)),
            None => self
                .pieces
                .get(index as usize)
                .is_some_and(|h| *h == <[u8; 20]>::from(Sha1::digest(bytes))),
        }
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
    /// The SHA-256 of the info of a v2 or hybrid torrent (BEP 52); `info_hash` is then its
    /// first 20 bytes for a v2-only torrent, the v1 hash for a hybrid.
    pub info_hash_v2: Option<[u8; 32]>,
    /// The files' hash trees of a v2 or hybrid torrent, for answering peers' hash requests
    /// (BEP 52); files whose `piece layers` entry is missing or wrong are not in it.
    pub piece_layers: Option<std::sync::Arc<PieceLayers>>,
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
    /// What was changed to load the torrent (names made safe, repeated paths renamed, bytes
    /// after the end ignored, …): one short line each, for `ttui info` and the log.
    pub notes: Vec<String>,
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
        let mut notes = Notes::default();
        // Bytes after the dictionary (a newline is common) are ignored, as libtorrent,
        // Transmission and aria2 do: the info hash covers only the `info` bytes.
        // The walk validates the whole input (depth, syntax) before serde_bencode, which
        // recurses without bound, sees any of it, and finds the info span on the way: one
        // walk for a well-formed torrent (a restart of 100,000 parses every one).
        let (buf, span) = match bencode::end_and_top_level_span(buf, b"info") {
            Ok((end, span)) if buf.first() == Some(&b'd') => {
                if end < buf.len() {
                    notes.push(format!(
                        "{} byte(s) after the end of the torrent's dictionary are ignored",
                        buf.len() - end
                    ));
                }
                (buf.get(..end).unwrap_or(buf), span)
            }
            _ => (buf, None),
        };
        // Anything else (not bencode, not a dictionary, no `info` or one that is not a
        // dictionary) is named by the full check.
        let span = match span {
            Some(span) if buf.get(span.start) == Some(&b'd') => span,
            _ => bencode::find_info_span(buf)?,
        };
        let Some(info_bytes) = buf.get(span.clone()) else {
            return Err(BencodeError::UnexpectedEof(buf.len()).into());
        };
        let sha1: InfoHash = Sha1::digest(info_bytes).into();

        let root: Value = serde_bencode::from_bytes(buf)
            .map_err(|e| MetainfoError::Bencode(BencodeError::Serde(e.to_string())))?;
        let Value::Dict(root) = root else {
            return Err(MetainfoError::Bencode(BencodeError::NotADict));
        };
        let info_value = root
            .get(&b"info"[..])
            .ok_or_else(|| MetainfoError::Missing("info".into()))?;
        let info_dict = as_dict(info_value, "info")?;
        let v2_only = v2::is_v2_only(info_dict);
        let has_v2 = info_dict.contains_key(&b"file tree"[..]);
        // BEP 52: a v2 torrent is named by the SHA-256 of its info, and by that hash cut to
        // 20 bytes where a v1 hash goes (handshakes, trackers, the DHT). A v1 torrent has no
        // use for it (a restart of 100,000 spent 1.5 % of its time on it).
        let v2_hash: [u8; 32] = if has_v2 || v2_only {
            sha2::Sha256::digest(info_bytes).into()
        } else {
            [0; 32]
        };
        // A v2 info dictionary must be canonical bencode, as its SHA-256 names it: libtorrent
        // refuses one with a key out of order ("invalid bencoding"), and so do we, rather than
        // join a swarm under a hash other clients never compute for it.
        if v2::declares_version(info_dict) {
            if let Some(pos) = bencode::first_unsorted_key(buf, span.start)? {
                return Err(MetainfoError::V2(format!(
                    "the info dictionary's keys are out of order at byte {pos}, so it is not \
                     the one its hash names"
                )));
            }
        }
        let info_hash = if v2_only {
            let mut short = [0; 20];
            short.copy_from_slice(&v2_hash[..20]);
            short
        } else {
            sha1
        };
        let (mut info, padding_files) = parse_info(info_dict, &info_hash, &mut notes)?;
        // A v2-only torrent some of whose layers are missing or wrong: what peers must send.
        let mut lacking = None;
        if v2_only {
            let (_, files) = v2::only::as_v1_files(info_dict, u64::from(info.piece_length))?;
            match v2::only::piece_roots(&files, &root, u64::from(info.piece_length))? {
                v2::only::Roots::All(v2) => {
                    if v2.pieces.len() as u64 != u64::from(info.geometry().num_pieces()) {
                        return Err(MetainfoError::V2(format!(
                            "its files make {} pieces, its hashes {}",
                            info.geometry().num_pieces(),
                            v2.pieces.len()
                        )));
                    }
                    info.v2 = Some(v2);
                }
                v2::only::Roots::Lacking { good, lacking: l } => lacking = Some((good, l)),
            }
        }
        // A v2-only torrent's wrong layers are dropped above and fetched from peers.
        if let Some(why) = (!v2_only)
            .then(|| v2::bad_piece_layers(info_dict, &root))
            .flatten()
        {
            notes.push(format!(
                "hybrid torrent whose v2 piece layers are wrong ({why}); ttui uses the v1 \
                 part, other clients may refuse the torrent"
            ));
        }
        let piece_length = u64::from(info.piece_length);
        // BEP 52's pieces are powers of two of at least a block; a hybrid whose v1 part says
        // otherwise has no trees to serve.
        let piece_layers = (piece_length.is_power_of_two() && piece_length >= merkle::BLOCK)
            .then(|| v2::piece_layers(info_dict, &root, piece_length))
            .flatten()
            .map(std::sync::Arc::new);
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
        let meta = Metainfo {
            info_hash,
            info_hash_v2: has_v2.then_some(v2_hash),
            piece_layers,
            info,
            trackers,
            comment: text("comment"),
            created_by: text("created by"),
            creation_date,
            padding_files,
            info_bytes: bytes::Bytes::copy_from_slice(info_bytes),
            web_seeds: parse_web_seeds(&root),
            notes: notes.finish(),
        };
        match lacking {
            None => Ok(meta),
            Some((good, lacking)) => Err(MetainfoError::NeedsLayers(Box::new(
                layers::NeedsLayers::new(meta, good, lacking)?,
            ))),
        }
    }

    /// A hybrid's second name: its v2 info hash cut to 20 bytes, which peers that know it as
    /// a v2 torrent put in their handshakes and announces. `None` for a v1 or v2-only one
    /// (a v2-only torrent's `info_hash` is that hash already).
    pub fn hybrid_v2_hash(&self) -> Option<InfoHash> {
        let mut short = [0; 20];
        short.copy_from_slice(&self.info_hash_v2?[..20]);
        (short != self.info_hash).then_some(short)
    }

    pub fn info_hash_hex(&self) -> String {
        crate::protocol::hex::encode(&self.info_hash)
    }
}

/// Largest `piece length` accepted: libtorrent's (32,767 blocks of 16 KiB, just under
/// 512 MiB), so a torrent it loads loads here too. Real torrents stay at or below 16 MiB;
/// past this a file is hostile or broken and would make us buffer huge pieces.
pub const MAX_PIECE_LENGTH: u64 = 32_767 * 16 * 1024;

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
    #[error("`info.piece length` is {0} bytes, more than the limit of 536854528 (32767 blocks of 16 KiB)")]
    PieceLengthTooLarge(i64),
    #[error("`info.files`: the total length is 0 bytes, the torrent holds no data")]
    EmptyTotal,
    #[error("`info.files`: the total length overflows 64 bits")]
    TotalOverflow,
    #[error("`{0}` is an empty list")]
    EmptyList(String),
    #[error(
        "`{key}`: the path {path:?} is {length} bytes long, more than the 4095 bytes a path \
         can have on Linux, so it cannot be created"
    )]
    PathTooLong {
        key: String,
        length: usize,
        path: String,
    },
    /// A v2 part (BEP 52) that cannot be used, in one line.
    #[error("v2 torrent: {0}")]
    V2(String),
    #[error("`info` has both `length` and `files`")]
    BothLengthAndFiles,
    #[error("`info` has neither `length` nor `files`")]
    NeitherLengthNorFiles,
    /// A v2-only torrent that loads once peers send the piece layers it lacks (libtorrent
    /// loads it so): callers that can fetch them (`ttui info`, adding a torrent) take the
    /// `NeedsLayers`; the others refuse it with this line.
    #[error("v2 torrent: {}", .0.words())]
    NeedsLayers(Box<layers::NeedsLayers>),
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

/// `name`, or its `name.utf-8` twin when that is present and UTF-8 (old clients wrote it
/// next to a legacy-encoded original), decoded and made safe. A name with nothing usable
/// left becomes the info hash in hex, as in libtorrent.
fn clean_name(
    d: &Dict,
    info_hash: &InfoHash,
    notes: &mut Notes,
) -> Result<(String, String), MetainfoError> {
    let mut changes = Changes::NONE;
    let raw = match d.get(&b"name.utf-8"[..]) {
        Some(Value::Bytes(b)) if std::str::from_utf8(b).is_ok() => {
            sanitize::decode(b, &mut changes)
        }
        _ => sanitize::decode(
            as_bytes(required(d, "name", "info.name")?, "info.name")?,
            &mut changes,
        ),
    };
    let name = match sanitize::clean_element(&raw, &mut changes) {
        Some(n) if !raw.is_empty() => n,
        _ => {
            changes.add(Changes::NOTHING_LEFT);
            crate::protocol::hex::encode(info_hash)
        }
    };
    if !changes.is_empty() {
        let why = changes
            .describe()
            .replace("named `_`", "named by the info hash");
        notes.push(format!(
            "the name {:?} is saved as {:?}: {why}",
            shorten(&raw),
            shorten(&name)
        ));
    }
    Ok((name, raw))
}

fn parse_info(
    d: &Dict,
    info_hash: &InfoHash,
    notes: &mut Notes,
) -> Result<(Info, Vec<usize>), MetainfoError> {
    let (name, raw_name) = clean_name(d, info_hash, notes)?;

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

    let v2_only = v2::is_v2_only(d);
    let pieces: Vec<[u8; 20]> = if v2_only {
        Vec::new()
    } else {
        let raw_pieces = as_bytes(required(d, "pieces", "info.pieces")?, "info.pieces")?;
        if raw_pieces.len() % 20 != 0 {
            return Err(MetainfoError::PiecesNotMultipleOf20(raw_pieces.len()));
        }
        raw_pieces
            .chunks_exact(20)
            .map(|c| {
                let mut h = [0u8; 20];
                h.copy_from_slice(c);
                h
            })
            .collect()
    };

    // A v2-only torrent's tree, as the v1 list a hybrid of it would have (with its pads).
    let v2_files = if v2_only {
        Some(v2::only::as_v1_files(d, u64::from(piece_length))?)
    } else {
        None
    };
    let (files, padding, single_file, v1_files) = match &v2_files {
        // One file named as the torrent: a single-file torrent, as in v1.
        Some((_, tree)) if tree.len() == 1 && tree[0].path == [raw_name.clone()] => {
            let length = tree[0].length;
            if length == 0 {
                return Err(MetainfoError::EmptyTotal);
            }
            let mut entry = FileEntry::new(vec![name.clone()], length, 0);
            if raw_name != name {
                entry.source_path = Some(vec![raw_name.clone()]);
            }
            entry.executable = tree[0].attr.contains('x');
            let mut entries = vec![entry];
            let mut padding = Vec::new();
            // Its last piece is whole too, ending in a pad (as libtorrent has it).
            if let Some(pad) = v2::only::pad_after(length, length, u64::from(piece_length)) {
                let mut p = FileEntry::new(vec![".pad".into(), pad.to_string()], pad, length);
                p.padding = true;
                padding.push(1);
                entries.push(p);
            }
            (entries, padding, true, Vec::new())
        }
        Some((list, _)) => {
            let parsed = files::parse_files(list, &name, &raw_name, notes)?;
            (parsed.entries, parsed.padding, false, Vec::new())
        }
        None => match (d.get(&b"length"[..]), d.get(&b"files"[..])) {
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
                let mut entry = FileEntry::new(vec![name.clone()], length as u64, 0);
                if raw_name != name {
                    entry.source_path = Some(vec![raw_name.clone()]);
                }
                // A single file's BEP 47 `attr` stands in `info` (where libtorrent puts it).
                entry.executable =
                    matches!(d.get(&b"attr"[..]), Some(Value::Bytes(a)) if a.contains(&b'x'));
                (
                    vec![entry],
                    Vec::new(),
                    true,
                    vec![(vec![raw_name], length as u64)],
                )
            }
            (None, Some(list)) => {
                let parsed =
                    files::parse_files(as_list(list, "info.files")?, &name, &raw_name, notes)?;
                let v1 = parsed
                    .entries
                    .iter()
                    .zip(parsed.raw_paths)
                    .filter(|(f, _)| !f.padding)
                    .map(|(f, raw)| (raw, f.length))
                    .collect();
                (parsed.entries, parsed.padding, false, v1)
            }
        },
    };
    // The two halves of a hybrid name the same files, or peers of each kind would fill
    // different bytes under one torrent: libtorrent refuses such a torrent, and so do we.
    if let Some(why) = v2::hybrid_mismatch(d, v1_files).filter(|_| !v2_only) {
        return Err(MetainfoError::V2(why));
    }

    let total_length = files
        .iter()
        .try_fold(0u64, |acc, f| acc.checked_add(f.length))
        .ok_or(MetainfoError::TotalOverflow)?;
    if total_length == 0 {
        return Err(MetainfoError::EmptyTotal);
    }
    // A payload needing more than u32::MAX pieces has no geometry; no hash list matches it.
    let expected = Geometry::new(piece_length, total_length).map(|g| u64::from(g.num_pieces()));
    // A v2-only torrent's count is checked against its piece layers by the caller.
    if expected != Some(pieces.len() as u64) && !v2_only {
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

    // A list grown by pushing keeps up to twice its length, held for the torrent's life.
    let mut files = files;
    files.shrink_to_fit();
    let info = Info {
        name,
        piece_length,
        pieces,
        files,
        total_length,
        private,
        source,
        single_file,
        v2: None,
    };
    Ok((info, padding))
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
                urls.shrink_to_fit();
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
    // Held for the torrent's life, by every torrent of a library: a pushed list keeps room
    // for four (72 bytes a torrent more, 7 MB at 100,000).
    tiers.shrink_to_fit();
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

#[cfg(test)]
mod tests;
