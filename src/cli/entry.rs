//! The binary's entry: parse the command line, read the config where a command needs it, run
//! the command, and turn its result into one line and an exit code.

use std::io::Write;
use std::process::ExitCode;

use clap::{ArgMatches, CommandFactory, FromArgMatches};

use super::{Cli, Cmd, DownloadArgs};
use crate::cli::config_apply::{self, Origin};
use crate::config::{self, Loaded};
use crate::control::ControlError;

/// What `main` runs.
pub fn run() -> ExitCode {
    // Reports from panics go through color-eyre, after the TUI has restored the terminal.
    let _ = color_eyre::install();
    crate::ui::install_panic_hook();
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    match dispatch(cli, &matches) {
        Ok(code) => ExitCode::from(code.clamp(0, 255) as u8),
        Err(Failure::Verb(e)) => {
            eprintln!("error: {}", e.message.replace('\n', " "));
            ExitCode::from(e.kind.exit_code().clamp(1, 255) as u8)
        }
        Err(Failure::Line(msg)) => {
            // One line, whatever the cause.
            let line = msg.replace('\n', " ");
            eprintln!("error: {}", crate::protocol::text::clamp_line(&line));
            ExitCode::from(1)
        }
    }
}

/// Why a command failed: the verbs have documented exit codes, everything else exits 1.
enum Failure {
    Verb(ControlError),
    Line(String),
}

/// Where the config file is, from the global flags.
struct ConfigAt {
    path: Option<std::path::PathBuf>,
    skip: bool,
}

/// The download arguments with the config file applied under the flags of `m`, and where each
/// setting came from (for `ttui config`).
type Configured = (DownloadArgs, Vec<(&'static str, Origin)>, Loaded);

impl From<String> for Failure {
    fn from(line: String) -> Failure {
        Failure::Line(line)
    }
}

impl ConfigAt {
    /// Read only by the commands that use it, so a broken file does not stop `ttui info`.
    fn load(&self) -> Result<Loaded, String> {
        config::load(self.path.as_deref(), self.skip)
    }

    fn apply(&self, mut args: DownloadArgs, m: &ArgMatches) -> Result<Configured, String> {
        let loaded = self.load()?;
        let origins = config_apply::apply(&loaded.config, &mut args, m);
        // Without a proxy, proxy_only would quietly let everything go direct: the opposite
        // of what it asks for.
        if args.proxy_only && args.proxy.is_none() {
            return Err(
                "proxy_only is on but no proxy is set: set proxy = \"socks5://host:port\" \
                        (or --proxy), or turn proxy_only off"
                    .into(),
            );
        }
        if let Some(name) = &args.interface {
            crate::net::device::check(name, Some(args.bind)).map_err(|e| e.to_string())?;
        }
        Ok((args, origins, loaded))
    }
}

fn dispatch(cli: Cli, matches: &ArgMatches) -> Result<i32, Failure> {
    let sub = |name: &str| matches.subcommand_matches(name).unwrap_or(matches);
    let at = ConfigAt {
        path: cli.config,
        skip: cli.no_config,
    };
    let Some(command) = cli.command else {
        let (args, ..) = at.apply(cli.download, matches)?;
        return Ok(open(args)?);
    };
    let code = match command {
        Cmd::Daemon(args) => {
            let (a, ..) = at.apply(args, sub("daemon"))?;
            super::verbs::daemon(a)?
        }
        Cmd::Config(args) => {
            let (a, origins, loaded) = at.apply(args, sub("config"))?;
            print!("{}", super::setup::config_text(&a, &origins, &loaded));
            0
        }
        Cmd::Completions { shell } => super::setup::completions(shell)?,
        Cmd::Man => super::setup::man()?,
        Cmd::Verb(mut verb) => {
            verb.take_swallowed_flags()?;
            let loaded = at.load()?;
            // The verbs find the session where the config puts it.
            let to = verb.at_mut();
            to.state_dir = to.state_dir.take().or(loaded.config.state_dir);
            super::verbs::run(verb).map_err(Failure::Verb)?
        }
        Cmd::Seed(args) => {
            let (a, ..) = at.apply(args, sub("seed"))?;
            super::run::run_download(a, true)?
        }
        Cmd::Attach(a) => {
            let target = match &a.ssh {
                Some(host) => super::attach::ssh_command(
                    host,
                    &a.remote_ttui,
                    a.state_dir.as_deref(),
                    a.ssh_config.as_deref(),
                ),
                None => super::attach::local(a.state_dir.as_deref()),
            };
            super::attach::run(target, a.ssh.clone())?
        }
        Cmd::Bridge { state_dir } => {
            super::attach::bridge(state_dir.as_deref()).map_err(Failure::Verb)?
        }
        Cmd::Info { torrent } => info(&torrent)?,
        Cmd::Create(args) => super::create::run(args)?,
        Cmd::Peers {
            torrent,
            port,
            no_dht,
            dht_bootstrap,
        } => {
            let dht = super::run::bootstrap_nodes(no_dht, &dht_bootstrap);
            super::diag::peers(&super::load_torrent(&torrent)?, port, dht)?
        }
        Cmd::Handshake {
            torrent,
            addr,
            encryption,
        } => super::diag::handshake(&super::load_torrent(&torrent)?, addr, encryption)?,
        Cmd::Probe {
            torrent,
            peers,
            no_trackers,
            encryption,
        } => super::diag::probe(
            &super::load_torrent(&torrent)?,
            &peers,
            no_trackers,
            encryption,
        )?,
        Cmd::Demo(args) => crate::demo::run(args)?,
    };
    Ok(code)
}

/// `ttui [FILE...]`: the session on a terminal; without one (a browser or a file manager
/// opening a magnet link), a hand-over to the running session, else a one-shot download.
fn open(args: DownloadArgs) -> Result<i32, String> {
    use std::io::IsTerminal;
    if args.headless {
        // One-shot: never touches the saved session (nor the watch directory).
        super::run::run_download(args, false)
    } else if !std::io::stdout().is_terminal() {
        let files: Vec<_> = args.torrent.iter().cloned().collect();
        match super::session::hand_over_if_running(&args, &files)? {
            Some(code) => Ok(code),
            None => super::run::run_download(args, false),
        }
    } else {
        let files = args.torrent.iter().cloned().collect();
        super::session::run(args, files)
    }
}

/// `ttui info`: a reader that has seen enough (`| head`) closes the pipe, and that ends it quietly.
fn info(torrent: &std::path::Path) -> Result<i32, String> {
    let m = crate::engine::host::load::load_torrent_or_layers(torrent)?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let printed = match &m {
        Ok(m) => super::info::print_info(m, &mut out),
        Err(needs) => super::info::print_needs_layers(needs, &mut out),
    };
    match printed.and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(0),
        other => other.map(|()| 0).map_err(|e| e.to_string()),
    }
}
