//! Block states of one torrent and the bytes of its pieces in flight, behind one lock
//! (`Shared::download`). A block that continues its piece is queued for the piece's writer
//! at once (`verify.rs` writes it and hashes it in order); one ahead of a gap waits in the
//! piece's `InOrder` until the gap fills. Recording a block and queueing it take this one
//! lock, so the download path takes no extra lock and a piece's queue is in piece order.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::engine::disk::backlog::WriteBacklog;
use crate::engine::disk::inorder::{InOrder, Job, PieceHash};
use crate::engine::torrent::picker::{self, Picker};
use crate::engine::torrent::verify::blame::{Attempt, ATTEMPTS_PER_PIECE, PIECES_KEPT};
use crate::protocol::geometry::{BlockRef, BLOCK_LEN};
use crate::protocol::metainfo::V2Pieces;

/// Queued bytes of a piece that wake its writer. Below it blocks wait for more, so a job on
/// the disk pool covers many blocks (each start costs the pool a thread wake-up and the
/// network thread a futex call; at 128 KiB, four times the starts of 512 KiB cost 0-8 % more
/// CPU per GiB in four A/B runs, tests/bench/README.md, the data path); a piece's last block always
/// wakes it.
const WAKE_BYTES: usize = 512 << 10;

/// Bytes queued, all pieces of the torrent together, for writers not yet woken, beyond which
/// the fullest such piece's writer is woken whatever its bytes: many peers each filling its
/// own piece would otherwise hold up to `WAKE_BYTES` per piece in flight. With `LAG_BYTES`,
/// this bounds a torrent's piece memory outside the out-of-order blocks.
const IDLE_BYTES: usize = 2 << 20;

/// Bytes queued for writers that are already running, beyond which connections ask for
/// nothing more until the writers catch up (`writers_behind`): when hashing or the disk is
/// slower than the network, the backlog stops here instead of growing up to the pieces in
/// flight (64 MiB of four 16 MiB pieces). Only bytes a running writer will take count, so the
/// pause always ends without any new block.
const LAG_BYTES: usize = 2 << 20;

/// Most bytes a writer takes at once. What it took stays counted in `lagging` until it comes
/// back for more: a writer that took everything queued (7 MiB behind one 16 MiB piece's
/// single writer) held it all while the connections, seeing nothing queued, filled the queue
/// again.
const TAKE_BYTES: usize = 256 << 10;

/// What a received block led to.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Received {
    /// Already had it (endgame duplicate, or the piece was finished meanwhile).
    Duplicate,
    /// Recorded; when `wake` names a piece, the caller starts that piece's writer
    /// (`verify::start`): the block's own, or the fullest waiting one past `IDLE_BYTES`.
    Stored { wake: Option<u32> },
}

/// What the writer of a piece is to do next.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Take {
    /// Write and hash the blocks now in the batch, in order.
    Blocks,
    /// Every byte went before: compare the hash (the blocks' senders are these), and stop.
    Finish(Senders),
    /// Nothing queued: stop; the next block that wakes it starts a new writer.
    Done,
}

/// Who sent a complete piece: each connection once, and the sender of each block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Senders {
    pub contributors: Vec<u64>,
    pub blocks: Vec<Option<u64>>,
}

/// One piece in flight.
///
/// Invariants: `queued` is the byte count of `jobs` and `taken` that of the batch its running
/// writer holds; `jobs` continue the bytes the writer took, in piece order; `finish` is set once the picker saw the last block, when nothing
/// is waiting in `cursor` any more; `hash` is the piece's hash state while no writer runs
/// (`writing` false) and a placeholder while one does.
#[derive(Debug)]
struct Flight {
    cursor: InOrder,
    jobs: Vec<Job>,
    queued: usize,
    taken: usize,
    finish: Option<Senders>,
    hash: PieceHash,
    writing: bool,
}

