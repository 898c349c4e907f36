//! `multipart/form-data` (RFC 7578), as `torrents/add` receives it: the parts' names,
//! file names and bytes. The body is already whole and bounded in memory (the HTTP door's
//! `read_body`), so this is a small slice parser rather than `multer`, which reads a
//! stream and would bring its own dependencies for what is one split per boundary here.
//! Outside bytes: the fuzz target `qbt` feeds it.

/// Most parts read from one body: a form of thousands of files is not an add.
const MAX_PARTS: usize = 1000;

/// One part of the form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub name: String,
    pub filename: Option<String>,
    pub data: Vec<u8>,
}

/// Why a body is not a form this parser reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MultipartError {
    #[error("no boundary in the Content-Type")]
    NoBoundary,
    #[error("the body does not start with its boundary")]
    NoFirstBoundary,
    #[error("a part has no end of headers")]
    NoHeadersEnd,
    #[error("a part has no end")]
    Unterminated,
    #[error("more than {MAX_PARTS} parts")]
    TooManyParts,
}

/// The boundary of a `multipart/form-data; boundary=...` Content-Type.
pub fn boundary(content_type: &str) -> Option<String> {
    let (kind, rest) = content_type.split_once(';')?;
    if !kind.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    rest.split(';').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        let v = v.trim().trim_matches('"');
        (k.trim().eq_ignore_ascii_case("boundary") && !v.is_empty() && v.len() <= 200)
            .then(|| v.to_string())
    })
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A `name="..."` parameter of a Content-Disposition line.
fn param(line: &str, key: &str) -> Option<String> {
    line.split(';').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case(key)
            .then(|| v.trim().trim_matches('"').to_string())
    })
}

/// The parts of `body`, in order.
pub fn parse(boundary: &str, body: &[u8]) -> Result<Vec<Part>, MultipartError> {
    let delim = format!("--{boundary}");
    let start = find(body, delim.as_bytes()).ok_or(MultipartError::NoFirstBoundary)?;
    let mut rest = &body[start + delim.len()..];
    let next = format!("\r\n--{boundary}");
    let mut parts = Vec::new();
    loop {
        if rest.starts_with(b"--") {
            return Ok(parts);
        }
        rest = rest
            .strip_prefix(b"\r\n")
            .ok_or(MultipartError::Unterminated)?;
        let end = find(rest, b"\r\n\r\n").ok_or(MultipartError::NoHeadersEnd)?;
        let head = String::from_utf8_lossy(&rest[..end]);
        let content = &rest[end + 4..];
        let stop = find(content, next.as_bytes()).ok_or(MultipartError::Unterminated)?;
        let mut name = String::new();
        let mut filename = None;
        for line in head.split("\r\n") {
            let Some((k, v)) = line.split_once(':') else {
                continue;
            };
            if k.trim().eq_ignore_ascii_case("content-disposition") {
                name = param(v, "name").unwrap_or_default();
                filename = param(v, "filename");
            }
        }
        if parts.len() == MAX_PARTS {
            return Err(MultipartError::TooManyParts);
        }
        parts.push(Part {
            name,
            filename,
            data: content[..stop].to_vec(),
        });
        rest = &content[stop + next.len()..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_form_with_a_file_and_fields_is_read() {
        let ct = "multipart/form-data; boundary=\"XyZ\"";
        let b = boundary(ct).unwrap();
        assert_eq!(b, "XyZ");
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"urls\"\r\n\r\nmagnet:?a\nmagnet:?b\r\n\
--XyZ\r\nContent-Disposition: form-data; name=\"torrents\"; filename=\"a.torrent\"\r\n\
Content-Type: application/x-bittorrent\r\n\r\nd4:infoe\r\n--XyZ--\r\n";
        let parts = parse(&b, body).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].name, "urls");
        assert_eq!(parts[0].data, b"magnet:?a\nmagnet:?b");
        assert_eq!(parts[1].filename.as_deref(), Some("a.torrent"));
        assert_eq!(parts[1].data, b"d4:infoe");
    }

    #[test]
    fn broken_forms_are_refused() {
        assert_eq!(boundary("application/x-www-form-urlencoded"), None);
        assert_eq!(boundary("multipart/form-data"), None);
        assert_eq!(parse("b", b"junk"), Err(MultipartError::NoFirstBoundary));
        assert_eq!(
            parse(
                "b",
                b"--b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\nno end"
            ),
            Err(MultipartError::Unterminated)
        );
        assert_eq!(
            parse("b", b"--b\r\nno headers end"),
            Err(MultipartError::NoHeadersEnd)
        );
        assert_eq!(parse("b", b"--b--"), Ok(vec![]));
    }
}
