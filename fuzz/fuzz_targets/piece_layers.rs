//! A v2 magnet's info dictionary from a peer (`protocol::metainfo::layers::wanted_layers`):
//! the piece layers it needs and the hash requests that fetch them, or a one-line error, never
//! a panic or an allocation past `MAX_HASHES`; every request is one a peer can answer
//! (`validate`) and the runs cover each layer exactly once, in order.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ttui::internals::protocol::metainfo::layers::{wanted_layers, MAX_HASHES, RUN};

fuzz_target!(|data: &[u8]| {
    match wanted_layers(data) {
        Ok(layers) => {
            let total: u64 = layers.iter().map(|l| u64::from(l.hashes)).sum();
            assert!(total <= MAX_HASHES);
            for l in &layers {
                let mut next = 0u32;
                for r in &l.requests {
                    assert_eq!(r.pieces_root, l.root);
                    assert_eq!(r.index, next);
                    assert!(r.length >= 1 && r.length <= RUN);
                    assert!(r.validate(l.leaves).is_ok(), "{r:?}");
                    next += r.length;
                }
                assert_eq!(next, l.hashes);
            }
        }
        Err(e) => {
            let text = e.to_string();
            assert!(!text.contains('\n') && text.len() < 1024, "{text}");
        }
    }
});
