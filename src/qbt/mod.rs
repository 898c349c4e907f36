//! qBittorrent's Web API v2 (`/api/v2/...`), so that what speaks to qBittorrent (the
//! `qbittorrent-api` Python package, `@ctrl/qbittorrent`, VueTorrent, qbit_manage, Sonarr's
//! qBittorrent client) speaks to a ttui session. Off unless `[qbt] listen` asks.
//!
//! One more face over `engine::api`, beside the Transmission RPC and on the same HTTP door
//! (`crate::http`: connections, timeouts, the body's bound, the Host allowlist, login
//! pacing). The order of the checks is qBittorrent's (`webapplication.cpp`): Host
//! allowlist (401), cross-site `Origin`/`Referer` (401), then the path; `auth/login` is
//! open, every other call needs a live `SID` cookie or the API key (403).
//!
//! The files: `auth.rs` (sessions, cookies, the CSRF check), `form.rs` (parameters),
//! `app.rs` (`app/*`), `preferences.rs` (`app/preferences`), `torrents.rs` (`torrents/info`
//! and the actions), `transfer.rs`,
//! `edits.rs` (file priorities, sequential mode, bans, `app/setPreferences`), `log.rs`
//! (`log/main`, `log/peers`), `torrent_edits.rs` (`torrents/rename`, `addPeers`, the
//! tracker edits, `pieceHashes`).
//!
//! Started with the session (`src/cli/session.rs`) under `[qbt] listen` or `--qbt`.
//! `[qbt] web_home` serves a qBittorrent web UI's folder at `/`, read as the RPC's web
//! client is (`crate::http::web`: kept inside its directory).

mod actions;
mod add;
mod answer;
mod app;
pub(crate) mod auth;
pub(crate) mod edits;
pub(crate) mod form;
mod labels;
mod log;
pub(crate) mod multipart;
mod preferences;
mod props;
mod sync;
pub(crate) mod torrent_edits;
mod torrents;
mod transfer;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hyper::body::Incoming;
use hyper::header::{HeaderValue, SET_COOKIE};
use hyper::{Method, Request, StatusCode};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::engine::api::Client;
use crate::http::{self, guard, Answer, Credentials, Limits, LoginPacer};
use form::Params;

/// Largest request body: a multipart add of several .torrent files.
const MAX_BODY: usize = 32 << 20;
/// Its body must arrive within this once the headers have.
const BODY_TIMEOUT: Duration = Duration::from_secs(30);

/// What the config file says about the qBittorrent API.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct QbtSettings {
    /// Where to listen; None: not served.
    pub listen: Option<SocketAddr>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub password_file: Option<PathBuf>,
    /// An API key for `Authorization: Bearer` (qBittorrent 5.2).
    pub api_key: Option<String>,
    /// Host names answered beyond IP literals and `localhost`.
    pub host_whitelist: Vec<String>,
    /// How long failed logins ban an address (qBittorrent's default: an hour).
    pub ban: Option<Duration>,
    /// A web UI's folder served at `/` (its `index.html` must be there).
    pub web_home: Option<PathBuf>,
}

pub(crate) use auth::BAN;

/// Why the qBittorrent API does not start: each one line for the user.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StartError {
    #[error(transparent)]
    Credentials(#[from] guard::CredentialsError),
    #[error("qbt.web_home {}: no index.html there (unpack a web UI such as VueTorrent there)", .0.display())]
    WebHome(PathBuf),
    #[error("qBittorrent API listen address {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

impl QbtSettings {
    /// The credentials to check, or why the server must not start (beyond loopback,
    /// credentials are required).
    pub(crate) fn credentials(&self) -> Result<Option<Credentials>, StartError> {
        let login = guard::Login {
            listen: self.listen,
            username: self.username.as_deref(),
            password: self.password.as_deref(),
            password_file: self.password_file.as_deref(),
        };
        Ok(login.check("qbt")?)
    }
}

/// What the session tells beside its line-up.
#[derive(Debug, Clone, Default)]
pub(crate) struct Facts {
    pub max_peers: usize,
    pub dht: bool,
    pub pex: bool,
    /// Local service discovery (the `** [LSD] **` row of `torrents/trackers`).
    pub lsd: bool,
}

/// What every request is answered with.
pub(crate) struct Ctx {
    client: Client,
    facts: Facts,
    creds: Option<Credentials>,
    api_key: Option<String>,
    whitelist: Vec<String>,
    sessions: Mutex<auth::Sessions>,
    pacer: Mutex<LoginPacer>,
    ban: Duration,
    local_port: u16,
    web_home: Option<PathBuf>,
    /// `sync/maindata`'s change log, shared by every client.
    sync: sync::Shared,
}

/// A bound listener with its settings checked, not serving yet.
pub(crate) struct Bound {
    listener: TcpListener,
    settings: QbtSettings,
    creds: Option<Credentials>,
}

/// Checks the settings and binds (None: not asked).
pub(crate) async fn bind(settings: &QbtSettings) -> Result<Option<Bound>, StartError> {
    let creds = settings.credentials()?;
    let Some(addr) = settings.listen else {
        return Ok(None);
    };
    if let Some(home) = &settings.web_home {
        if !home.join("index.html").is_file() {
            return Err(StartError::WebHome(home.clone()));
        }
    }
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Bind { addr, source })?;
    Ok(Some(Bound {
        listener,
        settings: settings.clone(),
        creds,
    }))
}

