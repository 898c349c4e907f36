//! Command line: every clap type, and reading the torrent a command names. The commands
//! themselves live in the files below: `run` (download/seed, TUI or headless), `headless`
//! (progress lines), `info` and `diag`; `create` (`ttui create`: making a .torrent); `session` (`ttui` on a terminal: the session and its
//! hand-over), `verbs` (`ttui daemon`, `ttui add/list/...`), `serve` (the session's end of
//! the control socket), `serve_watch` (the snapshot streams `ttui attach` reads), `attach`
//! (`ttui attach`, `ttui bridge`), `verbs_fmt` (what the verbs print), `setup` (`ttui config`,
//! `completions`, `man`; `man` builds the page), `watch` (the watch directory); `ttui demo` is `crate::demo`, the
//! config file `crate::config`.

pub(crate) mod attach;
pub(crate) mod config_apply;
pub(crate) mod create;
mod create_progress;
mod create_seed;
pub(crate) mod diag;
pub(crate) mod entry;
pub(crate) mod goal_args;
pub(crate) mod headless;
pub mod info;
pub(crate) mod limit;
mod list_json;
pub(crate) mod logging;
mod man;
pub(crate) mod play;
pub(crate) mod rate_args;
pub(crate) mod run;
pub(crate) mod session;
pub(crate) mod setup;
pub(crate) mod target;
pub(crate) mod verbs;
pub(crate) mod verbs_files;
pub(crate) mod verbs_fmt;
pub(crate) mod watch;

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};

use crate::protocol::metainfo::Metainfo;

#[derive(Debug, Parser)]
#[command(
    name = "ttui",
    version,
    about = "A BitTorrent client for the terminal that shows why a swarm is slow",
    args_conflicts_with_subcommands = true
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub command: Option<Cmd>,
    #[command(flatten)]
    pub download: DownloadArgs,
    /// Read the defaults from this config file instead of ~/.config/ttui/config.toml.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Read no config file: built-in defaults and flags only.
    #[arg(long, global = true, conflicts_with = "config")]
    pub no_config: bool,
}

