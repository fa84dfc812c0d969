//! sre-kata patch: one connection, as its own thread and the worker that
//! answers its current request share it.
//!
//! Upstream read and queued a connection's requests as fast as they came,
//! and the workers wrote responses with blocking writes, in turn. A client
//! that pipelined requests and never read the answers therefore held every
//! worker that had one of its requests, each blocked in `write` until the
//! socket's timeout, and every other client waited behind them.
//!
//! Here a connection hands the workers one request at a time: its thread
//! hands out the next only once the previous is answered ([`Conn::hand_out`],
//! [`Conn::wait_until_answered`]). A worker never waits on the client: it
//! sends what the socket takes at once ([`Conn::deliver`]); what does not
//! fit goes to the connection's thread, which sends it within the write
//! timeout ([`Conn::flush_leftover`]) and ends the connection. A worker's
//! time on a request never depends on how fast its client reads.
//!
//! [`Conn::phase`] says what the connection is doing, so that the
//! [registry](super::registry) can shed idle connections under overload.

use crate::connection::Connection;
use crate::util::sys;
use std::io;
use std::net::Shutdown;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::thread::{self, Thread};
use std::time::Duration;

/// What a connection is doing, with the time it started (milliseconds
/// since the registry's epoch). A request with the application is tracked
/// apart ([`Conn::is_busy`]): the connection's thread already reads the next
/// head meanwhile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Waiting for the first byte of a request head.
    Idle { since_ms: u64 },
    /// Part of a request head has arrived.
    Head { since_ms: u64 },
    /// Shed by the registry: the connection is ending.
    Shed,
}

impl Phase {
    fn pack(self) -> u64 {
        match self {
            Phase::Idle { since_ms } => since_ms << 2,
            Phase::Head { since_ms } => since_ms << 2 | 1,
            Phase::Shed => 2,
        }
    }

    fn unpack(word: u64) -> Phase {
        match word & 3 {
            0 => Phase::Idle {
                since_ms: word >> 2,
            },
            1 => Phase::Head {
                since_ms: word >> 2,
            },
            _ => Phase::Shed,
        }
    }
}

/// What became of a response a worker delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Delivery {
    /// All of it is in the socket's buffer.
    Sent,
    /// The socket took part of it; the connection's thread sends the rest,
    /// and the connection ends after it.
    HandedOver,
}

pub(crate) struct Conn {
    socket: Connection,
    reader: Thread,
    phase: AtomicU64,
    busy: AtomicBool,
    ending: AtomicBool,
    leftover: Mutex<Vec<u8>>,
}

