use super::*;

fn facts() -> Facts {
    Facts {
        id: TorrentId(7),
        name: "Some Show S01".into(),
        info_hash: [0xab; 20],
        dir: PathBuf::from("/data/tv"),
        labels: vec!["tv".into(), "hd".into()],
        downloaded: 123_456,
        trackers: vec![
            "http://a.example/announce".into(),
            "udp://b.example:80".into(),
        ],
    }
}

#[test]
fn the_environment_has_our_names_and_transmissions() {
    let env = environment(&facts(), "Thu Aug 15 21:09:36 2024\n");
    let get = |k: &str| {
        env.iter()
            .find(|(name, _)| *name == k)
            .map(|(_, v)| v.to_string_lossy().into_owned())
            .unwrap_or_else(|| panic!("no {k}"))
    };
    let hash = "ab".repeat(20);
    for (ours, theirs, want) in [
        ("TTUI_TORRENT_ID", "TR_TORRENT_ID", "7"),
        ("TTUI_TORRENT_NAME", "TR_TORRENT_NAME", "Some Show S01"),
        ("TTUI_TORRENT_HASH", "TR_TORRENT_HASH", hash.as_str()),
        ("TTUI_TORRENT_DIR", "TR_TORRENT_DIR", "/data/tv"),
        ("TTUI_TORRENT_LABELS", "TR_TORRENT_LABELS", "tv,hd"),
    ] {
        assert_eq!(get(ours), want);
        assert_eq!(get(theirs), want);
    }
    assert_eq!(get("TR_TORRENT_BYTES_DOWNLOADED"), "123456");
    assert_eq!(
        get("TR_TORRENT_TRACKERS"),
        "http://a.example/announce,udp://b.example:80"
    );
    assert_eq!(get("TR_TIME_LOCALTIME"), "Thu Aug 15 21:09:36 2024\n");
    assert_eq!(get("TR_APP_VERSION"), env!("CARGO_PKG_VERSION"));
    assert_eq!(env.len(), 14);
}

#[test]
fn a_nul_never_reaches_the_environment() {
    let mut f = facts();
    f.name = "a\0b".into();
    let env = environment(&f, "");
    assert!(env.iter().all(|(_, v)| !v.as_encoded_bytes().contains(&0)));
}

#[test]
fn local_time_reads_like_ctime() {
    let t = local_time_text();
    assert!(t.ends_with('\n'), "{t:?}");
    let words: Vec<&str> = t.split_whitespace().collect();
    assert_eq!(words.len(), 5, "{t:?}");
    assert_eq!(words[3].len(), 8, "{t:?}");
}

fn cut_all(chunks: &[&[u8]]) -> Vec<(String, bool)> {
    let mut c = LineCutter::default();
    let mut out = Vec::new();
    let mut emit = |l: &[u8], cut: bool| out.push((String::from_utf8_lossy(l).into_owned(), cut));
    for ch in chunks {
        c.push(ch, &mut emit);
    }
    c.finish(&mut emit);
    out
}

#[test]
fn output_is_split_into_lines_across_reads() {
    let got = cut_all(&[b"one\ntw", b"o\n\nthr", b"ee"]);
    let want: Vec<(String, bool)> = ["one", "two", "", "three"]
        .iter()
        .map(|s| (s.to_string(), false))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn a_long_line_is_cut_and_its_rest_skipped() {
    let long = vec![b'x'; MAX_LINE_BYTES * 3];
    let got = cut_all(&[&long[..100], &long[100..], b"\nnext\n"]);
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0].0.len(), MAX_LINE_BYTES);
    assert!(got[0].1);
    assert_eq!(got[1], ("next".to_string(), false));
}

fn script(dir: &std::path::Path, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join("hook.sh");
    std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

#[tokio::test]
async fn exit_codes_signals_and_start_failures_are_told_apart() {
    let dir = tempfile::tempdir().unwrap();
    let ok = script(dir.path(), "echo hello; exit 0");
    assert!(run_once(&ok, Vec::new(), Duration::from_secs(20))
        .await
        .is_ok());
    let three = script(dir.path(), "echo oops >&2; exit 3");
    let e = run_once(&three, Vec::new(), Duration::from_secs(20))
        .await
        .unwrap_err();
    assert_eq!(e.to_string(), "exit 3");
    let missing = dir.path().join("not-there");
    let e = run_once(&missing, Vec::new(), Duration::from_secs(20))
        .await
        .unwrap_err();
    assert!(matches!(e, ScriptError::Start { .. }), "{e}");
    assert!(e.to_string().starts_with("cannot start "), "{e}");
}

#[tokio::test]
async fn over_its_time_the_whole_group_is_killed() {
    let dir = tempfile::tempdir().unwrap();
    let pids = dir.path().join("pids");
    // A child of the script (same group) writes its pid: it must die with the script.
    let body = format!(
        "sleep 60 & echo $! > {p}; echo $$ >> {p}; wait",
        p = pids.display()
    );
    let slow = script(dir.path(), &body);
    let start = std::time::Instant::now();
    let e = run_once(&slow, Vec::new(), Duration::from_millis(500))
        .await
        .unwrap_err();
    assert!(matches!(e, ScriptError::TimedOut(_)), "{e}");
    assert!(start.elapsed() < Duration::from_secs(10));
    let text = std::fs::read_to_string(&pids).unwrap();
    for pid in text.split_whitespace() {
        // Gone, or dead and waiting to be reaped by whoever inherited it (a zombie).
        let mut gone = false;
        for _ in 0..100 {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let state = stat
                .rsplit(')')
                .next()
                .and_then(|r| r.split_whitespace().next());
            if matches!(state, None | Some("Z") | Some("X")) {
                gone = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(gone, "process {pid} survived the kill");
    }
}
