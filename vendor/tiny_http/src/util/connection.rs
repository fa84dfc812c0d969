//! sre-kata patch: one connection, as its own thread (the reader), the
//! worker answering its current request, and the registry that may close
//! it to make room share it.
//!
//! Upstream read and queued a connection's requests as fast as they came,
//! and the workers wrote responses with blocking writes, in turn: a client
//! that pipelined and never read held every worker that had one of its
//! requests. Here a connection hands the workers one request at a time,
//! and a worker never waits on the client: it sends what the socket takes
//! at once ([`Connection::deliver`]), and the reader sends the rest
//! ([`Connection::flush_leftover`]) and closes gently
//! ([`Connection::linger`]).
//!
//! # The lifecycle
//!
//! What a connection is doing is one [`Phase`], in one atomic word; every
//! change is one of the transitions below, made by the one party the table
//! names, with a compare-and-swap, so that no two parties ever disagree.
//!
//! | Phase | Meaning | Changed by, and how |
//! |---|---|---|
//! | `Waiting { since }` | nothing out, no byte of a head yet: idle since `since` | reader, part of a head: `Reading { now }` ([`Connection::head_started`]); reader, a whole head: `Ready` ([`Connection::head_complete`]); registry: `Shed` |
//! | `Reading { since }` | part of a head, its first byte read at `since` | reader, the head whole: `Ready`; registry: `Shed` |
//! | `Ready` | a whole head, read now or while the previous request was out | reader: `Out` ([`Connection::hand_out`]) |
//! | `Out { ahead, answering }` | a request is with the application. The reader may read the next head meanwhile: its first byte sets `ahead: Started { since }`, its end `ahead: Complete`. `answering` once the worker began writing the answer | worker, answered: `Closing { now }` if `last`, else `Waiting { now }`, `Reading { since }` or `Ready` as `ahead` says ([`Connection::answered`]) |
//! | `Closing { since }` | no request follows: the reader sends what the worker could not, and waits for the client to take it | nobody: the reader ends it |
//! | `Shed` | closed by the registry to make room | nobody |
//!
//! Every phase but `Closing` and `Shed` also carries `last`: the answer
//! to the request out, or to the next one handed out, ends the connection.
//! The reader sets it when it hands out a request that closes
//! (`Connection: close`, HTTP/1.0, a body, a refused head); the registry
//! sets it to make room without dropping anything ([`Connection::release`])
//! until the worker begins the answer; the worker sets it when the server
//! drains, or when the answer went out only in part, or not at all. Once
//! the worker has begun ([`Connection::begin_answer`]), the answer's
//! headers say whether it is the last, so only the worker itself may still
//! set it, for those two reasons.
//!
//! Which phases the registry may shed or release, and when, is one
//! function of the phase and the server's pressure:
//! [`crate::util::registry`]'s `verdict`. A request that was read is never
//! shed: only `Waiting` and `Reading` are. A request that crosses a shed
//! idle connection on the wire (sent as it closes, never read) is the
//! client's to send again, as with any keep-alive close (RFC 9112, 9.3.1).

use crate::socket::Socket;
use crate::util::sys;
use std::io;
use std::net::Shutdown;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

/// What a connection is doing; times are milliseconds since the registry's
/// epoch. See the module's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Waiting {
        since_ms: u64,
        last: bool,
    },
    Reading {
        since_ms: u64,
        last: bool,
    },
    Ready {
        last: bool,
    },
    Out {
        ahead: Ahead,
        answering: bool,
        last: bool,
    },
    Closing {
        since_ms: u64,
    },
    Shed,
}

/// The next head, read while a request is out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ahead {
    None,
    Started { since_ms: u64 },
    Complete,
}

/// A phase exactly as the registry saw it, for [`Connection::shed`] and
/// [`Connection::release`]: they act only if nothing changed since.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Seen(u64);

