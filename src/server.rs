//! The server: tiny_http's listener feeding a fixed pool of worker threads.
//!
//! Contract:
//! - `WORKERS` threads each loop on `recv()`; nothing spawns per request.
//!   (tiny_http itself keeps one thread per open connection, reading heads,
//!   and at most `max_connections` connections; see vendor/tiny_http.)
//! - A worker never waits on a client: tiny_http sends without blocking and
//!   leaves what does not fit to the connection's own thread.
//! - Every request gets exactly one response, even if the handler panics
//!   (500, logged, and the worker goes on).
//! - Every response carries `Content-Length` (tiny_http adds it),
//!   `Content-Type`, `Cache-Control`, `X-Content-Type-Options: nosniff` and
//!   `X-Request-Id`, and one access-log line is written for it.
//! - If tiny_http's accept thread ends, the server sends
//!   [`Event::ListenerFailed`] so the process can exit and be restarted; the
//!   workers go on answering the connections still open.
//! - While draining, `/healthz` fails and every response closes its connection.

use crate::log::Logger;
use crate::problem::Problem;
use crate::request_id;
use crate::route::{
    split_target, Caching, Health, MediaType, Reply, RequestHead, ALLOWED_METHODS,
    QUERY_MAX_AGE_SECS,
};
use crate::sys;
use std::any::Any;
use std::io::{self, Cursor};
use std::net::{SocketAddr, TcpListener};
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};
use tiny_http::{Header, Request, Response};

/// Decides the reply to a request; [`crate::route::route`] in production.
pub type Handler = dyn Fn(&RequestHead<'_>, Health) -> Reply + Send + Sync;

/// Something the process must react to.
#[derive(Debug)]
pub enum Event {
    /// A shutdown signal arrived (its name).
    Signal(&'static str),
    /// tiny_http's accept thread ended: no new connection will be accepted.
    ListenerFailed(io::Error),
}

/// Longest method, path or client address written to the access log, so that
/// a hostile 64 KiB request line cannot make a 64 KiB log line.
const LOGGED_FIELD_MAX: usize = 256;

/// Opens the listening socket. Accepted connections inherit its timeouts:
/// `idle_timeout` for a silent client between requests (a request head has
/// its own, shorter deadline in tiny_http), and `write_timeout` for the part
/// of a response a slow reader has not taken. Its backlog holds the
/// connections that wait while the server is at its cap.
pub fn bind(
    addr: SocketAddr,
    idle_timeout: Duration,
    write_timeout: Duration,
) -> io::Result<TcpListener> {
    let listener = TcpListener::bind(addr)?;
    sys::set_timeouts_and_nodelay(&listener, idle_timeout, write_timeout)?;
    sys::set_backlog(&listener, BACKLOG)?;
    Ok(listener)
}

/// The listen backlog asked for; the kernel caps it at `net.core.somaxconn`.
const BACKLOG: u32 = 4096;

/// Descriptors kept for everything but connections: stdio, the listener,
/// and the odd file.
const RESERVED_FDS: u64 = 32;

/// The cap on open connections: `configured`, unless the open-file limit
/// (`open_files`, 0 if unknown) leaves room for fewer. Each connection holds
/// one descriptor.
pub fn connection_cap(configured: usize, open_files: u64) -> usize {
    if open_files == 0 {
        return configured;
    }
    let room = open_files.saturating_sub(RESERVED_FDS).max(1);
    configured.min(usize::try_from(room).unwrap_or(usize::MAX))
}

/// How the server is sized.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Worker threads answering requests.
    pub workers: usize,
    /// The most connections open at once (see [`connection_cap`]).
    pub max_connections: usize,
    /// The listener's read timeout, as [`bind`] set it.
    pub idle_timeout: Duration,
    /// How long a connection's own thread may take to send the end of an
    /// answer, as [`bind`] set it for each send.
    pub write_timeout: Duration,
}

/// A running server.
pub struct Server {
    shared: Arc<Shared>,
    addr: SocketAddr,
}

/// How busy the server is: what a drain waits on, and what overload
/// reports say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Activity {
    /// Requests whose head was read and that are not answered yet: queued
    /// for a worker, or held by one.
    pub pending: usize,
    /// Requests answered since start.
    pub answered: u64,
    /// Connections with part of a request head: requests on their way in.
    pub reading: usize,
    /// Connections sending the end of an answer before they close.
    pub sending: usize,
    /// Connections open now.
    pub connections: usize,
    /// The cap on open connections.
    pub max_connections: usize,
    /// True while connections are near the cap and idle ones are shed.
    pub overloaded: bool,
    /// Idle connections closed early since start.
    pub shed_idle: u64,
    /// Connections closed since start because their request head was late.
    pub shed_heads: u64,
    /// Times overload began, since start.
    pub overload_episodes: u64,
}

