use super::*;

#[test]
fn payload_is_deterministic_and_sized_as_asked() {
    let dir = tempfile::tempdir().unwrap();
    let spec = PayloadSpec::new([("x/y/big", (1 << 20) + 13), ("small", 5), ("zero", 0)]);
    make_payload(&dir.path().join("one"), &spec, 7).unwrap();
    make_payload(&dir.path().join("two"), &spec, 7).unwrap();
    make_payload(&dir.path().join("three"), &spec, 8).unwrap();
    for file in &spec.files {
        let one = fs::read(dir.path().join("one").join(&file.path)).unwrap();
        assert_eq!(one.len() as u64, file.size);
        assert_eq!(
            one,
            fs::read(dir.path().join("two").join(&file.path)).unwrap()
        );
        if file.size > 0 {
            assert_ne!(
                one,
                fs::read(dir.path().join("three").join(&file.path)).unwrap()
            );
        }
    }
    let big = fs::read(dir.path().join("one/x/y/big")).unwrap();
    // Not a repeating pattern: the two 1 MiB-buffer halves differ.
    assert_ne!(big[..13], big[1 << 20..(1 << 20) + 13]);

    for bad in ["../escape", "/abs", "a/../b", ""] {
        let err = make_payload(dir.path(), &PayloadSpec::new([(bad, 1)]), 1).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{bad:?}");
    }
    assert!(!dir.path().parent().unwrap().join("escape").exists());
}

#[test]
fn demo_spec_is_about_64_mib_and_unaligned() {
    let spec = PayloadSpec::demo();
    let total = spec.total_size();
    assert!((63 * MIB..=65 * MIB).contains(&total), "{total}");
    assert!(spec.files.iter().any(|f| f.size < 16));
    assert!(spec.files.iter().any(|f| f.path.components().count() >= 3));
    assert!(spec.files.iter().all(|f| f.size % 16_384 != 0));
}
