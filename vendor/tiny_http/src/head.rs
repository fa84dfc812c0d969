//! sre-kata patch: reading a request head, strictly.
//!
//! Upstream read heads line by line with its own parser, which a proxy in
//! front may read differently: a bare LF, a bare CR or a NUL in a header
//! line hid a `Content-Length` from it, so a body ran as a second request
//! (request smuggling). Here `httparse` (hyper's parser: fuzzed, no
//! dependencies) reads the request line and the header fields, and
//! [`parse`] adds what RFC 9112 leaves to the server:
//!
//! - the request line: versions other than 1.0 and 1.1 get 505 when they
//!   are well formed, 400 when not; a target is ASCII, has no fragment, and
//!   is in origin form, absolute form (`http://host/path`, read as its
//!   path), or `*` for `OPTIONS`;
//! - header fields: a bare CR, an obs-fold line, a malformed name or a
//!   control byte or non-ASCII byte in a value is 400. A bare LF ends a line
//!   (as nginx and the RFC allow), so nothing hides behind it;
//! - `Host`: exactly one on HTTP/1.1, at most one on 1.0, and well formed;
//! - framing: every `Content-Length` must say the same number; one with
//!   `Transfer-Encoding`, a `Transfer-Encoding` on 1.0, or one whose last
//!   coding is not `chunked`, is 400. A valid body is declared, never read;
//! - `Connection`: its tokens count across every line;
//! - `Expect`: only `100-continue`.
//!
//! Empty lines before the request line are skipped, as RFC 9112 says they
//! should be. The head may take [`MAX_HEAD_BYTES`] and [`MAX_HEADERS`]
//! fields. A rejected head ends its connection.

use std::ops::Range;

/// The most bytes a request head may take, request line included.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;

/// The most header fields a request may carry.
pub const MAX_HEADERS: usize = 100;

/// Why a request head was refused. Each has its status, and a name for
/// logs and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The request line is not `method SP target SP HTTP/x.y`.
    BadRequestLine,
    /// The target is not ASCII, has a fragment, or is in a form the method
    /// does not take.
    BadTarget,
    /// A well-formed HTTP version other than 1.0 and 1.1.
    VersionNotSupported,
    /// A CR not followed by LF in the header section.
    BareCr,
    /// A header line that starts with whitespace (obsolete line folding).
    ObsFold,
    /// A malformed header name, or a control or non-ASCII byte in a value.
    BadHeader,
    /// No `Host` on an HTTP/1.1 request.
    MissingHost,
    /// More than one `Host`.
    DuplicateHost,
    /// A `Host` that is not `host[:port]`.
    BadHost,
    /// A `Content-Length` that is not a number, or several that differ.
    BadContentLength,
    /// Both `Content-Length` and `Transfer-Encoding`.
    ConflictingFraming,
    /// A `Transfer-Encoding` on HTTP/1.0, or one not ending in `chunked`.
    BadTransferEncoding,
    /// An `Expect` other than `100-continue`.
    UnsupportedExpectation,
    /// The request line alone is over [`MAX_HEAD_BYTES`].
    RequestLineTooLarge,
    /// The head is over [`MAX_HEAD_BYTES`], or has over [`MAX_HEADERS`]
    /// fields.
    HeadTooLarge,
    /// The head did not arrive in time.
    HeadTimeout,
    /// The head outgrew the room the server keeps for long heads, which
    /// other connections' heads fill (sre-kata patch: a bound on the memory
    /// of unfinished heads).
    NoRoomForHead,
}

impl Reason {
    /// Every reason, for tests and documents.
    pub const ALL: [Reason; 17] = [
        Reason::BadRequestLine,
        Reason::BadTarget,
        Reason::VersionNotSupported,
        Reason::BareCr,
        Reason::ObsFold,
        Reason::BadHeader,
        Reason::MissingHost,
        Reason::DuplicateHost,
        Reason::BadHost,
        Reason::BadContentLength,
        Reason::ConflictingFraming,
        Reason::BadTransferEncoding,
        Reason::UnsupportedExpectation,
        Reason::RequestLineTooLarge,
        Reason::HeadTooLarge,
        Reason::HeadTimeout,
        Reason::NoRoomForHead,
    ];

