//! .torrent bytes: bencode, metainfo validation and the `ttui info` printer; a v2-only
//! torrent that lacks piece layers is printed too, and never completes without them.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sha1::{Digest, Sha1};
use ttui::internals::protocol::metainfo::{Metainfo, MetainfoError};

fuzz_target!(|data: &[u8]| {
    if let Err(MetainfoError::NeedsLayers(n)) = Metainfo::from_bytes(data) {
        assert!(!n.lacking().is_empty());
        let mut out = Vec::new();
        ttui::internals::cli::info::print_needs_layers(&n, &mut out).expect("printing to memory");
        assert!(n.complete(&Default::default()).is_err());
    }
    if let Ok(m) = Metainfo::from_bytes(data) {
        let hash: [u8; 20] = Sha1::digest(&m.info_bytes).into();
        assert_eq!(hash, m.info_hash);
        let mut out = Vec::new();
        ttui::internals::cli::info::print_info(&m, &mut out).expect("printing to memory");
        for i in 0..m.info.num_pieces().min(64) {
            assert!(m.info.piece_len(i) <= m.info.piece_length);
        }
        // What sanitising promises the storage layer: plain, short names, no shared path.
        let mut seen = std::collections::HashSet::new();
        for f in m.info.files.iter().filter(|f| !f.padding) {
            for e in &f.path {
                assert!(!e.is_empty() && e != "." && e != "..", "{e:?}");
                assert!(!e.contains(['/', '\\']) && !e.chars().any(char::is_control));
                assert!(e.len() <= 255, "{} bytes", e.len());
            }
            assert!(seen.insert(f.path.clone()), "{:?} twice", f.path);
        }
    }
});
