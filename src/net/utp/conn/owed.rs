//! What a connection owes its peer and its reader: an ACK, a wake-up, our FIN.

/// The ACK and the reader's wake-up that wait for the end of a batch of datagrams.
///
/// Invariant (why the fields are private): `queued` is true exactly while the connection is
/// on the socket's list of connections owing something (`UtpSocket::flush_acks`): `enqueue`
/// says yes once until `dequeue`, so the list holds a connection at most once.
#[derive(Default)]
pub(super) struct Owed {
    ack: bool,
    read: bool,
    queued: bool,
}

impl Owed {
    /// Data or a FIN came: an ACK is owed.
    #[inline]
    pub(super) fn ack_due(&mut self) {
        self.ack = true;
    }

    /// A packet carrying our ACK went out.
    #[inline]
    pub(super) fn ack_sent(&mut self) {
        self.ack = false;
    }

    #[inline]
    pub(super) fn ack(&self) -> bool {
        self.ack
    }

    /// In-order data arrived: the reader is woken once per batch, not once per datagram.
    #[inline]
    pub(super) fn data_ready(&mut self) {
        self.read = true;
    }

    /// Whether the connection must go on the socket's list (something is owed and it is not
    /// there yet).
    #[inline]
    pub(super) fn enqueue(&mut self) -> bool {
        (self.ack || self.read) && !std::mem::replace(&mut self.queued, true)
    }

    /// Off the list; returns whether the reader is owed its wake-up.
    #[inline]
    pub(super) fn dequeue(&mut self) -> bool {
        self.queued = false;
        std::mem::take(&mut self.read)
    }
}

/// Our FIN: asked for by `shutdown`, sent once the written bytes are, then acknowledged. It
/// only moves forward, so a second shutdown never sends it again.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fin {
    #[default]
    No,
    Queued,
    Sent,
    Acked,
}

impl Fin {
    pub(super) fn queue(&mut self) {
        if *self == Fin::No {
            *self = Fin::Queued;
        }
    }

    /// Shutdown was asked for (writing is over).
    #[inline]
    pub(super) fn asked(self) -> bool {
        self != Fin::No
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_is_listed_once_until_its_batch_is_done() {
        let mut o = Owed::default();
        assert!(!o.enqueue(), "nothing owed");
        o.data_ready();
        assert!(o.enqueue());
        o.ack_due();
        assert!(!o.enqueue(), "listed already");
        assert!(o.dequeue());
        assert!(!o.dequeue(), "the reader is woken once");
        assert!(o.ack());
        assert!(o.enqueue(), "the ACK is still owed");
        o.ack_sent();
        o.dequeue();
        assert!(!o.enqueue());
    }

    #[test]
    fn the_fin_only_moves_forward() {
        let mut f = Fin::default();
        assert!(!f.asked());
        f.queue();
        assert_eq!(f, Fin::Queued);
        f = Fin::Sent;
        f.queue();
        assert_eq!(f, Fin::Sent, "a second shutdown does not send it again");
        f = Fin::Acked;
        f.queue();
        assert_eq!(f, Fin::Acked);
        assert!(f.asked());
    }
}
