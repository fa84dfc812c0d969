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
//! - Every response carries the headers of [`crate::reply`], the request id
//!   among them, and one access-log line is written for it: requests whose
//!   head tiny_http refused too (their line has `error`, the reason).
//! - If tiny_http's accept thread ends, the server sends
//!   [`Event::ListenerFailed`] so the process can exit and be restarted; the
//!   workers go on answering the connections still open.
//! - While draining, `/healthz` fails and every response closes its connection.

use crate::log::Logger;
use crate::problem::{Problem, Refusal};
use crate::reply::{Renderer, Reply};
use crate::request_id;
use crate::route::{split_target, Health, RequestHead};
use crate::sys;
use std::any::Any;
use std::io;
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};
use tiny_http::{Incoming, Rejection, Request};

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

/// How the server is sized, and what it trusts.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// Worker threads answering requests.
    pub workers: usize,
    /// The most connections open at once (see [`connection_cap`]).
    pub max_connections: usize,
    /// The listener's read timeout, as [`bind`] set it.
    pub idle_timeout: Duration,
    /// How long a connection's own thread may take to send the end of an
    /// answer, and to wait for the client to take it.
    pub write_timeout: Duration,
    /// Proxies in front that append to `X-Forwarded-For` (see
    /// [`client_address`]).
    pub trusted_proxies: usize,
}

/// A running server.
pub struct Server {
    core: Arc<Core>,
    addr: SocketAddr,
}

/// How busy the server is: what a drain waits on, and what overload
/// reports say. tiny_http counts it; the server passes it on as it is.
pub use tiny_http::Stats as Activity;

/// What every worker shares: the HTTP server, the handler, the log, and
/// the drain flag.
struct Core {
    http: tiny_http::Server,
    handler: Box<Handler>,
    logger: Logger,
    ids: request_id::Generator,
    draining: AtomicBool,
    renderer: Renderer,
    trusted_proxies: usize,
}

impl Server {
    /// Starts serving on `listener`. `events` hears about a failed listener.
    pub fn start(
        listener: TcpListener,
        settings: Settings,
        logger: Logger,
        handler: Box<Handler>,
        events: Sender<Event>,
    ) -> io::Result<Server> {
        let addr = listener.local_addr()?;
        let options = tiny_http::ServerOptions {
            max_connections: settings.max_connections,
            idle_timeout: settings.idle_timeout,
            write_timeout: settings.write_timeout,
        };
        let http = tiny_http::Server::from_listener(listener, options).map_err(io::Error::other)?;
        let core = Arc::new(Core {
            http,
            handler,
            logger,
            ids: request_id::Generator::new(sys::random_u64().unwrap_or_else(fallback_seed)),
            draining: AtomicBool::new(false),
            renderer: Renderer::new(),
            trusted_proxies: settings.trusted_proxies,
        });
        for index in 0..settings.workers {
            let core = Arc::clone(&core);
            let events = events.clone();
            thread::Builder::new()
                .name(format!("worker-{index}"))
                .spawn(move || core.work(&events))?;
        }
        Ok(Server { core, addr })
    }

    /// The address the server listens on (with the real port if 0 was asked).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Starts draining: `/healthz` answers 503 and connections close after
    /// their next response. Everything else is still answered.
    pub fn start_draining(&self) {
        self.core.draining.store(true, Ordering::SeqCst);
    }

    /// How busy the server is right now.
    pub fn activity(&self) -> Activity {
        self.core.http.stats()
    }
}

/// Seeds request ids from the clock and pid when the kernel has no randomness.
fn fallback_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    nanos ^ (u64::from(std::process::id()) << 32)
}

impl Core {
    fn work(&self, events: &Sender<Event>) {
        loop {
            // With nothing queued, write the batched access-log lines before
            // waiting, so that an idle server's log is never behind.
            let next = match self.http.try_recv() {
                Ok(Some(incoming)) => Ok(incoming),
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
                Ok(incoming) => {
                    let _ = panic::catch_unwind(AssertUnwindSafe(|| self.answer(incoming)));
                }
                // Reported once; this worker goes on with the connections
                // still open, like the others.
                Err(error) => {
                    let _ = events.send(Event::ListenerFailed(error));
                }
            }
        }
    }

    /// A request's life: decide, write, log.
    fn answer(&self, incoming: Incoming) {
        let started = Instant::now();
        match incoming {
            Incoming::Request(mut request) => {
                let (reply, exchange) = self.decide(&request);
                if exchange.health == Health::Draining {
                    request.set_closes_connection();
                }
                let written = request.respond(self.renderer.response(reply, &exchange.request_id));
                self.log(&exchange, started, written);
            }
            Incoming::Rejected(rejection) => {
                let (reply, exchange) = self.decide_rejected(&rejection);
                let written =
                    rejection.respond(self.renderer.response(reply, &exchange.request_id));
                self.log(&exchange, started, written);
            }
        }
    }

    fn health(&self) -> Health {
        if self.draining.load(Ordering::SeqCst) {
            Health::Draining
        } else {
            Health::Serving
        }
    }

