//! One piece from a web seed: which byte ranges of which files make it up, the URL of each
//! file, and the ranged GETs. Every failure is a short reason for the peer table.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use reqwest::StatusCode;

use crate::protocol::metainfo::Info;

/// Why a web seed did not give a piece: each `Display` is the short reason in the peer table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum FetchError {
    #[error("timed out")]
    TimedOut,
    /// The innermost cause of a failed connection.
    #[error("cannot connect: {0}")]
    Connect(String),
    /// The innermost cause of another transport failure.
    #[error("{0}")]
    Transport(String),
    #[error("wrong range ({got}, asked for {first}-{last})")]
    WrongRange { got: String, first: u64, last: u64 },
    #[error("server ignores ranges (HTTP 200)")]
    NoRanges,
    #[error("HTTP {0}")]
    Status(u16),
    #[error("wrong length ({got} bytes, expected {want})")]
    WrongLength { got: u64, want: u64 },
    #[error("wrong length (more than {0} bytes)")]
    TooLong(u64),
    #[error("short body ({got} of {want} bytes)")]
    Short { got: usize, want: u64 },
    #[error("bad URL: {0}")]
    BadUrl(String),
    #[error("URL without a host")]
    NoHost,
    #[error("timed out resolving {0}")]
    ResolveTimedOut(String),
    #[error("cannot resolve {host}: {reason}")]
    Resolve { host: String, reason: String },
    #[error("no address for {0}")]
    NoAddress(String),
}

