//! UPnP IGD (Internet Gateway Device, v1 and v2) as bytes: the SSDP search and its answers
//! (`ssdp.rs`), the device description that names the WANIPConnection or WANPPPConnection
//! service and its control URL (`description.rs`), and the SOAP calls that map a port
//! (`soap.rs`). Pure: the session's port mapper owns the sockets and HTTP.
//!
//! XML is read with `roxmltree`: a small, dependency-free, well-kept read-only parser that
//! builds a tree with namespaces resolved and, as we call it, refuses any DTD (so no entity
//! expansion), which is all a description or a SOAP reply needs; quick-xml's streaming
//! writer and serde layers would be more code here for nothing. Every input is capped in size
//! before it is parsed.
//!
//! The session's port mapper speaks it (`engine/session/port_mapping/upnp.rs`).

pub mod description;
pub mod soap;
pub mod ssdp;

/// The services that map ports, best first: IGD v2's WANIPConnection:2 (it has
/// AddAnyPortMapping), v1's WANIPConnection:1, and WANPPPConnection:1 (PPPoE routers).
pub const SERVICE_TYPES: [&str; 3] = [
    "urn:schemas-upnp-org:service:WANIPConnection:2",
    "urn:schemas-upnp-org:service:WANIPConnection:1",
    "urn:schemas-upnp-org:service:WANPPPConnection:1",
];
