//! The RPC's HTTP server: on the shared door (`crate::http`: connections, timeouts, the
//! body's bound), for each request the checks in Transmission's order (Host 421, then credentials 401 and failed-login
//! pacing 429, then the path 404, then the session id 409, then POST 405, the body 413),
//! then the method.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::activity::{self, Activity};
use super::ctx::{Ctx, Facts, Stored};
use super::error::StartError;
use super::request;
use super::session_id::{self, SessionId};
use super::{Credentials, RpcSettings};
use crate::engine::api::Client;
use crate::http::{self, Answer, Limits};

/// Largest request body: a .torrent of 12 MiB in base64, with room for the envelope.
pub(crate) const MAX_BODY: usize = 16 << 20;
/// Its body must arrive within this once the headers have.
const BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// The one path of the RPC, and the page transmission-daemon answers at its root.
const RPC_PATH: &str = "/transmission/rpc";

/// A bound RPC listener with its settings checked, not serving yet: bound before the
/// session starts, so a refused start leaves nothing running.
pub(crate) struct Bound {
    listener: TcpListener,
    creds: Option<Credentials>,
    whitelist: Vec<String>,
    web_home: Option<PathBuf>,
}

impl Bound {
    /// Serves until the task is aborted.
    pub(crate) fn serve(self, facts: Facts, client: Client) -> JoinHandle<()> {
        let snapshot = client.watch();
        let shared: activity::Shared = Arc::new(Mutex::new(Activity::default()));
        let ctx = Arc::new(Ctx {
            client,
            snapshot: snapshot.clone(),
            activity: Arc::clone(&shared),
            stored: Mutex::new(Stored::default()),
            facts,
            session_id: SessionId::new(),
            started: Instant::now(),
            file_counts: Mutex::new(HashMap::new()),
            unlisted: Mutex::new(Vec::new()),
            creds: self.creds,
            whitelist: self.whitelist,
            pacer: Mutex::new(http::LoginPacer::standard()),
            web_home: self.web_home,
        });
        if let Ok(local) = self.listener.local_addr() {
            tracing::info!(
                "Transmission RPC on http://{local}{RPC_PATH}{}",
                if ctx.creds.is_some() {
                    " (login required)"
                } else {
                    ""
                }
            );
        }
        let listener = self.listener;
        tokio::spawn(async move {
            tokio::join!(
                activity::follow(snapshot, shared),
                http::serve(
                    listener,
                    "RPC",
                    Limits::default(),
                    Arc::default(),
                    move |req, peer| {
                        let ctx = Arc::clone(&ctx);
                        async move { handle(req, peer, &ctx).await }
                    }
                )
            );
        })
    }
}

/// Checks the settings and binds the listen address (None: no RPC asked). The error is the
/// one line `ttui` prints when it refuses to start.
pub(crate) async fn bind(settings: &RpcSettings) -> Result<Option<Bound>, StartError> {
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
        creds,
        whitelist: settings.host_whitelist.clone(),
        web_home: settings.web_home.clone(),
    }))
}

fn plain(status: StatusCode, text: &str) -> Answer {
    http::plain(
        status,
        "text/html; charset=UTF-8",
        format!("<h1>{}: {text}</h1>", status.as_u16()),
    )
}

fn header<'a>(req: &'a Request<Incoming>, name: &str) -> Option<&'a [u8]> {
    req.headers().get(name).map(HeaderValue::as_bytes)
}

async fn handle(req: Request<Incoming>, peer: SocketAddr, ctx: &Ctx) -> Answer {
    let host = req
        .headers()
        .get(hyper::header::HOST)
        .and_then(|h| h.to_str().ok());
    if req.headers().get(hyper::header::HOST).is_some() && host.is_none()
        || !http::host_allowed(host, &ctx.whitelist)
    {
        return plain(
            StatusCode::MISDIRECTED_REQUEST,
            "Transmission received your request, but the hostname was unrecognized. To fix \
             this, choose one of the allowed names (rpc.host_whitelist in ttui's config).",
        );
    }
    if let Some(creds) = &ctx.creds {
        let given = header(&req, "authorization");
        match http::guard::gate("RPC", given, creds, &ctx.pacer, peer.ip()) {
            http::guard::Gate::Pass => {}
            http::guard::Gate::Paced => {
                return plain(
                    StatusCode::TOO_MANY_REQUESTS,
                    "too many failed logins; wait a minute",
                )
            }
            http::guard::Gate::Unauthorized => {
                let mut r = plain(StatusCode::UNAUTHORIZED, "Unauthorized User");
                r.headers_mut().insert(
                    hyper::header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"Transmission\""),
                );
                return r;
            }
        }
    }
    let path = req.uri().path();
    if let Some((home, route)) = ctx.web_home.as_deref().zip(crate::http::web::route(path)) {
        return crate::http::web::answer(home, route, req.method()).await;
    }
    if path != RPC_PATH && path != "/transmission/rpc/" {
        return plain(StatusCode::NOT_FOUND, "Not Found");
    }
    if !ctx.session_id.matches(header(&req, session_id::HEADER)) {
        let mut r = plain(
            StatusCode::CONFLICT,
            "Your request had an invalid session-id header. To fix this, follow these steps: \
             read the X-Transmission-Session-Id header from this response and send it with \
             each request.",
        );
        if let Ok(v) = HeaderValue::from_str(ctx.session_id.as_str()) {
            r.headers_mut().insert(session_id::HEADER, v);
        }
        // Tells a client that speaks both protocols which one to use (rpc-spec 5).
        r.headers_mut().insert(
            "x-transmission-rpc-version",
            HeaderValue::from_static(super::jsonrpc::RPC_VERSION_SEMVER),
        );
        return r;
    }
    if req.method() != Method::POST {
        return plain(StatusCode::METHOD_NOT_ALLOWED, "POST a JSON request");
    }
    let bytes = match http::read_body(req, MAX_BODY, BODY_TIMEOUT).await {
        Ok(b) => b,
        Err(e) => return plain(e.status(), &e.to_string()),
    };
    if super::jsonrpc::is_jsonrpc(&bytes) {
        return match super::jsonrpc::answer(ctx, &bytes).await {
            Some(body) => json_response(body),
            None => {
                let mut r = Response::new(Full::new(Bytes::new()));
                *r.status_mut() = StatusCode::NO_CONTENT;
                r
            }
        };
    }
    let body = match request::parse(&bytes) {
        Ok(env) => {
            drop(bytes);
            let result = super::dispatch::dispatch(ctx, &env.method, &env.arguments)
                .await
                .map_err(|e| e.to_string());
            request::response_of(result, env.tag)
        }
        Err(e) => request::response(Err(e.to_string()), None),
    };
    json_response(body)
}

fn json_response(body: Vec<u8>) -> Answer {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=UTF-8"),
    );
    r
}
