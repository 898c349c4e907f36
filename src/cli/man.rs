//! `ttui man`: the man page. clap_mangen writes the sections it can generate from the flags
//! (name, synopsis, description, options, commands); the reference that no flag carries (the
//! session, the screen, scripting, the state directory...) is written by hand in
//! `assets/man/*.md`, compiled in, and turned into roff sections that follow the generated
//! ones. Adding a section is one line in [`SECTIONS`].
//!
//! The converter is ours, not a markdown crate's: the sources use a small subset (headings,
//! paragraphs, lists, code blocks, simple tables, `code` and **bold**), and what a man page
//! needs is roff's escaping (a text line that starts with `.` or `'` would be read as a
//! request, `-` should stay a minus so flags can be copied, `\` is roff's escape), which no
//! markdown crate does. Anything outside the subset comes out as plain text, escaped.

use std::io::{self, Write};

use clap::CommandFactory;

use crate::cli::Cli;

/// The hand-written sections, in the order the page shows them. Each file starts with a
/// `# TITLE` line (the section's name); `##` starts a subsection.
pub(crate) const SECTIONS: &[(&str, &str)] = &[
    ("usage.md", include_str!("../../assets/man/usage.md")),
    ("network.md", include_str!("../../assets/man/network.md")),
    ("torrents.md", include_str!("../../assets/man/torrents.md")),
    ("session.md", include_str!("../../assets/man/session.md")),
    ("queue.md", include_str!("../../assets/man/queue.md")),
    (
        "accounting.md",
        include_str!("../../assets/man/accounting.md"),
    ),
    (
        "cross_seed.md",
        include_str!("../../assets/man/cross_seed.md"),
    ),
    ("files.md", include_str!("../../assets/man/files.md")),
    ("stream.md", include_str!("../../assets/man/stream.md")),
    ("config.md", include_str!("../../assets/man/config.md")),
    (
        "scripting.md",
        include_str!("../../assets/man/scripting.md"),
    ),
    ("remote.md", include_str!("../../assets/man/remote.md")),
    ("rpc.md", include_str!("../../assets/man/rpc.md")),
    ("qbt.md", include_str!("../../assets/man/qbt.md")),
    ("screen.md", include_str!("../../assets/man/screen.md")),
    (
        "explainer.md",
        include_str!("../../assets/man/explainer.md"),
    ),
    ("state.md", include_str!("../../assets/man/state.md")),
    (
        "environment.md",
        include_str!("../../assets/man/environment.md"),
    ),
];

/// The whole page in roff: clap_mangen's sections, then ours, then the version.
pub(crate) fn page() -> io::Result<Vec<u8>> {
    let cmd = Cli::command();
    let has_extra = cmd.get_after_help().is_some() || cmd.get_after_long_help().is_some();
    let man = clap_mangen::Man::new(cmd);
    let mut buf = Vec::new();
    man.render_title(&mut buf)?;
    // No hyphenation: a flag broken at the line's end (`--head-` / `less`) cannot be copied.
    buf.write_all(b".nh\n")?;
    man.render_name_section(&mut buf)?;
    man.render_synopsis_section(&mut buf)?;
    man.render_description_section(&mut buf)?;
    man.render_options_section(&mut buf)?;
    man.render_subcommands_section(&mut buf)?;
    if has_extra {
        man.render_extra_section(&mut buf)?;
    }
    for (_, source) in SECTIONS {
        buf.write_all(to_roff(&expand(source)).as_bytes())?;
    }
    man.render_version_section(&mut buf)?;
    Ok(buf)
}

/// A section's text with its generated parts filled in: a `{{facts}}` line becomes the
/// table of the facts every face carries (`api::facts::FACTS`), so the page names each
/// one's key in every face without a second list to keep.
pub(crate) fn expand(source: &str) -> std::borrow::Cow<'_, str> {
    if source.contains("\n{{facts}}\n") {
        let table = crate::engine::api::facts::man_table();
        source.replace("{{facts}}\n", &table).into()
    } else {
        source.into()
    }
}

