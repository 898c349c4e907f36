//! The blocklist over the Transmission RPC: `blocklist-update` answers the list's size as
//! Transmission does, or why the list could not be read (the one in force stays), and
//! `session-get` names the list.

use super::*;

#[test]
fn blocklist_update_answers_its_size_and_session_get_names_the_list() {
    let s = setup("ttui-rpc-blocklist", "blocklist = \"{root}/list.p2p\"\n");
    let mut rpc = Rpc::new(s.rpc, None);
    // No file yet: the update fails and says the list in force (none) stays.
    let v = rpc.call("blocklist-update", json!({}));
    let result = v["result"].as_str().unwrap_or_default();
    assert!(result.contains("stays"), "{v}");

    let list = s.env.root.path().join("list.p2p");
    // Two adjacent IPv4 ranges merge into one; the IPv6 range is the second.
    fs::write(
        &list,
        "a:10.0.0.0-10.0.0.255\nb:10.0.1.0-10.0.1.255\nc:2001:db8::-2001:db8::ff\nbad\n",
    )
    .unwrap();
    let a = rpc.ok("blocklist-update", json!({}));
    assert_eq!(a["blocklist-size"], 2, "{a}");
    let fields = ["blocklist-enabled", "blocklist-size", "blocklist-url"];
    // The session's status is published at its next tick (bounded wait).
    let start = Instant::now();
    let g = loop {
        let g = rpc.ok("session-get", json!({ "fields": fields }));
        if g["blocklist-size"] == 2 || start.elapsed() > Duration::from_secs(10) {
            break g;
        }
        sleep(Duration::from_millis(200));
    };
    assert_eq!(g["blocklist-enabled"], true, "{g}");
    assert_eq!(g["blocklist-size"], 2, "{g}");
    assert_eq!(g["blocklist-url"], list.display().to_string(), "{g}");
}