struct Shared {
    http: tiny_http::Server,
    handler: Box<Handler>,
    logger: Logger,
    ids: request_id::Generator,
    draining: AtomicBool,
    headers: FixedHeaders,
}

impl Server {
    /// Starts serving on `listener`. `events` hears about a failed listener.
    pub fn start(
        listener: TcpListener,
        limits: Limits,
        logger: Logger,
        handler: Box<Handler>,
        events: Sender<Event>,
    ) -> io::Result<Server> {
        let addr = listener.local_addr()?;
        let options = tiny_http::ServerOptions {
            max_connections: limits.max_connections,
            idle_timeout: limits.idle_timeout,
            write_timeout: limits.write_timeout,
        };
        let http = tiny_http::Server::from_listener(listener, options).map_err(io::Error::other)?;
        let shared = Arc::new(Shared {
            http,
            handler,
            logger,
            ids: request_id::Generator::new(sys::random_u64().unwrap_or_else(fallback_seed)),
            draining: AtomicBool::new(false),
            headers: FixedHeaders::new(),
        });
        for index in 0..limits.workers {
            let shared = Arc::clone(&shared);
            let events = events.clone();
            thread::Builder::new()
                .name(format!("worker-{index}"))
                .spawn(move || shared.work(&events))?;
        }
        Ok(Server { shared, addr })
    }

    /// The address the server listens on (with the real port if 0 was asked).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Starts draining: `/healthz` answers 503 and connections close after
    /// their next response. Everything else is still answered.
    pub fn start_draining(&self) {
        self.shared.draining.store(true, Ordering::SeqCst);
    }

    /// How busy the server is right now.
    pub fn activity(&self) -> Activity {
        let stats = self.shared.http.stats();
        Activity {
            pending: stats.pending,
            answered: stats.answered,
            reading: stats.reading,
            sending: stats.sending,
            connections: stats.connections,
            max_connections: stats.max_connections,
            overloaded: stats.overloaded,
            shed_idle: stats.shed_idle,
            shed_heads: stats.shed_heads,
            overload_episodes: stats.overload_episodes,
        }
    }
}

/// Seeds request ids from the clock and pid when the kernel has no randomness.
fn fallback_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    nanos ^ (u64::from(std::process::id()) << 32)
}

impl Shared {
    fn work(&self, events: &Sender<Event>) {
        loop {
            // With nothing queued, write the batched access-log lines before
            // waiting, so that an idle server's log is never behind.
            let next = match self.http.try_recv() {
                Ok(Some(request)) => Ok(request),
                Ok(None) => {
                    self.logger.flush();
                    self.http.recv()
                }
                // The listener's end, reported once: it must not be lost.
                Err(error) => Err(error),
            };
            match next {
                // A panic outside the handler (writing or logging) must not end
                // the worker either; an unanswered request gets tiny_http's 500
                // as it unwinds.
                Ok(request) => {
                    let _ = panic::catch_unwind(AssertUnwindSafe(|| self.answer(request)));
                }
                // Reported once; this worker goes on with the connections
                // still open, like the others.
                Err(error) => {
                    let _ = events.send(Event::ListenerFailed(error));
                }
            }
        }
    }

    fn answer(&self, mut request: Request) {
        let started = Instant::now();
        let health = if self.draining.load(Ordering::SeqCst) {
            Health::Draining
        } else {
            Health::Serving
        };
        let request_id = header(&request, "X-Request-Id")
            .and_then(request_id::accept)
            .map_or_else(|| self.ids.next_id(), str::to_owned);
        let head = RequestHead {
            method: request.method().as_str(),
            target: request.url(),
            declares_body: request.declares_body(),
        };
        let reply = match panic::catch_unwind(AssertUnwindSafe(|| (self.handler)(&head, health))) {
            Ok(reply) => reply,
            Err(payload) => {
                self.logger
                    .error("handler_panic")
                    .str("request_id", &request_id)
                    .str("message", panic_message(payload.as_ref()))
                    .emit();
                Reply::problem(Problem::Internal)
            }
        };

        let method = clip(head.method).to_owned();
        let path = clip(split_target(head.target).0).to_owned();
        let client = client_address(&request);
        let body_bytes = if method == "HEAD" {
            0
        } else {
            reply.body.len()
        };
        let (status, param_bytes) = (reply.status, reply.param_bytes);

        if health == Health::Draining {
            request.set_closes_connection();
        }
        let written = request.respond(self.headers.response(reply, &request_id));

        let line = match &written {
            Ok(()) => self.logger.info("request"),
            Err(_) => self.logger.warn("request"),
        };
        let line = line
            .str("method", &method)
            .str("path", &path)
            .uint("status", u64::from(status))
            .uint("duration_us", started.elapsed().as_micros() as u64)
            .uint("bytes", body_bytes as u64)
            .str("request_id", &request_id)
            .str("client", &client);
        let line = match param_bytes {
            Some(n) => line.uint("param_bytes", n as u64),
            None => line,
        };
        match written {
            Ok(()) => line.emit_batched(),
            Err(error) => line.str("error", &error.to_string()).emit(),
        }
    }
}

