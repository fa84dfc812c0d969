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
//! fit goes to the connection's thread, which sends it
//! ([`Conn::flush_leftover`]) and ends the connection. A connection that
//! ends after an answer closes gently ([`Conn::linger`]): it waits, within
//! the write timeout, until the client has taken what was sent, because
//! closing a socket with unread input makes the kernel reset the connection
//! and throw away what the client has not read yet.
//!
//! [`Conn::phase`] says what the connection is doing, so that the
//! [registry](super::registry) can shed idle connections under overload, and
//! a draining server can wait for requests on their way in and answers on
//! their way out.

use crate::connection::Connection;
use crate::util::sys;
use std::io;
use std::net::Shutdown;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

/// What a connection is doing, with the time it began (milliseconds since
/// the registry's epoch) where that matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Waiting for the first byte of a request head; nothing is out.
    Idle { since_ms: u64 },
    /// Part of a request head has arrived; nothing is out.
    Head { since_ms: u64 },
    /// A request is with the application. The connection's thread may read
    /// the next head meanwhile.
    Busy,
    /// The connection ends after an answer: its thread sends what a worker
    /// could not, then waits for the client to take it.
    Sending { since_ms: u64 },
    /// Shed by the registry: the connection is ending.
    Shed,
}

/// A phase as stored: tag in bits 0-2, a generation in bits 3-22 (so that a
/// connection that left a phase and came back to the same one within a
/// millisecond is not mistaken for one that never moved), and the time in
/// the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Seen(u64);

const GENERATION_BITS: u32 = 20;
const TIME_SHIFT: u32 = 3 + GENERATION_BITS;

impl Phase {
    fn tag(self) -> u64 {
        match self {
            Phase::Idle { .. } => 0,
            Phase::Head { .. } => 1,
            Phase::Busy => 2,
            Phase::Sending { .. } => 3,
            Phase::Shed => 4,
        }
    }

    fn since_ms(self) -> u64 {
        match self {
            Phase::Idle { since_ms } | Phase::Head { since_ms } | Phase::Sending { since_ms } => {
                since_ms
            }
            Phase::Busy | Phase::Shed => 0,
        }
    }

    fn pack(self, generation: u64) -> u64 {
        let generation = generation & ((1 << GENERATION_BITS) - 1);
        self.since_ms() << TIME_SHIFT | generation << 3 | self.tag()
    }

    fn unpack(word: u64) -> Phase {
        let since_ms = word >> TIME_SHIFT;
        match word & 7 {
            0 => Phase::Idle { since_ms },
            1 => Phase::Head { since_ms },
            2 => Phase::Busy,
            3 => Phase::Sending { since_ms },
            _ => Phase::Shed,
        }
    }
}