impl Bound {
    pub(crate) fn local_addr(&self) -> Option<SocketAddr> {
        self.listener.local_addr().ok()
    }

    /// Serves until the task is aborted.
    pub(crate) fn serve(self, facts: Facts, client: Client) -> JoinHandle<()> {
        let ban = self.settings.ban.unwrap_or(auth::BAN);
        let local = self.local_addr();
        let local_port = local.map_or(0, |a| a.port());
        let ctx = Arc::new(Ctx {
            client,
            facts,
            creds: self.creds,
            api_key: self.settings.api_key.clone().filter(|k| !k.is_empty()),
            whitelist: self.settings.host_whitelist.clone(),
            sessions: Mutex::new(auth::Sessions::default()),
            pacer: Mutex::new(LoginPacer::new(auth::MAX_FAILURES, ban)),
            ban,
            local_port,
            web_home: self.settings.web_home.clone(),
            sync: sync::Shared::default(),
        });
        if let Some(local) = local {
            tracing::info!("qBittorrent Web API on http://{local}/api/v2/");
        }
        let listener = self.listener;
        tokio::spawn(http::serve(
            listener,
            "qBittorrent API",
            Limits::default(),
            Arc::default(),
            move |req, peer| {
                let ctx = Arc::clone(&ctx);
                async move { handle(req, peer, &ctx).await }
            },
        ))
    }
}

fn text(status: StatusCode, body: &str) -> Answer {
    http::plain(status, "text/plain; charset=UTF-8", body.to_string())
}

fn json(value: &Value) -> Answer {
    http::plain(
        StatusCode::OK,
        "application/json",
        serde_json::to_vec(value).unwrap_or_default(),
    )
}

fn header<'a>(req: &'a Request<Incoming>, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

async fn handle(req: Request<Incoming>, peer: SocketAddr, ctx: &Ctx) -> Answer {
    let host = header(&req, "host");
    if req.headers().get("host").is_some() && host.is_none()
        || !http::host_allowed(host, &ctx.whitelist)
    {
        return text(StatusCode::UNAUTHORIZED, "Unauthorized");
    }
    if auth::cross_site(host, header(&req, "origin"), header(&req, "referer")) {
        return text(StatusCode::UNAUTHORIZED, "Unauthorized");
    }
    let path = req.uri().path().to_string();
    let Some(call) = path.strip_prefix("/api/v2/") else {
        // The web UI's files are open, as qBittorrent's are: its login page calls the API.
        let file = path.strip_prefix('/').and_then(crate::http::web::inside);
        return match (ctx.web_home.as_deref(), file) {
            (Some(home), Some(rel)) => {
                crate::http::web::answer(home, crate::http::web::Route::File(rel), req.method())
                    .await
            }
            _ => text(StatusCode::NOT_FOUND, "Not Found"),
        };
    };
    let call = call.trim_end_matches('/').to_string();
    let now = Instant::now();
    let sid = header(&req, "cookie")
        .and_then(|c| crate::http::guard::cookie(c, auth::COOKIE).map(str::to_string));
    let key_ok = match (
        header(&req, "authorization").and_then(auth::bearer),
        &ctx.api_key,
    ) {
        (Some(given), Some(key)) => guard::same(given.as_bytes(), key.as_bytes()),
        _ => false,
    };
    let signed_in = key_ok
        || sid
            .as_deref()
            .is_some_and(|s| ctx.sessions.lock().is_ok_and(|mut m| m.touch(s, now)));
    let method = req.method().clone();
    let query = req.uri().query().map(str::to_string);
    let content_type = header(&req, "content-type").map(str::to_string);
    let body = if method == Method::POST {
        match http::read_body(req, MAX_BODY, BODY_TIMEOUT).await {
            Ok(b) => b,
            Err(e) => return text(e.status(), &e.to_string()),
        }
    } else {
        Default::default()
    };
    let params = Params::parse(query.as_deref(), &body);
    match call.as_str() {
        "auth/login" => return login(ctx, peer, &params, signed_in, now),
        "auth/logout" => {
            if let (Some(s), Ok(mut m)) = (sid.as_deref(), ctx.sessions.lock()) {
                m.end(s);
            }
            return text(StatusCode::OK, "");
        }
        _ => {}
    }
    if !signed_in {
        return text(StatusCode::FORBIDDEN, "Forbidden");
    }
    if call == "torrents/add" && method == Method::POST {
        return add::answer(ctx, content_type.as_deref(), &body, &params).await;
    }
    route(ctx, &method, &call, &params).await
}

