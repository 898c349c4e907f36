//! Where a .torrent comes from: a file, standard input (`-`) or an http(s) URL. Each is read
//! through the same size cap, so a wrong path (a disk image, /dev/zero) or a hostile server
//! costs at most [`MAX_TORRENT_SIZE`] bytes and ends in a one-line error.

use std::io::Read;
use std::path::Path;
use std::time::Duration;

use crate::protocol::metainfo::layers::NeedsLayers;
use crate::protocol::metainfo::{Metainfo, MetainfoError};
use crate::protocol::text::{shorten, shorten_to};
use crate::tracker::http::root_cause;

/// Largest .torrent read. The biggest real ones (hundreds of thousands of files, small
/// pieces) are a few MiB; 64 MiB is a multiple of any of them.
pub const MAX_TORRENT_SIZE: u64 = 64 << 20;
/// Whole download of a .torrent URL, connect to last byte.
pub(crate) const URL_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest error line we print about a torrent (its text may come from the file).
const MAX_ERROR: usize = 300;

/// What a command-line torrent argument names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source<'a> {
    File(&'a Path),
    Stdin,
    Url(&'a str),
}

impl<'a> Source<'a> {
    pub(crate) fn of(arg: &'a Path) -> Source<'a> {
        if arg.as_os_str() == "-" {
            return Source::Stdin;
        }
        if let Some(s) = arg.to_str() {
            let lower = s.get(..8).unwrap_or(s).to_ascii_lowercase();
            if lower.starts_with("http://") || lower.starts_with("https://") {
                return Source::Url(s);
            }
        }
        Source::File(arg)
    }

    /// How the source is named in messages.
    pub(crate) fn describe(&self) -> String {
        match self {
            Source::File(p) => shorten(&p.display().to_string()).into_owned(),
            Source::Stdin => "standard input".into(),
            Source::Url(u) => shorten(u).into_owned(),
        }
    }
}

/// Why a .torrent was not loaded. Each says what it read (shortened: a name may come from a
/// hostile file or server) and prints as one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum LoadError {
    #[error("cannot read {what}: {reason}")]
    Read { what: String, reason: String },
    #[error("{what}: larger than {} MiB, so not a .torrent", MAX_TORRENT_SIZE >> 20)]
    TooLarge { what: String },
    /// The download failed: the server's status, or why no answer came.
    #[error("{what}: {reason}")]
    Fetch { what: String, reason: String },
    #[error("{what}: no answer within {secs} s")]
    Slow { what: String, secs: u64 },
    #[error("{what} is not a valid torrent: {reason}")]
    NotValid { what: String, reason: String },
}

/// The faces that carry errors as text take a load's as its line.
impl From<LoadError> for String {
    fn from(e: LoadError) -> String {
        e.to_string()
    }
}

fn too_large(what: &str) -> LoadError {
    LoadError::TooLarge {
        what: what.to_string(),
    }
}

fn fetch(what: &str, reason: impl std::fmt::Display) -> LoadError {
    LoadError::Fetch {
        what: what.to_string(),
        reason: reason.to_string(),
    }
}

fn unread(what: &str, reason: impl std::fmt::Display) -> LoadError {
    LoadError::Read {
        what: what.to_string(),
        reason: reason.to_string(),
    }
}

/// Reads at most [`MAX_TORRENT_SIZE`] bytes; one byte more is an error.
pub(crate) fn read_capped(r: impl Read, what: &str) -> Result<Vec<u8>, LoadError> {
    let mut buf = Vec::new();
    // One byte past the cap tells "exactly at the cap" from "over it".
    r.take(MAX_TORRENT_SIZE + 1)
        .read_to_end(&mut buf)
        .map_err(|e| unread(what, e))?;
    if buf.len() as u64 > MAX_TORRENT_SIZE {
        return Err(too_large(what));
    }
    Ok(buf)
}

/// The bytes of a .torrent from any source, capped.
pub(crate) fn read_source(src: Source<'_>) -> Result<Vec<u8>, LoadError> {
    let what = src.describe();
    match src {
        Source::File(p) => {
            let f = std::fs::File::open(p).map_err(|e| unread(&what, e))?;
            read_capped(f, &what)
        }
        Source::Stdin => read_capped(std::io::stdin().lock(), &what),
        Source::Url(u) => fetch_url_blocking(u),
    }
}

/// Reads and parses the .torrent named by a command-line argument (file, `-`, or URL).
/// The error is one line, shortened: the reason may quote 10 MB of a hostile file.
/// A v2-only torrent that lacks piece layers is refused here (`load_torrent_or_layers` takes
/// it, for the commands that can fetch them).
pub(crate) fn load_torrent(arg: &Path) -> Result<Metainfo, LoadError> {
    match load_torrent_or_layers(arg)? {
        Ok(meta) => Ok(meta),
        Err(needs) => Err(not_valid(
            Source::of(arg),
            &MetainfoError::NeedsLayers(needs),
        )),
    }
}

fn not_valid(src: Source<'_>, e: &MetainfoError) -> LoadError {
    let reason = e.to_string().replace('\n', " ");
    LoadError::NotValid {
        what: src.describe(),
        reason: shorten_to(&reason, MAX_ERROR).into_owned(),
    }
}

/// `load_torrent`, or a v2-only torrent whose piece layers peers must send first (as
/// libtorrent loads it): `ttui info` shows it, a download fetches them.
pub(crate) fn load_torrent_or_layers(
    arg: &Path,
) -> Result<Result<Metainfo, Box<NeedsLayers>>, LoadError> {
    let src = Source::of(arg);
    let bytes = read_source(src)?;
    let meta = match Metainfo::from_bytes(&bytes) {
        Ok(meta) => meta,
        Err(MetainfoError::NeedsLayers(needs)) => {
            tracing::warn!("{}: {}", src.describe(), needs.words());
            return Ok(Err(needs));
        }
        Err(e) => return Err(not_valid(src, &e)),
    };
    // A download's record of what was changed to load it (`ttui info` prints the same).
    for note in &meta.notes {
        tracing::warn!("{}: {note}", src.describe());
    }
    Ok(Ok(meta))
}

/// Downloads a .torrent over http(s), capped in size and time. Works from inside a tokio
/// runtime or outside one: the download runs on a thread of its own.
pub(crate) fn fetch_url_blocking(url: &str) -> Result<Vec<u8>, LoadError> {
    let url = url.to_owned();
    let what = shorten(&url).into_owned();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| fetch(&shorten(&url), format!("tokio runtime: {e}")))?;
        rt.block_on(fetch_url(&url, URL_TIMEOUT))
    })
    .join()
    .unwrap_or_else(|_| Err(fetch(&what, "the download failed")))
}