    /// A stable name, for logs and metrics.
    pub fn name(self) -> &'static str {
        match self {
            Reason::BadRequestLine => "bad_request_line",
            Reason::BadTarget => "bad_target",
            Reason::VersionNotSupported => "version_not_supported",
            Reason::BareCr => "bare_cr",
            Reason::ObsFold => "obs_fold",
            Reason::BadHeader => "bad_header",
            Reason::MissingHost => "missing_host",
            Reason::DuplicateHost => "duplicate_host",
            Reason::BadHost => "bad_host",
            Reason::BadContentLength => "bad_content_length",
            Reason::ConflictingFraming => "conflicting_framing",
            Reason::BadTransferEncoding => "bad_transfer_encoding",
            Reason::UnsupportedExpectation => "unsupported_expectation",
            Reason::RequestLineTooLarge => "request_line_too_large",
            Reason::HeadTooLarge => "head_too_large",
            Reason::HeadTimeout => "head_timeout",
            Reason::NoRoomForHead => "no_room_for_head",
        }
    }

    /// The status code of the answer.
    pub fn status(self) -> u16 {
        match self {
            Reason::VersionNotSupported => 505,
            Reason::UnsupportedExpectation => 417,
            Reason::RequestLineTooLarge => 414,
            Reason::HeadTooLarge => 431,
            Reason::HeadTimeout => 408,
            Reason::NoRoomForHead => 503,
            _ => 400,
        }
    }

    /// One sentence saying what was wrong; nothing the client sent.
    pub fn detail(self) -> &'static str {
        match self {
            Reason::BadRequestLine => "The request line is malformed.",
            Reason::BadTarget => {
                "The request target must be ASCII, without a fragment, in origin or absolute form."
            }
            Reason::VersionNotSupported => "This server only supports HTTP/1.0 and HTTP/1.1.",
            Reason::BareCr => "A header line holds a CR that is not followed by LF.",
            Reason::ObsFold => "Header lines must not be folded.",
            Reason::BadHeader => "A header field is malformed.",
            Reason::MissingHost => "An HTTP/1.1 request must have a Host header.",
            Reason::DuplicateHost => "A request must have only one Host header.",
            Reason::BadHost => "The Host header is malformed.",
            Reason::BadContentLength => "The Content-Length header is malformed.",
            Reason::ConflictingFraming => {
                "A request must not have both Content-Length and Transfer-Encoding."
            }
            Reason::BadTransferEncoding => "The Transfer-Encoding header is not acceptable.",
            Reason::UnsupportedExpectation => "Only the expectation 100-continue is supported.",
            Reason::RequestLineTooLarge => "The request line is too long.",
            Reason::HeadTooLarge => "The request header fields are too large.",
            Reason::HeadTimeout => "The request head did not arrive in time.",
            Reason::NoRoomForHead => {
                "The server has no room for a request head this long now; try again later."
            }
        }
    }
}

/// A complete, valid request head: where its parts are in the buffer it
/// was read from, and what it means for the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// Bytes the head takes, empty lines before it included.
    pub len: usize,
    /// The method.
    pub method: Range<usize>,
    /// The target as the application sees it: the origin form (path and
    /// query), the path and query of an absolute form, or `*`.
    pub target: Range<usize>,
    /// The absolute form had an empty path (`http://host`,
    /// `http://host?q`): its path is `/` (RFC 9110, 4.2.3), before `target`
    /// (sre-kata patch).
    pub rooted: bool,
    /// The minor version: 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub minor_version: u8,
    /// A body is declared (never read): a `Content-Length` other than 0 or
    /// a `Transfer-Encoding`.
    pub declares_body: bool,
    /// No request may follow on the connection: `Connection: close`, or
    /// HTTP/1.0 without `keep-alive`.
    pub closes_connection: bool,
    /// The header fields, in order: kept from the one parse, so reading a
    /// field later parses nothing again.
    pub fields: Vec<Field>,
}

/// Where a header field's name and trimmed value are in the buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// The name.
    pub name: Range<usize>,
    /// The value, without the whitespace around it.
    pub value: Range<usize>,
}

/// What the bytes read so far hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parse {
    /// Not a whole head yet.
    Partial,
    /// A whole, valid head.
    Complete(Head),
    /// A head that is refused, with the minor version when it was read.
    Rejected(Reason, Option<u8>),
}