// The word: tag in bits 0-2, `last` in 3, `answering` in 4, `ahead` in
// 5-6, a generation in 7-23 (so that a connection that left a phase and
// came back to the same one within a millisecond is not taken for one that
// never moved), and the time in the rest.
const LAST: u64 = 1 << 3;
const ANSWERING: u64 = 1 << 4;
const AHEAD_SHIFT: u32 = 5;
const GENERATION_SHIFT: u32 = 7;
const GENERATION_BITS: u32 = 17;
const TIME_SHIFT: u32 = GENERATION_SHIFT + GENERATION_BITS;

impl Phase {
    fn pack(self, generation: u64) -> u64 {
        let (tag, last, answering, ahead, since_ms) = match self {
            Phase::Waiting { since_ms, last } => (0, last, false, 0, since_ms),
            Phase::Reading { since_ms, last } => (1, last, false, 0, since_ms),
            Phase::Ready { last } => (2, last, false, 0, 0),
            Phase::Out {
                ahead,
                answering,
                last,
            } => {
                let (ahead, since_ms) = match ahead {
                    Ahead::None => (0, 0),
                    Ahead::Started { since_ms } => (1, since_ms),
                    Ahead::Complete => (2, 0),
                };
                (3, last, answering, ahead, since_ms)
            }
            Phase::Closing { since_ms } => (4, false, false, 0, since_ms),
            Phase::Shed => (5, false, false, 0, 0),
        };
        let generation = generation & ((1 << GENERATION_BITS) - 1);
        since_ms << TIME_SHIFT
            | generation << GENERATION_SHIFT
            | ahead << AHEAD_SHIFT
            | if answering { ANSWERING } else { 0 }
            | if last { LAST } else { 0 }
            | tag
    }

    fn unpack(word: u64) -> Phase {
        let since_ms = word >> TIME_SHIFT;
        let last = word & LAST != 0;
        match word & 7 {
            0 => Phase::Waiting { since_ms, last },
            1 => Phase::Reading { since_ms, last },
            2 => Phase::Ready { last },
            3 => Phase::Out {
                ahead: match (word >> AHEAD_SHIFT) & 3 {
                    0 => Ahead::None,
                    1 => Ahead::Started { since_ms },
                    _ => Ahead::Complete,
                },
                answering: word & ANSWERING != 0,
                last,
            },
            4 => Phase::Closing { since_ms },
            _ => Phase::Shed,
        }
    }

    /// True while a request is with the application.
    pub(crate) fn is_out(self) -> bool {
        matches!(self, Phase::Out { .. })
    }
}

fn generation(word: u64) -> u64 {
    (word >> GENERATION_SHIFT) & ((1 << GENERATION_BITS) - 1)
}

/// What became of a response a worker delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Delivery {
    /// All of it is in the socket's buffer.
    Sent,
    /// The socket took part of it; the reader sends the rest, and the
    /// connection ends after it.
    HandedOver,
}

/// How long a connection that ends after an answer waits between looks at
/// whether the client has taken it all.
const LINGER_STEP: Duration = Duration::from_millis(20);

pub(crate) struct Connection {
    socket: Socket,
    reader: Thread,
    epoch: Instant,
    phase: AtomicU64,
    /// What a worker could not send at once, for the reader to send.
    leftover: Mutex<Vec<u8>>,
}

impl Connection {
    /// A connection on `socket`, read by the calling thread, waiting from
    /// now; `epoch` is the registry's clock.
    pub(crate) fn for_current_thread(socket: Socket, epoch: Instant) -> Connection {
        let now_ms = epoch.elapsed().as_millis() as u64;
        let waiting = Phase::Waiting {
            since_ms: now_ms,
            last: false,
        };
        Connection {
            socket,
            reader: thread::current(),
            epoch,
            phase: AtomicU64::new(waiting.pack(0)),
            leftover: Mutex::new(Vec::new()),
        }
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    pub(crate) fn socket(&self) -> &Socket {
        &self.socket
    }

    pub(crate) fn phase(&self) -> Phase {
        self.seen().0
    }

    /// The phase, and the exact state it was seen in.
    pub(crate) fn seen(&self) -> (Phase, Seen) {
        let word = self.phase.load(Ordering::Acquire);
        (Phase::unpack(word), Seen(word))
    }

    /// Moves to the phase `next` gives for the current one (`None`: stay).
    /// Returns the phase it was in, and whether it moved.
    fn transition(&self, next: impl Fn(Phase) -> Option<Phase>) -> (Phase, bool) {
        match self
            .phase
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |word| {
                next(Phase::unpack(word)).map(|phase| phase.pack(generation(word) + 1))
            }) {
            Ok(word) => (Phase::unpack(word), true),
            Err(word) => (Phase::unpack(word), false),
        }
    }

