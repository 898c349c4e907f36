//! Transmission's own web client (Debian's transmission-common), served by ttui at
//! `/transmission/web/` with `rpc.web_home`, in headless Chromium driven over the DevTools
//! protocol (tests/faces/rpc/web_driver.py, websocket-client from the test venv): its list shows
//! ttui's torrents complete, and its pause button pauses one in ttui.

use super::*;

const WEB_HOME: &str = "/usr/share/transmission/web";

#[test]
fn transmissions_web_client_in_chromium_lists_and_pauses_ttuis_torrents() {
    let Some(python) = std::env::var_os("TTUI_PY_VENV")
        .map(|v| PathBuf::from(v).join("bin/python"))
        .filter(|p| p.is_file())
    else {
        prereq::skip("the test venv (TTUI_PY_VENV, made by tests/run.sh)");
        return;
    };
    if !prereq::have_tools(&["chromium"]) {
        return;
    }
    if !Path::new(WEB_HOME).join("index.html").is_file() {
        prereq::skip("transmission-common's web client in /usr/share/transmission/web");
        return;
    }
    let config = format!("[rpc]\nweb_home = {WEB_HOME:?}\n");
    let mut s = setup("ttui-rpc-web-", &config);
    let env = &s.env;
    let mut client = Rpc::new(s.rpc, None);
    let names = ["alpha.bin", "beta", "gamma.bin"];
    for p in &s.payloads {
        let added = env.verb(&["add", &p.path()]);
        assert_eq!(added.code, 0, "{added:?}");
    }
    for p in &s.payloads {
        client.wait("the download", &p.hash(), &["percentDone"], |t| {
            t["percentDone"] == 1.0
        });
    }
    // The page and its files; what is not the client's stays shut.
    let page = format!("http://{}/transmission/web/", s.rpc);
    let get = |path: &str| {
        exchange(
            s.rpc,
            format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
    };
    let index = get("/transmission/web/");
    assert_eq!(index.status, 200);
    assert!(String::from_utf8_lossy(&index.body).contains("torrent_list"));
    assert_eq!(get("/").status, 301);
    assert_eq!(get("/transmission/web/../../../etc/passwd").status, 404);
    assert_eq!(
        get("/transmission/web/%2e%2e/%2e%2e/etc/passwd").status,
        404
    );

    let profile = env.root.path().join("chromium-profile");
    fs::create_dir_all(&profile).unwrap();
    let script = env.root.path().join("web_driver.py");
    fs::write(&script, include_str!("web_driver.py")).unwrap();
    let mut cmd = env.command(python.to_str().unwrap());
    cmd.arg(&script)
        .arg("chromium")
        .arg(&profile)
        .arg(&page)
        .arg(names.join(","))
        .arg("beta");
    // Within the driver's own bounds (30 s for Chromium, 60 s for the list, 30 s for the
    // pause) and a little more.
    let out = run_within(cmd, "the web client in Chromium", Duration::from_secs(150));
    assert_eq!(out.code, 0, "{out:?}\n{}", s.daemon.report());
    let seen: Value = serde_json::from_str(out.stdout.trim()).unwrap();
    let rows = seen["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 3, "{seen}");
    for r in rows {
        assert!(r["peers"].as_str().unwrap().starts_with("Seeding"), "{r}");
    }
    // The page's pause reached the session.
    let b = &s.payloads[1];
    let listed = env.wait_list("beta paused from the page", DONE_WAIT, &mut s.daemon, |r| {
        r.iter()
            .any(|t| t["info_hash"] == b.hash().as_str() && t["state"] == "paused")
    });
    let others = listed.iter().filter(|t| t["state"] == "seeding").count();
    assert_eq!(others, 2, "only the one selected: {listed:?}");
}
