//! RC4, the cipher MSE runs the payload through after its handshake. Pure, no I/O, no unsafe.
//!
//! Why our own and not a crate: the `rc4` crate (RustCrypto) runs every byte through its
//! generic one-byte-block machinery: 2.1 CPU-s per GiB in a release build here, against 1.2
//! for OpenSSL's assembly. Binding libcrypto's `RC4()` instead would add a C build dependency
//! (and OpenSSL's licence to the binary), and OpenSSL 3 keeps RC4 in its legacy provider,
//! which a distribution may not ship or load. This loop runs within ~10 % of OpenSSL
//! (`bash tests/bench/rc4.sh` measures both in one run).
//!
//! What makes it fast, after OpenSSL's rc4-x86_64.pl:
//! - The state is `[u8; 256]` indexed by `u8`, so the compiler proves every index in bounds
//!   and emits no checks.
//! - Eight keystream bytes are gathered into a u64 and XORed with eight data bytes at once.
//! - `S[i+1]` for the next byte is loaded before this byte's swap is stored, so the next
//!   `j` does not wait on a store; when this byte's `j` was `i+1` the swap just wrote `S[j]`
//!   and the value is taken from the register instead (a branch taken 1 time in 256). The
//!   chain carried from byte to byte is then `j += S[i]`, one add; the loads are off it.

/// An RC4 keystream, positioned after the bytes already used.
#[derive(Clone)]
pub struct Rc4 {
    s: [u8; 256],
    i: u8,
    j: u8,
}

impl Rc4 {
    /// Keys RC4 (key scheduling); a key is 1 to 256 bytes, checked when compiling.
    pub fn new<const N: usize>(key: &[u8; N]) -> Self {
        const { assert!(N >= 1 && N <= 256, "an RC4 key is 1 to 256 bytes") };
        let mut s: [u8; 256] = std::array::from_fn(|i| i as u8);
        let mut j = 0u8;
        for (i, k) in (0..256).zip(key.iter().cycle()) {
            j = j.wrapping_add(s[i]).wrapping_add(*k);
            s.swap(i, usize::from(j));
        }
        Rc4 { s, i: 0, j: 0 }
    }

    /// XORs the next `buf.len()` keystream bytes into `buf` (encrypts or decrypts in place).
    /// The stream is the same however the caller cuts it into calls.
    pub fn apply_keystream(&mut self, buf: &mut [u8]) {
        let s = &mut self.s;
        let (mut i, mut j) = (self.i, self.j);
        let mut ti = s[usize::from(i.wrapping_add(1))];
        let mut chunks = buf.chunks_exact_mut(8);
        for chunk in &mut chunks {
            let mut ks = 0u64;
            for k in 0..8 {
                ks |= u64::from(step(s, &mut i, &mut j, &mut ti)) << (8 * k);
            }
            let mut data = [0u8; 8];
            data.copy_from_slice(chunk);
            chunk.copy_from_slice(&(u64::from_le_bytes(data) ^ ks).to_le_bytes());
        }
        for b in chunks.into_remainder() {
            *b ^= step(s, &mut i, &mut j, &mut ti);
        }
        self.i = i;
        self.j = j;
    }
}

/// One keystream byte. On entry `ti` is `S[i+1]` as it stands now; on exit it is `S[i+1]`
/// for the new `i`, read before the swap's stores and corrected if the swap wrote it.
#[inline(always)]
fn step(s: &mut [u8; 256], i: &mut u8, j: &mut u8, ti: &mut u8) -> u8 {
    *i = i.wrapping_add(1);
    *j = j.wrapping_add(*ti);
    let tj = s[usize::from(*j)];
    let next_i = i.wrapping_add(1);
    let next = s[usize::from(next_i)];
    s[usize::from(*j)] = *ti;
    s[usize::from(*i)] = tj;
    let out = s[usize::from(ti.wrapping_add(tj))];
    if next_i != *j {
        *ti = next;
    }
    out
}

#[cfg(test)]
mod tests;
