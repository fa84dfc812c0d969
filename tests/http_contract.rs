//! The HTTP contract, line by line, against the real binary over real sockets.

mod support;

use support::Service;

/// Headers every response carries, whatever its status.
fn assert_common_headers(response: &support::Response) {
    assert_eq!(response.header("X-Content-Type-Options"), "nosniff");
    assert!(response.header("Content-Length").parse::<usize>().is_ok());
    assert!(!response.header("X-Request-Id").is_empty());
    assert!(response.headers_named("Transfer-Encoding").is_empty());
}

#[test]
fn query_answers_the_count_as_cacheable_json() {
    let service = Service::start(&[]);
    for (param, count) in [
        ("caiopa", 1),
        ("acx333x", 2),
        ("", 0),
        ("abc", 0),
        ("aAbB", 0),
    ] {
        let response = service.get(&format!("/query?param={param}"));
        assert_eq!(response.status, 200);
        assert_eq!(response.header("Content-Type"), "application/json");
        assert_eq!(response.header("Cache-Control"), "public, max-age=86400");
        assert_eq!(response.text(), format!("{{\"count\":{count}}}"));
        assert_eq!(
            response.header("Content-Length"),
            response.body.len().to_string()
        );
        assert_common_headers(&response);
    }
}

#[test]
fn the_value_is_form_decoded_before_counting() {
    let service = Service::start(&[]);
    for (target, count) in [
        ("/query?param=a+b+", 1),         // + is a space; two spaces
        ("/query?param=%2B%2B", 1),       // %2B is a literal +
        ("/query?p%61ram=xx", 1),         // names are decoded too
        ("/query?param=%C3%A9%C3%A9", 1), // UTF-8 é twice
        ("/query?param=%F0%9F%98%80%F0%9F%98%80x", 1),
        ("/query?param=%%", 1),        // a lone % stays literal
        ("/query?x=1&&param=aa&y", 1), // other and empty pieces skipped
        ("/query?param", 0),           // no = is an empty value
        ("/query?param==", 0),         // the value is "="
        ("/query?param=%3D%3D", 1),    // the value is "=="
    ] {
        let response = service.get(target);
        assert_eq!(response.status, 200, "{target}");
        assert_eq!(response.json()["count"], count, "{target}");
    }
}

#[test]
fn param_errors_are_400_problems() {
    let service = Service::start(&[]);
    for (target, kind) in [
        ("/query", "missing-param"),
        ("/query?params=aa", "missing-param"),
        ("/query?param=a&param=b", "repeated-param"),
        ("/query?param=a&p%61ram=a", "repeated-param"),
        ("/query?param=%FF%FE", "param-not-utf8"),
        ("/query?param=%ED%A0%80", "param-not-utf8"),
    ] {
        let response = service.get(target);
        let problem = response.assert_problem(400);
        assert_eq!(
            problem["type"],
            format!("tag:sre-kata,2026:problem:{kind}"),
            "{target}"
        );
        assert_common_headers(&response);
    }
}

#[test]
fn input_is_never_reflected() {
    let service = Service::start(&[]);
    for target in [
        "/query?param=%3Cscript%3Ealert(1)%3C/script%3E&param=x",
        "/%3Cscript%3E",
        "/query?param=%3Cimg%20src=x%20onerror=alert(1)%3E%FF",
    ] {
        let response = service.get(target);
        assert!(response.status >= 400);
        assert!(
            !response.text().to_lowercase().contains("script"),
            "{}",
            response.text()
        );
        assert!(!response.text().contains("onerror"), "{}", response.text());
        assert!(!response.text().contains('<'));
    }
}

#[test]
fn a_target_longer_than_max_url_bytes_is_414() {
    let service = Service::start(&[("MAX_URL_BYTES", "100")]);
    let fits = format!("/query?param={}", "a".repeat(100 - 13));
    assert_eq!(service.get(&fits).status, 200);
    let response = service.get(&format!("{fits}a"));
    let problem = response.assert_problem(414);
    assert!(problem["detail"].as_str().unwrap().contains("100 bytes"));
    assert_common_headers(&response);
}

#[test]
fn the_default_limit_is_8192_bytes() {
    let service = Service::start(&[]);
    let fits = format!("/query?param={}", "b".repeat(8192 - 13));
    assert_eq!(service.get(&fits).json()["count"], 1);
    service.get(&format!("{fits}b")).assert_problem(414);
}

#[test]
fn unknown_paths_are_404() {
    let service = Service::start(&[]);
    for target in [
        "/",
        "/query/",
        "/QUERY?param=a",
        "/healthz/x",
        "/favicon.ico",
    ] {
        let response = service.get(target);
        response.assert_problem(404);
        assert_common_headers(&response);
    }
}

