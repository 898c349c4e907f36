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

/// A method's `arguments`: a map, or a JSON object already written (torrent-get's, written
/// in place: at 10,000 torrents a map of maps cost more than everything else in the call).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Arguments {
    Map(Map<String, Value>),
    /// The bytes of one JSON object.
    Written(Vec<u8>),
}

impl From<Map<String, Value>> for Arguments {
    fn from(m: Map<String, Value>) -> Self {
        Arguments::Map(m)
    }
}

/// A response body: `result` is `success` or the error's words.
pub fn response(result: Result<Map<String, Value>, String>, tag: Option<Value>) -> Vec<u8> {
    response_of(result.map(Arguments::Map), tag)
}

/// A response body around `arguments` as they come: `{"arguments":…,"result":…,"tag":…}`.
pub(crate) fn response_of(result: Result<Arguments, String>, tag: Option<Value>) -> Vec<u8> {
    let (words, arguments) = match result {
        Ok(a) => ("success".to_string(), a),
        Err(e) => (e, Arguments::Map(Map::new())),
    };
    let mut out = b"{\"arguments\":".to_vec();
    match arguments {
        Arguments::Written(bytes) => {
            out.reserve(bytes.len() + 64);
            out.extend_from_slice(&bytes);
        }
        // A map of JSON values always serializes.
        Arguments::Map(m) => {
            let _ = serde_json::to_writer(&mut out, &m);
        }
    }
    out.extend_from_slice(b",\"result\":");
    let _ = serde_json::to_writer(&mut out, &words);
    if let Some(t) = tag {
        out.extend_from_slice(b",\"tag\":");
        let _ = serde_json::to_writer(&mut out, &t);
    }
    out.push(b'}');
    out
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

    /// Found by the `rpc` fuzz target: a long float tag came back one bit off, because
    /// serde_json's default float parser is not correctly rounded.
    #[test]
    fn a_float_tag_comes_back_the_same() {
        let body = br#"{"method":"t","arguments":{},"tag":1111111111111111111111111.1111111113}"#;
        let env = parse(body).unwrap();
        let tag = env.tag.clone().unwrap();
        let back: Value = serde_json::from_slice(&response(Err(env.method), env.tag)).unwrap();
        assert_eq!(back["tag"], tag);
        // std's parse is correctly rounded.
        let exact: f64 = "1111111111111111111111111.1111111113".parse().unwrap();
        assert_eq!(tag.as_f64(), Some(exact));
    }

    #[test]
    fn written_arguments_go_in_as_they_are() {
        let body = response_of(
            Ok(Arguments::Written(br#"{"torrents":[{"id":1}]}"#.to_vec())),
            Some(Value::from("t\"")),
        );
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["result"], "success");
        assert_eq!(v["arguments"]["torrents"][0]["id"], 1);
        assert_eq!(v["tag"], "t\"");
    }
}
