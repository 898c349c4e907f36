//! The piece length of a new torrent: read from `--piece-size` (`256K`, `4M`, bytes), or
//! chosen from the total size the way libtorrent 2.0 does (`create_torrent`'s automatic
//! size), so a torrent made by ttui cuts its data as qBittorrent's would.

use super::CreateError;

/// Smallest piece length accepted: the request block size. libtorrent refuses anything smaller
/// or not a multiple of it, and v2 needs at least one 16 KiB leaf per piece.
pub(crate) const MIN_PIECE_LENGTH: u32 = 16 * 1024;
/// Largest piece length accepted (mktorrent's limit too); one piece per hashing thread is
/// held in memory.
pub(crate) const MAX_PIECE_LENGTH: u32 = 256 * 1024 * 1024;

/// libtorrent's table: the total size up to which each piece length (16 KiB doubled i times)
/// is chosen, from keeping the v1 piece list near twice the square root of the total size.
const SIZE_TABLE: [u64; 10] = [
    2_684_355,       // 16 KiB
    10_737_418,      // 32 KiB
    42_949_673,      // 64 KiB
    171_798_692,     // 128 KiB
    687_194_767,     // 256 KiB
    2_748_779_069,   // 512 KiB
    10_995_116_278,  // 1 MiB
    43_980_465_111,  // 2 MiB
    175_921_860_444, // 4 MiB
    703_687_441_777, // 8 MiB
];

/// The piece length libtorrent 2.0 picks for `total` bytes: 16 KiB up to ~2.6 MB, doubling at
/// each step of its table, 16 MiB past ~700 GB.
pub(crate) fn auto_piece_length(total: u64) -> u32 {
    let steps = SIZE_TABLE
        .iter()
        .take_while(|&&limit| limit < total)
        .count();
    MIN_PIECE_LENGTH << steps
}

/// Checks a piece length: a power of two from 16 KiB to 256 MiB.
pub(crate) fn check_piece_length(length: u64) -> Result<u32, CreateError> {
    match u32::try_from(length) {
        Ok(n) if (MIN_PIECE_LENGTH..=MAX_PIECE_LENGTH).contains(&n) && n.is_power_of_two() => Ok(n),
        _ => Err(CreateError::BadPieceLength(length.to_string())),
    }
}

/// Parses `--piece-size`: bytes, or a number with `K`, `M` or `G` (powers of 1024; `KiB`,
/// `MB` and lower case are the same), then checks it.
pub(crate) fn parse_piece_size(text: &str) -> Result<u32, CreateError> {
    let bad = || CreateError::BadPieceLength(text.to_owned());
    let t = text.trim();
    let digits_end = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(digits_end);
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let shift = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        _ => return Err(bad()),
    };
    let bytes = n.checked_mul(1 << shift).ok_or_else(bad)?;
    check_piece_length(bytes).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_follows_libtorrent_table() {
        assert_eq!(auto_piece_length(1), 16 << 10);
        assert_eq!(auto_piece_length(2_684_355), 16 << 10);
        assert_eq!(auto_piece_length(2_684_356), 32 << 10);
        assert_eq!(auto_piece_length(100 << 20), 128 << 10);
        assert_eq!(auto_piece_length(1 << 30), 512 << 10);
        assert_eq!(auto_piece_length(4 << 30), 1 << 20);
        assert_eq!(auto_piece_length(50 << 30), 4 << 20);
        assert_eq!(auto_piece_length(703_687_441_777), 8 << 20);
        assert_eq!(auto_piece_length(1 << 40), 16 << 20);
        assert_eq!(auto_piece_length(u64::MAX), 16 << 20);
    }

    #[test]
    fn sizes_parse_and_are_checked() {
        assert_eq!(parse_piece_size("256K").ok(), Some(256 << 10));
        assert_eq!(parse_piece_size("4M").ok(), Some(4 << 20));
        assert_eq!(parse_piece_size("4MiB").ok(), Some(4 << 20));
        assert_eq!(parse_piece_size("16384").ok(), Some(16384));
        assert_eq!(parse_piece_size("256m").ok(), Some(256 << 20));
        for bad in [
            "",
            "K",
            "8K",
            "20000",
            "512M",
            "1G",
            "3M",
            "4X",
            "-16K",
            "99999999999999999999",
        ] {
            let err = parse_piece_size(bad).unwrap_err().to_string();
            assert!(err.contains("power of two"), "{bad}: {err}");
        }
    }
}
