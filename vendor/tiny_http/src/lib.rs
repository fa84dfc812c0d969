//! tiny_http 0.12.0, patched for sre-kata (`PATCHES.md`): a blocking
//! HTTP/1.1 server. A thread per connection, its reader, reads and checks
//! request heads ([`head`]); the application's own worker threads take them
//! with [`Server::recv`] and answer each, as a [`Request`] or, for a head
//! that was refused, as a [`Rejection`].
//!
//! ```no_run
//! use tiny_http::{Incoming, Response, Server, ServerOptions};
//!
//! let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
//! let server = Server::from_listener(listener, ServerOptions::default()).unwrap();
//! loop {
//!     match server.recv() {
//!         Ok(Incoming::Request(request)) => {
//!             let _ = request.respond(Response::from_string("hello"));
//!         }
//!         Ok(Incoming::Rejected(rejection)) => {
//!             let status = rejection.reason().status();
//!             let _ = rejection.respond(Response::empty(status));
//!         }
//!         Err(_) => break,
//!     }
//! }
//! ```
#![deny(unsafe_code)] // sre-kata patch: allowed in util::sys alone
#![deny(rust_2018_idioms)]

use std::error::Error;
use std::io::Error as IoError;
use std::io::Result as IoResult;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use socket::Socket;
use util::{Counters, MessagesQueue, Registry};

pub use common::{HTTPVersion, Header, HeaderField, Method, StatusCode};
pub use head::{Reason, MAX_HEADERS, MAX_HEAD_BYTES};
pub use reader::HEAD_ROOM_BYTES;
pub use request::{Rejection, Request};
pub use response::{Response, ResponseBox};
pub use util::{FULL_GRACE, HEAD_TIMEOUT, OVERLOAD_IDLE, OVERLOAD_PERCENT};

mod common;
pub mod head;
mod reader;
mod request;
mod response;
mod socket;
mod util;

/// The main class of this library.
///
/// Dropping it stops accepting (within half a second), ends every open
/// connection, and answers the requests still queued with 500 (sre-kata
/// patch: upstream left connection threads waiting for ever). Requests
/// already returned by `recv()` may still be answered, on connections that
/// are gone.
pub struct Server {
    // should be false as long as the server exists
    // when set to true, all the subtasks will close within a few hundreds ms
    close: Arc<AtomicBool>,

    // queue for messages received by child threads
    messages: Arc<MessagesQueue<Message>>,

    // sre-kata patch: where to connect to wake the accept thread at drop
    listening_addr: SocketAddr,

    // sre-kata patch: what `stats()` reports
    counters: Arc<Counters>,
    registry: Arc<Registry>,
}

pub(crate) enum Message {
    /// The accept thread ended while the server was open (sre-kata patch).
    ListenerFailed(IoError),
    Request(Request),
    Rejected(Rejection),
}

/// What a worker gets from [`Server::recv`] (sre-kata patch).
#[derive(Debug)]
pub enum Incoming {
    /// A request to answer.
    Request(Request),
    /// A request head that was refused, to answer with its status.
    Rejected(Rejection),
}

impl Message {
    fn into_incoming(self) -> IoResult<Incoming> {
        match self {
            Message::ListenerFailed(err) => Err(err),
            Message::Request(rq) => Ok(Incoming::Request(rq)),
            Message::Rejected(rejection) => Ok(Incoming::Rejected(rejection)),
        }
    }
}

// The application's workers share the server.
const _: fn() = || {
    fn is_shared<T: Send + Sync>() {}
    is_shared::<Server>();
};

/// How a server treats its connections (sre-kata patch).
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// The most connections open at once; above it, new ones wait in the
    /// kernel's backlog while open ones make room (`util::registry`).
    pub max_connections: usize,
    /// The read timeout the listening socket gives the connections it
    /// accepts (the application sets it there): a connection comes back to
    /// it after a request head's own deadline.
    pub idle_timeout: Duration,
    /// How long a connection's reader may take to send the end of its last
    /// answer (what a worker could not send at once), and to wait for the
    /// client to take it before closing.
    pub write_timeout: Duration,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            max_connections: 768,
            idle_timeout: Duration::from_secs(75),
            write_timeout: Duration::from_secs(10),
        }
    }
}

