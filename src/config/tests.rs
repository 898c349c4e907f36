use super::*;
use crate::cli::config_apply::{apply, Origin};
use crate::cli::DownloadArgs;
use clap::ArgMatches;
use clap::{CommandFactory, FromArgMatches};

use crate::cli::{Cli, Cmd};

fn parsed(text: &str) -> Result<Config, String> {
    parse(text, Path::new("/etc/ttui.toml"))
}

/// The daemon's arguments and their matches, as main.rs gets them.
fn daemon(argv: &[&str]) -> (DownloadArgs, ArgMatches) {
    let mut full = vec!["ttui", "daemon"];
    full.extend_from_slice(argv);
    let m = Cli::command().try_get_matches_from(full).unwrap();
    let cli = Cli::from_arg_matches(&m).unwrap();
    let Some(Cmd::Daemon(args)) = cli.command else {
        panic!("not the daemon");
    };
    (args, m.subcommand_matches("daemon").unwrap().clone())
}

const EVERY_KEY: &str = r#"
output = "/data/dl"
port = 51413
bind = "127.0.0.1"
interface = "wg0"
encryption = "require"
transport = "tcp"
dht = false
dht_bootstrap = ["127.0.0.1:6881", "[::1]:6882"]
dht_rate_limit = 65536
pex = false
max_peers = 200
state_dir = "/data/state"
log_file = "/data/ttui.log"
watch_dir = "/data/watch"
"#;

#[test]
fn every_key_is_read() {
    let c = parsed(EVERY_KEY).unwrap();
    assert_eq!(c.output.as_deref(), Some(Path::new("/data/dl")));
    assert_eq!(c.port, Some(51413));
    assert_eq!(c.bind, Some("127.0.0.1".parse().unwrap()));
    assert_eq!(c.interface.as_deref(), Some("wg0"));
    assert_eq!(c.encryption, Some(EncryptionPolicy::Require));
    assert_eq!(c.transport, Some(TransportPolicy::Tcp));
    assert_eq!(c.dht, Some(false));
    assert_eq!(
        c.dht_bootstrap,
        Some(vec!["127.0.0.1:6881".to_string(), "[::1]:6882".to_string()])
    );
    assert_eq!(c.dht_rate_limit, Some(65536));
    assert_eq!(c.pex, Some(false));
    assert_eq!(c.max_peers, Some(200));
    assert_eq!(c.state_dir.as_deref(), Some(Path::new("/data/state")));
    assert_eq!(c.log_file.as_deref(), Some(Path::new("/data/ttui.log")));
    assert_eq!(c.watch_dir.as_deref(), Some(Path::new("/data/watch")));
}

#[test]
fn an_empty_file_is_every_default() {
    assert_eq!(parsed("# nothing set\n").unwrap(), Config::default());
}

#[test]
fn an_unknown_key_is_named_with_the_file_and_line() {
    let e = parsed("port = 1\nmax_peer = 3\n").unwrap_err();
    assert!(e.contains("max_peer"), "{e}");
    assert!(e.contains("/etc/ttui.toml line 2"), "{e}");
    assert!(!e.contains('\n'), "{e}");
}

#[test]
fn a_malformed_file_names_its_line() {
    let e = parsed("port = 1\n\nbind = \"::1\"\noutput = /no/quotes\n").unwrap_err();
    assert!(e.starts_with("config file /etc/ttui.toml line 4:"), "{e}");
    assert!(!e.contains('\n'), "{e}");
}

#[test]
fn a_bad_value_names_its_line() {
    let e = parsed("\nencryption = \"sometimes\"\n").unwrap_err();
    assert!(e.contains("line 2") && e.contains("sometimes"), "{e}");
    assert!(e.contains("prefer"), "{e}");
    assert!(parsed("port = 70000").unwrap_err().contains("line 1"));
    assert!(parsed("max_peers = 0").is_err());
    assert!(parsed("dht_rate_limit = 1").is_err());
    assert!(parsed("bind = \"not an address\"").is_err());
}

#[test]
fn a_missing_default_file_is_fine_but_a_named_one_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let named = dir.path().join("nope.toml");
    let e = load(Some(&named), false).unwrap_err();
    assert!(e.contains("nope.toml"), "{e}");
    let none = load(Some(&named), true).unwrap();
    assert!(none.path.is_none() && !none.found);
    std::fs::write(&named, "port = 7\n").unwrap();
    let read = load(Some(&named), false).unwrap();
    assert!(read.found);
    assert_eq!(read.config.port, Some(7));
}