/// What the converter is in the middle of.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Block {
    /// Between blocks: the next text line starts a paragraph.
    None,
    /// A paragraph or a list item: text lines follow on.
    Text,
    /// A fenced code block: lines are kept as they are.
    Code,
    /// A table: `|` rows; the header is kept for the columns past the second.
    Table,
}

/// Turns one markdown source into roff.
pub(crate) fn to_roff(md: &str) -> String {
    let mut out = String::new();
    let mut block = Block::None;
    let mut header: Vec<String> = Vec::new();
    let mut row_no = 0usize;
    // The lines of the paragraph or list item being read: formatted together, so a `code`
    // or **bold** span may run over a line's end.
    let mut text: Vec<&str> = Vec::new();
    for raw in md.lines() {
        let line = raw.trim_end();
        let trimmed = line.trim_start();
        if block == Block::Code {
            if trimmed.starts_with("```") {
                out.push_str(".fi\n.RE\n");
                block = Block::None;
            } else {
                push_line(&mut out, &escape(line));
            }
            continue;
        }
        let continues = block == Block::Text
            && !trimmed.is_empty()
            && !trimmed.starts_with("```")
            && !is_heading(trimmed)
            && !trimmed.starts_with('|')
            && (line.starts_with(' ') || !starts_item(trimmed));
        if continues {
            text.push(trimmed);
            continue;
        }
        flush(&mut out, &mut text);
        if trimmed.starts_with("```") {
            out.push_str(".PP\n.RS 4\n.nf\n");
            block = Block::Code;
            continue;
        }
        if trimmed.is_empty() {
            block = Block::None;
            continue;
        }
        if let Some(title) = heading(trimmed, "# ") {
            out.push_str(&format!(".SH {}\n", request_arg(title)));
            block = Block::None;
            continue;
        }
        if let Some(title) = heading(trimmed, "## ") {
            out.push_str(&format!(".SS {}\n", request_arg(title)));
            block = Block::None;
            continue;
        }
        if let Some(title) = heading(trimmed, "### ") {
            out.push_str(".PP\n");
            push_line(&mut out, &format!("\\fB{}\\fR", inline(title)));
            block = Block::None;
            continue;
        }
        if trimmed.starts_with('|') {
            let cells = cells(trimmed);
            if block != Block::Table {
                block = Block::Table;
                header = cells;
                row_no = 0;
                continue;
            }
            row_no += 1;
            if row_no == 1 && cells.iter().all(|c| is_rule(c)) {
                continue;
            }
            table_row(&mut out, &header, &cells);
            continue;
        }
        block = Block::Text;
        // A list item starts at the line's start; an indented line continues what is open.
        if !line.starts_with(' ') {
            if let Some(item) = trimmed.strip_prefix("- ").or(trimmed.strip_prefix("* ")) {
                out.push_str(".IP \\(bu 2\n");
                text.push(item);
                continue;
            }
            if let Some((number, item)) = numbered(trimmed) {
                out.push_str(&format!(".IP {number}. 4\n"));
                text.push(item);
                continue;
            }
        }
        out.push_str(".PP\n");
        text.push(trimmed);
    }
    flush(&mut out, &mut text);
    if block == Block::Code {
        out.push_str(".fi\n.RE\n");
    }
    out
}

fn is_heading(line: &str) -> bool {
    ["# ", "## ", "### "]
        .iter()
        .any(|m| heading(line, m).is_some())
}

fn starts_item(line: &str) -> bool {
    line.starts_with("- ") || line.starts_with("* ") || numbered(line).is_some()
}

/// Writes the text block read so far, formatted as one, a guarded line per source line.
fn flush(out: &mut String, text: &mut Vec<&str>) {
    if text.is_empty() {
        return;
    }
    for line in inline(&text.join("\n")).lines() {
        push_line(out, line);
    }
    text.clear();
}

