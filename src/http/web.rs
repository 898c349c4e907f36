//! A web client's files at `/transmission/web/`, as transmission-daemon serves them, so the
//! web client Debian ships in `transmission-common` (or any other written for the RPC) runs
//! over ttui's session. Off unless `rpc.web_home` names its directory.
//!
//! A small static-file answer written here rather than a crate's (tower-http's `ServeDir`
//! would bring tower's service stack into a server built on bare hyper) — it only needs GET,
//! a handful of content types, and the checks that keep it inside its directory: no `..`,
//! no hidden names, no symlink that leads out, no file over [`MAX_FILE`].

use std::path::{Component, Path, PathBuf};

use hyper::body::Bytes;
use hyper::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE, LOCATION};
use hyper::{Method, Response, StatusCode};

use http_body_util::Full;

/// Where the web client lives, as transmission-daemon has it.
pub(crate) const WEB_PATH: &str = "/transmission/web/";
/// The largest file served (the web client's largest is a few hundred KiB).
const MAX_FILE: u64 = 8 << 20;

/// What a path asks of the web client: a redirect to its page, or one of its files.
#[derive(Debug, PartialEq, Eq)]
pub enum Route {
    /// `/`, `/transmission`, `/transmission/`, `/transmission/web`: the client's page.
    ToPage,
    /// A file, relative to the web home (`index.html` for the page itself).
    File(PathBuf),
}

/// The route of `path`, or None for a path that is not the web client's (or is refused).
pub fn route(path: &str) -> Option<Route> {
    if matches!(
        path,
        "/" | "/transmission" | "/transmission/" | "/transmission/web"
    ) {
        return Some(Route::ToPage);
    }
    inside(path.strip_prefix(WEB_PATH)?).map(Route::File)
}

/// `rest` as a path relative to a web home (`index.html` for nothing), or None when it
/// could lead out or to a hidden file; the qBittorrent API's web home is read through it too.
pub(crate) fn inside(rest: &str) -> Option<PathBuf> {
    let rest = if rest.is_empty() { "index.html" } else { rest };
    let rel = Path::new(rest);
    let clean = rel.components().all(|c| match c {
        Component::Normal(s) => s.to_str().is_some_and(|s| !s.starts_with('.')),
        _ => false,
    });
    (clean && !rest.contains(['\\', '\0', '%'])).then(|| rel.to_path_buf())
}

type Answer = Response<Full<Bytes>>;

fn status(code: StatusCode) -> Answer {
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = code;
    r
}

/// Answers a request the web client's route took: GET and HEAD only.
pub(crate) async fn answer(home: &Path, route: Route, method: &Method) -> Answer {
    if method != Method::GET && method != Method::HEAD {
        return status(StatusCode::METHOD_NOT_ALLOWED);
    }
    let rel = match route {
        Route::ToPage => {
            let mut r = status(StatusCode::MOVED_PERMANENTLY);
            r.headers_mut()
                .insert(LOCATION, HeaderValue::from_static(WEB_PATH));
            return r;
        }
        Route::File(rel) => rel,
    };
    let Some(bytes) = read_inside(home, &rel).await else {
        return status(StatusCode::NOT_FOUND);
    };
    let body = if method == Method::HEAD {
        Bytes::new()
    } else {
        Bytes::from(bytes)
    };
    let mut r = Response::new(Full::new(body));
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static(super::mime::content_type(&rel.to_string_lossy())),
    );
    r.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

/// The file's bytes when it is a regular file inside `home` (after symlinks) and not too big.
async fn read_inside(home: &Path, rel: &Path) -> Option<Vec<u8>> {
    let root = tokio::fs::canonicalize(home).await.ok()?;
    let path = tokio::fs::canonicalize(root.join(rel)).await.ok()?;
    if !path.starts_with(&root) {
        return None;
    }
    let meta = tokio::fs::metadata(&path).await.ok()?;
    if !meta.is_file() || meta.len() > MAX_FILE {
        return None;
    }
    tokio::fs::read(&path).await.ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_keep_to_the_web_home() {
        assert_eq!(route("/"), Some(Route::ToPage));
        assert_eq!(route("/transmission/web"), Some(Route::ToPage));
        assert_eq!(
            route("/transmission/web/"),
            Some(Route::File("index.html".into()))
        );
        assert_eq!(
            route("/transmission/web/javascript/transmission.js"),
            Some(Route::File("javascript/transmission.js".into()))
        );
        for bad in [
            "/transmission/web/../secret",
            "/transmission/web/a/../../b",
            "/transmission/web//etc/passwd",
            "/transmission/web/.hidden",
            "/transmission/web/%2e%2e/x",
            "/transmission/web/a\\b",
            "/transmission/rpc",
            "/etc/passwd",
        ] {
            assert_eq!(route(bad), None, "{bad}");
        }
    }

    #[tokio::test]
    async fn files_are_served_from_inside_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("web");
        std::fs::create_dir_all(home.join("js")).unwrap();
        std::fs::write(home.join("index.html"), "<p>hi</p>").unwrap();
        std::fs::write(home.join("js/a.js"), "x=1").unwrap();
        std::fs::write(dir.path().join("secret"), "no").unwrap();
        std::os::unix::fs::symlink(dir.path().join("secret"), home.join("out")).unwrap();
        let get = Method::GET;
        let r = answer(&home, route("/transmission/web/").unwrap(), &get).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()[CONTENT_TYPE], "text/html; charset=UTF-8");
        let r = answer(&home, route("/transmission/web/js/a.js").unwrap(), &get).await;
        assert_eq!(r.status(), StatusCode::OK);
        let r = answer(&home, route("/transmission/web/out").unwrap(), &get).await;
        assert_eq!(
            r.status(),
            StatusCode::NOT_FOUND,
            "a symlink out is refused"
        );
        let r = answer(&home, route("/transmission/web/js").unwrap(), &get).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "a directory");
        let r = answer(&home, route("/transmission/web/none").unwrap(), &get).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        let r = answer(&home, route("/").unwrap(), &get).await;
        assert_eq!(r.status(), StatusCode::MOVED_PERMANENTLY);
        assert_eq!(r.headers()[LOCATION], WEB_PATH);
        let r = answer(&home, Route::File("index.html".into()), &Method::POST).await;
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    }
}
