//! The gateway of the default IPv4 route, read from `/proc/net/route` as libnatpmp (which
//! Transmission uses) and libtorrent read it on Linux: the NAT-PMP/PCP server is that router.

use std::net::Ipv4Addr;

/// Most bytes of the route table read: a home machine's is a few hundred bytes.
const MAX_TABLE: u64 = 64 << 10;
/// `RTF_GATEWAY` and `RTF_UP` of the `Flags` column.
const RTF_UP: u32 = 0x1;
const RTF_GATEWAY: u32 = 0x2;

/// The first default route's gateway in the text of `/proc/net/route`, or None.
pub(crate) fn parse_default_gateway(table: &str) -> Option<Ipv4Addr> {
    table.lines().skip(1).find_map(|line| {
        let cols: Vec<&str> = line.split_whitespace().collect();
        let (dest, gw, flags, mask) = (cols.get(1)?, cols.get(2)?, cols.get(3)?, cols.get(7)?);
        let flags = u32::from_str_radix(flags, 16).ok()?;
        if *dest != "00000000" || *mask != "00000000" || flags & (RTF_UP | RTF_GATEWAY) != 3 {
            return None;
        }
        // The kernel prints the address in the host's byte order: little-endian here.
        let raw = u32::from_str_radix(gw, 16).ok()?;
        let ip = Ipv4Addr::from(raw.swap_bytes());
        (!ip.is_unspecified()).then_some(ip)
    })
}

/// The default route's gateway of this machine, or None.
pub(crate) fn default_gateway() -> Option<Ipv4Addr> {
    use std::io::Read;
    let mut text = String::new();
    let table = std::env::var_os(crate::engine::api::TEST_ROUTE_TABLE_ENV)
        .unwrap_or_else(|| "/proc/net/route".into());
    std::fs::File::open(table)
        .ok()?
        .take(MAX_TABLE)
        .read_to_string(&mut text)
        .ok()?;
    parse_default_gateway(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str =
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n";

    #[test]
    fn the_default_route_gives_the_gateway() {
        let table = format!(
            "{HEADER}eth0\t0001A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n\
             eth0\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n"
        );
        assert_eq!(
            parse_default_gateway(&table),
            Some(Ipv4Addr::new(192, 168, 1, 1))
        );
    }

    #[test]
    fn no_default_route_no_gateway() {
        // Only lo (the test namespace), a link route, a route that is down, garbage.
        assert_eq!(parse_default_gateway(HEADER), None);
        assert_eq!(parse_default_gateway(""), None);
        let table = format!(
            "{HEADER}eth0\t0001A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n\
             eth0\t00000000\t0101A8C0\t0002\t0\t0\t100\t00000000\t0\t0\t0\n\
             eth0\t00000000\tzz\t0003\t0\t0\t100\t00000000\n\
             short line\n"
        );
        assert_eq!(parse_default_gateway(&table), None);
    }
}