#[derive(Debug, Args, Clone)]
pub(crate) struct DownloadArgs {
    /// The .torrent file (or a magnet link) to download.
    pub torrent: Option<PathBuf>,
    /// Directory the torrent's files are written to.
    #[arg(short, long, default_value = ".")]
    pub output: PathBuf,
    /// Port to listen on for peers (0 picks a free one).
    #[arg(long, default_value_t = 6881)]
    pub port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "0.0.0.0")]
    pub bind: IpAddr,
    /// Bind every peer, tracker and web seed socket to this network interface (a VPN's, e.g.
    /// wg0); while it is down or has no address, nothing is sent (a kill switch).
    #[arg(long, value_name = "IF")]
    pub interface: Option<String>,
    /// Also dial this peer (repeatable); works with no tracker at all.
    #[arg(long = "peer", value_name = "ADDR")]
    pub peers: Vec<SocketAddr>,
    /// Print progress lines instead of the full-screen interface (also when stdout is not a
    /// terminal).
    #[arg(long)]
    pub headless: bool,
    /// Keep seeding after the download completes (headless; the TUI always does until quit).
    #[arg(long)]
    pub seed: bool,
    /// Fetch only these files (0-based in the torrent's order, as `ttui info` lists them;
    /// e.g. `0,3-5`); the others are never created. A magnet's list applies once its
    /// metadata arrives.
    #[arg(long, value_name = "LIST")]
    pub only_files: Option<String>,
    /// Fetch pieces in order (first and last piece of each file first), for previews.
    #[arg(long)]
    pub sequential: bool,
    /// Do not contact the torrent's trackers.
    #[arg(long)]
    pub no_trackers: bool,
    /// Message stream encryption (MSE/PE): `prefer` tries RC4 first and falls back to plain,
    /// `require` talks to encrypting peers only, `off` never encrypts.
    #[arg(long, value_enum, default_value_t = crate::net::EncryptionPolicy::Prefer)]
    pub encryption: crate::net::EncryptionPolicy,
    /// Transports for peer connections: `both` dials both, prefers uTP and falls back to
    /// TCP, and accepts both; `tcp` and `utp` use only that one.
    #[arg(long, value_enum, default_value_t = crate::engine::api::TransportPolicy::Both)]
    pub transport: crate::engine::api::TransportPolicy,
    /// Do not run a DHT node (trackers, PEX and --peer only).
    #[arg(long)]
    pub no_dht: bool,
    /// DHT bootstrap node HOST:PORT (repeatable; IPv6 as `[::1]:6881`); replaces the
    /// built-in public routers.
    #[arg(long = "dht-bootstrap", value_name = "HOST:PORT")]
    pub dht_bootstrap: Vec<String>,
    /// Bytes a second the DHT node may send in answer to other nodes (replies, errors and
    /// verifying pings together); more is dropped, so a flood of queries cannot use ttui as
    /// an amplifier.
    #[arg(long, value_name = "BYTES", default_value_t = crate::dht::budget::DEFAULT_REPLY_BUDGET,
          value_parser = clap::value_parser!(u32).range(i64::from(crate::dht::budget::MIN_REPLY_BUDGET)..))]
    pub dht_rate_limit: u32,
    /// Do not exchange peers with peers (BEP 11).
    #[arg(long)]
    pub no_pex: bool,
    /// Do not announce torrents on the LAN nor look for peers there (BEP 14 Local Service
    /// Discovery; never for private torrents).
    #[arg(long)]
    pub no_lsd: bool,
    /// Do not look for a new torrent's files in the data of the torrents the session seeds
    /// (cross-seeding: found files are linked, proven, and only the rest is fetched).
    #[arg(long)]
    pub no_cross_seed: bool,
    /// No WebTorrent: no WebRTC offers in WebSocket trackers' announces, no browser peers
    /// (never for private torrents, nor under a proxy).
    #[arg(long)]
    pub no_webtorrent: bool,
    /// The STUN server WebRTC asks for your public address, so browsers behind NATs reach
    /// you (HOST:PORT; `off` for none). It learns your address and that you run WebRTC
    /// (default: stun.l.google.com:19302, as libtorrent and browsers use).
    #[arg(long, value_name = "HOST:PORT")]
    pub stun_server: Option<String>,
    /// The session's state directory: its torrents, their resume data, the DHT routing table
    /// (default: $XDG_DATA_HOME/ttui or ~/.local/share/ttui).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Most peer connections at once.
    #[arg(long, default_value_t = 50)]
    pub max_peers: usize,
    /// Log file (default: $XDG_STATE_HOME/ttui/ttui.log or ~/.local/state/ttui/ttui.log); past
    /// 32 MiB it becomes FILE.1 and a new one begins.
    #[arg(long)]
    pub log_file: Option<PathBuf>,
    /// Add every .torrent or .magnet file dropped in this directory, renaming it `*.added`
    /// (or `*.invalid`); the session only (`ttui` on a terminal, `ttui daemon`).
    #[arg(long, value_name = "DIR")]
    pub watch_dir: Option<PathBuf>,
    /// Serve the Transmission RPC on this address, e.g. 127.0.0.1:9091 (the session only:
    /// `ttui` on a terminal, `ttui daemon`). Another address than loopback needs
    /// `rpc.username` and `rpc.password` in the config file.
    #[arg(long, value_name = "ADDR:PORT")]
    pub rpc: Option<SocketAddr>,
    /// Serve qBittorrent's Web API v2 on this address, e.g. 127.0.0.1:8080 (the session
    /// only), for qBittorrent's tools and web UIs. Another address than loopback needs
    /// `qbt.username` and `qbt.password` in the config file.
    #[arg(long, value_name = "ADDR:PORT")]
    pub qbt: Option<SocketAddr>,
    /// Download into this directory, and move each torrent's files to its own directory
    /// (-o, the add's, its label's) once complete (the session only).
    #[arg(long, value_name = "DIR")]
    pub incomplete_dir: Option<PathBuf>,
    /// Run this program when a torrent completes (the session only), told about the
    /// torrent in its environment (TTUI_TORRENT_* and Transmission's TR_TORRENT_*); no
    /// shell: the path of an executable, a script with its #! line.
    #[arg(long, value_name = "CMD")]
    pub on_complete: Option<PathBuf>,
    /// How long --on-complete may run before it is killed (45s, 10m, 1h).
    #[arg(long, value_name = "DURATION", default_value = "10m",
          value_parser = crate::engine::api::parse_duration)]
    pub on_complete_timeout: std::time::Duration,
    /// An IP blocklist to enforce both ways: a file or http(s) URL in the PeerGuardian
    /// (`name:1.2.3.4-1.2.3.255`) or eMule DAT format, gzip or not (the session only).
    #[arg(long, value_name = "PATH|URL")]
    pub blocklist: Option<String>,
    /// How often the blocklist is read again, in hours.
    #[arg(long, value_name = "HOURS", default_value_t = 24,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub blocklist_update_hours: u32,
    /// A SOCKS5 proxy for peers, trackers and web seeds: socks5://[user:pass@]host:port
    /// (socks5h:// has it resolve trackers' and web seeds' names); the DHT, uTP and UDP
    /// trackers go through its UDP relay, and are off while it has none.
    #[arg(long, value_name = "URL", value_parser = crate::engine::api::ProxySpec::parse)]
    pub proxy: Option<crate::engine::api::ProxySpec>,
    /// Nothing goes out but through --proxy: no listening, and nothing at all while the
    /// proxy is down.
    #[arg(long)]
    pub proxy_only: bool,
    /// Do not ask the router to forward the listen port (PCP, NAT-PMP, UPnP IGD).
    #[arg(long)]
    pub no_port_mapping: bool,
    /// The NAT-PMP/PCP server to ask, instead of the default route's gateway on port 5351.
    #[arg(long, value_name = "ADDR:PORT")]
    pub port_mapping_gateway: Option<SocketAddr>,
    /// The UPnP IGD's description URL to ask, instead of one an SSDP search finds.
    #[arg(long, value_name = "URL", value_parser = crate::engine::api::parse_igd_url)]
    pub port_mapping_igd: Option<String>,
    /// The lease to ask the router for (the mapping is renewed at half of what it grants).
    #[arg(long, value_name = "DURATION", default_value = "2h",
          value_parser = crate::engine::api::parse_duration)]
    pub port_mapping_lease: std::time::Duration,
    /// The RPC's settings from the config file (credentials are never flags).
    #[arg(skip)]
    pub rpc_settings: crate::rpc::RpcSettings,
    /// qBittorrent's Web API settings from the config file (`[qbt]`).
    #[arg(skip)]
    pub qbt_settings: crate::qbt::QbtSettings,
    /// The stream server's settings from the config file (`[stream]`).
    #[arg(skip)]
    pub stream_settings: crate::stream::StreamSettings,
    /// `[labels.NAME]` of the config file (a table, so never a flag).
    #[arg(skip)]
    pub labels: crate::engine::api::LabelTable,
    /// `[trackers."HOST"]` of the config file (a table, so never a flag).
    #[arg(skip)]
    pub trackers: crate::engine::api::TrackerRules,
    #[command(flatten)]
    pub queue: goal_args::QueueArgs,
    #[command(flatten)]
    pub rates: rate_args::RateArgs,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Cmd {
    /// Print a torrent's name, size, pieces, info hash, trackers and files.
    Info { torrent: PathBuf },
    /// Make a .torrent (hybrid v1+v2 by default) from a file or a directory.
    Create(create::CreateArgs),
    /// Announce to the torrent's trackers and print the peers, one ip:port a line.
    Peers {
        torrent: PathBuf,
        /// Port to report to the tracker.
        #[arg(long, default_value_t = 6881)]
        port: u16,
        /// Ask the trackers only, not the DHT.
        #[arg(long)]
        no_dht: bool,
        /// DHT bootstrap node HOST:PORT (repeatable; IPv6 as `[::1]:6881`); replaces the
        /// built-in public routers.
        #[arg(long = "dht-bootstrap", value_name = "HOST:PORT")]
        dht_bootstrap: Vec<String>,
    },
    /// Do one handshake with a peer and print its peer id and client.
    Handshake {
        torrent: PathBuf,
        addr: SocketAddr,
        /// `prefer` tries RC4 only and plain only in turn and says which ways the peer
        /// answered; `require` and `off` try just that way.
        #[arg(long, value_enum, default_value_t = crate::net::EncryptionPolicy::Prefer)]
        encryption: crate::net::EncryptionPolicy,
    },
    /// Handshake every known peer in parallel and print who answers and who does not.
    Probe {
        torrent: PathBuf,
        /// Also probe this peer (repeatable).
        #[arg(long = "peer", value_name = "ADDR")]
        peers: Vec<SocketAddr>,
        /// Only probe the peers given with --peer.
        #[arg(long)]
        no_trackers: bool,
        /// `prefer` tries RC4 only and plain only in turn and says which ways each peer
        /// answered; `require` and `off` try just that way.
        #[arg(long, value_enum, default_value_t = crate::net::EncryptionPolicy::Prefer)]
        encryption: crate::net::EncryptionPolicy,
    },
    /// Verify existing data in the output directory and seed it.
    Seed(DownloadArgs),
    /// A local swarm on 127.0.0.1 with the TUI downloading from it; needs no internet.
    Demo(DemoArgs),
    /// Run the session without a screen: every saved torrent, the control socket for the
    /// verbs; SIGTERM or SIGINT stops it, saving everything.
    Daemon(DownloadArgs),
    /// Print the effective settings, where each comes from, and every path ttui uses.
    Config(DownloadArgs),
    /// Print a shell completion script, generated from these very flags.
    Completions { shell: clap_complete::Shell },
    /// Print the man page: every flag, and the reference the README leaves out (roff; e.g.
    /// `ttui man | man -l -`).
    Man,
    /// The full screen of a running session (`ttui daemon`, or another `ttui`); quitting it
    /// leaves the session running. With --ssh, of a session on another machine.
    Attach(AttachArgs),
    /// Join stdin/stdout to the session's control socket (what `ttui attach --ssh` runs on
    /// the other machine).
    Bridge {
        /// The session's state directory (default: $XDG_DATA_HOME/ttui or ~/.local/share/ttui).
        #[arg(long, value_name = "DIR")]
        state_dir: Option<PathBuf>,
    },
    #[command(flatten)]
    Verb(Verb),
}

