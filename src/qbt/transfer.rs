//! `transfer/info`: the session's rates, totals and limits, from its line-up.

use serde_json::{json, Value};

use super::Ctx;

pub(crate) fn info(ctx: &Ctx) -> Value {
    let head = ctx.client.head();
    let (down, up) = head
        .torrents
        .iter()
        .fold((0u64, 0u64), |(d, u), t| (d + t.downloaded, u + t.uploaded));
    json!({
        "dl_info_speed": head.down_rate as u64,
        "up_info_speed": head.up_rate as u64,
        "dl_info_data": down,
        "up_info_data": up,
        "dl_rate_limit": head.down_limit,
        "up_rate_limit": head.up_limit,
        "dht_nodes": head.dht_nodes.unwrap_or(0),
        "connection_status": if head.listen_port == 0 { "firewalled" } else { "connected" },
    })
}
