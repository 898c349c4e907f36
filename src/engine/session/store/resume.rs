//! The resume codec: one small bencoded dictionary per torrent, `<info hash>.resume`.
//!
//! Why bencode through serde_bencode (already a dependency, used for every .torrent) rather
//! than SQLite or a serde format such as JSON or bincode: a file per torrent is what libtorrent
//! (`.fastresume`), Transmission (`.resume`) and rtorrent do. Saving one torrent rewrites one
//! file of a few KiB with the plain tmp + fsync + rename, nothing else is touched, a damaged
//! file costs only its own torrent, and a person can read it with any bencode tool. An embedded
//! database earns its keep past ~100,000 torrents (qBittorrent offers one for that); it would
//! add a C library and a second way to be corrupt for no gain at our sizes. Bencode also keeps
//! byte strings (paths, bitfields) as bytes, where JSON would need base64. Written through
//! serde_bencode; read by hand, in place (`Fields`), after `protocol::bencode`'s bounded walk
//! has validated the whole file, and the size is capped before anything is read.
//!
//! Format version 1 (its keys are listed in the README, "The state directory"). A reader
//! ignores keys it does not know, so later versions may add keys freely; a change of meaning
//! bumps `version`, and a file of another version is refused (the torrent is checked in full).

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

use crate::protocol::bencode;
use crate::protocol::bitfield::Bitfield;
use crate::protocol::hex;

mod decode;
pub use decode::decode;

/// The format written; the only one read.
pub const VERSION: i64 = 1;
/// The value of the `format` key: tells our file from any other bencoded dictionary.
const FORMAT: &str = "ttui resume";
/// Larger files are refused before they are read. A torrent of a million pieces and 100,000
/// files needs about 4 MiB.
pub const MAX_RESUME_SIZE: u64 = 32 << 20;
/// Peers kept across a restart (libtorrent keeps about as many).
pub const MAX_PEERS: usize = 200;

/// What a torrent needs to come back after a restart without hashing what it already has.
#[derive(Debug, Clone, PartialEq)]
pub struct Resume {
    pub info_hash: [u8; 20],
    pub name: String,
    pub save_path: PathBuf,
    /// Unix seconds.
    pub added: u64,
    pub completed: Option<u64>,
    pub paused: bool,
    pub num_pieces: u32,
    /// Bitfield bytes of verified pieces (`Bitfield::as_bytes`), `ceil(num_pieces / 8)` long.
    pub have: Vec<u8>,
    /// One per file of the torrent, in torrent order, as `restart::stamp_files` gives them when
    /// the data was saved (`None`: the file was missing).
    pub files: Vec<Option<FileStamp>>,
    pub downloaded: u64,
    pub uploaded: u64,
    pub seeding_secs: u64,
    pub active_secs: u64,
    /// When payload last moved either way (Unix seconds; 0: never).
    pub last_activity: u64,
    /// At most `MAX_PEERS` are written.
    pub peers: Vec<SocketAddr>,
    pub queue_position: u32,
    /// One per file; empty means every file at normal priority.
    pub file_priorities: Vec<u8>,
    /// Bytes per second; `None` is unlimited.
    pub down_limit: Option<u64>,
    pub up_limit: Option<u64>,
    pub seed_ratio: Option<f64>,
    pub seed_time_secs: Option<u64>,
    /// Seeding goal: stop after this long with no upload (the queue issue's keys, all
    /// optional so files written before them still load).
    pub seed_idle_secs: Option<u64>,
    /// Seeding goals switched off for this torrent (bits of `goals::Kind`): resumed by hand
    /// past them.
    pub goals_off: u8,
    /// Started regardless of the queue.
    pub forced: bool,
    /// BEP 16 super-seeding, on while the torrent seeds (`ttui super-seed ID on`).
    pub super_seeding: bool,
    /// Why a seeding goal paused it (`paused: ratio 1.00 reached (goal 1.0)`), shown again
    /// after a restart.
    pub goal_reached: Option<String>,
    pub sequential: bool,
    /// The first and last piece of each wanted file first (`Command::SetFirstLast`).
    pub first_last: bool,
    /// Saved by a clean stop, after the last write to the torrent's files: a newer file is
    /// then someone else's doing. Without it (the process died), a newer file that was still
    /// being downloaded is our own writing after the save.
    pub clean: bool,
    /// The magnet link of a torrent whose metadata has not arrived yet (no .torrent is saved
    /// until it does; `pieces` is 0 meanwhile).
    pub magnet: Option<String>,
    /// Its `--only-files`, applied once the metadata arrives (then kept as
    /// `file_priorities`).
    pub only_files: Option<Vec<u32>>,
    /// Its labels (`api::labels`), in order.
    pub labels: Vec<String>,
    /// Downloading in the incomplete directory (`save_path`): the directory its data moves
    /// to once complete.
    pub target: Option<PathBuf>,
    /// The move to `target` is under way (the journal a restart finishes it from).
    pub moving: bool,
    /// The move under way is a user's (`ttui move`), not the one out of the incomplete
    /// directory: finishing it runs no `on_complete`.
    pub user_move: bool,
    /// Its files' names where they differ from the .torrent's (`torrent-rename-path`).
    pub renamed: crate::engine::api::Renamed,
    /// A rename is under way: `renamed` holds the names after it, this the names before it
    /// (the journal a restart reads to take whichever names the files are under).
    pub renaming: Option<crate::engine::api::Renamed>,
    /// Its tracker tiers once edited; None: the .torrent's.
    pub trackers: Option<Vec<Vec<String>>>,
    /// Its files linked to another torrent's data when it was added (cross-seeding), not
    /// proven yet: its first check keeps those it proves and replaces the others with files of
    /// its own before anything is written.
    pub borrowed: Vec<u32>,
}

