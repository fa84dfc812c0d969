//! Replies: what the service answers, as [`crate::route`] decides it, and
//! the response it becomes on the wire.
//!
//! Contract: every response carries `Content-Type`, `Cache-Control`,
//! `X-Content-Type-Options: nosniff`, `Server: sre-kata` and `X-Request-Id`
//! ([`Renderer::response`]); tiny_http adds `Content-Length` and `Date`.
//! A 405 also says `Allow`.

use crate::problem::Problem;
use std::io::Cursor;
use tiny_http::{Header, Response};

/// The methods every resource answers, as sent in `Allow`.
pub const ALLOWED_METHODS: &str = "GET, HEAD";

/// How long caches may keep a `/query` answer. The answer for a URL never
/// changes, but a day bounds the damage should a fix ever change one.
pub const QUERY_MAX_AGE_SECS: u32 = 86_400;

/// The media type of a reply body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaType {
    /// `application/json`
    Json,
    /// `application/problem+json`
    Problem,
}

/// What caches may do with a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caching {
    /// Shared caches may keep it for [`QUERY_MAX_AGE_SECS`].
    Public,
    /// Never stored: errors and health change from one moment to the next.
    NoStore,
}

/// A decided answer, before it is written to the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// HTTP status code.
    pub status: u16,
    /// Media type of `body`.
    pub media_type: MediaType,
    /// Caching policy.
    pub caching: Caching,
    /// True if the reply must carry `Allow: GET, HEAD` (a 405).
    pub allow: bool,
    /// The body. `HEAD` gets the same reply; the server leaves the body out.
    pub body: String,
    /// Length in bytes of the decoded `param`, for the access log; the value
    /// itself is never logged.
    pub param_bytes: Option<usize>,
}

impl Reply {
    /// A JSON reply.
    pub fn json(status: u16, caching: Caching, body: String) -> Self {
        Reply {
            status,
            media_type: MediaType::Json,
            caching,
            allow: false,
            body,
            param_bytes: None,
        }
    }

    /// The reply for a problem.
    pub fn problem(problem: Problem) -> Self {
        Reply {
            status: problem.status(),
            media_type: MediaType::Problem,
            caching: Caching::NoStore,
            allow: problem == Problem::MethodNotAllowed,
            body: problem.body(),
            param_bytes: None,
        }
    }
}

/// Turns replies into responses; the headers that are the same on many
/// responses are built once.
pub struct Renderer {
    json: Header,
    problem: Header,
    public: Header,
    no_store: Header,
    nosniff: Header,
    allow: Header,
    server: Header,
}

impl Renderer {
    /// The renderer, with its headers built.
    pub fn new() -> Self {
        let fixed = |name: &str, value: &str| {
            Header::from_bytes(name.as_bytes(), value.as_bytes())
                .unwrap_or_else(|()| unreachable!("{name}: {value} is ASCII"))
        };
        Renderer {
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

    /// The response for `reply`, with every shared header and the request
    /// id. `Content-Length` is tiny_http's to add.
    pub fn response(&self, reply: Reply, request_id: &str) -> Response<Cursor<Vec<u8>>> {
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

impl Default for Renderer {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_response_carries_the_shared_headers() {
        let renderer = Renderer::new();
        let response = renderer.response(Reply::problem(Problem::MethodNotAllowed), "r1");
        let headers: Vec<String> = response
            .headers()
            .iter()
            .map(|h| format!("{}: {}", h.field, h.value))
            .collect();
        for wanted in [
            "Server: sre-kata",
            "Content-Type: application/problem+json",
            "Cache-Control: no-store",
            "X-Content-Type-Options: nosniff",
            "Allow: GET, HEAD",
            "X-Request-Id: r1",
        ] {
            assert!(
                headers.iter().any(|h| h == wanted),
                "{wanted} in {headers:?}"
            );
        }
    }
}
