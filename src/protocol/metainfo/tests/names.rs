//! Names and paths made safe (sanitize.rs): what each unsafe form becomes, and the notes.

use super::super::*;
use super::*;

/// The name and the paths `t` loads with, and its notes.
fn loaded(t: &[u8]) -> (String, Vec<String>, Vec<String>) {
    let m = Metainfo::from_bytes(t).unwrap();
    let paths = m.info.files.iter().map(|f| f.path.join("/")).collect();
    (m.info.name, paths, m.notes)
}

#[test]
fn unsafe_paths_are_made_safe_and_noted() {
    // (path of file 2 below `pack/`, what it becomes) — the cases libtorrent's corpus has.
    let cases: [(&[&str], &str); 12] = [
        (&["dir", ""], "dir/_"),
        (&["", ""], "_/_"),
        (&["."], "_"),
        (&["..", "..", "bar"], "bar"),
        (&["/", "/", "bar"], "bar"),
        (&["\\", "\\", "bar"], "bar"),
        (&["/etc", "passwd"], "etc/passwd"),
        (&["foo/../../../bar", "bar"], "foo......bar/bar"),
        (&["..\\..\\b"], "....b"),
        (&["a\0b"], "a_b"),
        (&["C:", "x"], "C:/x"),
        (&["..hidden", "a.b"], "..hidden/a.b"),
    ];
    for (raw, expected) in cases {
        let (_, paths, notes) = loaded(&mutated(|r| set(file(r, 2), "path", path(raw))));
        assert_eq!(paths[2], format!("pack/{expected}"), "{raw:?}");
        let changed = !matches!(expected, "C:/x" | "..hidden/a.b");
        assert_eq!(notes.len(), usize::from(changed), "{raw:?}: {notes:?}");
        if changed {
            assert!(notes[0].starts_with("file 2 ["), "{notes:?}");
            assert!(
                notes[0].contains(&format!("saved as \"pack/{expected}\"")),
                "{notes:?}"
            );
        }
    }
    // Names: what libtorrent 2.0.8 makes of its corpus (`..` becomes the info hash).
    for (raw, expected) in [
        ("\\est2", "est2"),
        ("temp/../../abc", "temp....abc"),
        ("foobar ", "foobar "),
        ("x\n/y", "x_y"),
    ] {
        let (name, paths, notes) = loaded(&mutated(|r| set(info(r), "name", bytes(raw))));
        assert_eq!(name, expected);
        assert!(paths.iter().all(|p| p.starts_with(&format!("{expected}/"))));
        assert_eq!(notes.len(), usize::from(raw != expected), "{notes:?}");
    }
    for raw in ["", ".", "..", "/"] {
        let t = mutated(|r| set(info(r), "name", bytes(raw)));
        let (name, _, notes) = loaded(&t);
        assert_eq!(name, Metainfo::from_bytes(&t).unwrap().info_hash_hex());
        assert!(notes[0].contains("named by the info hash"), "{notes:?}");
    }
    rejects(
        &mutated(|r| set(file(r, 0), "path", path(&[]))),
        "`info.files[0].path` is an empty list",
    );
    rejects(
        &mutated(|r| set(info(r), "files", Value::List(vec![]))),
        "`info.files` is an empty list",
    );
}

#[test]
fn long_names_are_shortened_to_240_bytes() {
    let long = format!("{}.mkv", "a".repeat(296));
    let accents = "é".repeat(200);
    let (name, paths, notes) = loaded(&mutated(|r| {
        set(info(r), "name", bytes(&long));
        set(file(r, 0), "path", path(&[&accents, &long]));
    }));
    assert_eq!(name, format!("{}.mkv", "a".repeat(236)));
    assert_eq!(paths[0], format!("{name}/{}/{name}", "é".repeat(120)));
    assert_eq!(notes.len(), 2, "{notes:?}");
    assert!(notes.iter().all(|n| n.contains("shortened to 240 bytes")));
    assert!(notes.iter().all(|n| n.len() < 2000));
}

#[test]
fn paths_longer_than_path_max_are_refused() {
    let deep: Vec<String> = (0..17).map(|_| "d".repeat(240)).collect();
    let deep: Vec<&str> = deep.iter().map(String::as_str).collect();
    rejects(
        &mutated(|r| set(file(r, 2), "path", path(&deep))),
        "bytes long, more than the 4095 bytes a path can have on Linux",
    );
    // 4095 bytes exactly still loads: `pack/` + 16 × (240 + `/`) + 234.
    let mut fits: Vec<String> = (0..16).map(|_| "d".repeat(240)).collect();
    fits.push("f".repeat(4095 - 5 - 16 * 241));
    let fits: Vec<&str> = fits.iter().map(String::as_str).collect();
    let (_, paths, _) = loaded(&mutated(|r| set(file(r, 2), "path", path(&fits))));
    assert_eq!(paths[2].len(), 4095);
}

#[test]
fn utf8_twins_are_used_when_the_plain_key_is_not_utf8() {
    let t = mutated(|r| {
        set(info(r), "name", Value::Bytes(vec![0xe9]));
        set(info(r), "name.utf-8", bytes("é"));
        set(
            file(r, 0),
            "path",
            Value::List(vec![Value::Bytes(vec![0xff])]),
        );
        set(file(r, 0), "path.utf-8", path(&["ok"]));
    });
    let m = Metainfo::from_bytes(&t).unwrap();
    assert_eq!(m.info.name, "é");
    assert_eq!(m.info.files[0].path, vec![s("é"), s("ok")]);
    assert!(m.notes.is_empty(), "{:?}", m.notes);
}

#[test]
fn names_that_are_not_utf8_are_read_as_latin1() {
    let plain = Metainfo::from_bytes(&multi()).unwrap();
    let t = mutated(|r| {
        set(info(r), "name", Value::Bytes(b"t\xe9mp".to_vec()));
        set(
            file(r, 0),
            "path",
            Value::List(vec![
                bytes("dir"),
                Value::Bytes(b"caf\xe9 cr\xe8me".to_vec()),
            ]),
        );
    });
    let m = Metainfo::from_bytes(&t).unwrap();
    assert_eq!(m.info.name, "témp");
    assert_eq!(m.info.files[0].path, [s("témp"), s("dir"), s("café crème")]);
    assert_ne!(m.info_hash, plain.info_hash);
    assert_eq!(m.info_hash, Metainfo::from_bytes(&t).unwrap().info_hash);
    assert_eq!(m.notes.len(), 2, "{:?}", m.notes);
    assert!(m
        .notes
        .iter()
        .all(|n| n.contains("not UTF-8, read as Latin-1")));
    // A twin that is not UTF-8 either is not preferred.
    let t = mutated(|r| {
        set(info(r), "name", Value::Bytes(b"a\xe9".to_vec()));
        set(info(r), "name.utf-8", Value::Bytes(b"b\xff".to_vec()));
    });
    assert_eq!(Metainfo::from_bytes(&t).unwrap().info.name, "aé");
}
