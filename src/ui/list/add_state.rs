//! The add dialog's state (`a` on the list): the source (a .torrent path, a magnet link or a
//! URL), where to save, start paused or not, and for a .torrent of several files the file
//! tree with a checkbox per file, like qBittorrent's add dialog. Keys come in as actions,
//! the request comes out; the only I/O is reading the one .torrent (and a folder for Tab).
//! Deselected files go out as `AddFiles::only`, so they are never created.

use std::path::{Path, PathBuf};

use crate::control::proto::AddItem;
use crate::engine::api::{file_rows, AddFiles, FilePriority, FileRow};
use crate::protocol::metainfo::Metainfo;
use crate::ui::action::{Action, Request};
use crate::ui::complete::complete;
use crate::ui::files::FilesView;
use crate::ui::keys::Mode;

/// The longest text a field takes (a magnet link with many trackers is long, not this long).
const FIELD_MAX: usize = 8192;

/// The part of the dialog the keys act on, top to bottom.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Source,
    SaveTo,
    Paused,
    /// The file tree (only for a .torrent with more than one file).
    Files,
}

/// What the source names, once read.
#[derive(Debug, Clone, PartialEq)]
pub enum Loaded {
    Nothing,
    Magnet(String),
    Url(String),
    Torrent {
        /// How the source was typed, for messages.
        source: String,
        /// The torrent's own name.
        name: String,
        bytes: Vec<u8>,
        /// Its files as the engine numbers them (padding left out).
        files: usize,
        total: u64,
    },
}

#[derive(Debug)]
pub struct AddDialog {
    pub source: String,
    pub save_to: String,
    /// The session's default, as prefilled: left as it is, the session decides.
    default_save: String,
    pub paused: bool,
    pub focus: Field,
    /// What the last ambiguous Tab matched.
    pub candidates: Vec<String>,
    /// Why the source cannot be added, in one line.
    pub error: Option<String>,
    pub loaded: Loaded,
    /// The source text `loaded` was read from.
    examined: Option<String>,
    /// The tree; a file's priority is Skip when unchecked, else Normal.
    pub files: FilesView,
    rows: Vec<FileRow>,
    cwd: PathBuf,
    home: Option<PathBuf>,
}

/// What a key did to the dialog.
#[derive(Debug, PartialEq)]
pub enum Step {
    Stay,
    Cancel,
    Send(Request),
}

impl AddDialog {
    /// Paths are read relative to `cwd`; `~/` is `home`.
    pub fn new(default_save: &Path, cwd: PathBuf, home: Option<PathBuf>) -> AddDialog {
        let default_save = default_save.display().to_string();
        AddDialog {
            source: String::new(),
            save_to: default_save.clone(),
            default_save,
            paused: false,
            focus: Field::Source,
            candidates: Vec::new(),
            error: None,
            loaded: Loaded::Nothing,
            examined: None,
            files: FilesView::default(),
            rows: Vec::new(),
            cwd,
            home,
        }
    }

    /// The keys live now: text in the two fields, choices on the checkboxes.
    pub fn mode(&self) -> Mode {
        match self.focus {
            Field::Source | Field::SaveTo => Mode::AddText,
            Field::Paused | Field::Files => Mode::AddPick,
        }
    }

    /// Whether the file tree is shown.
    pub fn has_tree(&self) -> bool {
        matches!(self.loaded, Loaded::Torrent { files, .. } if files > 1)
    }

    /// The checked files and their bytes.
    pub fn chosen(&self) -> (usize, u64) {
        let wanted = self.rows.iter().filter(|r| r.priority.wanted());
        wanted.fold((0, 0), |(n, b), r| (n + 1, b + r.size))
    }

    pub fn handle(&mut self, action: Action) -> Step {
        match (action, self.focus) {
            (Action::Back, _) => return Step::Cancel,
            (Action::Accept, _) => return self.submit(),
            (Action::Type(c), Field::Source | Field::SaveTo) => self.type_text(&c.to_string()),
            (Action::Erase, Field::Source | Field::SaveTo) => {
                self.field().pop();
                self.edited();
            }
            (Action::ClearLine, Field::Source | Field::SaveTo) => {
                self.field().clear();
                self.edited();
            }
            (Action::Complete, Field::Source | Field::SaveTo) => self.complete(),
            (Action::Up, _) => self.step(-1),
            (Action::Down, _) => self.step(1),
            (Action::ToggleMark, Field::Paused) => self.paused = !self.paused,
            (Action::ToggleMark, Field::Files) => self.toggle(),
            (_, Field::Files) => self.files.navigate(action),
            _ => {}
        }
        Step::Stay
    }

    /// A bracketed paste: text for the focused field (line breaks and other control
    /// characters dropped, so a pasted link's newline does not end up in it).
    pub fn paste(&mut self, text: &str) {
        if matches!(self.focus, Field::Source | Field::SaveTo) {
            self.type_text(text.trim());
            if self.focus == Field::Source {
                self.examine();
            }
        }
    }

    fn field(&mut self) -> &mut String {
        match self.focus {
            Field::SaveTo => &mut self.save_to,
            _ => &mut self.source,
        }
    }

    fn type_text(&mut self, text: &str) {
        let field = self.field();
        let room = FIELD_MAX.saturating_sub(field.chars().count());
        field.extend(text.chars().filter(|c| !c.is_control()).take(room));
        self.edited();
    }

    fn edited(&mut self) {
        self.candidates.clear();
        self.error = None;
    }

