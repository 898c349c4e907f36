//! The verbs that talk to the running session (`ttui add/list/show/pause/resume/verify/remove/
//! move`) and `ttui daemon`, the session without a screen. A verb connects to the control
//! socket, sends one request and prints the answer for people (tables) or scripts (`--json`);
//! errors go to stderr with the documented exit code (`control::proto::ErrorKind`).

use std::path::{Path, PathBuf};

use crate::cli::logging::init_logging;
use crate::cli::run::absolute;
use crate::cli::run::{state_dir, state_dir_of};
use crate::cli::session::{claim, read_items, start_session, stop, Claim};
use crate::cli::verbs_fmt as out;
use crate::cli::{DownloadArgs, Verb};
use crate::control::proto::{AddItem, ControlError, ErrorKind, Request, Response};
use crate::control::Client;

/// A verb's outcome: the exit code, or an error already worded for stderr and its code.
pub(crate) type VerbResult = Result<i32, ControlError>;

/// Runs one verb against the session of its state directory.
pub(crate) fn run(verb: Verb) -> VerbResult {
    let given = verb.at().state_dir.clone();
    let dir = state_dir_of(given.as_deref());
    let socket = crate::control::paths::socket_path(&dir, given.is_none());
    let rt = tokio::runtime::Runtime::new()
        .map_err(|e| ControlError::new(ErrorKind::Internal, format!("tokio runtime: {e}")))?;
    rt.block_on(async move { ask(verb, &socket).await })
}

async fn ask(verb: Verb, socket: &Path) -> VerbResult {
    let json = verb.json();
    let request = match verb {
        Verb::Add {
            sources,
            output,
            paused,
            only_files,
            sequential,
            labels,
            ..
        } => {
            add_request(
                &sources,
                output.as_deref(),
                paused,
                (only_files, sequential),
                labels,
            )
            .await?
        }
        Verb::Label {
            id, changes, clear, ..
        } => label_request(id, &changes, clear)?,
        Verb::List { .. } => Request::List,
        Verb::Show { id, .. } => Request::Show { id },
        Verb::Pause { ids, .. } => Request::Pause { ids },
        Verb::Resume {
            ids, force: true, ..
        } => Request::Force { ids },
        Verb::Resume { ids, .. } => Request::Resume { ids },
        Verb::Queue { id, to, .. } => Request::Queue { id, to },
        Verb::SuperSeed { id, on, .. } => Request::SuperSeed {
            id,
            on: on == crate::cli::verbs_files::OnOff::On,
        },
        Verb::Limit {
            ids,
            down,
            up,
            turtle,
            goals,
            ..
        } if goals.any() => goals_request(ids, (down, up, turtle), goals)?,
        Verb::Verify { ids, .. } => Request::Verify { ids },
        Verb::Remove {
            ids, delete_data, ..
        } => Request::Remove { ids, delete_data },
        Verb::Files {
            id,
            skip,
            priority,
            sequential,
            ..
        } => crate::cli::verbs_files::request(id, skip, priority, sequential)?,
        Verb::Move { id, dir, .. } => Request::Move {
            id,
            dir: absolute(&dir),
        },
        Verb::Rename { id, path, name, .. } => {
            crate::engine::api::check_name(&name).map_err(|e| bad(&e.to_string()))?;
            Request::Rename { id, path, name }
        }
        Verb::Limit {
            ids,
            down,
            up,
            turtle,
            ..
        } => Request::Limit {
            ids,
            change: crate::engine::api::LimitChange { down, up, turtle },
        },
        Verb::Blocklist { .. } => Request::BlocklistUpdate,
        Verb::Stats { by, .. } => Request::Stats { by: by.into() },
        Verb::CrossSeed {
            dir, add, label, ..
        } => cross_seed_request(&dir, add, label).await?,
        Verb::Stream { id, file, .. } => Request::StreamUrl { id, file },
        Verb::Play { id, file, .. } => return crate::cli::play::play(socket, id, file).await,
    };
    let verb_name = request.verb();
    let mut client = Client::connect(socket).await?;
    if json && matches!(request, Request::List) {
        let body = client.request_raw(&request).await?;
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        return match crate::cli::list_json::write_list(&body, &mut out)? {
            None => Ok(0),
            Some(Response::Error(e)) => Err(crate::control::client::error_of(e)),
            Some(response) => print_response(verb_name, response, json),
        };
    }
    let response = client.request(&request).await?;
    print_response(verb_name, response, json)
}

/// `ttui add`: the sources read here (a file or stdin is the client's, not the session's)
/// and the paths made absolute.
async fn add_request(
    sources: &[PathBuf],
    output: Option<&Path>,
    paused: bool,
    (only_files, sequential): (Option<String>, bool),
    labels: Vec<String>,
) -> Result<Request, ControlError> {
    crate::engine::api::check_labels(&labels).map_err(|e| bad(&e.to_string()))?;
    let only = match only_files.as_deref() {
        Some(list) => {
            Some(crate::engine::api::parse_file_list(list, None).map_err(|e| bad(&e.to_string()))?)
        }
        None => None,
    };
    if sources.is_empty() {
        return Err(bad(
            "nothing to add: name a .torrent file, a magnet link or a URL",
        ));
    }
    let items = read_items(sources)
        .await
        .map_err(|e| ControlError::new(ErrorKind::BadArgument, e))?;
    Ok(Request::Add {
        items,
        save_path: output.map(absolute),
        paused,
        files: crate::engine::api::AddFiles {
            only,
            sequential,
            first_last: false,
            subfolder: false,
            complete: false,
        },
        labels,
    })
}

