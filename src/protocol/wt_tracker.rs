//! The WebTorrent tracker protocol: JSON text messages over a WebSocket (`ws://`, `wss://`),
//! as the `bittorrent-tracker` package's server and client speak it (the protocol has no BEP;
//! that package is its reference). A browser cannot dial TCP, so an announce carries WebRTC
//! offers instead of asking for addresses: the tracker relays each offer to a peer of the
//! swarm, and relays that peer's answer back, matched by `offer_id`.
//!
//! Pure: messages in, messages out. Hashes, peer ids and offer ids are 20 raw bytes written
//! as a JSON string of 20 characters, one per byte (JavaScript's "binary" strings: U+0000 to
//! U+00FF); a longer or shorter string, or a character past U+00FF, is refused. Everything a
//! tracker sends is bounded before it is kept: the message, each SDP, the scrape's files.

use serde_json::{json, Map, Value};

/// The longest message taken from a tracker; a longer one is refused unread (an announce
/// answer is a few hundred bytes, a relayed offer a few KiB).
pub const MAX_MESSAGE: usize = 64 * 1024;
/// The longest session description kept from an offer or an answer.
pub const MAX_SDP: usize = 16 * 1024;
/// Offers one announce carries at most (the reference client sends at most 5).
pub const MAX_OFFERS: usize = 10;
/// Torrents a scrape answer may name; the rest are dropped.
pub const MAX_SCRAPE_FILES: usize = 100;

/// 20 raw bytes: an info hash, a peer id or an offer id.
pub type Id = [u8; 20];

/// Why a tracker's message was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WtError {
    TooLong(usize),
    NotJson(String),
    NotAnObject,
    /// `action` is missing or not one we know.
    Action(String),
    /// A field has the wrong type, length or characters.
    Field(&'static str),
}

impl std::fmt::Display for WtError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WtError::TooLong(n) => write!(f, "a {n}-byte message (at most {MAX_MESSAGE})"),
            WtError::NotJson(e) => write!(f, "not JSON: {e}"),
            WtError::NotAnObject => f.write_str("not a JSON object"),
            WtError::Action(a) => write!(f, "unknown action {a:?}"),
            WtError::Field(name) => write!(f, "bad `{name}`"),
        }
    }
}

impl std::error::Error for WtError {}

/// An announce's event, as in HTTP trackers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    Started,
    Stopped,
    Completed,
}

impl Event {
    fn word(self) -> &'static str {
        match self {
            Event::Started => "started",
            Event::Stopped => "stopped",
            Event::Completed => "completed",
        }
    }
}

/// What we send to a tracker.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// Our state, with the offers the tracker may relay to peers of the swarm (none with
    /// `stopped` or `completed`, as the reference client does).
    Announce {
        info_hash: Id,
        peer_id: Id,
        uploaded: u64,
        downloaded: u64,
        left: u64,
        event: Option<Event>,
        offers: Vec<(Id, String)>,
    },
    /// Our answer to an offer the tracker relayed from `to_peer_id`.
    Answer {
        info_hash: Id,
        peer_id: Id,
        to_peer_id: Id,
        offer_id: Id,
        sdp: String,
    },
    Scrape {
        info_hashes: Vec<Id>,
    },
}

impl Request {
    /// The message's text.
    pub fn encode(&self) -> String {
        let v = match self {
            Request::Announce {
                info_hash,
                peer_id,
                uploaded,
                downloaded,
                left,
                event,
                offers,
            } => {
                let mut m = Map::new();
                m.insert("action".into(), "announce".into());
                m.insert("info_hash".into(), binary(info_hash).into());
                m.insert("peer_id".into(), binary(peer_id).into());
                m.insert("uploaded".into(), (*uploaded).into());
                m.insert("downloaded".into(), (*downloaded).into());
                m.insert("left".into(), (*left).into());
                if let Some(e) = event {
                    m.insert("event".into(), e.word().into());
                }
                let sends_offers = !matches!(event, Some(Event::Stopped | Event::Completed));
                if sends_offers {
                    let offers: Vec<Value> = offers
                        .iter()
                        .take(MAX_OFFERS)
                        .map(|(id, sdp)| {
                            json!({
                                "offer": {"type": "offer", "sdp": sdp},
                                "offer_id": binary(id),
                            })
                        })
                        .collect();
                    m.insert("numwant".into(), offers.len().into());
                    m.insert("offers".into(), Value::Array(offers));
                }
                Value::Object(m)
            }
            Request::Answer {
                info_hash,
                peer_id,
                to_peer_id,
                offer_id,
                sdp,
            } => json!({
                "action": "announce",
                "info_hash": binary(info_hash),
                "peer_id": binary(peer_id),
                "to_peer_id": binary(to_peer_id),
                "answer": {"type": "answer", "sdp": sdp},
                "offer_id": binary(offer_id),
            }),
            Request::Scrape { info_hashes } => json!({
                "action": "scrape",
                "info_hash": info_hashes.iter().map(binary).collect::<Vec<_>>(),
            }),
        };
        v.to_string()
    }
}

