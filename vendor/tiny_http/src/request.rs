use std::io::{self, ErrorKind, Read};

use std::fmt;
use std::net::SocketAddr;
use std::ops::Range;

use std::sync::Arc;

use crate::head::{Field, Head, Reason};
use crate::util::{Connection, Ticket};
use crate::{HTTPVersion, Response, StatusCode};

/// Represents an HTTP request made by a client.
///
/// A `Request` object is what is produced by the server, and is your what
/// your code must analyse and answer.
///
/// This object implements the `Send` trait, therefore you can dispatch your requests to
/// worker threads.
///
/// # One at a time per connection (sre-kata patch)
///
/// A connection hands out its next request only once the previous one is
/// answered, so one connection never holds more than one worker, and
/// responses go out in order without any reordering. Answering never waits
/// on the client: see `util::connection`.
///
/// # A checked head (sre-kata patch)
///
/// The head was read and checked by [`crate::head`] (RFC 9112's rules), and
/// is kept as the bytes that arrived: the method, target and header fields
/// are read from them, without a copy. A head that failed the checks
/// arrives as a [`Rejection`] instead.
///
/// # Bodies (sre-kata patch)
///
/// Request bodies are never read. A request that declares one
/// ([`Request::declares_body`]) is the last on its connection, which ends
/// after the response. Upstream's `as_reader`, `into_writer` and `upgrade`
/// are gone with them.
///
/// # Automatic cleanup
///
/// If a `Request` object is destroyed without `respond` being called,
/// a 500 response is sent back to the client. This means that if your code
/// fails during the handling of a request, this "internal server error"
/// response will automatically be sent during the stack unwinding.
pub struct Request {
    // sre-kata patch: the head as it arrived, and where its parts are.
    bytes: Vec<u8>,
    method: Range<usize>,
    target: Range<usize>,
    // An absolute form's empty path, read as `/` (`http://host?q`): the
    // target with the `/` it lacks; rare, so built only then.
    rooted_target: Option<String>,
    fields: Vec<Field>,

    remote_addr: Option<SocketAddr>,

    http_version: HTTPVersion,

    // sre-kata patch: true if the request has a Content-Length other than 0
    // or a Transfer-Encoding, so its connection must not be reused.
    declares_body: bool,

    // sre-kata patch: true if no request will follow this one on its
    // connection, as far as the request itself says (or the server, when it
    // made room); the response says `Connection: close`.
    closes_connection: bool,

    // sre-kata patch: where the answer goes; `None` once answered.
    link: Option<Link>,
}

/// A request's hold on its connection and its place in the counts
/// (sre-kata patch). Dropping it, answered or not, panics included, lets the
/// connection's thread go on to the next request.
pub(crate) struct Link {
    conn: Arc<Connection>,
    ticket: Option<Ticket>,
}

impl Link {
    /// A request handed out on `conn` (its reader has called
    /// [`Connection::hand_out`]).
    pub(crate) fn new(conn: Arc<Connection>, ticket: Ticket) -> Link {
        Link {
            conn,
            ticket: Some(ticket),
        }
    }

    fn counted_as_answered(&mut self) {
        if let Some(ticket) = self.ticket.take() {
            ticket.answered();
        }
    }

    /// Writes `response` out and sends it without blocking (what does not
    /// fit goes to the reader); counted as answered before the bytes go
    /// out. `closes` if the application wants the connection to end after
    /// it; the connection says whether it is the last.
    fn send<R: Read>(
        mut self,
        response: Response<R>,
        version: HTTPVersion,
        head_request: bool,
        closes: bool,
    ) -> io::Result<()> {
        let last = self.conn.begin_answer(closes);
        let response = if last {
            response.with_connection_close()
        } else if version == HTTPVersion(1, 0) {
            response.with_keep_alive()
        } else {
            response
        };
        let mut bytes = Vec::with_capacity(512);
        let printed = response.raw_print(&mut bytes, version, &[], head_request, None);
        // The response's own reader failed, before anything was sent: the
        // drop abandons the connection.
        printed?;
        self.counted_as_answered();
        let delivered = self.conn.deliver(&bytes, last);
        ignore_client_closing_errors(delivered.map(drop))
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        // Unanswered (a panic while responding): nothing may follow on the
        // connection, or the next answer would pass for this one.
        if self.ticket.is_some() {
            self.conn.abandon();
        }
        self.conn.answered();
    }
}

