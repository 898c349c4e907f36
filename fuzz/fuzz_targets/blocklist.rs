//! IP blocklists (PeerGuardian text, eMule DAT, gzip or not).
#![no_main]
use libfuzzer_sys::fuzz_target;
use ttui::internals::protocol::blocklist;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = blocklist::parse(data) {
        // Every line that parsed as a range is in the merged set at both of its ends.
        for line in String::from_utf8_lossy(data).lines() {
            match blocklist::parse_line(line) {
                blocklist::Line::V4(a, b) => {
                    assert!(p.set.contains(std::net::Ipv4Addr::from(a).into()));
                    assert!(p.set.contains(std::net::Ipv4Addr::from(b).into()));
                }
                blocklist::Line::V6(a, b) => {
                    assert!(p.set.contains(std::net::Ipv6Addr::from(a).into()));
                    assert!(p.set.contains(std::net::Ipv6Addr::from(b).into()));
                }
                _ => {}
            }
        }
    }
});
