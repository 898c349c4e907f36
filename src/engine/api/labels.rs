//! Labels: the names a user (or Sonarr, which files each download under its category) puts
//! on torrents to group them — Transmission's `labels`, qBittorrent's categories and tags.
//! A torrent has a short list of them, in the order given, each at most once.
//!
//! A label is trimmed, non-empty, at most [`MAX_LABEL_LEN`] bytes, and holds no comma (the
//! Transmission RPC and `ttui add --label a,b` use the comma as a separator) and no control
//! character (it is drawn on a terminal). Those rules are checked here, once, for every face.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use super::Set;

/// Most labels one torrent carries: more is a client's mistake, not a way to group.
pub const MAX_LABELS: usize = 16;
/// Longest label, in bytes.
pub const MAX_LABEL_LEN: usize = 64;

/// Why a label was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LabelError {
    #[error("an empty label")]
    Empty,
    #[error("label `{0}…` is longer than {MAX_LABEL_LEN} bytes")]
    TooLong(String),
    #[error("label `{0}` has a comma or a control character")]
    BadChar(String),
    #[error("more than {MAX_LABELS} labels on one torrent")]
    TooMany,
}

/// The label as kept: trimmed and checked.
pub fn check_label(raw: &str) -> Result<String, LabelError> {
    let s = raw.trim();
    if s.is_empty() {
        return Err(LabelError::Empty);
    }
    if s.len() > MAX_LABEL_LEN {
        let mut end = 24;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        return Err(LabelError::TooLong(s[..end].to_string()));
    }
    if s.chars().any(|c| c == ',' || c.is_control()) {
        return Err(LabelError::BadChar(s.escape_debug().to_string()));
    }
    Ok(s.to_string())
}

/// A list as kept: each checked, the first of each name kept, at most [`MAX_LABELS`].
pub fn check_labels<S: AsRef<str>>(raw: &[S]) -> Result<Vec<String>, LabelError> {
    let mut out: Vec<String> = Vec::new();
    for r in raw {
        let l = check_label(r.as_ref())?;
        if !out.contains(&l) {
            out.push(l);
        }
    }
    if out.len() > MAX_LABELS {
        return Err(LabelError::TooMany);
    }
    Ok(out)
}

/// A change to a torrent's labels.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum LabelEdit {
    /// These and no others (the RPC's `torrent-set labels`).
    Set(Vec<String>),
    /// Add some and take some away (`ttui label ID +tv -old`); the others stay.
    Change {
        add: Vec<String>,
        remove: Vec<String>,
    },
}

impl LabelEdit {
    /// `labels` after the edit, checked.
    pub fn apply(&self, labels: &[String]) -> Result<Vec<String>, LabelError> {
        match self {
            LabelEdit::Set(new) => check_labels(new),
            LabelEdit::Change { add, remove } => {
                let remove = remove
                    .iter()
                    .map(|r| check_label(r))
                    .collect::<Result<Vec<_>, _>>()?;
                let kept = labels.iter().filter(|l| !remove.contains(l));
                let all: Vec<&str> = kept
                    .map(String::as_str)
                    .chain(add.iter().map(String::as_str))
                    .collect();
                check_labels(&all)
            }
        }
    }
}

/// What a label brings to a torrent added with it (`[labels.tv]` in the config): where it
/// is saved when the add names no directory, and its seeding goals.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LabelDefaults {
    pub save_path: Option<PathBuf>,
    pub seed_ratio: Option<Set<f64>>,
    pub seed_time: Option<Set<Duration>>,
    pub seed_idle: Option<Set<Duration>>,
}

/// Every label that has defaults, by name.
pub type LabelTable = BTreeMap<String, LabelDefaults>;

/// What a torrent added with `labels` takes from the table: for each setting, the first of
/// its labels (in its order) that sets it.
pub fn defaults_for(table: &LabelTable, labels: &[String]) -> LabelDefaults {
    let mut out = LabelDefaults::default();
    for d in labels.iter().filter_map(|l| table.get(l)) {
        if out.save_path.is_none() {
            out.save_path.clone_from(&d.save_path);
        }
        out.seed_ratio = out.seed_ratio.or(d.seed_ratio);
        out.seed_time = out.seed_time.or(d.seed_time);
        out.seed_idle = out.seed_idle.or(d.seed_idle);
    }
    out
}

