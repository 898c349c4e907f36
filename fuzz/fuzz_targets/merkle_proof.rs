//! BEP 52's hash messages (`hash request`, `hashes`, `hash reject`): any bytes decode to a
//! head or a short error and re-encode to themselves; checking a reply against any file size
//! never panics and proves only runs of the asked length; and an honest reply built from a
//! real tree (of a size the input picks) always proves itself.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ttui::internals::protocol::merkle::proof::{HashRequest, HEAD_LEN};
use ttui::internals::protocol::merkle::{file_root, leaf, piece_layer, BLOCK};

fuzz_target!(|data: &[u8]| {
    let Some((size, rest)) = data.split_first_chunk::<8>() else {
        return;
    };
    let leaves = u64::from_le_bytes(*size);
    let Ok((req, hashes)) = HashRequest::decode(rest) else {
        return;
    };
    assert_eq!(&req.encode()[..], &rest[..HEAD_LEN]);
    let _ = req.validate(leaves);
    if let Ok(run) = req.verify(leaves, hashes) {
        assert_eq!(run.len(), req.length as usize);
    }

    // An honest seeder's answer, for a tree of 1..=2048 leaves.
    let n = (leaves % 2048) as usize + 1;
    let l: Vec<_> = (0..n).map(|i| leaf(&(i as u32).to_le_bytes())).collect();
    let Some(root) = file_root(&l) else { return };
    let height = n.next_power_of_two().trailing_zeros();
    let base_layer = if height == 0 { 0 } else { req.base_layer % height };
    let layer = if base_layer == 0 {
        l.clone()
    } else {
        piece_layer(&l, (1u64 << base_layer) * BLOCK)
    };
    let honest = HashRequest {
        pieces_root: root,
        base_layer,
        proof_layers: height.saturating_sub(base_layer + 1),
        ..req
    };
    if let Some(reply) = honest.answer(n as u64, &layer) {
        let bytes: Vec<u8> = reply.iter().flatten().copied().collect();
        if let Err(e) = honest.verify(n as u64, &bytes) {
            panic!("{n} leaves, {honest:?}: {e}");
        }
    }
});
