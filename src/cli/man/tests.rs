use clap::{CommandFactory, FromArgMatches};

use super::*;

fn page_text() -> String {
    String::from_utf8(page().expect("render")).expect("utf-8")
}

/// The lines the converter itself writes as requests; any other line that starts with `.` or
/// `'` came from the markdown unescaped.
fn is_our_request(line: &str) -> bool {
    matches!(
        line,
        ".PP" | ".TP" | ".nf" | ".fi" | ".RE" | ".br" | ".RS 4" | ".IP \\(bu 2"
    ) || line.starts_with(".SH ")
        || line.starts_with(".SS ")
        || numbered_ip(line)
}

fn numbered_ip(line: &str) -> bool {
    line.strip_prefix(".IP ")
        .and_then(|r| r.strip_suffix(". 4"))
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// The `.SH`/`.SS` lines a source's headings become (a `# ` inside a code block is not one).
fn headings(source: &str) -> Vec<String> {
    let mut in_code = false;
    source
        .lines()
        .filter_map(|l| {
            if l.trim_start().starts_with("```") {
                in_code = !in_code;
                return None;
            }
            if in_code {
                None
            } else if let Some(t) = heading(l, "# ") {
                Some(format!(".SH {}", request_arg(t)))
            } else {
                heading(l, "## ").map(|t| format!(".SS {}", request_arg(t)))
            }
        })
        .collect()
}

#[test]
fn every_hand_written_section_is_in_the_page_in_order_after_the_generated_ones() {
    let page = page_text();
    let lines: Vec<&str> = page.lines().collect();
    let generated = lines
        .iter()
        .position(|l| l.starts_with(".SH") && l.contains("COMMANDS"))
        .expect("clap_mangen's commands section");
    let mut after = generated;
    for (name, source) in SECTIONS {
        let wanted = headings(source);
        assert!(
            wanted.first().is_some_and(|h| h.starts_with(".SH ")),
            "{name} must start with a `# TITLE` line"
        );
        for h in wanted {
            let at = lines[after + 1..]
                .iter()
                .position(|l| *l == h)
                .unwrap_or_else(|| panic!("{name}: `{h}` missing or out of order"));
            after += 1 + at;
        }
        // A paragraph of the section's text is there too, not only its headings.
        let body = source
            .lines()
            .find(|l| {
                l.len() > 40
                    && l.starts_with(|c: char| c.is_ascii_alphabetic())
                    && !l.contains(['`', '*'])
            })
            .unwrap_or_else(|| panic!("{name} has no paragraph"));
        assert!(page.contains(&inline(body)), "{name}: `{body}` missing");
    }
    let version = lines
        .iter()
        .position(|l| l.starts_with(".SH VERSION"))
        .expect("version section");
    assert!(version > after, "the version comes last");
}

#[test]
fn every_file_in_assets_man_is_listed_once_with_its_own_text() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/man");
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .expect("assets/man")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".md"))
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = SECTIONS.iter().map(|(n, _)| n.to_string()).collect();
    listed.sort();
    assert_eq!(on_disk, listed, "SECTIONS must list every assets/man/*.md");
    for (name, source) in SECTIONS {
        let file = std::fs::read_to_string(dir.join(name)).expect("read");
        assert_eq!(&file, source, "{name}: SECTIONS names another file's text");
    }
}

#[test]
fn no_markdown_text_line_becomes_a_request() {
    for (name, source) in SECTIONS {
        for line in to_roff(source).lines() {
            if line.starts_with('.') || line.starts_with('\'') {
                assert!(is_our_request(line), "{name}: unescaped `{line}`");
            }
        }
    }
    // The whole page, clap_mangen's part included: every request is one of man(7)'s.
    for line in page_text().lines() {
        assert!(!line.starts_with('\''), "`{line}`");
        if let Some(rest) = line.strip_prefix('.') {
            let name = rest.split_whitespace().next().unwrap_or("");
            assert!(
                [
                    "TH", "SH", "SS", "PP", "IP", "TP", "nf", "fi", "RS", "RE", "br", "B", "I",
                    "ie", "el", "nh"
                ]
                .contains(&name),
                "`{line}`"
            );
        }
    }
}

