//! SSDP (UPnP Device Architecture 1.1 §1.3): the M-SEARCH a client multicasts to
//! 239.255.255.250:1900 and the unicast HTTP-over-UDP answers devices send back. Only
//! `LOCATION` (where the description is), `ST` and `USN` are read.

use thiserror::Error;

/// SSDP's multicast group and port (IPv4).
pub const MULTICAST: std::net::SocketAddrV4 =
    std::net::SocketAddrV4::new(std::net::Ipv4Addr::new(239, 255, 255, 250), 1900);
/// The search target that finds any IGD, v1 or v2 (a v2 device answers it too).
pub const ST_IGD: &str = "urn:schemas-upnp-org:device:InternetGatewayDevice:1";
/// Longest answer read: real ones are a few hundred bytes.
pub const MAX_RESPONSE: usize = 2048;
const MAX_LOCATION: usize = 512;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SsdpError {
    #[error("an SSDP answer of {0} bytes is longer than {MAX_RESPONSE}")]
    TooLong(usize),
    #[error("an SSDP answer is not HTTP/1.x 200")]
    Status,
    #[error("an SSDP answer has no LOCATION")]
    NoLocation,
    #[error("an SSDP answer's LOCATION is not an http:// URL")]
    BadLocation,
}

/// What a device said about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The URL of its description (http only: UPnP 1.x has no https).
    pub location: String,
    pub st: Option<String>,
    pub usn: Option<String>,
}

/// The M-SEARCH for `st`, asking answers within `mx` seconds (1 to 5, as the spec says).
pub fn m_search(st: &str, mx: u8) -> String {
    format!(
        "M-SEARCH * HTTP/1.1\r\nHOST: {MULTICAST}\r\nMAN: \"ssdp:discover\"\r\nMX: {}\r\nST: {st}\r\n\r\n",
        mx.clamp(1, 5)
    )
}

/// Reads an answer to an M-SEARCH.
pub fn parse_answer(b: &[u8]) -> Result<Answer, SsdpError> {
    if b.len() > MAX_RESPONSE {
        return Err(SsdpError::TooLong(b.len()));
    }
    let text = String::from_utf8_lossy(b);
    let mut lines = text.split("\r\n").flat_map(|l| l.split('\n'));
    let status = lines.next().unwrap_or("");
    let mut parts = status.split_whitespace();
    let ok = matches!(parts.next(), Some("HTTP/1.1" | "HTTP/1.0")) && parts.next() == Some("200");
    if !ok {
        return Err(SsdpError::Status);
    }
    let (mut location, mut st, mut usn) = (None, None, None);
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim().to_string();
        match name.trim().to_ascii_lowercase().as_str() {
            "location" => location = Some(value),
            "st" => st = Some(value),
            "usn" => usn = Some(value),
            _ => {}
        }
    }
    let location = location.ok_or(SsdpError::NoLocation)?;
    if location.len() > MAX_LOCATION
        || !location
            .get(..7)
            .is_some_and(|s| s.eq_ignore_ascii_case("http://"))
        || location.chars().any(|c| c.is_control() || c == ' ')
    {
        return Err(SsdpError::BadLocation);
    }
    Ok(Answer { location, st, usn })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_search_is_what_routers_expect() {
        let s = m_search(ST_IGD, 9);
        assert!(s.starts_with("M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\n"));
        assert!(s.contains("MAN: \"ssdp:discover\"\r\nMX: 5\r\n"));
        assert!(s.ends_with(&format!("ST: {ST_IGD}\r\n\r\n")));
    }

    #[test]
    fn an_answer_is_read() {
        let a = parse_answer(
            b"HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=120\r\nlocation: http://127.0.0.7:5000/rootDesc.xml\r\n\
              ST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\nUSN: uuid:1::x\r\n\r\n",
        )
        .unwrap();
        assert_eq!(a.location, "http://127.0.0.7:5000/rootDesc.xml");
        assert_eq!(a.st.as_deref(), Some(ST_IGD));
        assert_eq!(a.usn.as_deref(), Some("uuid:1::x"));
    }

    #[test]
    fn bad_answers_are_errors() {
        assert_eq!(
            parse_answer(b"NOTIFY * HTTP/1.1\r\n\r\n"),
            Err(SsdpError::Status)
        );
        assert_eq!(
            parse_answer(b"HTTP/1.1 200 OK\r\nST: x\r\n\r\n"),
            Err(SsdpError::NoLocation)
        );
        assert_eq!(
            parse_answer(b"HTTP/1.1 200 OK\r\nLOCATION: file:///etc/passwd\r\n\r\n"),
            Err(SsdpError::BadLocation)
        );
        assert_eq!(
            parse_answer(&vec![b'a'; MAX_RESPONSE + 1]),
            Err(SsdpError::TooLong(MAX_RESPONSE + 1))
        );
    }
}
