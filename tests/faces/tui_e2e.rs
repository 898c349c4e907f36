//! The full-screen interface end to end: the real `ttui` binary in a tmux pane (160×48,
//! TERM=xterm-256color) downloads from a loopback swarm — Transmission and a rate-limited
//! libtorrent seeder announced through opentracker, plus a closed port given with `--peer` —
//! while the test types keys and reads the screen like a person would:
//!
//! 1. both clients appear by name and the closed port as "connection refused";
//! 2. the progress and the piece map count rise;
//! 3. `p` pauses (header "paused", down rate 0 B/s, progress frozen), `p` resumes;
//! 4. `s` sorts by address, `j`/`g` move the selection (the `▸` row, drawn reversed) onto
//!    the libtorrent peer, `d` drops it ("dropped by user");
//! 5. Transmission, unthrottled, finishes the download; `q` quits, the process exits 0
//!    within seconds, the shell is back on the normal screen in cooked mode, and the files
//!    are byte-identical to the seeders'.
//!
//! Run through tests/run.sh: the swarm refuses to start outside a loopback-only namespace.
// A test crate: it may unwrap, and nothing in it is reachable from outside anyway.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use crate::common;
use crate::tmux;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::thread::sleep;
use std::time::{Duration, Instant};

use common::*;
use tmux::{Pen, Styled, Tmux};

const PROMPT: &str = "e2e-shell$ ";
/// libtorrent's upload cap (bytes/s) and Transmission's until the drop (kB/s, its unit):
/// together ~1.8 MB/s, so the ~66 MiB payload would take over 30 s — time enough to read
/// the screen, pause and resume before it completes.
const LT_RATE: u64 = 900 << 10;
/// The part of a dropped peer's 60 s cool-down in which the test holds ttui to it, leaving
/// room for the screen and the stats line to trail.
const COOL_DOWN_CHECKED: Duration = Duration::from_secs(50);
const TR_RATE_KB: u32 = 900;

/// Screen rows of one pane, by its title: from the title row to the next pane's title row.
fn pane_rows<'a>(screen: &'a str, title: &str) -> Vec<&'a str> {
    let mut rows = screen
        .lines()
        .skip_while(|l| !l.contains(title) || is_tab_bar(l));
    let Some(first) = rows.next() else {
        return Vec::new();
    };
    let mut out = vec![first];
    // Every pane's title sits on its top border, which starts with a border or title cell.
    out.extend(rows.take_while(|l| !is_title_row(l)));
    out
}

/// The detail view's tab bar, which names every tab (" 2 Peers 2/3 │ 3 Pieces 12/265 …").
fn is_tab_bar(l: &str) -> bool {
    l.contains("1 Overview")
}

fn is_title_row(l: &str) -> bool {
    l.starts_with('─') || l.starts_with(" Pieces ") || l.starts_with(" Log")
}

/// The peer table plus its detail lines.
fn peer_rows(screen: &str) -> Vec<&str> {
    pane_rows(screen, " Peers ")
}

/// `addr` as a whole word (so 127.0.0.5:2000 does not match 127.0.0.5:20001).
fn has_addr(line: &str, addr: &SocketAddr) -> bool {
    let a = addr.to_string();
    line.match_indices(&a).any(|(i, _)| {
        !line[i + a.len()..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit())
    })
}

/// The table row (not the detail line) of the peer at `addr`.
fn peer_row<'a>(screen: &'a str, addr: &SocketAddr) -> Option<&'a str> {
    peer_rows(screen)
        .into_iter()
        .skip(2) // title and column header
        .find(|l| has_addr(l, addr) && !l.starts_with(" ▸"))
}

/// The address on the selected row: the UI marks it with `▸` in the first column.
fn selected_addr(screen: &str) -> Option<String> {
    peer_rows(screen)
        .into_iter()
        .find_map(|l| l.strip_prefix('▸'))
        .and_then(|rest| rest.split_whitespace().next())
        .map(str::to_string)
}

fn header(screen: &str, row: usize) -> &str {
    screen.lines().nth(row).unwrap_or("")
}

/// The percentage on the header's progress bar.
fn percent(screen: &str) -> Option<f64> {
    header(screen, 1)
        .split_whitespace()
        .find_map(|t| t.strip_suffix('%')?.parse().ok())
}

