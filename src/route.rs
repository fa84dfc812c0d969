//! Routing: a pure function from the parts of a request to a reply.
//!
//! Contract: [`route`] touches no socket, clock or global state, so every
//! line of the HTTP contract can be tested here without a server. It decides
//! the [`Reply`]: status, body, media type and caching; [`crate::reply`]
//! turns it into a response with the headers every response shares.

use crate::count::count_repeated;
use crate::problem::Problem;
use crate::query::find_param;
pub use crate::reply::{Caching, MediaType, Reply, ALLOWED_METHODS, QUERY_MAX_AGE_SECS};

/// The paths the service answers; anything else is 404. docs/openapi.yaml
/// describes exactly these (tests/openapi.rs).
pub const PATHS: [&str; 2] = ["/query", "/healthz"];

/// What routing needs to know about a request.
#[derive(Debug, Clone, Copy)]
pub struct RequestHead<'a> {
    /// The method, exactly as sent (methods are case-sensitive).
    pub method: &'a str,
    /// The request target: path and query, as sent.
    pub target: &'a str,
    /// True if the request has a `Content-Length` other than 0 or a
    /// `Transfer-Encoding`.
    pub declares_body: bool,
}

/// Whether the server is taking traffic or shutting down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// Normal operation.
    Serving,
    /// Shutting down: `/healthz` fails so load balancers stop sending.
    Draining,
}

/// Splits a request target into path and query, so routing and the access log agree on the path.
pub fn split_target(target: &str) -> (&str, &str) {
    target.split_once('?').unwrap_or((target, ""))
}

