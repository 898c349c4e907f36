//! Message Stream Encryption (MSE, also "Protocol Encryption"): the handshake as a state
//! machine over bytes, with no I/O. The caller moves bytes between it and a socket and, once
//! it is done, applies the RC4 ciphers it hands back to the payload stream.
//!
//! ```text
//! 1 A->B: Ya, PadA
//! 2 B->A: Yb, PadB
//! 3 A->B: SHA1("req1",S), SHA1("req2",SKEY)^SHA1("req3",S),
//!         RC4a(VC, crypto_provide, len(PadC), PadC, len(IA)), RC4a(IA)
//! 4 B->A: RC4b(VC, crypto_select, len(PadD), PadD), payload
//! ```
//! Y = 2^x mod P (768-bit P, 96 bytes big-endian), S = Y_peer^x mod P, SKEY = the info hash,
//! RC4 keys SHA1("keyA"/"keyB", S, SKEY) with 1024 keystream bytes discarded, VC = 8 zeros.
//! A sends its BitTorrent handshake as IA, so encryption costs no extra round trip.
//!
//! Crates, and why:
//! - RC4: our own (`protocol::rc4`, see its header for why not the `rc4` crate or OpenSSL).
//! - DH: `crypto-bigint` (RustCrypto): fixed-size `U768` on the stack, Montgomery
//!   exponentiation that is constant-time (the private key does not leak through timing), no
//!   heap at all, so nothing a peer sends can make it allocate. `num-bigint` is simpler but
//!   heap-allocating and variable-time; `rug`/GMP needs a C library. Two 768-bit powers with a
//!   256-bit exponent cost well under a millisecond per connection.
//!
//! Bounds: every field is read into one fixed 628-byte array; a sync search gives up after
//! 512 pad bytes; PadC/PadD lengths above 512 are refused; IA is not buffered here (it is the
//! start of the payload stream, and the caller decrypts exactly `len(IA)` bytes of it).

use super::rc4::Rc4;
use rand::RngCore;

mod keys;
pub use keys::{rc4_key, req2, sha1_of, KeyPair};

pub const KEY_LEN: usize = 96;
pub const MAX_PAD: usize = 512;
pub const VC: [u8; 8] = [0; 8];
/// crypto_provide / crypto_select bits.
pub const CRYPTO_PLAIN: u32 = 0x01;
pub const CRYPTO_RC4: u32 = 0x02;
/// The largest thing ever held: a public key, a whole pad, and the 20-byte req1 after it.
const ACC: usize = KEY_LEN + MAX_PAD + 20;

/// Why an encrypted handshake failed, in words a user can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("not encrypted: peer answered with a plain handshake")]
    PlainHandshake,
    #[error("not encrypted: peer sent garbage instead of a public key")]
    BadPublicKey,
    #[error("encryption: never synchronised (nothing matched within 512 bytes of padding)")]
    NeverSynchronised,
    #[error("encryption: pad longer than 512 ({0} bytes)")]
    PadTooLong(u16),
    #[error("encryption: wrong VC (the peer's keys do not match ours)")]
    WrongVc,
    #[error("encryption: peer asked for a torrent we do not have")]
    UnknownTorrent,
    #[error("encryption: peer selected a method we did not offer ({0:#x})")]
    SelectedUnoffered(u32),
    #[error("encryption: no method in common (peer offers {0:#x})")]
    NoCommonMethod(u32),
}