/// Reads a request head from the start of `buf`.
pub fn parse(buf: &[u8]) -> Parse {
    let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut fields);
    let len = match request.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if buf.len() >= MAX_HEAD_BYTES => {
            let reason = if request.version.is_some() {
                Reason::HeadTooLarge
            } else {
                Reason::RequestLineTooLarge
            };
            return Parse::Rejected(reason, request.version);
        }
        Ok(httparse::Status::Partial) => return Parse::Partial,
        Err(httparse::Error::TooManyHeaders) => {
            return Parse::Rejected(Reason::HeadTooLarge, request.version)
        }
        Err(_) if request.version.is_some() && request_line_is_clean(buf) => {
            return Parse::Rejected(header_error(buf), request.version)
        }
        Err(_) => return Parse::Rejected(request_line_error(buf), request.version),
    };
    if len > MAX_HEAD_BYTES {
        return Parse::Rejected(Reason::HeadTooLarge, request.version);
    }
    let (Some(method), Some(target), Some(minor)) = (request.method, request.path, request.version)
    else {
        return Parse::Rejected(Reason::BadRequestLine, None);
    };
    match check(buf, method, target, minor, request.headers) {
        Ok(head) => Parse::Complete(Head { len, ..head }),
        Err(reason) => Parse::Rejected(reason, Some(minor)),
    }
}

/// The offsets of `part`, a slice of `buf`.
fn range_in(buf: &[u8], part: &[u8]) -> Range<usize> {
    let start = part.as_ptr() as usize - buf.as_ptr() as usize;
    start..start + part.len()
}

fn check(
    buf: &[u8],
    method: &str,
    target: &str,
    minor: u8,
    fields: &[httparse::Header<'_>],
) -> Result<Head, Reason> {
    let (target, rooted) = origin_target(method, target)?;
    let mut hosts = 0;
    let mut lengths: Option<&[u8]> = None;
    let mut transfer_encoding: Option<&[u8]> = None;
    let mut close = false;
    let mut keep_alive = false;
    for field in fields {
        if !field
            .value
            .iter()
            .all(|&b| b == b'\t' || (b' '..=b'~').contains(&b))
        {
            return Err(Reason::BadHeader);
        }
        let name = field.name;
        if name.eq_ignore_ascii_case("Host") {
            hosts += 1;
            if !valid_host(field.value) {
                return Err(Reason::BadHost);
            }
        } else if name.eq_ignore_ascii_case("Content-Length") {
            if !valid_length(field.value) || lengths.is_some_and(|l| !same_length(l, field.value)) {
                return Err(Reason::BadContentLength);
            }
            lengths = Some(field.value);
        } else if name.eq_ignore_ascii_case("Transfer-Encoding") {
            if transfer_encoding.is_some() || minor == 0 || !ends_in_chunked(field.value) {
                return Err(Reason::BadTransferEncoding);
            }
            transfer_encoding = Some(field.value);
        } else if name.eq_ignore_ascii_case("Connection") {
            for token in tokens(field.value) {
                close |=
                    token.eq_ignore_ascii_case(b"close") || token.eq_ignore_ascii_case(b"upgrade");
                keep_alive |= token.eq_ignore_ascii_case(b"keep-alive");
            }
        } else if name.eq_ignore_ascii_case("Expect")
            && !trim(field.value).eq_ignore_ascii_case(b"100-continue")
        {
            return Err(Reason::UnsupportedExpectation);
        }
    }
    match hosts {
        0 if minor == 1 => return Err(Reason::MissingHost),
        0 | 1 => {}
        _ => return Err(Reason::DuplicateHost),
    }
    if lengths.is_some() && transfer_encoding.is_some() {
        return Err(Reason::ConflictingFraming);
    }
    let declares_body = transfer_encoding.is_some() || lengths.is_some_and(|l| !is_zero(l));
    Ok(Head {
        len: 0,
        method: range_in(buf, method.as_bytes()),
        target: range_in(buf, target.as_bytes()),
        rooted,
        minor_version: minor,
        declares_body,
        closes_connection: close || (minor == 0 && !keep_alive),
        fields: fields
            .iter()
            .map(|field| Field {
                name: range_in(buf, field.name.as_bytes()),
                value: range_in(buf, trim(field.value)),
            })
            .collect(),
    })
}

/// The part of a target the application routes by: the target itself in
/// origin form (`/path?query`), the path and query of an absolute form
/// (`http://host/path?query`), or `*` for `OPTIONS`; and whether it is an
/// absolute form's empty path, to be read as `/`.
fn origin_target<'t>(method: &str, target: &'t str) -> Result<(&'t str, bool), Reason> {
    if !target.bytes().all(|b| (b'!'..=b'~').contains(&b)) || target.contains('#') {
        return Err(Reason::BadTarget);
    }
    if target.starts_with('/') {
        return Ok((target, false));
    }
    if target == "*" {
        return if method == "OPTIONS" {
            Ok((target, false))
        } else {
            Err(Reason::BadTarget)
        };
    }
    // Absolute form: scheme "://" authority path-abempty [ "?" query ].
    let rest = strip_prefix_ignore_case(target, "http://")
        .or_else(|| strip_prefix_ignore_case(target, "https://"))
        .ok_or(Reason::BadTarget)?;
    let path_at = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..path_at];
    if authority.is_empty() || authority.contains('@') || !valid_host(authority.as_bytes()) {
        return Err(Reason::BadTarget);
    }
    // `http://host` or `http://host?q`: an empty path is `/`.
    let path = &rest[path_at..];
    Ok((path, !path.starts_with('/')))
}