#[derive(Debug, Clone, Args)]
pub(crate) struct AttachArgs {
    /// The session's state directory (on the other machine with --ssh; default:
    /// $XDG_DATA_HOME/ttui or ~/.local/share/ttui).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Attach to the session on this machine through the system's `ssh` client (its own
    /// config, keys and agent; no port of ours is opened).
    #[arg(long, value_name = "[USER@]HOST")]
    pub ssh: Option<String>,
    /// The ttui to run on the other machine, when it is not on its PATH.
    #[arg(long, value_name = "PATH", default_value = "ttui", requires = "ssh")]
    pub remote_ttui: String,
    /// An ssh config file for this connection (passed as `ssh -F FILE`).
    #[arg(long, value_name = "FILE", requires = "ssh")]
    pub ssh_config: Option<PathBuf>,
}

/// The verbs: each talks to the running session over its control socket.
#[derive(Debug, Clone, Subcommand)]
pub(crate) enum Verb {
    /// Add torrents (.torrent files, magnet links, http(s) URLs) to the running session.
    Add {
        #[arg(value_name = "FILE|MAGNET|URL")]
        sources: Vec<PathBuf>,
        /// Save the data here (default: the session's download directory).
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Add without starting.
        #[arg(long)]
        paused: bool,
        /// Fetch only these files (0-based, as `ttui show` lists them; e.g. `0,3-5`); the
        /// others are skipped and never created.
        #[arg(long, value_name = "LIST")]
        only_files: Option<String>,
        /// Fetch pieces in order (first and last piece of each file first), for previews.
        #[arg(long)]
        sequential: bool,
        /// Put these labels on it (repeat, or `tv,hd`); a label with a `[labels.NAME]` table
        /// in the config brings its save path (without -o) and seeding goals.
        #[arg(long = "label", value_name = "LABEL", value_delimiter = ',')]
        labels: Vec<String>,
        #[command(flatten)]
        at: At,
    },
    /// Show or change a torrent's labels: `+tv` (or `tv`) adds one, `-old` takes one away,
    /// `--clear` takes them all away first. Prints the torrent's row afterwards.
    Label {
        /// The id from `ttui list`, 6+ hex digits of the info hash, or `all`.
        id: String,
        #[arg(value_name = "+LABEL|-LABEL", allow_hyphen_values = true)]
        changes: Vec<String>,
        /// Take every label away before the changes.
        #[arg(long)]
        clear: bool,
        #[command(flatten)]
        at: At,
    },
    /// List a torrent's files (index, size, done, priority), or change their priorities.
    Files {
        /// The id from `ttui list`, or 6+ hex digits of the info hash.
        id: String,
        /// Skip these files (e.g. `0,3-5`): not fetched, not created.
        #[arg(long, value_name = "LIST", conflicts_with = "priority")]
        skip: Option<String>,
        /// Set these files' priority: `--priority high 0,2`.
        #[arg(long, num_args = 2, value_names = ["high|normal|low|skip", "LIST"])]
        priority: Option<Vec<String>>,
        /// Fetch pieces in order (`on`) or rarest first (`off`).
        #[arg(long, value_name = "on|off")]
        sequential: Option<crate::cli::verbs_files::OnOff>,
        #[command(flatten)]
        at: At,
    },
    /// List the session's torrents.
    List {
        #[command(flatten)]
        at: At,
    },
    /// One torrent in detail: files, trackers, peers.
    Show {
        /// The id from `ttui list`, or 6+ hex digits of the info hash.
        id: String,
        #[command(flatten)]
        at: At,
    },
    /// Pause torrents (IDs, or `all`).
    Pause {
        #[arg(required = true)]
        ids: Vec<String>,
        #[command(flatten)]
        at: At,
    },
    /// Resume torrents (IDs, or `all`); with --force, start them regardless of the queue
    /// (without it, a forced torrent goes back under the queue).
    Resume {
        #[arg(required = true)]
        ids: Vec<String>,
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        at: At,
    },
    /// Check every piece of these torrents again (IDs, or `all`).
    Verify {
        #[arg(required = true)]
        ids: Vec<String>,
        #[command(flatten)]
        at: At,
    },
    /// Remove torrents from the session (their data stays unless --delete-data).
    Remove {
        #[arg(required = true)]
        ids: Vec<String>,
        /// Also delete the downloaded files.
        #[arg(long)]
        delete_data: bool,
        #[command(flatten)]
        at: At,
    },
    /// Move a torrent in the queue: top, up, down or bottom.
    Queue {
        id: String,
        #[arg(value_parser = clap::value_parser!(crate::engine::api::Move))]
        to: crate::engine::api::Move,
        #[command(flatten)]
        at: At,
    },
    /// BEP 16 super-seeding for a torrent (on while it seeds; kept across restarts): peers
    /// see no bitfield and are offered a few pieces at a time, so each piece leaves once.
    SuperSeed {
        id: String,
        #[arg(value_name = "on|off")]
        on: crate::cli::verbs_files::OnOff,
        #[command(flatten)]
        at: At,
    },
    /// Move a torrent's data to another directory.
    Move {
        id: String,
        dir: PathBuf,
        #[command(flatten)]
        at: At,
    },
    /// Rename a file or folder of a torrent: PATH as `ttui files` shows it (the torrent's
    /// name first), NAME its new last part. The top folder renames the torrent.
    Rename {
        id: String,
        path: String,
        name: String,
        #[command(flatten)]
        at: At,
    },
    /// Rate limits: the session's (no ID) or torrents' own (IDs, or `all`); without --down,
    /// --up or --turtle, prints them. RATE: 2M, 500K, 1.5MiB (K/M/G = KiB/MiB/GiB per
    /// second), 0 = unlimited. With --seed-ratio, --seed-time or --seed-idle: one torrent's
    /// own seeding goals (over the session's).
    Limit {
        ids: Vec<String>,
        #[arg(long, value_name = "RATE", value_parser = crate::engine::api::parse_rate)]
        down: Option<u64>,
        #[arg(long, value_name = "RATE", value_parser = crate::engine::api::parse_rate)]
        up: Option<u64>,
        /// Turtle mode: the alternative limits (--alt-down-limit, --alt-up-limit).
        #[arg(long, value_enum)]
        turtle: Option<crate::engine::api::Turtle>,
        #[command(flatten)]
        goals: goal_args::GoalArgs,
        #[command(flatten)]
        at: At,
    },
    /// Print the URL a media player streams a torrent's file from while it downloads
    /// (`mpv "$(ttui stream 3)"`). FILE: its index in `ttui files` (default: the largest
    /// media file).
    Stream {
        /// The id from `ttui list`, or 6+ hex digits of the info hash.
        id: String,
        file: Option<usize>,
        #[command(flatten)]
        at: At,
    },
    /// Play a torrent's file while it downloads: starts $TTUI_PLAYER, the `player` setting,
    /// or the first of mpv, vlc, xdg-open found, with the stream's URL.
    Play {
        /// The id from `ttui list`, or 6+ hex digits of the info hash.
        id: String,
        file: Option<usize>,
        #[command(flatten)]
        at: At,
    },
    /// The session's blocklist: `update` reads it again now from its path or URL.
    Blocklist {
        #[arg(value_enum)]
        action: BlocklistAction,
        #[command(flatten)]
        at: At,
    },
    /// How each .torrent in DIR matches the data the session seeds (full, partial, none), and
    /// with --add the matches added: their files found on disk are linked and proven, only
    /// the rest is fetched.
    CrossSeed {
        #[arg(value_name = "DIR")]
        dir: PathBuf,
        /// Add the torrents that match fully or partly.
        #[arg(long)]
        add: bool,
        /// The label the added torrents get.
        #[arg(long, default_value = "cross-seed")]
        label: String,
        #[command(flatten)]
        at: At,
    },
    /// Bytes uploaded and downloaded today, this week, this month and in all, per tracker
    /// (or label, or torrent), with the ratio: what trackers were told, kept across restarts.
    Stats {
        /// Rows per tracker host, label or torrent.
        #[arg(long, value_enum, default_value = "tracker")]
        by: StatsByArg,
        #[command(flatten)]
        at: At,
    },
}