/// The info hash of our torrent that an initiator's `HASH('req2', SKEY) ^ HASH('req3', S)`
/// names. libtorrent 1.1 to 2.0 writes S for the req3 hash without its leading zero bytes,
/// into the front of an uninitialised 96-byte buffer, so when S starts with one zero byte
/// its mask is HASH('req3', S[1..] + one unknown byte): the 256 candidates are tried then
/// (a miss costs 256 SHA-1s, ~50 µs). Two or more zero bytes (one secret in 65,536) are
/// left to the peer's next attempt.
fn find_torrent(
    obfuscated: &[u8; 20],
    secret: &[u8; KEY_LEN],
    lookup: &dyn Fn(&[u8; 20]) -> Option<[u8; 20]>,
) -> Option<[u8; 20]> {
    let unmask = |mask: [u8; 20]| {
        let mut want = [0u8; 20];
        for (w, (o, m)) in want.iter_mut().zip(obfuscated.iter().zip(mask)) {
            *w = o ^ m;
        }
        lookup(&want)
    };
    if let Some(found) = unmask(sha1_of(&[b"req3", secret])) {
        return Some(found);
    }
    if secret[0] != 0 || secret[1] == 0 {
        return None;
    }
    (0..=255u8).find_map(|tail| unmask(sha1_of(&[b"req3", &secret[1..], &[tail]])))
}

/// What the payload after the handshake is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Plain,
    Rc4,
}

impl Method {
    fn bit(self) -> u32 {
        match self {
            Method::Plain => CRYPTO_PLAIN,
            Method::Rc4 => CRYPTO_RC4,
        }
    }
}

fn random_pad_len(rng: &mut impl RngCore) -> usize {
    (rng.next_u32() as usize) % (MAX_PAD + 1)
}

/// The handshake finished: how to treat the payload stream from here on.
pub struct Established {
    pub method: Method,
    /// The torrent the connection is for (SKEY).
    pub info_hash: [u8; 20],
    /// Decrypts bytes from the peer; `None` when they are plain.
    pub read: Option<Rc4>,
    /// When set, only this many more bytes from the peer are encrypted (the responder's view
    /// of IA when plaintext was selected); after them the stream is plain.
    pub read_limit: Option<u64>,
    /// Encrypts bytes to the peer; `None` when they go plain.
    pub write: Option<Rc4>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    PublicKey,
    Sync,
    /// Responder: req2^req3, VC, crypto_provide, len(PadC) (34 bytes).
    /// Initiator: crypto_select, len(PadD) (6 bytes).
    Fields,
    Pad(u16),
    /// Responder: len(IA).
    IaLen,
    Done,
}

enum Role {
    Initiator {
        info_hash: [u8; 20],
        provide: u32,
        ia: Vec<u8>,
    },
    Responder {
        /// Methods we accept, best first.
        accept: Vec<Method>,
    },
}

/// One side of the handshake. Feed it what the peer sent, send what `take_output` returns.
pub struct Handshake {
    role: Role,
    keys: KeyPair,
    phase: Phase,
    acc: [u8; ACC],
    acc_len: usize,
    secret: [u8; KEY_LEN],
    /// The 20 or 8 bytes the sync search looks for.
    sync: [u8; 20],
    sync_len: usize,
    /// Decrypts the peer's stream / encrypts ours, once SKEY is known.
    rx: Option<Rc4>,
    tx: Option<Rc4>,
    method: Option<Method>,
    skey: [u8; 20],
    ia_len: u16,
    pad_out: usize,
    out: Vec<u8>,
}

impl Handshake {
    /// The connecting side. `provide` is CRYPTO_* bits; `ia` (usually the 68-byte BitTorrent
    /// handshake) rides in message 3, encrypted.
    pub fn initiator(info_hash: [u8; 20], provide: u32, ia: &[u8], rng: &mut impl RngCore) -> Self {
        let mut h = Self::new(
            Role::Initiator {
                info_hash,
                provide,
                ia: ia.to_vec(),
            },
            rng,
        );
        h.out.extend_from_slice(&h.keys.public);
        h.push_random_pad(rng);
        h
    }

    /// The accepting side; `accept` lists the methods we take, best first.
    pub fn responder(accept: &[Method], rng: &mut impl RngCore) -> Self {
        Self::new(
            Role::Responder {
                accept: accept.to_vec(),
            },
            rng,
        )
    }

