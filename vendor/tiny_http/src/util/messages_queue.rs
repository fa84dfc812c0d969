//! The queue between the readers and the application's workers (sre-kata
//! patch: upstream's `unblock` and `pop_timeout` are gone, unused here; the
//! first made `recv` report an error that was none, and the second waited
//! its full timeout again on every wake-up).

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

pub(crate) struct MessagesQueue<T: Send> {
    queue: Mutex<VecDeque<T>>,
    condvar: Condvar,
}

impl<T: Send> MessagesQueue<T> {
    pub(crate) fn with_capacity(capacity: usize) -> Arc<MessagesQueue<T>> {
        Arc::new(MessagesQueue {
            queue: Mutex::new(VecDeque::with_capacity(capacity)),
            condvar: Condvar::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, VecDeque<T>> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Pushes an element to the queue, and wakes one waiting `pop`.
    pub(crate) fn push(&self, value: T) {
        self.lock().push_back(value);
        self.condvar.notify_one();
    }

    /// Pops an element; blocks until one is there.
    pub(crate) fn pop(&self) -> T {
        let mut queue = self.lock();
        loop {
            if let Some(value) = queue.pop_front() {
                return value;
            }
            queue = self
                .condvar
                .wait(queue)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Pops an element if one is there.
    pub(crate) fn try_pop(&self) -> Option<T> {
        self.lock().pop_front()
    }
}
