//! `Content-Type` from a file's extension, for every file a door serves: a stream (players
//! pick their demuxer by it when a URL has no extension of its own) and a web UI's files.
//! Unknown ones are `application/octet-stream`.

/// The media type of a file named `path`.
pub(crate) fn content_type(path: &str) -> &'static str {
    let ext = path
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "mp4" | "m4v" => "video/mp4",
        "mkv" => "video/x-matroska",
        "webm" => "video/webm",
        "avi" => "video/x-msvideo",
        "mov" => "video/quicktime",
        "ts" | "m2ts" => "video/mp2t",
        "mpg" | "mpeg" => "video/mpeg",
        "ogv" => "video/ogg",
        "flv" => "video/x-flv",
        "wmv" => "video/x-ms-wmv",
        "mp3" => "audio/mpeg",
        "m4a" | "aac" => "audio/mp4",
        "flac" => "audio/flac",
        "ogg" | "oga" | "opus" => "audio/ogg",
        "wav" => "audio/wav",
        "srt" => "application/x-subrip",
        "vtt" => "text/vtt",
        "ass" | "ssa" => "text/x-ssa",
        "txt" | "nfo" => "text/plain; charset=UTF-8",
        "html" | "htm" => "text/html; charset=UTF-8",
        "js" | "mjs" => "application/javascript; charset=UTF-8",
        "css" => "text/css; charset=UTF-8",
        "json" | "map" => "application/json",
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "svg" => "image/svg+xml",
        "ico" => "image/x-icon",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "pdf" => "application/pdf",
        _ => "application/octet-stream",
    }
}

/// True for audio and video, what a playlist lists.
pub(crate) fn is_media(path: &str) -> bool {
    let t = content_type(path);
    t.starts_with("video/") || t.starts_with("audio/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn by_extension_whatever_the_case() {
        assert_eq!(content_type("a/b/Film.MKV"), "video/x-matroska");
        assert_eq!(content_type("x.mp4"), "video/mp4");
        assert_eq!(content_type("noext"), "application/octet-stream");
        assert!(is_media("s.flac"));
        assert!(!is_media("s.nfo"));
    }
}
