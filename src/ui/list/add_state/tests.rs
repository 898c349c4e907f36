use super::*;
use crate::ui::list::ListState;

/// A multi-file .torrent of `files` (path under the torrent's folder, length), as bencode.
pub(crate) fn torrent(name: &str, files: &[(&str, u64)]) -> Vec<u8> {
    let piece = 16384u64;
    let total: u64 = files.iter().map(|f| f.1).sum();
    let pieces = total.div_ceil(piece).max(1) as usize;
    let mut list = Vec::new();
    for (path, len) in files {
        list.extend_from_slice(format!("d6:lengthi{len}e4:pathl").as_bytes());
        for part in path.split('/') {
            list.extend_from_slice(format!("{}:{part}", part.len()).as_bytes());
        }
        list.extend_from_slice(b"ee");
    }
    let mut out = b"d4:infod5:filesl".to_vec();
    out.extend_from_slice(&list);
    out.extend_from_slice(
        format!("e4:name{}:{name}12:piece lengthi{piece}e", name.len()).as_bytes(),
    );
    out.extend_from_slice(format!("6:pieces{}:", pieces * 20).as_bytes());
    out.extend(std::iter::repeat_n(7u8, pieces * 20));
    out.extend_from_slice(b"ee");
    out
}

pub(crate) const FILES: [(&str, u64); 4] = [
    ("s01/e01.mkv", 700_000_000),
    ("s01/e02.mkv", 650_000_000),
    ("s02/e01.mkv", 720_000_000),
    ("readme.txt", 1_200),
];

/// A dialog in a temporary folder holding `show.torrent` (the four files above), `bad.torrent`
/// (not bencode) and `one.torrent` (a single file).
pub(crate) fn setup() -> (tempfile::TempDir, AddDialog) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("show.torrent"), torrent("show", &FILES)).unwrap();
    std::fs::write(dir.path().join("bad.torrent"), b"this is not bencode").unwrap();
    std::fs::write(
        dir.path().join("one.torrent"),
        torrent("single", &[("only.iso", 5_000)]),
    )
    .unwrap();
    let d = AddDialog::new(Path::new("/srv/downloads"), dir.path().to_path_buf(), None);
    (dir, d)
}

fn typed(d: &mut AddDialog, text: &str) {
    for c in text.chars() {
        d.handle(Action::Type(c));
    }
}

fn sent(step: Step) -> (AddItem, Option<PathBuf>, bool, AddFiles) {
    match step {
        Step::Send(Request::Add {
            item,
            save_path,
            paused,
            files,
        }) => (item, save_path, paused, files),
        other => panic!("not sent: {other:?}"),
    }
}

#[test]
fn tab_completes_the_path_then_enter_shows_the_tree_before_adding() {
    let (dir, mut d) = setup();
    assert_eq!(d.mode(), Mode::AddText);
    assert_eq!(
        d.save_to, "/srv/downloads",
        "prefilled with the session's default"
    );
    typed(&mut d, "sh");
    d.handle(Action::Complete);
    assert_eq!(d.source, "show.torrent");
    assert!(d.has_tree(), "a completed .torrent is read at once");
    assert_eq!(d.chosen(), (4, 2_070_001_200));
    // The tree was shown by Tab, so Enter adds every file (no list of them needed).
    let (item, save_path, paused, files) = sent(d.handle(Action::Accept));
    let bytes = std::fs::read(dir.path().join("show.torrent")).unwrap();
    assert_eq!(
        item,
        AddItem::Torrent {
            name: "show.torrent".into(),
            bytes
        }
    );
    assert_eq!(
        (save_path, paused, files),
        (None, false, AddFiles::default())
    );
}

#[test]
fn a_typed_path_shows_its_tree_on_the_first_enter_and_adds_on_the_second() {
    let (_dir, mut d) = setup();
    typed(&mut d, "show.torrent");
    assert_eq!(d.handle(Action::Accept), Step::Stay);
    assert_eq!(d.focus, Field::Files);
    assert_eq!(d.mode(), Mode::AddPick);
    assert!(matches!(d.handle(Action::Accept), Step::Send(_)));
}

