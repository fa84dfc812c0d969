//! tiny_http 0.12.0, patched for sre-kata (`PATCHES.md`): a blocking
//! HTTP/1.1 server. A thread per connection reads and checks request heads
//! ([`head`]); the application's own worker threads take them with
//! [`Server::recv`] and answer each, as a [`Request`] or, for a head that
//! was refused, as a [`Rejection`].
//!
//! ```no_run
//! use tiny_http::{Incoming, Response, Server};
//!
//! let server = Server::http("127.0.0.1:0").unwrap();
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
#![allow(clippy::match_like_matches_macro)]

use std::error::Error;
use std::io::Error as IoError;
use std::io::ErrorKind as IoErrorKind;
use std::io::Result as IoResult;
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use connection::Connection;
use util::{Counters, MessagesQueue, Registry};

pub use common::{HTTPVersion, Header, HeaderField, Method, StatusCode};
pub use connection::{ConfigListenAddr, ListenAddr, Listener};
pub use head::{Reason, MAX_HEADERS, MAX_HEAD_BYTES};
pub use request::{Rejection, Request};
pub use response::{Response, ResponseBox};
pub use util::{HEAD_TIMEOUT, OVERLOAD_IDLE, OVERLOAD_PERCENT};

mod client;
mod common;
mod connection;
pub mod head;
mod request;
mod response;
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

    // result of TcpListener::local_addr()
    listening_addr: ListenAddr,

    // sre-kata patch: what `stats()` reports
    counters: Arc<Counters>,
    registry: Arc<Registry>,
}

pub(crate) enum Message {
    Error(IoError),
    Request(Request),
    Rejected(Rejection),
}

impl From<IoError> for Message {
    fn from(e: IoError) -> Message {
        Message::Error(e)
    }
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
            Message::Error(err) => Err(err),
            Message::Request(rq) => Ok(Incoming::Request(rq)),
            Message::Rejected(rejection) => Ok(Incoming::Rejected(rejection)),
        }
    }
}

// this trait is to make sure that Server implements Share and Send
#[doc(hidden)]
trait MustBeShareDummy: Sync + Send {}
#[doc(hidden)]
impl MustBeShareDummy for Server {}

pub struct IncomingRequests<'a> {
    server: &'a Server,
}

/// How a server treats its connections (sre-kata patch).
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// The most connections open at once; above it, new ones wait in the
    /// kernel's backlog, and the longest-idle open one is closed to make
    /// room.
    pub max_connections: usize,
    /// The read timeout the listening socket gives the connections it
    /// accepts (the application sets it there): a connection comes back to
    /// it after a request head's own deadline.
    pub idle_timeout: Duration,
    /// How long a connection's own thread may take to send the end of an
    /// answer (what a worker could not send at once, or an error it answers
    /// itself), and to wait for the client to take it before closing.
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// Requests whose head was read and that are not answered yet, queued
    /// for a worker or held by one.
    pub pending: usize,
    /// Requests answered since start.
    pub answered: u64,
    /// Connections with part of a request head: requests on their way in.
    pub reading: usize,
    /// Connections sending the end of an answer before they close: answers
    /// on their way out.
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
    /// Connections closed because their request head was past
    /// [`HEAD_TIMEOUT`], since start.
    pub shed_heads: u64,
    /// Times overload began, since start.
    pub overload_episodes: u64,
}

/// Configuration of a server: where it listens.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The addresses to try to listen to.
    pub addr: ConfigListenAddr,
    /// How it treats connections (sre-kata patch).
    pub options: ServerOptions,
}

/// How often an idle accept loop wakes to shed idle connections under
/// overload (sre-kata patch).
const SWEEP_EVERY: Duration = Duration::from_millis(500);

impl Server {
    /// Shortcut for a simple server on a specific address.
    #[inline]
    pub fn http<A>(addr: A) -> Result<Server, Box<dyn Error + Send + Sync + 'static>>
    where
        A: ToSocketAddrs,
    {
        Server::new(ServerConfig {
            addr: ConfigListenAddr::from_socket_addrs(addr)?,
            options: ServerOptions::default(),
        })
    }