/// For one ranged GET, body included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A client whose requests leave from the `--bind` address when one is given, through the
/// `--proxy` when one is set (reqwest's `socks` feature: `socks5h://` has the proxy resolve
/// the name).
pub(super) fn client(egress: &crate::tracker::Egress) -> reqwest::Result<reqwest::Client> {
    let b = reqwest::Client::builder()
        .local_address(egress.local)
        .user_agent(concat!("ttui/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(10))
        .timeout(REQUEST_TIMEOUT);
    crate::tracker::with_proxy(crate::tracker::with_interface(b), egress)?.build()
}

/// A byte range of one file: file index, offset in the file, length.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Segment {
    pub file: usize,
    pub offset: u64,
    pub len: u64,
}

/// The files' byte ranges that piece `index` covers, in order.
pub(super) fn segments(info: &Info, index: u32) -> Vec<Segment> {
    let start = index as u64 * info.piece_length as u64;
    let end = (start + info.piece_length as u64).min(info.total_length);
    info.files
        .iter()
        .enumerate()
        .filter(|(_, f)| f.length > 0 && f.offset < end && f.offset + f.length > start)
        .map(|(i, f)| {
            let a = start.max(f.offset);
            let b = end.min(f.offset + f.length);
            Segment {
                file: i,
                offset: a - f.offset,
                len: b - a,
            }
        })
        .collect()
}

/// BEP 19: a single-file torrent's URL is the file itself (a URL ending in '/' is a
/// directory that holds it); a multi-file torrent's is a directory, then name and path.
pub(super) fn file_url(base: &str, info: &Info, file: usize) -> String {
    let Some(f) = info.files.get(file) else {
        return base.to_string();
    };
    if info.single_file && !base.ends_with('/') {
        return base.to_string();
    }
    let mut url = base.to_string();
    if !url.ends_with('/') {
        url.push('/');
    }
    let path: Vec<String> = f.url_path().iter().map(|c| encode(c)).collect();
    url.push_str(&path.join("/"));
    url
}

/// Percent-encodes everything but RFC 3986's unreserved characters, byte by UTF-8 byte.
pub(super) fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The whole piece `index`, or why not.
pub(super) async fn piece(
    client: &reqwest::Client,
    base: &str,
    info: &Info,
    index: u32,
) -> Result<Bytes, FetchError> {
    let mut data = BytesMut::new();
    for s in segments(info, index) {
        let Some(f) = info.files.get(s.file) else {
            continue;
        };
        if f.padding {
            // BEP 47 padding is zeros that no server holds.
            data.resize(data.len() + s.len as usize, 0);
            continue;
        }
        let url = file_url(base, info, s.file);
        let guard = tokio::time::timeout(
            REQUEST_TIMEOUT + Duration::from_secs(5),
            range(client, &url, s.offset, s.len, f.length),
        );
        let part = guard.await.map_err(|_| FetchError::TimedOut)??;
        data.extend_from_slice(&part);
    }
    Ok(data.freeze())
}

/// `len` bytes at `offset` of a file of `file_len` bytes.
async fn range(
    client: &reqwest::Client,
    url: &str,
    offset: u64,
    len: u64,
    file_len: u64,
) -> Result<Bytes, FetchError> {
    let last = offset + len - 1;
    let mut resp = client
        .get(url)
        .header(reqwest::header::RANGE, format!("bytes={offset}-{last}"))
        .send()
        .await
        .map_err(describe)?;
    let status = resp.status();
    match status {
        StatusCode::PARTIAL_CONTENT => {
            if let Some(cr) = resp.headers().get(reqwest::header::CONTENT_RANGE) {
                let want = format!("bytes {offset}-{last}/");
                if !cr.to_str().is_ok_and(|v| v.starts_with(&want)) {
                    return Err(FetchError::WrongRange {
                        got: String::from_utf8_lossy(cr.as_bytes()).into_owned(),
                        first: offset,
                        last,
                    });
                }
            }
        }
        // A server without ranges sends the whole file: fine when that is what we asked for.
        StatusCode::OK if offset == 0 && len == file_len => {}
        StatusCode::OK => return Err(FetchError::NoRanges),
        s => return Err(FetchError::Status(s.as_u16())),
    }
    if let Some(n) = resp.content_length() {
        if n != len {
            return Err(FetchError::WrongLength { got: n, want: len });
        }
    }
    let mut body = BytesMut::with_capacity(len as usize);
    loop {
        match resp.chunk().await {
            Ok(Some(c)) => {
                if body.len() as u64 + c.len() as u64 > len {
                    return Err(FetchError::TooLong(len));
                }
                body.extend_from_slice(&c);
            }
            Ok(None) => break,
            Err(e) if e.is_timeout() => return Err(FetchError::TimedOut),
            // The connection ended before the promised length.
            Err(_) => break,
        }
    }
    if (body.len() as u64) < len {
        return Err(FetchError::Short {
            got: body.len(),
            want: len,
        });
    }
    Ok(body.freeze())
}

fn describe(e: reqwest::Error) -> FetchError {
    if e.is_timeout() {
        return FetchError::TimedOut;
    }
    let mut cause: &dyn std::error::Error = &e;
    while let Some(next) = std::error::Error::source(cause) {
        cause = next;
    }
    if e.is_connect() {
        FetchError::Connect(cause.to_string())
    } else {
        FetchError::Transport(cause.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::metainfo::FileEntry;

    fn file(path: &[&str], offset: u64, length: u64) -> FileEntry {
        FileEntry {
            path: path.iter().map(|s| s.to_string()).collect(),
            length,
            offset,
            padding: false,
            executable: false,
            symlink: None,
            source_path: None,
        }
    }

    fn info(files: Vec<FileEntry>, single: bool) -> Info {
        let total: u64 = files.iter().map(|f| f.length).sum();
        Info {
            name: "d".into(),
            piece_length: 16,
            pieces: vec![[0; 20]; total.div_ceil(16) as usize],
            files,
            total_length: total,
            private: false,
            source: None,
            single_file: single,
            v2: None,
        }
    }

    #[test]
    fn a_piece_spanning_files_is_several_ranges() {
        let i = info(
            vec![
                file(&["d", "a"], 0, 10),
                file(&["d", "e"], 10, 0),
                file(&["d", "b"], 10, 12),
                file(&["d", "c"], 22, 3),
            ],
            false,
        );
        let seg = |file, offset, len| Segment { file, offset, len };
        assert_eq!(segments(&i, 0), vec![seg(0, 0, 10), seg(2, 0, 6)]);
        assert_eq!(segments(&i, 1), vec![seg(2, 6, 6), seg(3, 0, 3)]);
        assert!(segments(&i, 2).is_empty());
    }

    #[test]
    fn urls_follow_bep_19() {
        let multi = info(vec![file(&["my dir", "ü x.bin"], 0, 5)], false);
        assert_eq!(
            file_url("http://h/s", &multi, 0),
            "http://h/s/my%20dir/%C3%BC%20x.bin"
        );
        assert_eq!(
            file_url("http://h/s/", &multi, 0),
            "http://h/s/my%20dir/%C3%BC%20x.bin"
        );
        let single = info(vec![file(&["f 1.iso"], 0, 5)], true);
        assert_eq!(file_url("http://h/x.iso", &single, 0), "http://h/x.iso");
        assert_eq!(file_url("http://h/", &single, 0), "http://h/f%201.iso");
    }
}
