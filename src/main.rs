// Unit tests may unwrap; the binary itself may not (`[lints]` in Cargo.toml).
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]
use std::io::Write;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};
use ttui::cli::{self, Cli, Cmd};

fn main() -> ExitCode {
    // Reports from panics go through color-eyre, after the TUI has restored the terminal.
    let _ = color_eyre::install();
    ttui::ui::install_panic_hook();
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    // Read only by the commands that use it, so a broken file does not stop `ttui info`.
    let config = || ttui::config::load(cli.config.as_deref(), cli.no_config);
    let sub = |name: &str| matches.subcommand_matches(name).unwrap_or(&matches);
    let configured = |mut args: cli::DownloadArgs, m: &clap::ArgMatches| {
        config().map(|loaded| {
            let origins = ttui::config::apply(&loaded.config, &mut args, m);
            (args, origins, loaded)
        })
    };
    let result = match cli.command {
        None => match configured(cli.download, &matches) {
            Err(e) => Err(e),
            Ok((args, ..)) => {
                use std::io::IsTerminal;
                if args.headless || !std::io::stdout().is_terminal() {
                    // One-shot: never touches the saved session (nor the watch directory).
                    cli::run::run_download(args, false)
                } else {
                    let files = args.torrent.iter().cloned().collect();
                    cli::session::run(args, files)
                }
            }
        },
        Some(Cmd::Daemon(args)) => {
            configured(args, sub("daemon")).and_then(|(a, ..)| cli::verbs::daemon(a))
        }
        Some(Cmd::Config(args)) => configured(args, sub("config")).map(|(a, origins, loaded)| {
            print!("{}", cli::setup::config_text(&a, &origins, &loaded));
            0
        }),
        Some(Cmd::Completions { shell }) => cli::setup::completions(shell),
        Some(Cmd::Man) => cli::setup::man(),
        Some(Cmd::Verb(mut verb)) => {
            let verb = match config() {
                Ok(loaded) => {
                    // The verbs find the session where the config puts it.
                    let at = verb.at_mut();
                    at.state_dir = at.state_dir.take().or(loaded.config.state_dir);
                    Ok(verb)
                }
                Err(e) => Err(e),
            };
            match verb.map(cli::verbs::run) {
                Err(e) => Err(e),
                Ok(Ok(code)) => Ok(code),
                Ok(Err(e)) => {
                    eprintln!("error: {}", e.message.replace('\n', " "));
                    return ExitCode::from(e.kind.exit_code().clamp(1, 255) as u8);
                }
            }
        }
        Some(Cmd::Seed(args)) => {
            configured(args, sub("seed")).and_then(|(a, ..)| cli::run::run_download(a, true))
        }
        Some(Cmd::Attach(a)) => {
            let target = match &a.ssh {
                Some(host) => cli::attach::ssh_command(
                    host,
                    &a.remote_ttui,
                    a.state_dir.as_deref(),
                    a.ssh_config.as_deref(),
                ),
                None => cli::attach::local(a.state_dir.as_deref()),
            };
            cli::attach::run(target)
        }
        Some(Cmd::Bridge { state_dir }) => match cli::attach::bridge(state_dir.as_deref()) {
            Ok(code) => Ok(code),
            Err(e) => {
                eprintln!("error: {}", e.message.replace('\n', " "));
                return ExitCode::from(e.kind.exit_code().clamp(1, 255) as u8);
            }
        },
        Some(Cmd::Info { torrent }) => cli::load_torrent(&torrent).and_then(|m| {
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            let printed = cli::info::print_info(&m, &mut out).and_then(|()| out.flush());
            match printed {
                // A reader that has seen enough (`| head`) closes the pipe: stop quietly.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(0),
                other => other.map(|()| 0).map_err(|e| e.to_string()),
            }
        }),
        Some(Cmd::Peers {
            torrent,
            port,
            no_dht,
            dht_bootstrap,
        }) => {
            let dht = cli::run::bootstrap_nodes(no_dht, &dht_bootstrap);
            cli::load_torrent(&torrent).and_then(|m| cli::diag::peers(&m, port, dht))
        }
        Some(Cmd::Handshake {
            torrent,
            addr,
            encryption,
        }) => cli::load_torrent(&torrent).and_then(|m| cli::diag::handshake(&m, addr, encryption)),
        Some(Cmd::Probe {
            torrent,
            peers,
            no_trackers,
            encryption,
        }) => cli::load_torrent(&torrent)
            .and_then(|m| cli::diag::probe(&m, &peers, no_trackers, encryption)),
        Some(Cmd::Demo(args)) => ttui::demo::run(args),
    };
    match result {
        Ok(code) => ExitCode::from(code.clamp(0, 255) as u8),
        Err(msg) => {
            // One line, whatever the cause.
            let line = msg.replace('\n', " ");
            eprintln!("error: {}", ttui::protocol::text::clamp_line(&line));
            ExitCode::from(1)
        }
    }
}
