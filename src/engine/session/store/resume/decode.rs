//! Reading a resume file: the header checked, then each key read in place (`Fields`) from
//! the bytes `protocol::bencode`'s bounded walk has validated, every value checked for its
//! type and range.

use super::*;

/// Refuses what is not ttui's resume data (`format`), or is another version's.
fn check_header(format: Option<&[u8]>, version: Option<i64>) -> Result<(), ResumeError> {
    if format != Some(FORMAT.as_bytes()) {
        return Err(ResumeError::NotResume);
    }
    match version {
        Some(VERSION) => Ok(()),
        Some(found) => Err(ResumeError::WrongVersion { found }),
        None => Err(ResumeError::NotResume),
    }
}

/// Every key a reader of version 1 takes; others are skipped (a later version's).
pub(super) const KEYS: &[&str] = &[
    "format",
    "version",
    "info_hash",
    "name",
    "save_path",
    "added",
    "completed",
    "paused",
    "pieces",
    "have",
    "files",
    "downloaded",
    "uploaded",
    "seeding_secs",
    "active_secs",
    "last_activity",
    "peers",
    "peers6",
    "queue_position",
    "file_priorities",
    "down_limit",
    "up_limit",
    "seed_ratio",
    "seed_time",
    "sequential",
    "first_last",
    "clean",
    "seed_idle",
    "goals_off",
    "forced",
    "super_seeding",
    "goal_reached",
    "magnet",
    "only_files",
    "labels",
    "target",
    "moving",
    "user_move",
    "renamed_name",
    "renamed_files",
    "renaming",
    "before_name",
    "before_files",
    "trackers",
    "borrowed",
];

/// A resume file's dictionary, read in place: where each key's value starts in the bytes.
/// Read by hand rather than through serde_bencode, which copies every key and byte string
/// into a `Vec` of its own: a restart reads every torrent's file, and at 100,000 those
/// copies (and the allocator's locks, contended by the store's readers) were a tenth of it.
/// The bytes are validated first (`bencode::each_top_level_entry`), so every value below is
/// whole.
pub(super) struct Fields<'a> {
    buf: &'a [u8],
    at: [Option<usize>; KEYS.len()],
}

impl<'a> Fields<'a> {
    fn read(buf: &'a [u8]) -> Result<Fields<'a>, ResumeError> {
        let mut at = [None; KEYS.len()];
        bencode::each_top_level_entry(buf, &mut |key, span| {
            if let Some(i) = KEYS.iter().position(|k| k.as_bytes() == key) {
                at[i] = Some(span.start);
            }
        })
        .map_err(|e| ResumeError::Damaged(e.to_string()))?;
        if buf.first() != Some(&b'd') {
            return Err(ResumeError::Damaged("not a dictionary".into()));
        }
        Ok(Fields { buf, at })
    }

    fn start(&self, key: &'static str) -> Option<usize> {
        KEYS.iter().position(|k| *k == key).and_then(|i| self.at[i])
    }

    fn bytes(&self, key: &'static str) -> Result<Option<&'a [u8]>, ResumeError> {
        self.start(key)
            .map(|at| bencode::string_at(self.buf, at).ok_or_else(|| wrong_type(key, "a string")))
            .transpose()
    }

    fn int(&self, key: &'static str) -> Result<Option<i64>, ResumeError> {
        self.start(key)
            .map(|at| bencode::int_at(self.buf, at).ok_or_else(|| wrong_type(key, "an integer")))
            .transpose()
    }

    fn need_bytes(&self, key: &'static str) -> Result<&'a [u8], ResumeError> {
        self.bytes(key)?.ok_or_else(|| missing(key))
    }

    fn need_int(&self, key: &'static str) -> Result<i64, ResumeError> {
        self.int(key)?.ok_or_else(|| missing(key))
    }

    /// An optional flag or count that is 0 when left out.
    fn int_or_zero(&self, key: &'static str) -> Result<i64, ResumeError> {
        Ok(self.int(key)?.unwrap_or(0))
    }

    /// The items of the list under `key`, as the offsets they start at (`None`: no such key).
    fn list(&self, key: &'static str) -> Result<Option<ItemsAt<'a>>, ResumeError> {
        self.start(key)
            .map(|at| list_at(self.buf, at, key))
            .transpose()
    }
}

/// The start offsets of a list's items.
type ItemsAt<'a> = Box<dyn Iterator<Item = usize> + 'a>;

pub(super) fn list_at<'a>(
    buf: &'a [u8],
    at: usize,
    key: &'static str,
) -> Result<ItemsAt<'a>, ResumeError> {
    if buf.get(at) != Some(&b'l') {
        return Err(wrong_type(key, "a list"));
    }
    Ok(Box::new(
        bencode::list_items(buf, at).map(|span| span.start),
    ))
}

/// A list of byte strings.
pub(super) fn strings<'a>(
    buf: &'a [u8],
    at: usize,
    key: &'static str,
) -> Result<Vec<&'a [u8]>, ResumeError> {
    list_at(buf, at, key)?
        .map(|i| bencode::string_at(buf, i).ok_or_else(|| wrong_type(key, "a list of strings")))
        .collect()
}

