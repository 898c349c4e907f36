//! `ttui cross-seed DIR [--add] [--label L]`: how each .torrent of a folder matches the data
//! the session seeds, and with `--add` the matches (full or partial) added with a label, each
//! through the same add as `ttui add` (its files linked and proven there).

use crate::control::proto::{AddItem, Response};
use crate::engine::api::{AddOptions, AddSource, Added, Client, CrossSeedMatch, CrossSeedRow};

use super::reply::failed;

pub(super) async fn apply(
    items: Vec<AddItem>,
    add: bool,
    label: String,
    client: &Client,
) -> Response {
    let torrents: Vec<(String, Vec<u8>)> = items
        .into_iter()
        .filter_map(|i| match i {
            AddItem::Torrent { name, bytes } => Some((name, bytes)),
            AddItem::Magnet(_) | AddItem::Url(_) => None,
        })
        .collect();
    let mut rows: Vec<CrossSeedRow> = match client.cross_seed_report(torrents.clone()).await {
        Ok(rows) => rows,
        Err(e) => return failed(&e),
    };
    if add {
        if let Err(e) = crate::engine::api::check_label(&label) {
            return super::reply::error(
                crate::control::proto::ErrorKind::BadArgument,
                e.to_string(),
            );
        }
        for (row, (name, bytes)) in rows.iter_mut().zip(torrents) {
            if !matches!(row.matched, CrossSeedMatch::Full | CrossSeedMatch::Partial) {
                continue;
            }
            let opts = AddOptions {
                labels: vec![label.clone()],
                ..AddOptions::default()
            };
            match client.add(AddSource::Torrent { name, bytes }, opts).await {
                Ok(Added::New { id, .. } | Added::Already { id, .. }) => row.added = Some(id.0),
                Err(e) => row.error = Some(e.to_string()),
            }
        }
    }
    Response::CrossSeed(rows)
}
