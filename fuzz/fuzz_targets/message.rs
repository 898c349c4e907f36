//! The wire codec fed a byte stream cut at fuzzer-chosen points: the messages must not depend
//! on where the stream was cut, and every decoded message re-encodes to its bytes.
#![no_main]
use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use tokio_util::codec::Decoder;
use ttui::internals::protocol::message::{encode_into, Message, MessageCodec, WireError};

fn run(codec: &mut MessageCodec, chunks: &[&[u8]]) -> (Vec<Message>, Option<WireError>) {
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for c in chunks {
        buf.extend_from_slice(c);
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(m)) => out.push(m),
                Ok(None) => break,
                Err(e) => return (out, Some(e)),
            }
        }
    }
    (out, None)
}

fuzz_target!(|data: &[u8]| {
    let Some(([p0, p1, s0, s1], stream)) = data.split_first_chunk::<4>() else {
        return;
    };
    // Up to 524,280 pieces: bitfield frames larger than the 64 KiB floor are reachable.
    let pieces = u32::from(u16::from_be_bytes([*p0, *p1])) * 8;
    let step = usize::from(u16::from_be_bytes([*s0, *s1])).max(1);
    let whole = run(&mut MessageCodec::new(pieces), &[stream]);
    let chunks: Vec<&[u8]> = stream.chunks(step).collect();
    let cut = run(&mut MessageCodec::new(pieces), &chunks);
    let ones: Vec<&[u8]> = stream.chunks(1).take(4096).collect();
    if stream.len() <= 4096 {
        assert_eq!(run(&mut MessageCodec::new(pieces), &ones), whole);
    }
    assert_eq!(whole, cut);
    let mut again = BytesMut::new();
    for m in &whole.0 {
        encode_into(m, &mut again);
    }
    assert_eq!(&again[..], &stream[..again.len()]);
});