    /// The reply to a request, and what its log line will say.
    fn decide(&self, request: &Request) -> (Reply, Exchange) {
        let health = self.health();
        let request_id = request
            .header("X-Request-Id")
            .and_then(request_id::accept)
            .map_or_else(|| self.ids.next_id(), str::to_owned);
        let head = RequestHead {
            method: request.method(),
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
        let peer = request.remote_addr().map(SocketAddr::ip);
        let exchange = Exchange {
            method: clip(head.method).to_owned(),
            path: clip(split_target(head.target).0).to_owned(),
            client: client_address(
                request
                    .headers()
                    .filter(|(name, _)| name.eq_ignore_ascii_case("X-Forwarded-For"))
                    .map(|(_, value)| value),
                peer,
                self.trusted_proxies,
            ),
            request_id,
            status: reply.status,
            body_bytes: if head.method == "HEAD" {
                0
            } else {
                reply.body.len()
            },
            param_bytes: reply.param_bytes,
            refused: None,
            health,
        };
        (reply, exchange)
    }

    /// The reply to a head tiny_http refused: its status, as a problem, with
    /// a request id like any other, since the head's own was not read.
    fn decide_rejected(&self, rejection: &Rejection) -> (Reply, Exchange) {
        let reason = rejection.reason();
        let reply = Reply::problem(Problem::HeadRefused(Refusal {
            status: reason.status(),
            detail: reason.detail(),
        }));
        let peer = rejection.remote_addr().map(SocketAddr::ip);
        let exchange = Exchange {
            method: String::new(),
            path: String::new(),
            // The head was refused unread, so no forwarded hop is trusted:
            // the peer (behind a proxy, the proxy; docs/operations.md).
            client: client_address([], peer, 0),
            request_id: self.ids.next_id(),
            status: reply.status,
            body_bytes: reply.body.len(),
            param_bytes: None,
            refused: Some(reason.name()),
            health: self.health(),
        };
        (reply, exchange)
    }

    /// The access-log line: batched, unless the response could not be
    /// written.
    fn log(&self, exchange: &Exchange, started: Instant, written: io::Result<()>) {
        let line = match &written {
            Ok(()) => self.logger.info("request"),
            Err(_) => self.logger.warn("request"),
        };
        let line = line
            .str("method", &exchange.method)
            .str("path", &exchange.path)
            .uint("status", u64::from(exchange.status))
            .uint("duration_us", started.elapsed().as_micros() as u64)
            .uint("bytes", exchange.body_bytes as u64)
            .str("request_id", &exchange.request_id)
            .str("client", &exchange.client);
        let line = match exchange.param_bytes {
            Some(n) => line.uint("param_bytes", n as u64),
            None => line,
        };
        let line = match exchange.refused {
            Some(reason) => line.str("error", reason),
            None => line,
        };
        match written {
            Ok(()) => line.emit_batched(),
            Err(error) => line.str("write_error", &error.to_string()).emit(),
        }
    }
}

/// What an access-log line says about one request.
struct Exchange {
    method: String,
    path: String,
    client: String,
    request_id: String,
    status: u16,
    body_bytes: usize,
    param_bytes: Option<usize>,
    /// Why tiny_http refused the head, for a refused one.
    refused: Option<&'static str>,
    health: Health,
}

/// The client as the access log names it. Each of the `trusted` proxies in
/// front appends to `X-Forwarded-For` the address it got the request from,
/// so the client is the hop `trusted` places from the end, counting the
/// peer; the hops before it are the client's to write. With fewer hops (a
/// request that came another way), the oldest; with no proxy trusted, the
/// peer. `forwarded` is every `X-Forwarded-For` line in order: lines of a
/// list field are one list (RFC 9110, 5.3), whichever line a proxy added.
pub fn client_address<'a>(
    forwarded: impl IntoIterator<Item = &'a str>,
    peer: Option<IpAddr>,
    trusted: usize,
) -> String {
    let peer = peer.map(|ip| ip.to_string());
    let mut hops: Vec<&str> = forwarded
        .into_iter()
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .filter(|hop| !hop.is_empty())
        .collect();
    hops.extend(peer.as_deref());
    let at = hops.len().saturating_sub(1 + trusted);
    hops.get(at)
        .map_or_else(String::new, |hop| clip(hop).to_owned())
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

#[cfg(test)]
mod tests {
    use super::{client_address, clip, connection_cap};

    #[test]
    fn the_client_is_the_hop_the_nearest_trusted_proxy_appended() {
        let peer = Some("10.0.0.9".parse().unwrap());
        // Behind one load balancer: it appended the client's address.
        assert_eq!(client_address(["1.2.3.4"], peer, 1), "1.2.3.4");
        // What the client wrote itself comes before, and is not believed.
        assert_eq!(client_address(["6.6.6.6, 1.2.3.4"], peer, 1), "1.2.3.4");
        assert_eq!(client_address([" 6.6.6.6 ,1.2.3.4 "], peer, 1), "1.2.3.4");
        // Two proxies in front.
        assert_eq!(
            client_address(["6.6.6.6, 1.2.3.4, 10.0.0.1"], peer, 2),
            "1.2.3.4"
        );
        // A direct connection: the peer, whatever it claims.
        assert_eq!(client_address([], peer, 1), "10.0.0.9");
        assert_eq!(client_address(["6.6.6.6"], peer, 0), "10.0.0.9");
        // Fewer hops than proxies: the oldest.
        assert_eq!(client_address(["1.2.3.4"], peer, 5), "1.2.3.4");
        assert_eq!(client_address([], None, 1), "");
        // Two lines are one list: the hop appended last is on the last line.
        assert_eq!(client_address(["6.6.6.6", "1.2.3.4"], peer, 1), "1.2.3.4");
    }

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