fn login(ctx: &Ctx, peer: SocketAddr, p: &Params, signed_in: bool, now: Instant) -> Answer {
    if signed_in {
        return text(StatusCode::OK, "Ok.");
    }
    let banned = ctx.pacer.lock().is_ok_and(|b| b.blocked(peer.ip(), now));
    if banned {
        return text(
            StatusCode::FORBIDDEN,
            "Your IP address has been banned after too many failed authentication attempts.",
        );
    }
    let (user, pass) = (p.get("username"), p.get("password"));
    // A form without both fields carries no credentials: refused, never counted.
    let (Some(user), Some(pass)) = (user, pass) else {
        return text(StatusCode::OK, "Fails.");
    };
    if !auth::login_matches(ctx.creds.as_ref(), user, pass) {
        let failures = ctx.pacer.lock().map_or(0, |mut b| b.failed(peer.ip(), now));
        if failures <= 3 || failures == auth::MAX_FAILURES {
            tracing::warn!(
                "qBittorrent API: failed login from {} ({failures} in a row)",
                peer.ip()
            );
        }
        return text(StatusCode::OK, "Fails.");
    }
    if let Ok(mut b) = ctx.pacer.lock() {
        b.succeeded(peer.ip());
    }
    let Ok(sid) = ctx.sessions.lock().map(|mut m| m.start(now)) else {
        return text(StatusCode::INTERNAL_SERVER_ERROR, "");
    };
    let mut r = text(StatusCode::OK, "Ok.");
    let cookie = format!("{}={sid}; HttpOnly; SameSite=Strict; path=/", auth::COOKIE);
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(SET_COOKIE, v);
    }
    r
}

/// Calls that only read, answered to GET as well as POST; all others need POST (405), as
/// in qBittorrent 4.4 and later.
const READS: &[&str] = &[
    "app/version",
    "app/webapiVersion",
    "app/buildInfo",
    "app/preferences",
    "app/defaultSavePath",
    "torrents/info",
    "torrents/categories",
    "torrents/tags",
    "transfer/info",
    "sync/maindata",
    "sync/torrentPeers",
    "torrents/properties",
    "torrents/files",
    "torrents/trackers",
    "torrents/webseeds",
    "torrents/pieceStates",
    "transfer/speedLimitsMode",
    "transfer/downloadLimit",
    "transfer/uploadLimit",
];