fn generation(word: u64) -> u64 {
    (word >> 3) & ((1 << GENERATION_BITS) - 1)
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

/// How long a connection that ends after an answer waits between looks at
/// whether the client has taken it all.
const LINGER_STEP: Duration = Duration::from_millis(20);

pub(crate) struct Conn {
    socket: Connection,
    reader: Thread,
    epoch: Instant,
    phase: AtomicU64,
    ending: AtomicBool,
    leftover: Mutex<Vec<u8>>,
}

impl Conn {
    /// A connection on `socket`, read by the calling thread, idle from now;
    /// `epoch` is the registry's clock.
    pub(crate) fn for_current_thread(socket: Connection, epoch: Instant) -> Conn {
        let now_ms = epoch.elapsed().as_millis() as u64;
        Conn {
            socket,
            reader: thread::current(),
            epoch,
            phase: AtomicU64::new(Phase::Idle { since_ms: now_ms }.pack(0)),
            ending: AtomicBool::new(false),
            leftover: Mutex::new(Vec::new()),
        }
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    pub(crate) fn socket(&self) -> &Connection {
        &self.socket
    }

    pub(crate) fn phase(&self) -> Phase {
        self.seen().0
    }

    /// The phase, and the exact state it was seen in, for [`Conn::shed`].
    pub(crate) fn seen(&self) -> (Phase, Seen) {
        let word = self.phase.load(Ordering::Acquire);
        (Phase::unpack(word), Seen(word))
    }

    /// Moves to the phase `next` gives for the current one (`None`: stay).
    /// Returns the phase it was in.
    fn transition(&self, next: impl Fn(Phase) -> Option<Phase>) -> Phase {
        let word = self
            .phase
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |word| {
                next(Phase::unpack(word)).map(|phase| phase.pack(generation(word) + 1))
            })
            .unwrap_or_else(|word| word);
        Phase::unpack(word)
    }

    /// The connection's thread is about to read the next head (sre-kata's
    /// read-ahead: a request may still be out). Returns false if the
    /// connection was shed.
    pub(crate) fn idle(&self) -> bool {
        let now_ms = self.now_ms();
        let before = self.transition(|phase| match phase {
            Phase::Idle { .. } | Phase::Head { .. } => Some(Phase::Idle { since_ms: now_ms }),
            _ => None,
        });
        before != Phase::Shed
    }

    /// The first byte of a head arrived. Returns false if the connection was
    /// shed meanwhile, and the head must be dropped.
    pub(crate) fn head_started(&self) -> bool {
        let now_ms = self.now_ms();
        let before = self.transition(|phase| match phase {
            Phase::Idle { .. } => Some(Phase::Head { since_ms: now_ms }),
            _ => None,
        });
        before != Phase::Shed
    }

    /// The connection's thread hands a request to the application. Returns
    /// false if the connection was shed, and the request must be dropped.
    pub(crate) fn hand_out(&self) -> bool {
        let before = self.transition(|phase| match phase {
            Phase::Idle { .. } | Phase::Head { .. } => Some(Phase::Busy),
            _ => None,
        });
        matches!(before, Phase::Idle { .. } | Phase::Head { .. })
    }

    /// The connection's thread answers itself (an error the library
    /// answers): the connection ends after it. Returns false if it was shed.
    pub(crate) fn answer_last(&self) -> bool {
        self.ending.store(true, Ordering::Release);
        let now_ms = self.now_ms();
        let before = self.transition(|phase| match phase {
            Phase::Idle { .. } | Phase::Head { .. } => Some(Phase::Sending { since_ms: now_ms }),
            _ => None,
        });
        before != Phase::Shed
    }

    /// The worker is done with the request (answered, or dropped while
    /// unwinding): the connection's thread may go on. Idle time starts now;
    /// a connection that ends is sending what is left.
    pub(crate) fn answered(&self) {
        let now_ms = self.now_ms();
        let ending = self.is_ending();
        self.transition(|phase| match phase {
            Phase::Busy if ending => Some(Phase::Sending { since_ms: now_ms }),
            Phase::Busy => Some(Phase::Idle { since_ms: now_ms }),
            _ => None,
        });
        self.reader.unpark();
    }

    /// The connection's thread waits for the request it handed out.
    pub(crate) fn wait_until_answered(&self) {
        while self.phase() == Phase::Busy {
            thread::park();
        }
    }

    /// Ends the connection if it is still exactly as the registry saw it;
    /// false if it moved on meanwhile. Its thread wakes from its read to the
    /// end of the stream.
    pub(crate) fn shed(&self, seen: Seen) -> bool {
        let shed = self
            .phase
            .compare_exchange(
                seen.0,
                Phase::Shed.pack(generation(seen.0) + 1),
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_ok();
        if shed {
            self.end();
        }
        shed
    }

    /// True once no request may follow the current one.
    pub(crate) fn is_ending(&self) -> bool {
        self.ending.load(Ordering::Acquire)
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
                self.end_after_sending();
            }
            return Ok(Delivery::Sent);
        }
        self.lock_leftover().extend_from_slice(&bytes[sent..]);
        self.end_after_sending();
        Ok(Delivery::HandedOver)
    }

    /// No request may follow, but what was sent must still reach the
    /// client: wakes the connection's thread, if it is reading the next
    /// head, without touching the sending side.
    fn end_after_sending(&self) {
        self.ending.store(true, Ordering::Release);
        let _ = self.socket.shutdown(Shutdown::Read);
    }

    /// Sends what a worker could not, by `deadline` (the connection's
    /// thread calls it); gives up, ending the connection, after that.
    pub(crate) fn flush_leftover(&self, deadline: Instant) {
        let leftover = std::mem::take(&mut *self.lock_leftover());
        if !leftover.is_empty() && self.write_by(&leftover, deadline).is_err() {
            self.end();
        }
    }

    /// Writes `bytes` by `deadline`, blocking (the connection's thread's own
    /// answers and leftovers). Each blocking send waits at most what is left.
    pub(crate) fn write_by(&self, bytes: &[u8], deadline: Instant) -> io::Result<()> {
        let mut rest = bytes;
        while !rest.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(io::ErrorKind::TimedOut.into());
            }
            self.socket.set_write_timeout(left)?;
            match self.socket.write_blocking(rest) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => rest = &rest[n..],
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Waits, before closing after an answer, until the client has taken all
    /// that was sent (or `deadline`), reading and dropping what it sends
    /// meanwhile. Closing with unread input makes the kernel reset the
    /// connection and discard what the client has not read. The end of the
    /// stream waits too: data arriving after a FIN on a socket whose reading
    /// side is shut (which wakes this thread) is answered with a reset.
    pub(crate) fn linger(&self, deadline: Instant) {
        let mut scratch = [0u8; 4096];
        loop {
            // Whatever the client sent, dropped (the read side may be shut
            // already; queued bytes are still read, and a read never waits).
            while matches!(sys::recv_now(&self.socket, &mut scratch), Ok(1..)) {}
            let unsent = sys::unacknowledged(&self.socket).unwrap_or(0);
            if unsent == 0 || Instant::now() >= deadline {
                return;
            }
            thread::sleep(LINGER_STEP.min(deadline.saturating_duration_since(Instant::now())));
        }
    }

    /// The read timeout for the rest of a head, or back to the idle timeout.
    pub(crate) fn set_read_timeout(&self, timeout: Duration) -> io::Result<()> {
        self.socket.set_read_timeout(timeout)
    }

    /// No request may follow, and nothing more is sent: the client sees the
    /// end, and the connection's thread wakes from its read.
    pub(crate) fn end(&self) {
        self.ending.store(true, Ordering::Release);
        let _ = self.socket.shutdown(Shutdown::Both);
    }

    /// Puts the connection in `phase` (tests of the registry).
    #[cfg(test)]
    pub(crate) fn set_phase(&self, phase: Phase) {
        self.transition(|_| Some(phase));
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
    use std::sync::mpsc;
    use std::sync::Arc;

    fn pair() -> (Conn, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        (
            Conn::for_current_thread(server.into(), Instant::now()),
            client,
        )
    }

    const PATIENCE: Duration = Duration::from_secs(20);

    #[test]
    fn phases_round_trip_and_a_shed_connection_stays_shed() {
        for phase in [
            Phase::Idle { since_ms: 0 },
            Phase::Idle { since_ms: 123_456 },
            Phase::Head { since_ms: 7 },
            Phase::Busy,
            Phase::Sending { since_ms: 9 },
            Phase::Shed,
        ] {
            assert_eq!(Phase::unpack(phase.pack(5)), phase);
        }
        let (conn, _client) = pair();
        let (_, idle) = conn.seen();
        assert!(conn.head_started());
        assert!(!conn.shed(idle), "it moved on");
        let (_, head) = conn.seen();
        assert!(conn.shed(head));
        assert!(!conn.idle(), "shed is for good");
        assert!(!conn.head_started());
        assert!(!conn.hand_out());
        assert!(conn.is_ending());
    }

    #[test]
    fn a_connection_that_came_back_to_the_same_phase_is_not_shed() {
        let (conn, _client) = pair();
        let (_, seen) = conn.seen();
        // A whole request within the same millisecond, and back to idle.
        assert!(conn.head_started());
        assert!(conn.hand_out());
        conn.answered();
        assert!(conn.idle());
        assert!(!conn.shed(seen), "the registry judged an older state");
    }

    #[test]
    fn a_busy_or_sending_connection_stays_so_until_its_thread_moves_on() {
        let (conn, _client) = pair();
        assert!(conn.hand_out());
        // The thread reads ahead while the request is out: still busy.
        assert!(conn.idle());
        assert!(conn.head_started());
        assert_eq!(conn.phase(), Phase::Busy);
        conn.ending.store(true, Ordering::Release);
        conn.answered();
        assert!(matches!(conn.phase(), Phase::Sending { .. }));
    }

    #[test]
    fn a_response_that_does_not_fit_reaches_a_client_that_reads_late() {
        let (conn, mut client) = pair();
        let big = vec![b'x'; 8 * 1024 * 1024];
        assert!(conn.hand_out());
        assert_eq!(conn.deliver(&big, false).unwrap(), Delivery::HandedOver);
        conn.answered();
        assert!(conn.is_ending());
        // The client has pipelined more and reads only later: closing with
        // its bytes unread must not reset the connection.
        std::io::Write::write_all(&mut client, &[b'y'; 64 * 1024]).unwrap();
        let reader = thread::spawn(move || {
            thread::sleep(Duration::from_millis(300));
            let mut got = Vec::new();
            client.read_to_end(&mut got).map(|_| got.len())
        });
        let deadline = Instant::now() + PATIENCE;
        conn.flush_leftover(deadline);
        conn.linger(deadline);
        drop(conn);
        assert_eq!(reader.join().unwrap().unwrap(), big.len());
    }

    #[test]
    fn the_answer_wakes_the_connection_thread() {
        // The connection's thread is the one that made it.
        let (made, conn) = mpsc::channel();
        let (done, waited) = mpsc::channel();
        let reader = thread::spawn(move || {
            let (conn, client) = pair();
            let conn = Arc::new(conn);
            assert!(conn.hand_out());
            made.send(Arc::clone(&conn)).unwrap();
            conn.wait_until_answered();
            let _ = done.send(());
            drop(client);
        });
        let conn: Arc<Conn> = conn.recv_timeout(PATIENCE).unwrap();
        conn.answered();
        waited.recv_timeout(PATIENCE).expect("woken");
        reader.join().unwrap();
        assert!(matches!(conn.phase(), Phase::Idle { .. }));
    }
}
