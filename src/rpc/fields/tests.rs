use super::*;
use crate::engine::api::{QueueState, TorrentId};
use std::time::Duration;

/// The field's value as a `Value` (the table's own `value` gives an `Out`).
fn value(field: &str, v: &View) -> Option<Value> {
    super::value(field, v).map(Out::into_value)
}

/// Every key of rpc-spec 3.3 that this server answers, plus `ttui-explain`.
const ALL: &[&str] = &[
    "activityDate",
    "addedDate",
    "availability",
    "bandwidthPriority",
    "comment",
    "corruptEver",
    "creator",
    "dateCreated",
    "desiredAvailable",
    "doneDate",
    "downloadDir",
    "downloadedEver",
    "downloadLimit",
    "downloadLimited",
    "editDate",
    "error",
    "errorString",
    "eta",
    "etaIdle",
    "file-count",
    "fileCount",
    "files",
    "fileStats",
    "group",
    "hashString",
    "haveUnchecked",
    "haveValid",
    "honorsSessionLimits",
    "id",
    "isFinished",
    "isPrivate",
    "isStalled",
    "labels",
    "leftUntilDone",
    "magnetLink",
    "manualAnnounceTime",
    "maxConnectedPeers",
    "metadataPercentComplete",
    "name",
    "peer-limit",
    "peers",
    "peersConnected",
    "peersFrom",
    "peersGettingFromUs",
    "peersSendingToUs",
    "percentComplete",
    "percentDone",
    "pieces",
    "pieceCount",
    "pieceSize",
    "priorities",
    "primary-mime-type",
    "queuePosition",
    "rateDownload",
    "rateUpload",
    "recheckProgress",
    "secondsDownloading",
    "secondsSeeding",
    "seedIdleLimit",
    "seedIdleMode",
    "seedRatioLimit",
    "seedRatioMode",
    "sizeWhenDone",
    "startDate",
    "status",
    "trackers",
    "trackerList",
    "trackerStats",
    "totalSize",
    "torrentFile",
    "uploadedEver",
    "uploadLimit",
    "uploadLimited",
    "uploadRatio",
    "wanted",
    "webseeds",
    "webseedsSendingToUs",
    "ttui-explain",
];

fn line(state: TorrentState, why: Option<&str>) -> TorrentLine {
    TorrentLine {
        state,
        why: why.map(str::to_string),
        total_bytes: 1000,
        wanted_bytes: 800,
        verified_bytes: 200,
        ..TorrentLine::placeholder(TorrentId(4))
    }
}

fn view<'a>(t: &'a TorrentLine, s: &'a Settings, own: Option<&'a TorrentSettings>) -> View<'a> {
    View {
        line: t,
        session: s,
        own,
        file_count: None,
        snap: None,
        now: 10_000,
        max_peers: 50,
        explain: None,
    }
}

#[test]
fn states_map_onto_transmission_status_numbers() {
    use TorrentState::*;
    let c = TorrentState::checking(1, 4);
    let waiting = |seed, rank, slots| Some(QueueState::Waiting { seed, rank, slots });
    let cases = [
        (Paused, None, 0),
        (Error("disk".into()), None, 0),
        (
            c.clone(),
            Some(QueueState::CheckWaiting {
                rank: 3,
                at_once: 2,
            }),
            1,
        ),
        (c, None, 2),
        (Downloading, waiting(false, 2, 5), 3),
        (Downloading, None, 4),
        (Seeding, waiting(true, 1, 2), 5),
        (Seeding, None, 6),
        (Complete, None, 6),
    ];
    for (state, queue, want) in cases {
        // The words are not read: only the queue's data decides.
        let t = TorrentLine {
            queue,
            ..line(state.clone(), Some("anything at all"))
        };
        assert_eq!(status_of(&t), want, "{state:?} {queue:?}");
    }
}

#[test]
fn progress_eta_and_goals_follow_the_spec() {
    let s = Settings {
        goals: crate::engine::api::Goals {
            ratio: Some(1.5),
            ..Default::default()
        },
        ..Settings::default()
    };
    let mut t = line(TorrentState::Downloading, None);
    let v = view(&t, &s, None);
    assert_eq!(value("leftUntilDone", &v), Some(json!(600)));
    assert_eq!(value("percentDone", &v), Some(json!(0.25)));
    assert_eq!(value("percentComplete", &v), Some(json!(0.2)));
    assert_eq!(value("eta", &v), Some(json!(-2)));
    assert_eq!(value("seedRatioMode", &v), Some(json!(0)));
    assert_eq!(value("seedRatioLimit", &v), Some(json!(1.5)));
    assert_eq!(value("nonsense", &v), None);
    t.down_rate = 100.0;
    assert_eq!(value("eta", &view(&t, &s, None)), Some(json!(6)));
    let own = TorrentSettings {
        id: TorrentId(4),
        ratio: Set::Off,
        seed_time: Set::Default,
        idle: Set::To(Duration::from_secs(600)),
        down: 5000,
        up: 0,
        seeded: Duration::from_secs(77),
        forced: false,
    };
    let seed = TorrentLine {
        verified_bytes: 800,
        up_rate: 10.0,
        ..line(TorrentState::Seeding, None)
    };
    let v = view(&seed, &s, Some(&own));
    assert_eq!(
        value("eta", &v),
        Some(json!(-1)),
        "no ratio goal: not available"
    );
    assert_eq!(value("seedRatioMode", &v), Some(json!(2)));
    assert_eq!(value("seedIdleMode", &v), Some(json!(1)));
    assert_eq!(value("seedIdleLimit", &v), Some(json!(10)));
    assert_eq!(value("downloadLimit", &v), Some(json!(5)));
    assert_eq!(value("downloadLimited", &v), Some(json!(true)));
    assert_eq!(value("uploadLimited", &v), Some(json!(false)));
    assert_eq!(value("secondsSeeding", &v), Some(json!(77)));
    assert_eq!(value("isFinished", &v), Some(json!(false)));
    let done = TorrentLine {
        verified_bytes: 800,
        goal_reached: true,
        ..line(
            TorrentState::Paused,
            Some("paused: ratio 1.50 reached (goal 1.5)"),
        )
    };
    assert_eq!(
        value("isFinished", &view(&done, &s, None)),
        Some(json!(true))
    );
    assert_eq!(
        value("errorString", &view(&done, &s, None)),
        Some(json!(""))
    );
}

#[test]
fn every_listed_field_has_a_value_and_trackers_read_well() {
    let s = Settings::default();
    let t = line(TorrentState::Seeding, None);
    for f in ALL {
        assert!(value(f, &view(&t, &s, None)).is_some(), "{f}");
    }
    assert_eq!(
        sitename("http://tracker.example.org:6969/announce"),
        "example"
    );
    assert_eq!(sitename("udp://127.0.0.1:6969"), "127.0.0.1");
    assert_eq!(
        scrape_of("http://t.example/announce?x=1"),
        "http://t.example/scrape?x=1"
    );
    assert_eq!(crate::protocol::magnet::percent("a b/é"), "a%20b%2F%C3%A9");
}

#[test]
fn download_dir_is_the_final_directory_while_in_the_incomplete_one() {
    let s = Settings::default();
    let mut t = line(TorrentState::Downloading, None);
    t.save_path = "/data/incomplete".into();
    assert_eq!(
        value("downloadDir", &view(&t, &s, None)),
        Some(json!("/data/incomplete"))
    );
    t.final_dir = Some("/data/tv".into());
    assert_eq!(
        value("downloadDir", &view(&t, &s, None)),
        Some(json!("/data/tv"))
    );
}
