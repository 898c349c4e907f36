//! The fast path against published vectors (RFC 6229, Wikipedia) and against a textbook
//! byte-at-a-time RC4 on random keys, lengths and cuts.

use super::Rc4;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

mod rfc6229;

fn hex(s: &str) -> Vec<u8> {
    crate::protocol::hex::decode(s).expect("a test vector")
}

/// RC4 as written in the textbooks, one byte per step, and how often the step hit the case
/// the fast path corrects for (the swap writing the next `S[i]`, i.e. `j == i + 1`).
struct Textbook {
    s: [u8; 256],
    i: u8,
    j: u8,
    j_is_next_i: usize,
}

impl Textbook {
    fn new(key: &[u8]) -> Self {
        let mut s: [u8; 256] = std::array::from_fn(|i| i as u8);
        let mut j = 0u8;
        for i in 0..256 {
            j = j.wrapping_add(s[i]).wrapping_add(key[i % key.len()]);
            s.swap(i, j as usize);
        }
        Textbook {
            s,
            i: 0,
            j: 0,
            j_is_next_i: 0,
        }
    }

    fn keystream(&mut self, n: usize) -> Vec<u8> {
        (0..n)
            .map(|_| {
                self.i = self.i.wrapping_add(1);
                self.j = self.j.wrapping_add(self.s[self.i as usize]);
                self.s.swap(self.i as usize, self.j as usize);
                if self.j == self.i.wrapping_add(1) {
                    self.j_is_next_i += 1;
                }
                self.s[self.s[self.i as usize].wrapping_add(self.s[self.j as usize]) as usize]
            })
            .collect()
    }
}

/// `Rc4::new` takes an array (its length checked when compiling); tests have slices.
fn keyed(key: &[u8]) -> Rc4 {
    macro_rules! by_len {
        ($($n:literal)*) => {
            match key.len() {
                $($n => Rc4::new::<$n>(key.try_into().unwrap()),)*
                n => panic!("no test key of {n} bytes"),
            }
        };
    }
    by_len!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 24 32 64 200 256)
}

#[test]
fn rfc6229_vectors() {
    let len = rfc6229::OFFSETS[17] + 16;
    for (key, expected) in rfc6229::VECTORS {
        let mut ks = vec![0u8; len];
        keyed(&hex(key)).apply_keystream(&mut ks);
        for (offset, want) in rfc6229::OFFSETS.iter().zip(expected) {
            assert_eq!(
                ks[*offset..offset + 16],
                hex(want)[..],
                "key {key} at {offset:#x}"
            );
        }
        assert_eq!(ks, Textbook::new(&hex(key)).keystream(len), "key {key}");
    }
}

#[test]
fn wikipedia_vectors() {
    for (key, plain, cipher) in [
        (&b"Key"[..], &b"Plaintext"[..], "bbf316e8d940af0ad3"),
        (b"Wiki", b"pedia", "1021bf0420"),
        (b"Secret", b"Attack at dawn", "45a01f645fc35b383552544b9bf5"),
    ] {
        let mut buf = plain.to_vec();
        keyed(key).apply_keystream(&mut buf);
        assert_eq!(buf, hex(cipher));
        keyed(key).apply_keystream(&mut buf);
        assert_eq!(buf, plain, "decrypting gives the plaintext back");
    }
}

#[test]
fn every_split_point_gives_the_same_stream() {
    let key = hex("0102030405");
    let len = 1040;
    let want = Textbook::new(&key).keystream(len);
    for cut in 0..=len {
        let mut c = keyed(&key);
        let mut buf = vec![0u8; len];
        let (a, b) = buf.split_at_mut(cut);
        c.apply_keystream(a);
        c.apply_keystream(b);
        assert_eq!(buf, want, "cut at {cut}");
    }
}

#[test]
fn random_keys_lengths_and_cuts_match_the_textbook() {
    let mut rng = StdRng::seed_from_u64(6229);
    let mut corrected = 0;
    for round in 0..200 {
        let key_len = [1, 5, 16, 20, 32, 256][round % 6];
        let key: Vec<u8> = (0..key_len).map(|_| rng.gen()).collect();
        let len = rng.gen_range(0..20_000);
        let mut textbook = Textbook::new(&key);
        let want = textbook.keystream(len);
        corrected += textbook.j_is_next_i;
        let data: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
        let mut buf = data.clone();
        let mut c = keyed(&key);
        let mut at = 0;
        while at < len {
            // Cuts of 0 to 70 bytes: empty calls, every remainder length, several 8-byte steps.
            let end = (at + rng.gen_range(0..=70)).min(len);
            c.apply_keystream(&mut buf[at..end]);
            at = end;
        }
        let got: Vec<u8> = buf.iter().zip(&data).map(|(b, d)| b ^ d).collect();
        assert_eq!(got, want, "round {round}, key of {key_len}, {len} bytes");
    }
    assert!(
        corrected > 1000,
        "the j == i+1 fix-up ran {corrected} times"
    );
}

#[test]
fn continues_past_wrapping_indices_in_one_big_call() {
    // 1 MiB in one call: i wraps 4096 times inside the 8-byte loop.
    let key = [7u8; 20];
    let want = Textbook::new(&key).keystream(1 << 20);
    let mut buf = vec![0u8; 1 << 20];
    Rc4::new(&key).apply_keystream(&mut buf);
    assert!(buf == want);
}
