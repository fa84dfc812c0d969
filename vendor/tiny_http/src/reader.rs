//! A connection's own thread, its reader: reads request heads
//! ([`crate::head`]) and hands them to the workers one at a time, as
//! requests or as rejections for the application to answer (sre-kata
//! patch; upstream's `ClientConnection` handed out requests as fast as they
//! came and answered malformed heads itself). The phases it moves the
//! connection through are in [`crate::util::connection`].

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::head::{self, Parse, Reason, MAX_HEAD_BYTES};
use crate::request::{Link, Rejection};
use crate::socket::Socket;
use crate::util::{Connection, Counters, MessagesQueue, Phase, Seat, Ticket, HEAD_TIMEOUT};
use crate::{HTTPVersion, Message, Request};

/// What every reader needs from the server.
pub(crate) struct ReaderContext {
    pub(crate) messages: Arc<MessagesQueue<Message>>,
    pub(crate) counters: Arc<Counters>,
    /// The sockets' read timeout (set on the listener, inherited): how long
    /// a connection may stay silent between requests.
    pub(crate) idle_timeout: Duration,
    /// How long the end of an answer may take to reach the client.
    pub(crate) write_timeout: Duration,
    /// The room for heads longer than [`INBOX_BYTES`], shared by all.
    pub(crate) head_room: Arc<HeadRoom>,
}

/// The buffer a head is read into, at first. One size, so that a reader
/// allocates from one size class of its heap: each class it touches costs
/// it about 7 KiB of memory for good.
const INBOX_BYTES: usize = 2048;

/// The memory all readers together may hold for heads longer than
/// [`INBOX_BYTES`] (sre-kata patch). Without it, a flood of connections that
/// each send most of a 64 KiB head and stop held 64 KiB each: 1,400 of them
/// took the process to the edge of its memory bound. With it, a head that
/// finds no room is answered 503 ([`Reason::NoRoomForHead`]), and the rest
/// of the server is unaffected.
pub const HEAD_ROOM_BYTES: usize = 16 * 1024 * 1024;

/// The room for long heads: bytes taken from [`HEAD_ROOM_BYTES`].
#[derive(Debug)]
pub(crate) struct HeadRoom {
    taken: AtomicUsize,
    limit: usize,
}

impl HeadRoom {
    pub(crate) fn new(limit: usize) -> HeadRoom {
        HeadRoom {
            taken: AtomicUsize::new(0),
            limit,
        }
    }

    /// Takes `bytes` if they fit.
    fn take(&self, bytes: usize) -> bool {
        self.taken
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |taken| {
                taken.checked_add(bytes).filter(|t| *t <= self.limit)
            })
            .is_ok()
    }

    fn give_back(&self, bytes: usize) {
        self.taken.fetch_sub(bytes, Ordering::AcqRel);
    }
}

/// Serves one connection on the calling thread, until it ends; then frees
/// its seat.
pub(crate) fn serve(socket: Socket, seat: Seat, context: &ReaderContext) {
    let registry = seat.registry();
    // A peer that reset before `getpeername` is not a panic.
    let remote_addr = socket.peer_addr().ok();
    let conn = Arc::new(Connection::for_current_thread(socket, registry.epoch()));
    seat.attach(Arc::clone(&conn));
    let mut reader = Reader {
        conn: Arc::clone(&conn),
        remote_addr,
        inbox: Vec::with_capacity(INBOX_BYTES),
        room: Arc::clone(&context.head_room),
        roomed: 0,
        deadline: None,
        shortened: false,
        idle_timeout: context.idle_timeout,
    };
    reader.run(context);
    drop(reader);
    // The request still out gets its answer; a connection that ends after
    // an answer sends what a worker could not, and closes gently.
    conn.wait_until_answered();
    if let Phase::Closing { .. } = conn.phase() {
        let deadline = Instant::now() + context.write_timeout;
        conn.flush_leftover(deadline);
        conn.linger(deadline);
    }
    conn.end();
}

/// What came of reading the next head.
enum Next {
    /// A whole, valid head, at the start of the inbox.
    Head(head::Head),
    /// A head refused, with the minor version if it was read.
    Rejected(Reason, Option<u8>),
    /// Nothing to answer: the client closed, reset, or stayed silent
    /// before the first byte of a head, or the connection was shed.
    Quiet,
}

/// Until when the reader waits for what it reads now.
#[derive(Debug, Clone, Copy)]
enum Deadline {
    /// The rest of a head, within [`HEAD_TIMEOUT`] of its first byte.
    Head(Instant),
    /// The first byte of a head, within the idle timeout of the last
    /// answer (or of the connection's start), when empty lines came
    /// meanwhile: they start no head, and they do not restart the idle
    /// timeout either.
    Idle(Instant),
}

