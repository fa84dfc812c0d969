//! A connection's own thread: reads request heads ([`crate::head`]) and
//! hands them to the workers one at a time, as requests or as rejections
//! for the application to answer (sre-kata patch; upstream's
//! `ClientConnection` handed out requests as fast as they came and answered
//! malformed heads itself).

use std::io::{ErrorKind, Read};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::connection::Connection;
use crate::head::{self, Parse, Reason, MAX_HEAD_BYTES};
use crate::request::{Link, Rejection};
use crate::util::{Conn, Counters, MessagesQueue, Phase, Seat, Ticket, HEAD_TIMEOUT};
use crate::{HTTPVersion, Message, Request};

/// What a connection's thread needs from the server.
pub(crate) struct Shared {
    pub(crate) messages: Arc<MessagesQueue<Message>>,
    pub(crate) counters: Arc<Counters>,
    /// The sockets' read timeout (set on the listener, inherited), to come
    /// back to after a head's own deadline.
    pub(crate) idle_timeout: Duration,
    /// How long the end of an answer may take to reach the client.
    pub(crate) write_timeout: Duration,
}

/// The buffer a head is read into, at first. One size, so that a
/// connection's thread allocates from one size class of its heap: each
/// class it touches costs it about 7 KiB of memory for good.
const INBOX_BYTES: usize = 2048;

/// Serves one connection on the calling thread, until it ends; then frees
/// its seat.
pub(crate) fn serve(socket: Connection, seat: Seat, shared: &Shared) {
    let registry = seat.registry();
    // A peer that reset before `getpeername` is not a panic.
    let remote_addr = socket.peer_addr().ok().flatten();
    let conn = Arc::new(Conn::for_current_thread(socket, registry.epoch()));
    seat.attach(Arc::clone(&conn));
    let mut client = Client {
        conn: Arc::clone(&conn),
        remote_addr,
        inbox: Vec::with_capacity(INBOX_BYTES),
        deadline: None,
        shortened: false,
        idle_timeout: shared.idle_timeout,
    };
    client.run(shared);
    drop(client);
    // The request still out gets its answer; a connection that ends after
    // an answer sends what a worker could not, and closes gently.
    conn.wait_until_answered();
    if let Phase::Sending { .. } = conn.phase() {
        let deadline = Instant::now() + shared.write_timeout;
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

/// Reads a connection's requests and hands them out one at a time.
struct Client {
    conn: Arc<Conn>,
    remote_addr: Option<SocketAddr>,
    /// Bytes read and not yet handed out: the next head, and whatever the
    /// client pipelined behind it.
    inbox: Vec<u8>,
    /// When the head being read must be complete.
    deadline: Option<Instant>,
    /// True while the socket's read timeout is shorter than the idle one.
    shortened: bool,
    idle_timeout: Duration,
}

impl Client {
    fn run(&mut self, shared: &Shared) {
        loop {
            if !self.conn.idle() {
                return; // shed
            }
            let next = self.next_head();
            self.head_done();
            // The previous request is answered first: one at a time, and
            // answers in order.
            self.conn.wait_until_answered();
            if self.conn.is_ending() {
                return;
            }
            match next {
                Next::Quiet => return,
                Next::Rejected(reason, minor) => {
                    if self.conn.hand_out() {
                        let link = self.link(shared);
                        let version = HTTPVersion(1, minor.unwrap_or(1));
                        let rejection = Rejection::new(reason, version, self.remote_addr, link);
                        shared.messages.push(Message::Rejected(rejection));
                    }
                    return;
                }
                Next::Head(head) => {
                    if !self.conn.hand_out() {
                        return; // shed
                    }
                    let last = head.closes_connection || head.declares_body;
                    let bytes = self.take_head(head.len);
                    let link = self.link(shared);
                    let request = Request::new(head, bytes, self.remote_addr, link);
                    shared.messages.push(Message::Request(request));
                    if last {
                        // A body is never read, so nothing can follow it.
                        return;
                    }
                }
            }
        }
    }

    fn link(&self, shared: &Shared) -> Link {
        Link::new(Arc::clone(&self.conn), Ticket::issue(&shared.counters))
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
            self.skip_empty_lines();
            if !self.inbox.is_empty() {
                if self.deadline.is_none() {
                    if !self.conn.head_started() {
                        return Next::Quiet;
                    }
                    self.deadline = Some(Instant::now() + HEAD_TIMEOUT);
                }
                if parse || self.inbox.len() > MAX_HEAD_BYTES {
                    match head::parse(&self.inbox) {
                        Parse::Complete(head) => return Next::Head(head),
                        Parse::Rejected(reason, minor) => return Next::Rejected(reason, minor),
                        Parse::Partial => {}
                    }
                }
            }
            let started = self.deadline.is_some();
            let before = self.inbox.len();
            match self.fill() {
                Ok(0) => return Next::Quiet, // the client closed
                Ok(_) => parse = self.inbox[before..].contains(&b'\n'),
                Err(e) if is_timeout(&e) && started => {
                    return Next::Rejected(Reason::HeadTimeout, None)
                }
                // An idle connection timing out, a reset: close quietly.
                Err(_) => return Next::Quiet,
            }
        }
    }

    /// Drops the empty lines (CRLF or LF) at the start of the inbox. A lone
    /// CR stays: it may be the start of a CRLF, or a bare CR to refuse.
    fn skip_empty_lines(&mut self) {
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
    }

    /// Reads what the socket has into the inbox: within the idle timeout
    /// for the first byte of a head, within [`HEAD_TIMEOUT`] of it for the
    /// rest (upstream allowed the idle timeout per read, so a head trickled
    /// a byte at a time could take for ever).
    fn fill(&mut self) -> std::io::Result<usize> {
        if let Some(deadline) = self.deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(ErrorKind::TimedOut.into());
            }
            if left < self.idle_timeout {
                self.conn.set_read_timeout(left)?;
                self.shortened = true;
            }
        }
        if self.inbox.len() == self.inbox.capacity() {
            // A head this long is rare: room for it, up to just past the
            // limit, so that the parser can tell it is too long.
            let wanted = (self.inbox.capacity() * 2).min(MAX_HEAD_BYTES + 1);
            self.inbox.reserve_exact(wanted - self.inbox.len());
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
            // Back to the usual size after a long head.
            self.inbox.shrink_to(INBOX_BYTES);
        }
        bytes
    }
}

/// True for the error a socket read returns when `SO_RCVTIMEO` expires:
/// `WouldBlock` on Unix, `TimedOut` on Windows (upstream only checked
/// `TimedOut`, so on Linux it never answered 408).
fn is_timeout(err: &std::io::Error) -> bool {
    matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}