fn ignore_client_closing_errors(result: io::Result<()>) -> io::Result<()> {
    result.or_else(|err| match err.kind() {
        ErrorKind::BrokenPipe => Ok(()),
        ErrorKind::ConnectionAborted => Ok(()),
        ErrorKind::ConnectionRefused => Ok(()),
        ErrorKind::ConnectionReset => Ok(()),
        _ => Err(err),
    })
}

impl Request {
    /// A request read from a connection: `bytes` starts with its head;
    /// `last` if no request follows it on its connection.
    pub(crate) fn new(
        head: Head,
        bytes: Vec<u8>,
        last: bool,
        remote_addr: Option<SocketAddr>,
        link: Link,
    ) -> Request {
        let rooted_target = head.rooted.then(|| {
            let rest = std::str::from_utf8(&bytes[head.target.clone()]).unwrap_or_default();
            format!("/{rest}")
        });
        Request {
            bytes,
            method: head.method,
            target: head.target,
            rooted_target,
            fields: head.fields,
            remote_addr,
            http_version: HTTPVersion(1, head.minor_version),
            declares_body: head.declares_body,
            closes_connection: last,
            link: Some(link),
        }
    }

    fn text(&self, range: Range<usize>) -> &str {
        // The head checks made these ASCII.
        std::str::from_utf8(&self.bytes[range]).unwrap_or_default()
    }

    /// Returns the method requested by the client (eg. `GET`, `POST`, etc.),
    /// as sent: methods are case-sensitive (sre-kata patch: a string, not
    /// an enum that allocates for the methods it does not know).
    #[inline]
    pub fn method(&self) -> &str {
        self.text(self.method.clone())
    }

    /// Returns the resource requested by the client: path and query. For a
    /// target in absolute form (`http://host/path`), its path and query
    /// (sre-kata patch).
    #[inline]
    pub fn url(&self) -> &str {
        match &self.rooted_target {
            Some(rooted) => rooted,
            None => self.text(self.target.clone()),
        }
    }

    /// The value of the first header field called `name` (any case), with
    /// the whitespace around it trimmed (sre-kata patch).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers()
            .find(|(field, _)| field.eq_ignore_ascii_case(name))
            .map(|(_, value)| value)
    }

    /// Every header field, as name and value, in order (sre-kata patch: read
    /// from the head as it arrived).
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.fields.iter().map(move |field| {
            (
                self.text(field.name.clone()),
                self.text(field.value.clone()),
            )
        })
    }

    /// Returns the HTTP version of the request.
    #[inline]
    pub fn http_version(&self) -> &HTTPVersion {
        &self.http_version
    }

    /// Returns true if the request declares a body: a `Content-Length` other
    /// than 0 or a `Transfer-Encoding` (sre-kata patch).
    ///
    /// Such a request is always the last one on its connection.
    #[inline]
    pub fn declares_body(&self) -> bool {
        self.declares_body
    }

    /// Returns the address of the client that sent this request: `None` if
    /// it reset the connection before its address was read.
    ///
    /// Note that this is gathered from the socket. If you receive the request from a proxy,
    /// this function will return the address of the proxy and not the address of the actual
    /// user.
    #[inline]
    pub fn remote_addr(&self) -> Option<&SocketAddr> {
        self.remote_addr.as_ref()
    }

    /// Sends a response to this request.
    ///
    /// sre-kata patch: the response is written out in full first, then sent
    /// without blocking; what the client's socket does not take at once is
    /// left to the connection's reader (`util::connection`), which ends the
    /// connection after it. The request is counted as answered before the
    /// bytes go out.
    pub fn respond<R>(mut self, response: Response<R>) -> Result<(), io::Error>
    where
        R: Read,
    {
        self.respond_impl(response)
    }

    fn respond_impl<R: Read>(&mut self, response: Response<R>) -> io::Result<()> {
        let Some(link) = self.link.take() else {
            return Ok(());
        };
        let head_request = self.method() == "HEAD";
        link.send(
            response,
            self.http_version.clone(),
            head_request,
            self.closes_connection,
        )
    }

    /// Makes this request the last one on its connection: the response says
    /// `Connection: close`, and the connection ends once it is written
    /// (sre-kata patch). A server that is shutting down uses it to send
    /// keep-alive clients elsewhere.
    pub fn set_closes_connection(&mut self) {
        self.closes_connection = true;
    }
}

