//! Rates as people write them: `2M`, `500K`, `1.5MiB`, `800k/s`, `0` (unlimited). K, M and G
//! are binary (KiB, MiB, GiB), as everywhere in ttui; a bare number is bytes per second.

/// Bytes per second from a rate's text; 0 means unlimited.
pub fn parse_rate(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let t = t
        .strip_suffix("/s")
        .or_else(|| t.strip_suffix("/S"))
        .unwrap_or(t);
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let bad = || format!("not a rate: {text:?} (e.g. 500K, 2M, 1.5MiB, 0 for unlimited)");
    if num.is_empty() {
        return Err(bad());
    }
    let value: f64 = num.parse().map_err(|_| bad())?;
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" | "kib" => 1024.0,
        "m" | "mb" | "mib" => 1024.0 * 1024.0,
        "g" | "gb" | "gib" => 1024.0 * 1024.0 * 1024.0,
        _ => return Err(bad()),
    };
    let bytes = (value * mult).round();
    if !bytes.is_finite() || bytes >= u64::MAX as f64 {
        return Err(format!("rate too large: {text:?}"));
    }
    Ok(bytes as u64)
}

/// A rate for `ttui config` and the verbs: `unlimited` or e.g. `1.5 MiB/s`.
pub fn show_rate(rate: u64) -> String {
    if rate == 0 {
        "unlimited".into()
    } else {
        crate::fmt::rate(rate as f64)
    }
}
