//! What `ttui limit` prints (the session's end is `control::verbs::limit`).

use crate::engine::api::{show_rate, LimitsNow};

/// What `ttui limit` prints without `--json`.
pub(crate) fn text(now: &LimitsNow) -> String {
    let mut out = format!(
        "session: down {}, up {}{}\nturtle mode: {} (down {}, up {})\n",
        show_rate(now.down),
        show_rate(now.up),
        if now.turtle {
            " (not in force: turtle mode is on)"
        } else {
            ""
        },
        if now.turtle { "on" } else { "off" },
        show_rate(now.alt_down),
        show_rate(now.alt_up),
    );
    for t in &now.torrents {
        out.push_str(&format!(
            "{:>4}  down {}, up {}  {}\n",
            t.id,
            show_rate(t.down),
            show_rate(t.up),
            crate::fmt::outside(&t.name, 60)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::api::TorrentLimits;

    #[test]
    fn the_text_names_every_limit() {
        let now = LimitsNow {
            down: 2 << 20,
            up: 0,
            alt_down: 100 << 10,
            alt_up: 0,
            turtle: true,
            torrents: vec![TorrentLimits {
                id: 3,
                name: "ubuntu\x1b[2J.iso".into(),
                down: 512 << 10,
                up: 0,
            }],
        };
        let t = text(&now);
        assert!(
            t.contains("session: down 2 MiB/s, up unlimited (not in force"),
            "{t}"
        );
        assert!(
            t.contains("turtle mode: on (down 100 KiB/s, up unlimited)"),
            "{t}"
        );
        assert!(
            t.contains("   3  down 512 KiB/s, up unlimited  ubuntu"),
            "{t}"
        );
        assert!(!t.contains('\x1b'), "{t}");
    }
}
