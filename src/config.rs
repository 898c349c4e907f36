//! The config file: the defaults of the download options, set up once
//! (`$XDG_CONFIG_HOME/ttui/config.toml`, else `~/.config/ttui/config.toml`). Each key mirrors
//! a long flag; a flag given on the command line wins over the file, the file over the
//! built-in default, resolved here in one place ([`apply`]).
//!
//! Read with the `toml` crate (its parser only, no serializer): it is the reference
//! implementation of TOML for serde, kept by the Rust toolchain's own maintainers (cargo reads
//! Cargo.toml with it), and its errors carry the byte span we turn into a line number. A
//! hand-written `key = value` reader would have to get TOML's strings and arrays right again.

use std::path::{Path, PathBuf};

use clap::ValueEnum;
use serde::{Deserialize, Deserializer};

use crate::engine::api::TransportPolicy;
use crate::net::EncryptionPolicy;

/// Largest config file read: a config is a few hundred bytes; more is a mistake.
pub(crate) const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// Every key of the file, each optional. Unknown keys are an error, so a typo is not
/// silently ignored.
#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub output: Option<PathBuf>,
    pub port: Option<u16>,
    pub bind: Option<std::net::IpAddr>,
    /// A network interface's name (`--interface`).
    pub interface: Option<String>,
    #[serde(default, deserialize_with = "value_enum")]
    pub encryption: Option<EncryptionPolicy>,
    #[serde(default, deserialize_with = "value_enum")]
    pub transport: Option<TransportPolicy>,
    /// `false` is `--no-dht`.
    pub dht: Option<bool>,
    pub dht_bootstrap: Option<Vec<String>>,
    #[serde(default, deserialize_with = "rate_limit")]
    pub dht_rate_limit: Option<u32>,
    /// `false` is `--no-pex`.
    pub pex: Option<bool>,
    /// `false` is `--no-lsd`.
    pub lsd: Option<bool>,
    /// `false` is `--no-cross-seed`.
    pub cross_seed: Option<bool>,
    /// `false` is `--no-webtorrent`.
    pub webtorrent: Option<bool>,
    /// `--stun-server`; `"off"` for none.
    pub stun_server: Option<String>,
    #[serde(default, deserialize_with = "max_peers")]
    pub max_peers: Option<usize>,
    pub state_dir: Option<PathBuf>,
    pub log_file: Option<PathBuf>,
    pub watch_dir: Option<PathBuf>,
    /// Where torrents download until complete (`session/manager/completed.rs`).
    pub incomplete_dir: Option<PathBuf>,
    /// Run when a torrent completes (`engine::session::on_complete`).
    pub on_complete: Option<PathBuf>,
    #[serde(default, deserialize_with = "duration_text")]
    pub on_complete_timeout: Option<std::time::Duration>,
    // The queue and the seeding goals (`cli/goal_args.rs`); text values read as the flags do.
    pub max_active_downloads: Option<u32>,
    pub max_active_seeds: Option<u32>,
    #[serde(default, deserialize_with = "rate_key")]
    pub slow_torrent_rate: Option<u64>,
    #[serde(default, deserialize_with = "duration_text")]
    pub stalled_time: Option<std::time::Duration>,
    #[serde(default, deserialize_with = "ratio_goal")]
    pub seed_ratio: Option<Option<f64>>,
    #[serde(default, deserialize_with = "duration_goal")]
    pub seed_time: Option<Option<std::time::Duration>>,
    #[serde(default, deserialize_with = "duration_goal")]
    pub seed_idle: Option<Option<std::time::Duration>>,
    #[serde(default, deserialize_with = "value_enum")]
    pub seed_goal_action: Option<crate::engine::api::GoalAction>,
    // Rate limits: rates as "2M" or bytes per second.
    #[serde(default, deserialize_with = "rate_key")]
    pub down_limit: Option<u64>,
    #[serde(default, deserialize_with = "rate_key")]
    pub up_limit: Option<u64>,
    #[serde(default, deserialize_with = "rate_key")]
    pub alt_down_limit: Option<u64>,
    #[serde(default, deserialize_with = "rate_key")]
    pub alt_up_limit: Option<u64>,
    #[serde(default, deserialize_with = "schedule_key")]
    pub alt_schedule: Option<crate::engine::api::Schedule>,
    pub exempt_local_peers: Option<bool>,
    /// An IP blocklist's path or http(s) URL (`engine::session::blocklist`).
    pub blocklist: Option<String>,
    #[serde(default, deserialize_with = "update_hours")]
    pub blocklist_update_hours: Option<u32>,
    /// `socks5://[user:pass@]host:port` (`engine::api::ProxySpec`).
    #[serde(default, deserialize_with = "proxy_key")]
    pub proxy: Option<crate::engine::api::ProxySpec>,
    pub proxy_only: Option<bool>,
    /// `false` is `--no-port-mapping`.
    pub port_mapping: Option<bool>,
    pub port_mapping_gateway: Option<std::net::SocketAddr>,
    #[serde(default, deserialize_with = "igd_url")]
    pub port_mapping_igd: Option<String>,
    #[serde(default, deserialize_with = "duration_text")]
    pub port_mapping_lease: Option<std::time::Duration>,
    /// The Transmission RPC (`[rpc]`, or `rpc.listen = ...`).
    pub rpc: Option<RpcConfig>,
    /// qBittorrent's Web API (`[qbt]`, or `qbt.listen = ...`).
    pub qbt: Option<QbtConfig>,
    /// The media player `ttui play` and the TUI's `P` start (a command; the URL is added as
    /// its last argument); unset: $TTUI_PLAYER, else mpv, vlc or xdg-open.
    pub player: Option<String>,
    /// The HTTP stream server (`[stream]`, or `stream.listen = ...`).
    pub stream: Option<StreamConfig>,
    /// `[labels.tv]`: what a label brings to a torrent added with it.
    pub labels: Option<std::collections::BTreeMap<String, LabelConfig>>,
    /// `[trackers."tracker.example"]`: a rate limit and seeding goals for every torrent that
    /// announces to that host.
    pub trackers: Option<std::collections::BTreeMap<String, TrackerConfig>>,
}