impl Conn {
    /// A connection on `socket`, read by the calling thread, idle since
    /// `now_ms`.
    pub(crate) fn for_current_thread(socket: Connection, now_ms: u64) -> Conn {
        Conn {
            socket,
            reader: thread::current(),
            phase: AtomicU64::new(Phase::Idle { since_ms: now_ms }.pack()),
            busy: AtomicBool::new(false),
            ending: AtomicBool::new(false),
            leftover: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn socket(&self) -> &Connection {
        &self.socket
    }

    pub(crate) fn phase(&self) -> Phase {
        Phase::unpack(self.phase.load(Ordering::Acquire))
    }

    /// The connection's thread waits for the next request head. Returns
    /// false if the connection was shed.
    pub(crate) fn idle(&self, now_ms: u64) -> bool {
        self.move_to(Phase::Idle { since_ms: now_ms })
    }

    /// The first byte of a head arrived. Returns false if the connection was
    /// shed meanwhile, and the head must be dropped.
    pub(crate) fn head_started(&self, now_ms: u64) -> bool {
        self.move_to(Phase::Head { since_ms: now_ms })
    }

    fn move_to(&self, phase: Phase) -> bool {
        self.phase
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |word| {
                (Phase::unpack(word) != Phase::Shed).then_some(phase.pack())
            })
            .is_ok()
    }

    /// Ends the connection if it is still in `seen`, the phase the registry
    /// judged it by; false if it moved on meanwhile. Its thread wakes from
    /// its read to the end of the stream.
    pub(crate) fn shed(&self, seen: Phase) -> bool {
        let shed = self
            .phase
            .compare_exchange(
                seen.pack(),
                Phase::Shed.pack(),
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_ok();
        if shed {
            self.end();
        }
        shed
    }

    /// True while a request of this connection is with the application.
    pub(crate) fn is_busy(&self) -> bool {
        self.busy.load(Ordering::Acquire)
    }

    /// True once no request may follow the current one.
    pub(crate) fn is_ending(&self) -> bool {
        self.ending.load(Ordering::Acquire)
    }

    /// The connection's thread hands a request to the application.
    pub(crate) fn hand_out(&self) {
        self.busy.store(true, Ordering::Release);
    }

    /// The worker is done with the request (answered, or dropped while
    /// unwinding): the connection's thread may go on.
    pub(crate) fn answered(&self) {
        self.busy.store(false, Ordering::Release);
        self.reader.unpark();
    }

    /// The connection's thread waits for the request it handed out.
    pub(crate) fn wait_until_answered(&self) {
        while self.is_busy() {
            thread::park();
        }
    }

    /// Sends a response without blocking (a worker calls it). `last` says
    /// the connection ends after it. What the socket does not take now is
    /// left to the connection's thread; an error ends the connection.
    pub(crate) fn deliver(&self, bytes: &[u8], last: bool) -> io::Result<Delivery> {
        let sent = match sys::send_now(&self.socket, bytes) {
            Ok(sent) => sent,
            Err(error) => {
                self.end();
                return Err(error);
            }
        };
        if sent == bytes.len() {
            if last {
                self.end();
            }
            return Ok(Delivery::Sent);
        }
        self.lock_leftover().extend_from_slice(&bytes[sent..]);
        self.ending.store(true, Ordering::Release);
        // The thread may be blocked reading the next head: wake it.
        let _ = self.socket.shutdown(Shutdown::Read);
        Ok(Delivery::HandedOver)
    }

    /// Sends what a worker could not, blocking for at most the socket's
    /// write timeout (the connection's thread calls it).
    pub(crate) fn flush_leftover(&self) {
        let leftover = std::mem::take(&mut *self.lock_leftover());
        if !leftover.is_empty() && self.socket.write_all_blocking(&leftover).is_err() {
            self.end();
        }
    }

    /// Writes an answer of the connection's own thread (an error the
    /// library answers itself), blocking for at most the write timeout.
    pub(crate) fn write_blocking(&self, bytes: &[u8]) -> io::Result<()> {
        self.socket.write_all_blocking(bytes)
    }

    /// The read timeout for the rest of a head, or back to the idle timeout.
    pub(crate) fn set_read_timeout(&self, timeout: Duration) -> io::Result<()> {
        self.socket.set_read_timeout(timeout)
    }

    /// No request may follow; the client sees the end once what was sent is
    /// out, and the connection's thread wakes from its read.
    pub(crate) fn end(&self) {
        self.ending.store(true, Ordering::Release);
        let _ = self.socket.shutdown(Shutdown::Both);
    }

    fn lock_leftover(&self) -> std::sync::MutexGuard<'_, Vec<u8>> {
        self.leftover.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::net::{TcpListener, TcpStream};

    fn pair() -> (Conn, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        (Conn::for_current_thread(server.into(), 0), client)
    }

    #[test]
    fn phases_round_trip_and_a_shed_connection_stays_shed() {
        for phase in [
            Phase::Idle { since_ms: 0 },
            Phase::Idle { since_ms: 123_456 },
            Phase::Head { since_ms: 7 },
            Phase::Shed,
        ] {
            assert_eq!(Phase::unpack(phase.pack()), phase);
        }
        let (conn, _client) = pair();
        assert!(conn.head_started(5));
        assert!(!conn.shed(Phase::Idle { since_ms: 0 }), "it moved on");
        assert!(conn.shed(Phase::Head { since_ms: 5 }));
        assert!(!conn.idle(9), "shed is for good");
        assert!(!conn.head_started(9));
        assert!(conn.is_ending());
    }

    #[test]
    fn a_response_that_does_not_fit_is_handed_over_and_ends_the_connection() {
        let (conn, mut client) = pair();
        let big = vec![b'x'; 16 * 1024 * 1024];
        assert_eq!(conn.deliver(&big, false).unwrap(), Delivery::HandedOver);
        assert!(conn.is_ending());
        // The connection's thread sends the rest while the client reads.
        let reader = thread::spawn(move || {
            let mut got = Vec::new();
            client.read_to_end(&mut got).unwrap();
            got.len()
        });
        conn.flush_leftover();
        conn.end();
        assert_eq!(reader.join().unwrap(), big.len());
    }

    #[test]
    fn the_answer_wakes_the_connection_thread() {
        let (conn, _client) = pair();
        let conn = std::sync::Arc::new(conn);
        conn.hand_out();
        let worker = {
            let conn = std::sync::Arc::clone(&conn);
            thread::spawn(move || conn.answered())
        };
        conn.wait_until_answered();
        worker.join().unwrap();
        assert!(!conn.is_busy());
    }
}
