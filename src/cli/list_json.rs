//! `ttui list --json`: the session's rows copied to stdout as they are parsed, pretty, without
//! a [`TorrentRow`](crate::control::rows::TorrentRow) made of each. At 100,000 torrents the
//! session's answer is 45 MB and the output 75 MB: decoding every row into its eight strings
//! and then printing the whole list into one string took most of the client's part of a list
//! (tests/bench/README.md, restart). `serde_transcode` feeds the parser's events straight to
//! the pretty printer (a crate, not hand-written: it is the one serde's authors keep for this).
//! The output is byte for byte what serializing the rows would print (a unit test holds it to
//! that); every other answer (an error) goes the usual way.

use std::borrow::Cow;
use std::io::Write;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::control::proto::{self, ControlError, ErrorKind, Response};

/// The answer's envelope, its rows left unparsed.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow)]
    data: Option<&'a RawValue>,
}

/// Writes the list in `body` (the session's answer to `list`) to `out` as `--json` prints it,
/// or returns the answer decoded when it is not a list (an error, say).
pub(crate) fn write_list(
    body: &[u8],
    out: &mut impl Write,
) -> Result<Option<Response>, ControlError> {
    let envelope: Envelope = match serde_json::from_slice(body) {
        Ok(e) => e,
        Err(_) => return proto::decode_response(body).map(Some),
    };
    let (true, Some(rows)) = (envelope.kind == "list", envelope.data) else {
        return proto::decode_response(body).map(Some);
    };
    let broken = |e: std::io::Error| ControlError::new(ErrorKind::Internal, format!("stdout: {e}"));
    let mut from = serde_json::Deserializer::from_str(rows.get());
    let mut to = serde_json::Serializer::pretty(&mut *out);
    serde_transcode::transcode(&mut from, &mut to).map_err(|e| {
        if e.is_io() {
            ControlError::new(ErrorKind::Internal, format!("stdout: {e}"))
        } else {
            ControlError::new(
                ErrorKind::Internal,
                format!("the session's list is not valid JSON: {e}"),
            )
        }
    })?;
    out.write_all(b"\n").map_err(broken)?;
    out.flush().map_err(broken)?;
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::verbs_fmt::tests::row;

    /// What the copy prints is what printing the decoded rows prints, byte for byte: a
    /// float, nulls and numbers, labels and none, a name with quotes and a control character.
    #[test]
    fn the_copy_prints_what_the_rows_print() {
        let mut a = row(1, "plain");
        a.labels = vec!["tv".into(), "hd".into()];
        a.progress = 0.5;
        a.eta_secs = Some(30);
        let mut b = row(2, "a \"quoted\" \u{1b}[31m name");
        b.final_dir = Some("/srv/done".into());
        b.seeding_secs = 7_200;
        let c = row(3, "ünïcödé");
        let rows = vec![a, b, c];
        let body = proto::encode(&Response::List(rows.clone())).unwrap();
        let mut copied = Vec::new();
        assert!(write_list(&body, &mut copied).unwrap().is_none());
        assert_eq!(
            String::from_utf8(copied).unwrap(),
            crate::cli::verbs_fmt::json(&rows)
        );
        let mut empty = Vec::new();
        let body = proto::encode(&Response::List(Vec::new())).unwrap();
        write_list(&body, &mut empty).unwrap();
        assert_eq!(String::from_utf8(empty).unwrap(), "[]\n");
    }

    /// An error is returned decoded, and nothing is printed.
    #[test]
    fn an_error_is_not_copied() {
        let err = ControlError::new(ErrorKind::BadArgument, "no such torrent");
        let body = proto::encode(&Response::Error(err.clone())).unwrap();
        let mut out = Vec::new();
        assert_eq!(
            write_list(&body, &mut out).unwrap(),
            Some(Response::Error(err))
        );
        assert!(out.is_empty());
        assert!(write_list(b"{\"type\":\"list\",\"data\":[{]}", &mut out).is_err());
    }
}
