use ascii::AsciiString;

use std::io::Error as IoError;
use std::io::Result as IoResult;
use std::io::{BufReader, BufWriter, ErrorKind, Read, Write};

use std::net::SocketAddr;
use std::str::FromStr;

use crate::common::{HTTPVersion, Method};
use crate::util::RefinedTcpStream;
use crate::util::{SequentialReader, SequentialReaderBuilder, SequentialWriterBuilder};
use crate::Request;

/// A ClientConnection is an object that will store a socket to a client
/// and return Request objects.
pub struct ClientConnection {
    // address of the client
    remote_addr: IoResult<Option<SocketAddr>>,

    // sequence of Readers to the stream, so that the data is not read in
    //  the wrong order
    source: SequentialReaderBuilder<BufReader<RefinedTcpStream>>,

    // sequence of Writers to the stream, to avoid writing response #2 before
    //  response #1
    sink: SequentialWriterBuilder<BufWriter<RefinedTcpStream>>,

    // Reader to read the next header from
    next_header_source: SequentialReader<BufReader<RefinedTcpStream>>,

    // set to true if we know that the previous request is the last one
    no_more_requests: bool,

    // true if the connection goes through SSL
    secure: bool,
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

impl ClientConnection {
    /// Creates a new `ClientConnection` that takes ownership of the `TcpStream`.
    pub fn new(
        write_socket: RefinedTcpStream,
        mut read_socket: RefinedTcpStream,
    ) -> ClientConnection {
        let remote_addr = read_socket.peer_addr();
        let secure = read_socket.secure();

        let mut source = SequentialReaderBuilder::new(BufReader::with_capacity(1024, read_socket));
        let first_header = source.next().unwrap();

        ClientConnection {
            source,
            sink: SequentialWriterBuilder::new(BufWriter::with_capacity(1024, write_socket)),
            remote_addr,
            next_header_source: first_header,
            no_more_requests: false,
            secure,
        }
    }

    /// true if the connection is HTTPS
    pub fn secure(&self) -> bool {
        self.secure
    }

    /// Reads the next line from self.next_header_source.
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

            let byte = self.next_header_source.by_ref().bytes().next();

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

    /// Answers an error that ends the connection (sre-kata patch: as
    /// problem+json, saying `Connection: close`).
    fn last_words(&mut self, status: u16, version: HTTPVersion, detail: &'static str) {
        let mut writer = self.sink.next().unwrap();
        crate::response::problem(crate::StatusCode(status), detail)
            .with_connection_close()
            .raw_print(&mut writer, version, &[], false, None)
            .and_then(|()| writer.flush())
            .ok();
    }

