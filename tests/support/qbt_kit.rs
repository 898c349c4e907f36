//! What every test of tests/faces/qbt_tools.rs (and tests/faces/qbt.rs) shares: a ttui daemon with `--qbt` on loopback,
//! a ttui seeder of alpha.bin it reaches with `--peer`, and where the tools are installed
//! (tests/run.sh: TTUI_NODE_MODULES for the npm packages, TTUI_PY_VENV for qbittorrent-api,
//! TTUI_QBM_VENV for qbit_manage, which pins a qbittorrent-api of its own).

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::common::*;
use crate::kit::*;
use crate::payload::*;
use crate::prereq;

pub const USER: &str = "admin";
pub const PASSWORD: &str = "s3cret-tools";

/// A directory of the suite's own files: tests/qbt_tools/NAME.
pub fn own(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/faces/qbt_tools")
        .join(name)
}

/// The directory holding `node_modules` of tests/faces/qbt_tools/node/package.json, or a skip.
pub fn node_modules() -> Option<PathBuf> {
    let dir = std::env::var_os("TTUI_NODE_MODULES")
        .map(PathBuf::from)
        .filter(|d| d.join("node_modules").is_dir());
    if dir.is_none() || !prereq::have_tools(&["node"]) {
        prereq::skip("the npm packages (TTUI_NODE_MODULES, made by tests/run.sh)");
        return None;
    }
    dir
}

/// `bin/python` of the venv named by `var`, or a skip.
pub fn venv_python(var: &str) -> Option<PathBuf> {
    let python = std::env::var_os(var)
        .map(|v| PathBuf::from(v).join("bin/python"))
        .filter(|p| p.is_file());
    if python.is_none() {
        prereq::skip(&format!("the venv named by {var} (made by tests/run.sh)"));
    }
    python
}

/// A node script of ours copied beside a link to the installed `node_modules`, so that its
/// `import` finds the packages (ES modules ignore NODE_PATH).
pub fn node_script(env: &Env, modules: &Path, name: &str) -> PathBuf {
    let dir = env.root.path().join("node");
    fs::create_dir_all(&dir).unwrap();
    let link = dir.join("node_modules");
    if !link.exists() {
        std::os::unix::fs::symlink(modules.join("node_modules"), &link).unwrap();
    }
    let script = dir.join(name);
    fs::copy(own(name), &script).unwrap();
    script
}

/// The session a test drives.
pub struct Setup {
    pub env: Env,
    pub daemon: Daemon,
    pub payloads: Vec<Payload>,
    /// The qBittorrent API's address.
    pub qbt: String,
    /// The daemon's arguments, for a restart.
    pub extra: Vec<String>,
    pub seeder: Ttui,
}

impl Setup {
    /// A daemon serving qBittorrent's API with a username and password, `extra_qbt` more
    /// lines in its `[qbt]` table, and a seeder of the first payload (alpha.bin).
    pub fn start(prefix: &str, extra_qbt: &str) -> Setup {
        Setup::start_with(prefix, "", extra_qbt)
    }

    /// `start` with `top` lines at the top of the config file (`pex = false`...).
    pub fn start_with(prefix: &str, top: &str, extra_qbt: &str) -> Setup {
        let env = Env::new(prefix);
        let fixtures = env.root.path().join("fixtures");
        let payloads = three_payloads(&fixtures.join("data"), &fixtures);
        let seed_port = free_port();
        let seeder = spawn_ttui_seeder(
            &payloads[0].torrent.path,
            &fixtures.join("data"),
            seed_port,
            &["--no-dht", "--bind", "127.0.0.1"],
        );
        let qbt = format!("127.0.0.1:{}", free_port());
        let cfg = env.root.path().join("config.toml");
        fs::write(
            &cfg,
            format!("{top}\n[qbt]\nusername = \"{USER}\"\npassword = \"{PASSWORD}\"\n{extra_qbt}"),
        )
        .unwrap();
        let extra: Vec<String> = [
            "--config",
            &cfg.display().to_string(),
            "--qbt",
            &qbt,
            "--peer",
            &format!("127.0.0.1:{seed_port}"),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let daemon = Daemon::start(&env, "1", &extra);
        Setup {
            env,
            daemon,
            payloads,
            qbt,
            extra,
            seeder,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.qbt)
    }

    pub fn port(&self) -> &str {
        self.qbt.rsplit(':').next().unwrap_or_default()
    }

    /// `ttui add` of payload `i` with these arguments after it.
    pub fn add(&self, i: usize, args: &[&str]) {
        let path = self.payloads[i].path();
        let mut all = vec!["add", path.as_str()];
        all.extend_from_slice(args);
        let added = self.env.verb(&all);
        assert_eq!(added.code, 0, "{added:?}");
    }

    /// Waits until `ttui list --json` shows alpha.bin complete.
    pub fn wait_a_complete(&mut self) {
        let hash = self.payloads[0].hash();
        self.env.wait_list(
            "alpha.bin complete",
            DOWNLOAD_TIMEOUT,
            &mut self.daemon,
            |rows| {
                rows.iter()
                    .any(|r| r["info_hash"] == hash.as_str() && r["progress"] == 1.0)
            },
        );
    }
}

/// The row of `hash` in `rows`, if listed.
pub fn listed<'a>(rows: &'a [serde_json::Value], hash: &str) -> Option<&'a serde_json::Value> {
    rows.iter().find(|r| r["info_hash"] == hash)
}

