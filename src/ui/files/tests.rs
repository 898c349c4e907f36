use super::*;

fn row(path: &str, size: u64, done: u64, priority: FilePriority) -> FileRow {
    FileRow {
        path: path.to_string(),
        size,
        offset: 0,
        done,
        priority,
    }
}

fn files() -> Vec<FileRow> {
    use FilePriority::*;
    vec![
        row("show/s01/e01.mkv", 100, 100, Normal),
        row("show/s01/e02.mkv", 100, 50, High),
        row("show/readme.txt", 10, 0, Skip),
        row("show/s02/e01.mkv", 200, 0, Normal),
    ]
}

fn names(v: &FilesView) -> Vec<String> {
    v.rows
        .iter()
        .map(|&i| {
            let n = &v.tree.nodes[i];
            format!("{}{}", "  ".repeat(n.depth), n.name)
        })
        .collect()
}

#[test]
fn builds_folders_from_paths_with_sums() {
    let t = FileTree::build(&files());
    let shown: Vec<(&str, usize, Option<usize>)> = t
        .nodes
        .iter()
        .map(|n| (n.name.as_str(), n.depth, n.file))
        .collect();
    assert_eq!(
        shown,
        vec![
            ("show", 0, None),
            ("s01", 1, None),
            ("e01.mkv", 2, Some(0)),
            ("e02.mkv", 2, Some(1)),
            ("readme.txt", 1, Some(2)),
            ("s02", 1, None),
            ("e01.mkv", 2, Some(3)),
        ]
    );
    let show = &t.nodes[0];
    assert_eq!((show.size, show.done, show.end), (410, 150, 7));
    assert_eq!(show.priority, None, "mixed priorities");
    assert_eq!(t.nodes[5].priority, Some(FilePriority::Normal));
    assert_eq!(t.nodes[1].path, "show/s01");
    assert!(t.same_paths(&files()));
}

#[test]
fn odd_paths_do_not_break_the_tree() {
    let t = FileTree::build(&[
        row("a//b.txt", 1, 0, FilePriority::Normal),
        row("", 2, 0, FilePriority::Normal),
        row("/c", 3, 0, FilePriority::Normal),
    ]);
    let names: Vec<&str> = t.nodes.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, vec!["a", "b.txt", "(no name)", "c"]);
    assert_eq!(FileTree::build(&[]).nodes.len(), 0);
}

#[test]
fn a_folder_targets_every_file_under_it() {
    let mut v = FilesView::default();
    v.on_files(&files());
    assert_eq!(v.targets(), vec![0, 1, 2, 3], "the top folder");
    v.move_by(1);
    assert_eq!(v.targets(), vec![0, 1], "show/s01");
    v.move_by(2);
    assert_eq!(v.targets(), vec![1], "one file");
}

#[test]
fn folding_hides_the_subtree_and_survives_a_refresh() {
    let mut v = FilesView::default();
    v.on_files(&files());
    v.move_by(1);
    v.navigate(Action::Left);
    assert_eq!(
        names(&v),
        vec!["show", "  s01", "  readme.txt", "  s02", "    e01.mkv"]
    );
    assert_eq!(v.selected_node().map(|n| n.name.as_str()), Some("s01"));
    // New figures, same paths: the fold stays.
    let mut more = files();
    more[3].done = 200;
    v.on_files(&more);
    assert_eq!(v.rows.len(), 5);
    assert_eq!(v.tree.nodes[5].done, 200);
    v.navigate(Action::ToggleFold);
    assert_eq!(v.rows.len(), 7);
    // Left on a file goes up to its folder.
    v.navigate(Action::Down);
    v.navigate(Action::Left);
    assert_eq!(v.selected_node().map(|n| n.name.as_str()), Some("s01"));
    // Folding the top folder leaves one row, and the selection on it.
    v.navigate(Action::Home);
    v.navigate(Action::Left);
    assert_eq!(names(&v), vec!["show"]);
    v.navigate(Action::End);
    assert_eq!(v.selected, 0);
}

#[test]
fn new_paths_rebuild_the_tree() {
    let mut v = FilesView::default();
    v.on_files(&[]);
    assert!(v.selected_node().is_none());
    assert!(v.targets().is_empty());
    v.on_files(&files());
    assert_eq!(v.rows.len(), 7);
}
