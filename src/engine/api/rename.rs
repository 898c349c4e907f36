//! Renaming one file or folder of a torrent (Transmission's `torrent-rename-path`): the pure
//! rewrite of its file list, and the record of the names that differ from the .torrent's,
//! which its resume data keeps so a restart finds the files where they now are.
//!
//! The .torrent itself is never changed: its info dictionary is what peers fetch and what
//! the info hash covers, so the new names live beside it, as Transmission keeps them.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

use crate::protocol::metainfo::Info;

/// The longest name taken, the cap the .torrent's own names get when they are made safe.
pub(super) const MAX_NAME_BYTES: usize = 240;

/// Why a rename was refused or failed. Nothing is changed when it is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenameError {
    #[error("invalid new name {0:?}: it must not be empty, \".\" or \"..\", nor hold a '/' or a control character")]
    BadName(String),
    #[error("invalid new name: longer than {MAX_NAME_BYTES} bytes")]
    TooLong,
    #[error("the torrent has no file or folder {0:?}")]
    NoPath(String),
    #[error("the torrent has a file or folder {0:?} already")]
    Taken(String),
    #[error("{} exists already", .0.display())]
    Exists(PathBuf),
    /// The rename on disk failed (the OS's words, naming the path).
    #[error("renaming on disk: {0}")]
    Disk(String),
}

/// Why a kept record of renames does not fit the torrent's file list (a doctored resume
/// file): the torrent then keeps the .torrent's names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadRecord {
    #[error(transparent)]
    Name(#[from] RenameError),
    #[error("renamed file {0} is not in the torrent")]
    NoFile(u32),
    #[error("renamed file {0} has another depth")]
    Depth(u32),
    #[error("two files renamed to {0:?}")]
    Twice(String),
}

/// The names of a torrent's files where they differ from its .torrent's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Renamed {
    /// The torrent's new name: its top-level file or folder was renamed.
    pub name: Option<String>,
    /// By file index, the file's path below the top-level folder (`FileEntry::path` without
    /// its first component), for the files renamed inside it.
    pub files: BTreeMap<u32, Vec<String>>,
}

impl Renamed {
    pub fn is_empty(&self) -> bool {
        self.name.is_none() && self.files.is_empty()
    }

    /// Notes what `r` changed.
    pub fn record(&mut self, r: &Renaming) {
        if r.top {
            self.name = Some(r.info.name.clone());
            return;
        }
        for &i in &r.changed {
            if let Some(f) = r.info.files.get(i as usize) {
                self.files.insert(i, f.path[1..].to_vec());
            }
        }
    }

    /// Gives `info` these names (a torrent loaded from its .torrent). Either all apply or
    /// none does: a record that does not fit the file list (a doctored file) is refused with
    /// the reason, and the torrent keeps the .torrent's names.
    pub fn apply(&self, info: &mut Info) -> Result<(), BadRecord> {
        let mut paths: Vec<Vec<String>> = info.files.iter().map(|f| f.path.clone()).collect();
        if let Some(name) = &self.name {
            check_name(name)?;
            for p in &mut paths {
                if let Some(top) = p.first_mut() {
                    top.clone_from(name);
                }
            }
        }
        for (&i, rest) in &self.files {
            let path = paths.get_mut(i as usize).ok_or(BadRecord::NoFile(i))?;
            if path.len() != rest.len() + 1 || info.single_file {
                return Err(BadRecord::Depth(i));
            }
            for c in rest {
                check_name(c)?;
            }
            path.truncate(1);
            path.extend(rest.iter().cloned());
        }
        let mut seen = HashSet::new();
        for (f, p) in info.files.iter().zip(&paths) {
            if !f.padding && !seen.insert(p) {
                return Err(BadRecord::Twice(p.join("/")));
            }
        }
        for (f, p) in info.files.iter_mut().zip(paths) {
            if f.path != p {
                f.source_path.get_or_insert_with(|| f.path.clone());
                f.path = p;
            }
        }
        if let Some(name) = &self.name {
            info.name.clone_from(name);
        }
        Ok(())
    }
}

/// One rename, planned: the file list as it becomes, and what is renamed on disk (relative
/// to the save path).
#[derive(Debug, Clone, PartialEq)]
pub struct Renaming {
    pub info: Info,
    pub from: PathBuf,
    pub to: PathBuf,
    /// The top-level file or folder: the torrent's name changes with it.
    pub top: bool,
    /// The indices of the files whose path changed.
    pub changed: Vec<u32>,
}

/// A name as one path component: what the .torrent's names are made into when loaded.
pub fn check_name(name: &str) -> Result<(), RenameError> {
    if name.is_empty()
        || name == "."
        || name == ".."
        || name.contains('/')
        || name.chars().any(char::is_control)
    {
        return Err(RenameError::BadName(name.to_string()));
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(RenameError::TooLong);
    }
    Ok(())
}

/// Plans renaming the file or folder at `path` (`/`-separated, the torrent's top-level name
/// first, as Transmission names it) to `name`, its new last component. `None`: the name is
/// the one it has, nothing to do.
pub fn plan(info: &Info, path: &str, name: &str) -> Result<Option<Renaming>, RenameError> {
    check_name(name)?;
    let comps: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
    let n = comps.len();
    let under = |p: &[String], prefix: &[&str]| {
        p.len() >= prefix.len() && p.iter().zip(prefix).all(|(a, b)| a == b)
    };
    let matched: Vec<usize> = (0..info.files.len())
        .filter(|&i| n > 0 && under(&info.files[i].path, &comps))
        .collect();
    if matched.is_empty() {
        return Err(RenameError::NoPath(path.to_string()));
    }
    if comps[n - 1] == name {
        return Ok(None);
    }
    let mut new_prefix = comps.clone();
    new_prefix[n - 1] = name;
    if info.files.iter().any(|f| under(&f.path, &new_prefix)) {
        return Err(RenameError::Taken(new_prefix.join("/")));
    }
    let mut new = info.clone();
    for &i in &matched {
        let f = &mut new.files[i];
        f.source_path.get_or_insert_with(|| f.path.clone());
        f.path[n - 1] = name.to_string();
    }
    let top = n == 1;
    if top {
        new.name = name.to_string();
    }
    Ok(Some(Renaming {
        info: new,
        from: comps.iter().collect(),
        to: new_prefix.iter().collect(),
        top,
        changed: matched.iter().map(|&i| i as u32).collect(),
    }))
}

#[cfg(test)]
mod tests;