/// A session description another peer sent through the tracker, and whose it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relayed {
    pub peer_id: Id,
    pub offer_id: Id,
    pub sdp: String,
}

/// What a tracker sends about one torrent in an `announce` message; a message may carry
/// counts, an offer, an answer, or several of them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Announced {
    pub info_hash: Id,
    /// Seconds until the next announce (`interval`, else `min interval`).
    pub interval: Option<u32>,
    /// Seeds and leechers, when the message counts them.
    pub complete: Option<u32>,
    pub incomplete: Option<u32>,
    pub warning: Option<String>,
    /// To send back in later announces.
    pub tracker_id: Option<String>,
    /// A peer's offer for us to answer.
    pub offer: Option<Relayed>,
    /// A peer's answer to one of our offers.
    pub answer: Option<Relayed>,
}

/// One torrent of a scrape answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scraped {
    pub info_hash: Id,
    pub complete: u32,
    pub incomplete: u32,
    pub downloaded: u32,
}

/// A message from a tracker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// The tracker refused: its words (with the torrent, when it names one).
    Failure {
        info_hash: Option<Id>,
        reason: String,
    },
    Announce(Announced),
    Scrape(Vec<Scraped>),
}

/// Reads one text message from a tracker.
pub fn parse(text: &[u8]) -> Result<Response, WtError> {
    if text.len() > MAX_MESSAGE {
        return Err(WtError::TooLong(text.len()));
    }
    let v: Value = serde_json::from_slice(text).map_err(|e| WtError::NotJson(e.to_string()))?;
    let Value::Object(m) = v else {
        return Err(WtError::NotAnObject);
    };
    let info_hash = m.get("info_hash").and_then(id);
    if let Some(reason) = m.get("failure reason") {
        return Ok(Response::Failure {
            info_hash,
            reason: short_text(reason, "failure reason")?,
        });
    }
    match m.get("action").and_then(Value::as_str) {
        Some("announce") => announced(&m).map(Response::Announce),
        Some("scrape") => Ok(Response::Scrape(scraped(&m)?)),
        other => Err(WtError::Action(
            other.unwrap_or("").chars().take(40).collect(),
        )),
    }
}

fn announced(m: &Map<String, Value>) -> Result<Announced, WtError> {
    let info_hash = need_id(m, "info_hash")?;
    let count = |key: &'static str| -> Result<Option<u32>, WtError> {
        match m.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_u64()
                .map(|n| Some(n.min(u64::from(u32::MAX)) as u32))
                .ok_or(WtError::Field(key)),
        }
    };
    let interval = match count("interval")? {
        Some(i) => Some(i),
        None => count("min interval")?,
    };
    let relayed = |key: &'static str| -> Result<Option<Relayed>, WtError> {
        let Some(desc) = m.get(key) else {
            return Ok(None);
        };
        let sdp = desc
            .get("sdp")
            .and_then(Value::as_str)
            .filter(|s| s.len() <= MAX_SDP)
            .ok_or(WtError::Field(key))?;
        Ok(Some(Relayed {
            peer_id: need_id(m, "peer_id")?,
            offer_id: need_id(m, "offer_id")?,
            sdp: sdp.to_string(),
        }))
    };
    let text = |key: &'static str| -> Result<Option<String>, WtError> {
        m.get(key).map(|v| short_text(v, key)).transpose()
    };
    Ok(Announced {
        info_hash,
        interval,
        complete: count("complete")?,
        incomplete: count("incomplete")?,
        warning: text("warning message")?,
        tracker_id: text("tracker id")?,
        offer: relayed("offer")?,
        answer: relayed("answer")?,
    })
}