    /// Reader: the first byte of a head arrived (while waiting, or while a
    /// request is out). False if the connection is ending and the head must
    /// be dropped.
    pub(crate) fn head_started(&self) -> bool {
        let now_ms = self.now_ms();
        let (before, _) = self.transition(|phase| match phase {
            Phase::Waiting { last, .. } => Some(Phase::Reading {
                since_ms: now_ms,
                last,
            }),
            Phase::Out {
                ahead: Ahead::None,
                answering,
                last,
            } => Some(Phase::Out {
                ahead: Ahead::Started { since_ms: now_ms },
                answering,
                last,
            }),
            _ => None,
        });
        !matches!(before, Phase::Closing { .. } | Phase::Shed)
    }

    /// Reader: a whole head is read: `Ready`, or, while a request is out,
    /// `ahead: Complete`. A whole head is never shed. False if the
    /// connection was shed before, and the head must be dropped.
    pub(crate) fn head_complete(&self) -> bool {
        let (before, _) = self.transition(|phase| match phase {
            Phase::Waiting { last, .. } | Phase::Reading { last, .. } => {
                Some(Phase::Ready { last })
            }
            Phase::Out {
                answering, last, ..
            } => Some(Phase::Out {
                ahead: Ahead::Complete,
                answering,
                last,
            }),
            _ => None,
        });
        !matches!(before, Phase::Closing { .. } | Phase::Shed)
    }

    /// When the connection's idle time began, while it is waiting.
    pub(crate) fn idle_since(&self) -> Option<Instant> {
        match self.phase() {
            Phase::Waiting { since_ms, .. } => Some(self.epoch + Duration::from_millis(since_ms)),
            _ => None,
        }
    }

    /// Reader: hands a request to the application; `closes` if it ends the
    /// connection. Returns whether its answer is the last (it closes, or
    /// the registry released the connection), or `None` if the connection
    /// was shed and the request must be dropped.
    pub(crate) fn hand_out(&self, closes: bool) -> Option<bool> {
        // From these phases the transition always moves: what it moved
        // from says whether the request went out.
        let (before, _) = self.transition(|phase| match phase {
            Phase::Waiting { last, .. } | Phase::Reading { last, .. } | Phase::Ready { last } => {
                Some(Phase::Out {
                    ahead: Ahead::None,
                    answering: false,
                    last: last || closes,
                })
            }
            _ => None,
        });
        match before {
            Phase::Waiting { last, .. } | Phase::Reading { last, .. } | Phase::Ready { last } => {
                Some(last || closes)
            }
            _ => None,
        }
    }

    /// Worker: begins the answer; `closes` if the application wants the
    /// connection to end after it. Returns whether it is the last: its
    /// headers say so, and from now on that stays as it is.
    pub(crate) fn begin_answer(&self, closes: bool) -> bool {
        let (before, _) = self.transition(|phase| match phase {
            Phase::Out {
                ahead,
                answering: false,
                last,
            } => Some(Phase::Out {
                ahead,
                answering: true,
                last: last || closes,
            }),
            _ => None,
        });
        match before {
            Phase::Out { last, .. } => last || closes,
            _ => true,
        }
    }