impl Deadline {
    fn at(self) -> Instant {
        match self {
            Deadline::Head(at) | Deadline::Idle(at) => at,
        }
    }
}

/// Reads a connection's requests and hands them out one at a time.
struct Reader {
    conn: Arc<Connection>,
    remote_addr: Option<SocketAddr>,
    /// Bytes read and not yet handed out: the next head, and whatever the
    /// client pipelined behind it.
    inbox: Vec<u8>,
    room: Arc<HeadRoom>,
    /// Bytes of the inbox beyond [`INBOX_BYTES`], taken from the room.
    roomed: usize,
    deadline: Option<Deadline>,
    /// True while the socket's read timeout is shorter than the idle one.
    shortened: bool,
    idle_timeout: Duration,
}

impl Reader {
    fn run(&mut self, context: &ReaderContext) {
        loop {
            let next = self.next_head();
            self.head_done();
            // The previous request is answered first: one at a time, and
            // answers in order.
            self.conn.wait_until_answered();
            if self.conn.is_ending() {
                // A request read behind one whose answer ended the
                // connection (pipelined after `Connection: close`, or its
                // head read ahead): RFC 9112 (9.3.2) leaves it to the
                // client to send again. Counted, never silent.
                if !matches!(next, Next::Quiet) {
                    context.counters.dropped.fetch_add(1, Ordering::Relaxed);
                }
                return;
            }
            match next {
                Next::Quiet => return,
                Next::Rejected(reason, minor) => {
                    if self.conn.hand_out(true).is_some() {
                        let link = self.link(context);
                        let version = HTTPVersion(1, minor.unwrap_or(1));
                        let rejection = Rejection::new(reason, version, self.remote_addr, link);
                        context.messages.push(Message::Rejected(rejection));
                    }
                    return;
                }
                Next::Head(head) => {
                    // A body is never read, so nothing can follow it.
                    let closes = head.closes_connection || head.declares_body;
                    let Some(last) = self.conn.hand_out(closes) else {
                        // Never for a whole head (Ready is never shed).
                        context.counters.dropped.fetch_add(1, Ordering::Relaxed);
                        return;
                    };
                    let bytes = self.take_head(head.len);
                    let link = self.link(context);
                    let request = Request::new(head, bytes, last, self.remote_addr, link);
                    context.messages.push(Message::Request(request));
                    if last {
                        return;
                    }
                }
            }
        }
    }

    fn link(&self, context: &ReaderContext) -> Link {
        Link::new(Arc::clone(&self.conn), Ticket::issue(&context.counters))
    }

    /// Reads until the inbox holds a whole head, a refused one, or nothing
    /// more will come. A head has [`HEAD_TIMEOUT`] from its first byte,
    /// whether that byte was read now or left over after the previous head
    /// (pipelined): empty lines between requests, which RFC 9112 says to
    /// ignore, start no head.
    fn next_head(&mut self) -> Next {
        // Leftover bytes are parsed once; after that, only when a read
        // brings a line end (a head is complete only at one) or fills the
        // inbox past the limit, so a head trickled a byte at a time is not
        // parsed again for each byte.
        let mut parse = true;
        loop {
            if self.skip_empty_lines() && self.deadline.is_none() {
                let idle_since = self.conn.idle_since().unwrap_or_else(Instant::now);
                self.deadline = Some(Deadline::Idle(idle_since + self.idle_timeout));
            }
            if !self.inbox.is_empty() {
                // Parsed before the phase says anything, so that a whole
                // head is never seen as a partial one, let alone an idle
                // connection: a head that came whole goes straight to Ready.
                if parse || self.inbox.len() > MAX_HEAD_BYTES {
                    match head::parse(&self.inbox) {
                        Parse::Complete(head) => {
                            if !self.conn.head_complete() {
                                return Next::Quiet; // shed meanwhile
                            }
                            return Next::Head(head);
                        }
                        Parse::Rejected(reason, minor) => return Next::Rejected(reason, minor),
                        Parse::Partial => {}
                    }
                }
                if !matches!(self.deadline, Some(Deadline::Head(_))) {
                    if !self.conn.head_started() {
                        return Next::Quiet;
                    }
                    self.deadline = Some(Deadline::Head(Instant::now() + HEAD_TIMEOUT));
                }
            }
            if !self.make_room() {
                return Next::Rejected(Reason::NoRoomForHead, None);
            }
            let started = matches!(self.deadline, Some(Deadline::Head(_)));
            let before = self.inbox.len();
            match self.fill() {
                Ok(0) => return Next::Quiet, // the client closed
                Ok(_) => parse = self.inbox[before..].contains(&b'\n'),
                Err(e) if is_timeout(&e) && started => {
                    return Next::Rejected(Reason::HeadTimeout, None)
                }
                // The process was stopped and continued (SIGSTOP, SIGCONT):
                // a read with a timeout fails with EINTR then (signal(7)),
                // and the connection is as it was. Read again: a head keeps
                // its deadline, an idle connection's time starts over
                // (sre-kata patch: upstream closed the connection).
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                // An idle connection timing out, a reset: close quietly.
                Err(_) => return Next::Quiet,
            }
        }
    }

