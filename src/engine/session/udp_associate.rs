//! Keeps the session's UDP association with the SOCKS5 proxy (`--proxy`): asks for a relay
//! (`peer/proxy_udp.rs`), tells the shared relay state where it is (`net/socks_relay.rs`),
//! holds the control connection open (the proxy ends the relay with it), and when the proxy
//! refuses or the connection drops, marks UDP off (nothing is sent around the proxy) and asks
//! again after a backoff that doubles up to a bound.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncReadExt;

use crate::engine::peer::proxy::Proxy;
use crate::net::socks_relay::SocksRelay;

/// The first wait before asking again, and the longest.
const RETRY_FIRST: Duration = Duration::from_secs(1);
const RETRY_MAX: Duration = Duration::from_secs(30);

/// The DHT's datagrams go through the relay like every other of the session's socket.
impl crate::dht::service::Transmit for Arc<SocksRelay> {
    fn transmit(&self, buf: &[u8], to: SocketAddr) {
        self.send(buf, to);
    }
}

/// Runs until aborted (the session's end): association, hold, backoff, again.
pub(crate) async fn keep(proxy: Arc<Proxy>, relay: Arc<SocksRelay>, local: Option<IpAddr>) {
    let mut wait = RETRY_FIRST;
    // Said once per change, not at every retry.
    let mut said: Option<String> = None;
    loop {
        let port = match relay.local_addr() {
            Ok(a) => a.port(),
            Err(e) => {
                off(&relay, &mut said, format!("the UDP socket: {e}"));
                return;
            }
        };
        match proxy.associate(port, local).await {
            Ok(mut a) => {
                tracing::info!(
                    "proxy UDP relay at {}: DHT, uTP and UDP trackers through it",
                    a.relay
                );
                relay.set_up(a.relay);
                said = None;
                wait = RETRY_FIRST;
                // The proxy sends nothing more on the control connection: any byte, the end
                // or an error means the association is over.
                let mut byte = [0u8; 1];
                let why = match a.control.read(&mut byte).await {
                    Ok(0) => "the proxy closed the UDP association".to_string(),
                    Ok(_) => "the proxy broke the UDP association".to_string(),
                    Err(e) => format!("the UDP association failed: {e}"),
                };
                off(&relay, &mut said, why);
            }
            Err(e) => {
                off(&relay, &mut said, format!("no UDP association: {e}"));
                wait = (wait * 2).min(RETRY_MAX);
            }
        }
        tokio::time::sleep(wait).await;
    }
}

/// UDP is off for `why`: the relay state says so, and the log once per new reason.
fn off(relay: &SocksRelay, said: &mut Option<String>, why: String) {
    if said.as_deref() != Some(why.as_str()) {
        tracing::warn!("proxy carries no UDP: DHT and uTP off ({why})");
        *said = Some(why.clone());
    }
    relay.set_down(why);
}
