//! Seeding listens on IPv6 as well as IPv4 (same port), where the machine has IPv6.

mod common;

use std::time::Duration;

use common::*;

#[test]
fn seeds_over_ipv6_and_ipv4_on_one_port() {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        eprintln!("SKIPPED: no IPv6 loopback on this machine");
        return;
    }
    let fx = Fixture::single_file("v6.bin", 9 << 20, 61, 18);
    let port = free_port();
    let (data, torrent, port_arg) = (
        fx.data_dir.display().to_string(),
        fx.torrent.path.display().to_string(),
        port.to_string(),
    );
    // Default bind ("any"): IPv4 and IPv6 on the same port.
    let mut seeder = Ttui::spawn([
        "seed",
        &torrent,
        "-o",
        &data,
        "--headless",
        "--no-trackers",
        "--port",
        &port_arg,
    ]);
    seeder.wait_for_stdout("ttui to seed", Duration::from_secs(60), |s| {
        s.contains("seeding")
    });
    for (i, peer) in [format!("[::1]:{port}"), format!("127.0.0.1:{port}")]
        .iter()
        .enumerate()
    {
        let out = fx.dir.path().join(format!("out{i}"));
        let out_arg = out.display().to_string();
        let run = Ttui::run(
            [
                torrent.as_str(),
                "--headless",
                "-o",
                &out_arg,
                "--port",
                "0",
                "--no-trackers",
                "--peer",
                peer,
            ],
            DOWNLOAD_TIMEOUT,
        );
        run.assert_success(peer);
        assert_same_tree(&fx.payload, &out.join(&fx.torrent.name));
    }
    drop(seeder);
}