/// A qBittorrent category: a label with a directory (None: the session's download
/// directory). Torrents added with it are saved there; one already added keeps its place.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Category {
    pub name: String,
    pub save_path: Option<PathBuf>,
    /// From `[labels.NAME] save_path` in the config: changed there, not at runtime.
    pub from_config: bool,
}

/// The session's categories and tags, one model for every face: a torrent's category is
/// the first of its labels that is a category, its tags are its other labels.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Catalog {
    /// By name.
    pub categories: Vec<Category>,
    /// Tags created and every label on a torrent that is no category, by name.
    pub tags: Vec<String>,
}

impl Catalog {
    pub fn is_category(&self, label: &str) -> bool {
        self.categories.iter().any(|c| c.name == label)
    }

    /// The torrent's category (the first of its labels that is one) and its tags.
    pub fn split<'a>(&self, labels: &'a [String]) -> (Option<&'a str>, Vec<&'a str>) {
        let category = labels.iter().find(|l| self.is_category(l));
        let tags = labels
            .iter()
            .filter(|l| Some(*l) != category)
            .map(String::as_str)
            .collect();
        (category.map(String::as_str), tags)
    }

    /// The labels with `category` in place of the torrent's category (None: without one);
    /// the category comes first, the tags keep their order.
    pub fn with_category(&self, labels: &[String], category: Option<&str>) -> Vec<String> {
        let (_, tags) = self.split(labels);
        category
            .into_iter()
            .chain(tags)
            .map(str::to_string)
            .collect()
    }
}

/// A change to the session's categories or tags (qBittorrent's `createCategory` ...).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum CatalogEdit {
    CreateCategory {
        name: String,
        save_path: Option<PathBuf>,
    },
    EditCategory {
        name: String,
        save_path: Option<PathBuf>,
    },
    /// Removed, and taken off every torrent that has it.
    RemoveCategories(Vec<String>),
    CreateTags(Vec<String>),
    /// Removed, and taken off every torrent that has them.
    DeleteTags(Vec<String>),
}

/// Why a change to the catalog was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    #[error(transparent)]
    Label(#[from] LabelError),
    #[error("category `{0}` exists already")]
    Exists(String),
    #[error("no category `{0}`")]
    Missing(String),
    #[error("category `{0}` is set in the config file ([labels.{0}] save_path)")]
    FromConfig(String),
    #[error("`{0}` is a category, not a tag")]
    NotATag(String),
    #[error("cannot keep the categories in the state directory: {0}")]
    NotKept(String),
    #[error("a category's save path may not go up with `..`: {0}")]
    PathGoesUp(String),
}

