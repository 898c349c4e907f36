//! The explainer's proxy check: under `--proxy` the session's connections go through it, so
//! a proxy that is down holds every torrent back, and the user should hear the proxy's own
//! error rather than a list of peers that "timed out". Same rules as explain.rs (pure).

use super::*;

/// Holds back while the proxy is down (with its error); otherwise says what a proxy costs.
/// Without the session's word (a headless run), the peers' ends tell: none connected, and
/// dials failing at the proxy.
pub(super) fn proxy(s: &Snapshot, ctx: &ExplainContext) -> Option<Finding> {
    let Some(p) = ctx.proxy.as_ref() else {
        return from_peers(s);
    };
    Some(match &p.down {
        Some(e) => finding(
            Check::Proxy,
            Verdict::HoldingBack,
            format!("the proxy {} is down: {e}", p.url),
            Some(if p.only {
                "nothing connects until it is back (proxy_only); everything resumes by itself then"
            } else {
                "connections wait for it and resume by themselves once it answers"
            }),
        ),
        None => finding(
            Check::Proxy,
            Verdict::Ok,
            match &p.udp_off {
                Some(why) => format!(
                    "through the proxy {}: proxy carries no UDP ({why}): DHT, uTP and UDP \
                     trackers off, peers cannot connect to us",
                    p.url
                ),
                None => format!(
                    "through the proxy {}: UDP through its relay, peers cannot connect to us",
                    p.url
                ),
            },
            None,
        ),
    })
}

fn from_peers(s: &Snapshot) -> Option<Finding> {
    if connected(s).next().is_some() {
        return None;
    }
    let e = s.peers.iter().find_map(|p| match &p.end {
        Some(PeerEnd::ProxyDown(e)) => Some(e),
        _ => None,
    })?;
    Some(finding(
        Check::Proxy,
        Verdict::HoldingBack,
        format!("the proxy is down: {e}"),
        Some("connections resume by themselves once it answers"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::api::ProxyStatus;

    #[test]
    fn a_proxy_down_holds_back_with_its_error_and_an_up_one_is_ok() {
        let s = Snapshot::empty("x", 8 << 14, 1 << 14);
        assert_eq!(proxy(&s, &ExplainContext::default()), None);
        let mut ctx = ExplainContext {
            proxy: Some(ProxyStatus {
                url: "socks5://u:***@127.0.0.5:1080".into(),
                only: true,
                down: Some("cannot reach the proxy: Connection refused".into()),
                connections: 3,
                udp_off: None,
            }),
            ..ExplainContext::default()
        };
        let f = proxy(&s, &ctx).unwrap();
        assert_eq!((f.check, f.verdict), (Check::Proxy, Verdict::HoldingBack));
        assert!(
            f.evidence.contains("is down: cannot reach the proxy"),
            "{f:?}"
        );
        assert!(f.line().contains("proxy_only"), "{f:?}");
        ctx.proxy.as_mut().unwrap().down = None;
        let f = proxy(&s, &ctx).unwrap();
        assert_eq!(f.verdict, Verdict::Ok);
        assert!(f.evidence.contains("UDP through its relay"), "{f:?}");
        ctx.proxy.as_mut().unwrap().udp_off = Some("no UDP association".into());
        let f = proxy(&s, &ctx).unwrap();
        assert!(f.evidence.contains("proxy carries no UDP"), "{f:?}");
    }
}
