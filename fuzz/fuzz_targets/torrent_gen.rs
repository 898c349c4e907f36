//! Structure the byte-level fuzzer does not reach alone: whole .torrent files built from the
//! input as a recipe — many files, deep paths, nesting near and past the depth limit, huge and
//! odd integers, duplicate and unsafe names, padding attributes — then parsed and printed.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ttui::internals::protocol::metainfo::Metainfo;

struct Recipe<'a>(&'a [u8]);

impl Recipe<'_> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }
    fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.byte(), self.byte()])
    }
}

fn bstr(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(format!("{}:", s.len()).as_bytes());
    out.extend_from_slice(s);
}

/// An integer chosen among the ones that break arithmetic.
fn int(r: &mut Recipe) -> String {
    match r.byte() % 12 {
        0 => "0".into(),
        1 => "-1".into(),
        2 => i64::MAX.to_string(),
        3 => i64::MIN.to_string(),
        4 => "9".repeat(40),
        5 => (1u64 << 32).to_string(),
        6 => u32::MAX.to_string(),
        7 => "16384".into(),
        8 => (1u64 << 24).to_string(),
        9 => "03".into(),
        10 => "-0".into(),
        _ => u64::from(r.u16()).to_string(),
    }
}

fn name(r: &mut Recipe) -> Vec<u8> {
    match r.byte() % 10 {
        0 => b"..".to_vec(),
        1 => b".pad".to_vec(),
        2 => b"a/b".to_vec(),
        3 => b"".to_vec(),
        4 => b"C:".to_vec(),
        5 => vec![0xff, 0xfe],
        6 => b"x".repeat(usize::from(r.u16()) % 4096),
        7 => b"same".to_vec(),
        _ => format!("f{}", r.byte()).into_bytes(),
    }
}

fuzz_target!(|data: &[u8]| {
    let mut r = Recipe(data);
    let files = usize::from(r.u16()) % 5_000;
    let mut info = b"d".to_vec();
    if files > 0 {
        bstr(&mut info, b"files");
        info.push(b'l');
        for _ in 0..files {
            info.push(b'd');
            if r.byte() % 4 == 0 {
                bstr(&mut info, b"attr");
                bstr(&mut info, if r.byte() % 2 == 0 { b"p" } else { b"x" });
            }
            bstr(&mut info, b"length");
            info.extend_from_slice(format!("i{}e", int(&mut r)).as_bytes());
            bstr(&mut info, b"path");
            info.push(b'l');
            for _ in 0..(r.byte() % 5) {
                bstr(&mut info, &name(&mut r));
            }
            info.push(b'e');
            info.push(b'e');
        }
        info.push(b'e');
    } else {
        bstr(&mut info, b"length");
        info.extend_from_slice(format!("i{}e", int(&mut r)).as_bytes());
    }
    bstr(&mut info, b"name");
    bstr(&mut info, &name(&mut r));
    bstr(&mut info, b"piece length");
    info.extend_from_slice(format!("i{}e", int(&mut r)).as_bytes());
    bstr(&mut info, b"pieces");
    let hashes = usize::from(r.u16()) % 4096;
    let mut pieces = vec![0u8; hashes * 20];
    if r.byte() % 8 == 0 {
        pieces.push(1);
    }
    bstr(&mut info, &pieces);
    // An unknown key nested near, at or past the walker's depth limit.
    let depth = usize::from(r.byte()) % 80;
    bstr(&mut info, b"x-deep");
    info.extend(std::iter::repeat_n(b'l', depth));
    info.extend(std::iter::repeat_n(b'e', depth));
    if depth == 0 {
        info.extend_from_slice(b"0:");
    }
    info.push(b'e');
    let mut t = b"d".to_vec();
    bstr(&mut t, b"announce");
    bstr(&mut t, &name(&mut r));
    bstr(&mut t, b"info");
    t.extend_from_slice(&info);
    t.push(b'e');
    if let Ok(m) = Metainfo::from_bytes(&t) {
        let mut out = Vec::new();
        ttui::internals::cli::info::print_info(&m, &mut out).expect("printing to memory");
    }
});
