//! A tmux server on its own socket, holding one pane of a fixed size, for driving the real
//! binary as a person at a terminal would: type keys, read the screen.
//!
//! The server is killed through its own socket (`tmux -L NAME kill-server`) when the handle
//! drops, so a failing test never leaves a pane behind and never touches anyone else's tmux.

// Each test binary uses a different subset.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread::sleep;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const POLL: Duration = Duration::from_millis(100);

static NEXT: AtomicU32 = AtomicU32::new(0);

pub struct Tmux {
    socket: String,
    target: String,
    /// The server's socket file and pid, to clean up after it: tmux leaves the file behind.
    socket_path: Option<PathBuf>,
    server_pid: Option<u32>,
}

impl Tmux {
    /// Starts a detached session of `width`×`height` running `shell_command` (given to
    /// `sh -c` by tmux). No config file is read (`-f /dev/null`).
    pub fn start(width: u16, height: u16, shell_command: &str) -> Tmux {
        // The pid alone is not unique: inside tests/run.sh's pid namespace every test binary
        // is pid 1, while /tmp/tmux-UID is shared with the host.
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let socket = format!(
            "ttui-e2e-{}-{nanos}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let mut tmux = Tmux {
            socket,
            target: "e2e".into(),
            socket_path: None,
            server_pid: None,
        };
        let (w, h) = (width.to_string(), height.to_string());
        tmux.run(&[
            "new-session",
            "-d",
            "-s",
            "e2e",
            "-x",
            &w,
            "-y",
            &h,
            shell_command,
        ]);
        tmux.socket_path = Some(PathBuf::from(tmux.format("#{socket_path}")));
        tmux.server_pid = tmux.format("#{pid}").parse().ok();
        // Keep the pane (and its last screen) if the shell dies, so a failure can show it.
        tmux.run(&["set-option", "-t", "e2e", "remain-on-exit", "on"]);
        tmux
    }

    fn command(&self) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.socket, "-f", "/dev/null"]);
        c
    }

    fn try_run(&self, args: &[&str]) -> std::io::Result<Output> {
        self.command().args(args).output()
    }

    /// Runs a tmux command; panics (with its stderr) if it fails.
    fn run(&self, args: &[&str]) -> String {
        match self.try_run(args) {
            Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).into_owned(),
            Ok(o) => panic!(
                "tmux {args:?} failed ({}): {}",
                o.status,
                String::from_utf8_lossy(&o.stderr)
            ),
            Err(e) => panic!("cannot run tmux {args:?}: {e}"),
        }
    }

    /// The visible screen as plain text, one line per row.
    pub fn capture(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", &self.target])
    }

    /// The visible screen with SGR escape sequences (colours, bold, reverse), see [`Styled`].
    pub fn capture_styled(&self) -> Styled {
        Styled::parse(&self.run(&["capture-pane", "-p", "-e", "-t", &self.target]))
    }

    /// Types `text` literally (no key-name lookup).
    pub fn type_text(&self, text: &str) {
        self.run(&["send-keys", "-t", &self.target, "-l", text]);
    }

    /// Sends tmux key names ("Enter", "j", "Tab", "C-c").
    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", &self.target];
        args.extend_from_slice(keys);
        self.run(&args);
    }

    /// Pastes `text` as a terminal does: bracketed (`ESC [200~ … ESC [201~`) when the
    /// program asked for it, else as typed keys (a newline then is Enter).
    pub fn paste(&self, text: &str) {
        self.run(&["set-buffer", "-b", "e2e-paste", "--", text]);
        self.run(&[
            "paste-buffer",
            "-p",
            "-d",
            "-b",
            "e2e-paste",
            "-t",
            &self.target,
        ]);
    }

    pub fn type_line(&self, text: &str) {
        self.type_text(text);
        self.keys(&["Enter"]);
    }

    fn format(&self, fmt: &str) -> String {
        self.run(&["display-message", "-p", "-t", &self.target, fmt])
            .trim()
            .to_string()
    }

    /// Whether the program in the pane has switched to the alternate screen.
    pub fn alternate_on(&self) -> bool {
        self.format("#{alternate_on}") == "1"
    }

    pub fn pane_dead(&self) -> bool {
        self.format("#{pane_dead}") == "1"
    }

    /// Polls the plain screen until `pred` holds and returns that screen; panics after
    /// `timeout` with the last screen and whatever `context` adds (log tails).
    pub fn wait_for(
        &self,
        what: &str,
        timeout: Duration,
        context: impl Fn() -> String,
        mut pred: impl FnMut(&str) -> bool,
    ) -> String {
        let start = Instant::now();
        loop {
            let screen = self.capture();
            if pred(&screen) {
                return screen;
            }
            if start.elapsed() > timeout {
                panic!(
                    "timed out after {timeout:?} waiting for {what}\n\
                     ---- screen ----\n{screen}\n---- end of screen ----\n{}",
                    context()
                );
            }
            sleep(POLL);
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        // Only this socket's server: the pane's processes get SIGHUP with it.
        let _ = self.try_run(&["kill-server"]);
        // Wait (bounded) for the server to go, then remove the socket file it leaves.
        if let Some(pid) = self.server_pid {
            let start = Instant::now();
            while process_alive(pid) && start.elapsed() < Duration::from_secs(3) {
                sleep(Duration::from_millis(20));
            }
        }
        if let Some(path) = &self.socket_path {
            if path.file_name().is_some_and(|n| n == self.socket.as_str()) {
                let _ = std::fs::remove_file(path);
            }
        }
    }
}

