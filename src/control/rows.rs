//! What `ttui list --json` and `ttui show ID --json` print: the rows the session sends, whose
//! field names and meanings are documented in the README ("Scripting") and kept stable. Text
//! fields carry outside text whole (JSON escapes it); the human tables clean it.

use serde::{de, ser, Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

/// One torrent, as `ttui list --json` prints it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TorrentRow {
    /// Small and stable for the session's life; what `ttui pause 3` names.
    pub id: u32,
    /// 40 lowercase hex digits: the v1 info hash, or a v2-only torrent's v2 hash cut to 20
    /// bytes (the hash its peers and trackers know it by).
    pub info_hash: String,
    /// 64 lowercase hex digits: the v2 (SHA-256) info hash of a v2 or hybrid torrent; null
    /// for a v1 torrent.
    #[serde(default)]
    pub info_hash_v2: Option<String>,
    pub name: String,
    /// One word: checking, downloading, seeding, paused, queued, error, metadata, moving...
    pub state: String,
    /// Why the torrent is in that state or slow, in words; null when nothing is in the way.
    pub why: Option<String>,
    /// 0 to 1, of `wanted_bytes`.
    #[serde(serialize_with = "finite")]
    pub progress: f64,
    /// Bytes of the files not set to skip.
    pub wanted_bytes: u64,
    pub total_bytes: u64,
    /// Bytes on disk whose pieces passed their hash check.
    pub verified_bytes: u64,
    /// Lifetime payload bytes, across restarts.
    pub downloaded: u64,
    pub uploaded: u64,
    /// uploaded / downloaded (0 while nothing was downloaded).
    #[serde(serialize_with = "finite")]
    pub ratio: f64,
    /// Bytes per second, payload only.
    pub down_rate: u64,
    pub up_rate: u64,
    /// Connected peers, and how many of them have everything.
    pub peers: u32,
    pub seeds: u32,
    /// Seconds to finish at the current rate (of its check while it checks); null when it
    /// neither downloads nor checks, or before a rate is known.
    pub eta_secs: Option<u64>,
    pub save_path: String,
    /// Unix seconds.
    pub added: u64,
    /// Unix seconds when the wanted bytes were all verified; null until then.
    pub completed: Option<u64>,
    /// Place in the session's queue, 0 first.
    #[serde(default)]
    pub queue_position: u32,
    /// Connected peers that want data from us (a seed with none is idle: a seed limit does
    /// not count it).
    #[serde(default)]
    pub peers_interested: u32,
    /// Unix seconds of the torrent's next announce (its first tracker due, or the session's
    /// wake-up of a sleeping torrent); null when it announces to nobody or one is under way.
    #[serde(default)]
    pub next_announce: Option<u64>,
    /// Its labels, in the order given (`ttui label`); `[]` for none.
    #[serde(default)]
    pub labels: Vec<String>,
    /// Downloading in the incomplete directory (`save_path`): where its files move once
    /// complete; null otherwise.
    #[serde(default)]
    pub final_dir: Option<String>,
    /// Dials to its peers the session's blocklist refused.
    #[serde(default)]
    pub blocked: u64,
    /// BEP 16 super-seeding is on (`ttui super-seed`); `why` says "super-seeding (waits
    /// until complete)" until the torrent is complete.
    #[serde(default)]
    pub super_seeding: bool,
    /// Pieces are fetched in order, not rarest first.
    #[serde(default)]
    pub sequential: bool,
    /// The first and last piece of each wanted file come before the others (qBittorrent's
    /// first/last piece priority).
    #[serde(default)]
    pub first_last: bool,
    /// Seconds seeded over the torrent's life (across restarts), as goals count them.
    #[serde(default)]
    pub seeding_secs: u64,
    /// The facts of the one table every face reads (`api::facts::FACTS`: `last_activity`...),
    /// by their keys, beside the fields above in the same object.
    #[serde(flatten)]
    pub facts: Map<String, Value>,
}