/// What the server is doing, for drains, logs and tests (sre-kata patch).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// Requests whose head was read and that are not answered yet, queued
    /// for a worker or held by one.
    pub pending: usize,
    /// Requests answered since start.
    pub answered: u64,
    /// Requests read and never answered, since start: pipelined, or read
    /// ahead, behind an answer that ended the connection (the client sends
    /// them again, RFC 9112, 9.3.2). Above the cap, a connection is never
    /// released with a request read ahead, so making room adds none.
    pub dropped: u64,
    /// Connections with part of a request head, or a whole one not handed
    /// out yet: requests on their way in.
    pub reading: usize,
    /// Connections closing after an answer, sending its end: answers on
    /// their way out.
    pub sending: usize,
    /// Connections open now.
    pub connections: usize,
    /// The most connections open at once.
    pub max_connections: usize,
    /// True from [`OVERLOAD_PERCENT`] of `max_connections` on, until the
    /// count falls well below it.
    pub overloaded: bool,
    /// Connections closed early because they were idle, since start.
    pub shed_idle: u64,
    /// Connections closed at the cap because their request head was slow
    /// ([`FULL_GRACE`]), since start.
    pub shed_heads: u64,
    /// Connections ended after their answer, at the cap, so that others
    /// could get in, since start: nothing of theirs was dropped.
    pub released: u64,
    /// Times overload began, since start.
    pub overload_episodes: u64,
}

/// How often an idle accept loop wakes to shed idle connections under
/// overload (sre-kata patch).
const SWEEP_EVERY: Duration = Duration::from_millis(500);

impl Server {
    /// Serves the connections `listener` accepts. Accepted sockets inherit
    /// the listener's timeouts and options, which the application sets.
    pub fn from_listener(
        listener: TcpListener,
        options: ServerOptions,
    ) -> Result<Server, Box<dyn Error + Send + Sync + 'static>> {
        let close = Arc::new(AtomicBool::new(false));
        let local_addr = listener.local_addr()?;
        log::debug!("Server listening on {}", local_addr);

        let messages = MessagesQueue::with_capacity(8);
        let counters = Arc::new(Counters::default());
        let registry = Arc::new(Registry::new(options.max_connections));
        let accept = AcceptLoop {
            listener,
            close: Arc::clone(&close),
            registry: Arc::clone(&registry),
            context: Arc::new(reader::ReaderContext {
                messages: Arc::clone(&messages),
                counters: Arc::clone(&counters),
                idle_timeout: options.idle_timeout,
                write_timeout: options.write_timeout,
                head_room: Arc::new(reader::HeadRoom::new(HEAD_ROOM_BYTES)),
            }),
        };
        thread::Builder::new()
            .name("accept".into())
            .spawn(move || accept.run())?;

        Ok(Server {
            messages,
            close,
            listening_addr: local_addr,
            counters,
            registry,
        })
    }

    /// What the server is doing now (sre-kata patch).
    pub fn stats(&self) -> Stats {
        let load = &self.registry.load;
        let (reading, sending) = self.registry.in_transit();
        Stats {
            pending: self.counters.pending.load(SeqCst),
            answered: self.counters.answered.load(SeqCst),
            dropped: self.counters.dropped.load(Relaxed),
            reading,
            sending,
            connections: load.open.load(Relaxed),
            max_connections: self.registry.max(),
            overloaded: load.overloaded.load(Relaxed),
            shed_idle: load.shed_idle.load(Relaxed),
            shed_heads: load.shed_heads.load(Relaxed),
            released: load.released.load(Relaxed),
            overload_episodes: load.episodes.load(Relaxed),
        }
    }

    /// Blocks until a request (or a refused head) has arrived, and returns
    /// it. An error means the accept thread has ended (sre-kata patch): no
    /// new connection will be accepted, and the application should exit.
    pub fn recv(&self) -> IoResult<Incoming> {
        self.messages.pop().into_incoming()
    }

    /// Same as `recv()` but doesn't block.
    pub fn try_recv(&self) -> IoResult<Option<Incoming>> {
        self.messages
            .try_pop()
            .map(Message::into_incoming)
            .transpose()
    }
}

