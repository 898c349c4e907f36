//! `--interface` as a face shows it: the device every peer socket is bound to and whether it
//! carries traffic now (the kill switch: while it does not, nothing is sent). Plain data: the
//! watching is the session's (`session/interface.rs`).

/// The interface as the header, the explainer and `show --json` show it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct InterfaceStatus {
    /// Its name (`wg0`).
    pub name: String,
    /// Up with an address: connections and announces go out through it.
    pub up: bool,
    /// The address connections leave from while up.
    pub address: Option<std::net::IpAddr>,
    /// While down, why: "missing", "down", "without an address".
    pub down: Option<String>,
}

impl InterfaceStatus {
    /// The header's and the explainer's words while it is down.
    pub fn down_line(&self) -> Option<String> {
        (!self.up).then(|| format!("interface {} is down: nothing is sent", self.name))
    }
}