impl fmt::Debug for Request {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> Result<(), fmt::Error> {
        write!(
            formatter,
            "Request({} {} from {:?})",
            self.method(),
            self.url(),
            self.remote_addr
        )
    }
}

impl Drop for Request {
    fn drop(&mut self) {
        if self.link.is_some() {
            // sre-kata patch: a last resort (the application panicked
            // outside its handler), so it is logged: it has no request id.
            log::error!(
                "{} {} was dropped unanswered; answering 500 without a request id",
                self.method(),
                self.url()
            );
            let response =
                crate::response::problem(StatusCode(500), "The request was not answered.");
            let _ = self.respond_impl(response);
        }
    }
}

/// A request head that [`crate::head`] refused (sre-kata patch: upstream
/// answered these itself, so the application never saw them: no request
/// id, no log line, no metric). The application answers it like any
/// request, with the status [`Rejection::reason`] gives; the connection
/// ends after the answer. Dropped unanswered, it is answered with a plain
/// problem of that status.
pub struct Rejection {
    reason: Reason,
    http_version: HTTPVersion,
    remote_addr: Option<SocketAddr>,
    link: Option<Link>,
}

impl Rejection {
    pub(crate) fn new(
        reason: Reason,
        http_version: HTTPVersion,
        remote_addr: Option<SocketAddr>,
        link: Link,
    ) -> Rejection {
        Rejection {
            reason,
            http_version,
            remote_addr,
            link: Some(link),
        }
    }

    /// Why the head was refused.
    pub fn reason(&self) -> Reason {
        self.reason
    }

    /// The request's HTTP version, if it was read (the status line says
    /// HTTP/1.1 whatever it is).
    pub fn http_version(&self) -> &HTTPVersion {
        &self.http_version
    }

    /// The address of the client, as for [`Request::remote_addr`].
    pub fn remote_addr(&self) -> Option<&SocketAddr> {
        self.remote_addr.as_ref()
    }

    /// Sends the answer; it says `Connection: close`, and the connection
    /// ends after it.
    pub fn respond<R: Read>(mut self, response: Response<R>) -> io::Result<()> {
        self.respond_impl(response)
    }

    fn respond_impl<R: Read>(&mut self, response: Response<R>) -> io::Result<()> {
        let Some(link) = self.link.take() else {
            return Ok(());
        };
        link.send(response, self.http_version.clone(), false, true)
    }
}

impl fmt::Debug for Rejection {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> Result<(), fmt::Error> {
        write!(
            formatter,
            "Rejection({:?} from {:?})",
            self.reason, self.remote_addr
        )
    }
}