/// The accept thread: takes a seat among the open connections, accepts,
/// and gives the connection a thread of its own (sre-kata patch: seats,
/// making room, and an accept loop that survives what upstream's did not).
struct AcceptLoop {
    listener: TcpListener,
    close: Arc<AtomicBool>,
    registry: Arc<Registry>,
    context: Arc<reader::ReaderContext>,
}

impl AcceptLoop {
    fn run(self) {
        // Whenever this thread ends while the server is still open, by a
        // fatal accept error or by a panic, `recv()` reports it, so the
        // application can exit instead of living on with nobody accepting
        // connections.
        let mut exit_report = AcceptThreadExit {
            messages: Arc::clone(&self.context.messages),
            close: Arc::clone(&self.close),
            reason: None,
        };
        let threads = util::TaskPool::new();
        let mut backoff = util::AcceptBackoff::default();

        log::debug!("Running accept thread");
        while !self.close.load(Relaxed) {
            let (socket, seat) = match self.next_connection() {
                Ok(Some(next)) => next,
                Ok(None) => continue,
                Err(e) => match util::accept_error_kind(&e) {
                    util::AcceptErrorKind::PeerGone => continue,
                    util::AcceptErrorKind::OutOfResources => {
                        log::warn!("Error accepting new client, backing off: {}", e);
                        backoff.wait();
                        continue;
                    }
                    util::AcceptErrorKind::Fatal => {
                        log::error!("Error accepting new client: {}", e);
                        exit_report.reason = Some(e);
                        break;
                    }
                },
            };

            let context = Arc::clone(&self.context);
            let spawned = threads.spawn(Box::new(move || reader::serve(socket, seat, &context)));
            match spawned {
                Ok(()) => backoff.reset(),
                Err(e) => {
                    log::warn!("Dropping new client, backing off: {}", e);
                    backoff.wait();
                }
            }
        }
        log::debug!("Terminating accept thread");
    }

    /// Accepts a connection, with its seat, if one arrives within
    /// [`SWEEP_EVERY`]; sheds idle connections on the way while overloaded.
    /// At the cap it waits while open connections make room for as many
    /// as wait in the backlog; meanwhile they wait there.
    fn next_connection(&self) -> IoResult<Option<(Socket, util::Seat)>> {
        if !util::wait_readable(&self.listener, SWEEP_EVERY)? {
            self.registry.sweep_if_overloaded();
            return Ok(None);
        }
        let waiting = util::accept_queue_len(&self.listener).unwrap_or(1);
        let Some(seat) = self.registry.take_seat(&self.close, waiting) else {
            return Ok(None);
        };
        self.registry.sweep_if_overloaded();
        let (stream, _) = self.listener.accept()?;
        Ok(Some((Socket::from(stream), seat)))
    }
}

/// Reports the end of the accept thread through the messages queue, unless the
/// server is closing (sre-kata patch). Runs on unwinding too, so a panic in the
/// accept loop is reported like a fatal accept error.
struct AcceptThreadExit {
    messages: Arc<MessagesQueue<Message>>,
    close: Arc<AtomicBool>,
    reason: Option<IoError>,
}

impl Drop for AcceptThreadExit {
    fn drop(&mut self) {
        if self.close.load(Relaxed) {
            return;
        }
        let reason = self
            .reason
            .take()
            .unwrap_or_else(|| IoError::other("the accept thread panicked"));
        self.messages.push(Message::ListenerFailed(reason));
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.close.store(true, Relaxed);
        // Queued requests get their 500 while their connections are open,
        // and only then does every connection end.
        while let Some(message) = self.messages.try_pop() {
            drop(message);
        }
        self.registry.end_all();
        // Connect briefly to ourselves to unblock the accept thread
        if let Ok(stream) = TcpStream::connect(self.listening_addr) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}
