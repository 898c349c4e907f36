//! The library's names folded to lower case in one buffer, and its ids in one array, kept
//! beside the rows: searching and sorting 100,000 names, or finding the selected torrent, then
//! reads memory in order rather than following a pointer to each torrent's line and another
//! to its name, a cache miss each at that size (a sort by Name took 160 ms of a key press and
//! a wider search 55 ms before; tests/bench/tui_scale.sh).

use std::cmp::Ordering;
use std::sync::Arc;

use memchr::memmem;

use crate::engine::api::{TorrentId, TorrentLine};
use crate::ui::list::order::name_matches;

/// Per line of the snapshot last folded in (by index): its id and its name folded as
/// [`fold`] folds it. Invariant: `spans` and `ids` are as long as those lines.
#[derive(Debug, Default)]
pub(super) struct Names {
    text: String,
    spans: Vec<Span>,
    ids: Vec<TorrentId>,
    /// Bytes of `text` some span still points at; the rest was left by renames.
    live: usize,
}

#[derive(Debug, Clone, Copy)]
struct Span {
    start: usize,
    len: usize,
    /// The name itself is ASCII, so its fold is its ASCII lower case and an ASCII needle
    /// matches it where it matches the fold.
    ascii: bool,
}

/// A search as [`name_matches`] reads it, lowered and made a finder once rather than at
/// every name (`str::contains` sets up its search at each call: most of the time over short
/// names).
pub(super) struct Needle<'a> {
    text: &'a str,
    /// A finder of the needle in ASCII lower case when it is ASCII (matched in the folds).
    lower: Option<memmem::Finder<'static>>,
}

impl<'a> Needle<'a> {
    pub(super) fn new(text: &'a str) -> Self {
        let lower = text
            .is_ascii()
            .then(|| memmem::Finder::new(text.to_ascii_lowercase().as_bytes()).into_owned());
        Needle { text, lower }
    }
}

impl Names {
    pub(super) fn of(lines: &[Arc<TorrentLine>]) -> Self {
        let mut names = Names {
            text: String::with_capacity(lines.iter().map(|t| t.name.len()).sum()),
            spans: Vec::with_capacity(lines.len()),
            ids: Vec::with_capacity(lines.len()),
            live: 0,
        };
        for t in lines {
            names.push(t);
        }
        names
    }

    pub(super) fn len(&self) -> usize {
        self.ids.len()
    }

    /// A line after the last.
    pub(super) fn push(&mut self, t: &TorrentLine) {
        let span = self.store(&t.name);
        self.spans.push(span);
        self.ids.push(t.id);
    }

    /// Line `i` (of the same torrent) renamed. Returns false when the buffer is mostly names
    /// no line has any more, and the caller should build it again.
    pub(super) fn rename(&mut self, i: usize, name: &str) -> bool {
        let Some(old) = self.spans.get(i).copied() else {
            return false;
        };
        self.live -= old.len;
        self.spans[i] = self.store(name);
        self.text.len() <= 2 * self.live + 4096
    }

    fn store(&mut self, name: &str) -> Span {
        let start = self.text.len();
        self.text.push_str(&fold(name));
        let len = self.text.len() - start;
        self.live += len;
        Span {
            start,
            len,
            ascii: name.is_ascii(),
        }
    }

    pub(super) fn id(&self, i: usize) -> Option<TorrentId> {
        self.ids.get(i).copied()
    }

    /// The index of `id`'s line, reading the ids in order (100,000 in well under a
    /// millisecond, where each line's own id is a pointer away).
    pub(super) fn index_of(&self, id: TorrentId) -> Option<usize> {
        self.ids.iter().position(|&x| x == id)
    }

    pub(super) fn ids(&self) -> &[TorrentId] {
        &self.ids
    }

    fn folded(&self, i: usize) -> &str {
        let s = self.spans[i];
        &self.text[s.start..s.start + s.len]
    }

    /// Whether line `i`'s name matches `needle` as [`name_matches`] says; from the buffer
    /// when both are ASCII (an ASCII needle in a name that is not is matched on the name:
    /// its fold may lower a letter that is not ASCII into one that is).
    pub(super) fn matches(&self, lines: &[Arc<TorrentLine>], i: usize, needle: &Needle) -> bool {
        match &needle.lower {
            _ if needle.text.is_empty() => true,
            Some(lower) if self.spans[i].ascii => lower.find(self.folded(i).as_bytes()).is_some(),
            _ => name_matches(&lines[i].name, needle.text),
        }
    }

    /// The first 16 bytes of line `i`'s fold as one number whose order is the folds' order
    /// wherever two of them differ within those bytes (shorter ones padded with zeros); when
    /// two are equal the whole folds decide ([`Names::by_name`]).
    pub(super) fn head(&self, i: usize) -> u128 {
        let mut b = [0u8; 16];
        let f = self.folded(i).as_bytes();
        let n = f.len().min(16);
        b[..n].copy_from_slice(&f[..n]);
        u128::from_be_bytes(b)
    }

    /// Lines `i` and `j` by their folded names, as `order::by` orders the names.
    pub(super) fn by_name(&self, i: usize, j: usize) -> Ordering {
        self.folded(i).cmp(self.folded(j))
    }
}

/// `name` in lower case as `by_name` compares it: ASCII lower case for an ASCII name, each
/// character's lower case otherwise (UTF-8's byte order is its characters').
pub(super) fn fold(name: &str) -> std::borrow::Cow<'_, str> {
    use std::borrow::Cow;
    if name.is_ascii() {
        if name.bytes().any(|c| c.is_ascii_uppercase()) {
            Cow::Owned(name.to_ascii_lowercase())
        } else {
            Cow::Borrowed(name)
        }
    } else {
        Cow::Owned(name.chars().flat_map(char::to_lowercase).collect())
    }
}
