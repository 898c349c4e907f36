//! Lowercase hex, the one encoder and decoder: info hashes (v1 and v2), peer ids, node ids,
//! file names in the state directory, hashes a client names. Thirty lines do not need a crate.

/// Lowercase hex of any bytes.
pub(crate) fn encode(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    s
}

/// Lowercase hex of `bytes` written into `out`, which must hold twice as many (else ""):
/// for answers that write thousands of hashes without a `String` each.
pub(crate) fn encode_into<'o>(bytes: &[u8], out: &'o mut [u8]) -> &'o str {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let Some(out) = out.get_mut(..bytes.len() * 2) else {
        return "";
    };
    for (pair, &b) in out.chunks_exact_mut(2).zip(bytes) {
        pair[0] = DIGITS[usize::from(b >> 4)];
        pair[1] = DIGITS[usize::from(b & 0x0f)];
    }
    std::str::from_utf8(out).unwrap_or("")
}

/// The value of one hex digit, either case.
pub(crate) fn digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// `N` bytes from exactly `2 * N` hex digits (either case); None for anything else.
pub(crate) fn decode_array<const N: usize>(s: &str) -> Option<[u8; N]> {
    let s = s.as_bytes();
    if s.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (o, pair) in out.iter_mut().zip(s.chunks_exact(2)) {
        *o = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    Some(out)
}

/// Bytes from an even number of hex digits (either case); None for anything else. Test
/// vectors are written this way.
#[cfg(test)]
pub(crate) fn decode(s: &str) -> Option<Vec<u8>> {
    let s = s.as_bytes();
    if !s.len().is_multiple_of(2) {
        return None;
    }
    s.chunks_exact(2)
        .map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn decode_reads_what_encode_writes_and_refuses_the_rest() {
        assert_eq!(
            super::decode("000fA0ff"),
            Some(vec![0x00, 0x0f, 0xa0, 0xff])
        );
        assert_eq!(super::decode(""), Some(vec![]));
        assert_eq!(super::decode("abc"), None);
        assert_eq!(super::decode("zz"), None);
    }

    #[test]
    fn lowercase_two_digits_a_byte() {
        assert_eq!(super::encode(&[0x00, 0x0f, 0xa0, 0xff]), "000fa0ff");
        assert_eq!(super::encode(&[]), "");
        let mut buf = [0u8; 8];
        assert_eq!(
            super::encode_into(&[0x00, 0x0f, 0xa0, 0xff], &mut buf),
            "000fa0ff"
        );
        assert_eq!(super::encode_into(&[0xab; 5], &mut buf), "", "no room");
    }

    #[test]
    fn decodes_exactly_its_length_in_either_case() {
        assert_eq!(super::decode_array::<2>("0fA0"), Some([0x0f, 0xa0]));
        assert_eq!(super::decode_array::<2>("0fa"), None);
        assert_eq!(super::decode_array::<2>("0fa0ff"), None);
        assert_eq!(super::decode_array::<2>("0fg0"), None);
        let h = [0xabu8; 20];
        assert_eq!(super::decode_array::<20>(&super::encode(&h)), Some(h));
    }
}