/// One `[trackers."HOST"]` table: a limit its torrents share, and their seeding goals over
/// the session's (`engine::api::TrackerRule`).
#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackerConfig {
    #[serde(default, deserialize_with = "rate_key")]
    pub down_limit: Option<u64>,
    #[serde(default, deserialize_with = "rate_key")]
    pub up_limit: Option<u64>,
    #[serde(default, deserialize_with = "ratio_goal")]
    pub seed_ratio: Option<Option<f64>>,
    #[serde(default, deserialize_with = "duration_goal")]
    pub seed_time: Option<Option<std::time::Duration>>,
    #[serde(default, deserialize_with = "duration_goal")]
    pub seed_idle: Option<Option<std::time::Duration>>,
}

impl TrackerConfig {
    pub(crate) fn rule(&self) -> crate::engine::api::TrackerRule {
        crate::engine::api::TrackerRule {
            limits: crate::engine::api::RatePair {
                down: self.down_limit.unwrap_or(0),
                up: self.up_limit.unwrap_or(0),
            },
            seed_ratio: set(self.seed_ratio),
            seed_time: set(self.seed_time),
            seed_idle: set(self.seed_idle),
        }
    }
}

/// A goal as a table gives it (None: not set; `off`: Some(None)), as the engine takes it:
/// `off` switches that goal off for the torrent.
fn set<T>(v: Option<Option<T>>) -> Option<crate::engine::api::Set<T>> {
    use crate::engine::api::Set;
    v.map(|g| g.map_or(Set::Off, Set::To))
}

/// A `[trackers."…"]` key: a host name or address as announce URLs carry it, without scheme,
/// port or path (`tracker.example`, `203.0.113.5`, `[2001:db8::1]`), in lower case.
fn check_tracker_key(key: &str) -> Result<(), String> {
    let bare = key.strip_prefix('[').and_then(|k| k.strip_suffix(']'));
    let ok = match bare {
        Some(v6) => v6.parse::<std::net::Ipv6Addr>().is_ok(),
        None => {
            !key.is_empty()
                && key
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-._".contains(&b))
        }
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{key:?} is not a tracker host: write the announce URL's host alone, in lower case \
             (\"tracker.example\", not \"https://tracker.example:443/announce\")"
        ))
    }
}

/// One `[labels.NAME]` table: the save path (used when an add names no directory) and the
/// seeding goals of torrents added with that label, read as the session's keys are.
#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelConfig {
    pub save_path: Option<PathBuf>,
    #[serde(default, deserialize_with = "ratio_goal")]
    pub seed_ratio: Option<Option<f64>>,
    #[serde(default, deserialize_with = "duration_goal")]
    pub seed_time: Option<Option<std::time::Duration>>,
    #[serde(default, deserialize_with = "duration_goal")]
    pub seed_idle: Option<Option<std::time::Duration>>,
}

impl LabelConfig {
    /// As the engine takes it: a goal given `off` switches that goal off for the torrent.
    pub(crate) fn defaults(&self) -> crate::engine::api::LabelDefaults {
        crate::engine::api::LabelDefaults {
            save_path: self.save_path.clone(),
            seed_ratio: set(self.seed_ratio),
            seed_time: set(self.seed_time),
            seed_idle: set(self.seed_idle),
        }
    }
}