    /// Reads a request from the stream.
    /// Blocks until the header has been read.
    fn read(&mut self) -> Result<Request, ReadError> {
        let mut budget = MAX_HEAD_BYTES;
        let (method, path, version, headers) = {
            // reading the request line
            let (method, path, version) = {
                let line = match self.read_next_line(&mut budget) {
                    Ok(line) => line,
                    Err(LineError::TooLong) => return Err(ReadError::RequestLineTooLong),
                    Err(LineError::NotAscii) => return Err(ReadError::WrongRequestLine),
                    Err(LineError::Io(e)) if is_timeout(&e) && budget < MAX_HEAD_BYTES => {
                        return Err(ReadError::HeadTimedOut)
                    }
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
            let headers = {
                let mut headers = Vec::new();
                loop {
                    let line = match self.read_next_line(&mut budget) {
                        Ok(line) => line,
                        Err(LineError::TooLong) => return Err(ReadError::HeadersTooLarge(version)),
                        Err(LineError::NotAscii) => return Err(ReadError::WrongHeader(version)),
                        Err(LineError::Io(e)) if is_timeout(&e) => {
                            return Err(ReadError::HeadTimedOut)
                        }
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

                headers
            };

            (method, path, version, headers)
        };

        // building the writer for the request
        let writer = self.sink.next().unwrap();

        // follow-up for next potential request
        let mut data_source = self.source.next().unwrap();
        std::mem::swap(&mut self.next_header_source, &mut data_source);

        // building the next reader
        let request = crate::request::new_request(
            self.secure,
            method,
            path,
            version.clone(),
            headers,
            // sre-kata patch: a peer that reset before `getpeername` is not a panic
            self.remote_addr.as_ref().ok().copied().flatten(),
            data_source,
            writer,
        )
        .map_err(|e| {
            use crate::request;
            match e {
                request::RequestCreationError::CreationIoError(e) => ReadError::ReadIoError(e),
                request::RequestCreationError::ExpectationFailed => {
                    ReadError::ExpectationFailed(version)
                }
            }
        })?;

        // return the request
        Ok(request)
    }
}

impl Iterator for ClientConnection {
    type Item = Request;

    /// Blocks until the next Request is available.
    /// Returns None when no new Requests will come from the client.
    fn next(&mut self) -> Option<Request> {
        use crate::StatusCode;

        // the client sent a "connection: close" header in this previous request
        //  or is using HTTP 1.0, meaning that no new request will come
        if self.no_more_requests {
            return None;
        }

        loop {
            let mut rq = match self.read() {
                Err(ReadError::WrongRequestLine) => {
                    self.last_words(400, HTTPVersion(1, 1), "The request line is malformed.");
                    return None; // we don't know where the next request would start,
                                 // se we have to close
                }

                Err(ReadError::WrongHeader(ver)) => {
                    self.last_words(400, ver, "A header field is malformed.");
                    return None; // we don't know where the next request would start,
                                 // se we have to close
                }

                Err(ReadError::RequestLineTooLong) => {
                    self.last_words(414, HTTPVersion(1, 1), "The request line is too long.");
                    return None;
                }

                Err(ReadError::HeadersTooLarge(ver)) => {
                    self.last_words(431, ver, "The request header fields are too large.");
                    return None;
                }

                Err(ReadError::HeadTimedOut) => {
                    self.last_words(408, HTTPVersion(1, 1), "The request head did not arrive in time.");
                    return None; // closing the connection
                }

                // sre-kata patch: this ends the connection too. Upstream went
                // on reading, left its 505 unflushed in the write buffer, and
                // then sent a 500 for the request it had dropped.
                Err(ReadError::VersionNotSupported) => {
                    self.last_words(
                        505,
                        HTTPVersion(1, 1),
                        "This server only supports HTTP versions 1.0 and 1.1.",
                    );
                    return None;
                }

                Err(ReadError::ExpectationFailed(ver)) => {
                    self.last_words(417, ver, "Only the expectation 100-continue is supported.");
                    return None; // TODO: should be recoverable, but needs handling in case of body
                }

                // an idle connection timing out, a reset or an EOF: close quietly
                Err(ReadError::ReadIoError(_)) => return None,

                Ok(rq) => rq,
            };

            // sre-kata patch: a request that declares a body is the last one on
            // its connection. Its body is never drained, so the connection
            // cannot carry another request, and an absurd `Content-Length` or a
            // chunked body costs nothing.
            if rq.declares_body() {
                self.no_more_requests = true;
            }

            // updating the status of the connection
            let connection_header = rq
                .headers()
                .iter()
                .find(|h| h.field.equiv("Connection"))
                .map(|h| h.value.as_str());

            let lowercase = connection_header.map(|h| h.to_ascii_lowercase());

            match lowercase {
                Some(ref val) if val.contains("close") => self.no_more_requests = true,
                Some(ref val) if val.contains("upgrade") => self.no_more_requests = true,
                Some(ref val)
                    if !val.contains("keep-alive") && *rq.http_version() == HTTPVersion(1, 0) =>
                {
                    self.no_more_requests = true
                }
                None if *rq.http_version() == HTTPVersion(1, 0) => self.no_more_requests = true,
                _ => (),
            };

            if self.no_more_requests {
                rq.set_closes_connection();
            }

            // returning the request
            return Some(rq);
        }
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
