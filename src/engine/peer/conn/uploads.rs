//! The peer's requests to us, from queued to read to sent (`upload.rs` drives them).

use std::collections::VecDeque;

use crate::protocol::geometry::BlockRef;

/// Most of their requests we queue for upload; beyond it they are rejected (fast extension)
/// or ignored. Matches the `reqq` we advertise.
pub(crate) const MAX_UPLOAD_QUEUE: usize = crate::engine::peer::connect::OUR_REQQ;

/// Invariant (why the field is private): a request waits in `queued` until it is taken to be
/// read and sent, or leaves on a cancel or a choke; at most `MAX_UPLOAD_QUEUE` wait.
#[derive(Default)]
pub(crate) struct Uploads {
    queued: VecDeque<BlockRef>,
}

impl Uploads {
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.queued.is_empty()
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

    /// The peer cancelled `r`: it goes unless it was taken to be sent already.
    pub(crate) fn cancel(&mut self, r: BlockRef) {
        self.queued.retain(|x| *x != r);
    }

    /// Every request waiting (we choke the peer).
    pub(crate) fn take_all(&mut self) -> Vec<BlockRef> {
        self.queued.drain(..).collect()
    }

    /// The next `n` requests, to be read and sent.
    pub(crate) fn batch_to_read(&mut self, n: usize) -> Vec<BlockRef> {
        self.queued.drain(..self.queued.len().min(n)).collect()
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
    fn a_request_waits_until_taken_and_a_cancel_or_choke_finds_it_there() {
        let mut u = Uploads::default();
        assert!(u.is_empty());
        for i in 0..4 {
            assert!(u.queue(b(i)));
        }
        assert_eq!(u.batch_to_read(2), vec![b(0), b(1)]);
        // Taken to be sent: too late to cancel.
        u.cancel(b(0));
        u.cancel(b(3));
        assert_eq!(u.queued().copied().collect::<Vec<_>>(), vec![b(2)]);
        assert!(u.queue(b(5)));
        assert_eq!(u.take_all(), vec![b(2), b(5)]);
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