/// Decides the reply to a request.
pub fn route(head: &RequestHead<'_>, health: Health, max_url_bytes: usize) -> Reply {
    if head.target.len() > max_url_bytes {
        return Reply::problem(Problem::TargetTooLong {
            limit: max_url_bytes,
        });
    }
    // `OPTIONS *` asks about the server as a whole, which answers GET and
    // HEAD only (the head parser takes `*` for OPTIONS alone).
    if head.target == "*" {
        return Reply::problem(Problem::MethodNotAllowed);
    }
    let (path, query) = split_target(head.target);
    if !PATHS.contains(&path) {
        return Reply::problem(Problem::NotFound);
    }
    if head.method != "GET" && head.method != "HEAD" {
        return Reply::problem(Problem::MethodNotAllowed);
    }
    if head.declares_body {
        return Reply::problem(Problem::BodyNotAccepted);
    }
    if path == "/healthz" {
        return match health {
            Health::Serving => Reply::json(200, Caching::NoStore, r#"{"status":"ok"}"#.into()),
            Health::Draining => Reply::problem(Problem::Draining),
        };
    }
    match find_param(query, "param") {
        Ok(value) => {
            let mut body = String::with_capacity(16);
            body.push_str(r#"{"count":"#);
            crate::json::push_u64(&mut body, count_repeated(&value) as u64);
            body.push('}');
            Reply {
                param_bytes: Some(value.len()),
                ..Reply::json(200, Caching::Public, body)
            }
        }
        Err(error) => Reply::problem(error.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: usize = 8192;

    fn get(target: &str) -> Reply {
        request("GET", target, false)
    }

    fn request(method: &str, target: &str, declares_body: bool) -> Reply {
        let head = RequestHead {
            method,
            target,
            declares_body,
        };
        route(&head, Health::Serving, LIMIT)
    }

    fn problem_type(reply: &Reply) -> String {
        let body: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
        body["type"].as_str().unwrap().to_owned()
    }

    #[test]
    fn query_counts_repeated_characters() {
        let reply = get("/query?param=caiopa");
        assert_eq!(reply.status, 200);
        assert_eq!(reply.media_type, MediaType::Json);
        assert_eq!(reply.caching, Caching::Public);
        assert_eq!(reply.body, r#"{"count":1}"#);
        assert_eq!(get("/query?param=acx333x").body, r#"{"count":2}"#);
    }

    #[test]
    fn query_decodes_the_value_before_counting() {
        assert_eq!(
            get("/query?param=x+y+").body,
            r#"{"count":1}"#,
            "two spaces"
        );
        assert_eq!(get("/query?param=%C3%A9%C3%A9").body, r#"{"count":1}"#);
        assert_eq!(get("/query?p%61ram=xx").body, r#"{"count":1}"#);
    }

    #[test]
    fn empty_param_counts_zero() {
        assert_eq!(get("/query?param").body, r#"{"count":0}"#);
        assert_eq!(get("/query?param=").body, r#"{"count":0}"#);
    }

    #[test]
    fn param_length_is_reported_for_the_log() {
        assert_eq!(get("/query?param=%C3%A9a").param_bytes, Some(3));
        assert_eq!(get("/query").param_bytes, None);
    }

    #[test]
    fn param_errors_are_400_problems() {
        for (target, kind) in [
            ("/query", "missing-param"),
            ("/query?", "missing-param"),
            ("/query?other=1", "missing-param"),
            ("/query?param=a&param=b", "repeated-param"),
            ("/query?param=%FF", "param-not-utf8"),
        ] {
            let reply = get(target);
            assert_eq!(reply.status, 400, "{target}");
            assert_eq!(reply.media_type, MediaType::Problem);
            assert_eq!(reply.caching, Caching::NoStore);
            assert_eq!(
                problem_type(&reply),
                format!("tag:sre-kata,2026:problem:{kind}")
            );
        }
    }

    #[test]
    fn errors_never_echo_the_input() {
        let hostile = "/query?param=%3Cscript%3E&param=<script>alert(1)</script>";
        let reply = get(hostile);
        assert_eq!(reply.status, 400);
        assert!(!reply.body.contains("script"), "{}", reply.body);
        assert!(!get("/<script>").body.contains("script"));
    }

    #[test]
    fn target_longer_than_the_limit_is_414() {
        let at_limit = format!("/query?param={}", "a".repeat(LIMIT - 13));
        assert_eq!(at_limit.len(), LIMIT);
        assert_eq!(get(&at_limit).status, 200);
        let over = format!("{at_limit}a");
        let reply = get(&over);
        assert_eq!(reply.status, 414);
        assert_eq!(reply.media_type, MediaType::Problem);
        assert_eq!(get(&format!("/nowhere{}", "a".repeat(LIMIT))).status, 414);
    }

    #[test]
    fn unknown_paths_are_404() {
        for target in ["/", "/query/", "/Query", "/queryx?param=a", "/healthz/", ""] {
            let reply = get(target);
            assert_eq!(reply.status, 404, "{target:?}");
            assert_eq!(reply.media_type, MediaType::Problem);
            assert_eq!(reply.caching, Caching::NoStore);
        }
        assert_eq!(request("POST", "/nowhere", false).status, 404);
    }

    #[test]
    fn other_methods_on_known_paths_are_405_with_allow() {
        for method in [
            "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT", "get", "BREW",
        ] {
            for path in ["/query?param=a", "/healthz"] {
                let reply = request(method, path, false);
                assert_eq!(reply.status, 405, "{method} {path}");
                assert!(reply.allow);
                assert_eq!(reply.media_type, MediaType::Problem);
            }
        }
        assert!(!get("/query?param=a").allow);
        assert_eq!(ALLOWED_METHODS, "GET, HEAD");
        // OPTIONS *, the server as a whole: it answers GET and HEAD.
        let server_wide = request("OPTIONS", "*", false);
        assert_eq!(server_wide.status, 405);
        assert!(server_wide.allow);
    }

    #[test]
    fn head_gets_the_get_reply() {
        assert_eq!(
            request("HEAD", "/query?param=aa", false),
            get("/query?param=aa")
        );
        assert_eq!(request("HEAD", "/healthz", false), get("/healthz"));
    }

    #[test]
    fn a_declared_body_is_413() {
        let reply = request("GET", "/query?param=aa", true);
        assert_eq!(reply.status, 413);
        assert_eq!(reply.media_type, MediaType::Problem);
        assert_eq!(request("GET", "/healthz", true).status, 413);
    }

    #[test]
    fn healthz_is_ok_until_draining() {
        let reply = get("/healthz");
        assert_eq!(reply.status, 200);
        assert_eq!(reply.body, r#"{"status":"ok"}"#);
        assert_eq!(reply.media_type, MediaType::Json);
        assert_eq!(reply.caching, Caching::NoStore);
        assert_eq!(get("/healthz?verbose=1").status, 200);

        let head = RequestHead {
            method: "GET",
            target: "/healthz",
            declares_body: false,
        };
        let draining = route(&head, Health::Draining, LIMIT);
        assert_eq!(draining.status, 503);
        assert_eq!(draining.media_type, MediaType::Problem);
        assert_eq!(draining.caching, Caching::NoStore);
    }

    #[test]
    fn draining_still_answers_queries() {
        let head = RequestHead {
            method: "GET",
            target: "/query?param=aa",
            declares_body: false,
        };
        assert_eq!(route(&head, Health::Draining, LIMIT).status, 200);
    }
}