fn strip_prefix_ignore_case<'s>(s: &'s str, prefix: &str) -> Option<&'s str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// `uri-host [ ":" port ]` (RFC 9110): a bracketed IP literal, or a name of
/// unreserved, sub-delims and percent-encoded bytes; the port is digits.
/// Empty is allowed (a target without authority).
fn valid_host(value: &[u8]) -> bool {
    let value = trim(value);
    let (host, port) = if value.first() == Some(&b'[') {
        match value.iter().position(|&b| b == b']') {
            Some(end) => (&value[..=end], &value[end + 1..]),
            None => return false,
        }
    } else {
        match value.iter().position(|&b| b == b':') {
            Some(colon) => (&value[..colon], &value[colon..]),
            None => (value, &value[value.len()..]),
        }
    };
    let port_ok = port.is_empty() || (port[0] == b':' && port[1..].iter().all(u8::is_ascii_digit));
    let host_ok = if host.first() == Some(&b'[') {
        valid_ip_literal(&host[1..host.len() - 1])
    } else {
        valid_reg_name(host)
    };
    host_ok && port_ok
}

/// The inside of `IP-literal` (RFC 3986): an `IPv6address`, or an
/// `IPvFuture`, `"v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" )`.
fn valid_ip_literal(inside: &[u8]) -> bool {
    if let [b'v' | b'V', rest @ ..] = inside {
        let Some(dot) = rest.iter().position(|&b| b == b'.') else {
            return false;
        };
        return dot > 0
            && rest[..dot].iter().all(u8::is_ascii_hexdigit)
            && rest.len() > dot + 1
            && rest[dot + 1..]
                .iter()
                .all(|&b| b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:".contains(&b));
    }
    std::str::from_utf8(inside)
        .ok()
        .and_then(|text| text.parse::<std::net::Ipv6Addr>().ok())
        .is_some()
}

fn valid_reg_name(name: &[u8]) -> bool {
    let mut i = 0;
    while i < name.len() {
        let b = name[i];
        if b == b'%' {
            if !name
                .get(i + 1..i + 3)
                .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit))
            {
                return false;
            }
            i += 3;
            continue;
        }
        if !(b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=".contains(&b)) {
            return false;
        }
        i += 1;
    }
    true
}

/// A `Content-Length` value: digits, or a list of the same digits.
fn valid_length(value: &[u8]) -> bool {
    let mut first: Option<&[u8]> = None;
    for item in value.split(|&b| b == b',') {
        let item = trim(item);
        if item.is_empty() || !item.iter().all(u8::is_ascii_digit) {
            return false;
        }
        if first.is_some_and(|f| !same_number(f, item)) {
            return false;
        }
        first = Some(item);
    }
    first.is_some()
}

fn same_length(a: &[u8], b: &[u8]) -> bool {
    let first = |v: &[u8]| trim(v.split(|&b| b == b',').next().unwrap_or_default()).to_vec();
    same_number(&first(a), &first(b))
}

/// Equal as numbers: leading zeros do not count.
fn same_number(a: &[u8], b: &[u8]) -> bool {
    let strip = |v: &[u8]| {
        let start = v.iter().position(|&b| b != b'0').unwrap_or(v.len());
        v[start..].to_vec()
    };
    strip(a) == strip(b)
}

fn is_zero(length: &[u8]) -> bool {
    trim(length.split(|&b| b == b',').next().unwrap_or_default())
        .iter()
        .all(|&b| b == b'0')
}