#[test]
fn unchecked_files_and_folders_are_left_out_and_folders_fold() {
    let (_dir, mut d) = setup();
    typed(&mut d, "show.torrent");
    d.handle(Action::Accept);
    // Rows: show/, s01/, e01, e02, s02/, e01, readme.
    let names: Vec<&str> = d
        .files
        .rows
        .iter()
        .map(|&i| d.files.tree.nodes[i].name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "show",
            "s01",
            "e01.mkv",
            "e02.mkv",
            "s02",
            "e01.mkv",
            "readme.txt"
        ]
    );
    d.handle(Action::Down); // s01
    d.handle(Action::ToggleMark); // the whole folder off
    assert_eq!(d.chosen(), (2, 720_001_200));
    let s01 = d.files.rows[1];
    assert_eq!(d.files.tree.nodes[s01].priority, Some(FilePriority::Skip));
    assert_eq!(d.files.tree.nodes[0].priority, None, "show/ is mixed now");
    d.handle(Action::Down); // s01/e01
    d.handle(Action::ToggleMark); // back on
    d.handle(Action::Up); // s01
    d.handle(Action::Left); // fold it
    assert_eq!(d.files.rows.len(), 5);
    d.handle(Action::Right);
    assert_eq!(d.files.rows.len(), 7);
    d.handle(Action::End); // readme.txt
    d.handle(Action::ToggleMark);
    let (_, _, _, files) = sent(d.handle(Action::Accept));
    assert_eq!(files.only, Some(vec![0, 2]), "e01 of s01 and e01 of s02");
}

#[test]
fn nothing_checked_is_an_error_not_a_request() {
    let (_dir, mut d) = setup();
    typed(&mut d, "show.torrent");
    d.handle(Action::Accept);
    d.handle(Action::ToggleMark); // show/: all off
    assert_eq!(d.chosen().0, 0);
    assert_eq!(d.handle(Action::Accept), Step::Stay);
    assert!(
        d.error.as_deref().unwrap().contains("no file"),
        "{:?}",
        d.error
    );
}

#[test]
fn paused_save_path_and_the_up_down_walk() {
    let (dir, mut d) = setup();
    typed(&mut d, "one.torrent");
    d.handle(Action::Down);
    assert_eq!(d.focus, Field::SaveTo);
    assert!(!d.has_tree(), "one file: no tree");
    d.handle(Action::ClearLine);
    typed(&mut d, "dl");
    d.handle(Action::Down);
    assert_eq!((d.focus, d.mode()), (Field::Paused, Mode::AddPick));
    d.handle(Action::Down);
    assert_eq!(d.focus, Field::Paused, "no tree below");
    d.handle(Action::ToggleMark);
    let (_, save_path, paused, files) = sent(d.handle(Action::Accept));
    assert_eq!(save_path, Some(dir.path().join("dl")));
    assert!(paused);
    assert_eq!(files.only, None);
}

#[test]
fn bad_sources_say_why_in_one_line() {
    let (_dir, mut d) = setup();
    assert_eq!(d.handle(Action::Accept), Step::Stay);
    assert!(d.error.as_deref().unwrap().contains("magnet link"));
    typed(&mut d, "missing.torrent");
    assert_eq!(d.handle(Action::Accept), Step::Stay);
    assert!(d
        .error
        .as_deref()
        .unwrap()
        .starts_with("cannot read missing.torrent"));
    d.handle(Action::ClearLine);
    assert_eq!(d.error, None, "editing clears it");
    typed(&mut d, "bad.torrent");
    assert_eq!(d.handle(Action::Accept), Step::Stay);
    let e = d.error.clone().unwrap();
    assert!(
        e.contains("not a valid torrent") && !e.contains('\n'),
        "{e}"
    );
    d.handle(Action::ClearLine);
    typed(&mut d, "magnet:?xt=urn:btih:zz");
    assert_eq!(d.handle(Action::Accept), Step::Stay);
    assert!(d.error.as_deref().unwrap().starts_with("magnet link"));
}

#[test]
fn a_pasted_link_is_sent_as_it_is() {
    let (_dir, mut d) = setup();
    let magnet = format!("magnet:?xt=urn:btih:{}&dn=x", "ab".repeat(20));
    d.paste(&format!("{magnet}\n"));
    assert_eq!(d.source, magnet, "the newline is dropped");
    assert!(matches!(d.loaded, Loaded::Magnet(_)));
    let (item, ..) = sent(d.handle(Action::Accept));
    assert_eq!(item, AddItem::Magnet(magnet));
    let (_dir, mut d) = setup();
    d.paste("https://127.0.0.1:1/a.torrent");
    let (item, ..) = sent(d.handle(Action::Accept));
    assert_eq!(item, AddItem::Url("https://127.0.0.1:1/a.torrent".into()));
}

#[test]
fn esc_cancels_and_the_list_opens_the_dialog_on_a() {
    let (_dir, mut d) = setup();
    assert_eq!(d.handle(Action::Back), Step::Cancel);
    let mut list = ListState::default();
    list.on_session(std::sync::Arc::new(crate::engine::api::SessionSnapshot {
        default_save_path: PathBuf::from("/srv/t"),
        ..Default::default()
    }));
    list.handle(Action::Add);
    assert_eq!(
        list.adding.as_ref().map(|d| d.save_to.as_str()),
        Some("/srv/t")
    );
    list.paste("magnet:?xt=urn:btih:zz");
    assert!(list.adding.as_ref().unwrap().error.is_some());
    let out = list.handle(Action::Back);
    assert!(list.adding.is_none());
    assert_eq!(out.status.as_deref(), Some("nothing added"));
}
