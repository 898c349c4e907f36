//! MSE's key material: the Diffie–Hellman pair over the 768-bit prime, the shared secret,
//! and the hashes and RC4 keys derived from it.

use std::sync::LazyLock;

use crypto_bigint::modular::{FixedMontyForm, FixedMontyParams};
use crypto_bigint::{Odd, U256, U768};
use rand::RngCore;
use sha1::{Digest, Sha1};

use super::{Error, KEY_LEN};
use crate::protocol::rc4::Rc4;

/// Oakley group 1 (RFC 2409), the prime every MSE implementation uses.
const P_HEX: &str = "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A63A36210000000000090563";
/// Keystream bytes thrown away before use (RC4's first bytes are biased).
const DISCARD: usize = 1024;
static PARAMS: LazyLock<FixedMontyParams<{ U768::LIMBS }>> =
    LazyLock::new(|| FixedMontyParams::new(Odd::<U768>::from_be_hex(P_HEX)));

pub fn sha1_of(parts: &[&[u8]]) -> [u8; 20] {
    let mut h = Sha1::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// HASH('req2', SKEY): what an incoming connection's torrent is found by.
pub fn req2(info_hash: &[u8; 20]) -> [u8; 20] {
    sha1_of(&[b"req2", info_hash])
}

/// RC4 keyed with SHA1(label, S, SKEY), its first 1024 bytes discarded.
pub fn rc4_key(label: &[u8; 4], secret: &[u8; KEY_LEN], skey: &[u8; 20]) -> Rc4 {
    let key = sha1_of(&[label, secret, skey]);
    let mut c = Rc4::new(&key);
    c.apply_keystream(&mut [0u8; DISCARD]);
    c
}

/// One side's Diffie–Hellman key pair.
pub struct KeyPair {
    private: U256,
    pub public: [u8; KEY_LEN],
}

impl KeyPair {
    /// 256 random private bits (the spec asks for at least 160).
    pub fn generate(rng: &mut impl RngCore) -> Self {
        let mut x = [0u8; 32];
        rng.fill_bytes(&mut x);
        Self::from_private(&x)
    }

    pub fn from_private(x: &[u8; 32]) -> Self {
        let private = U256::from_be_slice(x);
        let g = FixedMontyForm::new(&U768::from_u8(2), &PARAMS);
        let mut public = [0u8; KEY_LEN];
        public.copy_from_slice(&g.pow(&private).retrieve().to_be_bytes());
        KeyPair { private, public }
    }

    /// S = Y^x mod P. A Y of 0, 1, P-1 or ≥ P is not a key (and would make S guessable);
    /// 96 printable ASCII bytes are text, not a random number (odds of chance: ~10^-41).
    pub fn shared_secret(&self, theirs: &[u8; KEY_LEN]) -> Result<[u8; KEY_LEN], Error> {
        if theirs
            .iter()
            .all(|b| (0x20..0x7f).contains(b) || b"\r\n\t".contains(b))
        {
            return Err(Error::BadPublicKey);
        }
        let y = U768::from_be_slice(theirs);
        let p = *PARAMS.modulus().as_ref();
        if y <= U768::ONE || y >= p.wrapping_sub(&U768::ONE) {
            return Err(Error::BadPublicKey);
        }
        let s = FixedMontyForm::new(&y, &PARAMS)
            .pow(&self.private)
            .retrieve();
        let mut out = [0u8; KEY_LEN];
        out.copy_from_slice(&s.to_be_bytes());
        Ok(out)
    }
}