    /// Builds a new server that listens on the specified address.
    pub fn new(config: ServerConfig) -> Result<Server, Box<dyn Error + Send + Sync + 'static>> {
        let listener = config.addr.bind()?;
        Self::from_listener(listener, config.options)
    }

    /// Builds a new server using the specified listener.
    ///
    /// This is useful if you've constructed TcpListener using some less usual method
    /// such as from systemd. For other cases, you probably want the `new()` function.
    pub fn from_listener<L: Into<Listener>>(
        listener: L,
        options: ServerOptions,
    ) -> Result<Server, Box<dyn Error + Send + Sync + 'static>> {
        let listener = listener.into();
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
            shared: Arc::new(client::Shared {
                messages: Arc::clone(&messages),
                counters: Arc::clone(&counters),
                idle_timeout: options.idle_timeout,
                write_timeout: options.write_timeout,
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

    /// Returns an iterator for all the incoming requests.
    ///
    /// The iterator will return `None` if the server socket is shutdown.
    #[inline]
    pub fn incoming_requests(&self) -> IncomingRequests<'_> {
        IncomingRequests { server: self }
    }

    /// Returns the address the server is listening to.
    #[inline]
    pub fn server_addr(&self) -> ListenAddr {
        self.listening_addr.clone()
    }

    /// What the server is doing now (sre-kata patch).
    pub fn stats(&self) -> Stats {
        let load = &self.registry.load;
        let (reading, sending) = self.registry.in_transit();
        Stats {
            pending: self.counters.pending.load(SeqCst),
            answered: self.counters.answered.load(SeqCst),
            reading,
            sending,
            connections: load.open.load(Relaxed),
            max_connections: self.registry.max(),
            overloaded: load.overloaded.load(Relaxed),
            shed_idle: load.shed_idle.load(Relaxed),
            shed_heads: load.shed_heads.load(Relaxed),
            overload_episodes: load.episodes.load(Relaxed),
        }
    }

    /// Blocks until a request (or a refused head) has arrived, and returns
    /// it.
    pub fn recv(&self) -> IoResult<Incoming> {
        match self.messages.pop() {
            Some(message) => message.into_incoming(),
            None => Err(IoError::other("thread unblocked")),
        }
    }

    /// Same as `recv()` but doesn't block longer than timeout
    pub fn recv_timeout(&self, timeout: Duration) -> IoResult<Option<Incoming>> {
        self.messages
            .pop_timeout(timeout)
            .map(Message::into_incoming)
            .transpose()
    }

    /// Same as `recv()` but doesn't block.
    pub fn try_recv(&self) -> IoResult<Option<Incoming>> {
        self.messages
            .try_pop()
            .map(Message::into_incoming)
            .transpose()
    }

    /// Unblock thread stuck in recv() or incoming_requests().
    /// If there are several such threads, only one is unblocked.
    /// This method allows graceful shutdown of server.
    pub fn unblock(&self) {
        self.messages.unblock();
    }
}

/// The accept thread: takes a seat among the open connections, accepts,
/// and gives the connection a thread of its own (sre-kata patch: seats,
/// shedding, and an accept loop that survives what upstream's did not).
struct AcceptLoop {
    listener: Listener,
    close: Arc<AtomicBool>,
    registry: Arc<Registry>,
    shared: Arc<client::Shared>,
}

impl AcceptLoop {
    fn run(self) {
        // Whenever this thread ends while the server is still open, by a
        // fatal accept error or by a panic, `recv()` reports it, so the
        // application can exit instead of living on with nobody accepting
        // connections.
        let mut exit_report = AcceptThreadExit {
            messages: Arc::clone(&self.shared.messages),
            close: Arc::clone(&self.close),
            reason: None,
        };
        let tasks_pool = util::TaskPool::new();
        let mut backoff = util::AcceptBackoff::default();

        log::debug!("Running accept thread");
        while !self.close.load(Relaxed) {
            let (sock, seat) = match self.next_connection() {
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

            let shared = Arc::clone(&self.shared);
            let mut job = Some((sock, seat));
            let spawned = tasks_pool.spawn(Box::new(move || {
                if let Some((sock, seat)) = job.take() {
                    client::serve(sock, seat, &shared);
                }
            }));
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
    /// At the cap it waits, shedding as many idle connections as wait in the
    /// backlog; meanwhile they wait there.
    fn next_connection(&self) -> IoResult<Option<(Connection, util::Seat)>> {
        if !util::wait_readable(&self.listener, SWEEP_EVERY)? {
            self.registry.sweep_if_overloaded();
            return Ok(None);
        }
        let waiting = util::accept_queue_len(&self.listener).unwrap_or(1);
        let Some(seat) = self.registry.take_seat(&self.close, waiting) else {
            return Ok(None);
        };
        self.registry.sweep_if_overloaded();
        let (sock, _) = self.listener.accept()?;
        Ok(Some((sock, seat)))
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
        self.messages.push(reason.into());
    }
}

impl Iterator for IncomingRequests<'_> {
    type Item = Incoming;
    fn next(&mut self) -> Option<Incoming> {
        self.server.recv().ok()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.close.store(true, Relaxed);
        self.registry.end_all();
        while let Some(message) = self.messages.try_pop() {
            drop(message);
        }
        // Connect briefly to ourselves to unblock the accept thread
        let maybe_stream = match &self.listening_addr {
            ListenAddr::IP(addr) => TcpStream::connect(addr).map(Connection::from),
            #[cfg(unix)]
            ListenAddr::Unix(addr) => {
                // TODO: use connect_addr when its stabilized.
                let path = addr.as_pathname().unwrap();
                std::os::unix::net::UnixStream::connect(path).map(Connection::from)
            }
        };
        if let Ok(stream) = maybe_stream {
            let _ = stream.shutdown(Shutdown::Both);
        }

        #[cfg(unix)]
        if let ListenAddr::Unix(addr) = &self.listening_addr {
            if let Some(path) = addr.as_pathname() {
                let _ = std::fs::remove_file(path);
            }
        }
    }
}