fn scraped(m: &Map<String, Value>) -> Result<Vec<Scraped>, WtError> {
    let Some(Value::Object(files)) = m.get("files") else {
        return Err(WtError::Field("files"));
    };
    let mut out = Vec::new();
    for (hash, counts) in files.iter().take(MAX_SCRAPE_FILES) {
        let info_hash = id_of_str(hash).ok_or(WtError::Field("files"))?;
        let n = |key: &str| {
            counts
                .get(key)
                .and_then(Value::as_u64)
                .map_or(0, |n| n.min(u64::from(u32::MAX)) as u32)
        };
        out.push(Scraped {
            info_hash,
            complete: n("complete"),
            incomplete: n("incomplete"),
            downloaded: n("downloaded"),
        });
    }
    Ok(out)
}

/// A tracker's words, cut to a line's worth.
fn short_text(v: &Value, key: &'static str) -> Result<String, WtError> {
    let s = v.as_str().ok_or(WtError::Field(key))?;
    Ok(s.chars().take(200).collect())
}

fn need_id(m: &Map<String, Value>, key: &'static str) -> Result<Id, WtError> {
    m.get(key).and_then(id).ok_or(WtError::Field(key))
}

fn id(v: &Value) -> Option<Id> {
    id_of_str(v.as_str()?)
}

/// 20 bytes from a "binary" string: 20 characters, each U+0000 to U+00FF.
fn id_of_str(s: &str) -> Option<Id> {
    let mut out = [0u8; 20];
    let mut chars = s.chars();
    for byte in &mut out {
        *byte = u8::try_from(u32::from(chars.next()?)).ok()?;
    }
    chars.next().is_none().then_some(out)
}

