//! Names from a torrent made into file names that stay inside the output directory.
//!
//! Anyone can write a .torrent, and libtorrent, Transmission and aria2 load torrents with odd
//! names by fixing them rather than refusing them; a user expects ttui to load what they load.
//! The rules follow libtorrent's (`sanitize_append_path_element`) where it does something
//! safe: every element ends up one plain name that is never empty, `.` or `..`, holds no
//! separator, control or invisible formatting character, and fits NAME_MAX. What changed is
//! reported, so `ttui info` and the log can say it.

use crate::protocol::text::shorten_to;

/// Longest path element kept, in bytes: libtorrent's figure. It leaves room under NAME_MAX
/// (255 on every Linux file system) for the `.N` a repeated name gets.
pub const MAX_ELEMENT: usize = 240;
/// Bytes of extension (dot included) kept when an element is shortened.
const MAX_EXTENSION: usize = 10;
/// Notes kept for one torrent; a hostile one may change a million paths.
pub const MAX_NOTES: usize = 32;
/// Longest note, in characters: each quotes text from the torrent.
const MAX_NOTE: usize = 400;

/// What was changed in one name, as a set of reasons.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Changes(u16);

impl Changes {
    pub const NONE: Changes = Changes(0);
    pub const EMPTY: Changes = Changes(1);
    pub const DOTS: Changes = Changes(1 << 1);
    pub const SEPARATOR: Changes = Changes(1 << 2);
    pub const CONTROL: Changes = Changes(1 << 3);
    pub const INVISIBLE: Changes = Changes(1 << 4);
    pub const LONG: Changes = Changes(1 << 5);
    pub const LATIN1: Changes = Changes(1 << 6);
    pub const NOTHING_LEFT: Changes = Changes(1 << 7);

