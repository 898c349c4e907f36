//! The JSON envelope of a request (`method`, `arguments`, `tag`) and of a response
//! (`result`, `arguments`, `tag`), as rpc-spec section 2 gives them. Parsing is bounded by
//! the body limit before it starts and by serde_json's nesting limit; whatever the bytes,
//! it answers an envelope or an error, never panics (the fuzz target `rpc` holds it to that).

use serde_json::{Map, Value};

/// One request, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    pub method: String,
    pub arguments: Map<String, Value>,
    /// Echoed in the response as given (Transmission's clients send a number).
    pub tag: Option<Value>,
}

/// Why a body is not a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("request is not JSON: {0}")]
    NotJson(String),
    #[error("request is not a JSON object")]
    NotObject,
    #[error("no method name")]
    NoMethod,
    #[error("`arguments` is not an object")]
    BadArguments,
}

/// Parses a request body.
pub fn parse(body: &[u8]) -> Result<Envelope, EnvelopeError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        EnvelopeError::NotJson(crate::protocol::text::shorten(&e.to_string()).into_owned())
    })?;
    let Value::Object(mut obj) = value else {
        return Err(EnvelopeError::NotObject);
    };
    let method = match obj.remove("method") {
        Some(Value::String(m)) => m,
        _ => return Err(EnvelopeError::NoMethod),
    };
    let arguments = match obj.remove("arguments") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(a)) => a,
        Some(_) => return Err(EnvelopeError::BadArguments),
    };
    let tag = obj.remove("tag").filter(|t| t.is_number() || t.is_string());
    Ok(Envelope {
        method,
        arguments,
        tag,
    })
}

/// A response body: `result` is `success` or the error's words.
pub fn response(result: Result<Map<String, Value>, String>, tag: Option<Value>) -> Vec<u8> {
    let mut out = Map::new();
    let (words, arguments) = match result {
        Ok(a) => ("success".to_string(), a),
        Err(e) => (e, Map::new()),
    };
    out.insert("arguments".into(), Value::Object(arguments));
    out.insert("result".into(), Value::String(words));
    if let Some(t) = tag {
        out.insert("tag".into(), t);
    }
    // A map of JSON values always serializes.
    serde_json::to_vec(&Value::Object(out)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_parse_and_garbage_is_an_error() {
        let e = parse(br#"{"method":"session-get","arguments":{"fields":["version"]},"tag":7}"#)
            .unwrap();
        assert_eq!(e.method, "session-get");
        assert_eq!(e.tag, Some(Value::from(7)));
        assert!(e.arguments.contains_key("fields"));
        let e = parse(br#"{"method":"session-stats"}"#).unwrap();
        assert!(e.arguments.is_empty() && e.tag.is_none());
        assert!(matches!(parse(b"{"), Err(EnvelopeError::NotJson(_))));
        assert_eq!(parse(b"[1]"), Err(EnvelopeError::NotObject));
        assert_eq!(parse(br#"{"method":3}"#), Err(EnvelopeError::NoMethod));
        assert_eq!(
            parse(br#"{"method":"x","arguments":[1]}"#),
            Err(EnvelopeError::BadArguments)
        );
        let deep = "[".repeat(100_000);
        assert!(parse(deep.as_bytes()).is_err());
    }

    #[test]
    fn responses_carry_result_and_tag() {
        let body = response(
            Err("method name not recognized".into()),
            Some(Value::from(5)),
        );
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["result"], "method name not recognized");
        assert_eq!(v["tag"], 5);
        assert!(v["arguments"].is_object());
    }
}