/// Block states and pieces in flight of one torrent.
///
/// Invariants: `pieces` has an entry for each of the picker's partial pieces that received a
/// block, and for each complete piece until its writer took its `Finish` (the picker holds
/// such a piece as hashing, so no block of it is stored meanwhile); `lagging` is the sum of
/// `queued + taken` over the pieces whose writer runs; `writers` counts the writers started and not
/// yet ended (one ends at `Done`, or at `writer_ended` once its `Finish` has its verdict);
/// `idle` is the sum of `queued` over the pieces whose writer does not run, and stays within
/// `IDLE_BYTES` plus a block after each `receive`; `backlog` (the session's) carries
/// `lagging` too, until the download is dropped.
#[derive(Debug)]
pub(crate) struct Download {
    pub picker: Picker,
    pieces: HashMap<u32, Flight>,
    lagging: usize,
    idle: usize,
    writers: usize,
    /// Bytes the writers have finished with (hashed and written), for the disk's rate the
    /// explainer weighs against the swarm's.
    written: u64,
    /// The session's budget; woken when `lagging` falls back to `LAG_BYTES` too, for the
    /// connections held back.
    backlog: Arc<WriteBacklog>,
    /// A v2-only torrent's piece roots: its pieces are hashed as SHA-256 trees.
    v2: Option<V2Pieces>,
    /// Failed attempts of pieces not yet verified, whose senders are blamed once the piece
    /// verifies (`verify/blame.rs`); at most `PIECES_KEPT` pieces, `ATTEMPTS_PER_PIECE` each.
    failed: HashMap<u32, Vec<Attempt>>,
    /// Per failed piece not yet verified: when it last failed and who sent each block then.
    /// For `RETRY_ELSEWHERE` a block is asked of another peer than its last sender (when
    /// another has the piece), so a liar's block and an honest one meet in a piece that
    /// verifies, which proves the liar (`verify/blame.rs`). Without it a liar quick to take
    /// the same blocks again fails the piece over and over with the same partners, until
    /// every sender is charged, the honest ones too. libtorrent's parole mode serves the same
    /// end by giving a suspect whole pieces alone.
    last_senders: HashMap<u32, (Instant, Vec<Option<u64>>)>,
    /// Ended connections that sent blocks not yet judged, with their addresses, so a sender
    /// proven bad after it left is still named and banned; the newest `GONE_KEPT`.
    gone: Vec<(u64, SocketAddr)>,
}

/// Ended senders remembered (`Download::gone`).
const GONE_KEPT: usize = 64;

/// How long after a piece failed its blocks go to other peers than their last senders
/// (`Download::last_senders`); then anyone may take them again, so a piece that only its
/// last senders have (or that another peer never answers for) still completes.
const RETRY_ELSEWHERE: Duration = Duration::from_secs(10);

impl Download {
    /// A download whose writers' backlog counts against the session's `backlog`.
    pub(crate) fn new(picker: Picker, backlog: Arc<WriteBacklog>) -> Self {
        Download {
            picker,
            pieces: HashMap::new(),
            lagging: 0,
            idle: 0,
            writers: 0,
            written: 0,
            backlog,
            v2: None,
            failed: HashMap::new(),
            last_senders: HashMap::new(),
            gone: Vec::new(),
        }
    }

    /// Hashes the pieces as v2's SHA-256 trees against these roots.
    pub(crate) fn with_v2(mut self, v2: Option<V2Pieces>) -> Self {
        self.v2 = v2;
        self
    }

    /// The writers' backlog as the Snapshot shows it: bytes queued for running writers,
    /// whether connections are held back for it, and bytes written so far.
    pub(crate) fn disk_state(&self) -> (u64, bool, u64) {
        (self.lagging as u64, self.writers_behind(), self.written)
    }

    /// Records a block that arrived and queues what it releases for the piece's writer. The
    /// caller has checked that it was requested from this peer and has the requested length.
    pub(crate) fn receive(&mut self, r: BlockRef, data: Bytes, conn: u64) -> Received {
        let outcome = self.picker.block_received(r, conn);
        if let picker::Received::Duplicate = outcome {
            return Received::Duplicate;
        }
        let len = self.picker.piece_len(r.index);
        let f = self.pieces.entry(r.index).or_insert_with(|| Flight {
            cursor: InOrder::new(len),
            jobs: Vec::new(),
            queued: 0,
            taken: 0,
            finish: None,
            hash: PieceHash::new(
                self.v2
                    .as_ref()
                    .and_then(|v| v.pieces.get(r.index as usize)),
            ),
            writing: false,
        });
        let before = f.queued;
        let (jobs, queued) = (&mut f.jobs, &mut f.queued);
        f.cursor.push(r.begin, data, |job| {
            *queued += job.held();
            jobs.push(job);
        });
        let added = f.queued - before;
        if f.writing {
            self.lagging += added;
            self.backlog.add(added);
        } else {
            self.idle += added;
        }
        if let picker::Received::Complete {
            contributors,
            senders,
        } = outcome
        {
            // Whatever still waits (an odd block the cursor could not place) is of no use:
            // the piece fails its length check in the writer and is fetched again.
            f.cursor = InOrder::new(0);
            f.finish = Some(Senders {
                contributors,
                blocks: senders,
            });
        }
        let wake = if !f.writing && (f.finish.is_some() || f.queued >= WAKE_BYTES) {
            Some(r.index)
        } else if self.idle > IDLE_BYTES {
            self.fullest_idle()
        } else {
            None
        };
        if let Some(index) = wake {
            self.wake_writer(index);
        }
        Received::Stored { wake }
    }

