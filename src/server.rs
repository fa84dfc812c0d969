//! The server: tiny_http's listener feeding a fixed pool of worker threads.
//!
//! Contract:
//! - `WORKERS` threads each loop on `recv()`; nothing spawns per request.
//!   (tiny_http itself keeps one thread per open connection, reading heads.)
//! - Every request gets exactly one response, even if the handler panics
//!   (500, logged, and the worker goes on).
//! - Every response carries `Content-Length` (tiny_http adds it),
//!   `Content-Type`, `Cache-Control`, `X-Content-Type-Options: nosniff` and
//!   `X-Request-Id`, and one access-log line is written for it.
//! - If tiny_http's accept thread ends, the server sends
//!   [`Event::ListenerFailed`] so the process can exit and be restarted.
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
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
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

/// Opens the listening socket. Its receive and send timeouts are `idle_timeout`,
/// and accepted connections inherit them, so a silent client, idle or halfway
/// through a request or a response, is dropped after that long.
pub fn bind(addr: SocketAddr, idle_timeout: Duration) -> io::Result<TcpListener> {
    let listener = TcpListener::bind(addr)?;
    sys::set_timeouts_and_nodelay(&listener, idle_timeout)?;
    Ok(listener)
}

/// A running server.
pub struct Server {
    shared: Arc<Shared>,
    addr: SocketAddr,
}

/// How busy the server is: what a drain waits on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Activity {
    /// Requests taken by a worker and not yet answered.
    pub in_flight: usize,
    /// Requests answered since start.
    pub answered: u64,
}

struct Shared {
    http: tiny_http::Server,
    handler: Box<Handler>,
    logger: Logger,
    ids: request_id::Generator,
    draining: AtomicBool,
    in_flight: AtomicUsize,
    answered: AtomicU64,
    headers: FixedHeaders,
}

impl Server {
    /// Starts serving on `listener` with `workers` threads. `events` hears
    /// about a failed listener.
    pub fn start(
        listener: TcpListener,
        workers: usize,
        logger: Logger,
        handler: Box<Handler>,
        events: Sender<Event>,
    ) -> io::Result<Server> {
        let addr = listener.local_addr()?;
        let http = tiny_http::Server::from_listener(listener, None).map_err(io::Error::other)?;
        let shared = Arc::new(Shared {
            http,
            handler,
            logger,
            ids: request_id::Generator::new(sys::random_u64().unwrap_or_else(fallback_seed)),
            draining: AtomicBool::new(false),
            in_flight: AtomicUsize::new(0),
            answered: AtomicU64::new(0),
            headers: FixedHeaders::new(),
        });
        for index in 0..workers {
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
        Activity {
            in_flight: self.shared.in_flight.load(Ordering::SeqCst),
            answered: self.shared.answered.load(Ordering::SeqCst),
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
                Err(error) => {
                    let _ = events.send(Event::ListenerFailed(error));
                    return;
                }
            }
        }
    }

    fn answer(&self, mut request: Request) {
        let started = Instant::now();
        let _in_flight = InFlight::enter(&self.in_flight);
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
        self.answered.fetch_add(1, Ordering::SeqCst);

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

/// Counts a request as in flight for as long as it lives, panics included.
struct InFlight<'a>(&'a AtomicUsize);

impl<'a> InFlight<'a> {
    fn enter(counter: &'a AtomicUsize) -> Self {
        counter.fetch_add(1, Ordering::SeqCst);
        InFlight(counter)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
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
    use super::clip;

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
