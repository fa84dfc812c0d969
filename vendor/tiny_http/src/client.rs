use ascii::AsciiString;

use std::io::Error as IoError;
use std::io::{BufRead, BufReader, ErrorKind, Read};

use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::{HTTPVersion, Header, Method};
use crate::connection::Connection;
use crate::request::Link;
use crate::util::{Conn, Counters, MessagesQueue, Phase, Registry, Seat, Ticket, HEAD_TIMEOUT};
use crate::{Message, Request};

/// What a connection's thread needs from the server (sre-kata patch).
pub(crate) struct Shared {
    pub(crate) messages: Arc<MessagesQueue<Message>>,
    pub(crate) counters: Arc<Counters>,
    /// The sockets' read timeout (set on the listener, inherited), to come
    /// back to after a head's own deadline.
    pub(crate) idle_timeout: Duration,
    /// How long the end of an answer may take to reach the client.
    pub(crate) write_timeout: Duration,
}

/// Serves one connection on the calling thread, until it ends; then frees
/// its seat (sre-kata patch).
pub(crate) fn serve(socket: Connection, seat: Seat, shared: &Shared) {
    let registry = seat.registry();
    // sre-kata patch: a peer that reset before `getpeername` is not a panic
    let remote_addr = socket.peer_addr().ok().flatten();
    let conn = Arc::new(Conn::for_current_thread(socket, registry.epoch()));
    seat.attach(Arc::clone(&conn));
    let mut client = ClientConnection {
        source: BufReader::with_capacity(
            1024,
            SocketReader {
                conn: Arc::clone(&conn),
                deadline: None,
                idle_timeout: shared.idle_timeout,
                shortened: false,
            },
        ),
        conn: Arc::clone(&conn),
        remote_addr,
    };
    client.run(shared);
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

/// A connection's socket as its own thread reads it: within the idle
/// timeout for the first byte of a head, within [`HEAD_TIMEOUT`] of it for
/// the rest (sre-kata patch). Upstream allowed the idle timeout per read, so
/// a head trickled a byte at a time could take for ever.
struct SocketReader {
    conn: Arc<Conn>,
    deadline: Option<Instant>,
    idle_timeout: Duration,
    shortened: bool,
}

impl SocketReader {
    fn head_started(&mut self, now: Instant) {
        self.deadline = Some(now + HEAD_TIMEOUT);
    }

    fn head_done(&mut self) {
        self.deadline = None;
        if self.shortened {
            self.shortened = false;
            let _ = self.conn.set_read_timeout(self.idle_timeout);
        }
    }
}

impl Read for SocketReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if let Some(deadline) = self.deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(IoError::new(ErrorKind::TimedOut, "request head deadline"));
            }
            if left < self.idle_timeout {
                self.conn.set_read_timeout(left)?;
                self.shortened = true;
            }
        }
        self.conn.socket().read(buf)
    }
}

/// Reads a connection's requests and hands them out one at a time.
struct ClientConnection {
    conn: Arc<Conn>,

    // address of the client
    remote_addr: Option<SocketAddr>,

    // sre-kata patch: the connection's socket, read by this thread alone;
    // upstream chained readers so that request bodies could be read later.
    source: BufReader<SocketReader>,
}

/// The most bytes a request line and its headers may take together
/// (sre-kata patch). Upstream grew the line buffer for as long as the client
/// kept sending, so one endless header line could exhaust memory.
const MAX_HEAD_BYTES: usize = 64 * 1024;

/// The most header fields a request may carry (sre-kata patch).
const MAX_HEADERS: usize = 100;

/// Error that can happen when reading a request.
#[derive(Debug)]
enum ReadError {
    WrongRequestLine,
    WrongHeader(HTTPVersion),
    /// the client sent an unrecognized `Expect` header
    ExpectationFailed(HTTPVersion),
    /// sre-kata patch: an HTTP version above 1.1, found before the headers
    VersionNotSupported,
    /// sre-kata patch: the request line alone exceeds `MAX_HEAD_BYTES`
    RequestLineTooLong,
    /// sre-kata patch: the headers exceed `MAX_HEAD_BYTES` or `MAX_HEADERS`
    HeadersTooLarge(HTTPVersion),
    /// sre-kata patch: the socket timed out after part of a request head
    /// arrived (a timeout before the first byte is an idle connection)
    HeadTimedOut,
    ReadIoError(IoError),
}

/// Why a single line of the request head could not be read (sre-kata patch).
enum LineError {
    /// The line would exceed the remaining head budget.
    TooLong,
    /// The line holds a byte outside ASCII (upstream closed the connection
    /// without an answer).
    NotAscii,
    Io(IoError),
}

