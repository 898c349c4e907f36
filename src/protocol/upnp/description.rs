//! An IGD's device description (the XML at SSDP's `LOCATION`): which of the port-mapping
//! services it has, and the URL its SOAP calls go to.
//!
//! Element names are matched by local name, ignoring namespaces: routers get the namespace
//! wrong often enough that libtorrent and miniupnpc match the same way. The control URL must
//! stay on the host that served the description, so a description cannot send our SOAP calls
//! elsewhere on the network.

use thiserror::Error;

use super::SERVICE_TYPES;

/// Longest description read: real ones are a few KiB.
pub const MAX_DESCRIPTION: usize = 64 << 10;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DescriptionError {
    #[error("the device description is longer than {} KiB", MAX_DESCRIPTION >> 10)]
    TooLong,
    #[error("the device description is not XML: {0}")]
    Xml(String),
    #[error("the device has no WANIPConnection or WANPPPConnection service")]
    NoService,
    #[error("the control URL {0:?} is not on the description's host")]
    ForeignControl(String),
    #[error("the description's URL {0:?} is not an http:// URL")]
    BadBase(String),
}

/// The service to call and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Igd {
    pub service_type: String,
    pub control_url: String,
}

/// `http://host:port` of an http URL, and its path (at least "/").
fn split_url(url: &str) -> Option<(&str, &str)> {
    if !url.get(..7)?.eq_ignore_ascii_case("http://") {
        return None;
    }
    let rest = &url[7..];
    let end = rest.find('/').unwrap_or(rest.len());
    if end == 0 {
        return None;
    }
    let path = if end == rest.len() { "/" } else { &rest[end..] };
    Some((&url[..7 + end], path))
}

/// `reference` resolved against `base` (RFC 3986 for the forms descriptions use: absolute,
/// absolute path, relative path), refused when it leaves `base`'s host.
fn resolve(base: &str, reference: &str) -> Result<String, DescriptionError> {
    let (origin, path) = split_url(base).ok_or_else(|| DescriptionError::BadBase(base.into()))?;
    if reference.contains("://") {
        return match split_url(reference) {
            Some((o, _)) if o.eq_ignore_ascii_case(origin) => Ok(reference.to_string()),
            _ => Err(DescriptionError::ForeignControl(reference.into())),
        };
    }
    if reference.starts_with("//") {
        return Err(DescriptionError::ForeignControl(reference.into()));
    }
    if reference.starts_with('/') {
        return Ok(format!("{origin}{reference}"));
    }
    let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
    let dir = if dir.is_empty() { "/" } else { dir };
    Ok(format!("{origin}{dir}{reference}"))
}