/// 20 bytes as a "binary" string.
fn binary(bytes: &Id) -> String {
    bytes.iter().map(|b| char::from(*b)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: Id = [
        0x00, 0x7f, 0x80, 0xff, 0x22, 0x5c, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
    ];

    /// An announce as the reference server parses it: 20-character binary strings, offers
    /// with their ids, numwant their count; none with `completed`.
    #[test]
    fn an_announce_carries_binary_ids_and_its_offers() {
        let req = Request::Announce {
            info_hash: HASH,
            peer_id: [b'p'; 20],
            uploaded: 1,
            downloaded: 2,
            left: 3,
            event: Some(Event::Started),
            offers: vec![([7; 20], "v=0\r\n".into())],
        };
        let v: Value = serde_json::from_str(&req.encode()).unwrap();
        assert_eq!(v["action"], "announce");
        let ih = v["info_hash"].as_str().unwrap();
        assert_eq!(ih.chars().count(), 20);
        assert_eq!(id_of_str(ih), Some(HASH));
        assert_eq!(v["numwant"], 1);
        assert_eq!(v["offers"][0]["offer"]["type"], "offer");
        assert_eq!(
            v["offers"][0]["offer_id"].as_str().map(id_of_str),
            Some(Some([7; 20]))
        );
        assert_eq!(v["event"], "started");
        let done = Request::Announce {
            info_hash: HASH,
            peer_id: [b'p'; 20],
            uploaded: 0,
            downloaded: 0,
            left: 0,
            event: Some(Event::Completed),
            offers: vec![([7; 20], "v=0".into())],
        };
        let v: Value = serde_json::from_str(&done.encode()).unwrap();
        assert!(
            v.get("offers").is_none() && v.get("numwant").is_none(),
            "{v}"
        );
    }

    #[test]
    fn an_answer_names_the_offerer_and_the_offer() {
        let req = Request::Answer {
            info_hash: HASH,
            peer_id: [1; 20],
            to_peer_id: [2; 20],
            offer_id: [3; 20],
            sdp: "v=0".into(),
        };
        let v: Value = serde_json::from_str(&req.encode()).unwrap();
        assert_eq!(v["answer"]["type"], "answer");
        assert_eq!(v["to_peer_id"].as_str().map(id_of_str), Some(Some([2; 20])));
        assert_eq!(v["offer_id"].as_str().map(id_of_str), Some(Some([3; 20])));
    }

    /// What the reference server sends: counts, a relayed offer, a relayed answer.
    #[test]
    fn reads_counts_offers_and_answers() {
        let ih = binary(&HASH);
        let counts = json!({"action": "announce", "interval": 120, "info_hash": ih,
                            "complete": 2, "incomplete": 5});
        let Ok(Response::Announce(a)) = parse(counts.to_string().as_bytes()) else {
            panic!("counts");
        };
        assert_eq!((a.info_hash, a.interval), (HASH, Some(120)));
        assert_eq!((a.complete, a.incomplete), (Some(2), Some(5)));
        assert!(a.offer.is_none() && a.answer.is_none());
        let offer = json!({"action": "announce", "info_hash": ih, "peer_id": binary(&[9; 20]),
                           "offer_id": binary(&[8; 20]), "offer": {"type": "offer", "sdp": "v=0"}});
        let Ok(Response::Announce(a)) = parse(offer.to_string().as_bytes()) else {
            panic!("offer");
        };
        assert_eq!(
            a.offer,
            Some(Relayed {
                peer_id: [9; 20],
                offer_id: [8; 20],
                sdp: "v=0".into()
            })
        );
        let answer = json!({"action": "announce", "info_hash": ih, "peer_id": binary(&[9; 20]),
                            "offer_id": binary(&[8; 20]), "answer": {"type": "answer", "sdp": "v=1"}});
        let Ok(Response::Announce(a)) = parse(answer.to_string().as_bytes()) else {
            panic!("answer");
        };
        assert_eq!(a.answer.map(|r| r.sdp), Some("v=1".into()));
    }

    #[test]
    fn reads_failures_and_scrapes() {
        let fail = json!({"failure reason": "invalid info_hash", "info_hash": binary(&HASH)});
        assert_eq!(
            parse(fail.to_string().as_bytes()),
            Ok(Response::Failure {
                info_hash: Some(HASH),
                reason: "invalid info_hash".into()
            })
        );
        let mut files = Map::new();
        files.insert(
            binary(&HASH),
            json!({"complete": 1, "incomplete": 2, "downloaded": 3}),
        );
        let scrape = json!({"action": "scrape", "files": files});
        assert_eq!(
            parse(scrape.to_string().as_bytes()),
            Ok(Response::Scrape(vec![Scraped {
                info_hash: HASH,
                complete: 1,
                incomplete: 2,
                downloaded: 3
            }]))
        );
    }

    /// Hostile messages: refused with a reason, never kept whole.
    #[test]
    fn refuses_what_is_not_the_protocol() {
        assert!(matches!(parse(b"not json"), Err(WtError::NotJson(_))));
        assert_eq!(parse(b"[1]"), Err(WtError::NotAnObject));
        assert!(matches!(
            parse(br#"{"action":"rm -rf"}"#),
            Err(WtError::Action(_))
        ));
        let huge = vec![b' '; MAX_MESSAGE + 1];
        assert_eq!(parse(&huge), Err(WtError::TooLong(MAX_MESSAGE + 1)));
        // A hash of 21 characters, or with a character past U+00FF.
        let long = json!({"action": "announce", "info_hash": "a".repeat(21)});
        assert_eq!(
            parse(long.to_string().as_bytes()),
            Err(WtError::Field("info_hash"))
        );
        let wide = json!({"action": "announce", "info_hash": format!("{}ā", "a".repeat(19))});
        assert_eq!(
            parse(wide.to_string().as_bytes()),
            Err(WtError::Field("info_hash"))
        );
        // An offer without its offer id, and one whose SDP is too long.
        let ih = binary(&HASH);
        let bare = json!({"action": "announce", "info_hash": ih, "peer_id": binary(&[1; 20]),
                          "offer": {"type": "offer", "sdp": "v=0"}});
        assert_eq!(
            parse(bare.to_string().as_bytes()),
            Err(WtError::Field("offer_id"))
        );
        let big = json!({"action": "announce", "info_hash": ih, "peer_id": binary(&[1; 20]),
                         "offer_id": binary(&[2; 20]),
                         "offer": {"type": "offer", "sdp": "x".repeat(MAX_SDP + 1)}});
        assert_eq!(
            parse(big.to_string().as_bytes()),
            Err(WtError::Field("offer"))
        );
        // A negative count.
        let neg = json!({"action": "announce", "info_hash": ih, "complete": -1});
        assert_eq!(
            parse(neg.to_string().as_bytes()),
            Err(WtError::Field("complete"))
        );
    }
}
