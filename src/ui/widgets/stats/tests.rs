use super::*;
use crate::engine::api::{DayMoved, Stats, STATS_DAYS};
use crate::ui::action::{Action, Effect, Reply, Request};
use crate::ui::app::App;
use crate::ui::widgets::test_util::text;
use crate::ui::Theme;

fn m(up: u64, down: u64) -> Moved {
    Moved {
        uploaded: up,
        downloaded: down,
    }
}

fn row(key: &str, all: Moved, today_up: u64) -> StatsRow {
    let days = (0..STATS_DAYS)
        .map(|i| DayMoved {
            day: format!("2026-11-{:02}", i + 1),
            moved: if i + 1 == STATS_DAYS {
                m(today_up, 0)
            } else {
                m(0, 0)
            },
        })
        .collect();
    StatsRow {
        key: key.into(),
        info_hash: None,
        torrents: 3,
        shared: 1,
        today: m(today_up, 0),
        week: m(today_up, 0),
        month: all,
        all,
        ratio: all.ratio(),
        days,
    }
}

fn stats() -> Stats {
    Stats {
        by: StatsBy::Tracker,
        today: "2026-11-30".into(),
        rows: vec![
            row("tracker.example", m(5 << 30, 1 << 30), 300 << 20),
            row("other.example", m(1 << 20, 0), 0),
        ],
    }
}

fn drawn(app: &App) -> String {
    let area = Rect::new(0, 0, 120, 30);
    let mut buf = Buffer::empty(area);
    render(area, &mut buf, app);
    text(&buf)
}

fn session_app() -> App {
    App::for_session("/tmp/log".into(), Theme::default())
}

#[test]
fn the_key_opens_it_asks_the_session_and_draws_the_answer() {
    let mut app = session_app();
    let asked = app.handle(Action::ToggleStats);
    assert_eq!(
        asked,
        Some(Effect::Session(vec![Request::Stats {
            by: StatsBy::Tracker
        }]))
    );
    assert!(drawn(&app).contains("asking the session"));
    app.on_reply(Reply::Stats(Ok(stats())));
    let shown = drawn(&app);
    assert!(shown.contains("statistics by tracker"), "{shown}");
    assert!(shown.contains("tracker.example"), "{shown}");
    assert!(shown.contains("5.0G") && shown.contains("5.00"), "{shown}");
    assert!(shown.contains("of tracker tracker.example"), "{shown}");
    assert!(shown.contains("several trackers count in each"), "{shown}");
    assert!(
        shown.contains("ratio") && shown.contains("tallest day 300.0M"),
        "{shown}"
    );
    // Today's bar is drawn, the days before are empty.
    assert!(shown.contains('█'), "{shown}");
    assert!(shown.contains("30"), "{shown}");
}

#[test]
fn the_selection_picks_whose_days_the_bars_show_and_b_asks_by_label() {
    let mut app = session_app();
    let _ = app.handle(Action::ToggleStats);
    app.on_reply(Reply::Stats(Ok(stats())));
    assert_eq!(app.handle(Action::Down), None);
    assert!(drawn(&app).contains("of tracker other.example"));
    let asked = app.handle(Action::CycleStatsBy);
    assert_eq!(
        asked,
        Some(Effect::Session(vec![Request::Stats { by: StatsBy::Label }]))
    );
    // A late answer by tracker is not shown as rows by label.
    app.on_reply(Reply::Stats(Ok(stats())));
    assert!(drawn(&app).contains("asking the session"));
    assert_eq!(
        app.stats_refresh(),
        Some(Request::Stats { by: StatsBy::Label })
    );
    assert_eq!(app.handle(Action::Back), None);
    assert!(app.stats.is_none());
    assert_eq!(app.stats_refresh(), None);
}

#[test]
fn nothing_counted_yet_says_so() {
    let mut app = session_app();
    let _ = app.handle(Action::ToggleStats);
    let mut s = stats();
    s.rows.clear();
    app.on_reply(Reply::Stats(Ok(s)));
    assert!(drawn(&app).contains("nothing counted yet by tracker"));
}
