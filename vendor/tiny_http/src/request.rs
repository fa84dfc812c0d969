use std::io::{self, ErrorKind, Read};

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

use std::sync::Arc;

use crate::util::{Conn, Ticket};
use crate::{HTTPVersion, Header, Method, Response, StatusCode};

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
/// on the client: see `util::conn`.
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
    remote_addr: Option<SocketAddr>,

    method: Method,

    path: String,

    http_version: HTTPVersion,

    headers: Vec<Header>,

    body_length: Option<usize>,

    // sre-kata patch: true if the request has a Content-Length other than 0
    // or any Transfer-Encoding, so its connection must not be reused.
    declares_body: bool,

    // sre-kata patch: true if no request will follow this one on its
    // connection, so the response says `Connection: close`.
    closes_connection: bool,

    // sre-kata patch: where the answer goes; `None` once answered.
    link: Option<Link>,
}

/// A request's hold on its connection and its place in the counts
/// (sre-kata patch). Dropping it, answered or not, panics included, lets the
/// connection's thread go on to the next request.
pub(crate) struct Link {
    conn: Arc<Conn>,
    ticket: Option<Ticket>,
}

impl Link {
    /// A request handed out on `conn` (the connection's thread has called
    /// [`Conn::hand_out`]).
    pub(crate) fn new(conn: Arc<Conn>, ticket: Ticket) -> Link {
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
}

impl Drop for Link {
    fn drop(&mut self) {
        // Unanswered (a panic while responding): nothing may follow on the
        // connection, or the next answer would pass for this one.
        if self.ticket.is_some() {
            self.conn.end();
        }
        self.conn.answered();
    }
}

impl Request {
    /// A request read from a connection (sre-kata patch: its body is never
    /// read, so it carries none).
    pub(crate) fn new(
        method: Method,
        path: String,
        http_version: HTTPVersion,
        headers: Vec<Header>,
        remote_addr: Option<SocketAddr>,
        link: Link,
    ) -> Request {
        let transfer_encoding = headers.iter().any(|h| h.field.equiv("Transfer-Encoding"));
        // Any Transfer-Encoding, or any Content-Length that is not exactly 0
        // (even one that does not parse), declares a body.
        let declares_body = transfer_encoding
            || headers
                .iter()
                .any(|h| h.field.equiv("Content-Length") && h.value.as_str().trim() != "0");
        let body_length = if transfer_encoding {
            None
        } else {
            headers
                .iter()
                .find(|h| h.field.equiv("Content-Length"))
                .and_then(|h| usize::from_str(h.value.as_str()).ok())
        };
        Request {
            remote_addr,
            method,
            path,
            http_version,
            headers,
            body_length,
            declares_body,
            closes_connection: false,
            link: Some(link),
        }
    }

    /// Returns the method requested by the client (eg. `GET`, `POST`, etc.).
    #[inline]
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// Returns the resource requested by the client.
    #[inline]
    pub fn url(&self) -> &str {
        &self.path
    }

    /// Returns a list of all headers sent by the client.
    #[inline]
    pub fn headers(&self) -> &[Header] {
        &self.headers
    }

    /// Returns the HTTP version of the request.
    #[inline]
    pub fn http_version(&self) -> &HTTPVersion {
        &self.http_version
    }

    /// Returns the length of the body the request declares, in bytes.
    ///
    /// Returns `None` if the length is unknown.
    #[inline]
    pub fn body_length(&self) -> Option<usize> {
        self.body_length
    }

    /// Returns true if the request declares a body: a `Content-Length` other
    /// than 0 (valid or not) or any `Transfer-Encoding` (sre-kata patch).
    ///
    /// Such a request is always the last one on its connection.
    #[inline]
    pub fn declares_body(&self) -> bool {
        self.declares_body
    }

    /// Returns the address of the client that sent this request.
    ///
    /// The address is always `Some` for TCP listeners, but always `None` for UNIX listeners
    /// (as the remote address of a UNIX client is almost always unnamed).
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
    /// left to the connection's own thread (`util::conn`), which ends the
    /// connection after it. The request is counted as answered before the
    /// bytes go out.
    pub fn respond<R>(mut self, response: Response<R>) -> Result<(), io::Error>
    where
        R: Read,
    {
        self.respond_impl(response)
    }

    fn respond_impl<R>(&mut self, response: Response<R>) -> Result<(), io::Error>
    where
        R: Read,
    {
        let Some(mut link) = self.link.take() else {
            return Ok(());
        };
        let response = if self.closes_connection {
            response.with_connection_close()
        } else {
            response
        };
        let mut bytes = Vec::with_capacity(512);
        let printed = response.raw_print(
            &mut bytes,
            self.http_version.clone(),
            &self.headers,
            self.method == Method::Head,
            None,
        );
        if let Err(error) = printed {
            // The response's own reader failed, before anything was sent.
            link.conn.end();
            return Err(error);
        }
        link.counted_as_answered();
        let delivered = link.conn.deliver(&bytes, self.closes_connection);
        Self::ignore_client_closing_errors(delivered.map(drop))
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
            self.method, self.path, self.remote_addr
        )
    }
}

impl Drop for Request {
    fn drop(&mut self) {
        if self.link.is_some() {
            let response =
                crate::response::problem(StatusCode(500), "The request was not answered.");
            let _ = self.respond_impl(response);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Link, Request};
    use crate::util::{Conn, Counters, Phase, Ticket};
    use crate::{HTTPVersion, Method, Response, StatusCode};
    use std::io::Read;
    use std::net::{TcpListener, TcpStream};
    use std::sync::atomic::Ordering;
    use std::sync::Arc;

    /// A request on a real connection, and the client's end of it.
    fn request(counters: &Arc<Counters>) -> (Request, Arc<Conn>, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        let conn = Arc::new(Conn::for_current_thread(
            server.into(),
            std::time::Instant::now(),
        ));
        assert!(conn.hand_out());
        let link = Link::new(Arc::clone(&conn), Ticket::issue(counters));
        let request = Request::new(
            Method::Get,
            "/".into(),
            HTTPVersion(1, 1),
            Vec::new(),
            None,
            link,
        );
        (request, conn, client)
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
        assert_eq!(conn.phase(), Phase::Busy);
        let response = Response::new(StatusCode(200), Vec::new(), Panics, Some(4), None);
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
            let _ = request.respond(response);
        }));
        assert!(result.is_err());
        // Upstream kept the connection's permit: after eight such panics its
        // reader waited for ever. Here the thread may go on, and the
        // connection ends, since nothing answered this request.
        assert_ne!(conn.phase(), Phase::Busy);
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
        assert!(matches!(conn.phase(), Phase::Idle { .. }));
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
