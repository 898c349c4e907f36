//! Resume data from the state directory (`engine::store::resume::decode`): the first 20 bytes
//! are the info hash expected, the rest the file. Never a panic; errors are one line; whatever
//! decodes re-encodes to data that decodes to the same thing. The whole input is also read as
//! the seeding-time file (`decode_seeding`), under the same rules.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ttui::internals::engine::session::store::resume::{
    decode, decode_seeding, encode, encode_seeding,
};

fuzz_target!(|data: &[u8]| {
    match decode_seeding(data) {
        Ok(times) => assert_eq!(decode_seeding(&encode_seeding(&times)).ok(), Some(times)),
        Err(e) => assert!(!e.to_string().contains('\n')),
    }
    if data.len() < 20 {
        return;
    }
    let (hash, bytes) = data.split_at(20);
    let hash: [u8; 20] = hash.try_into().expect("20 bytes");
    match decode(bytes, &hash) {
        Ok(r) => {
            assert!(r.peers.len() <= ttui::internals::engine::session::store::resume::MAX_PEERS);
            assert!(r.have_bitfield().is_some());
            let again = decode(&encode(&r), &hash).expect("our own encoding decodes");
            assert_eq!(again, r);
        }
        Err(e) => assert!(!e.to_string().contains('\n')),
    }
});