/// What `ttui stats` groups by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum StatsByArg {
    Tracker,
    Label,
    Torrent,
}

impl From<StatsByArg> for crate::engine::api::StatsBy {
    fn from(a: StatsByArg) -> Self {
        match a {
            StatsByArg::Tracker => Self::Tracker,
            StatsByArg::Label => Self::Label,
            StatsByArg::Torrent => Self::Torrent,
        }
    }
}

/// What `ttui blocklist` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum BlocklistAction {
    /// Read the list again now (it is also read every blocklist_update_hours).
    Update,
}

/// Which session a verb talks to, and how it prints.
#[derive(Debug, Clone, Args)]
pub(crate) struct At {
    /// Print JSON for scripts (its fields: `ttui man`, SCRIPTING).
    #[arg(long)]
    pub json: bool,
    /// The session's state directory (default: $XDG_DATA_HOME/ttui or ~/.local/share/ttui).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

impl Verb {
    pub(crate) fn at(&self) -> &At {
        match self {
            Verb::Add { at, .. }
            | Verb::List { at }
            | Verb::Show { at, .. }
            | Verb::Pause { at, .. }
            | Verb::Resume { at, .. }
            | Verb::Verify { at, .. }
            | Verb::Remove { at, .. }
            | Verb::Move { at, .. }
            | Verb::Rename { at, .. }
            | Verb::Files { at, .. }
            | Verb::Queue { at, .. }
            | Verb::SuperSeed { at, .. }
            | Verb::Label { at, .. }
            | Verb::Limit { at, .. }
            | Verb::Stream { at, .. }
            | Verb::Play { at, .. }
            | Verb::Blocklist { at, .. }
            | Verb::Stats { at, .. }
            | Verb::CrossSeed { at, .. } => at,
        }
    }

