//! Which torrents a face's words name, resolved against one line-up. The control socket's
//! `ID...` (an id, `#3`, an info-hash prefix, `all`) and the RPC's `ids` (numbers, hash
//! strings) both become [`Name`]s, and [`Lookup`] finds them: one resolver, so an id or a hash
//! means the same torrent to every client. What a face does with a name that finds nothing
//! or several is its own: the control socket refuses it, the RPC leaves it out as
//! Transmission does.

use super::{SessionSnapshot, TorrentId};
use crate::protocol::hex;

/// Shorter prefixes would often name several torrents, and could be mistaken for ids.
pub const MIN_PREFIX: usize = 6;

/// One way of naming torrents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Name {
    /// Every torrent, in the line-up's order.
    All,
    Id(TorrentId),
    /// The start of an info hash in hex: [`MIN_PREFIX`] to 40 digits, lowercase. 40 digits
    /// name one torrent exactly.
    HashPrefix(String),
}

impl Name {
    /// A hash prefix from `word` when it is one (6 to 40 hex digits, any case).
    pub fn hash_prefix(word: &str) -> Option<Name> {
        let ok =
            (MIN_PREFIX..=40).contains(&word.len()) && word.bytes().all(|b| b.is_ascii_hexdigit());
        ok.then(|| Name::HashPrefix(word.to_ascii_lowercase()))
    }
}

/// What a name found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// The torrents named (one, or all of them for [`Name::All`]).
    Torrents(Vec<TorrentId>),
    Nothing,
    /// A prefix that starts several info hashes: each with its hash.
    Several(Vec<(TorrentId, [u8; 20])>),
}

/// A line-up's names found through its index (`line_index.rs`, made once per publication):
/// an id or a whole hash costs one hash probe, so a request naming thousands of torrents
/// costs one probe each, and a request naming one costs one.
pub struct Lookup<'a> {
    snap: &'a SessionSnapshot,
}

impl<'a> Lookup<'a> {
    pub fn new(snap: &'a SessionSnapshot) -> Lookup<'a> {
        Lookup { snap }
    }

    pub fn find(&self, name: &Name) -> Found {
        match name {
            Name::All => Found::Torrents(self.snap.torrents.iter().map(|t| t.id).collect()),
            Name::Id(id) => match self.snap.position(*id) {
                Some(_) => Found::Torrents(vec![*id]),
                None => Found::Nothing,
            },
            Name::HashPrefix(prefix) => self.by_prefix(prefix),
        }
    }

    /// Where `id` stands in the line-up, to give found torrents in the line-up's order.
    pub fn position(&self, id: TorrentId) -> Option<usize> {
        self.snap.position(id)
    }

    fn by_prefix(&self, prefix: &str) -> Found {
        if let Some(whole) = hex::decode_array::<20>(prefix) {
            return match self.snap.line_by_hash(&whole) {
                Some(t) => Found::Torrents(vec![t.id]),
                None => Found::Nothing,
            };
        }
        let matching: Vec<(TorrentId, [u8; 20])> = self
            .snap
            .torrents
            .iter()
            .filter(|t| hex::encode(&t.info_hash).starts_with(prefix))
            .map(|t| (t.id, t.info_hash))
            .collect();
        match matching[..] {
            [] => Found::Nothing,
            [(id, _)] => Found::Torrents(vec![id]),
            _ => Found::Several(matching),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::api::TorrentLine;

    fn snap() -> SessionSnapshot {
        let line = |id: u32, head: [u8; 4]| {
            let mut info_hash = [0u8; 20];
            info_hash[..4].copy_from_slice(&head);
            TorrentLine {
                info_hash,
                ..TorrentLine::placeholder(TorrentId(id))
            }
        };
        SessionSnapshot {
            torrents: [
                line(1, [0x3f, 0x2a, 0x91, 0x00]),
                line(2, [0x3f, 0x2a, 0x91, 0xff]),
                line(7, [0x12, 0x34, 0x56, 0x78]),
            ]
            .map(std::sync::Arc::new)
            .into(),
            ..SessionSnapshot::default()
        }
    }

    #[test]
    fn ids_hashes_prefixes_and_all() {
        let s = snap();
        let l = Lookup::new(&s);
        let ids = |v: &[u32]| Found::Torrents(v.iter().map(|&i| TorrentId(i)).collect());
        assert_eq!(l.find(&Name::Id(TorrentId(2))), ids(&[2]));
        assert_eq!(l.find(&Name::Id(TorrentId(3))), Found::Nothing);
        assert_eq!(l.find(&Name::All), ids(&[1, 2, 7]));
        let p = |w: &str| Name::hash_prefix(w).unwrap();
        assert_eq!(l.find(&p("3F2A9100")), ids(&[1]));
        assert_eq!(
            l.find(&p(&hex::encode(&s.torrents[2].info_hash))),
            ids(&[7])
        );
        assert_eq!(l.find(&p(&"0".repeat(40))), Found::Nothing);
        let Found::Several(both) = l.find(&p("3f2a91")) else {
            panic!("a prefix of two hashes found one");
        };
        assert_eq!(both.iter().map(|b| b.0 .0).collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(l.position(TorrentId(7)), Some(2));
        for not in ["3f2a9", "xyz123", &"a".repeat(41)] {
            assert_eq!(Name::hash_prefix(not), None, "{not}");
        }
    }
}