#[test]
fn the_blocklist_keys_are_read_and_checked() {
    let cfg =
        parsed("blocklist = \"https://example.org/l.gz\"\nblocklist_update_hours = 6\n").unwrap();
    let (mut args, m) = daemon(&["--blocklist-update-hours", "12"]);
    apply(&cfg, &mut args, &m);
    assert_eq!(args.blocklist.as_deref(), Some("https://example.org/l.gz"));
    assert_eq!(args.blocklist_update_hours, 12);
    assert!(parsed("blocklist_update_hours = 0\n").is_err());
}

#[test]
fn the_proxy_keys_are_read_and_a_bad_url_hides_its_password() {
    let cfg = parsed("proxy = \"socks5h://u:pw@127.0.0.5:1080\"\nproxy_only = true\n").unwrap();
    let (mut args, m) = daemon(&[]);
    apply(&cfg, &mut args, &m);
    let p = args.proxy.as_ref().unwrap();
    assert_eq!(p.to_string(), "socks5h://u:***@127.0.0.5:1080");
    assert!(args.proxy_only);
    let (mut args, m) = daemon(&["--proxy", "socks5://127.0.0.6:9050"]);
    apply(&cfg, &mut args, &m);
    assert_eq!(args.proxy.unwrap().port, 9050, "the flag wins");
    let e = parsed("proxy = \"http://u:hunter2@h:1\"\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("socks5://") && !e.contains("hunter2"), "{e}");
}

#[test]
fn the_port_mapping_keys_are_read_like_their_flags() {
    let (args, _) = daemon(&[]);
    assert!(!args.no_port_mapping, "on by default");
    assert_eq!(args.port_mapping_gateway, None);
    let cfg = parsed(
        "port_mapping = false\nport_mapping_gateway = \"127.0.0.2:5351\"\n\
         port_mapping_lease = \"10m\"\n",
    )
    .unwrap();
    let (mut args, m) = daemon(&["--port-mapping-lease", "30s"]);
    apply(&cfg, &mut args, &m);
    assert!(args.no_port_mapping);
    assert_eq!(
        args.port_mapping_gateway,
        Some("127.0.0.2:5351".parse().unwrap())
    );
    assert_eq!(args.port_mapping_lease, std::time::Duration::from_secs(30));
    let (mut args, m) = daemon(&["--no-port-mapping"]);
    apply(&parsed("port_mapping = true\n").unwrap(), &mut args, &m);
    assert!(args.no_port_mapping, "the flag beats the file");
    assert!(parsed("port_mapping_gateway = \"router\"\n").is_err());
    let (mut args, m) = daemon(&[]);
    let url = "http://127.0.0.6:5000/rootDesc.xml";
    apply(
        &parsed(&format!("port_mapping_igd = \"{url}\"\n")).unwrap(),
        &mut args,
        &m,
    );
    assert_eq!(args.port_mapping_igd.as_deref(), Some(url));
    assert!(parsed("port_mapping_igd = \"ftp://router/\"\n").is_err());
}

#[test]
fn a_flag_beats_the_file_and_the_file_beats_the_default() {
    let cfg = parsed("port = 7000\nmax_peers = 9\ndht = false\nwatch_dir = \"/w\"\n").unwrap();
    let (mut args, m) = daemon(&["--port", "8000"]);
    let origins = apply(&cfg, &mut args, &m);
    let origin = |k: &str| origins.iter().find(|(key, _)| *key == k).unwrap().1;
    assert_eq!(args.port, 8000);
    assert_eq!(origin("port"), Origin::Flag);
    assert_eq!(args.max_peers, 9);
    assert_eq!(origin("max_peers"), Origin::File);
    assert!(args.no_dht);
    assert_eq!(origin("dht"), Origin::File);
    assert_eq!(args.watch_dir.as_deref(), Some(Path::new("/w")));
    assert_eq!(args.bind, "0.0.0.0".parse::<std::net::IpAddr>().unwrap());
    assert_eq!(origin("bind"), Origin::Default);
    assert_eq!(
        origins.len(),
        33 + 4 + 6 + 6 + 8,
        "every key has an origin (4 of port mapping, 6 rate keys, 6 of [rpc], 8 of [qbt])"
    );
}

#[test]
fn the_rpc_table_is_read_and_the_flag_beats_its_listen() {
    let text = "[rpc]\nlisten = \"0.0.0.0:9091\"\nusername = \"u\"\npassword_file = \"/pw\"\n\
                host_whitelist = [\"box.example\"]\n";
    let cfg = parsed(text).unwrap();
    let (mut args, m) = daemon(&[]);
    let origins = apply(&cfg, &mut args, &m);
    let origin = |k: &str| origins.iter().find(|(key, _)| *key == k).unwrap().1;
    assert_eq!(args.rpc, Some("0.0.0.0:9091".parse().unwrap()));
    assert_eq!(origin("rpc.listen"), Origin::File);
    assert_eq!(origin("rpc.password"), Origin::Default);
    assert_eq!(args.rpc_settings.username.as_deref(), Some("u"));
    assert_eq!(
        args.rpc_settings.host_whitelist,
        vec!["box.example".to_string()]
    );
    let (mut args, m) = daemon(&["--rpc", "127.0.0.1:9999"]);
    let origins = apply(&cfg, &mut args, &m);
    assert_eq!(
        args.rpc_settings.listen,
        Some("127.0.0.1:9999".parse().unwrap())
    );
    assert!(origins.contains(&("rpc.listen", Origin::Flag)));
    // Dotted keys are the same table; an unknown key in it is named.
    let dotted = parsed("rpc.listen = \"127.0.0.1:1\"\n").unwrap();
    assert_eq!(
        dotted.rpc.unwrap().listen,
        Some("127.0.0.1:1".parse().unwrap())
    );
    let e = parsed("[rpc]\npasword = \"x\"\n").unwrap_err();
    assert!(e.contains("pasword"), "{e}");
}

#[test]
fn a_given_flag_that_equals_the_default_still_wins() {
    let cfg = parsed("port = 7000\noutput = \"/from/file\"\n").unwrap();
    let (mut args, m) = daemon(&["--port", "6881", "-o", "."]);
    apply(&cfg, &mut args, &m);
    assert_eq!(args.port, 6881);
    assert_eq!(args.output, Path::new("."));
}

#[test]
fn a_boolean_flag_beats_the_file() {
    let cfg = parsed("dht = true\npex = true\n").unwrap();
    let (mut args, m) = daemon(&["--no-dht", "--no-pex"]);
    let origins = apply(&cfg, &mut args, &m);
    assert!(args.no_dht && args.no_pex);
    assert!(origins
        .iter()
        .filter(|(k, _)| *k == "dht" || *k == "pex")
        .all(|(_, o)| *o == Origin::Flag));
}

#[test]
fn home_is_expanded_in_paths() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("c.toml");
    std::fs::write(&f, "output = \"~/dl\"\n").unwrap();
    let loaded = load(Some(&f), false).unwrap();
    let out = loaded.config.output.unwrap();
    assert!(out.ends_with("dl") && !out.starts_with("~"), "{out:?}");
}