    const REASONS: [(Changes, &'static str); 8] = [
        (Changes::LATIN1, "not UTF-8, read as Latin-1"),
        (Changes::EMPTY, "an empty element became `_`"),
        (Changes::DOTS, "a `.` or `..` element was dropped"),
        (Changes::SEPARATOR, "`/` and `\\` were removed"),
        (Changes::CONTROL, "control characters became `_`"),
        (
            Changes::INVISIBLE,
            "invisible formatting characters were removed",
        ),
        (Changes::LONG, "shortened to 240 bytes, the extension kept"),
        (
            Changes::NOTHING_LEFT,
            "nothing was left, so it is named `_`",
        ),
    ];

    pub fn add(&mut self, other: Changes) {
        self.0 |= other.0;
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The reasons, comma-separated.
    pub fn describe(self) -> String {
        Self::REASONS
            .iter()
            .filter(|(c, _)| self.0 & c.0 != 0)
            .map(|(_, why)| *why)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Outside bytes as text: valid UTF-8 as it is, each byte of an invalid sequence read as
/// Latin-1 (the legacy encoding of most old non-UTF-8 torrents, and a valid name whatever
/// the real one was). The info hash covers the raw bytes, so it does not change.
pub fn decode(b: &[u8], changes: &mut Changes) -> String {
    if let Ok(s) = std::str::from_utf8(b) {
        return s.to_owned();
    }
    changes.add(Changes::LATIN1);
    let mut out = String::with_capacity(b.len() + b.len() / 2);
    for chunk in b.utf8_chunks() {
        out.push_str(chunk.valid());
        out.extend(chunk.invalid().iter().map(|&byte| char::from(byte)));
    }
    out
}

/// Zero-width and direction-changing characters: they make one name look like another
/// (`evil\u{202e}gpj.exe` shows as `evilexe.jpg`). libtorrent drops the same set.
fn invisible(c: char) -> bool {
    matches!(c,
        '\u{061c}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}'
        | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
}

/// One path element made safe, or `None` when it must be dropped (`.`, `..`, or nothing but
/// separators). An empty element becomes `_`, as in libtorrent.
pub fn clean_element(raw: &str, changes: &mut Changes) -> Option<String> {
    if raw.is_empty() {
        changes.add(Changes::EMPTY);
        return Some("_".into());
    }
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        if c == '/' || c == '\\' {
            changes.add(Changes::SEPARATOR);
        } else if invisible(c) {
            changes.add(Changes::INVISIBLE);
        } else if c.is_control() {
            changes.add(Changes::CONTROL);
            out.push('_');
        } else {
            out.push(c);
        }
    }
    if out.is_empty() {
        return None;
    }
    if out == "." || out == ".." {
        changes.add(Changes::DOTS);
        return None;
    }
    if out.len() > MAX_ELEMENT {
        changes.add(Changes::LONG);
        out = shorten_element(&out);
    }
    Some(out)
}

/// `s` cut to [`MAX_ELEMENT`] bytes on a character boundary, its extension (a short tail
/// from the last dot) kept so the file still opens with the right program.
fn shorten_element(s: &str) -> String {
    let ext = s
        .rfind('.')
        .filter(|&i| i > 0 && s.len() - i <= MAX_EXTENSION)
        .map_or("", |i| &s[i..]);
    let mut head = MAX_ELEMENT - ext.len();
    while !s.is_char_boundary(head) {
        head -= 1;
    }
    format!("{}{ext}", &s[..head])
}

/// A whole path made safe: elements cleaned, dropped ones left out, never empty.
pub fn clean_path(raw: &[String], changes: &mut Changes) -> Vec<String> {
    let mut out: Vec<String> = raw
        .iter()
        .filter_map(|e| clean_element(e, changes))
        .collect();
    if out.is_empty() {
        changes.add(Changes::NOTHING_LEFT);
        out.push("_".into());
    }
    out
}

/// `name.ext` → (`name`, `.ext`); a leading dot is part of the name (`.hidden`).
pub fn split_extension(name: &str) -> (&str, &str) {
    match name.rfind('.') {
        Some(i) if i > 0 => (&name[..i], &name[i..]),
        _ => (name, ""),
    }
}

/// What was changed while loading one torrent, capped at [`MAX_NOTES`] shortened lines.
#[derive(Debug, Default)]
pub struct Notes {
    kept: Vec<String>,
    more: usize,
}

impl Notes {
    /// True once further notes are only counted: callers skip formatting them.
    pub fn full(&self) -> bool {
        self.kept.len() >= MAX_NOTES
    }

    pub fn push(&mut self, note: String) {
        if self.full() {
            self.more += 1;
        } else {
            let one_line = note.replace('\n', " ");
            self.kept.push(shorten_to(&one_line, MAX_NOTE).into_owned());
        }
    }

    /// Counts a note without formatting it when the list is full.
    pub fn push_with(&mut self, note: impl FnOnce() -> String) {
        if self.full() {
            self.more += 1;
        } else {
            self.push(note());
        }
    }

    pub fn finish(mut self) -> Vec<String> {
        if self.more > 0 {
            self.kept
                .push(format!("… and {} more change(s) like these", self.more));
        }
        self.kept
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clean(raw: &str) -> (Option<String>, Changes) {
        let mut c = Changes::NONE;
        (clean_element(raw, &mut c), c)
    }

    #[test]
    fn elements_are_made_plain_names() {
        assert_eq!(clean("a.txt"), (Some("a.txt".into()), Changes::NONE));
        assert_eq!(clean(""), (Some("_".into()), Changes::EMPTY));
        assert_eq!(clean("."), (None, Changes::DOTS));
        assert_eq!(clean(".."), (None, Changes::DOTS));
        assert_eq!(clean("/"), (None, Changes::SEPARATOR));
        assert_eq!(clean("\\"), (None, Changes::SEPARATOR));
        assert_eq!(
            clean("./."),
            (None, Changes(Changes::SEPARATOR.0 | Changes::DOTS.0))
        );
        assert_eq!(clean("/etc").0.as_deref(), Some("etc"));
        assert_eq!(clean("a/../../b").0.as_deref(), Some("a....b"));
        assert_eq!(clean("AC\\DC").0.as_deref(), Some("ACDC"));
        assert_eq!(clean("a\0b\n").0.as_deref(), Some("a_b_"));
        assert_eq!(clean("x\u{9c}y").0.as_deref(), Some("x_y"));
        assert_eq!(
            clean("evil\u{202e}gpj.exe").0.as_deref(),
            Some("evilgpj.exe")
        );
        // Legal on Linux, harmless: kept.
        assert_eq!(clean("C:").0.as_deref(), Some("C:"));
        assert_eq!(clean("..hidden").0.as_deref(), Some("..hidden"));
        assert_eq!(clean("foobar ").0.as_deref(), Some("foobar "));
    }

    #[test]
    fn long_elements_keep_their_extension_on_a_char_boundary() {
        let (name, c) = clean(&format!("{}.mkv", "a".repeat(300)));
        let name = name.unwrap();
        assert_eq!(c, Changes::LONG);
        assert_eq!(name.len(), MAX_ELEMENT);
        assert!(name.ends_with("aaa.mkv"), "{name}");
        let name = clean(&"é".repeat(200)).0.unwrap();
        assert_eq!(name, "é".repeat(120));
        // An odd boundary: 1 + 2k bytes.
        let name = clean(&format!("x{}", "é".repeat(200))).0.unwrap();
        assert_eq!(name.len(), 239);
        // A "extension" longer than 10 bytes is not one.
        let name = clean(&format!("{}.{}", "b".repeat(250), "c".repeat(20)))
            .0
            .unwrap();
        assert_eq!(name, "b".repeat(240));
    }

    #[test]
    fn latin1_bytes_become_their_characters() {
        let mut c = Changes::NONE;
        assert_eq!(decode(b"t\xe9mp", &mut c), "témp");
        assert_eq!(c, Changes::LATIN1);
        let mut c = Changes::NONE;
        assert_eq!(decode("ok é".as_bytes(), &mut c), "ok é");
        assert!(c.is_empty());
        let mut c = Changes::NONE;
        assert_eq!(decode(b"\xc3\xa9\xff", &mut c), "é\u{ff}");
    }

    #[test]
    fn paths_never_end_up_empty() {
        let mut c = Changes::NONE;
        let p = clean_path(&["..".into(), "/".into()], &mut c);
        assert_eq!(p, ["_"]);
        assert!(
            c.describe().contains("nothing was left"),
            "{}",
            c.describe()
        );
        let mut c = Changes::NONE;
        let p = clean_path(&["..".into(), "..".into(), "bar".into()], &mut c);
        assert_eq!(p, ["bar"]);
        assert_eq!(c.describe(), "a `.` or `..` element was dropped");
    }

    #[test]
    fn notes_are_capped_and_short() {
        let mut n = Notes::default();
        for i in 0..MAX_NOTES + 5 {
            n.push_with(|| format!("{i}\n{}", "x".repeat(10_000)));
        }
        let notes = n.finish();
        assert_eq!(notes.len(), MAX_NOTES + 1);
        assert!(notes.iter().all(|l| l.len() < 2000 && !l.contains('\n')));
        assert_eq!(notes[MAX_NOTES], "… and 5 more change(s) like these");
    }
}