/// "Pieces 12/265" in the piece map's title.
fn pieces_done(screen: &str) -> Option<(u64, u64)> {
    let line = screen.lines().find(|l| l.contains(" Pieces "))?;
    let rest = line.split(" Pieces ").nth(1)?;
    let frac = rest.split_whitespace().next()?;
    let (done, total) = frac.split_once('/')?;
    Some((done.parse().ok()?, total.parse().ok()?))
}

/// The header's download rate text, e.g. "1.2 MiB/s".
fn down_rate(screen: &str) -> Option<&str> {
    let line = header(screen, 2);
    let after = line.split('↓').nth(1)?;
    Some(after.split('↑').next()?.trim())
}

/// The pen of the first verified cell (`█`) in the piece map, which fills the left half of
/// the screen below its title; the legend row ends the search.
fn verified_cell_pen(styled: &Styled, screen: &str) -> Option<Pen> {
    let title = screen
        .lines()
        .position(|l| l.contains(" Pieces ") && !is_tab_bar(l))?;
    for line in styled.lines.iter().skip(title + 1) {
        let text: String = line.iter().map(|(c, _)| *c).collect();
        if text.contains("have ") || text.trim().is_empty() {
            return None;
        }
        // The grid's cursor (reverse video) may sit on a verified piece: its colour is the
        // cursor's, not the piece's.
        if let Some((_, pen)) = line.iter().find(|(c, pen)| *c == '█' && !pen.reverse) {
            return Some(*pen);
        }
    }
    None
}

fn contains_ci(hay: &str, needle: &str) -> bool {
    hay.to_lowercase().contains(&needle.to_lowercase())
}

fn is_libtorrent(text: &str) -> bool {
    contains_ci(text, "libtorrent") || contains_ci(text, "rasterbar")
}

fn shell_quote(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', r"'\''"))
}