/// Downloads a .torrent over http(s): at most [`MAX_TORRENT_SIZE`] bytes within `timeout`.
pub(crate) async fn fetch_url(url: &str, timeout: Duration) -> Result<Vec<u8>, LoadError> {
    let what = shorten(url).into_owned();
    let client = crate::tracker::http_client_builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::limited(5))
        .build()
        .map_err(|e| fetch(&what, root_cause(&e)))?;
    let download = async {
        let mut resp = client
            .get(url)
            .send()
            .await
            .map_err(|e| fetch(&what, root_cause(&e)))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(fetch(&what, format!("HTTP {status}")));
        }
        if resp.content_length().is_some_and(|n| n > MAX_TORRENT_SIZE) {
            return Err(too_large(&what));
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| fetch(&what, root_cause(&e)))?
        {
            if (body.len() + chunk.len()) as u64 > MAX_TORRENT_SIZE {
                return Err(too_large(&what));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    };
    // reqwest's timeout covers the body; the outer one guards should it not.
    tokio::time::timeout(timeout + Duration::from_secs(1), download)
        .await
        .unwrap_or_else(|_| {
            Err(LoadError::Slow {
                what: what.clone(),
                secs: timeout.as_secs(),
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_are_told_apart() {
        assert_eq!(Source::of(Path::new("-")), Source::Stdin);
        assert_eq!(
            Source::of(Path::new("HTTPS://h/x.torrent")),
            Source::Url("HTTPS://h/x.torrent")
        );
        assert_eq!(
            Source::of(Path::new("http://h/x")),
            Source::Url("http://h/x")
        );
        assert_eq!(
            Source::of(Path::new("http.torrent")),
            Source::File(Path::new("http.torrent"))
        );
        assert_eq!(Source::of(Path::new("./-")), Source::File(Path::new("./-")));
    }

    #[test]
    fn reads_are_capped() {
        let exact = std::io::repeat(b'd').take(MAX_TORRENT_SIZE);
        assert_eq!(
            read_capped(exact, "x").unwrap().len() as u64,
            MAX_TORRENT_SIZE
        );
        let e = read_capped(std::io::repeat(0), "zeros").unwrap_err();
        assert_eq!(
            e,
            LoadError::TooLarge {
                what: "zeros".into()
            }
        );
        assert_eq!(
            e.to_string(),
            "zeros: larger than 64 MiB, so not a .torrent"
        );
    }

    #[test]
    fn a_huge_bad_path_makes_a_short_error() {
        let dir = tempfile::tempdir().unwrap();
        // 2.5 million directories: a path no file system takes, quoted in the error.
        let path_list = "1:d".repeat(5 << 19);
        let mut t = format!("d4:infod5:filesld6:lengthi1e4:pathl{path_list}eee").into_bytes();
        t.extend_from_slice(b"4:name1:n12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaaee");
        let path = dir.path().join("big-path.torrent");
        std::fs::write(&path, &t).unwrap();
        let e = load_torrent(&path).unwrap_err().to_string();
        assert!(e.len() < 1000, "error of {} bytes", e.len());
        assert!(e.contains("is not a valid torrent"), "{e}");
        assert!(
            e.contains("cannot be created"),
            "the reason survives the cut: {e}"
        );
        assert!(!e.contains('\n'));
    }

    #[test]
    fn a_huge_name_is_shortened_and_noted() {
        let dir = tempfile::tempdir().unwrap();
        let name = format!("{}/x", "n".repeat(10 << 20));
        let mut t = format!("d4:infod6:lengthi1e4:name{}:{name}", name.len()).into_bytes();
        t.extend_from_slice(b"12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaaee\n");
        let path = dir.path().join("big-name.torrent");
        std::fs::write(&path, &t).unwrap();
        let m = load_torrent(&path).unwrap();
        assert_eq!(m.info.name, "n".repeat(240));
        assert_eq!(m.notes.len(), 2, "{:?}", m.notes);
        assert!(m.notes.iter().all(|n| n.len() < 1000));
    }
}
