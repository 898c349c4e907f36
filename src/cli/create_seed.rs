//! `ttui create --seed`: hand the torrent just made to the running session, saved in the
//! directory that holds the data, marked complete (`AddFiles::complete`): it was hashed a
//! moment ago, so the session seeds it without checking it again.

use std::path::Path;

use crate::cli::run::{absolute, state_dir_of};
use crate::control::proto::{AddItem, Request, Response};
use crate::control::Client;
use crate::create::Created;

/// Adds `created` (made from `data`) to the session of `state_dir`; returns its id.
pub(crate) fn add(data: &Path, created: &Created, state_dir: Option<&Path>) -> Result<u32, String> {
    let data = absolute(data);
    let save_path = data
        .parent()
        .map(Path::to_path_buf)
        .ok_or_else(|| format!("{} has no parent directory to seed from", data.display()))?;
    let dir = state_dir_of(state_dir);
    let socket = crate::control::paths::socket_path(&dir, state_dir.is_none());
    let request = Request::Add {
        items: vec![AddItem::Torrent {
            name: format!("{}.torrent", created.name),
            bytes: created.bytes.clone(),
        }],
        save_path: Some(save_path),
        paused: false,
        files: crate::engine::api::AddFiles {
            complete: true,
            ..Default::default()
        },
        labels: Vec::new(),
    };
    let seed_err = |e: String| format!("the torrent was written, but --seed failed: {e}");
    let rt = tokio::runtime::Runtime::new().map_err(|e| seed_err(e.to_string()))?;
    let response = rt.block_on(async move {
        let mut client = Client::connect(&socket).await?;
        client.request(&request).await
    });
    match response.map_err(|e| seed_err(e.message))? {
        Response::Added(results) => match results.first() {
            Some(r) if r.error.is_none() => r.id.ok_or_else(|| seed_err("no id".into())),
            Some(r) => Err(seed_err(r.error.clone().unwrap_or_default())),
            None => Err(seed_err("the session answered nothing".into())),
        },
        Response::Error(e) => Err(seed_err(e.message)),
        _ => Err(seed_err("unexpected answer from the session".into())),
    }
}
