//! Strict HTTP/1.1: the request heads RFC 9112 and RFC 9110 reject are
//! rejected, nothing hides a body from the parser, and every answer, the
//! rejections included, carries a request id and leaves a log line.
//! Raw bytes over real sockets, against the binary.

mod support;

use std::time::Duration;
use support::{Client, Service};

/// Sends `raw` on a fresh connection and returns the response and whether
/// the server closed the connection after it.
fn exchange(service: &Service, raw: &[u8]) -> (support::Response, bool) {
    let mut conn = service.connect();
    conn.send_bytes(raw);
    let response = conn.response();
    let closed = conn.is_closed_by_server();
    (response, closed)
}

/// Asserts a refused head: the status as a problem, with the headers every
/// response carries, the connection closed, and a log line naming `reason`.
fn assert_refused(service: &Service, raw: &[u8], status: u16, reason: &str) {
    let (response, closed) = exchange(service, raw);
    let shown = String::from_utf8_lossy(raw);
    assert_eq!(response.status, status, "{shown:?}: {}", response.text());
    response.assert_problem(status);
    assert_eq!(response.header("Server"), "sre-kata", "{shown:?}");
    assert_eq!(response.header("Connection"), "close", "{shown:?}");
    let id = response.header("X-Request-Id").to_owned();
    assert_eq!(id.len(), 32, "{shown:?}: a generated request id");
    assert!(closed, "{shown:?}: the connection must close");
    let line = service.wait_for_log(|l| l["request_id"] == id.as_str());
    assert_eq!(line["event"], "request");
    assert_eq!(line["status"], status);
    assert_eq!(line["error"], reason, "{shown:?}");
}

/// Asserts that the head on `conn` was answered 408, logged as
/// `head_timeout`, and its connection closed.
fn assert_head_timed_out(service: &Service, conn: &mut Client) {
    let response = conn.response();
    response.assert_problem(408);
    let id = response.header("X-Request-Id").to_owned();
    let line = service.wait_for_log(|l| l["request_id"] == id.as_str());
    assert_eq!(line["error"], "head_timeout");
    assert!(conn.is_closed_by_server());
}

