//! .torrent bytes: bencode, metainfo validation and the `ttui info` printer.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sha1::{Digest, Sha1};
use ttui::protocol::metainfo::Metainfo;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = Metainfo::from_bytes(data) {
        let hash: [u8; 20] = Sha1::digest(&m.info_bytes).into();
        assert_eq!(hash, m.info_hash);
        let mut out = Vec::new();
        ttui::cli::info::print_info(&m, &mut out).expect("printing to memory");
        for i in 0..m.info.num_pieces().min(64) {
            assert!(m.info.piece_len(i) <= m.info.piece_length);
        }
    }
});