/// One torrent in full, as `ttui show ID --json` prints it: the row's fields, then `files`,
/// `trackers`, `peers` and `explain`. `peers` is the list there, so the row's count of
/// connected peers is named `peers_connected` in this object.
#[derive(Debug, Clone, PartialEq)]
pub struct TorrentDetail {
    pub row: TorrentRow,
    pub files: Vec<FileRow>,
    pub trackers: Vec<TrackerRow>,
    pub peers: Vec<PeerInfo>,
    /// Why it is slow: the explainer's findings, what holds the torrent back first.
    pub explain: Vec<ExplainRow>,
    /// The session's blocklist (what it holds, what it refused); null without one.
    pub blocklist: Option<crate::engine::api::BlocklistStatus>,
    /// The session's SOCKS5 proxy (password masked) and whether it is down; null without one.
    pub proxy: Option<crate::engine::api::ProxyStatus>,
    /// The session's port mapping (the router's answer, the external address and ports);
    /// null while it is off.
    pub port_mapping: Option<crate::engine::api::PortMappingStatus>,
    /// `--interface`: its name, whether it is up and its address; null without one.
    pub interface: Option<crate::engine::api::InterfaceStatus>,
    /// The full-uplink evidence; null from a session that sends none.
    pub uplink: Option<UplinkInfo>,
    /// The address families the session reaches peers over (`{"ipv4": true, "ipv6":
    /// false}`); null from a session that does not say.
    pub families: Option<crate::engine::api::Families>,
    /// Its open streams (`ttui stream`): each reader's position, window and bytes waited for.
    pub streams: Vec<crate::engine::api::StreamRow>,
    /// BEP 55 introductions this torrent made as the relay between two of its peers.
    pub introductions: u64,
    /// Wire bytes of the BEP 55 messages it took and sent as that relay.
    pub relay_bytes: u64,
    /// The session's read cache of seeding: its bound, what it holds, its hits; null from a
    /// session that does not say.
    pub read_cache: Option<crate::engine::api::ReadCacheStats>,
}

/// The explainer's full-uplink evidence (`upload_saturation`) in a script's units: bytes a
/// second and milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UplinkInfo {
    /// The session's upload (10 s, bytes its TCP peers acknowledged) and the most it
    /// sustained in the last 30 minutes.
    pub up: u64,
    pub up_ceiling: u64,
    /// Medians over the torrent's TCP connections: round trip now, its floor, its rise.
    pub rtt_ms: Option<u64>,
    pub rtt_floor_ms: Option<u64>,
    pub rtt_rise_ms: Option<u64>,
    /// This torrent's download (10 s) and its best in the last 30 minutes.
    pub down: u64,
    pub down_best: u64,
}

impl From<&crate::engine::api::UplinkRow> for UplinkInfo {
    fn from(u: &crate::engine::api::UplinkRow) -> Self {
        let ms = |d: Option<std::time::Duration>| d.map(|d| d.as_millis() as u64);
        UplinkInfo {
            up: u.up as u64,
            up_ceiling: u.up_ceiling as u64,
            rtt_ms: ms(u.rtt),
            rtt_floor_ms: ms(u.rtt_floor),
            rtt_rise_ms: ms(u.rtt_rise),
            down: u.down as u64,
            down_best: u.down_best as u64,
        }
    }
}

impl Serialize for TorrentDetail {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = match serde_json::to_value(&self.row).map_err(ser::Error::custom)? {
            Value::Object(m) => m,
            _ => return Err(ser::Error::custom("a torrent row is not an object")),
        };
        let count = map.remove("peers").unwrap_or(Value::Null);
        map.insert("peers_connected".into(), count);
        let mut put = |key: &str, v: Result<Value, serde_json::Error>| {
            v.map(|v| map.insert(key.into(), v))
                .map_err(ser::Error::custom)
        };
        put("files", serde_json::to_value(&self.files))?;
        put("trackers", serde_json::to_value(&self.trackers))?;
        put("peers", serde_json::to_value(&self.peers))?;
        put("explain", serde_json::to_value(&self.explain))?;
        put("blocklist", serde_json::to_value(&self.blocklist))?;
        put("proxy", serde_json::to_value(&self.proxy))?;
        put("port_mapping", serde_json::to_value(&self.port_mapping))?;
        put("interface", serde_json::to_value(&self.interface))?;
        put("uplink", serde_json::to_value(self.uplink))?;
        put("families", serde_json::to_value(self.families))?;
        put("streams", serde_json::to_value(&self.streams))?;
        put("introductions", serde_json::to_value(self.introductions))?;
        put("relay_bytes", serde_json::to_value(self.relay_bytes))?;
        put("read_cache", serde_json::to_value(self.read_cache))?;
        map.serialize(s)
    }
}

