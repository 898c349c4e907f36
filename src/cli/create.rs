//! `ttui create PATH`: make a .torrent (v1, v2 or hybrid) from a file or a directory, write
//! it, say what was left out, and optionally print its magnet link or hand it to the running
//! session to seed (`--seed`: the data is where it is and was just hashed, so the session
//! trusts it instead of checking it again). The making itself is `crate::create`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use clap::Args;

use crate::create::{self, CreateOptions, Created, MetaVersion, Scan, Skipped};
use crate::protocol::hex;
use crate::protocol::metainfo::CREATED_BY;

/// `ttui create`'s flags.
#[derive(Debug, Clone, Args)]
pub(crate) struct CreateArgs {
    /// The file or directory to share.
    pub path: PathBuf,
    /// A v1 torrent (BEP 3), read by every client.
    #[arg(long, group = "format")]
    pub v1: bool,
    /// A v2-only torrent (BEP 52); older clients cannot load it.
    #[arg(long, group = "format")]
    pub v2: bool,
    /// v1 and v2 in one torrent, files padded to pieces (the default).
    #[arg(long, group = "format")]
    pub hybrid: bool,
    /// Where to write the torrent (default: NAME.torrent in the current directory).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Overwrite the output file if it exists.
    #[arg(long)]
    pub force: bool,
    /// Piece size: a power of two from 16K to 256M (`256K`, `4M`, or bytes); default: chosen
    /// from the total size, as libtorrent does.
    #[arg(long, value_name = "SIZE")]
    pub piece_size: Option<String>,
    /// A tracker (repeatable): each --tracker is a tier of its own; `--tracker A,B` puts A
    /// and B in one tier.
    #[arg(long = "tracker", value_name = "URL[,URL...]")]
    pub trackers: Vec<String>,
    /// A web seed (BEP 19 `url-list`; repeatable).
    #[arg(long = "web-seed", value_name = "URL")]
    pub web_seeds: Vec<String>,
    /// Mark the torrent private (BEP 27): peers from its trackers only, no DHT or PEX.
    #[arg(long)]
    pub private: bool,
    /// A comment in the torrent.
    #[arg(long, value_name = "TEXT")]
    pub comment: Option<String>,
    /// `info.source`, as private trackers ask for (changes the info hash).
    #[arg(long, value_name = "TEXT")]
    pub source: Option<String>,
    /// Write no creation date, so the same data always gives the same file.
    #[arg(long)]
    pub no_date: bool,
    /// Include hidden files and directories (names starting with `.`).
    #[arg(long)]
    pub hidden: bool,
    /// Also print the magnet link.
    #[arg(long)]
    pub magnet: bool,
    /// Add the torrent to the running session, seeding the data where it is.
    #[arg(long)]
    pub seed: bool,
    /// Print a JSON object for scripts (path, name, info hashes, piece size, pieces, files,
    /// size, magnet, skipped).
    #[arg(long)]
    pub json: bool,
    /// With --seed: the session's state directory (default: $XDG_DATA_HOME/ttui or
    /// ~/.local/share/ttui).
    #[arg(long, value_name = "DIR", requires = "seed")]
    pub state_dir: Option<PathBuf>,
}

impl CreateArgs {
    fn version(&self) -> MetaVersion {
        if self.v1 {
            MetaVersion::V1
        } else if self.v2 {
            MetaVersion::V2
        } else {
            MetaVersion::Hybrid
        }
    }
}

/// BEP 12 tiers from the --tracker values (see its help).
fn tiers(values: &[String]) -> Vec<Vec<String>> {
    values
        .iter()
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|u| !u.is_empty())
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .filter(|t| !t.is_empty())
        .collect()
}

/// How many skipped entries are named one by one before a count of the rest.
const SKIPS_NAMED: usize = 10;

fn report_skipped(skipped: &[Skipped]) {
    let mut err = std::io::stderr().lock();
    for s in skipped.iter().take(SKIPS_NAMED) {
        let _ = writeln!(
            err,
            "skipped {} ({})",
            crate::fmt::clean(&s.path.display().to_string()),
            s.why
        );
    }
    if skipped.len() > SKIPS_NAMED {
        let _ = writeln!(err, "skipped {} more", skipped.len() - SKIPS_NAMED);
    }
}