/// A file as the last save saw it: size and modification time, nanosecond precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileStamp {
    pub size: u64,
    /// Nanoseconds since the Unix epoch (negative before it).
    pub mtime_ns: i128,
}

impl Resume {
    /// A torrent just added: nothing verified, nothing counted, every setting at its default.
    pub fn new(info_hash: [u8; 20], name: String, save_path: PathBuf, num_pieces: u32) -> Resume {
        Resume {
            info_hash,
            name,
            save_path,
            added: 0,
            completed: None,
            paused: false,
            num_pieces,
            have: vec![0; Bitfield::byte_len(num_pieces)],
            files: Vec::new(),
            downloaded: 0,
            uploaded: 0,
            seeding_secs: 0,
            active_secs: 0,
            last_activity: 0,
            peers: Vec::new(),
            queue_position: 0,
            file_priorities: Vec::new(),
            down_limit: None,
            up_limit: None,
            seed_ratio: None,
            seed_time_secs: None,
            seed_idle_secs: None,
            goals_off: 0,
            forced: false,
            super_seeding: false,
            goal_reached: None,
            sequential: false,
            first_last: false,
            clean: false,
            magnet: None,
            only_files: None,
            labels: Vec::new(),
            target: None,
            moving: false,
            user_move: false,
            renamed: Default::default(),
            renaming: None,
            trackers: None,
            borrowed: Vec::new(),
        }
    }

    /// The verified pieces; `None` when `have` does not fit `num_pieces` (never for decoded data).
    pub fn have_bitfield(&self) -> Option<Bitfield> {
        Bitfield::from_bytes(&self.have, self.num_pieces).ok()
    }