/// A row's labels as a sorted list.
pub fn labels(row: &serde_json::Value) -> Vec<String> {
    let mut l: Vec<String> = row["labels"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    l.sort();
    l
}

/// The process's open descriptors.
pub fn open_fds(pid: u32) -> usize {
    fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

/// `Authorization: Basic` of [`USER`] and [`PASSWORD`], a header line.
pub fn basic() -> String {
    use base64::Engine as _;
    let pair = format!("{USER}:{PASSWORD}");
    format!(
        "Authorization: Basic {}\r\n",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

/// One HTTP/1.1 request to `to` (a fresh connection, closed after): `head` is its request
/// line and headers but Host, Connection and Content-Length. Status, headers, body.
pub fn ask(to: std::net::SocketAddr, head: &str, body: &str) -> (u16, String, String) {
    use std::io::{Read, Write};
    let wait = Duration::from_secs(10);
    let mut s = std::net::TcpStream::connect_timeout(&to, wait).unwrap();
    s.set_read_timeout(Some(wait)).unwrap();
    write!(
        s,
        "{head}Host: {to}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).to_string();
    let (headers, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = headers
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, headers.to_string(), body.to_string())
}

/// A header's value in `headers`.
pub fn header<'a>(headers: &'a str, name: &str) -> Option<&'a str> {
    headers.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// Logs in to qBittorrent's API at `to` ([`USER`], [`PASSWORD`]): its cookie, `SID=…`.
/// A config file that opens qBittorrent's API and the Transmission RPC on free loopback
/// ports, both with `USER` and `PASSWORD`: the file and the two addresses.
pub fn both_apis_config(env: &Env) -> (PathBuf, std::net::SocketAddr, std::net::SocketAddr) {
    let (qbt, rpc) = (free_port(), free_port());
    let cfg = env.root.path().join("config.toml");
    fs::write(
        &cfg,
        format!(
            "[qbt]\nlisten = \"127.0.0.1:{qbt}\"\nusername = \"{USER}\"\npassword = \"{PASSWORD}\"\n\
             [rpc]\nlisten = \"127.0.0.1:{rpc}\"\nusername = \"{USER}\"\npassword = \"{PASSWORD}\"\n"
        ),
    )
    .unwrap();
    let at = |port| std::net::SocketAddr::from(([127, 0, 0, 1], port));
    (cfg, at(qbt), at(rpc))
}

pub fn qbt_login(to: std::net::SocketAddr) -> String {
    let form = format!("username={USER}&password={PASSWORD}");
    let head = "POST /api/v2/auth/login HTTP/1.1\r\nContent-Type: \
                application/x-www-form-urlencoded\r\n";
    let (status, headers, body) = ask(to, head, &form);
    assert_eq!((status, body.as_str()), (200, "Ok."), "{headers}");
    header(&headers, "Set-Cookie")
        .and_then(|c| c.split(';').next())
        .unwrap()
        .to_string()
}

/// A GET of qBittorrent's API with the cookie `sid`, as JSON.
pub fn qbt_get(to: std::net::SocketAddr, sid: &str, path: &str) -> serde_json::Value {
    let (status, _, body) = ask(to, &format!("GET {path} HTTP/1.1\r\nCookie: {sid}\r\n"), "");
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"))
}

/// A Transmission RPC call at `to` with Basic credentials (the session id asked for first).
pub fn rpc_call(to: std::net::SocketAddr, call: &str) -> serde_json::Value {
    let head = format!("POST /transmission/rpc HTTP/1.1\r\n{}", basic());
    let (status, headers, _) = ask(to, &head, call);
    assert_eq!(status, 409, "the session id is asked for first: {headers}");
    let id = header(&headers, "X-Transmission-Session-Id")
        .unwrap()
        .to_string();
    let head = format!("{head}X-Transmission-Session-Id: {id}\r\n");
    let (status, _, body) = ask(to, &head, call);
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"))
}
