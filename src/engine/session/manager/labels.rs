//! A torrent's labels changed after it was added (`ttui label`, the RPC's `torrent-set`):
//! kept in its resume data at once. Its directory and goals stay: a label's defaults are
//! for torrents added with it, as in qBittorrent, where changing a category later does not
//! move the files unless asked (`ttui move` does that).
//!
//! The catalog: the categories (labels with a directory) and tags made at runtime, e.g. by
//! qBittorrent's `createCategory`, beside those of the config file (`[labels.X] save_path`).
//! Kept in `<state-dir>/torrents/catalog.json`, written atomically as the resume data is, and
//! read back at start; a file that cannot be read is set aside (`.damaged`), never written
//! over. JSON because it is small, rare to change, and a person may want to read it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::oneshot;

use super::Manager;
use crate::engine::api::{
    category_path, Catalog, CatalogEdit, CatalogError, Category, LabelEdit, LabelTable,
    RequestError, TorrentId,
};

/// The file's name in the store's directory.
const FILE: &str = "catalog.json";

/// What the session made at runtime, as saved.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub(super) struct Kept {
    categories: BTreeMap<String, Option<PathBuf>>,
    tags: BTreeSet<String>,
}

impl Kept {
    /// The saved catalog of `dir`, or an empty one (a damaged file set aside, and said).
    pub(super) fn load(dir: &std::path::Path) -> Kept {
        let path = dir.join(FILE);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Kept::default(),
            Err(e) => {
                tracing::warn!(
                    "cannot read {}: {e}; categories made at runtime are missing",
                    path.display()
                );
                return Kept::default();
            }
        };
        match serde_json::from_slice(&bytes) {
            Ok(k) => k,
            Err(e) => {
                let aside = dir.join(format!("{FILE}.damaged"));
                tracing::warn!(
                    "{} is damaged ({e}); set aside as {}",
                    path.display(),
                    aside.display()
                );
                let _ = std::fs::rename(&path, &aside);
                Kept::default()
            }
        }
    }
}

/// The catalog published on the line-up. Its tags take a walk over every torrent's labels,
/// so it is computed again only when what it is made of changed: the list of torrents
/// (`Slots::generation`) or a label or the catalog edited (`edits`); a tick that changed
/// neither compares two numbers.
#[derive(Debug, Default)]
pub(super) struct Published {
    pub(super) catalog: Arc<Catalog>,
    /// Label and catalog edits so far.
    edits: u64,
    /// `(Slots::generation, edits)` that `catalog` was computed at; None: never.
    made_at: Option<(u64, u64)>,
}

/// A catalog edit's answer, sent once the line-up that carries it is published.
pub(super) type Reply = (
    oneshot::Sender<Result<Catalog, RequestError>>,
    Result<Catalog, RequestError>,
);

/// The config's labels with this runtime catalog over them: a runtime category's directory
/// is what an add with it takes.
pub(super) fn merged(config: &LabelTable, kept: &Kept) -> LabelTable {
    let mut out = config.clone();
    for (name, path) in &kept.categories {
        out.entry(name.clone())
            .or_default()
            .save_path
            .clone_from(path);
    }
    out
}

impl Manager {
    pub(super) fn edit_labels(
        &mut self,
        id: TorrentId,
        edit: &LabelEdit,
    ) -> Result<Vec<String>, RequestError> {
        let i = self.slots.index(id).ok_or(RequestError::NoTorrent(id))?;
        let now = edit.apply(&self.slots[i].policy.kept.labels)?;
        if now != self.slots[i].policy.kept.labels {
            self.slots[i].policy.kept.labels.clone_from(&now);
            self.save_policy(i);
            self.catalog.edits += 1;
        }
        Ok(now)
    }

    /// Computes the published catalog again if what it is made of changed since; a new
    /// `Arc` only when it differs, so that faces may compare it by pointer.
    pub(super) fn refresh_catalog(&mut self) {
        let at = (self.slots.generation(), self.catalog.edits);
        if self.catalog.made_at == Some(at) {
            return;
        }
        let now = self.catalog();
        if *self.catalog.catalog != now {
            self.catalog.catalog = Arc::new(now);
        }
        self.catalog.made_at = Some(at);
    }

    /// A catalog request: a read is answered at once, an edit once a line-up that carries
    /// it is published (`Manager::run`, after the requests that came together).
    pub(super) fn catalog_request(
        &mut self,
        edit: Option<CatalogEdit>,
        reply: oneshot::Sender<Result<Catalog, RequestError>>,
    ) {
        if edit.is_none() {
            let _ = reply.send(Ok(self.catalog()));
            return;
        }
        let answer = self.edit_catalog(edit);
        self.catalog.edits += 1;
        self.catalog_replies.push((reply, answer));
    }

    /// The categories and tags as every face sees them.
    pub(super) fn catalog(&self) -> Catalog {
        let mut categories: BTreeMap<&str, Category> = BTreeMap::new();
        for (name, d) in &self.config_labels {
            if let Some(p) = &d.save_path {
                let c = Category {
                    name: name.clone(),
                    save_path: Some(p.clone()),
                    from_config: true,
                };
                categories.insert(name, c);
            }
        }
        for (name, p) in &self.kept_catalog.categories {
            categories.entry(name).or_insert_with(|| Category {
                name: name.clone(),
                save_path: p.clone(),
                from_config: false,
            });
        }
        let mut tags: BTreeSet<&str> = self.kept_catalog.tags.iter().map(String::as_str).collect();
        for s in self.slots.iter() {
            tags.extend(
                s.policy
                    .kept
                    .labels
                    .iter()
                    .map(String::as_str)
                    .filter(|l| !categories.contains_key(l)),
            );
        }
        Catalog {
            categories: categories.into_values().collect(),
            tags: tags.into_iter().map(str::to_string).collect(),
        }
    }

