//! `ttui info <TORRENT>`: read a .torrent and print what it holds.

use std::io::{self, Write};

use humansize::{format_size, BINARY};

use crate::protocol::hex;
use crate::protocol::metainfo::layers::NeedsLayers;
use crate::protocol::metainfo::Metainfo;
use crate::protocol::text::shorten_to;

/// Characters of a name, URL or path from the torrent printed on one line: real ones fit
/// whole, a hostile 10 MB name does not flood the terminal.
const MAX_FIELD: usize = 400;

/// Prints the summary shown by `ttui info`.
pub fn print_info(m: &Metainfo, out: &mut impl Write) -> io::Result<()> {
    print_summary(m, m.info.num_pieces(), None, out)
}

/// The summary of a v2-only torrent some of whose piece layers are missing or wrong: as for
/// any torrent (its pieces counted from its size, as they cannot be checked yet), and which
/// files' layers a download fetches from peers.
pub fn print_needs_layers(n: &NeedsLayers, out: &mut impl Write) -> io::Result<()> {
    let m = n.summary();
    print_summary(m, m.info.geometry().num_pieces(), Some(n), out)
}

fn print_summary(
    m: &Metainfo,
    pieces: u32,
    needs: Option<&NeedsLayers>,
    out: &mut impl Write,
) -> io::Result<()> {
    let info = &m.info;
    writeln!(out, "Name: {}", printable(&info.name))?;
    writeln!(
        out,
        "Total size: {} ({} bytes)",
        format_size(info.total_length, BINARY),
        info.total_length
    )?;
    writeln!(
        out,
        "Piece length: {}",
        format_size(info.piece_length, BINARY)
    )?;
    writeln!(out, "Pieces: {pieces}")?;
    // The hash peers and trackers know it by (a v2-only torrent's is its v2 hash cut to 20
    // bytes), then the whole v2 hash of a v2 or hybrid torrent.
    writeln!(out, "Info hash: {}", m.info_hash_hex())?;
    if let Some(v2) = m.info_hash_v2 {
        writeln!(out, "Info hash v2: {}", hex::encode(&v2))?;
    }
    writeln!(out, "Private: {}", if info.private { "yes" } else { "no" })?;
    if let Some(source) = &info.source {
        writeln!(out, "Source: {}", printable(source))?;
    }
    writeln!(out, "Trackers:")?;
    if m.trackers.is_empty() {
        writeln!(out, "  (none)")?;
    }
    for (tier, urls) in m.trackers.iter().enumerate() {
        for url in urls {
            writeln!(out, "  tier {}: {}", tier + 1, printable(url))?;
        }
    }
    if let Some(n) = needs {
        writeln!(
            out,
            "Piece layers missing: {} file(s); they will be fetched from peers:",
            n.lacking().len()
        )?;
        for l in n.lacking() {
            writeln!(out, "  {}", printable(&l.why))?;
        }
    }
    if !m.notes.is_empty() {
        writeln!(out, "Changed to load it safely:")?;
        for note in &m.notes {
            writeln!(out, "  {}", printable(note))?;
        }
    }
    writeln!(out, "Files:")?;
    let sizes: Vec<String> = info
        .files
        .iter()
        .map(|f| format_size(f.length, BINARY))
        .collect();
    let width = sizes.iter().map(String::len).max().unwrap_or(0);
    for (file, size) in info.files.iter().zip(&sizes) {
        let kind = match &file.symlink {
            _ if file.padding => "  (padding)".to_owned(),
            Some(t) if t.is_empty() => "  (link, not created)".to_owned(),
            Some(t) => format!(" -> {}", printable(t)),
            None => String::new(),
        };
        writeln!(
            out,
            "  {size:>width$}  {}{kind}",
            printable(&file.path.join("/"))
        )?;
    }
    Ok(())
}

