//! A request's parameters, as qBittorrent reads them: the query string and an
//! `application/x-www-form-urlencoded` body, merged (the body's win). Percent-decoding is
//! `form_urlencoded`'s (the `url` crate's own, already in the build through reqwest): a
//! well-kept parser of exactly this format, nothing more. Multipart bodies are not read yet.

use std::collections::HashMap;

/// A request's parameters by name (the last of a repeated name wins, as in qBittorrent).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Params(HashMap<String, String>);

impl Params {
    /// Reads `query` (the URI's, without `?`) and a urlencoded `body` (empty: none).
    pub fn parse(query: Option<&str>, body: &[u8]) -> Params {
        let mut map = HashMap::new();
        for (k, v) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            map.insert(k.into_owned(), v.into_owned());
        }
        for (k, v) in form_urlencoded::parse(body) {
            map.insert(k.into_owned(), v.into_owned());
        }
        Params(map)
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// A boolean as qBittorrent's clients send it (`true`/`false`, any case).
    pub fn flag(&self, name: &str) -> Option<bool> {
        match self.get(name)?.to_ascii_lowercase().as_str() {
            "true" | "1" => Some(true),
            "false" | "0" => Some(false),
            _ => None,
        }
    }

    pub fn int(&self, name: &str) -> Option<i64> {
        self.get(name)?.trim().parse().ok()
    }

    /// A `|`-separated list (`hashes`, `tags` use `,`), empty entries left out.
    pub fn list(&self, name: &str, sep: char) -> Vec<String> {
        self.get(name)
            .map(|s| {
                s.split(sep)
                    .map(str::trim)
                    .filter(|x| !x.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_and_body_merge_and_decode() {
        let p = Params::parse(Some("a=1&hashes=x%7Cy&b=q"), b"b=two+words&flag=TRUE");
        assert_eq!(p.get("a"), Some("1"));
        assert_eq!(p.get("b"), Some("two words"));
        assert_eq!(p.list("hashes", '|'), vec!["x", "y"]);
        assert_eq!(p.flag("flag"), Some(true));
        assert_eq!(p.int("a"), Some(1));
        assert_eq!(p.int("b"), None);
        assert_eq!(Params::parse(None, b"%ZZ=%"), Params::parse(None, b"%ZZ=%"));
    }
}