    fn complete(&mut self) {
        let typed = self.field().clone();
        let c = complete(&typed, &self.cwd, self.home.as_deref());
        *self.field() = c.text;
        self.error = None;
        self.candidates = c.candidates;
        if self.focus == Field::Source && self.candidates.is_empty() && !self.source.ends_with('/')
        {
            self.examine();
        }
    }

    /// Up or down one field; in the tree, one row (above its first row: the checkbox).
    fn step(&mut self, delta: isize) {
        if self.focus == Field::Files && !(delta < 0 && self.files.selected == 0) {
            self.files.move_by(delta);
            return;
        }
        if self.focus == Field::Source {
            self.examine();
        }
        let order = [Field::Source, Field::SaveTo, Field::Paused, Field::Files];
        let last = if self.has_tree() { 3 } else { 2 };
        let at = order.iter().position(|f| *f == self.focus).unwrap_or(0) as isize;
        self.focus = order[(at + delta).clamp(0, last) as usize];
    }

    /// The selected file, or every file of the selected folder: all checked when any was not,
    /// else all unchecked.
    fn toggle(&mut self) {
        let targets = self.files.targets();
        let all_on = targets
            .iter()
            .all(|&i| self.rows.get(i).is_some_and(|r| r.priority.wanted()));
        let to = if all_on {
            FilePriority::Skip
        } else {
            FilePriority::Normal
        };
        for i in targets {
            if let Some(r) = self.rows.get_mut(i) {
                r.priority = to;
            }
        }
        self.files.tree.refresh(&self.rows);
    }

    /// Reads what the source names, once per text: a link is taken as it is, a path is read
    /// and parsed, and its files fill the tree.
    fn examine(&mut self) {
        let text = self.source.trim().to_string();
        if self.examined.as_deref() == Some(text.as_str()) {
            return;
        }
        self.examined = Some(text.clone());
        self.rows.clear();
        self.files = FilesView::default();
        self.loaded = Loaded::Nothing;
        match read_source(&text, &self.cwd, self.home.as_deref()) {
            Ok((loaded, rows)) => {
                self.loaded = loaded;
                self.files.on_files(&rows);
                self.rows = rows;
                self.error = None;
            }
            Err(e) => self.error = Some(e),
        }
    }

    fn submit(&mut self) -> Step {
        let shown = self.has_tree();
        self.examine();
        if self.error.is_some() {
            return Step::Stay;
        }
        // A tree that has just appeared is shown before anything is added.
        if self.has_tree() && !shown {
            self.focus = Field::Files;
            return Step::Stay;
        }
        let item = match &self.loaded {
            Loaded::Nothing => {
                self.error = Some("name a .torrent file, a magnet link or a URL".into());
                return Step::Stay;
            }
            Loaded::Magnet(m) => AddItem::Magnet(m.clone()),
            Loaded::Url(u) => AddItem::Url(u.clone()),
            Loaded::Torrent { source, bytes, .. } => AddItem::Torrent {
                name: source.clone(),
                bytes: bytes.clone(),
            },
        };
        let (chosen, _) = self.chosen();
        let only = match chosen {
            0 if self.has_tree() => {
                self.error = Some("no file is checked: check one with space".into());
                return Step::Stay;
            }
            n if n == self.rows.len() => None,
            _ => Some(
                (0..self.rows.len())
                    .filter(|&i| self.rows[i].priority.wanted())
                    .collect(),
            ),
        };
        let save = self.save_to.trim();
        let save_path = (!save.is_empty() && save != self.default_save)
            .then(|| absolute(save, &self.cwd, self.home.as_deref()));
        Step::Send(Request::Add {
            item,
            save_path,
            paused: self.paused,
            files: AddFiles {
                complete: false,
                only,
                sequential: false,
                first_last: false,
                subfolder: false,
            },
        })
    }
}

fn absolute(text: &str, cwd: &Path, home: Option<&Path>) -> PathBuf {
    match (text.strip_prefix("~/"), home) {
        (Some(rest), Some(home)) => home.join(rest),
        _ => cwd.join(text),
    }
}

/// What a source text names, with the files of a .torrent (all checked).
fn read_source(
    text: &str,
    cwd: &Path,
    home: Option<&Path>,
) -> Result<(Loaded, Vec<FileRow>), String> {
    let lower = text.get(..8).unwrap_or(text).to_ascii_lowercase();
    if text.is_empty() {
        return Ok((Loaded::Nothing, Vec::new()));
    }
    if lower.starts_with("magnet:") {
        crate::protocol::magnet::Magnet::parse(text).map_err(|e| format!("magnet link: {e}"))?;
        return Ok((Loaded::Magnet(text.to_string()), Vec::new()));
    }
    if lower.starts_with("http://") || lower.starts_with("https://") {
        return Ok((Loaded::Url(text.to_string()), Vec::new()));
    }
    let what = crate::fmt::outside(text, 60).into_owned();
    let path = absolute(text, cwd, home);
    let file = std::fs::File::open(&path).map_err(|e| format!("cannot read {what}: {e}"))?;
    let bytes = crate::engine::host::load::read_capped(file, &what)?;
    let meta = Metainfo::from_bytes(&bytes).map_err(|e| {
        let reason = e.to_string().replace('\n', " ");
        format!(
            "{what} is not a valid torrent: {}",
            crate::fmt::outside(&reason, 120)
        )
    })?;
    let rows = file_rows(&meta);
    let loaded = Loaded::Torrent {
        source: text.to_string(),
        name: meta.info.name.clone(),
        bytes,
        files: rows.len(),
        total: rows.iter().map(|r| r.size).sum(),
    };
    Ok((loaded, rows))
}

#[cfg(test)]
pub(super) mod tests;
