//! The calls Sonarr's Transmission client makes, in its order (written from Sonarr's
//! `TransmissionProxy` and `TransmissionBase`; Radarr's are the same code): the session-id
//! handshake and the version check of "Test", the torrent list it polls, an add by
//! metainfo and one by magnet with a download directory under the category and the category
//! as a label, the move to the top of the queue, the seeding goal, polling until the
//! torrent is finished and stopped by its goal, then the removal with its data.

use super::*;

/// The fields Sonarr asks for on every poll.
const SONARR_FIELDS: &[&str] = &[
    "id",
    "hashString",
    "name",
    "downloadDir",
    "totalSize",
    "leftUntilDone",
    "isFinished",
    "eta",
    "status",
    "secondsDownloading",
    "secondsSeeding",
    "errorString",
    "uploadedEver",
    "downloadedEver",
    "seedRatioLimit",
    "seedRatioMode",
    "seedIdleLimit",
    "seedIdleMode",
    "fileCount",
    "labels",
];
const CATEGORY: &str = "tv-sonarr";

/// Sonarr's version check: the first run of digits and dots not inside parentheses.
fn client_version(v: &str) -> Vec<u32> {
    let mut depth = 0;
    let mut run = String::new();
    for c in v.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            c if depth == 0 && (c.is_ascii_digit() || c == '.') => run.push(c),
            _ if !run.is_empty() => break,
            _ => {}
        }
    }
    run.split('.').filter_map(|p| p.parse().ok()).collect()
}

/// One poll as `GetItems` reads it: the torrents of our category with metadata.
fn items(client: &mut Rpc) -> Vec<Value> {
    let body = json!({"method": "torrent-get", "arguments": {"fields": SONARR_FIELDS}});
    let v = client.raw(body.to_string().as_bytes()).json();
    assert_eq!(v["result"], "success", "{v}");
    let all = v["arguments"]["torrents"].as_array().unwrap().clone();
    for t in &all {
        for f in SONARR_FIELDS {
            assert!(!t[f].is_null(), "{f} missing: {t}");
        }
        let eta = t["eta"].as_i64().unwrap();
        assert!(eta >= -2, "{t}");
        assert!(t["errorString"] == "", "an error Sonarr would show: {t}");
    }
    all.into_iter()
        .filter(|t| t["totalSize"].as_u64().unwrap() > 0)
        .filter(|t| t["labels"].as_array().unwrap().contains(&json!(CATEGORY)))
        .collect()
}

#[test]
fn sonarrs_calls_add_poll_and_remove_a_finished_download() {
    let s = setup("ttui-rpc-sonarr-", "");
    let (env, rpc) = (&s.env, s.rpc);
    let [a, _, c] = [&s.payloads[0], &s.payloads[1], &s.payloads[2]];

    // Test: the first request carries no session id; the 409 gives it.
    let first = post(rpc, "", br#"{"method":"session-get"}"#);
    assert_eq!(first.status, 409);
    let mut client = Rpc::new(rpc, None);
    let config = client.raw(br#"{"method":"session-get"}"#).json();
    assert_eq!(config["result"], "success", "{config}");
    let config = &config["arguments"];
    assert!(config["rpc-version"].as_u64().unwrap() >= 14, "{config}");
    let version = client_version(config["version"].as_str().unwrap());
    assert!(version >= vec![2, 40], "{config}");
    assert!(items(&mut client).is_empty());

    // Grab: the directory is the session's download-dir with the category under it.
    let base = config["download-dir"]
        .as_str()
        .unwrap()
        .trim_end_matches('/');
    let dir = format!("{base}/{CATEGORY}");
    let metainfo =
        base64::engine::general_purpose::STANDARD.encode(fs::read(&a.torrent.path).unwrap());
    let added = client.ok(
        "torrent-add",
        json!({"metainfo": metainfo, "paused": false, "download-dir": dir, "labels": [CATEGORY]}),
    );
    let hash = added["torrent-added"]["hashString"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(hash, a.hash());
    let magnet = format!(
        "magnet:?xt=urn:btih:{}&dn=gamma.bin&x.pe=127.0.0.1:{}",
        c.hash(),
        s.ports[2]
    );
    let added = client.ok(
        "torrent-add",
        json!({"filename": magnet, "paused": false, "download-dir": dir, "labels": [CATEGORY]}),
    );
    assert_eq!(added["torrent-added"]["hashString"], c.hash().as_str());
    for h in [&hash, &c.hash()] {
        client.ok("queue-move-top", json!({"ids": [h]}));
        // The indexer's seeding goal: a ratio of 0 is met as soon as it is complete.
        client.ok(
            "torrent-set",
            json!({"ids": [h], "seedRatioLimit": 0.0, "seedRatioMode": 1,
                   "seedIdleLimit": 60, "seedIdleMode": 1}),
        );
    }

    // Poll as the queue page does until both are finished and stopped by their goal: that
    // is when Sonarr imports and may remove.
    let start = Instant::now();
    let done = loop {
        let now = items(&mut client);
        let finished: Vec<&Value> = now
            .iter()
            .filter(|t| t["isFinished"] == true && t["status"] == 0)
            .collect();
        if finished.len() == 2 {
            break now;
        }
        for t in &now {
            // While it runs it is never "finished", and a complete one has nothing left.
            if t["status"] != 0 {
                assert_eq!(t["isFinished"], false, "{t}");
            }
        }
        assert!(start.elapsed() < DONE_WAIT, "never finished: {now:?}");
        sleep(Duration::from_millis(500));
    };
    for t in &done {
        assert_eq!(t["leftUntilDone"], 0, "{t}");
        assert_eq!(t["downloadDir"], dir.as_str(), "{t}");
        assert_eq!(t["seedRatioMode"], 1, "{t}");
        assert_eq!(t["seedIdleLimit"], 60, "{t}");
        assert!(t["fileCount"].as_u64().unwrap() >= 1, "{t}");
        // The output path Sonarr imports from: downloadDir + name.
        let out = Path::new(t["downloadDir"].as_str().unwrap()).join(t["name"].as_str().unwrap());
        assert!(out.exists(), "{}", out.display());
    }
    assert_same_tree(&a.root, &Path::new(&dir).join("alpha.bin"));

    // Remove with its data, by the hash in lower case.
    for h in [hash.to_lowercase(), c.hash().to_lowercase()] {
        client.ok(
            "torrent-remove",
            json!({"ids": [h], "delete-local-data": true}),
        );
    }
    let start = Instant::now();
    while !items(&mut client).is_empty() {
        assert!(start.elapsed() < IO_WAIT, "still listed");
        sleep(Duration::from_millis(200));
    }
    assert!(!Path::new(&dir).join("alpha.bin").exists());
    assert!(!Path::new(&dir).join("gamma.bin").exists());
    assert!(env.list().is_empty());
}
