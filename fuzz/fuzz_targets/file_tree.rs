//! BEP 52's `file tree` (`protocol::metainfo::file_tree::parse_file_tree`) over any bencode:
//! a list of files or a one-line error, never a panic; every file has a path of non-empty
//! elements within the depth bound, and a `pieces root` exactly when it has bytes and is not
//! a link.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ttui::internals::protocol::bencode::{decode_value, MAX_DEPTH};
use ttui::internals::protocol::metainfo::file_tree::parse_file_tree;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = decode_value(data) else {
        return;
    };
    match parse_file_tree(&value) {
        Ok(files) => {
            assert!(!files.is_empty());
            for f in &files {
                assert!(!f.path.is_empty() && f.path.len() <= MAX_DEPTH);
                assert!(f.path.iter().all(|e| !e.is_empty() && !e.starts_with('/')));
                let link = f.attr.contains('l');
                assert_eq!(f.pieces_root.is_some(), f.length > 0 && !link, "{f:?}");
                assert!(!f.attr.contains('p'));
            }
        }
        Err(e) => {
            let text = e.to_string();
            assert!(!text.contains('\n') && text.len() < 1024, "{text}");
        }
    }
});
