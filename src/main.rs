use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use ttui::cli::{self, Cli, Cmd};

fn main() -> ExitCode {
    // Reports from panics go through color-eyre, after the TUI has restored the terminal.
    let _ = color_eyre::install();
    ttui::ui::install_panic_hook();
    let cli = Cli::parse();
    let result = match cli.command {
        None => {
            use std::io::IsTerminal;
            let args = cli.download;
            if args.headless || !std::io::stdout().is_terminal() {
                // One-shot: never touches the saved session.
                cli::run::run_download(args, false)
            } else {
                let files = args.torrent.iter().cloned().collect();
                cli::session::run(args, files)
            }
        }
        Some(Cmd::Daemon(args)) => cli::verbs::daemon(args),
        Some(Cmd::Verb(verb)) => match cli::verbs::run(verb) {
            Ok(code) => Ok(code),
            Err(e) => {
                eprintln!("error: {}", e.message.replace('\n', " "));
                return ExitCode::from(e.kind.exit_code().clamp(1, 255) as u8);
            }
        },
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
        Some(Cmd::Seed(args)) => cli::run::run_download(args, true),
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
