//! Problems: every error the service can answer, and its one mapping to HTTP.
//!
//! Core modules return their own typed errors; [`Problem`] is where they
//! become a status code and an RFC 9457 problem-details body. Details are
//! fixed sentences: nothing a client sent is ever echoed back.

use crate::json;
use crate::query::ParamError;

/// An error answer, before it is rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// No resource at the request's path.
    NotFound,
    /// The path exists, but not for this method.
    MethodNotAllowed,
    /// The request target is longer than the configured limit.
    TargetTooLong { limit: usize },
    /// The request declares a body; this service takes none.
    BodyNotAccepted,
    /// `/query` without `param`.
    MissingParam,
    /// `/query` with `param` more than once.
    RepeatedParam,
    /// `param` is not UTF-8 once percent-decoded.
    ParamNotUtf8,
    /// The server is shutting down, so health checks fail on purpose.
    Draining,
    /// A bug: the handler panicked.
    Internal,
    /// The HTTP library refused the request head (RFC 9112's rules: a
    /// malformed line, a missing `Host`, a head too large or too slow).
    HeadRefused(Refusal),
}

/// Why a head was refused, as the HTTP library says: the status and one
/// sentence (the library's `Reason`, mapped once in `server.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    /// 400, 408, 414, 417, 431 or 505.
    pub status: u16,
    /// What was wrong; nothing the client sent.
    pub detail: &'static str,
}

impl From<ParamError> for Problem {
    fn from(error: ParamError) -> Self {
        match error {
            ParamError::Missing => Problem::MissingParam,
            ParamError::Repeated => Problem::RepeatedParam,
            ParamError::NotUtf8 => Problem::ParamNotUtf8,
        }
    }
}

impl Problem {
    /// The HTTP status code.
    pub fn status(self) -> u16 {
        match self {
            Problem::MissingParam | Problem::RepeatedParam | Problem::ParamNotUtf8 => 400,
            Problem::NotFound => 404,
            Problem::MethodNotAllowed => 405,
            Problem::BodyNotAccepted => 413,
            Problem::TargetTooLong { .. } => 414,
            Problem::Internal => 500,
            Problem::Draining => 503,
            Problem::HeadRefused(refusal) => refusal.status,
        }
    }

    /// The problem type: a stable identifier clients can branch on. Plain
    /// HTTP errors use `about:blank`, as RFC 9457 recommends; the service's
    /// own use non-dereferenceable `tag:` URIs (RFC 4151), listed in docs/api.md.
    pub fn type_uri(self) -> &'static str {
        match self {
            Problem::MissingParam => "tag:sre-kata,2026:problem:missing-param",
            Problem::RepeatedParam => "tag:sre-kata,2026:problem:repeated-param",
            Problem::ParamNotUtf8 => "tag:sre-kata,2026:problem:param-not-utf8",
            _ => "about:blank",
        }
    }

    /// A short summary that is the same for every occurrence of the type.
    pub fn title(self) -> &'static str {
        match self {
            Problem::MissingParam => "Missing query parameter",
            Problem::RepeatedParam => "Repeated query parameter",
            Problem::ParamNotUtf8 => "Query parameter is not UTF-8",
            Problem::NotFound => "Not Found",
            Problem::MethodNotAllowed => "Method Not Allowed",
            Problem::BodyNotAccepted => "Content Too Large",
            Problem::TargetTooLong { .. } => "URI Too Long",
            Problem::Internal => "Internal Server Error",
            Problem::Draining => "Service Unavailable",
            Problem::HeadRefused(refusal) => match refusal.status {
                408 => "Request Timeout",
                414 => "URI Too Long",
                417 => "Expectation Failed",
                431 => "Request Header Fields Too Large",
                505 => "HTTP Version Not Supported",
                _ => "Bad Request",
            },
        }
    }

    /// What went wrong and what to do about it.
    pub fn detail(self) -> String {
        match self {
            Problem::MissingParam => {
                "The query string must contain the parameter 'param', as in /query?param=abc."
                    .into()
            }
            Problem::RepeatedParam => "The parameter 'param' must appear only once.".into(),
            Problem::ParamNotUtf8 => {
                "The value of 'param' must be UTF-8 once percent-decoded.".into()
            }
            Problem::NotFound => "There is no resource at this path; try /query or /healthz.".into(),
            Problem::MethodNotAllowed => "This resource answers GET and HEAD only.".into(),
            Problem::BodyNotAccepted => "This service takes no request body.".into(),
            Problem::TargetTooLong { limit } => {
                format!("The request target must be at most {limit} bytes long.")
            }
            Problem::Internal => {
                "The server failed to answer; the X-Request-Id header identifies this failure in the logs."
                    .into()
            }
            Problem::Draining => "The server is shutting down.".into(),
            Problem::HeadRefused(refusal) => refusal.detail.into(),
        }
    }

    /// The problem-details JSON body.
    pub fn body(self) -> String {
        let mut out = String::with_capacity(192);
        out.push_str("{\"type\":");
        json::push_str(&mut out, self.type_uri());
        out.push_str(",\"title\":");
        json::push_str(&mut out, self.title());
        out.push_str(",\"status\":");
        out.push_str(&self.status().to_string());
        out.push_str(",\"detail\":");
        json::push_str(&mut out, &self.detail());
        out.push('}');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::{Problem, Refusal};

    const fn refused(status: u16) -> Problem {
        Problem::HeadRefused(Refusal {
            status,
            detail: "A header field is malformed.",
        })
    }

    const ALL: [Problem; 15] = [
        Problem::NotFound,
        Problem::MethodNotAllowed,
        Problem::TargetTooLong { limit: 8192 },
        Problem::BodyNotAccepted,
        Problem::MissingParam,
        Problem::RepeatedParam,
        Problem::ParamNotUtf8,
        Problem::Draining,
        Problem::Internal,
        refused(400),
        refused(408),
        refused(414),
        refused(417),
        refused(431),
        refused(505),
    ];

    #[test]
    fn every_body_is_rfc_9457_problem_details() {
        for problem in ALL {
            let body: serde_json::Value = serde_json::from_str(&problem.body()).unwrap();
            let object = body.as_object().unwrap();
            assert_eq!(object.len(), 4, "{problem:?}: {body}");
            assert_eq!(body["type"], problem.type_uri());
            assert_eq!(body["title"], problem.title());
            assert_eq!(body["status"], problem.status());
            assert_eq!(body["detail"], problem.detail());
            assert!(problem.status() >= 400);
        }
    }

    #[test]
    fn about_blank_titles_are_the_status_phrases() {
        for problem in ALL.into_iter().filter(|p| p.type_uri() == "about:blank") {
            let phrase = match problem.status() {
                404 => "Not Found",
                405 => "Method Not Allowed",
                413 => "Content Too Large",
                400 => "Bad Request",
                408 => "Request Timeout",
                414 => "URI Too Long",
                417 => "Expectation Failed",
                431 => "Request Header Fields Too Large",
                500 => "Internal Server Error",
                503 => "Service Unavailable",
                505 => "HTTP Version Not Supported",
                other => panic!("unexpected status {other}"),
            };
            assert_eq!(problem.title(), phrase);
        }
    }

    #[test]
    fn the_limit_is_in_the_detail() {
        assert!(Problem::TargetTooLong { limit: 123 }
            .detail()
            .contains("123 bytes"));
    }
}
