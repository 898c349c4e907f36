//! What unit tests of the engine need to run a connection or a coordinator without a
//! session: a torrent's `Shared` over a temporary directory, its events in a channel.

use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64};
use std::sync::Arc;

use tokio::sync::{broadcast, mpsc};

use std::net::SocketAddr;
use std::time::Instant;

use crate::engine::api::{PeerSource, PeerStage};
use crate::engine::disk::Storage;
use crate::engine::peer::link::{PeerCmd, PeerEvent, TorrentFacts, TorrentLink};
use crate::engine::peer::rate::{RatePair, SessionRates};
use crate::engine::torrent::coordinator::Coordinator;
use crate::engine::torrent::download::Download;
use crate::engine::torrent::options::Options;
use crate::engine::torrent::picker::Picker;
use crate::engine::torrent::shared::{Event, Shared};
use crate::protocol::bitfield::Bitfield;
use crate::protocol::metainfo::Metainfo;
use crate::protocol::metainfo::{FileEntry, Info};

/// A one-file torrent of `total` bytes in pieces of `piece_length`. Piece hashes are zeros:
/// nothing here checks them.
pub(crate) fn info(piece_length: u32, total: u64) -> Info {
    let pieces = total.div_ceil(u64::from(piece_length)) as usize;
    Info {
        name: "t".into(),
        piece_length,
        pieces: vec![[0; 20]; pieces],
        total_length: total,
        files: vec![FileEntry::new(vec!["t".into()], total, 0)],
        private: false,
        source: None,
        single_file: true,
        v2: None,
    }
}

/// A torrent's shared state with the pieces `have` verified, no limits, PEX on; the
/// directory holds its file and goes when dropped.
pub(crate) struct TestTorrent {
    pub shared: Arc<Shared>,
    pub events: mpsc::UnboundedReceiver<Event>,
    pub _dir: tempfile::TempDir,
}

impl TestTorrent {
    pub(crate) fn new(piece_length: u32, total: u64, have: &[u32]) -> TestTorrent {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let info = info(piece_length, total);
        let storage = Storage::open(dir.path(), &info).expect("storage in a temporary directory");
        let mut bits = Bitfield::new(info.num_pieces());
        for &i in have {
            bits.set(i);
        }
        let picker = Picker::with_geometry(info.geometry(), bits);
        let (tx, events) = mpsc::unbounded_channel();
        let rates = SessionRates::new(RatePair::default(), RatePair::default(), false)
            .torrent(RatePair::default());
        let shared = Shared::new(
            TorrentFacts {
                info: Arc::new(info),
                info_hash: [1; 20],
                hybrid_v2: None,
                info_bytes: bytes::Bytes::new(),
                piece_layers: None,
                our_id: [2; 20],
                bind: None,
                encryption: Default::default(),
                transport: Default::default(),
                utp: None,
                pex: true,
                listen_port: Arc::new(AtomicU16::new(0)),
                dht: None,
                storage: Arc::new(storage),
                verified: broadcast::channel(16).0,
                lost: broadcast::channel(16).0,
                paused: AtomicBool::new(false),
                super_seeding: AtomicBool::new(false),
                downloaded: AtomicU64::new(0),
                uploaded: AtomicU64::new(0),
                wasted: AtomicU64::new(0),
                rates,
                ip_filter: Arc::default(),
                proxy: None,
                webrtc: None,
                ws_off: None,
            },
            Download::new(picker, Arc::default()),
            Arc::default(),
            tx,
        );
        TestTorrent {
            shared,
            events,
            _dir: dir,
        }
    }

    /// Every peer event sent so far (others are dropped).
    pub(crate) fn drain(&mut self) -> Vec<PeerEvent> {
        std::iter::from_fn(|| self.events.try_recv().ok())
            .filter_map(|e| match e {
                Event::Peer(e) => Some(e),
                _ => None,
            })
            .collect()
    }

    /// Changes what the connections will read (the metainfo, the storage) before any runs.
    pub(crate) fn adjust(&mut self, f: impl FnOnce(&mut TorrentFacts)) {
        let placeholder = TestTorrent::new(16_384, 16_384, &[]).shared;
        let shared = std::mem::replace(&mut self.shared, placeholder);
        let Ok(Shared {
            mut facts,
            download,
            pool,
            events,
            ..
        }) = Arc::try_unwrap(shared)
        else {
            panic!("adjust before anything holds the torrent");
        };
        f(&mut facts);
        let download = download.into_inner().unwrap_or_else(|e| e.into_inner());
        self.shared = Shared::new(facts, download, pool, events);
    }

    /// The torrent as its connections see it.
    pub(crate) fn link(&self) -> Arc<dyn TorrentLink> {
        Arc::clone(&self.shared) as Arc<dyn TorrentLink>
    }
}

/// The coordinator of `t`, with no session, tracker or DHT attached.
pub(crate) fn coordinator(t: &TestTorrent) -> Coordinator {
    let meta = Metainfo {
        info_hash: t.shared.info_hash,
        info_hash_v2: None,
        piece_layers: None,
        info: (*t.shared.info).clone(),
        trackers: Vec::new(),
        comment: None,
        created_by: None,
        creation_date: None,
        padding_files: Vec::new(),
        info_bytes: bytes::Bytes::new(),
        web_seeds: Vec::new(),
        notes: Vec::new(),
    };
    let opts = Options::default();
    let snap = crate::engine::torrent::snapshot::initial(
        crate::engine::api::TorrentId::default(),
        &meta,
        &opts.output,
        0,
    );
    Coordinator::new(
        meta,
        opts,
        std::sync::Arc::clone(&t.shared),
        snap,
        Instant::now(),
        8,
    )
}

/// A loopback address, one per `n`.
pub(crate) fn addr(n: u8) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, n], 6000 + u16::from(n)))
}

/// A running connection to `addr` from `source`: its id and the commands its task would get.
pub(crate) fn connect(
    c: &mut Coordinator,
    addr: SocketAddr,
    source: PeerSource,
) -> (u64, mpsc::UnboundedReceiver<PeerCmd>) {
    let now = Instant::now();
    c.peers_mut().add([addr], source, now);
    let conn = c.peers_mut().new_conn(addr);
    let rx = c
        .peers_mut()
        .get_mut(&addr)
        .unwrap()
        .begin(conn, PeerStage::Connected, now)
        .0;
    (conn, rx)
}
