//! Port mapping follows the default route. A daemon given no gateway maps through the
//! default route's gateway, here a NAT-PMP/PCP server on loopback (a gateway on 127/8 is
//! asked even under TTUI_NO_PUBLIC_ROUTERS, as it reaches no other machine); when the route
//! moves to another server (a laptop on another network), the daemon releases what the old
//! one held and maps through the new one at once, without a restart and long before the
//! lease would have it renew. The kernel will not take a default route whose next hop is a
//! local (127/8) address, so the daemon reads the route table the test writes
//! (TTUI_TEST_ROUTE_TABLE, in /proc/net/route's form) instead of /proc/net/route.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use crate::common;
use crate::kit;
use crate::pmp;

use std::net::Ipv4Addr;
use std::path::Path;

use common::*;
use kit::*;
use pmp::*;

/// Writes a route table whose default route goes by `gateway`, as /proc/net/route prints it
/// (the address in host order: little-endian).
fn route_via(table: &Path, gateway: Ipv4Addr) {
    let hex = format!("{:08X}", u32::from(gateway).swap_bytes());
    let text = format!(
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
         eth0\t00000000\t{hex}\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"
    );
    let tmp = table.with_extension("new");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, table).unwrap();
}

#[test]
fn a_new_default_route_is_mapped_through_at_once() {
    require_loopback_only();
    let env = Env::new("ttui-portmap-route");
    let old = Server::start(&env, "127.0.0.71", &[]);
    let new = Server::start(&env, "127.0.0.72", &[]);
    let table = env.root.path().join("route");
    route_via(&table, Ipv4Addr::new(127, 0, 0, 71));
    let port = free_port();
    // A lease of an hour: a renewal would come only after half of it.
    let (mut d, id) = mapping_daemon_with(
        &env,
        port,
        &["--port-mapping-lease", "3600s"],
        &[("TTUI_TEST_ROUTE_TABLE", &table.display().to_string())],
    );
    let s = wait_status(&env, &id, "a mapping through the route's gateway", mapped);
    assert_eq!(s["gateway"], "127.0.0.71:5351", "{s}");
    assert_eq!(old.mappings().len(), 2, "{:?}", old.mappings());

    route_via(&table, Ipv4Addr::new(127, 0, 0, 72));
    let s = wait_status(&env, &id, "a mapping through the new gateway", |s| {
        mapped(s) && s["gateway"] == "127.0.0.72:5351"
    });
    assert_eq!(s["tcp"]["internal"], port, "{s}");
    assert_eq!(new.mappings().len(), 2, "{:?}", new.mappings());
    // What the old router held was given back (lifetime 0), not left to its lease.
    assert_eq!(old.mappings().len(), 0, "{:?}", old.mappings());
    assert!(
        d.log_text().contains("the default route's gateway changed"),
        "{}",
        d.report()
    );
    let st = d.term();
    assert!(st.success(), "{st}");
    assert_eq!(new.mappings().len(), 0, "removed at a clean exit");
}