/// The last transfer coding is `chunked`, the only framing RFC 9112 allows
/// a request body.
fn ends_in_chunked(value: &[u8]) -> bool {
    tokens(value)
        .last()
        .is_some_and(|coding| coding.eq_ignore_ascii_case(b"chunked"))
}

/// The comma-separated tokens of a field value, trimmed, empty ones left
/// out.
fn tokens(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(trim)
        .filter(|t| !t.is_empty())
}

fn trim(v: &[u8]) -> &[u8] {
    let start = v
        .iter()
        .position(|b| !b" \t".contains(b))
        .unwrap_or(v.len());
    let end = v
        .iter()
        .rposition(|b| !b" \t".contains(b))
        .map_or(start, |e| e + 1);
    &v[start..end]
}

/// The request line, without the empty lines a request may start with.
fn request_line(buf: &[u8]) -> &[u8] {
    let buf = buf.trim_ascii_start();
    let line_end = buf.iter().position(|&b| b == b'\n').unwrap_or(buf.len());
    buf[..line_end]
        .strip_suffix(b"\r")
        .unwrap_or(&buf[..line_end])
}

/// True if the request line is exactly `method SP target SP HTTP/1.x`, so
/// that a fault httparse found after it is in the header section.
fn request_line_is_clean(buf: &[u8]) -> bool {
    let parts: Vec<&[u8]> = request_line(buf).split(|&b| b == b' ').collect();
    matches!(parts[..], [_, _, b"HTTP/1.0" | b"HTTP/1.1"])
}

/// Why the request line was refused: a well-formed version that is not
/// 1.x is 505, anything else 400.
fn request_line_error(buf: &[u8]) -> Reason {
    let parts: Vec<&[u8]> = request_line(buf).split(|&b| b == b' ').collect();
    if let [_, target, version] = parts[..] {
        let well_formed = version.len() == 8
            && version.starts_with(b"HTTP/")
            && version[5].is_ascii_digit()
            && version[6] == b'.'
            && version[7].is_ascii_digit();
        // With a version it supports, the fault is elsewhere in the line.
        let supported = version == b"HTTP/1.0" || version == b"HTTP/1.1";
        if well_formed && !supported && !target.is_empty() {
            return Reason::VersionNotSupported;
        }
    }
    Reason::BadRequestLine
}

