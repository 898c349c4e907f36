//! State shared between the coordinator and the peer tasks.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::engine::api::{ChokeFlags, PeerEnd};
use crate::engine::disk::Storage;
use crate::engine::picker::Picker;
use crate::protocol::metainfo::Info;

/// What peer tasks and blocking jobs tell the coordinator.
#[derive(Debug)]
pub(crate) enum Event {
    Stage {
        conn: u64,
        stage: crate::engine::api::PeerStage,
    },
    Handshaken {
        conn: u64,
        peer_id: [u8; 20],
        elapsed: std::time::Duration,
    },
    Client {
        conn: u64,
        name: String,
    },
    /// The peer became interested or not (the choker may want to act at once).
    Interest {
        conn: u64,
    },
    Ended {
        conn: u64,
        end: PeerEnd,
    },
    /// A piece was hashed; when `ok` it is written and already marked verified in the picker.
    PieceDone {
        index: u32,
        ok: bool,
        contributors: Vec<u64>,
    },
    /// An endgame block arrived: the others who were asked for it should get a cancel.
    BlockDone {
        index: u32,
        begin: u32,
        conn: u64,
    },
    DiskError(String),
    Incoming {
        stream: crate::net::PeerConn,
        addr: SocketAddr,
        handshake: crate::protocol::handshake::Handshake,
    },
}

/// Counters and flags a peer task updates and the coordinator reads for snapshots and the
/// choker; plain atomics so neither side waits on the other.
#[derive(Debug, Default)]
pub(crate) struct PeerLive {
    pub downloaded: AtomicU64,
    pub uploaded: AtomicU64,
    pub in_flight: AtomicU32,
    pub pieces: AtomicU32,
    flags: AtomicU8,
}

const AM_CHOKING: u8 = 1;
const AM_INTERESTED: u8 = 2;
const PEER_CHOKING: u8 = 4;
const PEER_INTERESTED: u8 = 8;

impl PeerLive {
    pub fn new() -> Self {
        let live = PeerLive::default();
        live.set_flags(ChokeFlags::default());
        live
    }

    pub fn set_flags(&self, f: ChokeFlags) {
        let mut v = 0;
        if f.am_choking {
            v |= AM_CHOKING;
        }
        if f.am_interested {
            v |= AM_INTERESTED;
        }
        if f.peer_choking {
            v |= PEER_CHOKING;
        }
        if f.peer_interested {
            v |= PEER_INTERESTED;
        }
        self.flags.store(v, Ordering::Relaxed);
    }

    pub fn flags(&self) -> ChokeFlags {
        let v = self.flags.load(Ordering::Relaxed);
        ChokeFlags {
            am_choking: v & AM_CHOKING != 0,
            am_interested: v & AM_INTERESTED != 0,
            peer_choking: v & PEER_CHOKING != 0,
            peer_interested: v & PEER_INTERESTED != 0,
        }
    }
}

pub(crate) struct Shared {
    pub info: Arc<Info>,
    pub info_hash: [u8; 20],
    /// The raw `info` dictionary, for peers that fetch metadata from us (BEP 9).
    pub info_bytes: Bytes,
    pub our_id: [u8; 20],
    /// Source address for outgoing connections (`--bind`), when one was given.
    pub bind: Option<std::net::IpAddr>,
    pub encryption: crate::net::EncryptionPolicy,
    pub listen_port: AtomicU16,
    pub picker: Mutex<Picker>,
    pub storage: Arc<Storage>,
    /// Pieces are hashed in parallel but written one at a time: concurrent writes to one
    /// file make the kernel spin on the inode lock (measured: a sixth of all CPU time).
    pub write_lock: Mutex<()>,
    pub paused: AtomicBool,
    pub downloaded: AtomicU64,
    pub uploaded: AtomicU64,
    pub wasted: AtomicU64,
    pub events: mpsc::UnboundedSender<Event>,
}

impl Shared {
    /// A poisoned lock means a task panicked mid-update; the picker's data is still the best we
    /// have, and the panic itself is reported by the task's join handle.
    pub fn picker(&self) -> MutexGuard<'_, Picker> {
        self.picker.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn send(&self, e: Event) {
        // The coordinator outlives every peer task; a send after it stopped has no one to tell.
        let _ = self.events.send(e);
    }

    /// Hashes a completed piece off the reactor threads and, when it matches, writes it and
    /// marks it verified.
    pub fn verify_piece(self: &Arc<Self>, index: u32, blocks: Vec<Bytes>, contributors: Vec<u64>) {
        let shared = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let expected = shared.info.pieces.get(index as usize).copied();
            let ok = expected == Some(crate::engine::disk::hash_blocks(&blocks));
            if ok {
                let written = {
                    let _one_writer = shared.write_lock.lock().unwrap_or_else(|e| e.into_inner());
                    shared.storage.write_piece(index, &blocks)
                };
                if let Err(e) = written {
                    shared.picker().piece_failed(index);
                    shared.send(Event::DiskError(e.to_string()));
                    return;
                }
                shared.picker().piece_verified(index);
                tracing::debug!("piece {index} verified");
            } else {
                let len: u64 = blocks.iter().map(|b| b.len() as u64).sum();
                shared.wasted.fetch_add(len, Ordering::Relaxed);
                shared.picker().piece_failed(index);
                tracing::debug!("piece {index} failed its hash check");
            }
            shared.send(Event::PieceDone {
                index,
                ok,
                contributors,
            });
        });
    }
}
