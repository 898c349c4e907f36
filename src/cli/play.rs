//! `ttui play ID [FILE]`: the stream's URL from the session (as `ttui stream` prints it),
//! then a media player started on it. Which player: `$TTUI_PLAYER`, else the config file's
//! `player`, else the first of mpv, vlc, xdg-open on the PATH. A player setting is a command
//! line split at spaces (`mpv --fs`); the URL is its last argument. The player is started and
//! left running: `ttui play` returns once it started. `P` on the session screen's Files tab
//! does the same through [`for_screen`].

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite};

use crate::cli::target::Target;
use crate::control::proto::{ControlError, ErrorKind, Request, Response};
use crate::control::Client;
use crate::engine::api::TorrentId;

/// Players tried in order when none is set.
const PLAYERS: [&str; 3] = ["mpv", "vlc", "xdg-open"];

pub(crate) async fn play(
    socket: &Path,
    id: String,
    file: Option<usize>,
) -> Result<i32, ControlError> {
    let mut client = Client::connect(socket).await?;
    let url = stream_url(&mut client, id, file).await?;
    let command = command_for(&url)?;
    let program = start(&command, false)?;
    println!("playing {url} with {program}");
    Ok(0)
}

/// The screen's player (`P` on the Files tab) for the session `target` reaches. With
/// `ssh_host`, the session runs on that machine: a player started there would play to no
/// one, so the answer is the command to run on the user's side instead.
pub(crate) fn for_screen(target: Target, ssh_host: Option<String>) -> crate::ui::Player {
    Arc::new(move |id: TorrentId, file: usize| {
        let (target, host) = (target.clone(), ssh_host.clone());
        Box::pin(async move {
            screen_play(&target, host.as_deref(), id, file)
                .await
                .unwrap_or_else(|e| format!("play: {}", e.message))
        })
    })
}

async fn screen_play(
    target: &Target,
    ssh_host: Option<&str>,
    id: TorrentId,
    file: usize,
) -> Result<String, ControlError> {
    let mut client = target.open(true).await?;
    let url = stream_url(&mut client, id.0.to_string(), Some(file)).await?;
    if let Some(host) = ssh_host {
        return Ok(remote_command(host, &url));
    }
    let program = start(&command_for(&url)?, true)?;
    Ok(format!("playing with {program}: {url}"))
}

/// The stream's URL of a torrent's file (the largest media file when `file` is None), as
/// the session's stream server serves it.
async fn stream_url<S: AsyncRead + AsyncWrite + Unpin>(
    client: &mut Client<S>,
    id: String,
    file: Option<usize>,
) -> Result<String, ControlError> {
    match client.request(&Request::StreamUrl { id, file }).await? {
        Response::StreamUrl(s) => Ok(s.url),
        Response::Error(e) => Err(e),
        _ => Err(ControlError::new(
            ErrorKind::Internal,
            "unexpected answer from the session",
        )),
    }
}

/// The player for `url`: `$TTUI_PLAYER`, else the config file's `player`, else the first of
/// [`PLAYERS`] on the PATH.
fn command_for(url: &str) -> Result<Vec<String>, ControlError> {
    let configured = crate::config::load(None, false)
        .ok()
        .and_then(|l| l.config.player);
    let chosen = std::env::var("TTUI_PLAYER")
        .ok()
        .filter(|p| !p.trim().is_empty())
        .or(configured);
    player_command(chosen.as_deref(), url, on_path).ok_or_else(|| {
        ControlError::new(
            ErrorKind::BadArgument,
            format!(
                "no media player found (set TTUI_PLAYER or player = \"mpv\" in the config); \
                 the stream is {url}"
            ),
        )
    })
}

/// Starts the player and leaves it running; its name. `quiet`: it writes nowhere (the
/// screen is up), and a thread reaps it when it ends.
fn start(command: &[String], quiet: bool) -> Result<String, ControlError> {
    let (program, args) = command
        .split_first()
        .ok_or_else(|| ControlError::new(ErrorKind::BadArgument, "the player setting is empty"))?;
    let mut cmd = std::process::Command::new(program);
    cmd.args(args);
    if quiet {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| ControlError::new(ErrorKind::Internal, format!("starting {program}: {e}")))?;
    if quiet {
        std::thread::spawn(move || child.wait());
    }
    Ok(program.clone())
}

/// What to run on the user's side to play `url` of a session on `host`: a tunnel to the
/// stream server's port on that machine, and a player on the tunnel's end.
pub(crate) fn remote_command(host: &str, url: &str) -> String {
    let rest = url.strip_prefix("http://").unwrap_or(url);
    let (at, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let port = at.rsplit_once(':').map_or("80", |(_, p)| p);
    let host = crate::cli::target::shell_quote(host);
    format!("on your side: ssh -N -L {port}:{at} {host} & mpv 'http://127.0.0.1:{port}{path}'")
}

/// The player's command line with the URL last: the chosen one, else the first of
/// [`PLAYERS`] that `found` finds; None when there is none.
pub(crate) fn player_command(
    chosen: Option<&str>,
    url: &str,
    found: impl Fn(&str) -> bool,
) -> Option<Vec<String>> {
    let mut words: Vec<String> = match chosen {
        Some(p) => p.split_whitespace().map(str::to_string).collect(),
        None => vec![PLAYERS.iter().find(|p| found(p))?.to_string()],
    };
    if words.is_empty() {
        return None;
    }
    words.push(url.to_string());
    Some(words)
}

/// True when `program` is an executable file in a directory of `$PATH`.
fn on_path(program: &str) -> bool {
    let Some(path) = std::env::var_os("PATH") else {
        return false;
    };
    std::env::split_paths(&path).any(|dir: PathBuf| {
        let candidate = dir.join(program);
        std::fs::metadata(&candidate).is_ok_and(|m| {
            use std::os::unix::fs::PermissionsExt;
            m.is_file() && m.permissions().mode() & 0o111 != 0
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_setting_first_then_the_first_player_found() {
        let url = "http://127.0.0.1:9092/stream/x/0";
        assert_eq!(
            player_command(Some("mpv --fs"), url, |_| false),
            Some(vec!["mpv".into(), "--fs".into(), url.into()])
        );
        assert_eq!(
            player_command(None, url, |p| p == "vlc" || p == "xdg-open"),
            Some(vec!["vlc".into(), url.into()])
        );
        assert_eq!(player_command(None, url, |_| false), None);
        assert_eq!(player_command(Some("  "), url, |_| true), None);
    }

    #[test]
    fn over_ssh_the_answer_is_a_tunnel_and_a_player_on_its_end() {
        let url = "http://127.0.0.1:9092/stream/ab/0";
        assert_eq!(
            remote_command("media box", url),
            "on your side: ssh -N -L 9092:127.0.0.1:9092 'media box' & \
             mpv 'http://127.0.0.1:9092/stream/ab/0'"
        );
    }
}
