//! A panicking handler costs one 500, not a worker, and a dead listener
//! costs no worker either: the server module runs in this process with a
//! handler that panics on demand, over real sockets.

mod support;

use sre_kata::log::{Format, Level, Logger};
use sre_kata::route::{route, Health, RequestHead};
use sre_kata::server::{self, Event, Server, Settings};
use std::sync::mpsc;
use std::time::Duration;
use support::Client;

fn listener() -> std::net::TcpListener {
    let timeout = Duration::from_secs(5);
    server::bind("127.0.0.1:0".parse().unwrap(), timeout, timeout).unwrap()
}

/// One worker: if anything killed it, nothing would answer afterwards.
const ONE_WORKER: Settings = Settings {
    workers: 1,
    max_connections: 64,
    idle_timeout: Duration::from_secs(5),
    write_timeout: Duration::from_secs(5),
    trusted_proxies: 1,
};

#[test]
fn a_panic_in_the_handler_is_a_logged_500_and_the_worker_goes_on() {
    let listener = listener();
    let (logger, logs) = Logger::memory(Format::Json, Level::Info);
    let (events, incoming) = mpsc::channel();
    let handler: Box<server::Handler> = Box::new(|head: &RequestHead<'_>, health: Health| {
        if head.target.starts_with("/boom") {
            panic!("boom on purpose");
        }
        route(head, health, 8192)
    });
    let server = Server::start(listener, ONE_WORKER, logger.clone(), handler, events).unwrap();
    let mut conn = Client::open(server.local_addr());

    for _ in 0..3 {
        conn.send("GET /boom HTTP/1.1\r\nHost: t\r\nX-Request-Id: bang\r\n\r\n");
        let response = conn.response();
        let problem = response.assert_problem(500);
        assert_eq!(problem["title"], "Internal Server Error");
        assert_eq!(response.header("X-Request-Id"), "bang");

        conn.send("GET /query?param=caiopa HTTP/1.1\r\nHost: t\r\n\r\n");
        assert_eq!(conn.response().json()["count"], 1);
    }
    // Counted before the bytes went out, so already true for the client.
    assert_eq!(server.activity().pending, 0);
    assert_eq!(server.activity().answered, 6);

    assert!(logger.sync(support::PATIENCE));
    let logs = String::from_utf8(logs.lock().unwrap().clone()).unwrap();
    let panics: Vec<serde_json::Value> = logs
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .filter(|line: &serde_json::Value| line["event"] == "handler_panic")
        .collect();
    assert_eq!(panics.len(), 3);
    assert_eq!(panics[0]["level"], "error");
    assert_eq!(panics[0]["request_id"], "bang");
    assert_eq!(panics[0]["message"], "boom on purpose");
    assert!(
        incoming.try_recv().is_err(),
        "no event: the listener is fine"
    );
}

#[test]
fn a_dead_listener_is_reported_and_the_workers_go_on_with_open_connections() {
    use std::os::fd::AsRawFd;
    let listener = listener();
    let fd = listener.as_raw_fd();
    let (logger, _) = Logger::memory(Format::Json, Level::Info);
    let (events, incoming) = mpsc::channel();
    let handler: Box<server::Handler> =
        Box::new(|head: &RequestHead<'_>, health| route(head, health, 8192));
    let server = Server::start(listener, ONE_WORKER, logger, handler, events).unwrap();
    let mut open = Client::open(server.local_addr());
    open.send("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(open.response().status, 200);

    // SAFETY: the descriptor stays open (tiny_http owns it); shutdown only
    // makes its accept() fail.
    assert_eq!(unsafe { libc::shutdown(fd, libc::SHUT_RDWR) }, 0);
    match incoming.recv_timeout(support::PATIENCE) {
        Ok(Event::ListenerFailed(_)) => {}
        other => panic!("expected ListenerFailed, got {other:?}"),
    }
    // The one worker took the report; it still answers the open connection.
    for _ in 0..3 {
        open.send("GET /query?param=caiopa HTTP/1.1\r\nHost: t\r\n\r\n");
        assert_eq!(open.response().json()["count"], 1);
    }
}

#[test]
fn a_request_queued_for_a_worker_counts_as_pending() {
    use std::sync::{Arc, Barrier};
    // The one worker holds /slow until the test lets it go.
    let gate = Arc::new(Barrier::new(2));
    let held = Arc::clone(&gate);
    let handler: Box<server::Handler> = Box::new(move |head: &RequestHead<'_>, health| {
        if head.target == "/slow" {
            held.wait();
            held.wait();
        }
        route(head, health, 8192)
    });
    let (logger, _) = Logger::memory(Format::Json, Level::Info);
    let (events, _incoming) = mpsc::channel();
    let server = Server::start(listener(), ONE_WORKER, logger, handler, events).unwrap();
    let mut slow = Client::open(server.local_addr());
    slow.send("GET /slow HTTP/1.1\r\nHost: t\r\n\r\n");
    gate.wait(); // the worker holds /slow
    let mut queued = Client::open(server.local_addr());
    queued.send("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");

    // Read and queued, with no worker free: a drain must see it.
    let deadline = std::time::Instant::now() + support::PATIENCE;
    while server.activity().pending < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "{:?}",
            server.activity()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(server.activity().pending, 2);
    gate.wait(); // let /slow go
    assert_eq!(slow.response().status, 404);
    assert_eq!(queued.response().status, 200);
    assert_eq!(server.activity().pending, 0);
    assert_eq!(server.activity().answered, 2);
}