/// The value of the first header called `name` (case-insensitive).
fn header<'r>(request: &'r Request, name: &'static str) -> Option<&'r str> {
    request
        .headers()
        .iter()
        .find(|h| h.field.equiv(name))
        .map(|h| h.value.as_str())
}

/// The client as the access log names it: the first `X-Forwarded-For` hop
/// (the load balancer's view of the client), else the peer address.
fn client_address(request: &Request) -> String {
    let forwarded = header(request, "X-Forwarded-For")
        .and_then(|value| value.split(',').next())
        .map(str::trim)
        .filter(|hop| !hop.is_empty());
    match (forwarded, request.remote_addr()) {
        (Some(hop), _) => clip(hop).to_owned(),
        (None, Some(peer)) => peer.ip().to_string(),
        (None, None) => String::new(),
    }
}

/// The first [`LOGGED_FIELD_MAX`] bytes of `s`, cut at a character boundary.
fn clip(s: &str) -> &str {
    if s.len() <= LOGGED_FIELD_MAX {
        return s;
    }
    let mut end = LOGGED_FIELD_MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The text of a panic, when it has one; shared by the worker guard and the process hook.
pub fn panic_message(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(not a string)")
}

/// Headers that are the same on many responses, built once.
struct FixedHeaders {
    json: Header,
    problem: Header,
    public: Header,
    no_store: Header,
    nosniff: Header,
    allow: Header,
    server: Header,
}

impl FixedHeaders {
    fn new() -> Self {
        let fixed = |name: &str, value: &str| {
            Header::from_bytes(name.as_bytes(), value.as_bytes())
                .unwrap_or_else(|()| unreachable!("{name}: {value} is ASCII"))
        };
        FixedHeaders {
            json: fixed("Content-Type", "application/json"),
            problem: fixed("Content-Type", "application/problem+json"),
            public: fixed(
                "Cache-Control",
                &format!("public, max-age={QUERY_MAX_AGE_SECS}"),
            ),
            no_store: fixed("Cache-Control", "no-store"),
            nosniff: fixed("X-Content-Type-Options", "nosniff"),
            allow: fixed("Allow", ALLOWED_METHODS),
            server: fixed("Server", "sre-kata"),
        }
    }

    fn response(&self, reply: Reply, request_id: &str) -> Response<Cursor<Vec<u8>>> {
        let content_type = match reply.media_type {
            MediaType::Json => &self.json,
            MediaType::Problem => &self.problem,
        };
        let caching = match reply.caching {
            Caching::Public => &self.public,
            Caching::NoStore => &self.no_store,
        };
        let mut response = Response::from_data(reply.body)
            .with_status_code(reply.status)
            .with_header(self.server.clone())
            .with_header(content_type.clone())
            .with_header(caching.clone())
            .with_header(self.nosniff.clone());
        if reply.allow {
            response.add_header(self.allow.clone());
        }
        // The id is visible ASCII (request_id::accept or generated), so this
        // cannot fail; if it ever did, the response would lack only the id.
        if let Ok(id) = Header::from_bytes(&b"X-Request-Id"[..], request_id.as_bytes()) {
            response.add_header(id);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::{clip, connection_cap};

    #[test]
    fn the_cap_leaves_descriptors_for_the_rest() {
        assert_eq!(connection_cap(1024, 0), 1024, "limit unknown");
        assert_eq!(connection_cap(1024, 20_000), 1024);
        assert_eq!(connection_cap(1024, 1024), 992);
        assert_eq!(connection_cap(1024, 10), 1, "never zero");
    }

    #[test]
    fn clip_keeps_short_strings_and_cuts_long_ones_on_a_boundary() {
        assert_eq!(clip("/query"), "/query");
        let long = "é".repeat(200);
        let clipped = clip(&long);
        assert!(clipped.len() <= super::LOGGED_FIELD_MAX);
        assert!(clipped.len() >= super::LOGGED_FIELD_MAX - 1);
        assert!(long.starts_with(clipped));
    }
}