    /// Registry: ends the connection after its next answer, if it is still
    /// exactly as seen and its answer has not begun. Nothing is dropped: a
    /// request out, or one whose head has started, is answered, with
    /// `Connection: close` (the registry releases a request out only when
    /// nothing was read ahead of it). False if it moved on, or was no
    /// longer free to.
    pub(crate) fn release(&self, seen: Seen) -> bool {
        let next = match Phase::unpack(seen.0) {
            Phase::Waiting { since_ms, .. } => Phase::Waiting {
                since_ms,
                last: true,
            },
            Phase::Reading { since_ms, .. } => Phase::Reading {
                since_ms,
                last: true,
            },
            Phase::Ready { .. } => Phase::Ready { last: true },
            Phase::Out {
                ahead,
                answering: false,
                ..
            } => Phase::Out {
                ahead,
                answering: false,
                last: true,
            },
            _ => return false,
        };
        self.phase
            .compare_exchange(
                seen.0,
                next.pack(generation(seen.0) + 1),
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_ok()
    }

    /// Registry: closes the connection now, if it is still exactly as seen,
    /// and waiting or reading a head (never with a request read). False if
    /// it moved on meanwhile. Its reader wakes from its read to the end of
    /// the stream.
    pub(crate) fn shed(&self, seen: Seen) -> bool {
        if !matches!(
            Phase::unpack(seen.0),
            Phase::Waiting { .. } | Phase::Reading { .. }
        ) {
            return false;
        }
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

    /// Worker: done with the request (answered, or dropped while
    /// unwinding). The connection waits, reads the head that started
    /// meanwhile, or hands out the one that arrived whole, or closes after
    /// the last answer; its reader wakes.
    pub(crate) fn answered(&self) {
        let now_ms = self.now_ms();
        self.transition(|phase| match phase {
            Phase::Out { last: true, .. } => Some(Phase::Closing { since_ms: now_ms }),
            Phase::Out {
                ahead: Ahead::None, ..
            } => Some(Phase::Waiting {
                since_ms: now_ms,
                last: false,
            }),
            Phase::Out {
                ahead: Ahead::Started { since_ms },
                ..
            } => Some(Phase::Reading {
                since_ms,
                last: false,
            }),
            Phase::Out {
                ahead: Ahead::Complete,
                ..
            } => Some(Phase::Ready { last: false }),
            _ => None,
        });
        self.reader.unpark();
    }

    /// Worker: the request is not answered after all (its answer could not
    /// be written, or the worker panicked): nothing may follow on the
    /// connection, or the next answer would pass for this one. It ends now.
    pub(crate) fn abandon(&self) {
        self.transition(|phase| match phase {
            Phase::Out {
                ahead, answering, ..
            } => Some(Phase::Out {
                ahead,
                answering,
                last: true,
            }),
            _ => None,
        });
        self.end();
    }

    /// Reader: waits for the request it handed out.
    pub(crate) fn wait_until_answered(&self) {
        while self.phase().is_out() {
            thread::park();
        }
    }

    /// True once no request may follow.
    pub(crate) fn is_ending(&self) -> bool {
        matches!(self.phase(), Phase::Closing { .. } | Phase::Shed)
    }

    /// Worker: sends an answer without blocking; `last` as
    /// [`Connection::begin_answer`] said. What the socket does not take now
    /// is left to the reader, and the connection ends after it; an error
    /// ends the connection.
    pub(crate) fn deliver(&self, bytes: &[u8], last: bool) -> io::Result<Delivery> {
        let sent = match sys::send_now(&self.socket, bytes) {
            Ok(sent) => sent,
            Err(error) => {
                // Nothing may follow an answer that did not go out.
                self.abandon();
                return Err(error);
            }
        };
        if sent == bytes.len() {
            if last {
                self.stop_reading();
            }
            return Ok(Delivery::Sent);
        }
        self.lock_leftover().extend_from_slice(&bytes[sent..]);
        // The answer went out without `Connection: close`, but the client
        // sees it whole before the end.
        self.transition(|phase| match phase {
            Phase::Out {
                ahead, answering, ..
            } => Some(Phase::Out {
                ahead,
                answering,
                last: true,
            }),
            _ => None,
        });
        self.stop_reading();
        Ok(Delivery::HandedOver)
    }

    /// No request may follow, but what was sent must still reach the
    /// client: wakes the reader from reading the next head, without
    /// touching the sending side.
    fn stop_reading(&self) {
        let _ = self.socket.shutdown(Shutdown::Read);
    }

    /// Reader: sends what a worker could not, by `deadline`; gives up,
    /// ending the connection, after that.
    pub(crate) fn flush_leftover(&self, deadline: Instant) {
        let leftover = std::mem::take(&mut *self.lock_leftover());
        if !leftover.is_empty() && self.write_by(&leftover, deadline).is_err() {
            self.end();
        }
    }

    /// Writes `bytes` by `deadline`, blocking (the reader's leftovers). Each
    /// blocking send waits at most what is left.
    fn write_by(&self, bytes: &[u8], deadline: Instant) -> io::Result<()> {
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

    /// Reader: waits, before closing after an answer, until the client has
    /// taken all that was sent (or `deadline`), reading and dropping what
    /// it sends meanwhile. Closing with unread input makes the kernel reset
    /// the connection and discard what the client has not read. A client
    /// that reset the connection takes nothing more: `SIOCOUTQ` still
    /// counts what it never will, so the connection's state is asked too,
    /// and a reset ends the wait at once.
    pub(crate) fn linger(&self, deadline: Instant) {
        let mut scratch = [0u8; 4096];
        loop {
            // Whatever the client sent, dropped (the read side may be shut
            // already; queued bytes are still read, and a read never waits),
            // a bounded amount per step, so that a client that keeps
            // sending cannot hold this thread past the deadline. An error
            // here is the reset itself.
            for _ in 0..64 {
                match sys::recv_now(&self.socket, &mut scratch) {
                    Ok(1..) => {}
                    Ok(0) => break,
                    Err(_) => return,
                }
            }
            let unsent = sys::unacknowledged(&self.socket).unwrap_or(0);
            if unsent == 0 || sys::is_closed(&self.socket) || Instant::now() >= deadline {
                return;
            }
            thread::sleep(LINGER_STEP.min(deadline.saturating_duration_since(Instant::now())));
        }
    }

    /// Bytes the client sent that are not read yet.
    pub(crate) fn unread(&self) -> usize {
        sys::unread(&self.socket).unwrap_or(0)
    }

    /// The read timeout for the rest of a head, or back to the idle one.
    pub(crate) fn set_read_timeout(&self, timeout: Duration) -> io::Result<()> {
        self.socket.set_read_timeout(timeout)
    }

    /// No request may follow, and nothing more is sent: the client sees the
    /// end, and the reader wakes from its read.
    pub(crate) fn end(&self) {
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
    use std::sync::atomic::AtomicBool;
    use std::sync::mpsc;
    use std::sync::Arc;

    fn pair() -> (Connection, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        (
            Connection::for_current_thread(server.into(), Instant::now()),
            client,
        )
    }

    const PATIENCE: Duration = Duration::from_secs(20);

    #[test]
    fn every_phase_round_trips_through_its_word() {
        let aheads = [
            Ahead::None,
            Ahead::Started { since_ms: 123_456 },
            Ahead::Complete,
        ];
        let mut phases = vec![Phase::Closing { since_ms: 9 }, Phase::Shed];
        for last in [false, true] {
            phases.push(Phase::Waiting { since_ms: 7, last });
            phases.push(Phase::Reading {
                since_ms: 1 << 39,
                last,
            });
            phases.push(Phase::Ready { last });
            for ahead in aheads {
                for answering in [false, true] {
                    phases.push(Phase::Out {
                        ahead,
                        answering,
                        last,
                    });
                }
            }
        }
        for phase in phases {
            assert_eq!(Phase::unpack(phase.pack(5)), phase);
            assert_eq!(generation(phase.pack((1 << GENERATION_BITS) + 3)), 3);
        }
    }

    #[test]
    fn a_request_follows_the_table_from_waiting_to_waiting() {
        let (conn, _client) = pair();
        assert!(matches!(conn.phase(), Phase::Waiting { last: false, .. }));
        assert!(conn.head_started());
        assert!(matches!(conn.phase(), Phase::Reading { last: false, .. }));
        assert_eq!(conn.hand_out(false), Some(false));
        assert!(!conn.begin_answer(false));
        conn.answered();
        assert!(matches!(conn.phase(), Phase::Waiting { last: false, .. }));
    }

    #[test]
    fn a_head_read_ahead_keeps_its_start_and_a_whole_one_is_never_idle() {
        let (conn, _client) = pair();
        assert_eq!(conn.hand_out(false), Some(false));
        // The next head starts while the request is out: it is no idle
        // connection once the answer is out.
        assert!(conn.head_started());
        let Phase::Out {
            ahead: Ahead::Started { since_ms },
            ..
        } = conn.phase()
        else {
            panic!("{:?}", conn.phase())
        };
        conn.answered();
        assert_eq!(
            conn.phase(),
            Phase::Reading {
                since_ms,
                last: false
            }
        );
        // And one that arrived whole while the request was out is ready.
        assert_eq!(conn.hand_out(false), Some(false));
        assert!(conn.head_started());
        conn.head_complete();
        conn.answered();
        assert_eq!(conn.phase(), Phase::Ready { last: false });
        let (_, seen) = conn.seen();
        assert!(!conn.shed(seen), "a whole head is never shed");
        assert_eq!(conn.hand_out(false), Some(false));
    }

    #[test]
    fn a_whole_head_is_ready_and_never_shed_before_it_is_handed_out() {
        // Whole in one read, from waiting; or whole after a partial one.
        for started in [false, true] {
            let (conn, _client) = pair();
            if started {
                assert!(conn.head_started());
            }
            assert!(conn.head_complete());
            assert_eq!(conn.phase(), Phase::Ready { last: false });
            let (_, seen) = conn.seen();
            assert!(!conn.shed(seen));
            assert_eq!(conn.hand_out(false), Some(false));
        }
    }

    #[test]
    fn an_answer_that_cannot_be_sent_ends_the_connection() {
        let (conn, client) = pair();
        sys::reset_on_close(&client).unwrap();
        drop(client);
        conn.hand_out(false).unwrap();
        // Pipelined requests behind it must not be answered on a dead
        // socket: the connection closes.
        let deadline = Instant::now() + PATIENCE;
        loop {
            let last = conn.begin_answer(false);
            if conn.deliver(b"HTTP/1.1 200 OK\r\n\r\n", last).is_err() {
                break;
            }
            assert!(Instant::now() < deadline, "the reset never showed");
            conn.answered();
            conn.hand_out(false).unwrap();
        }
        conn.answered();
        assert!(matches!(conn.phase(), Phase::Closing { .. }));
    }

    #[test]
    fn only_waiting_and_reading_are_shed_and_only_as_seen() {
        let (conn, _client) = pair();
        let (_, waiting) = conn.seen();
        assert!(conn.head_started());
        assert!(!conn.shed(waiting), "it moved on");
        let (_, reading) = conn.seen();
        assert!(conn.shed(reading));
        assert_eq!(conn.phase(), Phase::Shed);
        assert!(!conn.head_started());
        assert_eq!(conn.hand_out(false), None);
        assert!(conn.is_ending());

        let (conn, _client) = pair();
        conn.hand_out(false).unwrap();
        let (_, out) = conn.seen();
        assert!(!conn.shed(out), "a request out is never shed");
        conn.answered();
        conn.hand_out(true).unwrap();
        conn.answered();
        let (closing, seen) = conn.seen();
        assert!(matches!(closing, Phase::Closing { .. }));
        assert!(!conn.shed(seen));
    }

    #[test]
    fn a_connection_that_came_back_to_the_same_phase_is_not_shed() {
        let (conn, _client) = pair();
        let (_, seen) = conn.seen();
        // A whole request, and back to waiting (within the same
        // millisecond, if the clock allows).
        assert!(conn.head_started());
        conn.hand_out(false).unwrap();
        conn.answered();
        assert!(!conn.shed(seen), "the registry judged an older state");
        // Back to exactly the phase it was seen in, whatever the clock.
        let (phase, seen) = conn.seen();
        conn.set_phase(Phase::Reading {
            since_ms: 0,
            last: false,
        });
        conn.set_phase(phase);
        assert_eq!(conn.phase(), phase);
        assert!(!conn.shed(seen), "the registry judged an older state");
    }

    #[test]
    fn a_released_connection_answers_what_it_has_and_closes() {
        // Waiting: its next request is answered, as the last.
        let (conn, _client) = pair();
        let (_, seen) = conn.seen();
        assert!(conn.release(seen));
        assert_eq!(conn.hand_out(false), Some(true));
        assert!(conn.begin_answer(false));
        conn.answered();
        assert!(matches!(conn.phase(), Phase::Closing { .. }));

        // Reading a head, or holding a whole one: that request is answered,
        // as the last.
        for whole in [false, true] {
            let (conn, _client) = pair();
            assert!(conn.head_started());
            if whole {
                assert!(conn.head_complete());
            }
            let (_, seen) = conn.seen();
            assert!(conn.release(seen));
            assert_eq!(conn.hand_out(false), Some(true));
        }

        // Out, before its answer began: this answer is the last.
        let (conn, _client) = pair();
        conn.hand_out(false).unwrap();
        let (_, seen) = conn.seen();
        assert!(conn.release(seen));
        assert!(conn.begin_answer(false));

        // Once the answer began, its headers are written: not released.
        let (conn, _client) = pair();
        conn.hand_out(false).unwrap();
        assert!(!conn.begin_answer(false));
        let (_, seen) = conn.seen();
        assert!(!conn.release(seen));
        conn.answered();
        assert!(matches!(conn.phase(), Phase::Waiting { last: false, .. }));
    }

    #[test]
    fn a_response_that_does_not_fit_reaches_a_client_that_reads_late() {
        let (conn, mut client) = pair();
        let big = vec![b'x'; 8 * 1024 * 1024];
        conn.hand_out(false).unwrap();
        let last = conn.begin_answer(false);
        assert_eq!(conn.deliver(&big, last).unwrap(), Delivery::HandedOver);
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
    fn a_client_that_resets_after_its_answer_is_not_waited_for() {
        let (conn, client) = pair();
        conn.hand_out(true).unwrap();
        // More than the client's window, so some stays unacknowledged.
        let big = vec![b'x'; 8 * 1024 * 1024];
        let last = conn.begin_answer(false);
        conn.deliver(&big, last).unwrap();
        conn.answered();
        // The client gives up without reading: a reset.
        sys::reset_on_close(&client).unwrap();
        drop(client);
        // Upstream's wait ran to its deadline; this one ends at the reset.
        let deadline = Instant::now() + Duration::from_secs(3600);
        let (done, waited) = mpsc::channel();
        let conn = Arc::new(conn);
        let lingering = Arc::clone(&conn);
        thread::spawn(move || {
            lingering.flush_leftover(deadline);
            lingering.linger(deadline);
            let _ = done.send(());
        });
        waited
            .recv_timeout(PATIENCE)
            .expect("the reset ends the wait");
    }

    #[test]
    fn the_reader_waits_for_the_answer_and_the_answer_wakes_it() {
        // The reader is the thread that made the connection.
        let (made, conn) = mpsc::channel();
        let (done, waited) = mpsc::channel();
        let answering = Arc::new(AtomicBool::new(false));
        let answer_began = Arc::clone(&answering);
        let reader = thread::spawn(move || {
            let (conn, client) = pair();
            let conn = Arc::new(conn);
            conn.hand_out(false).unwrap();
            made.send(Arc::clone(&conn)).unwrap();
            conn.wait_until_answered();
            // Never before the worker answered.
            let _ = done.send(answer_began.load(Ordering::SeqCst));
            drop(client);
        });
        let conn: Arc<Connection> = conn.recv_timeout(PATIENCE).unwrap();
        // Time for a reader that does not wait to show it (the test passes
        // either way when it waits).
        thread::sleep(Duration::from_millis(200));
        answering.store(true, Ordering::SeqCst);
        conn.answered();
        let after_the_answer = waited.recv_timeout(PATIENCE).expect("woken");
        reader.join().unwrap();
        assert!(after_the_answer, "the reader went on before the answer");
        assert!(matches!(conn.phase(), Phase::Waiting { .. }));
    }

    #[test]
    fn lingering_waits_until_the_client_has_taken_what_was_sent() {
        let (conn, mut client) = pair();
        conn.hand_out(true).unwrap();
        // More than the client's window: part of it waits, unacknowledged.
        let big = vec![b'x'; 8 * 1024 * 1024];
        let last = conn.begin_answer(false);
        assert_eq!(conn.deliver(&big, last).unwrap(), Delivery::HandedOver);
        assert!(sys::unacknowledged(conn.socket()).unwrap() > 0);
        let conn = Arc::new(conn);
        let lingering = Arc::clone(&conn);
        let (done, left) = mpsc::channel();
        thread::spawn(move || {
            lingering.linger(Instant::now() + Duration::from_secs(3600));
            let _ = done.send(sys::unacknowledged(lingering.socket()).unwrap());
        });
        // Time for a linger that does not wait to show it (the test passes
        // either way when it waits).
        thread::sleep(Duration::from_millis(200));
        let reader = thread::spawn(move || {
            let mut sink = vec![0u8; 1 << 20];
            while client.read(&mut sink).is_ok_and(|n| n > 0) {}
        });
        let unacknowledged = left.recv_timeout(PATIENCE).expect("the client took it all");
        assert_eq!(
            unacknowledged, 0,
            "lingering ended before the client took it"
        );
        conn.end();
        reader.join().unwrap();
    }

    #[test]
    fn idle_time_starts_when_the_answer_is_out_and_only_while_waiting() {
        // An epoch in the past, as a server's is by the time a connection
        // comes: idle time is counted from it.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let _client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        let epoch = Instant::now() - Duration::from_secs(5);
        let conn = Connection::for_current_thread(server.into(), epoch);
        assert!(conn.head_started());
        assert_eq!(conn.idle_since(), None, "reading a head is not idle");
        conn.hand_out(false).unwrap();
        assert_eq!(conn.idle_since(), None, "a request out is not idle");
        let before = Instant::now();
        conn.answered();
        let after = Instant::now();
        let since = conn.idle_since().expect("waiting is idle");
        // Milliseconds since the epoch: up to 1 ms before `before`.
        assert!(
            since + Duration::from_millis(1) >= before,
            "{:?} {:?}",
            since,
            before
        );
        assert!(since <= after, "{:?} {:?}", since, after);
    }

    #[test]
    fn the_last_answer_sent_whole_stops_the_reading_of_more() {
        let (conn, _client) = pair();
        conn.hand_out(true).unwrap();
        let last = conn.begin_answer(true);
        assert_eq!(
            conn.deliver(b"HTTP/1.1 200 OK\r\n\r\n", last).unwrap(),
            Delivery::Sent
        );
        // The reader's next read ends at once, though the client is still
        // there and sends nothing.
        conn.set_read_timeout(PATIENCE).unwrap();
        let mut byte = [0u8; 1];
        assert_eq!(conn.socket().read(&mut byte).unwrap(), 0);
    }

    #[test]
    fn a_read_timeout_ends_a_read_that_gets_nothing() {
        let (conn, _client) = pair();
        let conn = Arc::new(conn);
        conn.set_read_timeout(Duration::from_millis(10)).unwrap();
        let reading = Arc::clone(&conn);
        let (done, result) = mpsc::channel();
        thread::spawn(move || {
            let mut byte = [0u8; 1];
            let _ = done.send(reading.socket().read(&mut byte).map_err(|e| e.kind()));
        });
        let read = result.recv_timeout(PATIENCE).expect("the read timed out");
        assert!(
            matches!(
                read,
                Err(io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)
            ),
            "{:?}",
            read
        );
    }
}
