//! The config file applied to the command line: every option not given as a flag takes the
//! file's value (`config.rs` reads the file; this maps its keys onto the flags), and each key
//! remembers where its value came from, for `ttui config`.

use clap::parser::ValueSource;
use clap::ArgMatches;

use crate::cli::DownloadArgs;
use crate::config::{Config, QbtConfig, RpcConfig};

/// Where a setting's value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    Default,
    File,
    Flag,
}

impl Origin {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Origin::Default => "default",
            Origin::File => "config file",
            Origin::Flag => "flag",
        }
    }
}

fn on_command_line(m: &ArgMatches, id: &str) -> bool {
    matches!(m.value_source(id), Some(ValueSource::CommandLine))
}

/// Fills every option not given on the command line from the file; returns each config key
/// with where its value now comes from. `m` are the matches `args` were parsed from.
pub(crate) fn apply(
    cfg: &Config,
    args: &mut DownloadArgs,
    m: &ArgMatches,
) -> Vec<(&'static str, Origin)> {
    let mut origins = Vec::new();
    macro_rules! take {
        ($key:ident, $id:literal, |$v:ident| $set:expr) => {{
            let origin = if on_command_line(m, $id) {
                Origin::Flag
            } else if let Some($v) = cfg.$key.clone() {
                $set;
                Origin::File
            } else {
                Origin::Default
            };
            origins.push((stringify!($key), origin));
        }};
    }
    take!(output, "output", |v| args.output = v);
    take!(port, "port", |v| args.port = v);
    take!(bind, "bind", |v| args.bind = v);
    take!(interface, "interface", |v| args.interface = Some(v));
    take!(encryption, "encryption", |v| args.encryption = v);
    take!(transport, "transport", |v| args.transport = v);
    take!(dht, "no_dht", |v| args.no_dht = !v);
    take!(dht_bootstrap, "dht_bootstrap", |v| args.dht_bootstrap = v);
    take!(dht_rate_limit, "dht_rate_limit", |v| args.dht_rate_limit =
        v);
    take!(pex, "no_pex", |v| args.no_pex = !v);
    take!(lsd, "no_lsd", |v| args.no_lsd = !v);
    take!(cross_seed, "no_cross_seed", |v| args.no_cross_seed = !v);
    take!(webtorrent, "no_webtorrent", |v| args.no_webtorrent = !v);
    take!(stun_server, "stun_server", |v| args.stun_server = Some(v));
    take!(max_peers, "max_peers", |v| args.max_peers = v);
    take!(state_dir, "state_dir", |v| args.state_dir = Some(v));
    take!(log_file, "log_file", |v| args.log_file = Some(v));
    take!(watch_dir, "watch_dir", |v| args.watch_dir = Some(v));
    take!(incomplete_dir, "incomplete_dir", |v| args.incomplete_dir =
        Some(v));
    take!(on_complete, "on_complete", |v| args.on_complete = Some(v));
    take!(on_complete_timeout, "on_complete_timeout", |v| args
        .on_complete_timeout =
        v);
    let q = &mut args.queue;
    take!(max_active_downloads, "max_active_downloads", |v| q
        .max_active_downloads =
        v);
    take!(max_active_seeds, "max_active_seeds", |v| q
        .max_active_seeds =
        v);
    take!(slow_torrent_rate, "slow_torrent_rate", |v| q
        .slow_torrent_rate =
        v);
    take!(stalled_time, "stalled_time", |v| q.stalled_time = v);
    take!(seed_ratio, "seed_ratio", |v| q.seed_ratio = v);
    take!(seed_time, "seed_time", |v| q.seed_time = v);
    take!(seed_idle, "seed_idle", |v| q.seed_idle = v);
    take!(seed_goal_action, "seed_goal_action", |v| q
        .seed_goal_action =
        v);
    let r = &mut args.rates;
    take!(down_limit, "down_limit", |v| r.down_limit = v);
    take!(up_limit, "up_limit", |v| r.up_limit = v);
    take!(alt_down_limit, "alt_down_limit", |v| r.alt_down_limit = v);
    take!(alt_up_limit, "alt_up_limit", |v| r.alt_up_limit = v);
    take!(alt_schedule, "alt_schedule", |v| r.alt_schedule = Some(v));
    take!(exempt_local_peers, "exempt_local_peers", |v| r
        .exempt_local_peers =
        v);
    take!(blocklist, "blocklist", |v| args.blocklist = Some(v));
    take!(blocklist_update_hours, "blocklist_update_hours", |v| args
        .blocklist_update_hours =
        v);
    take!(proxy, "proxy", |v| args.proxy = Some(v));
    take!(proxy_only, "proxy_only", |v| args.proxy_only = v);
    take!(port_mapping, "no_port_mapping", |v| args.no_port_mapping =
        !v);
    take!(port_mapping_gateway, "port_mapping_gateway", |v| args
        .port_mapping_gateway =
        Some(v));
    take!(port_mapping_igd, "port_mapping_igd", |v| args
        .port_mapping_igd =
        Some(v));
    take!(port_mapping_lease, "port_mapping_lease", |v| args
        .port_mapping_lease =
        v);
    apply_rpc(cfg.rpc.as_ref(), args, m, &mut origins);
    apply_qbt(cfg.qbt.as_ref(), args, m, &mut origins);
    if let Some(st) = &cfg.stream {
        args.stream_settings = crate::stream::StreamSettings {
            listen: st.listen,
            username: st.username.clone(),
            password: st.password.clone(),
        };
    }
    args.labels = cfg
        .labels
        .iter()
        .flatten()
        .map(|(name, l)| (name.clone(), l.defaults()))
        .collect();
    args.trackers = cfg
        .trackers
        .iter()
        .flatten()
        .map(|(host, t)| (host.clone(), t.rule()))
        .collect();
    origins
}

