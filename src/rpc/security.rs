//! The RPC's own check, pure and tested: which `filename` paths `torrent-add` may read. What
//! every HTTP face shares (HTTP Basic, the Host allowlist, pacing, password file,
//! constant-time comparison) is in `crate::http::guard`.

use std::path::PathBuf;

/// Why a `filename` given to `torrent-add` is not read. No variant carries the file's bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum PathRefused {
    #[error("{0}: only files ending in .torrent or .magnet are read")]
    Extension(String),
    #[error("{0}: not a regular file")]
    NotAFile(String),
    #[error("{0}: the path must be absolute")]
    Relative(String),
}

/// Checks a local `filename` before it is read: absolute, ending in `.torrent` or
/// `.magnet`, and a regular file (a symlink is followed to what it names, which must be one).
pub(crate) fn readable_torrent_path(name: &str) -> Result<PathBuf, PathRefused> {
    let path = PathBuf::from(name);
    let shown = crate::fmt::outside(name, 200).into_owned();
    if !path.is_absolute() {
        return Err(PathRefused::Relative(shown));
    }
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    if !matches!(ext.as_deref(), Some("torrent" | "magnet")) {
        return Err(PathRefused::Extension(shown));
    }
    match std::fs::metadata(&path) {
        Ok(m) if m.is_file() => Ok(path),
        _ => Err(PathRefused::NotAFile(shown)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_torrent_and_magnet_files_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let t = dir.path().join("a.torrent");
        std::fs::write(&t, b"d4:infoe").unwrap();
        let secret = dir.path().join("secret.txt");
        std::fs::write(&secret, b"hunter2").unwrap();
        assert_eq!(readable_torrent_path(t.to_str().unwrap()), Ok(t.clone()));
        let e = readable_torrent_path(secret.to_str().unwrap()).unwrap_err();
        assert!(matches!(e, PathRefused::Extension(_)));
        assert!(!e.to_string().contains("hunter2"));
        let d = dir.path().join("d.torrent");
        std::fs::create_dir(&d).unwrap();
        assert!(matches!(
            readable_torrent_path(d.to_str().unwrap()),
            Err(PathRefused::NotAFile(_))
        ));
        assert!(matches!(
            readable_torrent_path("a.torrent"),
            Err(PathRefused::Relative(_))
        ));
    }
}
