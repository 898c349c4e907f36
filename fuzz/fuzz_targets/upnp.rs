//! UPnP IGD: SSDP answers, device descriptions and SOAP replies, each from a router.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ttui::internals::protocol::upnp::{description, soap, ssdp};

fuzz_target!(|data: &[u8]| {
    if let Ok(a) = ssdp::parse_answer(data) {
        assert!(a.location.to_ascii_lowercase().starts_with("http://"));
    }
    const LOCATION: &str = "http://127.0.0.7:5000/desc/root.xml";
    if let Ok(igd) = description::parse(data, LOCATION) {
        // The control URL never leaves the description's host.
        assert!(igd.control_url.starts_with("http://127.0.0.7:5000/"));
    }
    for action in [
        "AddPortMapping",
        "AddAnyPortMapping",
        "DeletePortMapping",
        "GetExternalIPAddress",
    ] {
        if let Err(e) = soap::parse_reply(data, action) {
            assert!(e.to_string().chars().count() < 300, "{e}");
        }
    }
    let _ = soap::parse_external_ip(data);
    if let Ok(p) = soap::parse_reserved_port(data) {
        assert_ne!(p, 0);
    }
});