#[test]
fn nothing_hides_a_content_length_or_smuggles_a_request() {
    let service = Service::start(&[]);
    let hidden = "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Request-Id: smuggled\r\n\r\n";
    let body = format!("{hidden}{}", "x".repeat(40 - hidden.len() % 40));
    // A bare LF ends a header line, as nginx reads it: the Content-Length
    // is seen, the body declared and refused, never run.
    let bare_lf = format!(
        "GET /query?param=aa HTTP/1.1\r\nHost: t\r\nX: a\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let (response, closed) = exchange(&service, bare_lf.as_bytes());
    response.assert_problem(413);
    assert!(closed);
    // A bare CR, or a NUL in a name, before the Content-Length: refused.
    assert_refused(
        &service,
        format!(
            "GET /query?param=aa HTTP/1.1\r\nHost: t\r\nX: a\rContent-Length: 40\r\n\r\n{body}"
        )
        .as_bytes(),
        400,
        "bare_cr",
    );
    assert_refused(
        &service,
        format!("GET /query?param=aa HTTP/1.1\r\nHost: t\r\nX\0Y: a\r\nContent-Length: 40\r\n\r\n{body}")
            .as_bytes(),
        400,
        "bad_header",
    );
    // The request hidden in the bodies never ran.
    let mut check = service.connect();
    check.send("GET /healthz HTTP/1.1\r\nHost: t\r\nX-Request-Id: after\r\n\r\n");
    assert_eq!(check.response().status, 200);
    service.wait_for_log(|l| l["request_id"] == "after");
    assert!(
        !service.logs().iter().any(|l| l["request_id"] == "smuggled"),
        "a body ran as a request"
    );
}

#[test]
fn heads_rfc_9112_rejects_are_rejected() {
    let service = Service::start(&[]);
    for (raw, status, reason) in [
        (&b"GET /healthz HTTP/1.1\r\n\r\n"[..], 400, "missing_host"),
        (b"GET /healthz HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400, "duplicate_host"),
        (b"GET /healthz HTTP/1.1\r\nHost: a b\r\n\r\n", 400, "bad_host"),
        (b"GET /healthz HTTP/1.1\r\nHost: t\r\nX: a\r\n folded\r\n\r\n", 400, "obs_fold"),
        (b"GET /healthz HTTP/1.1\r\nHost: t\r\n: empty\r\n\r\n", 400, "bad_header"),
        (b"GET /healthz HTTP/1.1\r\nHost: t\r\nX(Y): a\r\n\r\n", 400, "bad_header"),
        (b"GET /healthz HTTP/1.1\r\nHost: t\r\nX: a\x01b\r\n\r\n", 400, "bad_header"),
        (b"GE\x01T /healthz HTTP/1.1\r\nHost: t\r\n\r\n", 400, "bad_request_line"),
        (b"GET /health\tz HTTP/1.1\r\nHost: t\r\n\r\n", 400, "bad_request_line"),
        (b"GET /health\x01z HTTP/1.1\r\nHost: t\r\n\r\n", 400, "bad_request_line"),
        (b"GET /health\x7fz HTTP/1.1\r\nHost: t\r\n\r\n", 400, "bad_request_line"),
        (b"GET /healthz HTTP/1.1 extra\r\nHost: t\r\n\r\n", 400, "bad_request_line"),
        (b"GET /healthz\r\n\r\n", 400, "bad_request_line"),
        (b"GET /healthz HTTP/9.9\r\nHost: t\r\n\r\n", 505, "version_not_supported"),
        (b"GET /healthz HTTP/0.9\r\nHost: t\r\n\r\n", 505, "version_not_supported"),
        (b"GET /healthz HTTP/2.0\r\nHost: t\r\n\r\n", 505, "version_not_supported"),
        (b"GET /query?param=a#frag HTTP/1.1\r\nHost: t\r\n\r\n", 400, "bad_target"),
        (b"GET /query?param=\xc3\xa9 HTTP/1.1\r\nHost: t\r\n\r\n", 400, "bad_target"),
        (b"GET /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400, "bad_content_length"),
        (b"GET /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "conflicting_framing"),
        (b"GET /healthz HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n", 400, "bad_transfer_encoding"),
        (b"GET /healthz HTTP/1.1\r\nHost: t\r\nExpect: 200-ok\r\n\r\n", 417, "unsupported_expectation"),
    ] {
        assert_refused(&service, raw, status, reason);
    }
}

#[test]
fn what_rfc_9112_allows_is_answered() {
    let service = Service::start(&[]);
    for (raw, count) in [
        // Absolute form: routed by its path and query.
        (
            "GET http://service.example/query?param=aa HTTP/1.1\r\nHost: x\r\n\r\n",
            1,
        ),
        // Empty lines before the request line are ignored.
        (
            "\r\n\r\nGET /query?param=abab HTTP/1.1\r\nHost: x\r\n\r\n",
            2,
        ),
        // HTTP/1.0 needs no Host; a bare-LF head is read as nginx reads it.
        ("GET /query?param=aa HTTP/1.0\r\n\r\n", 1),
        ("GET /query?param=aa HTTP/1.1\nHost: x\n\n", 1),
    ] {
        let mut conn = service.connect();
        conn.send(raw);
        let response = conn.response();
        assert_eq!(response.status, 200, "{raw:?}");
        assert_eq!(response.json()["count"], count, "{raw:?}");
    }
}

#[test]
fn connection_tokens_count_on_every_line() {
    let service = Service::start(&[]);
    let mut conn = service.connect();
    conn.send(
        "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n",
    );
    let response = conn.response();
    assert_eq!(response.status, 200);
    assert_eq!(response.header("Connection"), "close");
    assert!(conn.is_closed_by_server());
}

#[test]
fn a_declared_body_that_never_comes_is_answered_at_once() {
    // Bodies are never read, so the answer does not wait for one. The
    // isolation work (one request at a time) had already fixed this by the
    // time this test was written; it stays as a guard.
    let service = Service::start(&[("IDLE_TIMEOUT_SECS", "3600")]);
    let mut conn = service.connect();
    conn.stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    conn.send("GET /query?param=aa HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\n");
    let response = conn.response();
    response.assert_problem(413);
    assert!(conn.is_closed_by_server());
}

#[test]
fn a_head_that_times_out_is_answered_and_logged() {
    let service = Service::start(&[("IDLE_TIMEOUT_SECS", "1")]);
    let mut conn = service.connect();
    conn.send("GET /healthz HTTP/1.1\r\nHost: t\r\n");
    assert_head_timed_out(&service, &mut conn);
}

#[test]
fn the_limits_stay_and_are_logged() {
    let service = Service::start(&[]);
    let long_line = format!("GET /{} HTTP/1.1\r\nHost: t\r\n\r\n", "a".repeat(70 * 1024));
    assert_refused(
        &service,
        long_line.as_bytes(),
        414,
        "request_line_too_large",
    );
    let big = format!(
        "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: {}\r\n\r\n",
        "c".repeat(70 * 1024)
    );
    assert_refused(&service, big.as_bytes(), 431, "head_too_large");
    let many: String = (0..101).map(|i| format!("X-H{i}: v\r\n")).collect();
    assert_refused(
        &service,
        format!("GET /healthz HTTP/1.1\r\nHost: t\r\n{many}\r\n").as_bytes(),
        431,
        "head_too_large",
    );
}

#[test]
fn a_pipelined_request_after_a_refused_head_is_never_answered() {
    let service = Service::start(&[]);
    let mut conn = Client::open(service.addr);
    conn.send("GET /healthz HTTP/1.1\r\n\r\nGET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    conn.response().assert_problem(400);
    assert!(
        conn.is_closed_by_server(),
        "the second request was answered"
    );
}

#[test]
fn a_pipelined_head_has_the_head_deadline_too() {
    // A request, and the first byte of the next in the same packet: the
    // rest of that head, a byte at a time, must still finish within the
    // head deadline (10 s), not the idle timeout per byte (production
    // defaults: 75 s).
    let service = Service::start(&[]);
    let mut conn = service.connect();
    conn.send("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\nG");
    assert_eq!(conn.response().status, 200);
    let mut writer = conn.stream.try_clone().unwrap();
    let trickle = std::thread::spawn(move || {
        use std::io::Write;
        for byte in b"ET /healthz HTTP/1.1\r\nHost: t\r\nX: "
            .iter()
            .chain([b'a'; 200].iter())
        {
            if writer.write_all(&[*byte]).is_err() {
                return; // the server answered and closed
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    });
    assert_head_timed_out(&service, &mut conn);
    trickle.join().unwrap();
}

#[test]
fn empty_lines_between_requests_are_ignored_not_timed_out() {
    // RFC 9112, 2.2: a CRLF after a request is ignored. It is no head, so
    // an idle connection holding one closes quietly, without a 408.
    let service = Service::start(&[("IDLE_TIMEOUT_SECS", "1")]);
    let mut conn = service.connect();
    conn.send("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n\r\n\r\n");
    assert_eq!(conn.response().status, 200);
    assert!(conn.is_closed_by_server(), "a 408 no one asked for");
    assert!(
        !service.logs().iter().any(|l| l["error"] == "head_timeout"),
        "{:?}",
        service.logs()
    );
    // And one before a request is skipped too.
    let mut conn = service.connect();
    conn.send("\r\n\r\nGET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(conn.response().status, 200);
}

#[test]
fn the_client_is_the_last_forwarded_hop_across_every_line() {
    // Behind one proxy (the default), the hop it appended is the client,
    // whether it appended to the client's line or added its own.
    let service = Service::start(&[]);
    for forwarded in [
        "X-Forwarded-For: 6.6.6.6, 1.2.3.4\r\n",
        "X-Forwarded-For: 6.6.6.6\r\nX-Forwarded-For: 1.2.3.4\r\n",
    ] {
        let mut conn = service.connect();
        conn.send(&format!(
            "GET /healthz HTTP/1.1\r\nHost: t\r\n{forwarded}Connection: close\r\n\r\n"
        ));
        let response = conn.response();
        let id = response.header("X-Request-Id").to_owned();
        let line = service.wait_for_log(|l| l["request_id"] == id.as_str());
        assert_eq!(line["client"], "1.2.3.4", "{forwarded:?}");
    }
}

#[test]
fn options_asterisk_is_about_the_server_which_answers_get_and_head() {
    let service = Service::start(&[]);
    let (response, _) = exchange(&service, b"OPTIONS * HTTP/1.1\r\nHost: t\r\n\r\n");
    response.assert_problem(405);
    assert_eq!(response.header("Allow"), "GET, HEAD");
}

#[test]
fn an_absolute_form_with_an_empty_path_is_routed_as_the_root() {
    // RFC 9110, 4.2.3: the path of `http://host` is "/". Before: 400.
    let service = Service::start(&[]);
    for raw in [
        &b"GET http://t HTTP/1.1\r\nHost: t\r\n\r\n"[..],
        b"GET http://t:8080?param=aa HTTP/1.1\r\nHost: t\r\n\r\n",
    ] {
        let (response, _) = exchange(&service, raw);
        let problem = response.assert_problem(404);
        assert_eq!(problem["title"], "Not Found", "{problem}");
        let id = response.header("X-Request-Id").to_owned();
        let line = service.wait_for_log(|l| l["request_id"] == id.as_str());
        assert_eq!(line["path"], "/");
    }
}

#[test]
fn the_longest_target_max_url_bytes_allows_is_answered() {
    // The documented range ends where a request head still fits, with the
    // fields a client and a load balancer add.
    let service = Service::start(&[("MAX_URL_BYTES", "61440")]);
    let prefix = "/query?param=";
    let target = format!("{prefix}{}", "a".repeat(61_440 - prefix.len()));
    let head = format!(
        "GET {target} HTTP/1.1\r\nHost: service.example.com\r\n\
         X-Forwarded-For: 203.0.113.7\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Port: 443\r\n\
         X-Amzn-Trace-Id: Root=1-67891233-abcdef012345678912345678\r\n\
         User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36\r\n\
         Accept: */*\r\nAccept-Encoding: gzip, deflate, br\r\n\r\n"
    );
    let (response, _) = exchange(&service, head.as_bytes());
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.json()["count"], 1);
    // One byte more is the configured limit's 414, not the head's.
    let longer = head.replacen("param=a", "param=aa", 1);
    let (response, _) = exchange(&service, longer.as_bytes());
    response.assert_problem(414);
    assert!(response.text().contains("61440"), "{}", response.text());
}
