//! `app/*`: what the server is (version, Web API version, build info), the default save
//! path, and `preferences` with the keys that map onto ttui's settings; every other key is
//! answered with qBittorrent's default, so a client that reads it finds a value.

use serde_json::{json, Value};

use super::Ctx;

/// The qBittorrent release whose Web API this face follows.
pub(crate) const VERSION: &str = "v5.0.0";
/// The Web API version implemented (qBittorrent 5.0's).
pub(crate) const WEBAPI_VERSION: &str = "2.11.2";

pub(crate) fn build_info() -> Value {
    json!({
        "qt": "",
        "libtorrent": format!("ttui {}", env!("CARGO_PKG_VERSION")),
        "boost": "",
        "openssl": "",
        "zlib": "",
        "bitness": usize::BITS,
        "platform": std::env::consts::OS,
    })
}

pub(crate) fn default_save_path(ctx: &Ctx) -> String {
    ctx.client.head().default_save_path.display().to_string()
}

pub(crate) fn preferences(ctx: &Ctx) -> Value {
    let head = ctx.client.head();
    let kib = |b: u64| b / 1024;
    let mut first = json!({
        "save_path": head.default_save_path.display().to_string(),
        "listen_port": head.listen_port,
        "dl_limit": head.down_limit,
        "up_limit": head.up_limit,
        "dht": ctx.facts.dht,
        "pex": ctx.facts.pex,
        "lsd": false,
        "max_connec": ctx.facts.max_peers,
        "web_ui_port": ctx.local_port,
        "web_ui_username": ctx.creds.as_ref().map(|c| c.username.clone()).unwrap_or_default(),
        "alt_dl_limit": kib(0),
        "alt_up_limit": kib(0),
    });
    // Two halves: one json! of every key passes serde_json's macro recursion limit.
    let second = json!({
        "scheduler_enabled": false,
        "queueing_enabled": true,
        "max_active_downloads": 3,
        "max_active_torrents": 5,
        "max_active_uploads": 3,
        "max_ratio_enabled": false,
        "max_ratio": -1,
        "max_seeding_time_enabled": false,
        "max_seeding_time": -1,
        "temp_path_enabled": false,
        "temp_path": "",
        "create_subfolder_enabled": true,
        "start_paused_enabled": false,
        "auto_tmm_enabled": false,
        "upnp": false,
        "encryption": 0,
        "anonymous_mode": false,
        "proxy_type": "None",
        "locale": "en",
        "bypass_local_auth": false,
        "web_ui_max_auth_fail_count": super::auth::MAX_FAILURES,
        "web_ui_ban_duration": ctx.ban.as_secs(),
        "web_ui_session_timeout": super::auth::SESSION_TIMEOUT.as_secs(),
        "web_ui_csrf_protection_enabled": true,
        "web_ui_host_header_validation_enabled": true,
    });
    if let (Value::Object(a), Value::Object(b)) = (&mut first, second) {
        a.extend(b);
    }
    first
}
