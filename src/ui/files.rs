//! The Files tab's model: a folder tree built from the `/`-separated paths of
//! `Snapshot::files`, which folders are folded, and the selection. Pure: the keys come in
//! through [`FilesView`], and what the engine should do comes out as file indices.

use std::collections::{HashMap, HashSet};

use crate::engine::api::{FilePriority, FileRow};

use super::action::Action;
use super::scroll::ListScroll;

/// One row of the tree: a folder or a file, in depth-first order.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The last part of the path.
    pub name: String,
    /// The whole path, the folder's without a trailing `/` (the key folding is kept under,
    /// so it survives a rebuild).
    pub path: String,
    pub depth: usize,
    /// Index into `Snapshot::files` for a file; None for a folder.
    pub file: Option<usize>,
    /// One past the last node of this one's subtree.
    pub end: usize,
    pub size: u64,
    pub done: u64,
    /// None for a folder whose files differ.
    pub priority: Option<FilePriority>,
}

impl Node {
    pub fn is_folder(&self) -> bool {
        self.file.is_none()
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct FileTree {
    pub nodes: Vec<Node>,
}

/// A folder while the tree is being built: its children in the order first seen.
#[derive(Default)]
struct Dir {
    name: String,
    children: Vec<Child>,
    by_name: HashMap<String, usize>,
}

enum Child {
    Dir(usize),
    File(usize),
}

impl FileTree {
    pub fn build(files: &[FileRow]) -> FileTree {
        let mut dirs = vec![Dir::default()];
        for (i, f) in files.iter().enumerate() {
            let parts: Vec<&str> = f.path.split('/').filter(|p| !p.is_empty()).collect();
            let mut dir = 0;
            if let Some((_, folders)) = parts.split_last() {
                for part in folders {
                    dir = match dirs[dir].by_name.get(*part) {
                        Some(&d) => d,
                        None => {
                            let d = dirs.len();
                            dirs.push(Dir {
                                name: (*part).to_string(),
                                ..Dir::default()
                            });
                            dirs[dir].by_name.insert((*part).to_string(), d);
                            dirs[dir].children.push(Child::Dir(d));
                            d
                        }
                    };
                }
            }
            dirs[dir].children.push(Child::File(i));
        }
        let mut tree = FileTree::default();
        tree.flatten(&dirs, files, 0, "", 0);
        tree.refresh(files);
        tree
    }

    fn flatten(&mut self, dirs: &[Dir], files: &[FileRow], dir: usize, prefix: &str, depth: usize) {
        for child in &dirs[dir].children {
            match *child {
                Child::File(i) => {
                    let name = files[i].path.rsplit('/').find(|p| !p.is_empty());
                    let at = self.nodes.len();
                    self.nodes.push(Node {
                        name: name.unwrap_or("(no name)").to_string(),
                        path: files[i].path.clone(),
                        depth,
                        file: Some(i),
                        end: at + 1,
                        size: 0,
                        done: 0,
                        priority: None,
                    });
                }
                Child::Dir(d) => {
                    let path = if prefix.is_empty() {
                        dirs[d].name.clone()
                    } else {
                        format!("{prefix}/{}", dirs[d].name)
                    };
                    let at = self.nodes.len();
                    self.nodes.push(Node {
                        name: dirs[d].name.clone(),
                        path: path.clone(),
                        depth,
                        file: None,
                        end: at + 1,
                        size: 0,
                        done: 0,
                        priority: None,
                    });
                    self.flatten(dirs, files, d, &path, depth + 1);
                    self.nodes[at].end = self.nodes.len();
                }
            }
        }
    }

    /// Whether this tree was built from the same paths as `files`.
    pub fn same_paths(&self, files: &[FileRow]) -> bool {
        let mine = self
            .nodes
            .iter()
            .filter_map(|n| n.file.map(|i| (i, &n.path)));
        mine.clone().count() == files.len()
            && mine
                .into_iter()
                .all(|(i, p)| files.get(i).is_some_and(|f| &f.path == p))
    }

    /// Sizes, progress and priorities from `files` (same paths): files first, then each
    /// folder from the files under it.
    pub fn refresh(&mut self, files: &[FileRow]) {
        for n in &mut self.nodes {
            if let Some(f) = n.file.and_then(|i| files.get(i)) {
                (n.size, n.done, n.priority) = (f.size, f.done.min(f.size), Some(f.priority));
            }
        }
        for i in (0..self.nodes.len()).rev() {
            if !self.nodes[i].is_folder() {
                continue;
            }
            let (mut size, mut done, mut prio, mut first) = (0, 0, None, true);
            for n in self.nodes[i + 1..self.nodes[i].end]
                .iter()
                .filter(|n| !n.is_folder())
            {
                size += n.size;
                done += n.done;
                if first {
                    prio = n.priority;
                    first = false;
                } else if prio != n.priority {
                    prio = None;
                }
            }
            let node = &mut self.nodes[i];
            (node.size, node.done, node.priority) = (size, done, prio);
        }
    }

    /// The files (indices into `Snapshot::files`) at or under node `i`.
    pub fn files_under(&self, i: usize) -> Vec<usize> {
        let Some(node) = self.nodes.get(i) else {
            return Vec::new();
        };
        self.nodes[i..node.end]
            .iter()
            .filter_map(|n| n.file)
            .collect()
    }

    /// The nodes shown when the folders in `folded` are folded.
    pub fn visible(&self, folded: &HashSet<String>) -> Vec<usize> {
        let mut out = Vec::new();
        let mut i = 0;
        while let Some(n) = self.nodes.get(i) {
            out.push(i);
            i = if n.is_folder() && folded.contains(&n.path) {
                n.end
            } else {
                i + 1
            };
        }
        out
    }
}

/// The Files tab's UI state.
#[derive(Debug, Default)]
pub struct FilesView {
    pub tree: FileTree,
    pub folded: HashSet<String>,
    /// Node indices shown, in order.
    pub rows: Vec<usize>,
    /// Row of the selection in `rows`.
    pub selected: usize,
    pub scroll: ListScroll,
    /// What the user last asked for: shown only on the single-torrent screen, which has no
    /// session line to read (`App::sequential`).
    pub sequential: bool,
}

impl FilesView {
    /// Folds in the snapshot's files: the tree is rebuilt only when the paths change (a
    /// magnet's metadata arrives), else its figures are updated.
    pub fn on_files(&mut self, files: &[FileRow]) {
        if self.tree.same_paths(files) {
            self.tree.refresh(files);
            return;
        }
        self.tree = FileTree::build(files);
        self.rows = self.tree.visible(&self.folded);
        self.follow();
    }

    pub fn selected_node(&self) -> Option<&Node> {
        self.tree.nodes.get(*self.rows.get(self.selected)?)
    }

    fn follow(&mut self) {
        self.selected = self.selected.min(self.rows.len().saturating_sub(1));
        let pos = (!self.rows.is_empty()).then_some(self.selected);
        self.scroll.follow(pos, self.rows.len());
    }

    pub fn move_by(&mut self, delta: isize) {
        if self.rows.is_empty() {
            return;
        }
        let last = self.rows.len() as isize - 1;
        self.selected = (self.selected as isize)
            .saturating_add(delta)
            .clamp(0, last) as usize;
        self.follow();
    }

    /// Selects the shown row `row` (a click), if there is one.
    pub fn select(&mut self, row: usize) {
        if row < self.rows.len() {
            self.selected = row;
            self.follow();
        }
    }

    /// Folds (`Some(true)`), unfolds (`Some(false)`) or toggles (`None`) the selected
    /// folder. Folding a file, or a folded folder, moves to its folder instead.
    pub fn fold(&mut self, fold: Option<bool>) {
        let Some(node) = self.selected_node().cloned() else {
            return;
        };
        let is_folded = self.folded.contains(&node.path);
        let want = fold.unwrap_or(!is_folded);
        if node.is_folder() && want != is_folded {
            if want {
                self.folded.insert(node.path);
            } else {
                self.folded.remove(&node.path);
            }
            let at = self.rows[self.selected];
            self.rows = self.tree.visible(&self.folded);
            self.selected = self.rows.iter().position(|&i| i == at).unwrap_or(0);
        } else if want && node.depth > 0 {
            // Up to the folder that holds it.
            let at = self.rows[self.selected];
            if let Some(parent) = (0..at).rev().find(|&i| {
                let n = &self.tree.nodes[i];
                n.is_folder() && n.end > at && n.depth + 1 == node.depth
            }) {
                self.selected = self.rows.iter().position(|&i| i == parent).unwrap_or(0);
            }
        }
        self.follow();
    }

    /// The keys of the tab that move or fold; the rest are the app's.
    pub fn navigate(&mut self, action: Action) {
        let page = self.scroll.page() as isize;
        match action {
            Action::Up => self.move_by(-1),
            Action::Down => self.move_by(1),
            Action::WheelUp => self.move_by(-3),
            Action::WheelDown => self.move_by(3),
            Action::PageUp => self.move_by(-page),
            Action::PageDown => self.move_by(page),
            Action::Home => self.move_by(isize::MIN / 2),
            Action::End => self.move_by(isize::MAX / 2),
            Action::Left => self.fold(Some(true)),
            Action::Right => self.fold(Some(false)),
            Action::ToggleFold => self.fold(None),
            _ => {}
        }
    }

    /// The files a priority key acts on: the selected file, or every file in the selected
    /// folder.
    pub fn targets(&self) -> Vec<usize> {
        self.rows
            .get(self.selected)
            .map_or_else(Vec::new, |&i| self.tree.files_under(i))
    }
}

#[cfg(test)]
mod tests;
