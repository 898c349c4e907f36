use super::*;
use crate::protocol::metainfo::FileEntry;

fn info(paths: &[&str]) -> Info {
    let mut offset = 0;
    let files: Vec<FileEntry> = paths
        .iter()
        .map(|p| {
            let f = FileEntry::new(p.split('/').map(String::from).collect(), 10, offset);
            offset += 10;
            f
        })
        .collect();
    Info {
        name: paths[0].split('/').next().unwrap_or_default().to_string(),
        piece_length: 16384,
        pieces: vec![[0; 20]],
        total_length: offset,
        files,
        private: false,
        source: None,
        single_file: paths.len() == 1 && !paths[0].contains('/'),
        v2: None,
    }
}

fn paths(info: &Info) -> Vec<String> {
    info.files.iter().map(|f| f.path.join("/")).collect()
}

#[test]
fn a_file_inside_the_folder_gets_its_new_name_and_nothing_else_moves() {
    let i = info(&["top/a.txt", "top/sub/b.txt", "top/sub/c.txt"]);
    let r = plan(&i, "top/sub/b.txt", "B.txt").unwrap().unwrap();
    assert_eq!(
        paths(&r.info),
        ["top/a.txt", "top/sub/B.txt", "top/sub/c.txt"]
    );
    assert_eq!(
        (r.from, r.to),
        ("top/sub/b.txt".into(), "top/sub/B.txt".into())
    );
    assert!(!r.top);
    assert_eq!(r.changed, [1]);
    assert_eq!(r.info.name, "top");
    // Web seeds still ask for the torrent's own name.
    assert_eq!(r.info.files[1].url_path(), ["top", "sub", "b.txt"]);
}

#[test]
fn a_folder_renames_every_file_under_it() {
    let i = info(&["top/a.txt", "top/sub/b.txt", "top/sub/c.txt", "top/subway"]);
    let r = plan(&i, "top/sub", "dir").unwrap().unwrap();
    assert_eq!(
        paths(&r.info),
        ["top/a.txt", "top/dir/b.txt", "top/dir/c.txt", "top/subway"]
    );
    assert_eq!(r.changed, [1, 2]);
}

#[test]
fn the_top_folder_renames_the_torrent() {
    let i = info(&["top/a.txt", "top/sub/b.txt"]);
    let r = plan(&i, "top", "Top 2").unwrap().unwrap();
    assert_eq!(paths(&r.info), ["Top 2/a.txt", "Top 2/sub/b.txt"]);
    assert_eq!(r.info.name, "Top 2");
    assert!(r.top);
    // A trailing slash names the same folder.
    assert!(plan(&i, "top/", "x").unwrap().unwrap().top);
}

#[test]
fn a_single_file_torrent_renames_its_file_and_name() {
    let i = info(&["movie.mkv"]);
    let r = plan(&i, "movie.mkv", "film.mkv").unwrap().unwrap();
    assert_eq!(paths(&r.info), ["film.mkv"]);
    assert_eq!(r.info.name, "film.mkv");
}

#[test]
fn bad_names_unknown_paths_and_taken_names_are_refused() {
    let i = info(&["top/a.txt", "top/b.txt", "top/sub/c"]);
    for bad in ["", ".", "..", "x/y", "a\nb"] {
        assert_eq!(
            plan(&i, "top/a.txt", bad),
            Err(RenameError::BadName(bad.into()))
        );
    }
    assert_eq!(
        plan(&i, "top/a.txt", &"x".repeat(241)),
        Err(RenameError::TooLong)
    );
    for unknown in ["top/zz", "other", "", "/", "top/a.txt/more", "top/su"] {
        assert_eq!(
            plan(&i, unknown, "n"),
            Err(RenameError::NoPath(unknown.into()))
        );
    }
    assert_eq!(
        plan(&i, "top/a.txt", "b.txt"),
        Err(RenameError::Taken("top/b.txt".into()))
    );
    assert_eq!(
        plan(&i, "top/a.txt", "sub"),
        Err(RenameError::Taken("top/sub".into()))
    );
    assert_eq!(plan(&i, "top/a.txt", "a.txt"), Ok(None));
}

#[test]
fn the_record_gives_a_fresh_file_list_the_same_names() {
    let fresh = info(&["top/a.txt", "top/sub/b.txt", "top/sub/c.txt"]);
    let mut now = fresh.clone();
    let mut kept = Renamed::default();
    for (path, name) in [("top/sub/b.txt", "B"), ("top/sub", "dir"), ("top", "new")] {
        let r = plan(&now, path, name).unwrap().unwrap();
        kept.record(&r);
        now = r.info;
    }
    assert_eq!(paths(&now), ["new/a.txt", "new/dir/B", "new/dir/c.txt"]);
    let mut loaded = fresh.clone();
    kept.apply(&mut loaded).unwrap();
    assert_eq!(loaded, now);
    // Nothing recorded: nothing changes.
    let mut same = fresh.clone();
    Renamed::default().apply(&mut same).unwrap();
    assert_eq!(same, fresh);
}

#[test]
fn a_record_that_does_not_fit_changes_nothing() {
    let fresh = info(&["top/a.txt", "top/b.txt"]);
    let bad = [
        Renamed {
            name: Some("..".into()),
            ..Renamed::default()
        },
        Renamed {
            files: [(7, vec!["x".into()])].into(),
            ..Renamed::default()
        },
        Renamed {
            files: [(0, vec!["d".into(), "x".into()])].into(),
            ..Renamed::default()
        },
        Renamed {
            files: [(0, vec!["b.txt".into()])].into(),
            ..Renamed::default()
        },
        Renamed {
            files: [(0, vec!["a/b".into()])].into(),
            ..Renamed::default()
        },
    ];
    for r in bad {
        let mut i = fresh.clone();
        assert!(r.apply(&mut i).is_err(), "{r:?}");
        assert_eq!(i, fresh);
    }
}
