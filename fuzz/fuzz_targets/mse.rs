//! The MSE handshake state machines (`protocol::mse_codec::Handshake`) fed arbitrary bytes, cut at
//! fuzzer-chosen points: as the responder, as the initiator, and as an honest pair whose
//! transcript the fuzzer may corrupt at one byte. Never a panic; `feed` never claims more
//! than it was given and stops at the end of the handshake; what we send stays within the
//! spec's sizes; an uncorrupted pair always agrees.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rand::rngs::StdRng;
use rand::SeedableRng;
use ttui::internals::protocol::mse_codec::{self, Handshake, Method, CRYPTO_PLAIN, CRYPTO_RC4, KEY_LEN, MAX_PAD};

const IH: [u8; 20] = *b"fuzz-info-hash-20byt";
/// Message 1 or 2 (key and pad), or message 3 with its pad and a 68-byte IA.
const MAX_OUT: usize = KEY_LEN + MAX_PAD + 20 + 20 + 8 + 4 + 2 + MAX_PAD + 2 + 68;

fn lookup(h: &[u8; 20]) -> Option<[u8; 20]> {
    (*h == mse_codec::req2(&IH)).then_some(IH)
}

fn methods(bits: u8) -> Vec<Method> {
    match bits % 3 {
        0 => vec![Method::Rc4],
        1 => vec![Method::Plain, Method::Rc4],
        _ => vec![Method::Rc4, Method::Plain],
    }
}

fn provide(bits: u8) -> u32 {
    match bits % 3 {
        0 => CRYPTO_RC4,
        1 => CRYPTO_RC4 | CRYPTO_PLAIN,
        // Anything, including bits no one defined.
        _ => u32::from(bits),
    }
}

/// Feeds `input` in pieces whose sizes come from `cuts` (cycled; 0 means 1); checks what
/// `feed` may return. Ends at the first error or when the handshake is done; returns what
/// the handshake had to send meanwhile.
fn feed_cut(
    hs: &mut Handshake,
    input: &[u8],
    cuts: &[u8],
    rng: &mut StdRng,
) -> Result<Vec<u8>, mse_codec::Error> {
    let mut sent = Vec::new();
    let mut at = 0;
    let mut i = 0;
    while at < input.len() && !hs.is_done() {
        let step = cuts
            .get(i % cuts.len().max(1))
            .map_or(7, |c| usize::from(*c).max(1));
        i += 1;
        let end = (at + step).min(input.len());
        let used = hs.feed(&input[at..end], &lookup, rng)?;
        assert!(used <= end - at, "feed used more than it was given");
        if hs.is_done() {
            assert_eq!(hs.feed(&input[end.min(at + used)..], &lookup, rng), Ok(0));
        } else {
            assert_eq!(used, end - at, "feed left input unread before the end");
        }
        at += used;
        let out = hs.take_output();
        assert!(out.len() <= MAX_OUT, "sent more than the spec allows");
        sent.extend(out);
    }
    Ok(sent)
}

fuzz_target!(|data: &[u8]| {
    let Some((&head, rest)) = data.split_first() else {
        return;
    };
    let (cut_len, rest) = match rest.split_first() {
        Some((&n, r)) => ((usize::from(n) % 16).min(r.len()), r),
        None => (0, rest),
    };
    let (cuts, stream) = rest.split_at(cut_len);
    let mut rng = StdRng::seed_from_u64(u64::from(head));
    match head % 3 {
        0 => {
            let mut hs = Handshake::responder(&methods(head >> 2), &mut rng);
            if feed_cut(&mut hs, stream, cuts, &mut rng).is_ok() && hs.is_done() {
                assert!(hs.finish().is_some());
            }
        }
        1 => {
            let ia = [0x13u8; 68];
            let mut hs = Handshake::initiator(IH, provide(head >> 2), &ia, &mut rng);
            assert!(hs.take_output().len() <= KEY_LEN + MAX_PAD);
            if feed_cut(&mut hs, stream, cuts, &mut rng).is_ok() && hs.is_done() {
                assert!(hs.finish().is_some());
            }
        }
        _ => honest_pair(head, cuts, stream, &mut rng),
    }
});

/// An initiator and a responder talking; `stream`'s first bytes may name one byte of the
/// transcript to flip. Uncorrupted, both must finish and agree on the method.
fn honest_pair(head: u8, cuts: &[u8], stream: &[u8], rng: &mut StdRng) {
    let flip = match stream {
        [a, b, x, ..] if *x != 0 => Some((usize::from(*a) << 8 | usize::from(*b), *x)),
        _ => None,
    };
    let provide = provide(head >> 2);
    let accept = methods(head >> 4);
    let common = accept.iter().any(|m| {
        let bit = match m {
            Method::Plain => CRYPTO_PLAIN,
            Method::Rc4 => CRYPTO_RC4,
        };
        provide & bit != 0
    });
    let mut a = Handshake::initiator(IH, provide, &[0x13; 68], rng);
    let mut b = Handshake::responder(&accept, rng);
    let mut sent = 0usize;
    let mut corrupt = |mut bytes: Vec<u8>| {
        if let Some((pos, x)) = flip {
            if (sent..sent + bytes.len()).contains(&pos) {
                bytes[pos - sent] ^= x;
            }
        }
        sent += bytes.len();
        bytes
    };
    // A handshake takes two round trips; a few more rounds than that end it either way.
    let mut to_b = a.take_output();
    for _ in 0..6 {
        let to_a = match feed_cut(&mut b, &corrupt(to_b), cuts, rng) {
            Ok(out) => out,
            Err(_) => {
                assert!(flip.is_some() || !common, "an honest responder failed");
                return;
            }
        };
        to_b = match feed_cut(&mut a, &corrupt(to_a), cuts, rng) {
            Ok(out) => out,
            Err(_) => {
                assert!(flip.is_some(), "an honest initiator failed");
                return;
            }
        };
        if a.is_done() && b.is_done() {
            break;
        }
    }
    if flip.is_none() && common {
        assert!(a.is_done() && b.is_done(), "an honest pair did not finish");
        let (ea, eb) = (a.finish(), b.finish());
        let (Some(ea), Some(eb)) = (ea, eb) else {
            panic!("done without a result");
        };
        assert_eq!(ea.method, eb.method);
        assert_eq!(eb.info_hash, IH);
    }
}