    pub(crate) fn at_mut(&mut self) -> &mut At {
        match self {
            Verb::Add { at, .. }
            | Verb::List { at }
            | Verb::Show { at, .. }
            | Verb::Pause { at, .. }
            | Verb::Resume { at, .. }
            | Verb::Verify { at, .. }
            | Verb::Remove { at, .. }
            | Verb::Move { at, .. }
            | Verb::Rename { at, .. }
            | Verb::Files { at, .. }
            | Verb::Queue { at, .. }
            | Verb::SuperSeed { at, .. }
            | Verb::Label { at, .. }
            | Verb::Limit { at, .. }
            | Verb::Stream { at, .. }
            | Verb::Play { at, .. }
            | Verb::Blocklist { at, .. }
            | Verb::Stats { at, .. }
            | Verb::CrossSeed { at, .. } => at,
        }
    }

    /// `ttui label ID -old` needs `-old` read as a value, and clap then reads everything
    /// after the first change as values too: the verb's own flags are taken back out here.
    pub(crate) fn take_swallowed_flags(&mut self) -> Result<(), String> {
        let Verb::Label {
            changes, clear, at, ..
        } = self
        else {
            return Ok(());
        };
        let mut kept = Vec::with_capacity(changes.len());
        let mut it = std::mem::take(changes).into_iter();
        while let Some(c) = it.next() {
            match c.as_str() {
                "--json" => at.json = true,
                "--clear" => *clear = true,
                "--state-dir" => {
                    let dir = it.next().ok_or("--state-dir needs a directory")?;
                    at.state_dir = Some(PathBuf::from(dir));
                }
                _ => match c.strip_prefix("--state-dir=") {
                    Some(dir) => at.state_dir = Some(PathBuf::from(dir)),
                    None if c.starts_with("--") => {
                        return Err(format!("ttui label: unknown flag {c}"));
                    }
                    None => kept.push(c),
                },
            }
        }
        *changes = kept;
        Ok(())
    }

    pub(crate) fn json(&self) -> bool {
        self.at().json
    }
}

#[derive(Debug, Clone, Args)]
pub(crate) struct DemoArgs {
    /// Payload size in MiB.
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..=65536))]
    pub size_mib: u64,
    /// About how long the download should take, in seconds (the seeders are throttled to it).
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86400))]
    pub seconds: u64,
    /// Progress lines instead of the TUI; exits 0 when the download verifies.
    #[arg(long)]
    pub headless: bool,
    /// Do not start third-party clients or a tracker even when they are installed.
    #[arg(long)]
    pub no_external: bool,
}

/// Reads and parses a .torrent (a file, `-` for stdin, or an http(s) URL), size-capped, with
/// the source in the one-line error.
pub(crate) fn load_torrent(path: &Path) -> Result<Metainfo, String> {
    crate::engine::host::load::load_torrent(path).map_err(String::from)
}