/// A category's save path as kept: a relative one under the default save path (where
/// qBittorrent resolves it too, not under the daemon's working directory), and none that
/// climbs with `..` (a category names where its data goes; `../../etc` is never that).
pub fn category_path(
    path: Option<PathBuf>,
    default: &std::path::Path,
) -> Result<Option<PathBuf>, CatalogError> {
    let Some(path) = path else {
        return Ok(None);
    };
    if path
        .components()
        .any(|c| c == std::path::Component::ParentDir)
    {
        return Err(CatalogError::PathGoesUp(path.display().to_string()));
    }
    Ok(Some(if path.is_absolute() {
        path
    } else {
        default.join(path)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_category_path_is_under_the_default_when_relative_and_never_climbs() {
        let d = std::path::Path::new("/srv/downloads");
        let p = |s: &str| Some(PathBuf::from(s));
        assert_eq!(category_path(None, d), Ok(None));
        assert_eq!(category_path(p("tv"), d), Ok(p("/srv/downloads/tv")));
        assert_eq!(category_path(p("tv/hd"), d), Ok(p("/srv/downloads/tv/hd")));
        assert_eq!(category_path(p("/media/tv"), d), Ok(p("/media/tv")));
        for up in ["../../etc", "tv/../../x", "/media/../etc"] {
            assert_eq!(
                category_path(p(up), d),
                Err(CatalogError::PathGoesUp(up.into())),
                "{up}"
            );
        }
    }

    #[test]
    fn a_label_is_trimmed_and_checked() {
        assert_eq!(check_label("  tv "), Ok("tv".into()));
        assert_eq!(check_label(" "), Err(LabelError::Empty));
        assert!(matches!(check_label("a,b"), Err(LabelError::BadChar(_))));
        assert!(matches!(
            check_label("a\x1b[2J"),
            Err(LabelError::BadChar(_))
        ));
        let long = "é".repeat(40);
        let Err(LabelError::TooLong(head)) = check_label(&long) else {
            panic!("80 bytes accepted");
        };
        assert!(head.len() <= 24);
        assert_eq!(check_label(&"x".repeat(64)).map(|s| s.len()), Ok(64));
    }

    #[test]
    fn a_list_keeps_the_first_of_each_and_has_a_bound() {
        assert_eq!(
            check_labels(&["tv", "hd", " tv"]),
            Ok(vec!["tv".to_string(), "hd".to_string()])
        );
        let many: Vec<String> = (0..17).map(|i| format!("l{i}")).collect();
        assert_eq!(check_labels(&many), Err(LabelError::TooMany));
        assert_eq!(check_labels(&many[..16]).map(|v| v.len()), Ok(16));
    }

    #[test]
    fn an_edit_adds_and_removes_or_replaces() {
        let now = vec!["tv".to_string(), "old".to_string()];
        let change = LabelEdit::Change {
            add: vec!["hd".into(), "tv".into()],
            remove: vec!["old".into(), "absent".into()],
        };
        assert_eq!(change.apply(&now), Ok(vec!["tv".into(), "hd".into()]));
        assert_eq!(LabelEdit::Set(vec![]).apply(&now), Ok(vec![]));
        let bad = LabelEdit::Set(vec!["a,b".into()]);
        assert!(bad.apply(&now).is_err());
    }

    #[test]
    fn defaults_come_from_the_first_label_that_sets_each() {
        let mut table = LabelTable::new();
        table.insert(
            "tv".into(),
            LabelDefaults {
                save_path: Some("/data/tv".into()),
                seed_ratio: Some(Set::To(2.0)),
                ..LabelDefaults::default()
            },
        );
        table.insert(
            "hd".into(),
            LabelDefaults {
                save_path: Some("/data/hd".into()),
                seed_ratio: Some(Set::Off),
                seed_idle: Some(Set::To(Duration::from_secs(60))),
                ..LabelDefaults::default()
            },
        );
        let d = defaults_for(&table, &["other".into(), "tv".into(), "hd".into()]);
        assert_eq!(d.save_path, Some("/data/tv".into()));
        assert_eq!(d.seed_ratio, Some(Set::To(2.0)));
        assert_eq!(d.seed_idle, Some(Set::To(Duration::from_secs(60))));
        assert_eq!(d.seed_time, None);
        assert_eq!(defaults_for(&table, &[]), LabelDefaults::default());
    }

    #[test]
    fn a_category_is_the_first_category_label_and_the_rest_are_tags() {
        let cat = Catalog {
            categories: vec![Category {
                name: "tv".into(),
                save_path: Some("/data/tv".into()),
                from_config: false,
            }],
            tags: vec![],
        };
        let labels: Vec<String> = vec!["hd".into(), "tv".into(), "new".into()];
        assert_eq!(cat.split(&labels), (Some("tv"), vec!["hd", "new"]));
        assert_eq!(cat.with_category(&labels, None), vec!["hd", "new"]);
        assert_eq!(
            cat.with_category(&labels, Some("movies")),
            vec!["movies", "hd", "new"]
        );
        assert_eq!(cat.split(&[]), (None, vec![]));
    }
}
