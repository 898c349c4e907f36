//! The SOAP calls of WANIPConnection/WANPPPConnection that a port mapper makes
//! (AddPortMapping, DeletePortMapping, GetExternalIPAddress) and their replies, including the
//! `UPnPError` a router answers with (718: the port is mapped to someone else).

use std::net::IpAddr;

use thiserror::Error;

/// Longest reply read.
pub const MAX_REPLY: usize = 16 << 10;
/// `ConflictInMappingEntry`: the external port is mapped to another client.
pub const CONFLICT: u32 = 718;
/// `OnlyPermanentLeasesSupported`: an IGD v1 router that takes only a lease of 0.
pub const ONLY_PERMANENT_LEASES: u32 = 725;
const MAX_ERROR_TEXT: usize = 120;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SoapError {
    #[error("the SOAP reply is longer than {} KiB", MAX_REPLY >> 10)]
    TooLong,
    #[error("the SOAP reply is not XML: {0}")]
    Xml(String),
    #[error("UPnP error {code} ({description})")]
    Upnp { code: u32, description: String },
    #[error("the SOAP reply has no {0}")]
    Missing(String),
    #[error("the SOAP reply's external address {0:?} is not an IP address")]
    BadAddress(String),
    #[error("the SOAP reply's port {0:?} is not a port")]
    BadPort(String),
}