#[test]
fn other_methods_are_405_with_allow() {
    let service = Service::start(&[]);
    for method in ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "BREW"] {
        for target in ["/query?param=aa", "/healthz"] {
            let mut conn = service.connect();
            conn.send(&format!(
                "{method} {target} HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n"
            ));
            let response = conn.response();
            response.assert_problem(405);
            assert_eq!(response.header("Allow"), "GET, HEAD");
            assert_common_headers(&response);
        }
    }
}

#[test]
fn head_gets_the_get_headers_without_a_body() {
    let service = Service::start(&[]);
    for target in ["/query?param=aab", "/healthz", "/query", "/nowhere"] {
        let mut conn = service.connect();
        conn.send(&format!(
            "GET {target} HTTP/1.1\r\nHost: t\r\nX-Request-Id: same\r\n\r\n"
        ));
        let get = conn.response();
        conn.send(&format!(
            "HEAD {target} HTTP/1.1\r\nHost: t\r\nX-Request-Id: same\r\n\r\n"
        ));
        let head = conn.head_response();
        assert_eq!(head.status, get.status, "{target}");
        let without_date = |r: &support::Response| {
            r.headers
                .iter()
                .filter(|(name, _)| name != "Date")
                .cloned()
                .collect::<Vec<_>>()
        };
        assert_eq!(without_date(&head), without_date(&get), "{target}");
        // The HEAD response had no body: the next response starts right away.
        conn.send("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
        assert_eq!(conn.response().status, 200, "{target}");
    }
}

#[test]
fn healthz_is_ok_and_never_cached() {
    let service = Service::start(&[]);
    let response = service.get("/healthz");
    assert_eq!(response.status, 200);
    assert_eq!(response.header("Content-Type"), "application/json");
    assert_eq!(response.header("Cache-Control"), "no-store");
    assert_eq!(response.json(), serde_json::json!({"status": "ok"}));
    assert_common_headers(&response);
}

#[test]
fn request_ids_are_echoed_when_safe_and_generated_otherwise() {
    let service = Service::start(&[]);
    let mut conn = service.connect();
    conn.send("GET /healthz HTTP/1.1\r\nHost: t\r\nX-Request-Id: abc-123_XYZ\r\n\r\n");
    assert_eq!(conn.response().header("X-Request-Id"), "abc-123_XYZ");

    conn.send("GET /healthz HTTP/1.1\r\nHost: t\r\nx-request-id: lower-case-name\r\n\r\n");
    assert_eq!(conn.response().header("X-Request-Id"), "lower-case-name");

    let mut generated = Vec::new();
    for extra in [
        "",
        "X-Request-Id: has space\r\n",
        &format!("X-Request-Id: {}\r\n", "a".repeat(129)),
    ] {
        conn.send(&format!("GET /healthz HTTP/1.1\r\nHost: t\r\n{extra}\r\n"));
        let id = conn.response().header("X-Request-Id").to_owned();
        assert_eq!(id.len(), 32, "{id}");
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
        generated.push(id);
    }
    generated.dedup();
    assert_eq!(generated.len(), 3, "fresh ids differ");
}

#[test]
fn keep_alive_serves_many_requests_on_one_connection() {
    let service = Service::start(&[]);
    let mut conn = service.connect();
    for i in 0..50 {
        conn.send(&format!(
            "GET /query?param={} HTTP/1.1\r\nHost: t\r\n\r\n",
            "x".repeat(i)
        ));
        let response = conn.response();
        assert_eq!(response.status, 200);
        assert_eq!(response.json()["count"], u64::from(i >= 2));
        assert!(response.headers_named("Connection").is_empty());
    }
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let service = Service::start(&[]);
    let mut conn = service.connect();
    let mut batch = String::new();
    for param in ["a", "aa", "aabb", "aabbcc", "x"] {
        batch.push_str(&format!(
            "GET /query?param={param} HTTP/1.1\r\nHost: t\r\n\r\n"
        ));
    }
    batch.push_str(
        "HEAD /healthz HTTP/1.1\r\nHost: t\r\n\r\nGET /nowhere HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    conn.send(&batch);
    for count in [0, 1, 2, 3, 0] {
        assert_eq!(conn.response().json()["count"], count);
    }
    assert_eq!(conn.head_response().status, 200);
    assert_eq!(conn.response().status, 404);
}

#[test]
fn http_1_0_is_answered_then_closed() {
    let service = Service::start(&[]);
    let mut conn = service.connect();
    conn.send("GET /query?param=caiopa HTTP/1.0\r\n\r\n");
    let response = conn.response();
    assert_eq!(response.status, 200);
    assert_eq!(response.json()["count"], 1);
    assert_eq!(response.header("Connection"), "close");
    assert!(conn.is_closed_by_server());
}

#[test]
fn http_1_0_keep_alive_is_honoured() {
    let service = Service::start(&[]);
    let mut conn = service.connect();
    for _ in 0..3 {
        conn.send("GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        let response = conn.response();
        assert_eq!(response.status, 200);
        // An HTTP/1.0 client keeps the connection only if the answer says
        // so (RFC 9112, 9.3).
        assert_eq!(response.header("Connection"), "keep-alive");
    }
}

#[test]
fn connection_close_from_the_client_is_answered_and_honoured() {
    let service = Service::start(&[]);
    let mut conn = service.connect();
    conn.send("GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    let response = conn.response();
    assert_eq!(response.status, 200);
    assert_eq!(response.header("Connection"), "close");
    assert!(conn.is_closed_by_server());
}

#[test]
fn te_chunked_does_not_take_away_content_length() {
    let service = Service::start(&[]);
    let mut conn = service.connect();
    conn.send("GET /query?param=aa HTTP/1.1\r\nHost: t\r\nTE: chunked\r\n\r\n");
    let response = conn.response();
    assert_common_headers(&response);
    assert_eq!(response.json()["count"], 1);
}

#[test]
fn each_request_is_logged_without_the_param_value() {
    let service = Service::start(&[]);
    let secret = "s3cr3tv4lue";
    let mut conn = service.connect();
    conn.send(&format!(
        "GET /query?param={secret} HTTP/1.1\r\nHost: t\r\nX-Request-Id: trace-me\r\n\r\n"
    ));
    assert_eq!(conn.response().status, 200);
    let line = service.wait_for_log(|l| l["event"] == "request" && l["request_id"] == "trace-me");
    assert_eq!(line["level"], "info");
    assert_eq!(line["method"], "GET");
    assert_eq!(line["path"], "/query");
    assert_eq!(line["status"], 200);
    assert_eq!(line["bytes"], 11);
    assert_eq!(line["client"], "127.0.0.1");
    assert_eq!(line["param_bytes"], secret.len());
    assert!(line["duration_us"].is_u64());
    assert!(humantime::parse_rfc3339(line["time"].as_str().unwrap()).is_ok());
    let all_logs = serde_json::to_string(&service.logs()).unwrap();
    assert!(!all_logs.contains(secret), "the value leaked into the logs");
}

#[test]
fn the_client_in_the_log_is_the_hop_the_trusted_proxy_appended() {
    // One proxy in front by default (App Runner's, or the ALB): the hop it
    // appended is the client; what comes before, the client wrote itself.
    for (trusted, client) in [("1", "10.0.0.1"), ("2", "203.0.113.7"), ("0", "127.0.0.1")] {
        let service = Service::start(&[("TRUSTED_PROXIES", trusted)]);
        let mut conn = service.connect();
        conn.send(
            "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Request-Id: xff\r\n\
             X-Forwarded-For: 203.0.113.7, 10.0.0.1\r\n\r\n",
        );
        assert_eq!(conn.response().status, 200);
        let line = service.wait_for_log(|l| l["request_id"] == "xff");
        assert_eq!(line["client"], client, "TRUSTED_PROXIES={trusted}");
    }
}

#[test]
fn the_start_line_says_version_address_and_workers() {
    let service = Service::start(&[("WORKERS", "3")]);
    let start = service.wait_for_log(|l| l["event"] == "start");
    assert_eq!(start["level"], "info");
    assert_eq!(start["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(start["addr"], service.addr.to_string());
    assert_eq!(start["workers"], 3);
    assert!(humantime::parse_rfc3339(start["time"].as_str().unwrap()).is_ok());
}

#[test]
fn workers_are_a_fixed_pool_not_a_thread_per_request() {
    let service = Service::start(&[("WORKERS", "3")]);
    let mut conn = service.connect();
    conn.send("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    conn.response();
    let before = service.proc_status("Threads");
    for _ in 0..300 {
        conn.send("GET /query?param=abcabc HTTP/1.1\r\nHost: t\r\n\r\n");
        assert_eq!(conn.response().status, 200);
    }
    assert_eq!(service.proc_status("Threads"), before);
    // main, signals, the log writer, 3 workers, tiny_http's accept thread
    // and its pool of connection threads (4 idle minimum, plus this
    // connection's).
    assert!(before <= 3 + 3 + 1 + 5, "{before} threads");
}