impl Drop for Rejection {
    fn drop(&mut self) {
        if self.link.is_some() {
            log::error!(
                "a refused head ({:?}) was dropped unanswered; answering without a request id",
                self.reason
            );
            let status = StatusCode(self.reason.status());
            let _ = self.respond_impl(crate::response::problem(status, self.reason.detail()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Link, Rejection, Request};
    use crate::head::{self, Parse, Reason};
    use crate::util::{Connection, Counters, Phase, Ticket};
    use crate::{HTTPVersion, Response, StatusCode};
    use std::io::Read;
    use std::net::{TcpListener, TcpStream};
    use std::sync::atomic::Ordering;
    use std::sync::Arc;

    /// A request's link on a real connection, and the client's end of it.
    fn link(counters: &Arc<Counters>) -> (Link, Arc<Connection>, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        let conn = Arc::new(Connection::for_current_thread(
            server.into(),
            std::time::Instant::now(),
        ));
        conn.hand_out(false).expect("a connection just opened");
        let link = Link::new(Arc::clone(&conn), Ticket::issue(counters));
        (link, conn, client)
    }

    /// A request on a real connection, and the client's end of it.
    fn request(counters: &Arc<Counters>) -> (Request, Arc<Connection>, TcpStream) {
        let raw = b"GET /query?param=a HTTP/1.1\r\nHost: t\r\nX-Request-Id:  r1 \r\n\r\n";
        let Parse::Complete(head) = head::parse(raw) else {
            panic!("a valid head")
        };
        let (link, conn, client) = link(counters);
        (
            Request::new(head, raw.to_vec(), false, None, link),
            conn,
            client,
        )
    }

    #[test]
    fn a_request_reads_its_parts_from_the_head_as_it_arrived() {
        let counters = Arc::new(Counters::default());
        let (request, _conn, _client) = request(&counters);
        assert_eq!(request.method(), "GET");
        assert_eq!(request.url(), "/query?param=a");
        assert_eq!(request.header("x-request-id"), Some("r1"));
        assert_eq!(request.header("host"), Some("t"));
        assert_eq!(request.header("missing"), None);
        assert_eq!(request.headers().count(), 2);
    }

    #[test]
    fn a_rejection_is_answered_and_ends_its_connection() {
        let counters = Arc::new(Counters::default());
        let (link, conn, mut client) = link(&counters);
        let rejection = Rejection::new(Reason::MissingHost, HTTPVersion(1, 1), None, link);
        assert_eq!(rejection.reason().status(), 400);
        rejection
            .respond(Response::from_string("no host").with_status_code(400))
            .unwrap();
        // The connection's thread would close it; here the test does.
        conn.end();
        let mut answer = Vec::new();
        client.read_to_end(&mut answer).unwrap();
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 400"), "{}", answer);
        assert!(answer.contains("Connection: close"), "{}", answer);
        assert!(conn.is_ending());
        assert_eq!(counters.answered.load(Ordering::SeqCst), 1);
    }

    struct Panics;

    impl Read for Panics {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            panic!("a response body that panics")
        }
    }

    #[test]
    fn a_panic_while_responding_frees_the_connection_and_ends_it() {
        let counters = Arc::new(Counters::default());
        let (request, conn, _client) = request(&counters);
        assert!(conn.phase().is_out());
        let response = Response::new(StatusCode(200), Vec::new(), Panics, Some(4), None);
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
            let _ = request.respond(response);
        }));
        assert!(result.is_err());
        // Upstream kept the connection's permit: after eight such panics its
        // reader waited for ever. Here the thread may go on, and the
        // connection ends, since nothing answered this request.
        assert!(!conn.phase().is_out());
        assert!(conn.is_ending());
        assert_eq!(counters.pending.load(Ordering::SeqCst), 0);
        assert_eq!(counters.answered.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn an_answered_request_is_counted_and_keeps_its_connection() {
        let counters = Arc::new(Counters::default());
        let (request, conn, mut client) = request(&counters);
        request.respond(Response::from_string("hi")).unwrap();
        let mut first = [0u8; 12];
        client.read_exact(&mut first).unwrap();
        assert_eq!(&first, b"HTTP/1.1 200");
        assert_eq!(counters.answered.load(Ordering::SeqCst), 1);
        assert_eq!(counters.pending.load(Ordering::SeqCst), 0);
        assert!(matches!(conn.phase(), Phase::Waiting { .. }));
        assert!(!conn.is_ending());
    }

    #[test]
    fn an_unanswered_request_gets_a_500() {
        let counters = Arc::new(Counters::default());
        let (request, _conn, mut client) = request(&counters);
        drop(request);
        let mut first = [0u8; 12];
        client.read_exact(&mut first).unwrap();
        assert_eq!(&first, b"HTTP/1.1 500");
    }

    #[test]
    fn must_be_send() {
        #![allow(dead_code)]
        fn f<T: Send>(_: &T) {}
        fn bar(rq: &Request) {
            f(rq);
        }
    }
}
