//! One field's value as torrent-get writes it: the scalars and strings borrowed from the
//! torrent's line, serialized straight into the answer. Building a `serde_json::Value` a
//! field (a map a torrent) was most of the time of a torrent-get of 10,000 torrents; the
//! nested values (files, peers, trackers) are still built as `Value`, one a field.

use std::borrow::Cow;

use serde::{Serialize, Serializer};
use serde_json::Value;

/// A field's value; serializes as the `json!` of what it holds would.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Out<'a> {
    U(u64),
    I(i64),
    F(f64),
    B(bool),
    S(Cow<'a, str>),
    /// A list of strings (`labels`).
    Strs(&'a [String]),
    Json(Value),
}

#[cfg(test)]
impl Out<'_> {
    /// The same value as a `Value` (what the tests compare).
    pub(crate) fn into_value(self) -> Value {
        match self {
            Out::U(n) => Value::from(n),
            Out::I(n) => Value::from(n),
            Out::F(f) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
            Out::B(b) => Value::Bool(b),
            Out::S(s) => Value::String(s.into_owned()),
            Out::Strs(l) => Value::from(l.to_vec()),
            Out::Json(v) => v,
        }
    }
}

impl Serialize for Out<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Out::U(n) => s.serialize_u64(*n),
            Out::I(n) => s.serialize_i64(*n),
            // serde_json writes a NaN or an infinity as null, as `json!` does.
            Out::F(f) => s.serialize_f64(*f),
            Out::B(b) => s.serialize_bool(*b),
            Out::S(t) => s.serialize_str(t),
            Out::Strs(l) => l.serialize(s),
            Out::Json(v) => v.serialize(s),
        }
    }
}

macro_rules! unsigned {
    ($($t:ty),*) => {$(
        impl From<$t> for Out<'_> {
            fn from(n: $t) -> Self {
                Out::U(n as u64)
            }
        }
    )*};
}
unsigned!(u8, u16, u32, u64, usize);

macro_rules! signed {
    ($($t:ty),*) => {$(
        impl From<$t> for Out<'_> {
            fn from(n: $t) -> Self {
                Out::I(i64::from(n))
            }
        }
    )*};
}
signed!(i8, i32, i64);

impl From<f64> for Out<'_> {
    fn from(f: f64) -> Self {
        Out::F(f)
    }
}

impl From<bool> for Out<'_> {
    fn from(b: bool) -> Self {
        Out::B(b)
    }
}

impl<'a> From<&'a str> for Out<'a> {
    fn from(s: &'a str) -> Self {
        Out::S(Cow::Borrowed(s))
    }
}

impl From<String> for Out<'_> {
    fn from(s: String) -> Self {
        Out::S(Cow::Owned(s))
    }
}

impl<'a> From<Cow<'a, str>> for Out<'a> {
    fn from(s: Cow<'a, str>) -> Self {
        Out::S(s)
    }
}

impl<'a> From<&'a [String]> for Out<'a> {
    fn from(l: &'a [String]) -> Self {
        Out::Strs(l)
    }
}

impl From<Option<String>> for Out<'_> {
    fn from(s: Option<String>) -> Self {
        s.map_or(Out::Json(Value::Null), Out::from)
    }
}

impl From<Value> for Out<'_> {
    fn from(v: Value) -> Self {
        Out::Json(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each kind writes what `json!` of the same value writes.
    #[test]
    fn writes_as_json_would() {
        let labels = vec!["a\"b".to_string(), "ü\n".to_string()];
        let cases: Vec<(Out, Value)> = vec![
            (Out::from(u64::MAX), serde_json::json!(u64::MAX)),
            (Out::from(-2i64), serde_json::json!(-2)),
            (Out::from(0.5f64), serde_json::json!(0.5)),
            (Out::from(1.0f64), serde_json::json!(1.0)),
            (Out::from(f64::NAN), serde_json::json!(f64::NAN)),
            (Out::from(true), serde_json::json!(true)),
            (Out::from("q\"\\\u{1}é"), serde_json::json!("q\"\\\u{1}é")),
            (Out::from(&labels[..]), serde_json::json!(labels)),
            (Out::from(None::<String>), Value::Null),
            (
                Out::from(serde_json::json!({"x": [1]})),
                serde_json::json!({"x": [1]}),
            ),
        ];
        for (out, want) in cases {
            let wrote = serde_json::to_string(&out).unwrap();
            assert_eq!(wrote, serde_json::to_string(&want).unwrap(), "{out:?}");
            assert_eq!(out.into_value(), want);
        }
    }
}
