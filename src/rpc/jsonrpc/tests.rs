use super::*;

#[test]
fn legacy_names_become_transmissions_snake_case() {
    assert_eq!(to_snake("hashString"), "hash_string");
    assert_eq!(to_snake("download-dir"), "download_dir");
    assert_eq!(to_snake("isUTP"), "is_utp");
    assert_eq!(to_snake("rpc-version-semver"), "rpc_version_semver");
    assert_eq!(to_snake("peer-limit-per-torrent"), "peer_limit_per_torrent");
    assert_eq!(to_snake("seedRatioLimited"), "seed_ratio_limited");
    assert_eq!(legacy_name("percent_done"), "percentDone");
    assert_eq!(
        legacy_name("speed_limit_down_enabled"),
        "speed-limit-down-enabled"
    );
    assert_eq!(legacy_name("recently_active"), "recently-active");
    assert_eq!(legacy_name("ids"), "ids");
    assert_eq!(legacy_name("no_such_key"), "no_such_key");
}

/// Every camelCase or kebab-case string the RPC's methods read or write is in the table, so a
/// field added to the legacy protocol is in the new one too.
#[test]
fn legacy_names_are_all_known() {
    let sources = [
        include_str!("../fields.rs"),
        include_str!("../session.rs"),
        include_str!("../torrents.rs"),
        include_str!("../torrent_get.rs"),
        include_str!("../torrent_set.rs"),
        include_str!("../actions.rs"),
        include_str!("../server.rs"),
    ];
    let mut missing = Vec::new();
    for src in sources {
        for quoted in src.split('"').skip(1).step_by(2) {
            let key_like = quoted.len() > 2
                && quoted.starts_with(|c: char| c.is_ascii_lowercase())
                && quoted
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-')
                && (quoted.contains('-') || quoted.chars().any(|c| c.is_ascii_uppercase()));
            let ours = [
                "ttui-explain",
                "x-transmission-session-id",
                "x-transmission-rpc-version",
            ];
            if key_like && !ours.contains(&quoted) && !LEGACY.contains(&quoted) {
                missing.push(quoted.to_string());
            }
        }
    }
    missing.sort();
    missing.dedup();
    assert!(missing.is_empty(), "add these to LEGACY: {missing:?}");
}

#[test]
fn params_take_the_legacy_names_and_answers_the_new_ones() {
    let params = json!({
        "fields": ["id", "hash_string", "percent_done", "file_count"],
        "ids": "recently_active",
        "download_limited": true,
        "files_wanted": [0],
    });
    let Value::Object(p) = params else {
        unreachable!()
    };
    let legacy = legacy_map(p);
    assert_eq!(
        legacy["fields"],
        json!(["id", "hashString", "percentDone", "file-count"])
    );
    assert_eq!(legacy["ids"], json!("recently-active"));
    assert!(legacy.contains_key("downloadLimited"));
    assert!(legacy.contains_key("files-wanted"));

    let answer = json!({
        "torrents": [["id", "hashString"], [1, "ab"]],
        "removed": [3],
    });
    assert_eq!(
        snake(answer),
        json!({ "torrents": [["id", "hash_string"], [1, "ab"]], "removed": [3] })
    );
    let objects = json!({ "torrents": [{ "peersFrom": { "fromDht": 2 }, "isUTP": true }] });
    assert_eq!(
        snake(objects),
        json!({ "torrents": [{ "peers_from": { "from_dht": 2 }, "is_utp": true }] })
    );
}

#[test]
fn errors_carry_the_codes_and_words_of_the_spec() {
    let e = error(json!(7), METHOD_NOT_FOUND, None);
    assert_eq!(
        e,
        json!({ "jsonrpc": "2.0", "error": { "code": -32601, "message": "Method not found" }, "id": 7 })
    );
    let e = error(
        Value::Null,
        INVALID_PARAMS,
        Some("no fields specified".into()),
    );
    assert_eq!(e["error"]["data"]["error_string"], "no fields specified");
    assert!(is_jsonrpc(
        br#"{"jsonrpc":"2.0","method":"session_get","id":1}"#
    ));
    assert!(is_jsonrpc(b"[]"));
    assert!(!is_jsonrpc(br#"{"method":"session-get"}"#));
    assert!(!is_jsonrpc(b"{"));
}