/// Runs `ttui create`; errors are one line.
pub(crate) fn run(args: CreateArgs) -> Result<i32, String> {
    let version = args.version();
    let piece_length = match &args.piece_size {
        Some(text) => Some(create::parse_piece_size(text).map_err(|e| e.to_string())?),
        None => None,
    };
    let scan = create::scan(&args.path, args.hidden).map_err(|e| e.to_string())?;
    let output = args
        .output
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{}.torrent", scan.name)));
    check_output(&output, args.force)?;
    report_skipped(&scan.skipped);

    let opts = CreateOptions {
        version,
        piece_length,
        trackers: tiers(&args.trackers),
        web_seeds: args.web_seeds.clone(),
        private: args.private,
        comment: args.comment.clone(),
        source: args.source.clone(),
        created_by: Some(CREATED_BY.to_owned()),
        creation_date: (!args.no_date).then(unix_now),
        threads: 0,
    };
    let created = hash_with_progress(&scan, &opts)?;
    write_output(&output, &created.bytes, args.force)?;

    let trackers: Vec<String> = opts.trackers.iter().flatten().cloned().collect();
    let magnet = crate::protocol::magnet::format_magnet(
        created.info_hash_v1.as_ref(),
        created.info_hash_v2.as_ref(),
        &created.name,
        &trackers,
    );
    let seeded = if args.seed {
        Some(super::create_seed::add(
            &args.path,
            &created,
            args.state_dir.as_deref(),
        )?)
    } else {
        None
    };
    if args.json {
        let value = serde_json::json!({
            "path": super::run::absolute(&output),
            "name": created.name,
            "version": created.version,
            "info_hash_v1": created.info_hash_v1.map(|h| hex::encode(&h)),
            "info_hash_v2": created.info_hash_v2.map(|h| hex::encode(&h)),
            "piece_length": created.piece_length,
            "pieces": created.pieces,
            "files": created.files,
            "size": created.size,
            "magnet": magnet,
            "skipped": scan.skipped,
            "seeded": seeded,
        });
        println!("{value}");
    } else {
        print_summary(&output, &created);
        if args.magnet {
            println!("{magnet}");
        }
        if let Some(id) = seeded {
            println!("seeding it in the session as torrent {id}");
        }
    }
    Ok(0)
}

/// The creation date a .torrent carries (BEP 3's `creation date`, an integer).
fn unix_now() -> i64 {
    i64::try_from(crate::engine::api::unix_now()).unwrap_or(0)
}

/// Fails early, before any hashing, when the output exists (without --force) or its
/// directory does not.
fn check_output(output: &Path, force: bool) -> Result<(), String> {
    if !force && std::fs::symlink_metadata(output).is_ok() {
        return Err(format!(
            "{} exists: use --force to overwrite it, or -o to write elsewhere",
            output.display()
        ));
    }
    let dir = match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        return Err(format!(
            "cannot write {}: {} is not a directory",
            output.display(),
            dir.display()
        ));
    }
    Ok(())
}

fn write_output(output: &Path, bytes: &[u8], force: bool) -> Result<(), String> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if force {
        options.create(true).truncate(true);
    } else {
        // Another process may have made it while we hashed.
        options.create_new(true);
    }
    options
        .open(output)
        .and_then(|mut f| f.write_all(bytes))
        .map_err(|e| format!("cannot write {}: {e}", output.display()))
}

/// Hashes on the calling thread while another draws the progress line.
fn hash_with_progress(scan: &Scan, opts: &CreateOptions) -> Result<Created, String> {
    let done = AtomicU64::new(0);
    let finished = AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| super::create_progress::show(scan.total, &done, &finished));
        let result = create::build(scan, opts, &done);
        finished.store(true, Ordering::Relaxed);
        result.map_err(|e| e.to_string())
    })
}

fn print_summary(output: &Path, c: &Created) {
    let kind = match c.version {
        MetaVersion::V1 => "v1",
        MetaVersion::V2 => "v2",
        MetaVersion::Hybrid => "hybrid v1+v2",
    };
    println!(
        "created {} ({kind}): {} file{}, {}, {} pieces of {}",
        output.display(),
        c.files,
        if c.files == 1 { "" } else { "s" },
        crate::fmt::bytes(c.size),
        c.pieces,
        crate::fmt::bytes(u64::from(c.piece_length)),
    );
    if let Some(h) = c.info_hash_v1 {
        println!("info hash v1: {}", hex::encode(&h));
    }
    if let Some(h) = c.info_hash_v2 {
        println!("info hash v2: {}", hex::encode(&h));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_tracker_flag_is_a_tier_and_commas_share_one() {
        let given = [
            "http://a/".to_string(),
            " http://b/, http://c/ ,".into(),
            ",".into(),
        ];
        assert_eq!(
            tiers(&given),
            [vec!["http://a/"], vec!["http://b/", "http://c/"]]
        );
    }
}