/// Names and URLs come from the file: shorten them, and escape control characters so a
/// crafted torrent cannot move the cursor, recolour or clear the user's terminal.
fn printable(s: &str) -> String {
    let s = shorten_to(s, MAX_FIELD);
    if !s.chars().any(char::is_control) {
        return s.into_owned();
    }
    s.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::metainfo::{encode_torrent, hash_pieces};

    fn render(m: &Metainfo) -> String {
        let mut out = Vec::new();
        print_info(m, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn multi_file_summary() {
        let piece = 16 * 1024u32;
        let data = vec![7u8; 40_000];
        let files = vec![
            (vec!["a".to_string(), "big.bin".to_string()], 39_990u64),
            (vec!["tiny.txt".to_string()], 10),
            (vec!["empty".to_string()], 0),
        ];
        let trackers = vec![
            vec!["http://127.0.0.1:6969/announce".to_string()],
            vec![
                "udp://127.0.0.1:6969".to_string(),
                "http://127.0.0.2/a".to_string(),
            ],
        ];
        let bytes = encode_torrent(
            "pack",
            &files,
            piece,
            &hash_pieces(&data, piece),
            &trackers,
            true,
            Some("TTUI"),
        );
        let m = Metainfo::from_bytes(&bytes).unwrap();
        let expected = format!(
            "Name: pack\n\
             Total size: 39.06 KiB (40000 bytes)\n\
             Piece length: 16 KiB\n\
             Pieces: 3\n\
             Info hash: {}\n\
             Private: yes\n\
             Source: TTUI\n\
             Trackers:\n\
             \x20 tier 1: http://127.0.0.1:6969/announce\n\
             \x20 tier 2: udp://127.0.0.1:6969\n\
             \x20 tier 2: http://127.0.0.2/a\n\
             Files:\n\
             \x20 39.05 KiB  pack/a/big.bin\n\
             \x20      10 B  pack/tiny.txt\n\
             \x20       0 B  pack/empty\n",
            m.info_hash_hex()
        );
        assert_eq!(render(&m), expected);
    }

    #[test]
    fn single_file_without_trackers() {
        let data = vec![1u8; 5];
        let bytes = encode_torrent(
            "one.iso",
            &[(vec![], 5)],
            32 * 1024,
            &hash_pieces(&data, 32 * 1024),
            &[],
            false,
            None,
        );
        let m = Metainfo::from_bytes(&bytes).unwrap();
        let text = render(&m);
        assert!(
            text.contains("Private: no\nTrackers:\n  (none)\nFiles:\n  5 B  one.iso\n"),
            "{text}"
        );
        assert!(!text.contains("Source:"));
        assert!(text.contains("Total size: 5 B (5 bytes)\n"));
    }

    #[test]
    fn notes_links_and_huge_names_stay_short() {
        // A link entry claiming 425 bytes beside a 425-byte file, a 10 MB name, a newline after
        // the dictionary.
        let name = "n".repeat(10 << 20);
        let mut t = format!(
            "d4:infod5:filesld6:lengthi425e4:pathl3:bareed4:attr1:l6:lengthi425e4:pathl3:fooe\
             12:symlink pathl3:bareee4:name{}:{name}12:piece lengthi16384e6:pieces20:",
            name.len()
        )
        .into_bytes();
        t.extend_from_slice(&hash_pieces(&[0u8; 425], 16384)[0]);
        t.extend_from_slice(b"ee\n");
        let m = Metainfo::from_bytes(&t).unwrap();
        let text = render(&m);
        assert!(text.len() < 8_000, "{} bytes", text.len());
        assert!(text.lines().all(|l| l.len() <= 4096));
        assert!(text.contains("Total size: 425 B (425 bytes)\n"), "{text}");
        assert!(
            text.contains("Changed to load it safely:\n  1 byte(s) after"),
            "{text}"
        );
        assert!(text.contains("shortened to 240 bytes"), "{text}");
        assert!(text.contains("/foo -> bar\n"), "{text}");
        assert!(text.contains("425 B  nnn"), "{text}");
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(printable("a\u{1b}[2Jb\n"), "a\\u{1b}[2Jb\\n");
        assert_eq!(printable("plain é"), "plain é");
    }
}