    pub fn set_have(&mut self, have: &Bitfield) {
        self.num_pieces = have.len();
        self.have = have.as_bytes().to_vec();
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResumeError {
    #[error("resume data is {size} bytes, more than the {} MiB limit", MAX_RESUME_SIZE >> 20)]
    TooLarge { size: u64 },
    #[error("resume data is damaged: {0}")]
    Damaged(String),
    #[error("not ttui resume data")]
    NotResume,
    #[error("resume data has format version {found}; this ttui reads version {VERSION}")]
    WrongVersion { found: i64 },
    #[error("resume data is for torrent {found}, not {expected}")]
    WrongInfoHash { found: String, expected: String },
    #[error("resume data has a bad `{key}`: {why}")]
    Invalid { key: &'static str, why: String },
}

/// The dictionary on disk. Integers are i64 because bencode's are; every one is checked
/// on the way in. Optional keys are left out rather than written empty.
#[derive(Serialize)]
struct Wire {
    format: ByteBuf,
    version: i64,
    info_hash: ByteBuf,
    name: ByteBuf,
    save_path: ByteBuf,
    added: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    completed: Option<i64>,
    paused: i64,
    pieces: i64,
    have: ByteBuf,
    /// `[size, mtime seconds, mtime nanoseconds]` per file, `[]` for a missing one.
    files: Vec<Vec<i64>>,
    downloaded: i64,
    uploaded: i64,
    seeding_secs: i64,
    active_secs: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    last_activity: i64,
    /// Compact IPv4 peers, 6 bytes each (BEP 23).
    #[serde(default)]
    peers: ByteBuf,
    /// Compact IPv6 peers, 18 bytes each (BEP 7).
    #[serde(default)]
    peers6: ByteBuf,
    #[serde(default)]
    queue_position: i64,
    #[serde(default)]
    file_priorities: ByteBuf,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    down_limit: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    up_limit: Option<i64>,
    /// Bencode has no floats: the ratio as Rust prints an f64 (shortest text that parses back
    /// to the same value).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    seed_ratio: Option<ByteBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    seed_time: Option<i64>,
    #[serde(default)]
    sequential: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    first_last: i64,
    #[serde(default)]
    clean: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    seed_idle: Option<i64>,
    #[serde(default, skip_serializing_if = "is_zero")]
    goals_off: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    forced: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    super_seeding: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    goal_reached: Option<ByteBuf>,
    /// A torrent still fetching its metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    magnet: Option<ByteBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    only_files: Option<Vec<i64>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    labels: Vec<ByteBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    target: Option<ByteBuf>,
    #[serde(default, skip_serializing_if = "is_zero")]
    moving: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    user_move: i64,
    /// The torrent's new name (its top-level file or folder renamed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    renamed_name: Option<ByteBuf>,
    /// Files renamed below the top-level folder: their index and new path below it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    renamed_files: Vec<WireRenamed>,
    /// A rename under way: 1, with the names before it in `before_name` and `before_files`.
    #[serde(default, skip_serializing_if = "is_zero")]
    renaming: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    before_name: Option<ByteBuf>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    before_files: Vec<WireRenamed>,
    /// The tracker tiers once edited (absent: the .torrent's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    trackers: Option<Vec<Vec<ByteBuf>>>,
    /// Files linked from another torrent's data, not proven yet.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    borrowed: Vec<i64>,
}

#[derive(Serialize)]
struct WireRenamed {
    file: i64,
    path: Vec<ByteBuf>,
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}

/// No real count reaches i64::MAX; saturating keeps encoding infallible.
fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

const NANOS: i128 = 1_000_000_000;

pub fn encode(r: &Resume) -> Vec<u8> {
    let mut peers = Vec::new();
    let mut peers6 = Vec::new();
    for peer in r.peers.iter().take(MAX_PEERS) {
        let (out, ip) = match peer {
            SocketAddr::V4(a) => (&mut peers, a.ip().octets().to_vec()),
            SocketAddr::V6(a) => (&mut peers6, a.ip().octets().to_vec()),
        };
        out.extend_from_slice(&ip);
        out.extend_from_slice(&peer.port().to_be_bytes());
    }
    let files = r
        .files
        .iter()
        .map(|stamp| match stamp {
            None => Vec::new(),
            Some(s) => {
                let secs = s.mtime_ns.div_euclid(NANOS);
                let secs =
                    i64::try_from(secs).unwrap_or(if secs < 0 { i64::MIN } else { i64::MAX });
                vec![int(s.size), secs, s.mtime_ns.rem_euclid(NANOS) as i64]
            }
        })
        .collect();
    let wire = Wire {
        format: ByteBuf::from(FORMAT.as_bytes()),
        version: VERSION,
        info_hash: ByteBuf::from(r.info_hash.to_vec()),
        name: ByteBuf::from(r.name.as_bytes()),
        save_path: ByteBuf::from(r.save_path.as_os_str().as_bytes()),
        added: int(r.added),
        completed: r.completed.map(int),
        paused: i64::from(r.paused),
        pieces: i64::from(r.num_pieces),
        have: ByteBuf::from(r.have.clone()),
        files,
        downloaded: int(r.downloaded),
        uploaded: int(r.uploaded),
        seeding_secs: int(r.seeding_secs),
        active_secs: int(r.active_secs),
        last_activity: int(r.last_activity),
        peers: ByteBuf::from(peers),
        peers6: ByteBuf::from(peers6),
        queue_position: i64::from(r.queue_position),
        file_priorities: ByteBuf::from(r.file_priorities.clone()),
        down_limit: r.down_limit.map(int),
        up_limit: r.up_limit.map(int),
        seed_ratio: r
            .seed_ratio
            .filter(|x| x.is_finite() && *x >= 0.0)
            .map(|x| ByteBuf::from(x.to_string().into_bytes())),
        seed_time: r.seed_time_secs.map(int),
        sequential: i64::from(r.sequential),
        first_last: i64::from(r.first_last),
        clean: i64::from(r.clean),
        seed_idle: r.seed_idle_secs.map(int),
        goals_off: i64::from(r.goals_off),
        forced: i64::from(r.forced),
        super_seeding: i64::from(r.super_seeding),
        goal_reached: r.goal_reached.as_ref().map(|t| ByteBuf::from(t.as_bytes())),
        magnet: r.magnet.as_ref().map(|m| ByteBuf::from(m.as_bytes())),
        only_files: r
            .only_files
            .as_ref()
            .map(|l| l.iter().map(|i| i64::from(*i)).collect()),
        labels: r
            .labels
            .iter()
            .map(|l| ByteBuf::from(l.as_bytes()))
            .collect(),
        target: r
            .target
            .as_ref()
            .map(|t| ByteBuf::from(t.as_os_str().as_bytes())),
        moving: i64::from(r.moving),
        user_move: i64::from(r.user_move),
        renamed_name: wire_name(&r.renamed),
        renamed_files: wire_files(&r.renamed),
        renaming: i64::from(r.renaming.is_some()),
        before_name: r.renaming.as_ref().and_then(wire_name),
        before_files: r.renaming.as_ref().map(wire_files).unwrap_or_default(),
        trackers: r.trackers.as_ref().map(|tiers| {
            tiers
                .iter()
                .map(|t| t.iter().map(|u| ByteBuf::from(u.as_bytes())).collect())
                .collect()
        }),
        borrowed: r.borrowed.iter().map(|i| i64::from(*i)).collect(),
    };
    // Every field is a byte string, an integer or a list of them: serde_bencode cannot fail.
    bencode::encode(&wire).unwrap_or_default()
}

/// The seeding time of the torrents asleep at a clean stop, in one file (`Store::save_seeding`).
/// A sleeping torrent keeps seeding, so its lifetime seeding time grows while its resume data
/// stays as it was when it fell asleep. Saving each one's resume data again at a stop took
/// 10 s at 60,000 sleeping torrents (an fsync a file); this file takes one. At the next start
/// a torrent's saved seeding time is the larger of its resume data's and this file's, when
/// the file names the same add (`added`): a torrent removed and added again since does not
/// inherit it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeedingTime {
    pub info_hash: [u8; 20],
    /// The torrent's add time, as its resume data has it.
    pub added: u64,
    pub seeding_secs: u64,
}

const SEEDING_FORMAT: &str = "ttui seeding";
/// Bytes a torrent takes in the packed list: its info hash, then `added` and `seeding_secs`
/// as big-endian u64s.
const SEEDING_RECORD: usize = 36;
/// The largest seeding file read: a million torrents and more.
pub const MAX_SEEDING_SIZE: u64 = 64 << 20;

#[derive(Serialize, Deserialize)]
struct SeedingWire {
    format: ByteBuf,
    version: i64,
    /// The torrents, packed: no per-torrent parse at a start of 100,000.
    torrents: ByteBuf,
}

pub fn encode_seeding(times: &[SeedingTime]) -> Vec<u8> {
    let mut packed = Vec::with_capacity(times.len() * SEEDING_RECORD);
    for t in times {
        packed.extend_from_slice(&t.info_hash);
        packed.extend_from_slice(&t.added.to_be_bytes());
        packed.extend_from_slice(&t.seeding_secs.to_be_bytes());
    }
    let wire = SeedingWire {
        format: ByteBuf::from(SEEDING_FORMAT.as_bytes().to_vec()),
        version: VERSION,
        torrents: ByteBuf::from(packed),
    };
    // Two byte strings and an integer: serde_bencode cannot fail.
    bencode::encode(&wire).unwrap_or_default()
}

/// Reads a seeding file; anything but version 1 of it is refused whole.
pub fn decode_seeding(bytes: &[u8]) -> Result<Vec<SeedingTime>, ResumeError> {
    if bytes.len() as u64 > MAX_SEEDING_SIZE {
        return Err(ResumeError::TooLarge {
            size: bytes.len() as u64,
        });
    }
    let w: SeedingWire = bencode::decode(bytes).map_err(|e| ResumeError::Damaged(e.to_string()))?;
    if w.format.as_slice() != SEEDING_FORMAT.as_bytes() {
        return Err(ResumeError::NotResume);
    }
    if w.version != VERSION {
        return Err(ResumeError::WrongVersion { found: w.version });
    }
    if !w.torrents.len().is_multiple_of(SEEDING_RECORD) {
        return Err(ResumeError::Invalid {
            key: "torrents",
            why: format!(
                "{} bytes is not a whole number of records",
                w.torrents.len()
            ),
        });
    }
    let u64_at = |r: &[u8], at: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&r[at..at + 8]);
        u64::from_be_bytes(b)
    };
    Ok(w.torrents
        .chunks_exact(SEEDING_RECORD)
        .map(|r| {
            let mut info_hash = [0u8; 20];
            info_hash.copy_from_slice(&r[..20]);
            SeedingTime {
                info_hash,
                added: u64_at(r, 20),
                seeding_secs: u64_at(r, 28),
            }
        })
        .collect())
}

fn wire_name(r: &crate::engine::api::Renamed) -> Option<ByteBuf> {
    r.name.as_ref().map(|n| ByteBuf::from(n.as_bytes()))
}

fn wire_files(r: &crate::engine::api::Renamed) -> Vec<WireRenamed> {
    r.files
        .iter()
        .map(|(i, path)| WireRenamed {
            file: i64::from(*i),
            path: path.iter().map(|c| ByteBuf::from(c.as_bytes())).collect(),
        })
        .collect()
}