    /// The piece with the most bytes queued for a writer not yet woken.
    fn fullest_idle(&self) -> Option<u32> {
        self.pieces
            .iter()
            .filter(|(_, f)| !f.writing && f.queued > 0)
            .max_by_key(|(_, f)| f.queued)
            .map(|(index, _)| *index)
    }

    /// Piece `index`'s queue now belongs to a running writer (the caller starts it).
    fn wake_writer(&mut self, index: u32) {
        let Some(f) = self.pieces.get_mut(&index) else {
            return;
        };
        f.writing = true;
        self.idle = self.idle.saturating_sub(f.queued);
        self.lagging += f.queued;
        self.backlog.add(f.queued);
        self.writers += 1;
    }

    /// For the writer of piece `index`: its next blocks (into `batch`, empty on entry), or
    /// its end. On the first call (`first`) the writer gets the piece's hash state in `hash`
    /// and on `Done` hands it back.
    pub(crate) fn writer_take(
        &mut self,
        index: u32,
        batch: &mut Vec<Job>,
        hash: &mut PieceHash,
        first: bool,
    ) -> Take {
        let Some(f) = self.pieces.get_mut(&index) else {
            self.writers = self.writers.saturating_sub(1);
            return Take::Done;
        };
        if first {
            std::mem::swap(hash, &mut f.hash);
        }
        // The writer is done with what it took before.
        let done = std::mem::take(&mut f.taken);
        if !f.jobs.is_empty() {
            let mut n = 0;
            let mut bytes = 0;
            for job in &f.jobs {
                if n > 0 && bytes + job.held() > TAKE_BYTES {
                    break;
                }
                bytes += job.held();
                n += 1;
            }
            batch.extend(f.jobs.drain(..n));
            f.queued -= bytes;
            f.taken = bytes;
            self.writer_done(done);
            return Take::Blocks;
        }
        if let Some(senders) = f.finish.take() {
            self.pieces.remove(&index);
            self.writer_done(done);
            return Take::Finish(senders);
        }
        std::mem::swap(hash, &mut f.hash);
        f.writing = false;
        self.writers = self.writers.saturating_sub(1);
        self.writer_done(done);
        Take::Done
    }

    /// A writer finished with `bytes` it had taken: they leave the backlogs, and connections
    /// held back by this torrent's look again once it is back under `LAG_BYTES`.
    fn writer_done(&mut self, bytes: usize) {
        let behind = self.lagging > LAG_BYTES;
        self.written += bytes as u64;
        self.lagging = self.lagging.saturating_sub(bytes);
        self.backlog.sub(bytes);
        if behind && self.lagging <= LAG_BYTES {
            self.backlog.wake_held();
        }
    }

    /// Piece `index`, failed and held as hashing, is fetched again for its `bad` blocks
    /// alone (a v2 piece whose bad blocks a peer's block hashes named): the others are on
    /// disk and good, and are read back for its hash when the piece is written again
    /// (`InOrder::resumed`). False when the picker refused (the caller fails it whole).
    pub(crate) fn refetch_blocks(
        &mut self,
        index: u32,
        bad: &[u32],
        senders: &[Option<u64>],
    ) -> bool {
        if !self.picker.refetch_blocks(index, bad, senders) {
            return false;
        }
        let len = self.picker.piece_len(index);
        let blocks = self.picker.blocks_in(index);
        let good = (0..blocks).filter(|b| !bad.contains(b)).map(|b| {
            let begin = b * BLOCK_LEN;
            (begin, (len - begin).min(BLOCK_LEN))
        });
        let mut jobs = Vec::new();
        let cursor = InOrder::resumed(len, good, |job| jobs.push(job));
        let hash = PieceHash::new(self.v2.as_ref().and_then(|v| v.pieces.get(index as usize)));
        // Reread jobs hold no bytes: the flight joins no backlog until its blocks arrive.
        self.pieces.insert(
            index,
            Flight {
                cursor,
                jobs,
                queued: 0,
                taken: 0,
                finish: None,
                hash,
                writing: false,
            },
        );
        true
    }