/// Running or sleeping, not gone or a zombie (the daemonised server's parent may be a
/// namespace's pid 1 that never reaps it).
fn process_alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(')')
            .and_then(|(_, rest)| rest.trim_start().chars().next())
            .is_some_and(|state| state != 'Z' && state != 'X')
    })
}

/// What the terminal shows for one cell, as far as these tests care.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pen {
    /// SGR foreground: 30..=37, 90..=97, or 256 + n for `38;5;n`; None = default.
    pub fg: Option<u16>,
    pub bold: bool,
    pub reverse: bool,
}

impl Pen {
    /// True if the foreground is the named ANSI colour `n` (0..=7: black, red, green,
    /// yellow, blue, magenta, cyan, white) in any of its encodings.
    pub fn fg_is(&self, n: u16) -> bool {
        matches!(self.fg, Some(c) if c == 30 + n || c == 90 + n || c == 256 + n || c == 256 + 8 + n)
    }
}

/// A `capture-pane -e` screen decoded into characters and the pen each was drawn with.
/// tmux emits only the changes between cells, across line ends, so the whole capture is
/// replayed from the top.
pub struct Styled {
    pub lines: Vec<Vec<(char, Pen)>>,
}

impl Styled {
    pub fn parse(raw: &str) -> Styled {
        let mut lines = vec![Vec::new()];
        let mut pen = Pen::default();
        let mut chars = raw.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\x1b' if chars.peek() == Some(&'[') => {
                    chars.next();
                    let mut body = String::new();
                    for d in chars.by_ref() {
                        if d.is_ascii_alphabetic() {
                            if d == 'm' {
                                apply_sgr(&mut pen, &body);
                            }
                            break;
                        }
                        body.push(d);
                    }
                }
                '\n' => lines.push(Vec::new()),
                c => {
                    if let Some(line) = lines.last_mut() {
                        line.push((c, pen));
                    }
                }
            }
        }
        Styled { lines }
    }

    /// The pen of the first character of the first occurrence of `needle` on screen row
    /// `row` (0 = top).
    pub fn pen_in_row(&self, row: usize, needle: &str) -> Option<Pen> {
        let line = self.lines.get(row)?;
        let text: String = line.iter().map(|(c, _)| *c).collect();
        let byte = text.find(needle)?;
        line.get(text[..byte].chars().count()).map(|(_, p)| *p)
    }

    /// The pen of the first character of the first occurrence of `needle` on a line that
    /// also contains `on_line` (use "" for any line).
    pub fn pen_at(&self, on_line: &str, needle: &str) -> Option<Pen> {
        self.lines.iter().find_map(|line| {
            let text: String = line.iter().map(|(c, _)| *c).collect();
            if !text.contains(on_line) {
                return None;
            }
            let byte = text.find(needle)?;
            let idx = text[..byte].chars().count();
            line.get(idx).map(|(_, p)| *p)
        })
    }
}

fn apply_sgr(pen: &mut Pen, body: &str) {
    if body.is_empty() {
        *pen = Pen::default();
        return;
    }
    let params: Vec<u16> = body
        .split([';', ':'])
        .map(|p| p.parse().unwrap_or(0))
        .collect();
    let mut i = 0;
    while let Some(&p) = params.get(i) {
        match p {
            0 => *pen = Pen::default(),
            1 => pen.bold = true,
            22 => pen.bold = false,
            7 => pen.reverse = true,
            27 => pen.reverse = false,
            30..=37 | 90..=97 => pen.fg = Some(p),
            39 => pen.fg = None,
            38 | 48 => {
                // Extended colours: 5;n or 2;r;g;b. Only 256-colour foregrounds are kept.
                match params.get(i + 1) {
                    Some(5) => {
                        if p == 38 {
                            pen.fg = params.get(i + 2).map(|n| 256 + n);
                        }
                        i += 2;
                    }
                    Some(2) => {
                        if p == 38 {
                            pen.fg = Some(u16::MAX);
                        }
                        i += 4;
                    }
                    _ => {}
                }
            }
            _ => {}
        }
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sgr_state_carries_across_lines_and_resets() {
        let s = Styled::parse("a\x1b[1m\x1b[33mB\nC\x1b[0mD \x1b[7;38;5;2mE\x1b[39mF");
        assert_eq!(s.pen_at("", "a"), Some(Pen::default()));
        let yellow_bold = s.pen_at("", "B").unwrap_or_default();
        assert!(yellow_bold.bold && yellow_bold.fg_is(3));
        assert_eq!(s.pen_at("C", "C"), Some(yellow_bold));
        assert_eq!(s.pen_at("", "D"), Some(Pen::default()));
        let e = s.pen_at("", "E").unwrap_or_default();
        assert!(e.reverse && e.fg_is(2) && !e.bold);
        let f = s.pen_at("", "F").unwrap_or_default();
        assert!(f.reverse && f.fg.is_none());
    }
}
