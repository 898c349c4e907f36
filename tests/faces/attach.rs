//! `ttui attach` end to end: a real `ttui daemon` on loopback with one torrent, and the
//! attached screen in a tmux pane, driven like a person would:
//!
//! 1. local: the list shows the torrent, `a` adds a second one through the add dialog (the
//!    session lists it), Enter opens the first one's detail view, `p` pauses it (the
//!    command reaches the daemon: `ttui list` says paused), `t` turns turtle mode on and `L`
//!    64K limits the torrent (`ttui limit` says both), `q` ends attach with status 0
//!    and the daemon still answers; then a daemon that goes away ends attach with
//!    "connection to the session lost" and status 1;
//! 2. the same through a real OpenSSH server on 127.0.0.1 (a throwaway host key and user
//!    key, an ssh config given with `--ssh-config`), `ttui bridge` on the far side.
//!
//! Every process is killed by its pid; every file lives in a temporary directory.
// A test crate: it may unwrap, and nothing in it is reachable from outside anyway.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use crate::prereq;
use crate::tmux;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use tmux::Tmux;

const NAME: &str = "attach-payload.bin";
const BIN: &str = env!("CARGO_BIN_EXE_ttui");

/// A child killed (SIGTERM, then SIGKILL) by its pid when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let pid = self.0.id().to_string();
        let _ = Command::new("kill").arg(&pid).status();
        let end = Instant::now() + Duration::from_secs(10);
        while Instant::now() < end {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn ttui(args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .env("TTUI_NO_PUBLIC_ROUTERS", "1")
        .output()
        .unwrap()
}

fn list(state: &Path) -> Option<String> {
    let out = ttui(&["list", "--state-dir", state.to_str().unwrap()]);
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A daemon on `dir/state` holding one torrent (its data complete in `dir/data`).
fn daemon(dir: &Path) -> Proc {
    let (state, data) = (dir.join("state"), dir.join("data"));
    fs::create_dir_all(&data).unwrap();
    let payload = data.join(NAME);
    fs::write(&payload, vec![7u8; 70_000]).unwrap();
    let torrent = ttui::internals::create::create_torrent(&payload, 16384, &[], false).unwrap();
    let torrent_path = dir.join("t.torrent");
    fs::write(&torrent_path, torrent).unwrap();
    let log = fs::File::create(dir.join("daemon.log")).unwrap();
    let child = Command::new(BIN)
        .args(["daemon", "--state-dir"])
        .arg(&state)
        .args(["--no-dht", "--port", "0", "--bind", "127.0.0.1", "-o"])
        .arg(&data)
        .env("TTUI_NO_PUBLIC_ROUTERS", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let proc = Proc(child);
    let end = Instant::now() + Duration::from_secs(20);
    while list(&state).is_none() {
        assert!(
            Instant::now() < end,
            "the daemon never answered `ttui list`"
        );
        sleep(Duration::from_millis(200));
    }
    let added = ttui(&[
        "add",
        "--state-dir",
        state.to_str().unwrap(),
        torrent_path.to_str().unwrap(),
    ]);
    assert!(added.status.success(), "{added:?}");
    proc
}

fn quote(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', r"'\''"))
}

fn log_of(dir: &Path) -> impl Fn() -> String + '_ {
    move || {
        let log = fs::read_to_string(dir.join("daemon.log")).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(20).collect();
        format!(
            "---- daemon log (last lines, newest first) ----\n{}",
            tail.join("\n")
        )
    }
}

/// The footer after `P` when the player runs on this machine (`TTUI_PLAYER=true`).
const PLAYED_HERE: &str = "playing with true: http://127.0.0.1:";

/// Drives an attached screen: list, detail, pause, limits, play, quit; the daemon keeps
/// running. `played`: what the footer says after `P` on the Files tab (a player started
/// here, or over ssh the command to run on this side).
fn drive(pane: &Tmux, dir: &Path, played: &str) {
    let state = dir.join("state");
    let long = Duration::from_secs(20);
    pane.wait_for("the torrent in the list", long, log_of(dir), |s| {
        s.contains(NAME) && s.contains("Name")
    });
    // The add dialog: the .torrent is read here and the session adds it (`ttui add`'s way).
    let second = dir.join("second.torrent");
    if !second.exists() {
        let payload = dir.join("second.bin");
        fs::write(&payload, vec![9u8; 20_000]).unwrap();
        let t = ttui::internals::create::create_torrent(&payload, 16384, &[], false).unwrap();
        fs::write(&second, t).unwrap();
    }
    pane.keys(&["a"]);
    pane.wait_for("the add dialog", long, log_of(dir), |s| {
        s.contains("Add a torrent")
    });
    pane.type_text(second.to_str().unwrap());
    pane.keys(&["Enter"]);
    let screen = pane.wait_for("the session's answer", long, log_of(dir), |s| {
        s.contains("added #") || s.contains("already there") || s.contains("not added")
    });
    assert!(!screen.contains("not added"), "{screen}");
    let end = Instant::now() + long;
    while !list(&state).unwrap_or_default().contains("second.bin") {
        assert!(Instant::now() < end, "the added torrent is not listed");
        sleep(Duration::from_millis(200));
    }
    pane.keys(&["Enter"]);
    pane.wait_for("the detail view", long, log_of(dir), |s| {
        s.contains(NAME) && s.contains("Pieces") && s.contains("Peers")
    });
    pane.keys(&["p"]);
    let end = Instant::now() + long;
    loop {
        let l = list(&state).unwrap_or_default();
        if l.contains("paused") {
            break;
        }
        assert!(Instant::now() < end, "`p` never paused the torrent: {l}");
        sleep(Duration::from_millis(200));
    }
    // `t` and the torrent's own limits (`L` in the detail view) reach the daemon too.
    pane.keys(&["t"]);
    pane.keys(&["L"]);
    pane.wait_for("the torrent's limits dialog", long, log_of(dir), |s| {
        s.contains(&format!("Rate limits: {NAME}"))
    });
    pane.type_text("64K");
    pane.keys(&["Enter"]);
    let end = Instant::now() + long;
    loop {
        let out = ttui(&["limit", "--state-dir", state.to_str().unwrap(), "all"]);
        let l = String::from_utf8_lossy(&out.stdout);
        if l.contains("turtle mode: on") && l.contains("down 64 KiB/s, up unlimited") {
            break;
        }
        assert!(
            Instant::now() < end,
            "`t` and `L` never reached the daemon: {l}"
        );
        sleep(Duration::from_millis(200));
    }
    // `P` on the Files tab: the file's stream URL from the daemon, then the player.
    pane.keys(&["4"]);
    pane.wait_for("the Files tab", long, log_of(dir), |s| {
        s.contains("Priority")
    });
    pane.keys(&["P"]);
    let screen = pane.wait_for("the player's answer", long, log_of(dir), |s| {
        s.contains(played) || s.contains("play:")
    });
    assert!(screen.contains(played), "{screen}");
    assert!(screen.contains("/stream/"), "{screen}");
    pane.keys(&["q"]);
    pane.wait_for("attach to end with 0", long, log_of(dir), |s| {
        s.contains("ATTACH-EXIT=0")
    });
    let l = list(&state).expect("the daemon stopped with attach");
    assert!(l.contains(NAME), "{l}");
}

/// A daemon that goes away while attached: attach says so and fails.
fn lose(pane: &Tmux, dir: &Path, daemon: Proc) {
    pane.wait_for(
        "the torrent in the list",
        Duration::from_secs(20),
        log_of(dir),
        |s| s.contains(NAME),
    );
    drop(daemon);
    let screen = pane.wait_for(
        "attach to end with 1",
        Duration::from_secs(30),
        log_of(dir),
        |s| s.contains("ATTACH-EXIT=1"),
    );
    assert!(
        screen.contains("connection to the session lost"),
        "{screen}"
    );
}

#[test]
fn attach_shows_the_daemon_and_leaves_it_running() {
    if !prereq::have_tools(&["tmux"]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let d = daemon(dir);
    let shell = format!(
        "TTUI_PLAYER=true {} attach --state-dir {}; echo ATTACH-EXIT=$?; sleep 60",
        quote(Path::new(BIN)),
        quote(&dir.join("state"))
    );
    let pane = Tmux::start(140, 40, &shell);
    drive(&pane, dir, PLAYED_HERE);
    drop(pane);
    let pane = Tmux::start(140, 40, &shell);
    lose(&pane, dir, d);
}

/// sshd on loopback, with its own host key, config and authorized key.
struct Sshd {
    _proc: Proc,
    /// /run/sshd when we made it (sshd insists on its privilege separation directory).
    made_privsep: bool,
}

impl Drop for Sshd {
    fn drop(&mut self) {
        if self.made_privsep {
            let _ = fs::remove_dir("/run/sshd");
        }
    }
}

fn keygen(path: &Path) {
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .status()
        .unwrap();
    assert!(st.success());
}

/// Starts sshd on a free loopback port and writes the client's config to `dir/ssh_config`.
fn sshd(dir: &Path) -> Sshd {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    keygen(&dir.join("host_key"));
    keygen(&dir.join("user_key"));
    fs::copy(dir.join("user_key.pub"), dir.join("authorized_keys")).unwrap();
    let d = dir.display();
    fs::write(
        dir.join("sshd_config"),
        format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\n\
             AuthorizedKeysFile {d}/authorized_keys\nPermitRootLogin prohibit-password\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n\
             StrictModes no\nPidFile none\n"
        ),
    )
    .unwrap();
    fs::write(
        dir.join("ssh_config"),
        format!(
            "Host *\n  Port {port}\n  IdentityFile {d}/user_key\n  IdentitiesOnly yes\n  \
             StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n  LogLevel ERROR\n"
        ),
    )
    .unwrap();
    let made_privsep = !Path::new("/run/sshd").exists();
    if made_privsep {
        fs::create_dir_all("/run/sshd").unwrap();
    }
    let log = fs::File::create(dir.join("sshd.log")).unwrap();
    let child = Command::new("/usr/sbin/sshd")
        .args(["-D", "-e", "-f"])
        .arg(dir.join("sshd_config"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("sshd (openssh-server, installed by tests/run.sh)");
    let server = Sshd {
        _proc: Proc(child),
        made_privsep,
    };
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        let log = fs::read_to_string(dir.join("sshd.log")).unwrap_or_default();
        if log.contains("Server listening") {
            break;
        }
        assert!(Instant::now() < end, "sshd did not start: {log}");
        sleep(Duration::from_millis(100));
    }
    server
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

#[test]
fn attach_over_ssh_through_a_bridge() {
    if !prereq::have_tools(&["tmux", "ssh", "ssh-keygen", "/usr/sbin/sshd"]) {
        return;
    }
    if !is_root() {
        // sshd needs root to log a user in; tests/run.sh runs as root.
        prereq::skip("sshd needs root");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let ssh_dir = dir.join("ssh");
    fs::create_dir_all(&ssh_dir).unwrap();
    let d = daemon(dir);
    let server = sshd(&ssh_dir);
    let shell = format!(
        "{bin} attach --ssh root@127.0.0.1 --ssh-config {cfg} --remote-ttui {bin} \
         --state-dir {state}; echo ATTACH-EXIT=$?; sleep 60",
        bin = quote(Path::new(BIN)),
        cfg = quote(&ssh_dir.join("ssh_config")),
        state = quote(&dir.join("state")),
    );
    let pane = Tmux::start(140, 40, &shell);
    drive(&pane, dir, "on your side: ssh -N -L");
    drop(pane);
    let pane = Tmux::start(140, 40, &shell);
    lose(&pane, dir, d);
    drop(pane);
    drop(server);
}

/// The state directory given is the far side's: an ssh command names it quoted, so a
/// path with spaces or quotes arrives whole.
#[test]
fn the_remote_command_is_quoted() {
    let target = ttui::internals::cli::attach::ssh_command(
        "me@host",
        "/opt/my ttui",
        Some(&PathBuf::from("/data/it's here")),
        None,
    );
    let ttui::internals::cli::attach::Target::Command { program, args } = target else {
        panic!("not a command");
    };
    assert_eq!(program, "ssh");
    assert_eq!(
        args.last().unwrap(),
        r"'/opt/my ttui' bridge --state-dir '/data/it'\''s here'"
    );
    assert!(args.contains(&"BatchMode=yes".to_string()));
    let host = args.iter().position(|a| a == "me@host").unwrap();
    assert_eq!(args[host - 1], "--");
}