    /// Keeps a failed attempt of piece `index` for blame once it verifies; the number of its
    /// attempts now kept (0: no room, it is not kept).
    pub(crate) fn keep_failed(&mut self, index: u32, attempt: Attempt) -> usize {
        if !self.failed.contains_key(&index) && self.failed.len() >= PIECES_KEPT {
            return 0;
        }
        self.last_senders
            .insert(index, (Instant::now(), attempt.senders.clone()));
        let kept = self.failed.entry(index).or_default();
        if kept.len() >= ATTEMPTS_PER_PIECE {
            return kept.len() + 1;
        }
        kept.push(attempt);
        kept.len()
    }

    /// Connection `conn` (to `addr`) has ended: remembered when blocks it sent are still to
    /// be judged (in a piece being received or hashed, or in a failed attempt).
    pub(crate) fn sender_gone(&mut self, conn: u64, addr: SocketAddr) {
        let sent = |s: &[Option<u64>]| s.contains(&Some(conn));
        let judged = self.picker.sent_any(conn)
            || self.failed.values().flatten().any(|a| sent(&a.senders))
            || self
                .pieces
                .values()
                .any(|f| f.finish.as_ref().is_some_and(|s| sent(&s.blocks)));
        if !judged {
            return;
        }
        if self.gone.len() >= GONE_KEPT {
            self.gone.remove(0);
        }
        self.gone.push((conn, addr));
    }

    /// The address of ended connection `conn`, when it was remembered.
    pub(crate) fn gone_sender(&self, conn: u64) -> Option<SocketAddr> {
        self.gone.iter().find(|(c, _)| *c == conn).map(|(_, a)| *a)
    }

    /// The failed attempts of piece `index`, which has verified.
    pub(crate) fn take_failed(&mut self, index: u32) -> Vec<Attempt> {
        self.last_senders.remove(&index);
        self.failed.remove(&index).unwrap_or_default()
    }

    /// The blocks connection `conn` is not to be asked for now (`last_senders`): those it
    /// sent of a piece that failed less than `RETRY_ELSEWHERE` ago, when another peer has
    /// that piece. Empty unless pieces failed.
    pub(crate) fn retry_elsewhere(&self, conn: u64, now: Instant) -> Vec<(u32, u32)> {
        let mut out = Vec::new();
        for (index, (at, senders)) in &self.last_senders {
            let others = self
                .picker
                .availability()
                .get(*index as usize)
                .is_some_and(|n| *n >= 2);
            if !others || now.duration_since(*at) >= RETRY_ELSEWHERE {
                continue;
            }
            for (b, s) in senders.iter().enumerate() {
                if *s == Some(conn) {
                    out.push((*index, b as u32 * BLOCK_LEN));
                }
            }
        }
        out
    }

    /// For a writer that took its piece's `Finish`: the piece is verified or failed now.
    pub(crate) fn writer_ended(&mut self) {
        self.writers = self.writers.saturating_sub(1);
    }

    /// True while a writer may still write to the files or verify a piece (a clean stop
    /// waits for them before its last resume point).
    pub(crate) fn writers_running(&self) -> bool {
        self.writers > 0
    }

    /// True while this torrent's running writers have more than `LAG_BYTES` to catch up on,
    /// or the session's more than its budget: connections then request nothing (a writer
    /// that catches up, a verified piece or the next tick lets them go on).
    pub(crate) fn writers_behind(&self) -> bool {
        self.lagging > LAG_BYTES || self.backlog.over()
    }

    /// What a connection held back by `writers_behind` waits on (`WriteBacklog::notified`).
    pub(crate) fn caught_up(&self) -> Arc<WriteBacklog> {
        Arc::clone(&self.backlog)
    }

    /// Bytes held for pieces in flight: queued for their writers or waiting for a gap.
    #[cfg(test)]
    pub(crate) fn held_bytes(&self) -> usize {
        self.pieces
            .values()
            .map(|f| f.queued + f.cursor.waiting_bytes())
            .sum()
    }
}

impl Drop for Download {
    /// Whatever its writers had not taken leaves the session's budget with it.
    fn drop(&mut self) {
        self.backlog.sub(self.lagging);
    }
}

#[cfg(test)]
mod tests;