async fn route(ctx: &Ctx, method: &Method, call: &str, p: &Params) -> Answer {
    let reads = READS.contains(&call) || log::READS.contains(&call);
    if method != Method::POST && !(reads || torrent_edits::READS.contains(&call)) {
        return if known(call) {
            text(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed")
        } else {
            text(StatusCode::NOT_FOUND, "Not Found")
        };
    }
    match call {
        "app/version" => text(StatusCode::OK, app::VERSION),
        "app/webapiVersion" => text(StatusCode::OK, app::WEBAPI_VERSION),
        "app/buildInfo" => json(&app::build_info()),
        "app/preferences" => {
            let settings = answer::settings(ctx, Vec::new()).await;
            json(&preferences::preferences(ctx, settings.as_ref()))
        }
        "app/defaultSavePath" => text(StatusCode::OK, &app::default_save_path(ctx)),
        "torrents/info" => http::plain(StatusCode::OK, "application/json", torrents::info(ctx, p)),
        "transfer/info" => json(&transfer::info(ctx)),
        "sync/maindata" => http::plain(
            StatusCode::OK,
            "application/json",
            sync::maindata(ctx, p.int("rid")),
        ),
        "transfer/speedLimitsMode" => text(StatusCode::OK, transfer::speed_limits_mode(ctx)),
        "transfer/downloadLimit" => text(StatusCode::OK, &transfer::limit(ctx, true)),
        "transfer/uploadLimit" => text(StatusCode::OK, &transfer::limit(ctx, false)),
        "transfer/toggleSpeedLimitsMode" => match transfer::toggle(ctx).await {
            Ok(()) => text(StatusCode::OK, ""),
            Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        },
        "sync/torrentPeers" => read(props::torrent_peers(ctx, p).await),
        "torrents/properties" => read(props::properties(ctx, p).await),
        "torrents/files" => read(props::files(ctx, p).await),
        "torrents/trackers" => read(props::trackers(ctx, p).await),
        "torrents/webseeds" => read(props::webseeds(ctx, p)),
        "torrents/pieceStates" => read(props::piece_states(ctx, p).await),
        _ => {
            // Issue 56's second round (`edits.rs`), asked before the older tables.
            if let Some(answer) = edits::route(ctx, call, p).await {
                return answer;
            }
            // Issue 56's third round (`log.rs`, `torrent_edits.rs`).
            if let Some(answer) = log::route(ctx, call, p).await {
                return answer;
            }
            if let Some(answer) = torrent_edits::route(ctx, call, p).await {
                return answer;
            }
            match labels::route(ctx, call, p).await {
                Some(answer) => answer,
                None => match actions::route(ctx, call, p).await {
                    Some(answer) => answer,
                    None => torrents_act(ctx, call, p).await,
                },
            }
        }
    }
}

/// The actions on torrents of `torrents.rs`.
async fn torrents_act(ctx: &Ctx, call: &str, p: &Params) -> Answer {
    match call.strip_prefix("torrents/") {
        Some(action) => match torrents::act(ctx, action, p).await {
            Some(Ok(())) => text(StatusCode::OK, ""),
            Some(Err(e)) => text(StatusCode::CONFLICT, &e.to_string()),
            None => text(StatusCode::NOT_FOUND, "Not Found"),
        },
        None => text(StatusCode::NOT_FOUND, "Not Found"),
    }
}

/// A per-torrent read's answer: its JSON, or qBittorrent's 404 for an unknown hash.
fn read(r: Result<Value, props::ReadError>) -> Answer {
    match r {
        Ok(v) => json(&v),
        Err(e @ props::ReadError::NotFound) => text(StatusCode::NOT_FOUND, &e.to_string()),
        Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

/// A call this face answers (for 405 against 404).
fn known(call: &str) -> bool {
    torrent_edits::WRITES.contains(&call)
        || matches!(
            call,
            "torrents/pause"
            | "torrents/stop"
            | "torrents/resume"
            | "torrents/start"
            | "torrents/recheck"
            | "torrents/reannounce"
            | "torrents/setForceStart"
            | "torrents/setSuperSeeding"
            | "torrents/delete"
            | "transfer/toggleSpeedLimitsMode"
            | "torrents/setCategory"
            | "torrents/createCategory"
            | "torrents/editCategory"
            | "torrents/removeCategories"
            | "torrents/addTags"
            | "torrents/removeTags"
            | "torrents/createTags"
            | "torrents/deleteTags"
            | "torrents/add"
            | "torrents/setShareLimits"
            | "torrents/setLocation"
            | "torrents/renameFile"
            | "torrents/renameFolder"
            | "torrents/topPrio"
            | "torrents/bottomPrio"
            | "torrents/increasePrio"
            | "torrents/decreasePrio"
            | "torrents/setDownloadLimit"
            | "torrents/setUploadLimit"
            | "transfer/setDownloadLimit"
            | "transfer/setUploadLimit"
            // Issue 56's second round (`edits.rs`).
            | "torrents/filePrio"
            | "torrents/toggleSequentialDownload"
            | "torrents/toggleFirstLastPiecePrio"
            | "torrents/setAutoManagement"
            | "transfer/banPeers"
            | "app/setPreferences"
            | "torrents/downloadLimit"
            | "torrents/uploadLimit"
        )
}

#[cfg(test)]
mod tests;