    fn new(role: Role, rng: &mut impl RngCore) -> Self {
        Handshake {
            role,
            keys: KeyPair::generate(rng),
            phase: Phase::PublicKey,
            acc: [0; ACC],
            acc_len: 0,
            secret: [0; KEY_LEN],
            sync: [0; 20],
            sync_len: 0,
            rx: None,
            tx: None,
            method: None,
            skey: [0; 20],
            ia_len: 0,
            pad_out: random_pad_len(rng),
            out: Vec::new(),
        }
    }

    fn push_random_pad(&mut self, rng: &mut impl RngCore) {
        let start = self.out.len();
        self.out.resize(start + self.pad_out, 0);
        rng.fill_bytes(&mut self.out[start..]);
    }

    /// Bytes to send now (empty when there is nothing).
    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }

    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    /// What the handshake waits for, for a timeout message.
    pub fn waiting_for(&self) -> &'static str {
        match self.phase {
            Phase::PublicKey => "the peer's public key",
            Phase::Sync => "the peer to synchronise",
            Phase::Fields | Phase::Pad(_) | Phase::IaLen => "the peer's method choice",
            Phase::Done => "nothing",
        }
    }

    /// Whether S, written as 96 bytes, starts with a zero byte (one secret in 256). Such a
    /// handshake closed by the peer is worth dialing again with new keys: libtorrent 1.1 to
    /// 2.0 hashes a short secret wrongly into the req3 mask (see `find_torrent`), cannot find
    /// our torrent and hangs up, and a new secret is short only one time in 256.
    pub fn secret_starts_with_zero(&self) -> bool {
        self.phase != Phase::PublicKey && self.secret[0] == 0
    }

    pub fn is_initiator(&self) -> bool {
        matches!(self.role, Role::Initiator { .. })
    }

    /// Consumes bytes from the peer, never past the end of the handshake: the return value is
    /// how many were used; the rest belong to the payload. `lookup` maps a req2 hash to the
    /// info hash of a torrent we have (only the responder calls it).
    pub fn feed(
        &mut self,
        input: &[u8],
        lookup: &dyn Fn(&[u8; 20]) -> Option<[u8; 20]>,
        rng: &mut impl RngCore,
    ) -> Result<usize, Error> {
        let mut used = 0;
        while used < input.len() && self.phase != Phase::Done {
            used += self.step(&input[used..], lookup, rng)?;
        }
        Ok(used)
    }

    /// Takes at most what the current phase needs from `input`.
    fn step(
        &mut self,
        input: &[u8],
        lookup: &dyn Fn(&[u8; 20]) -> Option<[u8; 20]>,
        rng: &mut impl RngCore,
    ) -> Result<usize, Error> {
        match self.phase {
            Phase::PublicKey => {
                let n = self.fill(input, KEY_LEN);
                if self.is_initiator() {
                    let plain = crate::protocol::handshake::Handshake::check_prefix(
                        &self.acc[..self.acc_len.min(20)],
                    );
                    if self.acc_len >= 20 && plain.is_ok() {
                        return Err(Error::PlainHandshake);
                    }
                }
                if self.acc_len == KEY_LEN {
                    let mut y = [0u8; KEY_LEN];
                    y.copy_from_slice(&self.acc[..KEY_LEN]);
                    self.secret = self.keys.shared_secret(&y)?;
                    self.acc_len = 0;
                    self.after_public_key(rng);
                    self.phase = Phase::Sync;
                }
                Ok(n)
            }
            Phase::Sync => {
                let limit = MAX_PAD + self.sync_len;
                let mut n = 0;
                for &b in input {
                    self.acc[self.acc_len] = b;
                    self.acc_len += 1;
                    n += 1;
                    let l = self.acc_len;
                    if l >= self.sync_len
                        && self.acc[l - self.sync_len..l] == self.sync[..self.sync_len]
                    {
                        self.acc_len = 0;
                        self.phase = Phase::Fields;
                        return Ok(n);
                    }
                    if l >= limit {
                        return Err(Error::NeverSynchronised);
                    }
                }
                Ok(n)
            }
            Phase::Fields => {
                let want = if self.is_initiator() { 6 } else { 34 };
                let n = self.fill(input, want);
                if self.acc_len == want {
                    self.acc_len = 0;
                    if self.is_initiator() {
                        self.initiator_fields()?;
                    } else {
                        self.responder_fields(lookup)?;
                    }
                }
                Ok(n)
            }
            Phase::Pad(left) => {
                let n = input.len().min(left as usize);
                let mut scratch = [0u8; MAX_PAD];
                scratch[..n].copy_from_slice(&input[..n]);
                self.decrypt(&mut scratch[..n]);
                let left = left - n as u16;
                self.phase = match (left, self.is_initiator()) {
                    (0, true) => Phase::Done,
                    (0, false) => Phase::IaLen,
                    (l, _) => Phase::Pad(l),
                };
                Ok(n)
            }
            Phase::IaLen => {
                let n = self.fill(input, 2);
                if self.acc_len == 2 {
                    let mut f = [self.acc[0], self.acc[1]];
                    self.decrypt(&mut f);
                    self.ia_len = u16::from_be_bytes(f);
                    self.acc_len = 0;
                    self.responder_reply(rng);
                    self.phase = Phase::Done;
                }
                Ok(n)
            }
            Phase::Done => Ok(0),
        }
    }

    fn fill(&mut self, input: &[u8], want: usize) -> usize {
        let n = input.len().min(want - self.acc_len);
        self.acc[self.acc_len..self.acc_len + n].copy_from_slice(&input[..n]);
        self.acc_len += n;
        n
    }

    fn decrypt(&mut self, buf: &mut [u8]) {
        if let Some(rx) = self.rx.as_mut() {
            rx.apply_keystream(buf);
        }
    }

    fn after_public_key(&mut self, rng: &mut impl RngCore) {
        match &self.role {
            Role::Initiator {
                info_hash,
                provide,
                ia,
            } => {
                let (info_hash, provide) = (*info_hash, *provide);
                self.skey = info_hash;
                let mut tx = rc4_key(b"keyA", &self.secret, &info_hash);
                let mut rx = rc4_key(b"keyB", &self.secret, &info_hash);
                // What B's message 4 starts with: VC under keyB.
                let mut vc = VC;
                rx.apply_keystream(&mut vc);
                self.sync[..8].copy_from_slice(&vc);
                self.sync_len = 8;
                self.out
                    .extend_from_slice(&sha1_of(&[b"req1", &self.secret]));
                let req3 = sha1_of(&[b"req3", &self.secret]);
                let x: Vec<u8> = req2(&info_hash)
                    .iter()
                    .zip(req3)
                    .map(|(a, b)| a ^ b)
                    .collect();
                self.out.extend_from_slice(&x);
                let start = self.out.len();
                let pad_c = random_pad_len(rng);
                self.out.extend_from_slice(&VC);
                self.out.extend_from_slice(&provide.to_be_bytes());
                self.out.extend_from_slice(&(pad_c as u16).to_be_bytes());
                self.out.resize(self.out.len() + pad_c, 0);
                self.out.extend_from_slice(&(ia.len() as u16).to_be_bytes());
                self.out.extend_from_slice(ia);
                tx.apply_keystream(&mut self.out[start..]);
                self.tx = Some(tx);
                self.rx = Some(rx);
            }
            Role::Responder { .. } => {
                self.sync = sha1_of(&[b"req1", &self.secret]);
                self.sync_len = 20;
                self.out.extend_from_slice(&self.keys.public);
                self.push_random_pad(rng);
            }
        }
    }

    fn initiator_fields(&mut self) -> Result<(), Error> {
        let mut f = [0u8; 6];
        f.copy_from_slice(&self.acc[..6]);
        self.decrypt(&mut f);
        let select = u32::from_be_bytes([f[0], f[1], f[2], f[3]]);
        let pad = u16::from_be_bytes([f[4], f[5]]);
        let provide = match &self.role {
            Role::Initiator { provide, .. } => *provide,
            Role::Responder { .. } => 0,
        };
        self.method = Some(match select {
            CRYPTO_RC4 if provide & CRYPTO_RC4 != 0 => Method::Rc4,
            CRYPTO_PLAIN if provide & CRYPTO_PLAIN != 0 => Method::Plain,
            other => return Err(Error::SelectedUnoffered(other)),
        });
        if pad as usize > MAX_PAD {
            return Err(Error::PadTooLong(pad));
        }
        self.phase = if pad == 0 {
            Phase::Done
        } else {
            Phase::Pad(pad)
        };
        Ok(())
    }

    fn responder_fields(
        &mut self,
        lookup: &dyn Fn(&[u8; 20]) -> Option<[u8; 20]>,
    ) -> Result<(), Error> {
        let mut obfuscated = [0u8; 20];
        obfuscated.copy_from_slice(&self.acc[..20]);
        self.skey = find_torrent(&obfuscated, &self.secret, lookup).ok_or(Error::UnknownTorrent)?;
        let mut rx = rc4_key(b"keyA", &self.secret, &self.skey);
        self.tx = Some(rc4_key(b"keyB", &self.secret, &self.skey));
        let mut f = [0u8; 14];
        f.copy_from_slice(&self.acc[20..34]);
        rx.apply_keystream(&mut f);
        self.rx = Some(rx);
        if f[..8] != VC {
            return Err(Error::WrongVc);
        }
        let provide = u32::from_be_bytes([f[8], f[9], f[10], f[11]]);
        let pad = u16::from_be_bytes([f[12], f[13]]);
        let accept = match &self.role {
            Role::Responder { accept } => accept.as_slice(),
            Role::Initiator { .. } => &[],
        };
        let chosen = accept.iter().find(|m| provide & m.bit() != 0);
        self.method = Some(*chosen.ok_or(Error::NoCommonMethod(provide))?);
        if pad as usize > MAX_PAD {
            return Err(Error::PadTooLong(pad));
        }
        self.phase = if pad == 0 {
            Phase::IaLen
        } else {
            Phase::Pad(pad)
        };
        Ok(())
    }

    /// Message 4: VC, crypto_select, len(PadD), PadD, all under keyB.
    fn responder_reply(&mut self, rng: &mut impl RngCore) {
        let select = self.method.map_or(0, Method::bit);
        let pad_d = random_pad_len(rng);
        let start = self.out.len();
        self.out.extend_from_slice(&VC);
        self.out.extend_from_slice(&select.to_be_bytes());
        self.out.extend_from_slice(&(pad_d as u16).to_be_bytes());
        self.out.resize(self.out.len() + pad_d, 0);
        if let Some(tx) = self.tx.as_mut() {
            tx.apply_keystream(&mut self.out[start..]);
        }
    }

    /// The result, once `is_done`; `None` before.
    pub fn finish(self) -> Option<Established> {
        if self.phase != Phase::Done {
            return None;
        }
        let method = self.method?;
        let initiator = self.is_initiator();
        let (read, read_limit, write) = match (method, initiator) {
            (Method::Rc4, _) => (self.rx, None, self.tx),
            (Method::Plain, true) => (None, None, None),
            // IA was encrypted before B chose plaintext: decrypt exactly its length.
            (Method::Plain, false) => (self.rx, Some(u64::from(self.ia_len)), None),
        };
        Some(Established {
            method,
            info_hash: self.skey,
            read,
            read_limit,
            write,
        })
    }
}

#[cfg(test)]
mod tests;