impl<'de> Deserialize<'de> for TorrentDetail {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut map = Map::<String, Value>::deserialize(d)?;
        let mut take = |key: &str| map.remove(key).unwrap_or(Value::Null);
        let files = take("files");
        let trackers = take("trackers");
        let peers = take("peers");
        // Older servers send none: an empty list, not an error.
        let explain = match take("explain") {
            Value::Null => Value::Array(Vec::new()),
            v => v,
        };
        let blocklist = take("blocklist");
        let proxy = take("proxy");
        let port_mapping = take("port_mapping");
        let interface = take("interface");
        let uplink = take("uplink");
        let families = take("families");
        // Older servers send none.
        let streams = match take("streams") {
            Value::Null => Value::Array(Vec::new()),
            v => v,
        };
        // Older servers send none: 0.
        let introductions = take("introductions").as_u64().unwrap_or(0);
        let relay_bytes = take("relay_bytes").as_u64().unwrap_or(0);
        let read_cache = take("read_cache");
        let count = take("peers_connected");
        map.insert("peers".into(), count);
        Ok(TorrentDetail {
            row: parse(Value::Object(map))?,
            files: parse(files)?,
            trackers: parse(trackers)?,
            peers: parse(peers)?,
            explain: parse(explain)?,
            blocklist: parse(blocklist)?,
            proxy: parse(proxy)?,
            port_mapping: parse(port_mapping)?,
            interface: parse(interface)?,
            uplink: parse(uplink)?,
            families: parse(families)?,
            streams: parse(streams)?,
            introductions,
            relay_bytes,
            read_cache: parse(read_cache)?,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRow {
    /// The file's position in the torrent, what priorities are set by.
    pub index: u32,
    /// Relative to `save_path`, `/`-separated.
    pub path: String,
    pub size: u64,
    pub verified_bytes: u64,
    /// skip, low, normal or high.
    pub priority: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackerRow {
    pub url: String,
    /// 0 first; trackers of one tier are alternatives.
    pub tier: u32,
    /// One word: working, updating, error, not-contacted.
    pub status: String,
    pub last_error: Option<String>,
    /// Peers its last announce gave (while working).
    #[serde(default)]
    pub peers: Option<u64>,
    /// The swarm's seeds and leechers as the tracker counts them.
    #[serde(default)]
    pub seeders: Option<u32>,
    #[serde(default)]
    pub leechers: Option<u32>,
    /// The `uploaded=`/`downloaded=` of the last announce it answered (this run's counts,
    /// from 0 at `started`); null before one was.
    #[serde(default)]
    pub last_announce: Option<crate::engine::api::Moved>,
    /// What the torrent has told this tracker's host over all its runs (kept in the
    /// session's accounting); null when nothing was.
    #[serde(default)]
    pub reported: Option<crate::engine::api::Moved>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerInfo {
    /// ip:port ([v6]:port).
    pub address: String,
    /// From the peer id or the extension handshake; null when unknown.
    pub client: Option<String>,
    /// One word: connecting, downloading, uploading, idle, choked, closed...
    pub state: String,
    /// Why the peer is in that state, in words; null when nothing is in the way.
    pub reason: Option<String>,
    pub down_rate: u64,
    pub up_rate: u64,
    /// It said it only uploads (BEP 21): a seed, or done with the files it wants.
    #[serde(default)]
    pub upload_only: bool,
    /// How it was reached: its source's word (tracker, dht, pex, incoming…) or "hole punched
    /// via ADDR" (BEP 55).
    #[serde(default)]
    pub reached: String,
    /// TCP, uTP or WebRTC, once known; null before (a dial not answered yet).
    #[serde(default)]
    pub transport: Option<String>,
    /// A WebRTC connection coming up: the stage it is in or failed in (ICE, DTLS, data
    /// channel); null otherwise.
    #[serde(default)]
    pub webrtc_stage: Option<String>,
}

/// One finding of the explainer (see the README, "Why is it slow?").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExplainRow {
    /// Stable snake_case name: trackers, dht, no_peers, availability, seeds, peer_failures,
    /// choked, limits, reachability, family, hole_punch, webrtc, upload_saturation, disk,
    /// rc4_cpu, seeding_idle, stream.
    pub check: String,
    /// holding_back, warning or ok.
    pub verdict: String,
    /// What was seen, with numbers.
    pub evidence: String,
    /// What to do; null when nothing.
    pub advice: Option<String>,
}

fn parse<T: serde::de::DeserializeOwned, E: de::Error>(v: Value) -> Result<T, E> {
    serde_json::from_value(v).map_err(E::custom)
}

/// NaN and infinities have no JSON form (serde_json writes null, which then will not read
/// back as a number): they go out as 0.
pub(crate) fn finite<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(if v.is_finite() { *v } else { 0.0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `show --json` carries the proxy as the session shows it: the URL with its password
    /// masked, and whether it is down; it reads back the same.
    #[test]
    fn the_proxy_goes_out_masked_and_comes_back() {
        let spec = crate::engine::api::ProxySpec::parse("socks5://u:hunter2@127.0.0.5:1080");
        let mut d = crate::cli::verbs_fmt::tests::detail();
        d.proxy = Some(crate::engine::api::ProxyStatus {
            url: spec.unwrap().to_string(),
            only: true,
            down: Some("cannot reach the proxy".into()),
            connections: 2,
            udp_off: Some("no UDP association".into()),
        });
        let json = serde_json::to_string(&d).unwrap();
        assert!(!json.contains("hunter2"), "{json}");
        assert!(
            json.contains(r#""url":"socks5://u:***@127.0.0.5:1080""#),
            "{json}"
        );
        let back: TorrentDetail = serde_json::from_str(&json).unwrap();
        assert_eq!(back, d);
    }
}