/// Why the header section was refused: a bare CR, an obs-fold line, or
/// another malformation.
fn header_error(buf: &[u8]) -> Reason {
    let start = buf
        .iter()
        .position(|&b| b == b'\n')
        .map_or(buf.len(), |i| i + 1);
    let section = &buf[start..];
    for (i, &b) in section.iter().enumerate() {
        if b == b'\r' && section.get(i + 1) != Some(&b'\n') {
            return Reason::BareCr;
        }
        if b == b'\n' {
            if let Some(b' ' | b'\t') = section.get(i + 1) {
                return Reason::ObsFold;
            }
        }
    }
    if section.first().is_some_and(|b| b" \t".contains(b)) {
        return Reason::ObsFold;
    }
    Reason::BadHeader
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(raw: &str) -> Head {
        match parse(raw.as_bytes()) {
            Parse::Complete(head) => head,
            other => panic!("{:?}: {:?}", raw, other),
        }
    }

    fn refused(raw: &[u8]) -> Reason {
        match parse(raw) {
            Parse::Rejected(reason, _) => reason,
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(raw)),
        }
    }

    fn target(raw: &str) -> String {
        let h = head(raw);
        raw[h.target].to_owned()
    }

    #[test]
    fn a_plain_request_is_read_with_its_parts() {
        let raw = "GET /query?param=a HTTP/1.1\r\nHost: t\r\n\r\nGET /next";
        let h = head(raw);
        assert_eq!(&raw[h.method.clone()], "GET");
        assert_eq!(&raw[h.target.clone()], "/query?param=a");
        assert_eq!(h.len, raw.find("GET /next").unwrap());
        assert_eq!(h.minor_version, 1);
        assert!(!h.declares_body && !h.closes_connection);
        assert_eq!(parse(b"GET / HTTP/1.1\r\nHost: t\r\n"), Parse::Partial);
    }

    #[test]
    fn nothing_can_hide_a_content_length() {
        // A bare LF ends the line: the Content-Length is seen, so the body
        // is declared (and refused), never run as a request.
        assert!(
            head("GET / HTTP/1.1\r\nHost: t\r\nX: a\nContent-Length: 40\r\n\r\n").declares_body
        );
        assert_eq!(
            refused(b"GET / HTTP/1.1\r\nHost: t\r\nX: a\rContent-Length: 40\r\n\r\n"),
            Reason::BareCr
        );
        assert_eq!(
            refused(b"GET / HTTP/1.1\r\nHost: t\r\nX\0Y: a\r\nContent-Length: 4\r\n\r\n"),
            Reason::BadHeader
        );
        assert_eq!(
            refused(b"GET / HTTP/1.1\r\nHost: t\r\nX: a\r\n Content-Length: 4\r\n\r\n"),
            Reason::ObsFold
        );
    }

    #[test]
    fn a_header_fault_is_named_wherever_the_request_line_starts() {
        // After empty lines before the request line, and after the
        // shortest request line (a one-letter method).
        for raw in [
            &b"\nGET / HTTP/1.1\r\nBad Field\r\n\r\n"[..],
            b"\r\n\r\nGET / HTTP/1.1\r\nBad Field\r\n\r\n",
            b"G / HTTP/1.1\r\nBad Field\r\n\r\n",
            b"G / HTTP/1.1\r\nHost: t\r\nX\0: a\r\n\r\n",
        ] {
            assert_eq!(
                refused(raw),
                Reason::BadHeader,
                "{:?}",
                String::from_utf8_lossy(raw)
            );
        }
        assert_eq!(
            refused(b"\nG / HTTP/1.1\r\nHost: t\r\nX: a\r\n\tb\r\n\r\n"),
            Reason::ObsFold
        );
    }

    #[test]
    fn host_is_required_once_and_well_formed() {
        assert_eq!(refused(b"GET / HTTP/1.1\r\n\r\n"), Reason::MissingHost);
        assert!(matches!(
            parse(b"GET / HTTP/1.0\r\n\r\n"),
            Parse::Complete(_)
        ));
        assert_eq!(
            refused(b"GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n"),
            Reason::DuplicateHost
        );
        for bad in [
            "a b", "a/b", "[::1", "a:8x", "a@b", "%zz", "[zz]", "[!]", "[]", "[v1.]", "[vx.a]",
            "[::1]x", // IPvFuture needs a hex digit before its dot.
            "[v.1]",
            // A percent-escape is two hex digits, and what follows one is
            // checked too.
            "a%2z", "a%2", "ab%41@x",
        ] {
            assert_eq!(
                refused(format!("GET / HTTP/1.1\r\nHost: {bad}\r\n\r\n").as_bytes()),
                Reason::BadHost,
                "{bad}"
            );
        }
        for good in [
            "",
            "a",
            "a.example:8080",
            "[::1]:443",
            "[2001:db8::1]",
            "[v1.fe80::a+en1]",
            "127.0.0.1",
            "xn--d1a.example",
            "a%20b",
            "%41%42",
        ] {
            head(&format!("GET / HTTP/1.1\r\nHost: {good}\r\n\r\n"));
        }
    }

    #[test]
    fn framing_is_one_length_or_chunked_never_both() {
        assert!(!head("GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n").declares_body);
        assert!(head("GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\n").declares_body);
        assert!(
            head(
                "GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 5, 5\r\nContent-Length: 005\r\n\r\n"
            )
            .declares_body
        );
        assert!(
            head("GET / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n")
                .declares_body
        );
        for (extra, reason) in [
            (
                "Content-Length: 5\r\nContent-Length: 6",
                Reason::BadContentLength,
            ),
            ("Content-Length: 5, 6", Reason::BadContentLength),
            ("Content-Length: -1", Reason::BadContentLength),
            ("Content-Length: 1e9", Reason::BadContentLength),
            ("Content-Length:", Reason::BadContentLength),
            (
                "Content-Length: 5\r\nTransfer-Encoding: chunked",
                Reason::ConflictingFraming,
            ),
            ("Transfer-Encoding: gzip", Reason::BadTransferEncoding),
            (
                "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked",
                Reason::BadTransferEncoding,
            ),
        ] {
            let raw = format!("GET / HTTP/1.1\r\nHost: t\r\n{extra}\r\n\r\n");
            assert_eq!(refused(raw.as_bytes()), reason, "{extra}");
        }
        assert_eq!(
            refused(b"GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Reason::BadTransferEncoding
        );
    }

    #[test]
    fn connection_tokens_count_across_lines() {
        let h = head(
            "GET / HTTP/1.1\r\nHost: t\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n",
        );
        assert!(h.closes_connection);
        assert!(
            head("GET / HTTP/1.1\r\nHost: t\r\nConnection: foo, CLOSE\r\n\r\n").closes_connection
        );
        assert!(head("GET / HTTP/1.0\r\n\r\n").closes_connection);
        assert!(!head("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").closes_connection);
        assert!(!head("GET / HTTP/1.1\r\nHost: t\r\n\r\n").closes_connection);
    }

    #[test]
    fn the_request_line_is_strict() {
        for (raw, reason) in [
            (
                &b"G\x01T / HTTP/1.1\r\nHost: t\r\n\r\n"[..],
                Reason::BadRequestLine,
            ),
            (
                b"GET /a\tb HTTP/1.1\r\nHost: t\r\n\r\n",
                Reason::BadRequestLine,
            ),
            (
                b"GET /a\x01b HTTP/1.1\r\nHost: t\r\n\r\n",
                Reason::BadRequestLine,
            ),
            (
                b"GET /a\x7fb HTTP/1.1\r\nHost: t\r\n\r\n",
                Reason::BadRequestLine,
            ),
            (
                b"GET / HTTP/1.1 x\r\nHost: t\r\n\r\n",
                Reason::BadRequestLine,
            ),
            (b"GET /\r\n\r\n", Reason::BadRequestLine),
            (b"HELLO\r\n\r\n", Reason::BadRequestLine),
            (
                b"GET / HTTP/9.9\r\nHost: t\r\n\r\n",
                Reason::VersionNotSupported,
            ),
            (
                b"GET / HTTP/2.0\r\nHost: t\r\n\r\n",
                Reason::VersionNotSupported,
            ),
            (
                b"GET / HTTP/0.9\r\nHost: t\r\n\r\n",
                Reason::VersionNotSupported,
            ),
            // Not a version at all: 400, not 505.
            (b"GET / XTTP/1.1\r\nHost: t\r\n\r\n", Reason::BadRequestLine),
            (b"GET / HTTP/1.x\r\nHost: t\r\n\r\n", Reason::BadRequestLine),
            (b"GET / HTTP/1-1\r\nHost: t\r\n\r\n", Reason::BadRequestLine),
            (b"GET / HTTP/x.1\r\nHost: t\r\n\r\n", Reason::BadRequestLine),
            (
                b"GET / HTTP/1.10\r\nHost: t\r\n\r\n",
                Reason::BadRequestLine,
            ),
            (
                "GET /\u{e9} HTTP/1.1\r\nHost: t\r\n\r\n".as_bytes(),
                Reason::BadTarget,
            ),
            (
                b"GET /q?p=a#frag HTTP/1.1\r\nHost: t\r\n\r\n",
                Reason::BadTarget,
            ),
            (b"GET * HTTP/1.1\r\nHost: t\r\n\r\n", Reason::BadTarget),
            (
                b"GET ftp://h/ HTTP/1.1\r\nHost: t\r\n\r\n",
                Reason::BadTarget,
            ),
            (
                b"GET http://u@h/ HTTP/1.1\r\nHost: t\r\n\r\n",
                Reason::BadTarget,
            ),
            // An absolute form needs a host, and a valid one.
            (
                b"GET http:///x HTTP/1.1\r\nHost: t\r\n\r\n",
                Reason::BadTarget,
            ),
            (
                b"GET http://a%zz/x HTTP/1.1\r\nHost: t\r\n\r\n",
                Reason::BadTarget,
            ),
            (
                b"GET / HTTP/1.1\r\nHost: t\r\nExpect: 200-ok\r\n\r\n",
                Reason::UnsupportedExpectation,
            ),
            (
                "GET / HTTP/1.1\r\nHost: t\r\nX: \u{e9}\r\n\r\n".as_bytes(),
                Reason::BadHeader,
            ),
            (
                b"GET / HTTP/1.1\r\nHost: t\r\n: a\r\n\r\n",
                Reason::BadHeader,
            ),
            (
                b"GET / HTTP/1.1\r\nHost: t\r\nX-A : a\r\n\r\n",
                Reason::BadHeader,
            ),
        ] {
            assert_eq!(refused(raw), reason, "{:?}", String::from_utf8_lossy(raw));
        }
    }

    #[test]
    fn absolute_and_asterisk_forms_are_taken() {
        assert_eq!(
            target("GET http://h.example/query?param=aa HTTP/1.1\r\nHost: x\r\n\r\n"),
            "/query?param=aa"
        );
        assert_eq!(
            target("GET HTTPS://h:8443/healthz HTTP/1.1\r\nHost: x\r\n\r\n"),
            "/healthz"
        );
        assert_eq!(target("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n"), "*");
        // An empty path is "/" (RFC 9110, 4.2.3), a query or not.
        for (raw, rest) in [
            ("GET http://h HTTP/1.1\r\nHost: h\r\n\r\n", ""),
            (
                "GET http://h:80?param=aa HTTP/1.1\r\nHost: h\r\n\r\n",
                "?param=aa",
            ),
        ] {
            let h = head(raw);
            assert!(h.rooted, "{}", raw);
            assert_eq!(&raw[h.target], rest);
        }
        assert!(!head("GET http://h/ HTTP/1.1\r\nHost: h\r\n\r\n").rooted);
        // Empty lines before the request line are skipped.
        assert_eq!(target("\r\n\r\nGET /a HTTP/1.1\r\nHost: x\r\n\r\n"), "/a");
    }

    #[test]
    fn limits_are_414_for_the_line_and_431_for_the_rest() {
        let long_line = format!("GET /{}", "a".repeat(MAX_HEAD_BYTES));
        assert_eq!(refused(long_line.as_bytes()), Reason::RequestLineTooLarge);
        let long_headers = format!("GET / HTTP/1.1\r\nX: {}", "a".repeat(MAX_HEAD_BYTES));
        assert_eq!(refused(long_headers.as_bytes()), Reason::HeadTooLarge);
        let many: String = (0..=MAX_HEADERS).map(|i| format!("X-{i}: v\r\n")).collect();
        assert_eq!(
            refused(format!("GET / HTTP/1.1\r\n{many}\r\n").as_bytes()),
            Reason::HeadTooLarge
        );
        let enough: String = (1..MAX_HEADERS).map(|i| format!("X-{i}: v\r\n")).collect();
        head(&format!("GET / HTTP/1.1\r\nHost: t\r\n{enough}\r\n"));
    }

    /// A complete head of exactly `len` bytes.
    fn head_of(len: usize) -> String {
        let start = "GET / HTTP/1.1\r\nHost: t\r\nX: ";
        let end = "\r\n\r\n";
        format!("{start}{}{end}", "a".repeat(len - start.len() - end.len()))
    }

    #[test]
    fn the_head_limit_is_64_kib_to_the_byte() {
        assert_eq!(MAX_HEAD_BYTES, 65_536);
        let at_limit = head_of(MAX_HEAD_BYTES);
        assert_eq!(head(&at_limit).len, MAX_HEAD_BYTES);
        assert_eq!(
            refused(head_of(MAX_HEAD_BYTES + 1).as_bytes()),
            Reason::HeadTooLarge
        );
        // Unfinished: at the limit it can no longer end within it; a byte
        // short, it still can.
        let unfinished = &at_limit.as_bytes()[..at_limit.len() - 4];
        let long = [unfinished, b"aaaa"].concat();
        assert_eq!(long.len(), MAX_HEAD_BYTES);
        assert_eq!(refused(&long), Reason::HeadTooLarge);
        assert_eq!(parse(&long[..MAX_HEAD_BYTES - 1]), Parse::Partial);
    }

    #[test]
    fn every_reason_has_a_name_a_status_and_a_detail() {
        let mut names: Vec<&str> = Reason::ALL.iter().map(|r| r.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Reason::ALL.len());
        for reason in Reason::ALL {
            assert!(reason.detail().ends_with('.'));
        }
    }

    #[test]
    fn each_reason_has_the_status_rfc_9110_gives_it() {
        for reason in Reason::ALL {
            let status = match reason {
                Reason::VersionNotSupported => 505,
                Reason::UnsupportedExpectation => 417,
                Reason::RequestLineTooLarge => 414,
                Reason::HeadTooLarge => 431,
                Reason::HeadTimeout => 408,
                Reason::NoRoomForHead => 503,
                _ => 400,
            };
            assert_eq!(reason.status(), status, "{}", reason.name());
        }
    }
}