/// True for the error a socket read returns when `SO_RCVTIMEO` expires:
/// `WouldBlock` on Unix, `TimedOut` on Windows (sre-kata patch; upstream only
/// checked `TimedOut`, so on Linux it never answered 408).
fn is_timeout(err: &IoError) -> bool {
    matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

/// A request head, read and checked.
struct Head {
    method: Method,
    path: String,
    version: HTTPVersion,
    headers: Vec<Header>,
}

impl ReadError {
    /// What the library answers before it closes the connection, if
    /// anything: status, version and detail (sre-kata patch: as
    /// problem+json, saying `Connection: close`).
    fn answer(&self) -> Option<(u16, HTTPVersion, &'static str)> {
        Some(match self {
            ReadError::WrongRequestLine => {
                (400, HTTPVersion(1, 1), "The request line is malformed.")
            }
            ReadError::WrongHeader(v) => (400, v.clone(), "A header field is malformed."),
            ReadError::RequestLineTooLong => {
                (414, HTTPVersion(1, 1), "The request line is too long.")
            }
            ReadError::HeadersTooLarge(v) => {
                (431, v.clone(), "The request header fields are too large.")
            }
            ReadError::HeadTimedOut => (
                408,
                HTTPVersion(1, 1),
                "The request head did not arrive in time.",
            ),
            // sre-kata patch: this ends the connection too. Upstream went on
            // reading, left its 505 unflushed in the write buffer, and then
            // sent a 500 for the request it had dropped.
            ReadError::VersionNotSupported => (
                505,
                HTTPVersion(1, 1),
                "This server only supports HTTP versions 1.0 and 1.1.",
            ),
            ReadError::ExpectationFailed(v) => (
                417,
                v.clone(),
                "Only the expectation 100-continue is supported.",
            ),
            // an idle connection timing out, a reset, an EOF, or a shed
            // connection: close quietly
            ReadError::ReadIoError(_) => return None,
        })
    }
}

impl ClientConnection {
    /// Reads requests and hands them out, one at a time, until the
    /// connection ends (sre-kata patch: upstream's `Iterator`, which handed
    /// out requests as fast as they came).
    fn run(&mut self, shared: &Shared) {
        loop {
            if !self.conn.idle() {
                return; // shed
            }
            let head = self.read_head();
            self.source.get_mut().head_done();
            // The previous request is answered first: one at a time, and
            // answers in order.
            self.conn.wait_until_answered();
            if self.conn.is_ending() {
                return;
            }
            let head = match head {
                Ok(head) => head,
                Err(error) => {
                    if let Some((status, version, detail)) = error.answer() {
                        if self.conn.answer_last() {
                            self.last_words(status, version, detail, shared.write_timeout);
                        }
                    }
                    return;
                }
            };
            let last = closes_connection(&head);
            if !self.conn.hand_out() {
                return; // shed
            }
            let link = Link::new(Arc::clone(&self.conn), Ticket::issue(&shared.counters));
            let mut request = Request::new(
                head.method,
                head.path,
                head.version,
                head.headers,
                self.remote_addr,
                link,
            );
            // sre-kata patch: a request that declares a body is the last one
            // on its connection. Its body is never read, so the connection
            // cannot carry another request, and an absurd `Content-Length`
            // or a chunked body costs nothing.
            let last = last || request.declares_body();
            if last {
                request.set_closes_connection();
            }
            shared.messages.push(request.into());
            if last {
                return;
            }
        }
    }

    /// Reads the next line from the socket.
    ///
    /// Reads until `CRLF` is reached. The next read will start
    ///  at the first byte of the new line.
    ///
    /// sre-kata patch: every byte read, `CRLF` included, is taken from
    /// `budget`; a line that would overrun it fails with `LineError::TooLong`.
    fn read_next_line(&mut self, budget: &mut usize) -> Result<AsciiString, LineError> {
        let mut buf = Vec::new();
        let mut prev_byte_was_cr = false;

        loop {
            if *budget == 0 {
                return Err(LineError::TooLong);
            }

            let byte = self.source.by_ref().bytes().next();

            let byte = match byte {
                Some(b) => b.map_err(LineError::Io)?,
                None => {
                    return Err(LineError::Io(IoError::new(
                        ErrorKind::ConnectionAborted,
                        "Unexpected EOF",
                    )))
                }
            };
            *budget -= 1;

            if byte == b'\n' && prev_byte_was_cr {
                buf.pop(); // removing the '\r'
                return AsciiString::from_ascii(buf).map_err(|_| LineError::NotAscii);
            }

            prev_byte_was_cr = byte == b'\r';

            buf.push(byte);
        }
    }

    /// Answers an error that ends the connection: written by this thread,
    /// within the write timeout (sre-kata patch).
    fn last_words(
        &mut self,
        status: u16,
        version: HTTPVersion,
        detail: &'static str,
        write_timeout: Duration,
    ) {
        let mut bytes = Vec::with_capacity(512);
        let printed = crate::response::problem(crate::StatusCode(status), detail)
            .with_connection_close()
            .raw_print(&mut bytes, version, &[], false, None);
        if printed.is_ok() {
            let _ = self.conn.write_by(&bytes, Instant::now() + write_timeout);
        }
    }

    /// Waits for the first byte of a head, within the idle timeout; then
    /// marks the connection busy reading a head, with its own deadline
    /// (sre-kata patch).
    fn wait_for_head(&mut self) -> Result<(), ReadError> {
        match self.source.fill_buf() {
            Ok([]) => Err(ReadError::ReadIoError(IoError::new(
                ErrorKind::UnexpectedEof,
                "the client closed the connection",
            ))),
            Ok(_) => {
                if !self.conn.head_started() {
                    return Err(ReadError::ReadIoError(IoError::new(
                        ErrorKind::ConnectionAborted,
                        "the connection was shed",
                    )));
                }
                self.source.get_mut().head_started(Instant::now());
                Ok(())
            }
            Err(e) => Err(ReadError::ReadIoError(e)),
        }
    }

    /// Reads a request head from the stream.
    /// Blocks until the head has been read.
    fn read_head(&mut self) -> Result<Head, ReadError> {
        self.wait_for_head()?;
        let mut budget = MAX_HEAD_BYTES;
        // reading the request line
        let (method, path, version) = {
            let line = match self.read_next_line(&mut budget) {
                Ok(line) => line,
                Err(LineError::TooLong) => return Err(ReadError::RequestLineTooLong),
                Err(LineError::NotAscii) => return Err(ReadError::WrongRequestLine),
                Err(LineError::Io(e)) if is_timeout(&e) => return Err(ReadError::HeadTimedOut),
                Err(LineError::Io(e)) => return Err(ReadError::ReadIoError(e)),
            };

            let (method, path, version) = parse_request_line(
                line.as_str().trim(), // TODO: remove this conversion
            )?;
            if version > (1, 1) {
                return Err(ReadError::VersionNotSupported);
            }
            (method, path, version)
        };

        // getting all headers
        let mut headers = Vec::new();
        loop {
            let line = match self.read_next_line(&mut budget) {
                Ok(line) => line,
                Err(LineError::TooLong) => return Err(ReadError::HeadersTooLarge(version)),
                Err(LineError::NotAscii) => return Err(ReadError::WrongHeader(version)),
                Err(LineError::Io(e)) if is_timeout(&e) => return Err(ReadError::HeadTimedOut),
                Err(LineError::Io(e)) => return Err(ReadError::ReadIoError(e)),
            };

            if line.is_empty() {
                break;
            };
            if headers.len() == MAX_HEADERS {
                return Err(ReadError::HeadersTooLarge(version));
            }
            headers.push(match FromStr::from_str(line.as_str().trim()) {
                // TODO: remove this conversion
                Ok(h) => h,
                _ => return Err(ReadError::WrongHeader(version)),
            });
        }

        // Only `Expect: 100-continue` is understood (and, as bodies are
        // never read, it is never answered with 100 Continue).
        match find(&headers, "Expect") {
            Some(v) if !v.eq_ignore_ascii_case("100-continue") => {
                return Err(ReadError::ExpectationFailed(version))
            }
            _ => {}
        }

        Ok(Head {
            method,
            path,
            version,
            headers,
        })
    }
}

/// The value of the first header called `name`.
fn find<'h>(headers: &'h [Header], name: &'static str) -> Option<&'h str> {
    headers
        .iter()
        .find(|h| h.field.equiv(name))
        .map(|h| h.value.as_str())
}

/// True if no request may follow this one: the client said
/// `Connection: close` or `upgrade`, or spoke HTTP/1.0 without keep-alive.
fn closes_connection(head: &Head) -> bool {
    let lowercase = find(&head.headers, "Connection").map(str::to_ascii_lowercase);
    match lowercase {
        Some(ref val) if val.contains("close") => true,
        Some(ref val) if val.contains("upgrade") => true,
        Some(ref val) if !val.contains("keep-alive") && head.version == HTTPVersion(1, 0) => true,
        None if head.version == HTTPVersion(1, 0) => true,
        _ => false,
    }
}

/// Parses a "HTTP/1.1" string.
fn parse_http_version(version: &str) -> Result<HTTPVersion, ReadError> {
    let (major, minor) = match version {
        "HTTP/0.9" => (0, 9),
        "HTTP/1.0" => (1, 0),
        "HTTP/1.1" => (1, 1),
        "HTTP/2.0" => (2, 0),
        "HTTP/3.0" => (3, 0),
        _ => return Err(ReadError::WrongRequestLine),
    };

    Ok(HTTPVersion(major, minor))
}

/// Parses the request line of the request.
/// eg. GET / HTTP/1.1
fn parse_request_line(line: &str) -> Result<(Method, String, HTTPVersion), ReadError> {
    let mut parts = line.split(' ');

    let method = parts.next().and_then(|w| w.parse().ok());
    let path = parts.next().map(ToOwned::to_owned);
    let version = parts.next().and_then(|w| parse_http_version(w).ok());

    method
        .and_then(|method| Some((method, path?, version?)))
        .ok_or(ReadError::WrongRequestLine)
}

#[cfg(test)]
mod test {
    #[test]
    fn test_parse_request_line() {
        let (method, path, ver) = super::parse_request_line("GET /hello HTTP/1.1").unwrap();

        assert!(method == crate::Method::Get);
        assert!(path == "/hello");
        assert!(ver == crate::common::HTTPVersion(1, 1));

        assert!(super::parse_request_line("GET /hello").is_err());
        assert!(super::parse_request_line("qsd qsd qsd").is_err());
    }
}