fn heading<'a>(line: &'a str, marker: &str) -> Option<&'a str> {
    line.strip_prefix(marker)
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// `12. text` → (12, "text").
fn numbered(line: &str) -> Option<(u32, &str)> {
    let (digits, rest) = line.split_once(". ")?;
    if digits.is_empty() || digits.len() > 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((digits.parse().ok()?, rest))
}

/// A table row's cells, split at `|` outside `code` spans (`\|` is a literal bar).
fn cells(row: &str) -> Vec<String> {
    let inner = row.trim().trim_start_matches('|');
    let inner = inner.strip_suffix('|').unwrap_or(inner);
    let mut cells = Vec::new();
    let mut cell = String::new();
    let mut in_code = false;
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                cell.push('|');
                chars.next();
            }
            '`' => {
                in_code = !in_code;
                cell.push(c);
            }
            '|' if !in_code => cells.push(std::mem::take(&mut cell).trim().to_string()),
            _ => cell.push(c),
        }
    }
    cells.push(cell.trim().to_string());
    cells
}

fn is_rule(cell: &str) -> bool {
    !cell.is_empty() && cell.chars().all(|c| matches!(c, '-' | ':' | ' '))
}

/// A table row becomes a tagged paragraph: the first cell is the tag, the second the text,
/// and each further cell a line of its own, named by its column's header.
fn table_row(out: &mut String, header: &[String], cells: &[String]) {
    let mut cells = cells.iter();
    out.push_str(".TP\n");
    let tag = cells.next().map_or("", String::as_str);
    push_line(out, &inline(if tag.is_empty() { "-" } else { tag }));
    let mut first = true;
    for (i, cell) in cells.enumerate() {
        if cell.is_empty() {
            continue;
        }
        let text = inline(cell);
        if first {
            push_line(out, &text);
            first = false;
            continue;
        }
        out.push_str(".br\n");
        match header.get(i + 1).filter(|h| !h.is_empty()) {
            Some(name) => push_line(out, &format!("\\fI{}\\fR: {text}", inline(name))),
            None => push_line(out, &text),
        }
    }
}

/// One text line: never starts a request, whatever the source said.
fn push_line(out: &mut String, text: &str) {
    if text.starts_with('.') || text.starts_with('\'') {
        out.push_str("\\&");
    }
    out.push_str(text);
    out.push('\n');
}

/// The argument of `.SH`/`.SS`: inline text, with `"` kept out of roff's argument quoting.
fn request_arg(title: &str) -> String {
    inline(&title.replace('"', "'"))
}

/// `code` and **bold** become bold; everything else is escaped text.
fn inline(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    loop {
        let next = [rest.find('`'), rest.find("**")]
            .into_iter()
            .flatten()
            .min();
        let Some(at) = next else {
            out.push_str(&escape(rest));
            return out;
        };
        let marker = if rest[at..].starts_with('`') {
            "`"
        } else {
            "**"
        };
        let after = &rest[at + marker.len()..];
        let Some(end) = after.find(marker) else {
            out.push_str(&escape(rest));
            return out;
        };
        out.push_str(&escape(&rest[..at]));
        let inner = &after[..end];
        if marker == "`" {
            out.push_str(&format!("\\fB{}\\fR", escape(inner)));
        } else {
            out.push_str(&format!("\\fB{}\\fR", inline(inner)));
        }
        rest = &after[end + marker.len()..];
    }
}

/// Roff's escapes: `\` is its escape character, `-` stays a minus (flags copy as typed), and
/// any character past ASCII is named by its code point (`\[u2192]`), which groff and mandoc
/// read in any locale.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\e"),
            '-' => out.push_str("\\-"),
            c if c.is_ascii() => out.push(c),
            c => out.push_str(&format!("\\[u{:04X}]", u32::from(c))),
        }
    }
    out
}

#[cfg(test)]
mod tests;