    /// Drops the empty lines (CRLF or LF) at the start of the inbox, and
    /// says whether there were any. A lone CR stays: it may be the start
    /// of a CRLF, or a bare CR to refuse.
    fn skip_empty_lines(&mut self) -> bool {
        let mut start = 0;
        loop {
            match self.inbox[start..] {
                [b'\r', b'\n', ..] => start += 2,
                [b'\n', ..] => start += 1,
                _ => break,
            }
        }
        if start > 0 {
            self.inbox.drain(..start);
        }
        start > 0
    }

    /// Makes sure the inbox has room to read into: a full one grows, up to
    /// just past [`MAX_HEAD_BYTES`] (so that the parser can tell a head is
    /// too long), with room taken from the readers' shared [`HeadRoom`].
    /// False if there is none to take.
    fn make_room(&mut self) -> bool {
        if self.inbox.len() < self.inbox.capacity() {
            return true;
        }
        let wanted = (self.inbox.capacity() * 2).min(MAX_HEAD_BYTES + 1);
        let more = wanted - self.inbox.capacity();
        if !self.room.take(more) {
            return false;
        }
        self.roomed += more;
        self.inbox.reserve_exact(wanted - self.inbox.len());
        true
    }

    /// Reads what the socket has into the inbox, by the deadline if there
    /// is one: within [`HEAD_TIMEOUT`] of a head's first byte for the rest
    /// (upstream allowed the idle timeout per read, so a head trickled a
    /// byte at a time could take for ever), and otherwise within the idle
    /// timeout.
    fn fill(&mut self) -> std::io::Result<usize> {
        if let Some(deadline) = self.deadline {
            let left = deadline.at().saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(ErrorKind::TimedOut.into());
            }
            if left < self.idle_timeout {
                self.conn.set_read_timeout(left)?;
                self.shortened = true;
            }
        }
        let len = self.inbox.len();
        let room = self.inbox.capacity().min(MAX_HEAD_BYTES + 1) - len;
        self.inbox.resize(len + room, 0);
        let got = self.conn.socket().read(&mut self.inbox[len..]);
        self.inbox.truncate(len + *got.as_ref().unwrap_or(&0));
        got
    }

    /// The read timeout goes back to the idle one once a head is read.
    fn head_done(&mut self) {
        self.deadline = None;
        if self.shortened {
            self.shortened = false;
            let _ = self.conn.set_read_timeout(self.idle_timeout);
        }
    }

    /// The head's bytes, for its request; what the client pipelined behind
    /// it stays for the next. Either way one new buffer of the inbox's size.
    fn take_head(&mut self, len: usize) -> Vec<u8> {
        if self.inbox.len() == len && self.inbox.capacity() == INBOX_BYTES {
            return std::mem::replace(&mut self.inbox, Vec::with_capacity(INBOX_BYTES));
        }
        let mut bytes = Vec::with_capacity(len.max(INBOX_BYTES));
        bytes.extend_from_slice(&self.inbox[..len]);
        self.inbox.drain(..len);
        if self.inbox.capacity() > INBOX_BYTES && self.inbox.len() <= INBOX_BYTES {
            // Back to the usual size after a long head; the request keeps
            // its own copy, which is the application's to answer promptly.
            self.inbox.shrink_to(INBOX_BYTES);
            self.give_back_room();
        }
        bytes
    }

    fn give_back_room(&mut self) {
        let kept = self.inbox.capacity().saturating_sub(INBOX_BYTES);
        if self.roomed > kept {
            self.room.give_back(self.roomed - kept);
            self.roomed = kept;
        }
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        self.room.give_back(self.roomed);
    }
}

/// True for the error a socket read returns when `SO_RCVTIMEO` expires:
/// `WouldBlock` on Unix, `TimedOut` on Windows (upstream only checked
/// `TimedOut`, so on Linux it never answered 408).
fn is_timeout(err: &std::io::Error) -> bool {
    matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_head_room_is_shared_and_given_back() {
        let room = HeadRoom::new(100);
        assert!(room.take(60));
        assert!(!room.take(60), "only 40 left");
        assert!(room.take(40));
        room.give_back(60);
        assert!(room.take(60));
    }
}
