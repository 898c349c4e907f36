//! Tab completion of a path typed into a text field, as a shell does it: the longest prefix
//! every matching entry shares, a `/` after a lone folder, and the candidates when there is
//! more than one. It reads one directory; it never changes anything.

use std::path::{Path, PathBuf};

/// At most this many entries of one directory are looked at (a huge folder must not freeze
/// the screen).
const MAX_ENTRIES: usize = 10_000;

/// What Tab did to a path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Completion {
    /// The text, completed as far as it is unambiguous.
    pub text: String,
    /// When more than one entry matches: their names (a folder's with a trailing `/`),
    /// sorted.
    pub candidates: Vec<String>,
}

/// Completes `input` (absolute, relative to `cwd`, or starting with `~/`) against the file
/// system. Hidden entries match only when the typed name starts with a dot. Nothing matches:
/// the text is returned as it is, with no candidates.
pub(crate) fn complete(input: &str, cwd: &Path, home: Option<&Path>) -> Completion {
    let (dir_part, prefix) = match input.rfind('/') {
        Some(i) => (&input[..=i], &input[i + 1..]),
        None => ("", input),
    };
    let dir = resolve(dir_part, cwd, home);
    let mut names: Vec<String> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries
            .take(MAX_ENTRIES)
            .filter_map(Result::ok)
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                if !name.starts_with(prefix) || (name.starts_with('.') && !prefix.starts_with('.'))
                {
                    return None;
                }
                // A link to a folder completes as a folder.
                let folder = std::fs::metadata(e.path()).is_ok_and(|m| m.is_dir());
                Some(if folder { format!("{name}/") } else { name })
            })
            .collect(),
        Err(_) => Vec::new(),
    };
    names.sort();
    let unchanged = || Completion {
        text: input.to_string(),
        candidates: Vec::new(),
    };
    match names.as_slice() {
        [] => unchanged(),
        [one] => Completion {
            text: format!("{dir_part}{one}"),
            candidates: Vec::new(),
        },
        many => {
            let common = common_prefix(many);
            Completion {
                text: format!("{dir_part}{common}"),
                candidates: names,
            }
        }
    }
}

/// The folder a typed directory part names.
fn resolve(dir_part: &str, cwd: &Path, home: Option<&Path>) -> PathBuf {
    if dir_part.is_empty() {
        return cwd.to_path_buf();
    }
    if let (Some(rest), Some(home)) = (dir_part.strip_prefix("~/"), home) {
        return home.join(rest);
    }
    cwd.join(dir_part)
}

/// The longest prefix of every name, cut at a character boundary.
fn common_prefix(names: &[String]) -> &str {
    let Some(first) = names.first() else {
        return "";
    };
    let mut end = first.len();
    for n in &names[1..] {
        end = first
            .char_indices()
            .zip(n.chars())
            .take_while(|((_, a), b)| a == b)
            .last()
            .map_or(0, |((i, a), _)| i + a.len_utf8())
            .min(end);
    }
    &first[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for f in [
            "ubuntu-24.04.torrent",
            "ubuntu-22.04.torrent",
            "debian.torrent",
        ] {
            std::fs::write(dir.path().join(f), b"x").unwrap();
        }
        std::fs::create_dir(dir.path().join("movies")).unwrap();
        std::fs::write(dir.path().join("movies/big.torrent"), b"x").unwrap();
        std::fs::write(dir.path().join(".hidden.torrent"), b"x").unwrap();
        dir
    }

    #[test]
    fn a_unique_match_completes_whole_and_a_folder_gets_a_slash() {
        let dir = tree();
        let base = dir.path().display().to_string();
        let c = complete(&format!("{base}/deb"), Path::new("/"), None);
        assert_eq!(c.text, format!("{base}/debian.torrent"));
        assert!(c.candidates.is_empty());
        let c = complete(&format!("{base}/mov"), Path::new("/"), None);
        assert_eq!(c.text, format!("{base}/movies/"));
        let c = complete(&format!("{base}/movies/"), Path::new("/"), None);
        assert_eq!(c.text, format!("{base}/movies/big.torrent"));
    }

    #[test]
    fn an_ambiguous_prefix_stops_at_the_common_part_and_lists_the_candidates() {
        let dir = tree();
        let c = complete("ub", dir.path(), None);
        assert_eq!(c.text, "ubuntu-2");
        assert_eq!(
            c.candidates,
            ["ubuntu-22.04.torrent", "ubuntu-24.04.torrent"]
        );
        let c = complete("", dir.path(), None);
        assert_eq!(
            c.candidates,
            [
                "debian.torrent",
                "movies/",
                "ubuntu-22.04.torrent",
                "ubuntu-24.04.torrent"
            ],
            "hidden entries only when asked for"
        );
        assert_eq!(complete(".h", dir.path(), None).text, ".hidden.torrent");
    }

    #[test]
    fn no_match_or_no_folder_leaves_the_text_alone() {
        let dir = tree();
        let c = complete("zzz", dir.path(), None);
        assert_eq!(
            c,
            Completion {
                text: "zzz".into(),
                candidates: vec![]
            }
        );
        let c = complete("nowhere/a", dir.path(), None);
        assert_eq!(c.text, "nowhere/a");
    }

    #[test]
    fn a_tilde_means_home() {
        let dir = tree();
        let c = complete("~/movies/b", Path::new("/"), Some(dir.path()));
        assert_eq!(c.text, "~/movies/big.torrent");
    }

    #[test]
    fn the_common_prefix_never_splits_a_character() {
        let names = vec!["caf\u{e9}-a".to_string(), "caf\u{e8}-b".to_string()];
        assert_eq!(common_prefix(&names), "caf");
    }
}