#[test]
fn hostile_lines_are_escaped_wherever_they_stand() {
    let md = "# T\n\n.SH evil\n'quote\n\n- .B item\n1. 'num\n\n```\n.TH code\n'code\n```\n\n\
              | a | b | c |\n|---|---|---|\n| .tag | 'body | .third |\n\n### .sub\n";
    let roff = to_roff(md);
    for line in roff.lines() {
        if line.starts_with('.') || line.starts_with('\'') {
            assert!(is_our_request(line), "unescaped `{line}` in\n{roff}");
        }
    }
    for text in [
        "\\&.SH evil",
        "\\&'quote",
        "\\&.B item",
        "\\&'num",
        "\\&.TH code",
        "\\&'code",
        "\\&.tag",
        "\\&'body",
    ] {
        assert!(
            roff.lines().any(|l| l == text),
            "`{text}` missing in\n{roff}"
        );
    }
    assert!(roff.contains("\\fIc\\fR: .third"), "{roff}");
}

#[test]
fn text_is_escaped_for_roff() {
    assert_eq!(escape("a\\b"), "a\\eb");
    assert_eq!(escape("--no-dht"), "\\-\\-no\\-dht");
    assert_eq!(
        escape("↓ 1 MiB/s — é"),
        "\\[u2193] 1 MiB/s \\[u2014] \\[u00E9]"
    );
    assert_eq!(
        inline("run `ttui -h` **now**"),
        "run \\fBttui \\-h\\fR \\fBnow\\fR"
    );
    // An unclosed marker is text.
    assert_eq!(inline("a `b"), "a `b");
    assert_eq!(request_arg("A \"B\""), "A 'B'");
}

#[test]
fn blocks_become_man_macros() {
    let md = "# NAME\n\nOne\ntwo.\n\n## Sub\n\n- item\n  more\n- next\n\n2. second\n\n\
              ```sh\nttui -o x\n  indented\n```\n\n| key | action |\n|---|---|\n| `q` | quit |\n\
              | `a|b` | both \\| either |\n";
    let roff = to_roff(md);
    let expected =
        ".SH NAME\n.PP\nOne\ntwo.\n.SS Sub\n.IP \\(bu 2\nitem\nmore\n.IP \\(bu 2\nnext\n\
                    .IP 2. 4\nsecond\n.PP\n.RS 4\n.nf\nttui \\-o x\n  indented\n.fi\n.RE\n\
                    .TP\n\\fBq\\fR\nquit\n.TP\n\\fBa|b\\fR\nboth | either\n";
    assert_eq!(roff, expected);
}

#[test]
fn a_span_may_run_over_a_line_end() {
    let roff =
        to_roff("The line says `limited: down\n1 MiB/s` and **so\n.it** goes.\n#3 is text.\n");
    assert_eq!(
        roff,
        ".PP\nThe line says \\fBlimited: down\n1 MiB/s\\fR and \\fBso\n\\&.it\\fR goes.\n#3 is text.\n"
    );
}

#[test]
fn the_configuration_section_names_every_config_key() {
    let matches = crate::cli::Cli::command()
        .try_get_matches_from(["ttui"])
        .expect("parse");
    let mut args = crate::cli::DownloadArgs::from_arg_matches(&matches).expect("args");
    let keys =
        crate::cli::config_apply::apply(&crate::config::Config::default(), &mut args, &matches);
    assert!(keys.len() > 20, "{keys:?}");
    let config = SECTIONS
        .iter()
        .find(|(n, _)| *n == "config.md")
        .map(|(_, s)| *s)
        .expect("config.md");
    // Each key's row shows it as a line of the file, and that line is a valid config.
    let rows: Vec<&str> = config
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split_once("` |").map(|(tag, _)| tag))
        .filter(|tag| tag.contains(" = "))
        .collect();
    for (key, _) in keys {
        let row = rows
            .iter()
            .find(|r| r.starts_with(&format!("{key} = ")))
            .unwrap_or_else(|| panic!("config.md has no row `{key} = ...`"));
        let path = std::path::Path::new("config.md");
        crate::config::parse(row, path).unwrap_or_else(|e| panic!("`{row}`: {e}"));
    }
    // So is the example.
    let example = config
        .split("```\n")
        .nth(1)
        .expect("config.md has an example block");
    crate::config::parse(example, std::path::Path::new("config.md")).expect("the example parses");
}

/// The page carries the facts table made from the one list every face reads: each fact's
/// key in ttui, the RPC and qBittorrent, and no marker left over.
#[test]
fn the_page_lists_every_fact_in_every_face() {
    let page = String::from_utf8(page().unwrap()).unwrap();
    assert!(!page.contains("{{"), "a marker was left in the page");
    for f in crate::engine::api::facts::FACTS {
        assert!(page.contains(f.key), "{} missing", f.key);
        for face in [f.rpc, f.qbt].into_iter().flatten() {
            assert!(page.contains(face.key), "{} missing", face.key);
        }
    }
}
