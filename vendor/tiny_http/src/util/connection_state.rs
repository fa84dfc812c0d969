//! sre-kata patch: what a connection's reading thread and the threads
//! answering its requests share.
//!
//! Upstream read the next request of a plain-HTTP connection as soon as the
//! previous one was parsed, so a client pipelining without reading answers
//! queued requests without bound. Here at most `MAX_IN_FLIGHT` requests of
//! one connection are unanswered at a time, and a response that could not be
//! written, or that ends the connection (`Connection: close`), shuts the
//! socket down, so that the client sees the end at once and the reading
//! thread, blocked in a read, wakes to EOF. Waiting is a park of the reading
//! thread, and finishing a response touches only atomics unless the reader
//! waits or the connection ends: no syscall per request.

use crate::connection::Connection;
use std::net::Shutdown;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::{self, Thread};

/// Unanswered requests allowed per connection before its reader waits.
pub(crate) const MAX_IN_FLIGHT: usize = 8;

pub(crate) struct ConnectionState {
    in_flight: AtomicUsize,
    broken: AtomicBool,
    limit: usize,
    reader: Thread,
    // A duplicate of the socket, to shut it down from any thread.
    socket: Connection,
}

impl ConnectionState {
    /// State for a connection on `socket` read by the calling thread,
    /// allowing `limit` unanswered requests at a time.
    pub(crate) fn for_current_thread(limit: usize, socket: Connection) -> ConnectionState {
        ConnectionState {
            in_flight: AtomicUsize::new(0),
            broken: AtomicBool::new(false),
            limit,
            reader: thread::current(),
            socket,
        }
    }

    /// A request was handed to the application.
    pub(crate) fn started(&self) {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
    }

    /// A request was answered; `keep_going` is false if its response failed
    /// or ended the connection.
    pub(crate) fn finished(&self, keep_going: bool) {
        if !keep_going {
            self.broken.store(true, Ordering::Release);
            // Bytes already written still go out before the FIN.
            let _ = self.socket.shutdown(Shutdown::Both);
        }
        let before = self.in_flight.fetch_sub(1, Ordering::AcqRel);
        if before == self.limit || !keep_going {
            self.reader.unpark();
        }
    }

    /// True once a response failed or ended the connection.
    pub(crate) fn is_broken(&self) -> bool {
        self.broken.load(Ordering::Acquire)
    }

    /// Called by the reader: waits while the connection has `limit`
    /// unanswered requests, and returns false if it broke meanwhile.
    pub(crate) fn wait_for_room(&self) -> bool {
        while self.in_flight.load(Ordering::Acquire) >= self.limit && !self.is_broken() {
            thread::park();
        }
        !self.is_broken()
    }
}
