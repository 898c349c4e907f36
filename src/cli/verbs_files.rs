//! `ttui files ID`: a torrent's files with their index, size, done and priority, and the
//! flags that change them (`--skip LIST`, `--priority P LIST`, `--sequential on|off`).

use crate::control::files::FilesChange;
use crate::control::proto::{ControlError, ErrorKind, Request};
use crate::control::rows::TorrentDetail;
use crate::engine::api::parse_file_list;
use crate::engine::api::{FilePriority, ValueError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum OnOff {
    On,
    Off,
}

pub(crate) fn request(
    id: String,
    skip: Option<String>,
    priority: Option<Vec<String>>,
    sequential: Option<OnOff>,
) -> Result<Request, ControlError> {
    let bad = |m: String| ControlError::new(ErrorKind::BadArgument, m);
    let bad_value = |e: ValueError| bad(e.to_string());
    let mut change = FilesChange {
        sequential: sequential.map(|s| s == OnOff::On),
        ..FilesChange::default()
    };
    if let Some(list) = skip {
        change.files = parse_file_list(&list, None).map_err(bad_value)?;
        change.priority = Some(FilePriority::Skip);
    }
    if let Some(args) = priority {
        let [p, list] = args.as_slice() else {
            return Err(bad("--priority takes a priority and a file list".into()));
        };
        change.priority = Some(p.parse::<FilePriority>().map_err(bad_value)?);
        change.files = parse_file_list(list, None).map_err(bad_value)?;
    }
    let set = (change != FilesChange::default()).then_some(change);
    Ok(Request::Files { id, set })
}

pub(crate) fn print(detail: &TorrentDetail, json: bool) {
    if json {
        println!("{}", crate::cli::verbs_fmt::json(&detail.files));
    } else {
        print!("{}", files_text(detail));
    }
}

/// One line a file: index, size, done %, priority, path.
pub(crate) fn files_text(detail: &TorrentDetail) -> String {
    let mut out = format!(
        "{:>5}  {:>10}  {:>6}  {:<8}  PATH\n",
        "INDEX", "SIZE", "DONE", "PRIORITY"
    );
    for f in &detail.files {
        let pct = (f.verified_bytes * 100).checked_div(f.size).unwrap_or(100);
        let path = crate::protocol::text::shorten(&f.path);
        out.push_str(&format!(
            "{:>5}  {:>10}  {:>5}%  {:<8}  {path}\n",
            f.index,
            crate::fmt::bytes(f.size),
            pct,
            f.priority
        ));
    }
    out
}
