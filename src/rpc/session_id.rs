//! The CSRF token of Transmission's RPC (`X-Transmission-Session-Id`): a random value made
//! when the server starts. A request without it gets `409` and the token in that header; a
//! page on another origin never sees it (no CORS headers are ever sent), so it cannot make
//! a request the server accepts.

use rand::RngCore;

/// The header that carries it, both ways.
pub(crate) const HEADER: &str = "x-transmission-session-id";

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SessionId(String);

impl SessionId {
    pub(crate) fn new() -> SessionId {
        let mut bytes = [0u8; 24];
        rand::thread_rng().fill_bytes(&mut bytes);
        SessionId(bytes.iter().map(|b| format!("{b:02x}")).collect())
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether a request's header value is the token (compared in constant time).
    pub(crate) fn matches(&self, given: Option<&[u8]>) -> bool {
        given.is_some_and(|g| crate::http::same(g, self.0.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_fresh_and_matched_exactly() {
        let (a, b) = (SessionId::new(), SessionId::new());
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), 48);
        assert!(a.matches(Some(a.as_str().as_bytes())));
        assert!(!a.matches(Some(b.as_str().as_bytes())));
        assert!(!a.matches(Some(&a.as_str().as_bytes()[1..])));
        assert!(!a.matches(None));
    }
}