#[test]
fn the_queue_and_goal_keys_read_like_their_flags() {
    use std::time::Duration;
    let cfg = parsed(
        "max_active_downloads = 3\nmax_active_seeds = 0\nslow_torrent_rate = \"1K\"\n\
         stalled_time = \"90s\"\nseed_ratio = 1.5\nseed_time = \"2h\"\nseed_idle = \"off\"\n\
         seed_goal_action = \"remove\"\n",
    )
    .unwrap();
    let (mut args, m) = daemon(&["--max-active-seeds", "4", "--seed-time", "1d"]);
    let origins = apply(&cfg, &mut args, &m);
    let origin = |k: &str| origins.iter().find(|(key, _)| *key == k).unwrap().1;
    let q = &args.queue;
    assert_eq!(q.max_active_downloads, 3);
    assert_eq!(origin("max_active_downloads"), Origin::File);
    assert_eq!(
        (q.max_active_seeds, origin("max_active_seeds")),
        (4, Origin::Flag)
    );
    assert_eq!(q.slow_torrent_rate, 1024);
    assert_eq!(q.stalled_time, Duration::from_secs(90));
    assert_eq!(q.seed_ratio, Some(1.5));
    assert_eq!(q.seed_time, Some(Duration::from_secs(86_400)));
    assert_eq!(q.seed_idle, None);
    assert_eq!(q.seed_goal_action, crate::engine::api::GoalAction::Remove);
    assert!(parsed("seed_time = \"forever\"").is_err());
    assert!(parsed("seed_ratio = -1").is_err());
    assert!(parsed("slow_torrent_rate = \"fast\"").is_err());
}

#[test]
fn the_queue_and_goal_defaults() {
    let (args, _) = daemon(&[]);
    let q = &args.queue;
    assert_eq!((q.max_active_downloads, q.max_active_seeds), (5, 0));
    assert_eq!(q.slow_torrent_rate, 2048);
    assert_eq!(q.stalled_time, std::time::Duration::from_secs(300));
    assert_eq!((q.seed_ratio, q.seed_time, q.seed_idle), (None, None, None));
}

