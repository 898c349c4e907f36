//! `ttui list`: every torrent's row, in the words scripts match on ([`Listing`]).

use std::sync::Arc;

use crate::control::listing::Listing;
use crate::control::proto::Response;
use crate::engine::api::SessionSnapshot;

pub(super) fn apply(current: Arc<SessionSnapshot>) -> Response {
    Response::Listing(Listing::of(current))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::proto::{decode_response, encode};
    use crate::engine::api::{TorrentId, TorrentLine};

    /// The session writes `Listing`; a client reads `List`, with the same rows.
    #[test]
    fn a_listing_reads_back_as_the_list_of_its_rows() {
        let lines: Vec<_> = (1..=3)
            .map(|i| {
                let mut l = TorrentLine::placeholder(TorrentId(i));
                l.name = format!("t{i}");
                Arc::new(l)
            })
            .collect();
        let snap = Arc::new(SessionSnapshot {
            torrents: lines,
            ..SessionSnapshot::default()
        });
        let listing = Listing::of(snap);
        let wire = encode(&Response::Listing(listing.clone())).unwrap();
        match decode_response(&wire).unwrap() {
            Response::List(rows) => {
                assert_eq!(rows, listing.rows());
                assert_eq!(rows[2].name, "t3");
            }
            other => panic!("not a list: {other:?}"),
        }
    }
}
