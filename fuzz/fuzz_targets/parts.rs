//! The parts file's header (engine/disk/parts.rs): whatever a damaged or foreign file holds,
//! no panic, and every slot it yields is below the piece count and used once.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ttui::internals::engine::disk::parts::parse_header;

fuzz_target!(|data: &[u8]| {
    if data.len() < 4 {
        return;
    }
    let num_pieces = u32::from(u16::from_le_bytes([data[0], data[1]]));
    let piece_len = u32::from(u16::from_le_bytes([data[2], data[3]]));
    if let Some(slots) = parse_header(&data[4..], num_pieces, piece_len) {
        let mut seen = vec![false; num_pieces as usize];
        for (piece, slot) in slots {
            assert!(piece < num_pieces && slot < num_pieces);
            assert!(!std::mem::replace(&mut seen[slot as usize], true));
        }
    }
});
