//! sre-kata patch: every request the library has read, counted from its
//! head to its answer, so that a draining server sees requests still queued
//! for a worker, not only those a worker holds.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) pending: AtomicUsize,
    pub(crate) answered: AtomicU64,
    /// Requests read and never answered: read behind an answer that ended
    /// the connection, which RFC 9112 leaves to the client to send again.
    pub(crate) dropped: AtomicU64,
}

/// One request, from its head to its answer. Dropping it unanswered (a
/// panic, a broken connection) still ends it as pending.
pub(crate) struct Ticket {
    counters: Arc<Counters>,
}

impl Ticket {
    pub(crate) fn issue(counters: &Arc<Counters>) -> Ticket {
        counters.pending.fetch_add(1, Ordering::SeqCst);
        Ticket {
            counters: Arc::clone(counters),
        }
    }

    /// Counts the request as answered. Called before the response's bytes
    /// go out, so that a client that has its answer sees it counted.
    pub(crate) fn answered(self) {
        self.counters.answered.fetch_add(1, Ordering::SeqCst);
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.counters.pending.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ticket_is_pending_until_it_is_answered_or_dropped() {
        let counters = Arc::new(Counters::default());
        let answered = Ticket::issue(&counters);
        let dropped = Ticket::issue(&counters);
        assert_eq!(counters.pending.load(Ordering::SeqCst), 2);
        answered.answered();
        assert_eq!(counters.pending.load(Ordering::SeqCst), 1);
        assert_eq!(counters.answered.load(Ordering::SeqCst), 1);
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
            let _held = dropped;
            panic!("unwinding");
        }));
        assert_eq!(counters.pending.load(Ordering::SeqCst), 0);
        assert_eq!(counters.answered.load(Ordering::SeqCst), 1);
    }
}