/// `ttui cross-seed DIR`: every .torrent in DIR (not below it), read here, in name order.
async fn cross_seed_request(dir: &Path, add: bool, label: String) -> Result<Request, ControlError> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| bad(&format!("cannot read {}: {e}", dir.display())))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && p.extension()
                    .is_some_and(|x| x.eq_ignore_ascii_case("torrent"))
        })
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(bad(&format!("no .torrent files in {}", dir.display())));
    }
    let mut items = read_items(&files)
        .await
        .map_err(|e| ControlError::new(ErrorKind::BadArgument, e))?;
    // Each named by its file in the folder, as the table shows it.
    for (item, path) in items.iter_mut().zip(&files) {
        if let (AddItem::Torrent { name, .. }, Some(file)) = (item, path.file_name()) {
            *name = file.to_string_lossy().into_owned();
        }
    }
    Ok(Request::CrossSeed { items, add, label })
}

/// `ttui label ID +tv -old`: the edit, checked here so a typo fails before the session.
fn label_request(id: String, changes: &[String], clear: bool) -> Result<Request, ControlError> {
    let (mut add, mut remove) = (Vec::new(), Vec::new());
    for c in changes {
        match c.strip_prefix('-') {
            Some(l) => remove.push(l.to_string()),
            None => add.push(c.strip_prefix('+').unwrap_or(c).to_string()),
        }
    }
    for l in add.iter().chain(&remove) {
        crate::engine::api::check_label(l).map_err(|e| bad(&e.to_string()))?;
    }
    let edit = if clear {
        crate::engine::api::LabelEdit::Set(add)
    } else {
        crate::engine::api::LabelEdit::Change { add, remove }
    };
    Ok(Request::Label {
        ids: vec![id],
        edit,
    })
}

/// `ttui limit ID` with seeding goals: one torrent, and no rate limits in the same call.
fn goals_request(
    ids: Vec<String>,
    (down, up, turtle): (Option<u64>, Option<u64>, Option<crate::engine::api::Turtle>),
    goals: crate::cli::goal_args::GoalArgs,
) -> Result<Request, ControlError> {
    if down.is_some() || up.is_some() || turtle.is_some() {
        return Err(bad(
            "set rate limits and seeding goals in two calls of `ttui limit`",
        ));
    }
    let Ok([id]) = <[String; 1]>::try_from(ids) else {
        return Err(bad(
            "seeding goals are set for one torrent at a time: give its ID",
        ));
    };
    let secs = |s: crate::engine::api::Set<std::time::Duration>| match s {
        crate::engine::api::Set::To(d) => crate::engine::api::Set::To(d.as_secs()),
        crate::engine::api::Set::Off => crate::engine::api::Set::Off,
        crate::engine::api::Set::Default => crate::engine::api::Set::Default,
    };
    Ok(Request::Goals {
        id,
        seed_ratio: goals.seed_ratio,
        seed_time_secs: goals.seed_time.map(secs),
        seed_idle_secs: goals.seed_idle.map(secs),
    })
}

fn bad(msg: &str) -> ControlError {
    ControlError::new(ErrorKind::BadArgument, msg)
}