/// The `[rpc]` table: where the Transmission RPC listens and who may use it.
#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RpcConfig {
    pub listen: Option<std::net::SocketAddr>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub password_file: Option<PathBuf>,
    pub host_whitelist: Option<Vec<String>>,
    pub web_home: Option<PathBuf>,
}

/// The `[qbt]` table: where qBittorrent's Web API listens and who may use it.
#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QbtConfig {
    pub listen: Option<std::net::SocketAddr>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub password_file: Option<PathBuf>,
    /// qBittorrent 5.2's API key, sent as `Authorization: Bearer KEY`.
    pub api_key: Option<String>,
    pub host_whitelist: Option<Vec<String>>,
    /// How long failed logins ban an address (`1h`, `30s`).
    #[serde(default, deserialize_with = "duration_text")]
    pub ban: Option<std::time::Duration>,
    /// A qBittorrent web UI's folder (VueTorrent, qBittorrent's own), served at `/`.
    pub web_home: Option<PathBuf>,
}

/// The `[stream]` table: where files are served to media players, and who may read them.
#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamConfig {
    /// An address, or `"off"`; unset: 127.0.0.1:9092 (or any free loopback port).
    #[serde(default, deserialize_with = "listen_or_off")]
    pub listen: Option<Option<std::net::SocketAddr>>,
    pub username: Option<String>,
    pub password: Option<String>,
}

/// `"off"`, or an address with its port.
fn listen_or_off<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<std::net::SocketAddr>>, D::Error> {
    let s = String::deserialize(d)?;
    if s.eq_ignore_ascii_case("off") {
        return Ok(Some(None));
    }
    s.parse().map(|a| Some(Some(a))).map_err(|_| {
        serde::de::Error::custom(format!(
            "not an address or \"off\": {s:?} (e.g. 127.0.0.1:9092)"
        ))
    })
}

fn duration_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<std::time::Duration>, D::Error> {
    let s = String::deserialize(d)?;
    crate::engine::api::parse_duration(&s)
        .map(Some)
        .map_err(serde::de::Error::custom)
}

/// `--port-mapping-igd`'s URL, checked as the flag is.
fn igd_url<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let s = String::deserialize(d)?;
    crate::engine::api::parse_igd_url(&s)
        .map(Some)
        .map_err(serde::de::Error::custom)
}

/// A ratio (`1.0`), or `"off"`.
fn ratio_goal<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<f64>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum R {
        N(f64),
        S(String),
    }
    let text = match R::deserialize(d)? {
        R::N(n) => n.to_string(),
        R::S(s) => s,
    };
    crate::engine::api::parse_ratio(&text)
        .map(Some)
        .map_err(serde::de::Error::custom)
}

fn duration_goal<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<std::time::Duration>>, D::Error> {
    let s = String::deserialize(d)?;
    crate::engine::api::parse_goal_duration(&s)
        .map(Some)
        .map_err(serde::de::Error::custom)
}

/// A `--encryption`-style value, spelled as on the command line.
fn value_enum<'de, D: Deserializer<'de>, T: ValueEnum>(d: D) -> Result<Option<T>, D::Error> {
    let s = String::deserialize(d)?;
    T::from_str(&s, true).map(Some).map_err(|_| {
        let names: Vec<String> = T::value_variants()
            .iter()
            .filter_map(|v| v.to_possible_value().map(|p| p.get_name().to_string()))
            .collect();
        serde::de::Error::custom(format!("`{s}` is not one of {}", names.join(", ")))
    })
}

fn rate_limit<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    let v = u32::deserialize(d)?;
    let min = crate::dht::budget::MIN_REPLY_BUDGET;
    if v < min {
        return Err(serde::de::Error::custom(format!(
            "dht_rate_limit {v} is below the least, {min}"
        )));
    }
    Ok(Some(v))
}

fn update_hours<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    let v = u32::deserialize(d)?;
    if v == 0 {
        return Err(serde::de::Error::custom(
            "blocklist_update_hours must be at least 1",
        ));
    }
    Ok(Some(v))
}

/// The error says what is wrong with the password masked.
fn proxy_key<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<crate::engine::api::ProxySpec>, D::Error> {
    let v = String::deserialize(d)?;
    crate::engine::api::ProxySpec::parse(&v)
        .map(Some)
        .map_err(serde::de::Error::custom)
}

fn max_peers<'de, D: Deserializer<'de>>(d: D) -> Result<Option<usize>, D::Error> {
    let v = usize::deserialize(d)?;
    if v == 0 {
        return Err(serde::de::Error::custom("max_peers must be at least 1"));
    }
    Ok(Some(v))
}

/// Parses a config file's text; the error is one line naming `origin` and the line.
/// A rate in the config file: `"2M"` or a number of bytes per second.
fn rate_key<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Bytes(u64),
        Text(String),
    }
    match Raw::deserialize(d)? {
        Raw::Bytes(n) => Ok(Some(n)),
        Raw::Text(s) => crate::engine::api::parse_rate(&s)
            .map(Some)
            .map_err(serde::de::Error::custom),
    }
}

