//! HTTP(S) announce (BEP 3) with compact (BEP 23), dictionary and `peers6` (BEP 7) peer lists.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};
use std::time::Duration;

use serde_bencode::value::Value;

use crate::protocol::bencode::{self, BencodeError};

use super::{
    announce_key, clamp_intervals, clean_text, AnnounceRequest, AnnounceResponse, TrackerError,
};

/// A tracker reply bigger than this is not a tracker reply.
pub const MAX_BODY: usize = 4 << 20;
/// Whole request, connect to last body byte.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// Peers taken from one reply (IPv4 and IPv6 together); a tracker listing 600,000 must not
/// cost 600,000 entries. The engine bounds what it keeps per torrent on top of this.
pub const MAX_PEERS_PER_REPLY: usize = 3000;

/// Appends `bytes` percent-encoded; unreserved characters (RFC 3986) stay literal.
fn push_encoded(out: &mut String, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in bytes {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }
}

/// The announce URL for `req`, keeping any query the tracker URL already has (passkeys).
pub fn announce_url(base: &str, req: &AnnounceRequest) -> String {
    let base = base.split('#').next().unwrap_or(base);
    let mut url = String::with_capacity(base.len() + 256);
    url.push_str(base);
    if !base.contains('?') {
        url.push('?');
    } else if !base.ends_with('?') && !base.ends_with('&') {
        url.push('&');
    }
    url.push_str("info_hash=");
    push_encoded(&mut url, &req.info_hash);
    url.push_str("&peer_id=");
    push_encoded(&mut url, &req.peer_id);
    let p = &req.progress;
    url.push_str(&format!(
        "&port={}&uploaded={}&downloaded={}&left={}&compact=1&numwant={}&key={:08x}",
        req.port,
        p.uploaded,
        p.downloaded,
        p.left,
        req.numwant,
        announce_key()
    ));
    if let Some(event) = req.event.as_str() {
        url.push_str("&event=");
        url.push_str(event);
    }
    url
}

/// The innermost cause of a reqwest error ("connection refused"), which says more than
/// reqwest's own "error sending request for url (…)".
pub(crate) fn root_cause(e: &reqwest::Error) -> String {
    let cause = innermost(e);
    match cause.downcast_ref::<std::io::Error>() {
        Some(io) => super::io_reason(io),
        None => clean_text(cause.to_string().as_bytes()),
    }
}

fn innermost(e: &reqwest::Error) -> &(dyn std::error::Error + 'static) {
    let mut cause: &(dyn std::error::Error + 'static) = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause
}

fn map_reqwest(e: reqwest::Error) -> TrackerError {
    if e.is_timeout() {
        TrackerError::Timeout(format!("no reply within {} s", REQUEST_TIMEOUT.as_secs()))
    } else if e.is_connect() {
        TrackerError::Connect(root_cause(&e))
    } else if e.is_builder() {
        TrackerError::InvalidUrl(root_cause(&e))
    } else {
        TrackerError::Io {
            kind: innermost(&e)
                .downcast_ref::<std::io::Error>()
                .map(std::io::Error::kind),
            reason: root_cause(&e),
        }
    }
}

/// One HTTP(S) announce.
pub async fn announce(
    url: &str,
    req: &AnnounceRequest,
    client: &reqwest::Client,
) -> Result<AnnounceResponse, TrackerError> {
    let full = announce_url(url, req);
    // reqwest's own timeout covers the body too; the outer one is a guard should it not.
    let fetch = async {
        let mut resp = client
            .get(&full)
            .timeout(REQUEST_TIMEOUT)
            .send()
            .await
            .map_err(map_reqwest)?;
        let status = resp.status();
        let tracker_ip = resp.remote_addr().map(|a| a.ip());
        if resp.content_length().is_some_and(|n| n > MAX_BODY as u64) {
            return Err(TrackerError::BadReply(format!(
                "reply larger than {MAX_BODY} bytes"
            )));
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(map_reqwest)? {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(TrackerError::BadReply(format!(
                    "reply larger than {MAX_BODY} bytes"
                )));
            }
            body.extend_from_slice(&chunk);
        }
        Ok((status, body, tracker_ip))
    };
    let (status, body, tracker_ip) =
        tokio::time::timeout(REQUEST_TIMEOUT + Duration::from_secs(1), fetch)
            .await
            .map_err(|_| {
                TrackerError::Timeout(format!("no reply within {} s", REQUEST_TIMEOUT.as_secs()))
            })??;
    let mut parsed = parse_response(&body);
    if let Ok(r) = &mut parsed {
        r.tracker_ip = tracker_ip;
    }
    if status.is_success() {
        parsed
    } else {
        // Some trackers send their `failure reason` with a 4xx status: that text is the best
        // explanation there is.
        match parsed {
            Err(TrackerError::Failure(reason)) => Err(TrackerError::Failure(reason)),
            _ => Err(TrackerError::HttpStatus(status.as_u16())),
        }
    }
}

/// IPv4 compact peers, 6 bytes each, appended to `out` until it holds
/// [`MAX_PEERS_PER_REPLY`]; a ragged tail is ignored.
pub(crate) fn compact_v4(bytes: &[u8], out: &mut Vec<SocketAddr>) {
    let room = MAX_PEERS_PER_REPLY.saturating_sub(out.len());
    for c in bytes.chunks_exact(6).take(room) {
        if let [a, b, c0, d, p0, p1] = *c {
            let port = u16::from_be_bytes([p0, p1]);
            if port != 0 {
                out.push(SocketAddr::new(
                    IpAddr::V4(Ipv4Addr::new(a, b, c0, d)),
                    port,
                ));
            }
        }
    }
}

/// IPv6 compact peers, 18 bytes each, with the same cap as [`compact_v4`].
pub(crate) fn compact_v6(bytes: &[u8], out: &mut Vec<SocketAddr>) {
    let room = MAX_PEERS_PER_REPLY.saturating_sub(out.len());
    for c in bytes.chunks_exact(18).take(room) {
        let mut ip = [0u8; 16];
        ip.copy_from_slice(c.get(..16).unwrap_or(&[0; 16]));
        let port = u16::from_be_bytes([
            c.get(16).copied().unwrap_or(0),
            c.get(17).copied().unwrap_or(0),
        ]);
        if port != 0 {
            out.push(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(ip),
                port,
                0,
                0,
            )));
        }
    }
}