fn print_response(verb: &str, response: Response, json: bool) -> VerbResult {
    let width = terminal_width();
    match response {
        Response::Error(e) => Err(e),
        Response::CrossSeed(rows) => {
            if json {
                println!("{}", out::json(&rows));
            } else {
                print!("{}", out::cross_seed_table(&rows));
            }
            Ok(i32::from(rows.iter().any(|r| r.error.is_some())))
        }
        Response::Stats(stats) => {
            if json {
                println!("{}", out::json(&stats));
            } else {
                print!("{}", out::stats_table(&stats));
            }
            Ok(0)
        }
        Response::Blocklist(status) => {
            if json {
                println!("{}", out::json(&status));
            } else {
                println!(
                    "blocklist {}: {} ranges in force ({} bad lines skipped)",
                    status.source, status.ranges, status.bad_lines
                );
            }
            Ok(0)
        }
        Response::Added(results) => {
            if json {
                println!("{}", out::json(&results));
            } else {
                print!("{}", out::add_lines(&results));
                eprint!("{}", out::add_errors(&results));
            }
            Ok(i32::from(results.iter().any(|r| r.error.is_some())))
        }
        Response::List(rows) => {
            if json {
                println!("{}", out::json(&rows));
            } else {
                print!("{}", out::list_table(&rows, width));
            }
            Ok(0)
        }
        Response::Show(detail) if verb == "files" => {
            crate::cli::verbs_files::print(&detail, json);
            Ok(0)
        }
        Response::Show(detail) => {
            if json {
                println!("{}", out::json(&detail));
            } else {
                print!("{}", out::show_text(&detail));
            }
            Ok(0)
        }
        Response::Done(results) => {
            if json {
                println!("{}", out::json(&results));
            } else {
                let past = match verb {
                    "pause" => "paused",
                    "resume" => "resumed",
                    "verify" => "checking",
                    "remove" => "removed",
                    "move" => "moving",
                    "rename" => "renamed",
                    "force" => "force-started",
                    "queue" => "moved in the queue",
                    "super_seed" => "super-seeding set",
                    "goals" => "goals set",
                    _ => "done",
                };
                print!("{}", out::done_lines(past, &results));
                eprint!("{}", out::done_errors(&results));
            }
            Ok(i32::from(results.iter().any(|r| r.error.is_some())))
        }
        Response::StreamUrl(s) => {
            if json {
                println!("{}", out::json(&s));
            } else {
                println!("{}", s.url);
            }
            Ok(0)
        }
        Response::Limits(now) => {
            if json {
                println!("{}", out::json(&now));
            } else {
                print!("{}", crate::cli::limit::text(&now));
            }
            Ok(0)
        }
        // Streams answer only `ttui attach`'s requests; a listing is read back as `List`.
        Response::Session(_)
        | Response::Snapshot(_)
        | Response::Stream(_)
        | Response::Listing(_) => Err(ControlError::new(
            ErrorKind::Internal,
            "unexpected answer from the session",
        )),
    }
}

fn terminal_width() -> usize {
    crossterm::terminal::size().map_or(120, |(w, _)| usize::from(w.max(40)))
}

/// `ttui daemon`: the session without a screen, until SIGTERM or SIGINT (both save
/// everything before it exits).
pub(crate) fn daemon(args: DownloadArgs) -> Result<i32, String> {
    crate::cli::run::refuse_files_without_torrent(&args)?;
    crate::engine::host::ignore_sigxfsz();
    crate::alloc::tune();
    let dir = state_dir(&args);
    if let Some(path) = &args.log_file {
        init_logging(path)?;
    } else {
        use std::io::IsTerminal;
        let _ = tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::stderr().is_terminal())
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_env("TTUI_LOG")
                    .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
            )
            .try_init();
    }
    let rt = tokio::runtime::Runtime::new().map_err(|e| format!("tokio runtime: {e}"))?;
    rt.block_on(async move {
        let lock = match claim(&dir)? {
            Claim::Ours(lock) => lock,
            Claim::Running => {
                return Err(format!(
                    "a ttui session already runs on {} (stop it first, or use `ttui list`)",
                    dir.display()
                ))
            }
        };
        let (handle, server) = start_session(&args, &dir).await?;
        let items = read_items(&args.torrent.iter().cloned().collect::<Vec<PathBuf>>()).await?;
        let (_, lines) = crate::cli::session::add_all(
            &handle.client(),
            items,
            None,
            (false, Default::default()),
        )
        .await;
        for l in lines {
            tracing::info!("{l}");
        }
        tracing::info!("session running on {}", dir.display());
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .map_err(|e| format!("signal: {e}"))?;
        let mut done = handle.snapshot.clone();
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM: stopping"),
            _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: stopping"),
            // A `shutdown` request stops the session from inside.
            _ = async { while done.changed().await.is_ok() {} } => {}
        }
        stop(handle, server).await;
        drop(lock);
        Ok(0)
    })
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, FromArgMatches};

    use crate::cli::{Cli, Cmd, Verb};

    fn label(argv: &[&str]) -> Result<Verb, String> {
        let m = Cli::command()
            .try_get_matches_from(argv)
            .map_err(|e| e.to_string())?;
        let Some(Cmd::Verb(mut v)) = Cli::from_arg_matches(&m).unwrap().command else {
            panic!("not a verb");
        };
        v.take_swallowed_flags()?;
        Ok(v)
    }

    #[test]
    fn the_label_verb_reads_minus_labels_and_still_its_own_flags() {
        let v = label(&[
            "ttui",
            "label",
            "3",
            "-old",
            "+new",
            "tv",
            "--json",
            "--state-dir",
            "/s",
            "--clear",
        ])
        .unwrap();
        let Verb::Label {
            id,
            changes,
            clear,
            at,
        } = v
        else {
            panic!("not label");
        };
        assert_eq!(id, "3");
        assert_eq!(changes, ["-old", "+new", "tv"]);
        assert!(clear && at.json);
        assert_eq!(at.state_dir.as_deref(), Some(std::path::Path::new("/s")));
        let v = label(&["ttui", "label", "--json", "3", "--state-dir=/t", "-x"]).unwrap();
        assert!(v.json());
        assert!(label(&["ttui", "label", "3", "-a", "--bogus"])
            .unwrap_err()
            .contains("--bogus"));
        assert!(label(&["ttui", "label", "3", "-a", "--state-dir"]).is_err());
    }
}