    /// Applies `edit` and keeps the result; nothing changes when it cannot be kept.
    pub(super) fn edit_catalog(
        &mut self,
        edit: Option<CatalogEdit>,
    ) -> Result<Catalog, RequestError> {
        let Some(edit) = edit else {
            return Ok(self.catalog());
        };
        let now = self.catalog();
        let mut kept = self.kept_catalog.clone();
        let mut off_torrents: Vec<String> = Vec::new();
        let check = |n: &str| crate::engine::api::check_label(n).map_err(CatalogError::from);
        match edit {
            CatalogEdit::CreateCategory { name, save_path } => {
                let name = check(&name)?;
                let save_path = category_path(save_path, &self.opts.output)?;
                if now.is_category(&name) {
                    return Err(CatalogError::Exists(name).into());
                }
                kept.tags.remove(&name);
                kept.categories.insert(name, save_path);
            }
            CatalogEdit::EditCategory { name, save_path } => {
                let name = check(&name)?;
                let save_path = category_path(save_path, &self.opts.output)?;
                match now.categories.iter().find(|c| c.name == name) {
                    None => return Err(CatalogError::Missing(name).into()),
                    Some(c) if c.from_config => return Err(CatalogError::FromConfig(name).into()),
                    Some(_) => {
                        kept.categories.insert(name, save_path);
                    }
                }
            }
            CatalogEdit::RemoveCategories(names) => {
                for name in names {
                    let name = check(&name)?;
                    if let Some(c) = now.categories.iter().find(|c| c.name == name) {
                        if c.from_config {
                            return Err(CatalogError::FromConfig(name).into());
                        }
                        kept.categories.remove(&name);
                        off_torrents.push(name);
                    }
                }
            }
            CatalogEdit::CreateTags(names) => {
                for name in names {
                    let name = check(&name)?;
                    if now.is_category(&name) {
                        return Err(CatalogError::NotATag(name).into());
                    }
                    kept.tags.insert(name);
                }
            }
            CatalogEdit::DeleteTags(names) => {
                for name in names {
                    let name = check(&name)?;
                    if !now.is_category(&name) {
                        kept.tags.remove(&name);
                        off_torrents.push(name);
                    }
                }
            }
        }
        if kept != self.kept_catalog {
            self.keep_catalog(&kept)?;
            self.opts.labels = merged(&self.config_labels, &kept);
            self.kept_catalog = kept;
        }
        if !off_torrents.is_empty() {
            for i in 0..self.slots.len() {
                let labels = &self.slots[i].policy.kept.labels;
                if labels.iter().any(|l| off_torrents.contains(l)) {
                    let now: Vec<String> = labels
                        .iter()
                        .filter(|l| !off_torrents.contains(l))
                        .cloned()
                        .collect();
                    self.slots[i].policy.kept.labels = now;
                    self.save_policy(i);
                }
            }
        }
        Ok(self.catalog())
    }

    /// Writes the catalog into the state directory (crash-safe); a session without one
    /// keeps it in memory only.
    fn keep_catalog(&self, kept: &Kept) -> Result<(), CatalogError> {
        let Some(p) = &self.persist else {
            return Ok(());
        };
        let store = p.store();
        let bytes =
            serde_json::to_vec_pretty(kept).map_err(|e| CatalogError::NotKept(e.to_string()))?;
        crate::engine::session::store::atomic::write_atomic(store.dir(), FILE, &bytes)
            .map_err(|e| CatalogError::NotKept(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalog_comes_back_and_a_damaged_one_is_set_aside() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Kept::load(dir.path()), Kept::default());
        let mut kept = Kept::default();
        kept.categories.insert("tv".into(), Some("/data/tv".into()));
        kept.categories.insert("misc".into(), None);
        kept.tags.insert("hd".into());
        let bytes = serde_json::to_vec(&kept).unwrap();
        crate::engine::session::store::atomic::write_atomic(dir.path(), FILE, &bytes).unwrap();
        assert_eq!(Kept::load(dir.path()), kept);

        std::fs::write(dir.path().join(FILE), b"{not json").unwrap();
        assert_eq!(Kept::load(dir.path()), Kept::default());
        let aside = std::fs::read(dir.path().join(format!("{FILE}.damaged"))).unwrap();
        assert_eq!(
            aside, b"{not json",
            "the damaged file is kept, not written over"
        );
    }

    #[test]
    fn a_runtime_category_gives_its_directory_to_adds() {
        let mut config = LabelTable::new();
        config.insert(
            "tv".into(),
            crate::engine::api::LabelDefaults {
                save_path: Some("/config/tv".into()),
                ..Default::default()
            },
        );
        let mut kept = Kept::default();
        kept.categories
            .insert("films".into(), Some("/data/films".into()));
        let table = merged(&config, &kept);
        assert_eq!(table["films"].save_path, Some("/data/films".into()));
        assert_eq!(table["tv"].save_path, Some("/config/tv".into()));
    }
}
