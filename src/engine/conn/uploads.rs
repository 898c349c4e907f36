//! The peer's requests to us, from queued to read to sent (`upload.rs` drives them).

use std::collections::VecDeque;

use bytes::Bytes;

use crate::engine::picker::BlockRef;

/// Most of their requests we queue for upload; beyond it they are rejected (fast extension)
/// or ignored. Matches the `reqq` we advertise.
pub(crate) const MAX_UPLOAD_QUEUE: usize = crate::engine::connect::OUR_REQQ;

/// Invariant (why the fields are private): a request is in `queued` (not read yet) or in
/// `ready` (read from disk, waiting for the up limiter), never both, and leaves either on a
/// cancel or a choke; at most `MAX_UPLOAD_QUEUE` wait in `queued`.
#[derive(Default)]
pub(crate) struct Uploads {
    queued: VecDeque<BlockRef>,
    ready: VecDeque<(BlockRef, Bytes)>,
}

impl Uploads {
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.queued.is_empty() && self.ready.is_empty()
    }

    #[inline]
    pub(crate) fn has_ready(&self) -> bool {
        !self.ready.is_empty()
    }

    #[cfg(test)]
    pub(crate) fn queued(&self) -> impl Iterator<Item = &BlockRef> {
        self.queued.iter()
    }

    /// Queues a request; false when the queue is full.
    pub(crate) fn queue(&mut self, r: BlockRef) -> bool {
        if self.queued.len() >= MAX_UPLOAD_QUEUE {
            return false;
        }
        self.queued.push_back(r);
        true
    }

    /// The peer cancelled `r`: it goes, read or not.
    pub(crate) fn cancel(&mut self, r: BlockRef) {
        self.queued.retain(|x| *x != r);
        self.ready.retain(|(x, _)| *x != r);
    }

    /// Every request, read or not (we choke the peer): the read ones first.
    pub(crate) fn take_all(&mut self) -> Vec<BlockRef> {
        let mut all: Vec<BlockRef> = self.ready.drain(..).map(|(r, _)| r).collect();
        all.extend(self.queued.drain(..));
        all
    }

    /// The next `n` requests to read from disk; they are back with `read` once read.
    pub(crate) fn batch_to_read(&mut self, n: usize) -> Vec<BlockRef> {
        self.queued.drain(..self.queued.len().min(n)).collect()
    }

    pub(crate) fn read(&mut self, blocks: impl IntoIterator<Item = (BlockRef, Bytes)>) {
        self.ready.extend(blocks);
    }

    pub(crate) fn next_ready(&mut self) -> Option<(BlockRef, Bytes)> {
        self.ready.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(index: u32) -> BlockRef {
        BlockRef {
            index,
            begin: 0,
            length: 10,
        }
    }

    #[test]
    fn a_request_is_queued_or_ready_and_a_cancel_finds_it_in_either() {
        let mut u = Uploads::default();
        assert!(u.is_empty());
        for i in 0..4 {
            assert!(u.queue(b(i)));
        }
        let batch = u.batch_to_read(2);
        assert_eq!(batch, vec![b(0), b(1)]);
        u.read(
            batch
                .into_iter()
                .map(|r| (r, Bytes::from_static(b"0123456789"))),
        );
        assert!(u.has_ready());
        u.cancel(b(0));
        u.cancel(b(3));
        assert_eq!(u.queued().copied().collect::<Vec<_>>(), vec![b(2)]);
        assert_eq!(u.next_ready().map(|(r, _)| r), Some(b(1)));
        assert!(u.next_ready().is_none());
        assert!(u.queue(b(5)));
        u.read([(b(6), Bytes::new())]);
        assert_eq!(u.take_all(), vec![b(6), b(2), b(5)]);
        assert!(u.is_empty());
    }

    #[test]
    fn the_queue_is_bounded() {
        let mut u = Uploads::default();
        for i in 0..MAX_UPLOAD_QUEUE as u32 {
            assert!(u.queue(b(i)));
        }
        assert!(!u.queue(b(u32::MAX)));
        // Blocks being read do not count against the queue.
        u.batch_to_read(1);
        assert!(u.queue(b(u32::MAX)));
    }
}
