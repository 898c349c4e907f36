//! `app/*`: what the server is (version, Web API version, build info), the default save
//! path, and `preferences` with the keys that map onto ttui's settings; every other key is
//! answered with qBittorrent's default, so a client that reads it finds a value.

use serde_json::{json, Value};

use super::Ctx;
use crate::engine::api::Settings;

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

/// `app/preferences`; `settings` (None when the session was slow to answer) gives the
/// limits, queue sizes, ratio goal and incomplete directory, as `session-get` reads them.
pub(crate) fn preferences(ctx: &Ctx, settings: Option<&Settings>) -> Value {
    let head = ctx.client.head();
    let s = settings.cloned().unwrap_or_default();
    let (down, up) = match settings {
        Some(s) => (s.limits.down, s.limits.up),
        None => (head.down_limit, head.up_limit),
    };
    let mut first = json!({
        "save_path": head.default_save_path.display().to_string(),
        "listen_port": head.listen_port,
        "dl_limit": down,
        "up_limit": up,
        "dht": ctx.facts.dht,
        "pex": ctx.facts.pex,
        "lsd": false,
        "max_connec": ctx.facts.max_peers,
        "web_ui_port": ctx.local_port,
        "web_ui_username": ctx.creds.as_ref().map(|c| c.username.clone()).unwrap_or_default(),
        "alt_dl_limit": s.limits.alt_down,
        "alt_up_limit": s.limits.alt_up,
    });
    // qBittorrent's -1 is "no limit" where ttui's is 0.
    let slots = |n: u32| if n == 0 { -1 } else { i64::from(n) };
    let ratio = s.goals.ratio;
    let seed_minutes = s.goals.seed_time.map(|d| (d.as_secs() / 60) as i64);
    let temp = s.incomplete_dir.as_ref().map(|d| d.display().to_string());
    let own = json!({
        "max_active_downloads": slots(s.max_downloads),
        "max_active_uploads": slots(s.max_seeds),
        "max_active_torrents": if s.max_downloads == 0 || s.max_seeds == 0 {
            -1
        } else {
            i64::from(s.max_downloads) + i64::from(s.max_seeds)
        },
        "queueing_enabled": s.max_downloads > 0 || s.max_seeds > 0,
        "max_ratio_enabled": ratio.is_some(),
        "max_ratio": ratio.unwrap_or(-1.0),
        "max_seeding_time_enabled": seed_minutes.is_some(),
        "max_seeding_time": seed_minutes.unwrap_or(-1),
        "temp_path_enabled": temp.is_some(),
        "temp_path": temp.unwrap_or_default(),
    });
    let second = json!({
        "scheduler_enabled": false,
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
    for part in [own, second] {
        if let (Value::Object(a), Value::Object(b)) = (&mut first, part) {
            a.extend(b);
        }
    }
    first
}