/// A list of integers.
pub(super) fn ints(buf: &[u8], at: usize, key: &'static str) -> Result<Vec<i64>, ResumeError> {
    list_at(buf, at, key)?
        .map(|i| bencode::int_at(buf, i).ok_or_else(|| wrong_type(key, "a list of integers")))
        .collect()
}

pub(super) fn missing(key: &'static str) -> ResumeError {
    ResumeError::Damaged(format!("`{key}` is missing"))
}

/// A key holding another type of value: the bytes are bencode, just not ours.
pub(super) fn wrong_type(key: &'static str, want: &str) -> ResumeError {
    ResumeError::Damaged(format!("`{key}` is not {want}"))
}

/// Reads resume data, refusing anything that is not version 1 data for `expected_info_hash`.
pub fn decode(bytes: &[u8], expected_info_hash: &[u8; 20]) -> Result<Resume, ResumeError> {
    if bytes.len() as u64 > MAX_RESUME_SIZE {
        return Err(ResumeError::TooLarge {
            size: bytes.len() as u64,
        });
    }
    let w = Fields::read(bytes)?;
    // The header first, so another version is named as such rather than by a key it lacks.
    check_header(
        w.bytes("format").ok().flatten(),
        w.int("version").ok().flatten(),
    )?;
    let info_hash = w.need_bytes("info_hash")?;
    if info_hash != expected_info_hash.as_slice() {
        return Err(ResumeError::WrongInfoHash {
            found: hex::encode(info_hash),
            expected: hex::encode(expected_info_hash),
        });
    }
    let pieces = w.need_int("pieces")?;
    let num_pieces = u32::try_from(pieces).map_err(|_| invalid("pieces", pieces))?;
    let have = w.need_bytes("have")?;
    Bitfield::from_bytes(have, num_pieces).map_err(|e| ResumeError::Invalid {
        key: "have",
        why: e.to_string(),
    })?;
    let save_path = w.need_bytes("save_path")?;
    if save_path.is_empty() {
        return Err(ResumeError::Invalid {
            key: "save_path",
            why: "empty".into(),
        });
    }
    let name = w.need_bytes("name")?;
    let files = w
        .list("files")?
        .ok_or_else(|| missing("files"))?
        .map(|at| match ints(bytes, at, "files")?.as_slice() {
            [] => Ok(None),
            &[size, secs, nanos] if size >= 0 && (0..1_000_000_000).contains(&nanos) => {
                Ok(Some(FileStamp {
                    size: size as u64,
                    mtime_ns: i128::from(secs) * NANOS + i128::from(nanos),
                }))
            }
            f => Err(ResumeError::Invalid {
                key: "files",
                why: format!("{f:?} is not [size, seconds, nanoseconds]"),
            }),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let seed_ratio = match w.bytes("seed_ratio")? {
        None => None,
        Some(text) => Some(
            std::str::from_utf8(text)
                .ok()
                .and_then(|t| t.parse::<f64>().ok())
                .filter(|x| x.is_finite() && *x >= 0.0)
                .ok_or_else(|| ResumeError::Invalid {
                    key: "seed_ratio",
                    why: format!("{:?} is not a ratio", String::from_utf8_lossy(text)),
                })?,
        ),
    };
    let unsigned_opt = |key| w.int(key)?.map(|v| unsigned(key, v)).transpose();
    let utf8 = |key: &'static str, b: &[u8]| {
        String::from_utf8(b.to_vec()).map_err(|_| ResumeError::Invalid {
            key,
            why: "not UTF-8".into(),
        })
    };
    let goals_off = w.int_or_zero("goals_off")?;
    let queue_position = w.int_or_zero("queue_position")?;
    Ok(Resume {
        info_hash: *expected_info_hash,
        name: String::from_utf8_lossy(name).into_owned(),
        save_path: PathBuf::from(std::ffi::OsStr::from_bytes(save_path)),
        added: unsigned("added", w.need_int("added")?)?,
        completed: unsigned_opt("completed")?,
        paused: flag("paused", w.need_int("paused")?)?,
        num_pieces,
        have: have.to_vec(),
        files,
        downloaded: unsigned("downloaded", w.need_int("downloaded")?)?,
        uploaded: unsigned("uploaded", w.need_int("uploaded")?)?,
        seeding_secs: unsigned("seeding_secs", w.need_int("seeding_secs")?)?,
        active_secs: unsigned("active_secs", w.need_int("active_secs")?)?,
        last_activity: unsigned("last_activity", w.int_or_zero("last_activity")?)?,
        peers: compact_peers(
            w.bytes("peers")?.unwrap_or_default(),
            w.bytes("peers6")?.unwrap_or_default(),
        )?,
        queue_position: u32::try_from(queue_position)
            .map_err(|_| invalid("queue_position", queue_position))?,
        file_priorities: w.bytes("file_priorities")?.unwrap_or_default().to_vec(),
        down_limit: unsigned_opt("down_limit")?,
        up_limit: unsigned_opt("up_limit")?,
        seed_ratio,
        seed_time_secs: unsigned_opt("seed_time")?,
        sequential: flag("sequential", w.int_or_zero("sequential")?)?,
        first_last: flag("first_last", w.int_or_zero("first_last")?)?,
        clean: flag("clean", w.int_or_zero("clean")?)?,
        seed_idle_secs: unsigned_opt("seed_idle")?,
        goals_off: u8::try_from(goals_off)
            .ok()
            .filter(|b| *b < 8)
            .ok_or_else(|| invalid("goals_off", goals_off))?,
        forced: flag("forced", w.int_or_zero("forced")?)?,
        super_seeding: flag("super_seeding", w.int_or_zero("super_seeding")?)?,
        // Our own words; cut so a doctored file cannot make a line of megabytes. Saved before
        // a line's `why` stopped repeating its state word, they began "paused: ".
        goal_reached: w.bytes("goal_reached")?.map(|t| {
            let text = String::from_utf8_lossy(&t[..t.len().min(200)]);
            text.strip_prefix("paused: ").unwrap_or(&text).to_string()
        }),
        magnet: w.bytes("magnet")?.map(|m| utf8("magnet", m)).transpose()?,
        only_files: w
            .start("only_files")
            .map(|at| {
                ints(bytes, at, "only_files")?
                    .into_iter()
                    .map(|i| u32::try_from(i).map_err(|_| invalid("only_files", i)))
                    .collect::<Result<Vec<u32>, _>>()
            })
            .transpose()?,
        // A label that would not be accepted today (a doctored file) is dropped alone: the
        // torrent's pieces are worth more than its grouping.
        labels: match w.start("labels") {
            None => Vec::new(),
            Some(at) => strings(bytes, at, "labels")?
                .into_iter()
                .filter_map(|l| std::str::from_utf8(l).ok())
                .filter_map(|l| crate::engine::api::check_label(l).ok())
                .take(crate::engine::api::MAX_LABELS)
                .collect(),
        },
        // Only an absolute path is ours: anything else (a doctored file) is dropped, and the
        // torrent stays where its data is.
        target: w
            .bytes("target")?
            .map(|t| PathBuf::from(std::ffi::OsStr::from_bytes(t)))
            .filter(|t| t.is_absolute()),
        moving: flag("moving", w.int_or_zero("moving")?)?,
        user_move: flag("user_move", w.int_or_zero("user_move")?)?,
        renamed: renamed(
            bytes,
            w.bytes("renamed_name")?,
            w.start("renamed_files"),
            "renamed_files",
        )?,
        renaming: flag("renaming", w.int_or_zero("renaming")?)?
            .then(|| {
                renamed(
                    bytes,
                    w.bytes("before_name")?,
                    w.start("before_files"),
                    "before_files",
                )
            })
            .transpose()?,
        // A URL that is not UTF-8 (a doctored file) is dropped alone, and so is a tier
        // left empty.
        trackers: w
            .list("trackers")?
            .map(|tiers| {
                tiers
                    .map(|tier| {
                        Ok(strings(bytes, tier, "trackers")?
                            .into_iter()
                            .filter_map(|u| std::str::from_utf8(u).ok().map(String::from))
                            .collect::<Vec<String>>())
                    })
                    .filter(|t| !matches!(t, Ok(t) if t.is_empty()))
                    .collect::<Result<Vec<_>, ResumeError>>()
            })
            .transpose()?,
        borrowed: match w.start("borrowed") {
            None => Vec::new(),
            Some(at) => ints(bytes, at, "borrowed")?
                .into_iter()
                .map(|i| u32::try_from(i).map_err(|_| invalid("borrowed", i)))
                .collect::<Result<Vec<u32>, ResumeError>>()?,
        },
    })
}

/// The renamed names, as text. Whether they fit the torrent's files is checked when they are
/// applied to them (`Renamed::apply`). `files` is the list of `{file, path}` under `key`.
pub(super) fn renamed(
    buf: &[u8],
    name: Option<&[u8]>,
    files: Option<usize>,
    key: &'static str,
) -> Result<crate::engine::api::Renamed, ResumeError> {
    let text = |b: &[u8]| {
        String::from_utf8(b.to_vec()).map_err(|_| ResumeError::Invalid {
            key: "renamed",
            why: "a name is not UTF-8".into(),
        })
    };
    let mut out = crate::engine::api::Renamed {
        name: name.map(text).transpose()?,
        ..Default::default()
    };
    let Some(files) = files else {
        return Ok(out);
    };
    for at in list_at(buf, files, key)? {
        if buf.get(at) != Some(&b'd') {
            return Err(wrong_type(key, "a list of dictionaries"));
        }
        let (mut file, mut path) = (None, None);
        for (k, span) in bencode::dict_items(buf, at) {
            match k {
                b"file" => file = Some(span.start),
                b"path" => path = Some(span.start),
                _ => {}
            }
        }
        let file = file
            .and_then(|at| bencode::int_at(buf, at))
            .ok_or_else(|| wrong_type(key, "a list of {file, path}"))?;
        let path = path.ok_or_else(|| wrong_type(key, "a list of {file, path}"))?;
        let i = u32::try_from(file).map_err(|_| invalid(key, file))?;
        let path = strings(buf, path, key)?
            .into_iter()
            .map(text)
            .collect::<Result<_, _>>()?;
        out.files.insert(i, path);
    }
    Ok(out)
}

pub(super) fn invalid(key: &'static str, v: i64) -> ResumeError {
    ResumeError::Invalid {
        key,
        why: format!("{v} is out of range"),
    }
}

pub(super) fn unsigned(key: &'static str, v: i64) -> Result<u64, ResumeError> {
    u64::try_from(v).map_err(|_| invalid(key, v))
}

pub(super) fn flag(key: &'static str, v: i64) -> Result<bool, ResumeError> {
    match v {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(invalid(key, v)),
    }
}

pub(super) fn compact_peers(v4: &[u8], v6: &[u8]) -> Result<Vec<SocketAddr>, ResumeError> {
    let uneven = |key, len: usize, n| ResumeError::Invalid {
        key,
        why: format!("{len} bytes is not a multiple of {n}"),
    };
    if !v4.len().is_multiple_of(6) {
        return Err(uneven("peers", v4.len(), 6));
    }
    if !v6.len().is_multiple_of(18) {
        return Err(uneven("peers6", v6.len(), 18));
    }
    let port = |b: &[u8]| u16::from_be_bytes([b[0], b[1]]);
    let mut peers: Vec<SocketAddr> = Vec::new();
    for c in v4.chunks_exact(6).take(MAX_PEERS) {
        let ip = Ipv4Addr::new(c[0], c[1], c[2], c[3]);
        peers.push(SocketAddr::new(ip.into(), port(&c[4..])));
    }
    for c in v6.chunks_exact(18).take(MAX_PEERS - peers.len()) {
        let mut octets = [0u8; 16];
        octets.copy_from_slice(&c[..16]);
        peers.push(SocketAddr::new(
            Ipv6Addr::from(octets).into(),
            port(&c[16..]),
        ));
    }
    Ok(peers)
}
