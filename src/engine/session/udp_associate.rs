//! Keeps the session's UDP association with the SOCKS5 proxy (`--proxy`): asks for a relay
//! (`peer/proxy_udp.rs`), tells the shared relay state where it is (`net/socks_relay.rs`),
//! holds the control connection open (the proxy ends the relay with it), and when the proxy
//! refuses or the connection drops, marks UDP off (nothing is sent around the proxy) and asks
//! again after a backoff that doubles up to a bound.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::UdpSocket;
use tokio::task::JoinHandle;

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

/// The relay for the session's socket `udp` under `proxy`, down until the association task
/// (pushed onto `tasks`, aborted with them) brings it up; the proxy knows it from now on.
pub(crate) fn start(
    proxy: &Arc<Proxy>,
    udp: &Arc<UdpSocket>,
    bind: IpAddr,
    tasks: &mut Vec<JoinHandle<()>>,
) -> Arc<SocksRelay> {
    let relay = SocksRelay::new(Arc::clone(udp));
    proxy.set_udp_relay(Arc::clone(&relay));
    let local = (!bind.is_unspecified()).then_some(bind);
    tasks.push(tokio::spawn(keep(
        Arc::clone(proxy),
        Arc::clone(&relay),
        local,
    )));
    relay
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::api::ProxySpec;
    use tokio::io::AsyncWriteExt;
    use tokio::net::{TcpListener, TcpStream};

    /// One SOCKS5 exchange without login: reads the greeting and the request (IPv4), answers
    /// `reply` (0: granted, with a relay at 127.0.0.1:`relay_port`).
    async fn answer(l: &TcpListener, reply: u8, relay_port: u16) -> TcpStream {
        let (mut s, _) = l.accept().await.unwrap();
        let mut greet = [0u8; 3];
        s.read_exact(&mut greet).await.unwrap();
        s.write_all(&[5, 0]).await.unwrap();
        let mut req = [0u8; 10];
        s.read_exact(&mut req).await.unwrap();
        assert_eq!(req[1], 3, "UDP ASSOCIATE");
        let [p0, p1] = relay_port.to_be_bytes();
        s.write_all(&[5, reply, 0, 1, 127, 0, 0, 1, p0, p1])
            .await
            .unwrap();
        s
    }

    async fn until(what: &str, ok: impl Fn() -> bool) {
        let t = tokio::time::Instant::now();
        while !ok() {
            assert!(t.elapsed() < Duration::from_secs(10), "{what}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Refused, then granted (UDP on), then the control connection drops (UDP off), then
    /// granted again (UDP back): the retries need nobody's help.
    #[tokio::test]
    async fn refused_then_granted_then_lost_then_back() {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let spec = ProxySpec::parse(&format!("socks5://127.0.0.1:{port}")).unwrap();
        let proxy = Arc::new(Proxy::new(spec, false));
        let udp = Arc::new(tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap());
        let relay = SocksRelay::new(udp);
        let task = tokio::spawn(keep(Arc::clone(&proxy), Arc::clone(&relay), None));
        // Command not allowed: off, with the proxy's word.
        drop(answer(&l, 2, 0).await);
        until("off after a refusal", || {
            relay
                .off()
                .is_some_and(|w| w.starts_with("no UDP association"))
        })
        .await;
        let control = answer(&l, 0, 4000).await;
        until("on once granted", || relay.off().is_none()).await;
        drop(control);
        until("off once the control connection is gone", || {
            relay
                .off()
                .is_some_and(|w| w.contains("closed the UDP association"))
        })
        .await;
        let _control = answer(&l, 0, 4001).await;
        until("on again", || relay.off().is_none()).await;
        assert!(relay.send(b"x", "127.0.0.9:1".parse().unwrap()));
        task.abort();
    }
}