/// One entry of a non-compact peer list; hostnames and bad ports are skipped.
fn dict_peer(raw: &[u8]) -> Option<SocketAddr> {
    let Ok(Value::Dict(d)) = bencode::decode_value(raw) else {
        return None;
    };
    let ip = match d.get(&b"ip"[..])? {
        Value::Bytes(b) => std::str::from_utf8(b).ok()?.trim().parse::<IpAddr>().ok()?,
        _ => return None,
    };
    let port = match d.get(&b"port"[..])? {
        Value::Int(p) => u16::try_from(*p).ok().filter(|p| *p != 0)?,
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

const KEYS: [&[u8]; 9] = [
    b"failure reason",
    b"warning message",
    b"peers",
    b"peers6",
    b"interval",
    b"min interval",
    b"complete",
    b"incomplete",
    b"external ip",
];

/// Parses a tracker's bencoded announce reply. Only the keys we read are decoded; at most
/// [`MAX_PEERS_PER_REPLY`] peers are taken and the rest of a longer list is never parsed.
pub fn parse_response(body: &[u8]) -> Result<AnnounceResponse, TrackerError> {
    if body.is_empty() {
        return Err(TrackerError::BadReply("empty reply".into()));
    }
    let not_bencode = |e: BencodeError| {
        TrackerError::BadReply(format!(
            "not bencode ({})",
            clean_text(e.to_string().as_bytes())
        ))
    };
    // Some trackers end the body with a newline: what follows the value is ignored.
    let end = bencode::value_end(body, 0).map_err(not_bencode)?;
    let body = body.get(..end).unwrap_or(body);
    let entries = bencode::top_level_entries(body, &KEYS).map_err(|e| match e {
        BencodeError::NotADict => TrackerError::BadReply("not a dictionary".into()),
        e => not_bencode(e),
    })?;
    let span = |key: usize| {
        entries
            .iter()
            .find(|(i, _)| *i == key)
            .map(|(_, s)| s.clone())
    };
    let text = |key: usize| span(key).and_then(|s| bencode::string_at(body, s.start));
    let int = |key: usize| {
        span(key).and_then(|s| match bencode::decode_value(body.get(s)?) {
            Ok(Value::Int(i)) => Some(i),
            _ => None,
        })
    };
    if span(0).is_some() {
        let text = text(0).map(clean_text).unwrap_or_default();
        let text = if text.is_empty() {
            "(no reason given)".to_string()
        } else {
            text
        };
        return Err(TrackerError::Failure(text));
    }
    let warning = text(1).map(clean_text).filter(|w| !w.is_empty());
    let mut peers = Vec::new();
    let mut has_peers = false;
    if let Some(s) = span(2) {
        if let Some(b) = bencode::string_at(body, s.start) {
            compact_v4(b, &mut peers);
            has_peers = true;
        } else if body.get(s.start) == Some(&b'l') {
            let items = bencode::list_items(body, s.start).take(MAX_PEERS_PER_REPLY);
            peers.extend(items.filter_map(|r| dict_peer(body.get(r)?)));
            has_peers = true;
        }
    }
    if let Some(b) = text(3) {
        compact_v6(b, &mut peers);
        has_peers = true;
    }
    let interval = int(4);
    if interval.is_none() && !has_peers {
        return Err(TrackerError::BadReply("no interval and no peers".into()));
    }
    let (interval, min_interval) = clamp_intervals(interval, int(5));
    let count = |key| int(key).and_then(|i| u32::try_from(i).ok());
    Ok(AnnounceResponse {
        interval,
        min_interval,
        peers,
        seeders: count(6),
        leechers: count(7),
        warning,
        // BEP 24: 4 or 16 raw bytes; anything else is ignored.
        external_ip: text(8).and_then(raw_ip),
        // Filled in by `announce`, which knows whom it asked.
        tracker_ip: None,
    })
}

/// An address as BEP 24 sends it: 4 bytes for IPv4, 16 for IPv6.
fn raw_ip(b: &[u8]) -> Option<IpAddr> {
    match b.len() {
        4 => <[u8; 4]>::try_from(b).ok().map(IpAddr::from),
        16 => <[u8; 16]>::try_from(b).ok().map(IpAddr::from),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracker::{AnnounceEvent, Progress};

    fn req() -> AnnounceRequest {
        AnnounceRequest {
            info_hash: *b"\x00\x01 +~aZ-._%\xff\xfe\x80/?&=#A",
            peer_id: *b"-TT0001-abcdefghijkl",
            port: 6881,
            progress: Progress {
                uploaded: 1,
                downloaded: 2,
                left: 3,
            },
            event: AnnounceEvent::Started,
            numwant: 50,
        }
    }

    #[test]
    fn query_encodes_every_reserved_byte() {
        let url = announce_url("http://t.example/announce", &req());
        assert!(
            url.starts_with(
                "http://t.example/announce?info_hash=%00%01%20%2B~aZ-._%25%FF%FE%80%2F%3F%26%3D%23A&peer_id=-TT0001-abcdefghijkl&port=6881&uploaded=1&downloaded=2&left=3&compact=1&numwant=50&key="
            ),
            "{url}"
        );
        assert!(url.ends_with("&event=started"), "{url}");
        let mut r = req();
        r.event = AnnounceEvent::None;
        assert!(!announce_url("http://t/a", &r).contains("event"));
        assert!(announce_url("http://t/a?pk=1", &r).starts_with("http://t/a?pk=1&info_hash="));
        assert!(announce_url("http://t/a?pk=1#x", &r).starts_with("http://t/a?pk=1&info_hash="));
    }

    #[test]
    fn compact_and_dict_and_v6_peers() {
        let mut body =
            b"d8:completei5e10:incompletei7e8:intervali900e12:min intervali60e5:peers12:".to_vec();
        body.extend_from_slice(&[127, 0, 0, 1, 0x1a, 0xe1, 10, 0, 0, 2, 0, 80]);
        body.extend_from_slice(b"6:peers618:");
        body.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0x1a, 0xe2]);
        body.extend_from_slice(b"e");
        let r = parse_response(&body).unwrap();
        assert_eq!(r.interval, Duration::from_secs(900));
        assert_eq!(r.min_interval, Some(Duration::from_secs(60)));
        assert_eq!((r.seeders, r.leechers), (Some(5), Some(7)));
        let want: Vec<SocketAddr> = vec![
            "127.0.0.1:6881".parse().unwrap(),
            "10.0.0.2:80".parse().unwrap(),
            "[::1]:6882".parse().unwrap(),
        ];
        assert_eq!(r.peers, want);

        let body = b"d8:intervali1800e5:peersld2:ip9:127.0.0.27:peer id20:aaaaaaaaaaaaaaaaaaaa4:porti7000eed2:ip3:::14:porti7001eed2:ip11:example.com4:porti1eed2:ip9:127.0.0.34:porti0eed2:ip9:127.0.0.44:porti70000eeee";
        let r = parse_response(body).unwrap();
        let want: Vec<SocketAddr> = vec![
            "127.0.0.2:7000".parse().unwrap(),
            "[::1]:7001".parse().unwrap(),
        ];
        assert_eq!(r.peers, want);
    }

    #[test]
    fn peers_per_reply_are_capped() {
        // A hostile 3.6 MB reply: 600,000 compact peers, plus as many IPv6 ones.
        let mut body = b"d8:intervali900e5:peers3600000:".to_vec();
        for i in 0..600_000u32 {
            body.extend_from_slice(&(0x0a00_0000 | i).to_be_bytes());
            body.extend_from_slice(&[0x1a, 0xe1]);
        }
        body.extend_from_slice(b"6:peers618:");
        body.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0x1a, 0xe2]);
        body.push(b'e');
        assert!(body.len() <= MAX_BODY);
        let r = parse_response(&body).unwrap();
        assert_eq!(r.peers.len(), MAX_PEERS_PER_REPLY);
        assert_eq!(r.peers[0], "10.0.0.0:6881".parse::<SocketAddr>().unwrap());

        let mut body = b"d8:intervali900e5:peersl".to_vec();
        for i in 0..20_000u32 {
            let ip = format!("10.0.{}.{}", i / 256 % 256, i % 256);
            body.extend_from_slice(format!("d2:ip{}:{ip}4:porti1ee", ip.len()).as_bytes());
        }
        body.extend_from_slice(b"ee");
        let r = parse_response(&body).unwrap();
        assert_eq!(r.peers.len(), MAX_PEERS_PER_REPLY);
    }

    #[test]
    fn nesting_and_trailing_bytes() {
        let mut deep = b"d8:intervali60e5:peers0:1:x".to_vec();
        deep.extend(std::iter::repeat_n(b'l', 20_000));
        deep.extend(std::iter::repeat_n(b'e', 20_000));
        deep.push(b'e');
        let e = parse_response(&deep).unwrap_err();
        assert!(e.to_string().contains("nested deeper"), "{e}");
        // A newline after the dictionary is tolerated.
        let r = parse_response(b"d8:intervali60e5:peers0:e\n").unwrap();
        assert_eq!(r.interval, Duration::from_secs(60));
    }

    #[test]
    fn external_ip_is_read_as_bep_24_sends_it() {
        let r =
            parse_response(b"d11:external ip4:\xcb\x00\x71\x078:intervali60e5:peers0:e").unwrap();
        assert_eq!(r.external_ip, Some("203.0.113.7".parse().unwrap()));
        let mut v6 = b"d11:external ip16:".to_vec();
        v6.extend_from_slice(&"2001:db8::7".parse::<Ipv6Addr>().unwrap().octets());
        v6.extend_from_slice(b"8:intervali60e5:peers0:e");
        assert_eq!(
            parse_response(&v6).unwrap().external_ip,
            Some("2001:db8::7".parse().unwrap())
        );
        // Neither 4 nor 16 bytes, or not a string: no vote, and the reply still counts.
        let odd = parse_response(b"d11:external ip3:abc8:intervali60e5:peers0:e").unwrap();
        assert_eq!(odd.external_ip, None);
        let int = parse_response(b"d11:external ipi7e8:intervali60e5:peers0:e").unwrap();
        assert_eq!(int.external_ip, None);
        // A vote needs its voter: `announce` fills in whom it asked.
        assert_eq!(odd.seen_as(), None);
        let voted = AnnounceResponse {
            tracker_ip: Some("198.51.100.1".parse().unwrap()),
            ..r
        };
        assert_eq!(
            voted.seen_as(),
            Some(crate::tracker::SeenAs {
                ip: "203.0.113.7".parse().unwrap(),
                voter: "198.51.100.1".parse().unwrap(),
            })
        );
    }

    #[test]
    fn failure_and_warning() {
        let e = parse_response(b"d14:failure reason20:torrent not on list!e").unwrap_err();
        assert_eq!(e, TrackerError::Failure("torrent not on list!".into()));
        let r = parse_response(b"d8:intervali60e15:warning message6:beware5:peers0:e").unwrap();
        assert_eq!(r.warning.as_deref(), Some("beware"));
        assert!(r.peers.is_empty());
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let deep = vec![b'l'; 1_000_000];
        let cases: Vec<&[u8]> = vec![
            b"",
            b"<html>nope</html>",
            b"le",
            b"i42e",
            b"de",
            b"d8:intervali",
            b"d5:peers99999999999999999999999:xe",
            b"d5:peers4000000000:abce",
            &deep,
        ];
        for c in cases {
            let e = parse_response(c).unwrap_err();
            assert!(matches!(e, TrackerError::BadReply(_)), "{e:?}");
            assert!(!e.to_string().contains('\n'));
        }
        // Ragged compact tail: the whole peers are kept.
        let r = parse_response(b"d8:intervali60e5:peers8:\x7f\x00\x00\x01\x00\x50xye").unwrap();
        assert_eq!(r.peers, vec!["127.0.0.1:80".parse::<SocketAddr>().unwrap()]);
    }
}