#[test]
fn rate_limits_come_from_flags_then_the_file() {
    let cfg = parsed(
        r#"
down_limit = "2M"
up_limit = 512000
alt_down_limit = "100K"
alt_up_limit = "50K"
alt_schedule = "01:00-07:00"
exempt_local_peers = true
"#,
    )
    .unwrap();
    let (mut args, m) = daemon(&["--down-limit", "1.5MiB"]);
    let origins = apply(&cfg, &mut args, &m);
    let r = &args.rates;
    assert_eq!(r.down_limit, 3 * 1024 * 1024 / 2);
    assert_eq!(r.up_limit, 512_000);
    assert_eq!((r.alt_down_limit, r.alt_up_limit), (100 * 1024, 50 * 1024));
    assert_eq!(
        r.alt_schedule.map(|s| s.to_string()).as_deref(),
        Some("01:00-07:00")
    );
    assert!(r.exempt_local_peers);
    assert!(origins.contains(&("down_limit", Origin::Flag)));
    assert!(origins.contains(&("up_limit", Origin::File)));
    assert_eq!(r.shown("down_limit").as_deref(), Some("1.5 MiB/s"));
    let (args, _) = daemon(&[]);
    assert_eq!(args.rates.shown("up_limit").as_deref(), Some("unlimited"));
    assert!(args
        .rates
        .shown("exempt_local_peers")
        .is_some_and(|v| v == "off"));
    assert!(parsed("down_limit = \"fast\"").is_err());
    assert!(parsed("alt_schedule = \"7-1\"").is_err());
}

#[test]
fn on_complete_and_its_timeout_come_from_the_file_or_the_flags() {
    let cfg = parsed("on_complete = \"/bin/done.sh\"\non_complete_timeout = \"90s\"\n").unwrap();
    let (mut args, m) = daemon(&[]);
    let origins = apply(&cfg, &mut args, &m);
    let origin = |k: &str| origins.iter().find(|(key, _)| *key == k).unwrap().1;
    assert_eq!(args.on_complete.as_deref(), Some(Path::new("/bin/done.sh")));
    assert_eq!(args.on_complete_timeout, std::time::Duration::from_secs(90));
    assert_eq!(origin("on_complete"), Origin::File);
    assert_eq!(origin("on_complete_timeout"), Origin::File);
    let (mut args, m) = daemon(&["--on-complete", "/x", "--on-complete-timeout", "1h"]);
    apply(&cfg, &mut args, &m);
    assert_eq!(args.on_complete.as_deref(), Some(Path::new("/x")));
    assert_eq!(
        args.on_complete_timeout,
        std::time::Duration::from_secs(3600)
    );
    let (args, _) = daemon(&[]);
    assert_eq!(args.on_complete, None);
    assert_eq!(
        args.on_complete_timeout,
        std::time::Duration::from_secs(600)
    );
    assert!(parsed("on_complete_timeout = \"soon\"\n").is_err());
}

#[test]
fn tracker_tables_are_read_and_a_url_for_a_host_is_refused_in_one_line() {
    let c = parsed(
        "[trackers.\"tracker.example\"]\nup_limit = \"2M\"\nseed_ratio = 1.5\nseed_idle = \"off\"\n\
         [trackers.\"[2001:db8::1]\"]\ndown_limit = 1000\n",
    )
    .unwrap();
    let t = c.trackers.as_ref().unwrap();
    let r = t["tracker.example"].rule();
    assert_eq!(r.limits.up, 2 * 1024 * 1024);
    assert_eq!(r.limits.down, 0);
    assert_eq!(r.seed_ratio, Some(crate::engine::api::Set::To(1.5)));
    assert_eq!(r.seed_time, None);
    assert_eq!(r.seed_idle, Some(crate::engine::api::Set::Off));
    assert_eq!(t["[2001:db8::1]"].rule().limits.down, 1000);
    for bad in [
        "https://tracker.example/announce",
        "tracker.example:443",
        "Tracker.Example",
        "",
        "[not-v6]",
    ] {
        let e = parsed(&format!("[trackers.{bad:?}]\nup_limit = 1\n")).unwrap_err();
        assert!(
            e.contains("not a tracker host") && !e.contains('\n'),
            "{bad}: {e}"
        );
    }
    let e = parsed("[trackers.\"t.example\"]\nupload_limit = 1\n").unwrap_err();
    assert!(e.contains("upload_limit"), "{e}");
}