/// Sets (Some) or lifts (None) Transmission's upload limit for `t` over its RPC.
fn transmission_upload_limit(tr: &TransmissionSeeder, t: &Torrent, kb_per_s: Option<u32>) {
    let rpc = format!("127.0.0.1:{}", tr.rpc_port);
    let mut cmd = Command::new("transmission-remote");
    cmd.args([rpc.as_str(), "-t", &t.hash_hex()]);
    match kb_per_s {
        Some(kb) => cmd.args(["-u", &kb.to_string()]),
        None => cmd.arg("-U"),
    };
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run transmission-remote: {e}"));
    assert!(
        out.status.success(),
        "transmission-remote {cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn tui_downloads_pauses_drops_and_quits_cleanly() {
    tui_scenario(false);
}

/// The same session, also requiring that the peer the user dropped stays away for the
/// cool-down the log promises ("dropped ADDR (may return after 60s)").
#[test]
fn dropped_peer_stays_away_during_its_cool_down() {
    tui_scenario(true);
}

/// The whole session. With `strict_drop`, after completion also asserts that libtorrent
/// sent nothing after the drop and no second libtorrent connection appeared.
fn tui_scenario(strict_drop: bool) {
    require_loopback_only();
    let _swarm = swarm_lock();
    let started = Instant::now();
    let step = |what: &str| eprintln!("[{:6.1}s] {what}", started.elapsed().as_secs_f64());

    let fx = Fixture::multi_file("tui payload", 21, 18);
    let mut tracker = Opentracker::start(&[fx.torrent.info_hash]);
    let t = fx.torrent_with("tui.torrent", Some(&tracker.http_url()), &[]);
    let tr = TransmissionSeeder::start(&t, &fx.data_dir);
    transmission_upload_limit(&tr, &t, Some(TR_RATE_KB));
    let mut lt = LibtorrentSeeder::start(
        &t,
        &fx.data_dir,
        LtOptions {
            seed_mode: true,
            upload_limit: LT_RATE,
            ..LtOptions::default()
        },
    );
    tracker.wait_seeders(&t.info_hash, 2);
    let closed = closed_addr();
    let (tr_addr, lt_addr) = (tr.addr(), lt.addr());
    step(&format!(
        "swarm up: Transmission {tr_addr}, libtorrent {lt_addr}, closed port {closed}"
    ));

    let work = fx.out_dir("e2e");
    let out = work.join("out");
    std::fs::create_dir_all(&out).unwrap_or_else(|e| panic!("{}: {e}", out.display()));
    let log = work.join("ttui.log");
    let script = work.join("go.sh");
    let body = format!(
        "{} {} -o {} --port 0 --peer {closed} --log-file {} --state-dir {}\necho \"EXITED:$?\"\n",
        shell_quote(Path::new(env!("CARGO_BIN_EXE_ttui"))),
        shell_quote(&t.path),
        shell_quote(&out),
        shell_quote(&log),
        shell_quote(&work.join("state")),
    );
    std::fs::write(&script, body).unwrap_or_else(|e| panic!("{}: {e}", script.display()));

    // An interactive bash without rc files, so the prompt is ours and nothing else runs.
    let shell = format!(
        "env -u NO_COLOR TERM=xterm-256color HISTFILE=/dev/null PS1='{PROMPT}' \
         bash --norc --noprofile -i"
    );
    let pane = Tmux::start(160, 48, &shell);
    let context = || format!("---- ttui log ----\n{}", tail(&log, 30));
    pane.wait_for("the shell prompt", Duration::from_secs(10), context, |s| {
        s.lines().any(|l| l.starts_with(PROMPT.trim_end()))
    });
    pane.type_line(&format!("bash {}", shell_quote(&script)));
    // The detail view opens on its Overview: the peer table is the Peers tab (2).
    pane.wait_for(
        "the detail view's tabs",
        Duration::from_secs(20),
        context,
        |s| s.lines().any(is_tab_bar),
    );
    pane.keys(&["2"]);

    // 1. Who is who: both clients by name, the closed port refused.
    let screen = pane.wait_for(
        "both seeders named and the closed port refused",
        Duration::from_secs(45),
        context,
        |s| {
            peer_row(s, &tr_addr).is_some_and(|r| r.contains("Transmission"))
                && peer_row(s, &lt_addr).is_some_and(is_libtorrent)
                && peer_row(s, &closed).is_some_and(|r| r.contains("connection refused"))
        },
    );
    assert!(pane.alternate_on(), "the TUI runs on the alternate screen");
    step(&format!(
        "peers shown:\n  {}\n  {}\n  {}",
        peer_row(&screen, &tr_addr).unwrap_or_default().trim_end(),
        peer_row(&screen, &lt_addr).unwrap_or_default().trim_end(),
        peer_row(&screen, &closed).unwrap_or_default().trim_end()
    ));

    // 2. The piece map (the Pieces tab, 3) fills: percent and verified-piece count rise (the
    // tab bar counts verified pieces on every tab).
    pane.keys(&["3"]);
    let screen = pane.wait_for(
        "some pieces verified",
        Duration::from_secs(30),
        context,
        |s| percent(s).is_some_and(|p| p > 0.0) && pieces_done(s).is_some_and(|(d, _)| d > 0),
    );
    let p1 = percent(&screen).unwrap_or(0.0);
    let d1 = pieces_done(&screen).map_or(0, |d| d.0);
    let screen = pane.wait_for("progress to rise", Duration::from_secs(30), context, |s| {
        percent(s).is_some_and(|p| p >= p1 + 2.0)
            && pieces_done(s).is_some_and(|(d, _)| d >= d1 + 3)
    });
    let pen = verified_cell_pen(&pane.capture_styled(), &screen);
    assert!(
        pen.is_some_and(|p| p.fg_is(2)),
        "verified piece cells should be green, got {pen:?}\n{screen}"
    );
    pane.keys(&["2"]);
    step(&format!(
        "progress {p1}% → {:?}%, pieces {d1} → {:?}",
        percent(&screen),
        pieces_done(&screen)
    ));
    assert!(
        header(&screen, 0).contains("downloading"),
        "header state: {}",
        header(&screen, 0)
    );

    // 3. Pause: state, colour, zero rate, frozen progress.
    pane.keys(&["p"]);
    let pressed = Instant::now();
    pane.wait_for("the paused state", Duration::from_secs(5), context, |s| {
        header(s, 0).contains("paused")
    });
    let pen = pane.capture_styled().pen_in_row(0, "paused");
    assert!(
        pen.is_some_and(|p| p.fg_is(3)),
        "\"paused\" is drawn yellow, got {pen:?}"
    );
    let screen = pane.wait_for(
        "the down rate to fall to 0 B/s",
        Duration::from_secs(10),
        context,
        |s| down_rate(s) == Some("0 B/s"),
    );
    let to_zero = pressed.elapsed();
    let paused_at = percent(&screen);
    sleep(Duration::from_secs(2));
    let screen = pane.capture();
    assert_eq!(
        percent(&screen),
        paused_at,
        "progress moved while paused\n{screen}"
    );
    assert!(header(&screen, 0).contains("paused"));
    step(&format!(
        "paused: rate 0 B/s after {:.1}s, progress held at {paused_at:?}",
        to_zero.as_secs_f64()
    ));

    // Resume: state back, progress moves again.
    pane.keys(&["p"]);
    pane.wait_for(
        "the downloading state after resume",
        Duration::from_secs(5),
        context,
        |s| header(s, 0).contains("downloading"),
    );
    let screen = pane.wait_for(
        "progress to rise after resume",
        Duration::from_secs(30),
        context,
        |s| percent(s).is_some_and(|p| p >= paused_at.unwrap_or(100.0) + 1.0),
    );
    step(&format!("resumed: progress {:?}", percent(&screen)));

    // 4. Select the libtorrent peer and drop it. Sorting by address keeps rows still while
    // the selection moves.
    pane.keys(&["s", "s", "s"]);
    pane.wait_for("sort by address", Duration::from_secs(5), context, |s| {
        peer_rows(s)
            .first()
            .is_some_and(|t| t.contains("sort: address"))
    });
    let lt_text = lt_addr.to_string();
    let mut screen = pane.capture();
    for _ in 0..20 {
        let sel = selected_addr(&screen);
        if sel.as_deref() == Some(lt_text.as_str()) {
            break;
        }
        // Down a row; at the bottom (selection did not move) back to the top.
        pane.keys(&["j"]);
        let moved = Instant::now();
        loop {
            sleep(Duration::from_millis(100));
            screen = pane.capture();
            if selected_addr(&screen) != sel || moved.elapsed() > Duration::from_secs(1) {
                break;
            }
        }
        if selected_addr(&screen) == sel {
            pane.keys(&["g"]);
            sleep(Duration::from_millis(300));
            screen = pane.capture();
        }
    }
    assert_eq!(
        selected_addr(&screen).as_deref(),
        Some(lt_text.as_str()),
        "could not select the libtorrent peer\n{screen}"
    );
    let pen = pane.capture_styled().pen_at("", &format!("▸ {lt_text}"));
    // The ▸ marker says which row is selected; the row is also set apart (reversed, or bold
    // on a highlight background).
    assert!(
        pen.is_some_and(|p| p.reverse || p.bold),
        "the selected row is not highlighted, got {pen:?}"
    );
    pane.keys(&["d"]);
    let screen = pane.wait_for(
        "the libtorrent row to show dropped by user",
        Duration::from_secs(10),
        context,
        |s| peer_row(s, &lt_addr).is_some_and(|r| r.contains("dropped by user")),
    );
    let dropped_at = Instant::now();
    step(&format!(
        "dropped: {}",
        peer_row(&screen, &lt_addr).unwrap_or_default().trim_end()
    ));
    // A stats line printed after the drop (they trail by up to a second).
    let lt_up_at_drop = lt.uploaded_fresh();

    // 5. Transmission, unthrottled, finishes the download. The dropped peer is not dialed
    // again during its cool-down (60 s), even when it dials back in from a new port: checked
    // on every screen until the download completes or the cool-down nears its end, whichever
    // comes first (with `strict_drop`, also that libtorrent uploaded nothing more meanwhile).
    transmission_upload_limit(&tr, &t, None);
    let lt_ip = format!("{}:", lt_addr.ip());
    let mut cool_down_checks = 0u32;
    let mut lt_up_in_cool_down = None;
    let screen = pane.wait_for("the download to complete", DOWNLOAD_TIMEOUT, context, |s| {
        if dropped_at.elapsed() < COOL_DOWN_CHECKED {
            cool_down_checks += 1;
            assert!(
                peer_row(s, &lt_addr).is_some_and(|r| r.contains("dropped by user")),
                "the dropped libtorrent row changed {:.1}s after the drop, within its cool-down\n{s}",
                dropped_at.elapsed().as_secs_f64()
            );
            if strict_drop {
                let returned: Vec<&str> = peer_rows(s)
                    .into_iter()
                    .skip(2)
                    .filter(|l| l.contains(&lt_ip) && !has_addr(l, &lt_addr) && !l.starts_with(" ▸"))
                    .collect();
                assert!(
                    returned.is_empty(),
                    "the dropped libtorrent peer came back within its cool-down: {returned:#?}\n{s}"
                );
            }
        } else if strict_drop && lt_up_in_cool_down.is_none() {
            // The cool-down is nearly over: what libtorrent sent until now counts.
            lt_up_in_cool_down = Some(lt.uploaded_fresh());
        }
        let state = header(s, 0);
        (state.contains("complete") || state.contains("seeding"))
            && header(s, 1).contains("100.0%")
            && pieces_done(s).is_some_and(|(d, n)| d == n && n > 0)
    });
    step(&format!(
        "complete: {} ({cool_down_checks} screens checked within the cool-down)",
        header(&screen, 0).trim()
    ));
    assert!(
        cool_down_checks > 0,
        "no screen was checked within the cool-down: the test is too slow to tell"
    );
    eprintln!("peers at completion:");
    for row in peer_rows(&screen) {
        eprintln!("  {}", row.trim_end());
    }
    if strict_drop {
        let lt_up = match lt_up_in_cool_down {
            Some(up) => up,
            None => lt.uploaded_fresh(),
        };
        eprintln!("libtorrent uploaded {lt_up_at_drop} B by the drop, {lt_up} B by the check");
        assert!(
            lt_up <= lt_up_at_drop + (1 << 20),
            "the dropped libtorrent peer came back: it uploaded {} B after the drop\n{screen}",
            lt_up.saturating_sub(lt_up_at_drop)
        );
    }

    // Quit: exit status 0 within seconds, normal screen, cooked terminal.
    pane.keys(&["q"]);
    let quit_at = Instant::now();
    let screen = pane.wait_for(
        "ttui to exit after q",
        Duration::from_secs(45),
        context,
        |s| s.lines().any(|l| l.starts_with("EXITED:")),
    );
    let took = quit_at.elapsed();
    assert!(
        screen.lines().any(|l| l == "EXITED:0"),
        "ttui did not exit 0\n{screen}"
    );
    // The UI promises about 3 s; the bound is loose because other tests load the machine.
    assert!(
        took < Duration::from_secs(30),
        "quitting took {took:?} (the UI promises ~3 s)"
    );
    assert!(
        !pane.alternate_on(),
        "still on the alternate screen after exit\n{screen}"
    );
    let screen = pane.wait_for(
        "the prompt after the exit marker",
        Duration::from_secs(5),
        context,
        |s| {
            s.lines()
                .skip_while(|l| !l.starts_with("EXITED:"))
                .any(|l| l.starts_with(PROMPT.trim_end()))
        },
    );
    assert!(
        !screen.contains("Peers") && !screen.contains(" Pieces "),
        "the TUI's screen is left behind\n{screen}"
    );
    // Raw mode would show as -icanon -echo.
    pane.type_line(
        "echo \"STTY:$(stty -a | tr ' ;' '\\n\\n' | grep -x -e '-\\?icanon' -e '-\\?echo' | sort | tr '\\n' ,)\"",
    );
    let screen = pane.wait_for("the stty report", Duration::from_secs(5), context, |s| {
        s.lines()
            .any(|l| l.starts_with("STTY:") && l.ends_with(','))
    });
    assert!(
        screen.lines().any(|l| l == "STTY:echo,icanon,"),
        "terminal not back in cooked mode with echo\n{screen}"
    );
    step(&format!("quit: exit 0 after {:.1}s", took.as_secs_f64()));

    assert_same_tree(&fx.payload, &out.join(&t.name));
    step("files byte-identical");
}

/// The add dialog (`a` on the list) on a real session: a pasted magnet link arrives as text
/// (bracketed paste; its newline does not press Enter), a partial path Tab-completes to a
/// three-file .torrent, its tree shows with sizes, one file is unchecked, Enter adds it, and
/// the session has that file skipped (`ttui files --json`), so it is never created.
#[test]
fn add_dialog_completes_a_path_and_skips_an_unchecked_file() {
    require_loopback_only();
    let work = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let dir = work.path();
    let album = dir.join("data").join("album");
    std::fs::create_dir_all(&album).unwrap();
    for (name, byte) in [("a.bin", 1u8), ("b.bin", 2), ("c.bin", 3)] {
        std::fs::write(album.join(name), vec![byte; 40_000]).unwrap();
    }
    let torrent = ttui::internals::create::create_torrent(&album, 16384, &[], false).unwrap();
    std::fs::write(dir.join("album.torrent"), torrent).unwrap();
    let (state, out, log) = (dir.join("state"), dir.join("out"), dir.join("ttui.log"));
    let bin = Path::new(env!("CARGO_BIN_EXE_ttui"));
    let shell = format!(
        "cd {} && env -u NO_COLOR TERM=xterm-256color TTUI_NO_PUBLIC_ROUTERS=1 {} \
         --state-dir {} -o {} --no-dht --port 0 --bind 127.0.0.1 --log-file {}",
        shell_quote(dir),
        shell_quote(bin),
        shell_quote(&state),
        shell_quote(&out),
        shell_quote(&log),
    );
    let pane = Tmux::start(100, 30, &shell);
    let context = || format!("---- ttui log ----\n{}", tail(&log, 30));
    let wait = Duration::from_secs(20);
    pane.wait_for("the list's footer", wait, context, |s| s.contains("a add"));
    pane.keys(&["a"]);
    pane.wait_for("the add dialog", wait, context, |s| {
        s.contains("Add a torrent")
    });
    // A pasted link is text even with its newline: it must not press Enter.
    let magnet = format!("magnet:?xt=urn:btih:{}&dn=pasted\n", "ab".repeat(20));
    pane.paste(&magnet);
    let screen = pane.wait_for("the pasted magnet link", wait, context, |s| {
        s.contains("dn=pasted")
    });
    assert!(
        screen.contains("Add a torrent") && screen.contains("once the metadata arrives"),
        "{screen}"
    );
    pane.keys(&["C-u"]);
    pane.wait_for("the field emptied", wait, context, |s| {
        !s.contains("dn=pasted")
    });
    pane.type_text("alb");
    pane.keys(&["Tab"]);
    let screen = pane.wait_for("the completed path and its tree", wait, context, |s| {
        s.contains("album.torrent") && s.contains("3 files") && s.contains("b.bin")
    });
    assert!(screen.contains("3 checked"), "{screen}");
    // Source, Save to, Start paused, the tree's folder, a.bin, b.bin.
    pane.keys(&["Down", "Down", "Down", "Down", "Down"]);
    pane.keys(&["Space"]);
    let screen = pane.wait_for("b.bin unchecked", wait, context, |s| {
        s.contains("2 checked")
    });
    assert!(screen.lines().any(|l| l.contains("[ ] b.bin")), "{screen}");
    pane.keys(&["Enter"]);
    let screen = pane.wait_for("the session's answer", wait, context, |s| {
        !s.contains("Add a torrent") && s.contains("added")
    });
    assert!(
        !screen.contains("not added") && !screen.contains("nothing added"),
        "{screen}"
    );
    // The session publishes its list on its next tick.
    pane.wait_for("the torrent in the list", wait, context, |s| {
        s.lines()
            .any(|l| l.contains(" album ") && !l.contains("added"))
    });

    let verb = |args: &[&str]| {
        let o = Command::new(bin)
            .args(args)
            .args(["--state-dir", state.to_str().unwrap()])
            .env("TTUI_NO_PUBLIC_ROUTERS", "1")
            .output()
            .unwrap();
        assert!(o.status.success(), "ttui {args:?}: {o:?}");
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()
    };
    let rows = verb(&["list", "--json"]);
    let id = rows
        .as_array()
        .and_then(|r| r.iter().find(|t| t["name"] == "album"))
        .map(|t| t["id"].to_string())
        .unwrap_or_else(|| panic!("album not listed: {rows}"));
    let files = verb(&["files", &id, "--json"]);
    let got: Vec<(String, String)> = files
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {files}"))
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap_or("").to_string(),
                f["priority"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let want: Vec<(String, String)> = [("a.bin", "normal"), ("b.bin", "skip"), ("c.bin", "normal")]
        .iter()
        .map(|(n, p)| (format!("album/{n}"), p.to_string()))
        .collect();
    assert_eq!(got, want);
    assert!(
        !out.join("album").join("b.bin").exists(),
        "a skipped file was created"
    );

    pane.keys(&["q"]);
    pane.wait_for("ttui to end", wait, context, |_| pane.pane_dead());
}