/// Finds the best port-mapping service of the description fetched from `location`.
pub fn parse(xml: &[u8], location: &str) -> Result<Igd, DescriptionError> {
    if xml.len() > MAX_DESCRIPTION {
        return Err(DescriptionError::TooLong);
    }
    let text = std::str::from_utf8(xml).map_err(|e| DescriptionError::Xml(e.to_string()))?;
    let doc = roxmltree::Document::parse(text).map_err(|e| DescriptionError::Xml(e.to_string()))?;
    let child_text = |n: roxmltree::Node<'_, '_>, name: &str| {
        n.children()
            .find(|c| c.is_element() && c.tag_name().name() == name)
            .and_then(|c| c.text())
            .map(str::trim)
            .map(str::to_string)
    };
    let base = doc
        .root_element()
        .children()
        .find(|c| c.is_element() && c.tag_name().name() == "URLBase")
        .and_then(|c| c.text())
        .map(str::trim)
        .filter(|b| !b.is_empty())
        .map(str::to_string);
    let best = doc
        .descendants()
        .filter(|n| n.is_element() && n.tag_name().name() == "service")
        .filter_map(|n| {
            let st = child_text(n, "serviceType")?;
            let rank = SERVICE_TYPES.iter().position(|t| *t == st)?;
            Some((rank, st, child_text(n, "controlURL")?))
        })
        .min_by_key(|(rank, _, _)| *rank)
        .ok_or(DescriptionError::NoService)?;
    // The URLBase, when given, must itself be on the description's host.
    let base = match base {
        Some(b) => resolve(location, &b)?,
        None => location.to_string(),
    };
    Ok(Igd {
        service_type: best.1,
        control_url: resolve(&base, &best.2)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DESC: &str = r#"<?xml version="1.0"?>
<root xmlns="urn:schemas-upnp-org:device-1-0">
 <device><deviceType>urn:schemas-upnp-org:device:InternetGatewayDevice:1</deviceType>
  <deviceList><device><deviceList><device>
   <serviceList>
    <service><serviceType>urn:schemas-upnp-org:service:WANPPPConnection:1</serviceType>
     <controlURL>/ctl/PPP</controlURL></service>
    <service><serviceType>urn:schemas-upnp-org:service:WANIPConnection:1</serviceType>
     <controlURL>ctl/IPConn</controlURL></service>
   </serviceList></device></deviceList></device></deviceList>
 </device>
</root>"#;

    #[test]
    fn the_best_service_and_its_url() {
        let igd = parse(DESC.as_bytes(), "http://127.0.0.7:5000/desc/root.xml").unwrap();
        assert_eq!(
            igd.service_type,
            "urn:schemas-upnp-org:service:WANIPConnection:1"
        );
        assert_eq!(igd.control_url, "http://127.0.0.7:5000/desc/ctl/IPConn");
        let v2 = DESC.replace("WANIPConnection:1", "WANIPConnection:2");
        let igd = parse(v2.as_bytes(), "http://127.0.0.7:5000/root.xml").unwrap();
        assert!(igd.service_type.ends_with("WANIPConnection:2"));
        let ppp = DESC.replace("WANIPConnection:1", "Layer3Forwarding:1");
        let igd = parse(ppp.as_bytes(), "http://127.0.0.7:5000/root.xml").unwrap();
        assert_eq!(igd.control_url, "http://127.0.0.7:5000/ctl/PPP");
    }

    #[test]
    fn urls_stay_on_the_host() {
        assert_eq!(
            resolve("http://127.0.0.7:5000", "x").unwrap(),
            "http://127.0.0.7:5000/x"
        );
        assert_eq!(
            resolve("http://127.0.0.7:5000/a/b.xml", "http://127.0.0.7:5000/c").unwrap(),
            "http://127.0.0.7:5000/c"
        );
        for foreign in ["http://127.0.0.8:5000/c", "//127.0.0.8/c", "https://x/"] {
            assert!(
                matches!(
                    resolve("http://127.0.0.7:5000/", foreign),
                    Err(DescriptionError::ForeignControl(_))
                ),
                "{foreign}"
            );
        }
        let based = DESC.replace("<device>", "<URLBase>http://127.0.0.9:1/</URLBase><device>");
        assert!(matches!(
            parse(based.as_bytes(), "http://127.0.0.7:5000/"),
            Err(DescriptionError::ForeignControl(_))
        ));
    }

    #[test]
    fn bad_descriptions_are_errors() {
        assert!(matches!(
            parse(b"<root><unclosed></root>", "http://127.0.0.7/"),
            Err(DescriptionError::Xml(_))
        ));
        assert_eq!(
            parse(b"<root/>", "http://127.0.0.7/"),
            Err(DescriptionError::NoService)
        );
        assert_eq!(
            parse(&vec![b' '; MAX_DESCRIPTION + 1], "http://127.0.0.7/"),
            Err(DescriptionError::TooLong)
        );
        // A DTD (and so entity expansion) is refused by the parser.
        let bomb = "<!DOCTYPE r [<!ENTITY a \"aaaa\">]><root>&a;</root>";
        assert!(matches!(
            parse(bomb.as_bytes(), "http://127.0.0.7/"),
            Err(DescriptionError::Xml(_))
        ));
    }
}
