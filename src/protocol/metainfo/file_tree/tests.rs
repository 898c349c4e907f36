use std::collections::HashMap;

use super::*;

fn dict(entries: Vec<(&str, Value)>) -> Value {
    Value::Dict(
        entries
            .into_iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v))
            .collect::<HashMap<_, _>>(),
    )
}

fn file(length: i64, root: Option<[u8; 32]>, attr: Option<&str>) -> Value {
    let mut leaf = vec![("length", Value::Int(length))];
    if let Some(r) = root {
        leaf.push(("pieces root", Value::Bytes(r.to_vec())));
    }
    if let Some(a) = attr {
        leaf.push(("attr", Value::Bytes(a.as_bytes().to_vec())));
    }
    dict(vec![("", dict(leaf))])
}

fn paths(files: &[TreeFile]) -> Vec<String> {
    files.iter().map(|f| f.path.join("/")).collect()
}

#[test]
fn files_come_in_tree_order() {
    let tree = dict(vec![
        ("b.bin", file(5, Some([2; 32]), None)),
        (
            "a",
            dict(vec![
                ("z", file(1, Some([3; 32]), Some("x"))),
                ("c", dict(vec![("d", file(0, None, None))])),
            ]),
        ),
        ("a0", file(20_000, Some([4; 32]), None)),
        ("/lead", file(1, Some([5; 32]), None)),
    ]);
    let files = parse_file_tree(&tree).unwrap();
    assert_eq!(paths(&files), ["lead", "a/c/d", "a/z", "a0", "b.bin"]);
    assert_eq!(files[1].pieces_root, None, "an empty file has no root");
    assert_eq!(files[2].attr, "x");
    assert_eq!(files[3].length, 20_000);
    assert_eq!(files[3].pieces_root, Some([4; 32]));
}

#[test]
fn links_are_empty_and_need_no_root() {
    let tree = dict(vec![("l", file(-1, None, Some("l")))]);
    let files = parse_file_tree(&tree).unwrap();
    assert_eq!((files[0].length, files[0].pieces_root), (0, None));
}

/// Every form libtorrent 2.0 refuses, refused with the path in one line.
#[test]
fn malformed_trees_are_refused() {
    let cases: Vec<(Value, FileTreeError)> = vec![
        (Value::Int(1), FileTreeError::NotADict),
        (dict(vec![]), FileTreeError::Empty),
        (dict(vec![("d", dict(vec![]))]), FileTreeError::Empty),
        (
            dict(vec![("a", Value::Int(3))]),
            FileTreeError::NotANode("a".into()),
        ),
        (
            dict(vec![("d", dict(vec![("", Value::Int(3))]))]),
            FileTreeError::NotANode("d".into()),
        ),
        (
            dict(vec![(
                "d",
                dict(vec![
                    ("", file(1, Some([1; 32]), None)),
                    ("x", file(1, Some([1; 32]), None)),
                ]),
            )]),
            FileTreeError::EmptyName("d".into()),
        ),
        (
            dict(vec![("a", file(-1, None, None))]),
            FileTreeError::Length("a".into()),
        ),
        (
            dict(vec![("a", dict(vec![("", dict(vec![]))]))]),
            FileTreeError::Length("a".into()),
        ),
        (
            dict(vec![("a", file(1 << 62, Some([1; 32]), None))]),
            FileTreeError::Length("a".into()),
        ),
        (
            dict(vec![("a", file(1, None, None))]),
            FileTreeError::PiecesRoot("a".into()),
        ),
        (
            dict(vec![("a", file(1, Some([0; 32]), None))]),
            FileTreeError::PiecesRoot("a".into()),
        ),
        (
            dict(vec![("a", file(16, Some([1; 32]), Some("p")))]),
            FileTreeError::PadFile("a".into()),
        ),
    ];
    for (tree, want) in cases {
        assert_eq!(parse_file_tree(&tree), Err(want.clone()), "{want}");
        assert!(!want.to_string().contains('\n'));
    }
    // A name of slashes alone is a name, left for the path cleaner (libtorrent's corpus has
    // "//"); a leading slash before a name is dropped.
    let slashes = dict(vec![(
        "d",
        dict(vec![
            ("//", file(1, Some([1; 32]), None)),
            ("/x", file(1, Some([1; 32]), None)),
        ]),
    )]);
    let paths: Vec<Vec<String>> = parse_file_tree(&slashes)
        .unwrap()
        .into_iter()
        .map(|f| f.path)
        .collect();
    assert_eq!(paths, [["d", "//"], ["d", "x"]]);
    // A short root.
    let short = dict(vec![(
        "a",
        dict(vec![(
            "",
            dict(vec![
                ("length", Value::Int(1)),
                ("pieces root", Value::Bytes(vec![1; 31])),
            ]),
        )]),
    )]);
    assert_eq!(
        parse_file_tree(&short),
        Err(FileTreeError::PiecesRoot("a".into()))
    );
}

#[test]
fn depth_is_bounded() {
    let mut tree = file(1, Some([1; 32]), None);
    for _ in 0..MAX_DEPTH {
        tree = dict(vec![("d", tree)]);
    }
    assert!(parse_file_tree(&tree).is_ok());
    let deeper = dict(vec![("d", tree)]);
    assert!(matches!(
        parse_file_tree(&deeper),
        Err(FileTreeError::TooDeep(_))
    ));
}