fn schedule_key<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<crate::engine::api::Schedule>, D::Error> {
    let s = String::deserialize(d)?;
    crate::engine::api::Schedule::parse(&s)
        .map(Some)
        .map_err(serde::de::Error::custom)
}

pub fn parse(text: &str, origin: &Path) -> Result<Config, String> {
    let c = parse_toml(text, origin)?;
    for (name, l) in c.labels.iter().flatten() {
        let at = || format!("config file {}: [labels.{name:?}]", origin.display());
        match crate::engine::api::check_label(name) {
            Ok(n) if n == *name => {}
            Ok(_) => return Err(format!("{}: a label has no spaces at its ends", at())),
            Err(e) => return Err(format!("{}: {e}", at())),
        }
        if l.save_path
            .as_ref()
            .is_some_and(|p| p.is_relative() && !p.starts_with("~"))
        {
            return Err(format!("{}: save_path must be an absolute path", at()));
        }
    }
    for key in c.trackers.iter().flat_map(|t| t.keys()) {
        check_tracker_key(key)
            .map_err(|e| format!("config file {}: [trackers]: {e}", origin.display()))?;
    }
    Ok(c)
}

fn parse_toml(text: &str, origin: &Path) -> Result<Config, String> {
    toml::from_str::<Config>(text).map_err(|e| {
        let at = e
            .span()
            .map(|s| {
                let line = 1 + text.as_bytes()[..s.start.min(text.len())]
                    .iter()
                    .filter(|&&b| b == b'\n')
                    .count();
                format!(" line {line}")
            })
            .unwrap_or_default();
        let msg = e.message().replace('\n', " ");
        format!("config file {}{at}: {}", origin.display(), msg.trim())
    })
}

/// Where the config file is looked for: `$XDG_CONFIG_HOME/ttui/config.toml`, else
/// `~/.config/ttui/config.toml`.
pub(crate) fn default_path() -> PathBuf {
    let xdg = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute());
    match xdg {
        Some(d) => d.join("ttui").join("config.toml"),
        None => home().join(".config/ttui/config.toml"),
    }
}

fn home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// The file that was read (if any) and what it holds.
#[derive(Debug, Default, Clone)]
pub(crate) struct Loaded {
    /// None with `--no-config`.
    pub path: Option<PathBuf>,
    /// Whether the file was there.
    pub found: bool,
    pub config: Config,
}

/// Reads `--config FILE` (which must exist), else the default file (which may not), else
/// nothing with `--no-config`.
pub(crate) fn load(given: Option<&Path>, no_config: bool) -> Result<Loaded, String> {
    if no_config {
        return Ok(Loaded::default());
    }
    let path = given.map_or_else(default_path, Path::to_path_buf);
    let text = match read_capped(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && given.is_none() => {
            return Ok(Loaded {
                path: Some(path),
                ..Loaded::default()
            })
        }
        Err(e) => return Err(format!("config file {}: {e}", path.display())),
    };
    let mut config = parse(&text, &path)?;
    expand_home(&mut config);
    Ok(Loaded {
        path: Some(path),
        found: true,
        config,
    })
}

fn read_capped(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(MAX_CONFIG_BYTES + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_CONFIG_BYTES {
        return Err(std::io::Error::other("over 1 MiB: not a config file"));
    }
    String::from_utf8(bytes).map_err(|_| std::io::Error::other("not UTF-8 text"))
}

/// `~/x` in a path key is `$HOME/x`, as a shell would have made it on the command line.
fn expand_home(c: &mut Config) {
    let home = home();
    for p in [
        &mut c.output,
        &mut c.state_dir,
        &mut c.log_file,
        &mut c.watch_dir,
        &mut c.on_complete,
        &mut c.incomplete_dir,
    ]
    .into_iter()
    .flatten()
    {
        if let Ok(rest) = p.strip_prefix("~") {
            *p = home.join(rest);
        }
    }
    if let Some(rest) = c.blocklist.as_deref().and_then(|b| b.strip_prefix("~/")) {
        c.blocklist = Some(home.join(rest).display().to_string());
    }
    for l in c.labels.iter_mut().flat_map(|t| t.values_mut()) {
        if let Some(rest) = l.save_path.as_ref().and_then(|p| p.strip_prefix("~").ok()) {
            l.save_path = Some(home.join(rest));
        }
    }
    let rpc_paths = c
        .rpc
        .as_mut()
        .map(|r| [&mut r.password_file, &mut r.web_home]);
    for p in rpc_paths.into_iter().flatten().flatten() {
        if let Ok(rest) = p.strip_prefix("~") {
            *p = home.join(rest);
        }
    }
}

#[cfg(test)]
mod tests;
