//! `app/*`: what the server is (version, Web API version, build info) and the default save
//! path. `app/preferences` is `preferences.rs`.

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
