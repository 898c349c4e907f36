//! What a seedbox user sets up once: `ttui config` (the effective settings, where each comes
//! from, and every path), `ttui completions SHELL` and `ttui man`, both generated from the
//! clap definition so they never drift from the flags (the man page adds the hand-written
//! sections of `assets/man/`, see `cli/man.rs`).

use std::io::Write;
use std::path::Path;

use clap::CommandFactory;

use crate::cli::config_apply::Origin;
use crate::cli::logging::default_log_path;
use crate::cli::run::state_dir;
use crate::cli::{Cli, DownloadArgs};
use crate::config::Loaded;
use crate::engine::api::flag_text;

/// The text `ttui config` prints: every config key with its effective value and origin, then
/// every path.
pub(crate) fn config_text(
    args: &DownloadArgs,
    origins: &[(&'static str, Origin)],
    loaded: &Loaded,
) -> String {
    let mut out = String::new();
    let file = match &loaded.path {
        None => "none (--no-config)".to_string(),
        Some(p) if loaded.found => p.display().to_string(),
        Some(p) => format!("{} (not there: built-in defaults)", p.display()),
    };
    out.push_str(&format!("config file: {file}\n\n"));
    out.push_str(&format!("{:<22} {:<40} FROM\n", "SETTING", "VALUE"));
    for (key, origin) in origins {
        let value = value_of(args, key);
        out.push_str(&format!("{key:<22} {value:<40} {}\n", origin.label()));
    }
    if !args.labels.is_empty() {
        out.push_str("\nLABELS (config file)\n");
        for (name, d) in &args.labels {
            out.push_str(&format!(
                "{:<22} {}\n",
                crate::fmt::outside(name, 64),
                label_text(d)
            ));
        }
    }
    if !args.trackers.is_empty() {
        out.push_str("\nTRACKERS (config file)\n");
        for (host, r) in &args.trackers {
            out.push_str(&format!(
                "{:<22} {}\n",
                crate::fmt::outside(host, 64),
                tracker_text(r)
            ));
        }
    }
    let dir = state_dir(args);
    let socket = crate::control::paths::socket_path(&dir, args.state_dir.is_none());
    let log = match &args.log_file {
        Some(p) => p.display().to_string(),
        None => format!(
            "{} (`ttui daemon` logs to stderr instead)",
            default_log_path().display()
        ),
    };
    out.push_str("\nPATHS\n");
    let mut path = |what: &str, p: String| out.push_str(&format!("{what:<16} {p}\n"));
    path(
        "config file",
        loaded.path.as_deref().map_or("none".into(), shown),
    );
    path("state dir", shown(&dir));
    path("control socket", shown(&socket));
    path("log file", log);
    path(
        "download dir",
        shown(&crate::cli::run::absolute(&args.output)),
    );
    path(
        "watch dir",
        args.watch_dir.as_deref().map_or("none".into(), shown),
    );
    path(
        "incomplete dir",
        args.incomplete_dir.as_deref().map_or("none".into(), shown),
    );
    out
}

fn shown(p: &Path) -> String {
    p.display().to_string()
}

fn value_of(args: &DownloadArgs, key: &str) -> String {
    let on = |b: bool| if b { "on" } else { "off" }.to_string();
    let path = |p: &Option<std::path::PathBuf>| p.as_deref().map_or("(unset)".into(), shown);
    match key {
        "output" => shown(&args.output),
        "port" => args.port.to_string(),
        "bind" => args.bind.to_string(),
        "interface" => args.interface.clone().unwrap_or_else(|| "(any)".into()),
        "encryption" => enum_name(args.encryption),
        "transport" => enum_name(args.transport),
        "dht" => on(!args.no_dht),
        "dht_bootstrap" if args.dht_bootstrap.is_empty() => "(built-in routers)".into(),
        "dht_bootstrap" => args.dht_bootstrap.join(","),
        "dht_rate_limit" => args.dht_rate_limit.to_string(),
        "pex" => on(!args.no_pex),
        "lsd" => on(!args.no_lsd),
        "cross_seed" => on(!args.no_cross_seed),
        "webtorrent" => on(!args.no_webtorrent),
        "stun_server" => crate::cli::run::stun_server(args).unwrap_or_else(|| "off".into()),
        "max_peers" => args.max_peers.to_string(),
        "state_dir" => path(&args.state_dir),
        "log_file" => path(&args.log_file),
        "watch_dir" => path(&args.watch_dir),
        "incomplete_dir" => path(&args.incomplete_dir),
        "blocklist" => args.blocklist.clone().unwrap_or_else(|| "off".into()),
        "blocklist_update_hours" => args.blocklist_update_hours.to_string(),
        // Display masks the password.
        "proxy" => args.proxy.as_ref().map_or("off".into(), |p| p.to_string()),
        "proxy_only" => on(args.proxy_only),
        "port_mapping" => on(!args.no_port_mapping),
        "port_mapping_gateway" => args
            .port_mapping_gateway
            .map_or("(default route's)".into(), |g| g.to_string()),
        "port_mapping_igd" => args
            .port_mapping_igd
            .clone()
            .unwrap_or_else(|| "(found by SSDP)".into()),
        "port_mapping_lease" => flag_text(args.port_mapping_lease),
        "on_complete" => path(&args.on_complete),
        "on_complete_timeout" => flag_text(args.on_complete_timeout),
        "max_active_downloads" => args.queue.max_active_downloads.to_string(),
        "max_active_seeds" => args.queue.max_active_seeds.to_string(),
        "slow_torrent_rate" => crate::engine::api::rate_flag(args.queue.slow_torrent_rate),
        "stalled_time" => flag_text(args.queue.stalled_time),
        "seed_ratio" => args
            .queue
            .seed_ratio
            .map_or("off".into(), |r| r.to_string()),
        "seed_time" => args.queue.seed_time.map_or("off".into(), flag_text),
        "seed_idle" => args.queue.seed_idle.map_or("off".into(), flag_text),
        "seed_goal_action" => enum_name(args.queue.seed_goal_action),
        "rpc.listen" => args.rpc.map_or("off".into(), |a| a.to_string()),
        "rpc.username" => args
            .rpc_settings
            .username
            .clone()
            .unwrap_or_else(|| "(unset)".into()),
        "rpc.password" => match args.rpc_settings.password {
            Some(_) => "(set, not shown)".into(),
            None => "(unset)".into(),
        },
        "rpc.password_file" => path(&args.rpc_settings.password_file),
        "rpc.host_whitelist" if args.rpc_settings.host_whitelist.is_empty() => {
            "(IP addresses and localhost only)".into()
        }
        "rpc.host_whitelist" => args.rpc_settings.host_whitelist.join(","),
        "rpc.web_home" => path(&args.rpc_settings.web_home),
        k if k.starts_with("qbt.") => qbt_value(args, k),
        k => args.rates.shown(k).unwrap_or_else(|| "?".into()),
    }
}

/// A `[qbt]` key's value as `ttui config` shows it; secrets are never shown.
fn qbt_value(args: &DownloadArgs, key: &str) -> String {
    let q = &args.qbt_settings;
    let secret = |s: &Option<String>| match s {
        Some(_) => "(set, not shown)".to_string(),
        None => "(unset)".to_string(),
    };
    match key {
        "qbt.listen" => args.qbt.map_or("off".into(), |a| a.to_string()),
        "qbt.username" => q.username.clone().unwrap_or_else(|| "(unset)".into()),
        "qbt.password" => secret(&q.password),
        "qbt.password_file" => q.password_file.as_deref().map_or("(unset)".into(), shown),
        "qbt.api_key" => secret(&q.api_key),
        "qbt.host_whitelist" if q.host_whitelist.is_empty() => {
            "(IP addresses and localhost only)".into()
        }
        "qbt.host_whitelist" => q.host_whitelist.join(","),
        "qbt.ban" => flag_text(q.ban.unwrap_or(crate::qbt::BAN)),
        "qbt.web_home" => q.web_home.as_deref().map_or("(unset)".into(), shown),
        _ => "?".into(),
    }
}

/// `save_path=/data/tv seed_ratio=2 seed_idle=off`: what a label's table sets.
fn label_text(d: &crate::engine::api::LabelDefaults) -> String {
    let mut parts = Vec::new();
    if let Some(p) = &d.save_path {
        parts.push(format!("save_path={}", shown(p)));
    }
    goal_parts(&mut parts, (d.seed_ratio, d.seed_time, d.seed_idle));
    if parts.is_empty() {
        "(nothing set)".into()
    } else {
        parts.join(" ")
    }
}

/// `up_limit=1 MiB/s seed_ratio=2`: what a tracker's table sets.
fn tracker_text(r: &crate::engine::api::TrackerRule) -> String {
    let mut parts = Vec::new();
    for (key, v) in [("down_limit", r.limits.down), ("up_limit", r.limits.up)] {
        if v > 0 {
            parts.push(format!("{key}={}", crate::engine::api::show_rate(v)));
        }
    }
    goal_parts(&mut parts, (r.seed_ratio, r.seed_time, r.seed_idle));
    if parts.is_empty() {
        "(nothing set)".into()
    } else {
        parts.join(" ")
    }
}

type GoalSets = (
    Option<crate::engine::api::Set<f64>>,
    Option<crate::engine::api::Set<std::time::Duration>>,
    Option<crate::engine::api::Set<std::time::Duration>>,
);

fn goal_parts(parts: &mut Vec<String>, (seed_ratio, seed_time, seed_idle): GoalSets) {
    use crate::engine::api::Set;
    let goal = |v: Option<String>| v.unwrap_or_else(|| "off".into());
    let ratio = |s: Set<f64>| match s {
        Set::To(r) => Some(r.to_string()),
        _ => None,
    };
    let time = |s: Set<std::time::Duration>| match s {
        Set::To(d) => Some(flag_text(d)),
        _ => None,
    };
    if let Some(s) = seed_ratio {
        parts.push(format!("seed_ratio={}", goal(ratio(s))));
    }
    if let Some(s) = seed_time {
        parts.push(format!("seed_time={}", goal(time(s))));
    }
    if let Some(s) = seed_idle {
        parts.push(format!("seed_idle={}", goal(time(s))));
    }
}

fn enum_name<T: clap::ValueEnum>(v: T) -> String {
    v.to_possible_value()
        .map_or("?".into(), |p| p.get_name().to_string())
}

/// `ttui completions SHELL`.
pub(crate) fn completions(shell: clap_complete::Shell) -> Result<i32, String> {
    let mut cmd = Cli::command();
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cmd, "ttui", &mut buf);
    write_stdout(&buf)
}

/// `ttui man`: the man page of ttui, in roff (clap's sections and the hand-written ones).
pub(crate) fn man() -> Result<i32, String> {
    let page = crate::cli::man::page().map_err(|e| format!("man page: {e}"))?;
    write_stdout(&page)
}

fn write_stdout(bytes: &[u8]) -> Result<i32, String> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(format!("stdout: {e}")),
        _ => Ok(0),
    }
}