/// The value of the `SOAPAction` header of `action` on `service`.
pub fn action_header(service: &str, action: &str) -> String {
    format!("\"{service}#{action}\"")
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The envelope of `action` on `service` with its arguments in order.
pub fn envelope(service: &str, action: &str, args: &[(&str, String)]) -> String {
    let mut body = String::new();
    for (name, value) in args {
        body.push_str(&format!("<{name}>{}</{name}>", escape(value)));
    }
    format!(
        "<?xml version=\"1.0\"?>\r\n<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" \
         s:encodingStyle=\"http://schemas.xmlsoap.org/soap/encoding/\"><s:Body>\
         <u:{action} xmlns:u=\"{}\">{body}</u:{action}></s:Body></s:Envelope>\r\n",
        escape(service)
    )
}

/// AddPortMapping of `external` to `client`:`internal` for `lease` seconds (0: as long as
/// the router keeps it).
pub fn add_port_mapping(
    service: &str,
    external: u16,
    proto: &str,
    internal: u16,
    client: IpAddr,
    description: &str,
    lease: u32,
) -> String {
    let args = mapping_args(external, proto, internal, client, description, lease);
    envelope(service, "AddPortMapping", &args)
}

/// The arguments AddPortMapping and AddAnyPortMapping share, in the spec's order.
fn mapping_args(
    external: u16,
    proto: &str,
    internal: u16,
    client: IpAddr,
    description: &str,
    lease: u32,
) -> [(&'static str, String); 8] {
    [
        ("NewRemoteHost", String::new()),
        ("NewExternalPort", external.to_string()),
        ("NewProtocol", proto.to_string()),
        ("NewInternalPort", internal.to_string()),
        ("NewInternalClient", client.to_string()),
        ("NewEnabled", "1".into()),
        ("NewPortMappingDescription", description.to_string()),
        ("NewLeaseDuration", lease.to_string()),
    ]
}

/// IGD v2's AddAnyPortMapping: like AddPortMapping, but the router picks another external
/// port when `external` is taken, and says which (`parse_reserved_port`).
pub fn add_any_port_mapping(
    service: &str,
    external: u16,
    proto: &str,
    internal: u16,
    client: IpAddr,
    description: &str,
    lease: u32,
) -> String {
    let args = mapping_args(external, proto, internal, client, description, lease);
    envelope(service, "AddAnyPortMapping", &args)
}

/// The port AddAnyPortMapping's answer reserved.
pub fn parse_reserved_port(xml: &[u8]) -> Result<u16, SoapError> {
    let args = parse_reply(xml, "AddAnyPortMapping")?;
    let v = args
        .iter()
        .find(|(k, _)| k == "NewReservedPort")
        .map(|(_, v)| v.as_str())
        .ok_or_else(|| SoapError::Missing("NewReservedPort".into()))?;
    match v.parse::<u16>() {
        Ok(p) if p != 0 => Ok(p),
        _ => Err(SoapError::BadPort(v.chars().take(16).collect())),
    }
}

pub fn delete_port_mapping(service: &str, external: u16, proto: &str) -> String {
    envelope(
        service,
        "DeletePortMapping",
        &[
            ("NewRemoteHost", String::new()),
            ("NewExternalPort", external.to_string()),
            ("NewProtocol", proto.to_string()),
        ],
    )
}

pub fn get_external_ip(service: &str) -> String {
    envelope(service, "GetExternalIPAddress", &[])
}

/// The arguments of `action`'s reply, or the router's `UPnPError`.
pub fn parse_reply(xml: &[u8], action: &str) -> Result<Vec<(String, String)>, SoapError> {
    if xml.len() > MAX_REPLY {
        return Err(SoapError::TooLong);
    }
    let text = String::from_utf8_lossy(xml);
    // The parser's message quotes the text (a tag name may be the whole reply): kept short.
    let doc = roxmltree::Document::parse(&text)
        .map_err(|e| SoapError::Xml(crate::protocol::text::shorten(&e.to_string()).into_owned()))?;
    let named =
        |n: &roxmltree::Node<'_, '_>, name: &str| n.is_element() && n.tag_name().name() == name;
    if let Some(err) = doc.descendants().find(|n| named(n, "UPnPError")) {
        let field = |name: &str| {
            err.children()
                .find(|c| named(c, name))
                .and_then(|c| c.text())
                .map(str::trim)
                .unwrap_or("")
                .to_string()
        };
        let code = field("errorCode").parse().unwrap_or(0);
        let mut description = field("errorDescription");
        if description.len() > MAX_ERROR_TEXT || description.chars().any(char::is_control) {
            description = description
                .chars()
                .filter(|c| !c.is_control())
                .take(MAX_ERROR_TEXT)
                .collect();
        }
        return Err(SoapError::Upnp { code, description });
    }
    let want = format!("{action}Response");
    let reply = doc
        .descendants()
        .find(|n| named(n, &want))
        .ok_or(SoapError::Missing(want))?;
    Ok(reply
        .children()
        .filter(|c| c.is_element())
        .map(|c| {
            (
                c.tag_name().name().to_string(),
                c.text().unwrap_or("").trim().to_string(),
            )
        })
        .collect())
}

/// GetExternalIPAddress's answer.
pub fn parse_external_ip(xml: &[u8]) -> Result<IpAddr, SoapError> {
    let args = parse_reply(xml, "GetExternalIPAddress")?;
    let v = args
        .iter()
        .find(|(k, _)| k == "NewExternalIPAddress")
        .map(|(_, v)| v.as_str())
        .ok_or_else(|| SoapError::Missing("NewExternalIPAddress".into()))?;
    v.parse()
        .map_err(|_| SoapError::BadAddress(v.chars().take(64).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SVC: &str = "urn:schemas-upnp-org:service:WANIPConnection:1";

    #[test]
    fn calls_are_enveloped() {
        let b = add_port_mapping(
            SVC,
            6881,
            "TCP",
            6881,
            "127.0.0.1".parse().unwrap(),
            "ttui <6881>",
            3600,
        );
        assert!(b.contains(&format!("<u:AddPortMapping xmlns:u=\"{SVC}\">")));
        assert!(b.contains("<NewExternalPort>6881</NewExternalPort><NewProtocol>TCP</NewProtocol>"));
        assert!(
            b.contains("<NewPortMappingDescription>ttui &lt;6881&gt;</NewPortMappingDescription>")
        );
        assert!(b.contains("<NewLeaseDuration>3600</NewLeaseDuration>"));
        assert_eq!(
            action_header(SVC, "DeletePortMapping"),
            format!("\"{SVC}#DeletePortMapping\"")
        );
        // Our own envelope reads back as XML.
        assert!(roxmltree::Document::parse(&delete_port_mapping(SVC, 1, "UDP")).is_ok());
    }

    #[test]
    fn replies_and_errors_are_read() {
        let ok = format!(
            "<?xml version=\"1.0\"?><s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body>\
             <u:GetExternalIPAddressResponse xmlns:u=\"{SVC}\"><NewExternalIPAddress>127.0.0.9</NewExternalIPAddress>\
             </u:GetExternalIPAddressResponse></s:Body></s:Envelope>"
        );
        assert_eq!(
            parse_external_ip(ok.as_bytes()),
            Ok("127.0.0.9".parse().unwrap())
        );
        let fault = "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body><s:Fault>\
             <faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring><detail>\
             <UPnPError xmlns=\"urn:schemas-upnp-org:control-1-0\"><errorCode>718</errorCode>\
             <errorDescription>ConflictInMappingEntry</errorDescription></UPnPError></detail></s:Fault></s:Body></s:Envelope>";
        let e = parse_reply(fault.as_bytes(), "AddPortMapping").unwrap_err();
        assert_eq!(
            e,
            SoapError::Upnp {
                code: CONFLICT,
                description: "ConflictInMappingEntry".into()
            }
        );
        assert_eq!(e.to_string(), "UPnP error 718 (ConflictInMappingEntry)");
    }

    /// Found by the `upnp` fuzz target: a reply whose XML error quoted a 200-byte tag name.
    #[test]
    fn an_xml_error_stays_short() {
        use base64::Engine;
        let reply = base64::engine::general_purpose::STANDARD
            .decode("PD94bWwgdmVyc2lvbj0iMS4wIj8+Cjxyb290IHhtbG5zPSJ1cm46c2NoZW1hcy11cG5wLW9yZzpkZXZpY2UtMS0wIj48ZGV2aWNlPjxkZXZpY2VMaXN0PjxkZXZpY2U+PGRpY2VMaXN0PjxkZXZpgWNlPjxzZXJ2aWNlTGlzdD5kZXZpY2U+PJmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZ0ZuaiZacmrBpc3Q+PC9kZXZpY2VldmljZT48L3Jvb3Q+Cg==")
            .unwrap();
        for action in [
            "AddPortMapping",
            "DeletePortMapping",
            "GetExternalIPAddress",
        ] {
            let e = parse_reply(&reply, action).unwrap_err();
            assert!(e.to_string().chars().count() < 300, "{e}");
        }
    }

    #[test]
    fn add_any_names_its_action_and_its_port_is_read() {
        let b = add_any_port_mapping(SVC, 6881, "UDP", 6881, "127.0.0.1".parse().unwrap(), "t", 0);
        assert!(b.contains("<u:AddAnyPortMapping xmlns:u="), "{b}");
        assert!(b.contains("</u:AddAnyPortMapping>"), "{b}");
        let ok = "<r><u:AddAnyPortMappingResponse xmlns:u=\"x\"><NewReservedPort>51001</NewReservedPort>\
                  </u:AddAnyPortMappingResponse></r>";
        assert_eq!(parse_reserved_port(ok.as_bytes()), Ok(51001));
        let zero = ok.replace("51001", "0");
        assert_eq!(
            parse_reserved_port(zero.as_bytes()),
            Err(SoapError::BadPort("0".into()))
        );
    }

    #[test]
    fn bad_replies_are_errors() {
        assert!(matches!(parse_reply(b"<a>", "X"), Err(SoapError::Xml(_))));
        assert_eq!(
            parse_reply(b"<a/>", "AddPortMapping"),
            Err(SoapError::Missing("AddPortMappingResponse".into()))
        );
        assert_eq!(
            parse_reply(&vec![b' '; MAX_REPLY + 1], "X"),
            Err(SoapError::TooLong)
        );
        let bad = b"<r><GetExternalIPAddressResponse><NewExternalIPAddress>router</NewExternalIPAddress></GetExternalIPAddressResponse></r>";
        assert_eq!(
            parse_external_ip(bad),
            Err(SoapError::BadAddress("router".into()))
        );
    }
}