/// The `[rpc]` table under `--rpc`; the credentials and the allowlist come from the file only.
fn apply_rpc(
    rpc: Option<&RpcConfig>,
    args: &mut DownloadArgs,
    m: &ArgMatches,
    origins: &mut Vec<(&'static str, Origin)>,
) {
    let file = rpc.cloned().unwrap_or_default();
    let from_file = |set: bool| if set { Origin::File } else { Origin::Default };
    let listen = if on_command_line(m, "rpc") {
        Origin::Flag
    } else {
        args.rpc = file.listen;
        from_file(file.listen.is_some())
    };
    origins.push(("rpc.listen", listen));
    origins.push(("rpc.username", from_file(file.username.is_some())));
    origins.push(("rpc.password", from_file(file.password.is_some())));
    origins.push(("rpc.password_file", from_file(file.password_file.is_some())));
    origins.push((
        "rpc.host_whitelist",
        from_file(file.host_whitelist.is_some()),
    ));
    origins.push(("rpc.web_home", from_file(file.web_home.is_some())));
    args.rpc_settings = crate::rpc::RpcSettings {
        listen: args.rpc,
        username: file.username,
        password: file.password,
        password_file: file.password_file,
        host_whitelist: file.host_whitelist.unwrap_or_default(),
        web_home: file.web_home,
    };
}

/// The `[qbt]` table under `--qbt`, as `[rpc]` under `--rpc`: only its listen address is
/// a flag.
fn apply_qbt(
    qbt: Option<&QbtConfig>,
    args: &mut DownloadArgs,
    m: &ArgMatches,
    origins: &mut Vec<(&'static str, Origin)>,
) {
    let file = qbt.cloned().unwrap_or_default();
    let from_file = |set: bool| if set { Origin::File } else { Origin::Default };
    let listen = if on_command_line(m, "qbt") {
        Origin::Flag
    } else {
        args.qbt = file.listen;
        from_file(file.listen.is_some())
    };
    origins.push(("qbt.listen", listen));
    origins.push(("qbt.username", from_file(file.username.is_some())));
    origins.push(("qbt.password", from_file(file.password.is_some())));
    origins.push(("qbt.password_file", from_file(file.password_file.is_some())));
    origins.push(("qbt.api_key", from_file(file.api_key.is_some())));
    origins.push((
        "qbt.host_whitelist",
        from_file(file.host_whitelist.is_some()),
    ));
    origins.push(("qbt.ban", from_file(file.ban.is_some())));
    origins.push(("qbt.web_home", from_file(file.web_home.is_some())));
    args.qbt_settings = crate::qbt::QbtSettings {
        listen: args.qbt,
        username: file.username,
        password: file.password,
        password_file: file.password_file,
        api_key: file.api_key,
        host_whitelist: file.host_whitelist.unwrap_or_default(),
        ban: file.ban,
        web_home: file.web_home,
    };
}
