//! `ttui play ID [FILE]`: the stream's URL from the session (as `ttui stream` prints it),
//! then a media player started on it. Which player: `$TTUI_PLAYER`, else the config file's
//! `player`, else the first of mpv, vlc, xdg-open on the PATH. A player setting is a command
//! line split at spaces (`mpv --fs`); the URL is its last argument. The player is started and
//! left running: `ttui play` returns once it started.

use std::path::{Path, PathBuf};

use crate::cli::verbs::VerbResult;
use crate::control::proto::{ControlError, ErrorKind, Request, Response};
use crate::control::Client;

/// Players tried in order when none is set.
const PLAYERS: [&str; 3] = ["mpv", "vlc", "xdg-open"];

pub(crate) async fn play(socket: &Path, id: String, file: Option<usize>) -> VerbResult {
    let mut client = Client::connect(socket).await?;
    let url = match client.request(&Request::StreamUrl { id, file }).await? {
        Response::StreamUrl(s) => s.url,
        Response::Error(e) => return Err(e),
        _ => {
            return Err(ControlError::new(
                ErrorKind::Internal,
                "unexpected answer from the session",
            ))
        }
    };
    let configured = crate::config::load(None, false)
        .ok()
        .and_then(|l| l.config.player);
    let chosen = std::env::var("TTUI_PLAYER")
        .ok()
        .filter(|p| !p.trim().is_empty())
        .or(configured);
    let command = player_command(chosen.as_deref(), &url, on_path).ok_or_else(|| {
        ControlError::new(
            ErrorKind::BadArgument,
            format!(
                "no media player found (set TTUI_PLAYER or player = \"mpv\" in the config); \
                 the stream is {url}"
            ),
        )
    })?;
    let (program, args) = command
        .split_first()
        .ok_or_else(|| ControlError::new(ErrorKind::BadArgument, "the player setting is empty"))?;
    match std::process::Command::new(program).args(args).spawn() {
        Ok(_) => {
            println!("playing {url} with {program}");
            Ok(0)
        }
        Err(e) => Err(ControlError::new(
            ErrorKind::Internal,
            format!("starting {program}: {e}"),
        )),
    }
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
}
