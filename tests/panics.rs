//! A panicking handler costs one 500, not a worker: the server module runs
//! in this process with a handler that panics on demand, over real sockets.

mod support;

use sre_kata::log::{Format, Level, Logger};
use sre_kata::route::{route, Health, RequestHead};
use sre_kata::server::{self, Event, Server};
use std::sync::mpsc;
use std::time::Duration;
use support::Conn;

#[test]
fn a_panic_in_the_handler_is_a_logged_500_and_the_worker_goes_on() {
    let listener = server::bind("127.0.0.1:0".parse().unwrap(), Duration::from_secs(5)).unwrap();
    let (logger, logs) = Logger::memory(Format::Json, Level::Info);
    let (events, incoming) = mpsc::channel();
    let handler: Box<server::Handler> = Box::new(|head: &RequestHead<'_>, health: Health| {
        if head.target.starts_with("/boom") {
            panic!("boom on purpose");
        }
        route(head, health, 8192)
    });
    // One worker: if the panic killed it, nothing would answer afterwards.
    let server = Server::start(listener, 1, logger, handler, events).unwrap();
    let mut conn = Conn::open(server.local_addr());

    for _ in 0..3 {
        conn.send("GET /boom HTTP/1.1\r\nHost: t\r\nX-Request-Id: bang\r\n\r\n");
        let response = conn.response();
        let problem = response.assert_problem(500);
        assert_eq!(problem["title"], "Internal Server Error");
        assert_eq!(response.header("X-Request-Id"), "bang");

        conn.send("GET /query?param=caiopa HTTP/1.1\r\nHost: t\r\n\r\n");
        assert_eq!(conn.response().json()["count"], 1);
    }
    assert_eq!(server.activity().in_flight, 0);
    assert_eq!(server.activity().answered, 6);

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
fn a_dead_listener_is_reported_as_an_event() {
    use std::os::fd::AsRawFd;
    let listener = server::bind("127.0.0.1:0".parse().unwrap(), Duration::from_secs(5)).unwrap();
    let fd = listener.as_raw_fd();
    let (logger, _) = Logger::memory(Format::Json, Level::Info);
    let (events, incoming) = mpsc::channel();
    let handler: Box<server::Handler> =
        Box::new(|head: &RequestHead<'_>, health| route(head, health, 8192));
    let server = Server::start(listener, 2, logger, handler, events).unwrap();
    assert_eq!(
        Conn::open(server.local_addr())
            .try_exchange("GET /healthz HTTP/1.1\r\n\r\n")
            .unwrap()
            .status,
        200
    );

    // SAFETY: the descriptor stays open (tiny_http owns it); shutdown only
    // makes its accept() fail.
    assert_eq!(unsafe { libc::shutdown(fd, libc::SHUT_RDWR) }, 0);
    match incoming.recv_timeout(support::PATIENCE) {
        Ok(Event::ListenerFailed(_)) => {}
        other => panic!("expected ListenerFailed, got {other:?}"),
    }
}
