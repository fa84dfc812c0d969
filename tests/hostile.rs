//! Hostile clients: whatever a client sends, the process neither dies nor
//! stops serving others. Each test attacks the real binary, then checks that
//! a well-behaved client is still answered.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};
use support::{Service, PATIENCE};

/// The service is alive and answers a fresh, polite client.
fn assert_still_serving(service: &mut Service) {
    assert!(service.is_running(), "the process died");
    assert_eq!(service.get("/query?param=caiopa").json()["count"], 1);
}

#[test]
fn a_huge_content_length_without_a_body_is_413_and_costs_nothing() {
    let mut service = Service::start(&[]);
    // A malformed length is a malformed request (RFC 9112): 400.
    for length in ["-1", "1e9", "5, 6"] {
        let mut conn = service.connect();
        conn.send(&format!(
            "GET /query?param=aa HTTP/1.1\r\nHost: t\r\nContent-Length: {length}\r\n\r\n"
        ));
        let response = conn.response();
        response.assert_problem(400);
        assert!(conn.is_closed_by_server(), "{length}");
    }
    for length in [
        "100000000000",
        "18446744073709551615",
        "99999999999999999999999",
    ] {
        let mut conn = service.connect();
        conn.send(&format!(
            "GET /query?param=aa HTTP/1.1\r\nHost: t\r\nContent-Length: {length}\r\n\r\n"
        ));
        let response = conn.response();
        response.assert_problem(413);
        assert_eq!(response.header("Connection"), "close", "{length}");
        assert!(conn.is_closed_by_server(), "{length}");
    }
    assert_still_serving(&mut service);
    assert!(
        service.proc_status("VmRSS") < 64 * 1024,
        "RSS grew to {} kB",
        service.proc_status("VmRSS")
    );
}

#[test]
fn a_chunked_body_is_413_and_nothing_in_it_is_served() {
    let mut service = Service::start(&[]);
    let mut conn = service.connect();
    // The chunk carries a second request; it must never be answered.
    let smuggled = "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n";
    conn.send(&format!(
        "GET /query?param=aa HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n\
         {:x}\r\n{smuggled}\r\n0\r\n\r\n",
        smuggled.len()
    ));
    let response = conn.response();
    response.assert_problem(413);
    assert_eq!(response.header("Connection"), "close");
    assert!(
        conn.is_closed_by_server(),
        "the smuggled request got an answer"
    );
    assert_still_serving(&mut service);
}

#[test]
fn a_small_body_that_arrives_is_413_and_the_connection_closes() {
    let mut service = Service::start(&[]);
    for method in ["GET", "POST"] {
        let mut conn = service.connect();
        conn.send(&format!(
            "{method} /query?param=aa HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello"
        ));
        let response = conn.response();
        assert!(response.status == 413 || response.status == 405, "{method}");
        assert_eq!(response.header("Connection"), "close");
        assert!(conn.is_closed_by_server());
    }
    assert_still_serving(&mut service);
}

#[test]
fn an_endless_request_line_is_414_after_64_kib() {
    let mut service = Service::start(&[]);
    let mut conn = service.connect();
    // Far more than the limit: the server must stop reading long before.
    let chunk = "a".repeat(64 * 1024);
    conn.send("GET /query?param=");
    let mut written = 0;
    while written < 64 * 1024 * 1024 {
        if conn.stream.write_all(chunk.as_bytes()).is_err() {
            break;
        }
        written += chunk.len();
    }
    assert!(
        written < 64 * 1024 * 1024,
        "the server read 64 MiB of request line"
    );
    assert_still_serving(&mut service);
    assert!(service.proc_status("VmRSS") < 64 * 1024);

    let mut conn = service.connect();
    conn.send(&format!("GET /{} HTTP/1.1\r\n\r\n", "b".repeat(70 * 1024)));
    let response = conn.response();
    response.assert_problem(414);
    assert_eq!(response.header("Connection"), "close");
}

#[test]
fn oversized_or_too_many_headers_are_431() {
    let mut service = Service::start(&[]);
    let mut conn = service.connect();
    conn.send(&format!(
        "GET /healthz HTTP/1.1\r\nX-Big: {}\r\n\r\n",
        "c".repeat(70 * 1024)
    ));
    conn.response().assert_problem(431);
    assert!(conn.is_closed_by_server());

    let mut conn = service.connect();
    let many: String = (0..101).map(|i| format!("X-H{i}: v\r\n")).collect();
    conn.send(&format!("GET /healthz HTTP/1.1\r\n{many}\r\n"));
    conn.response().assert_problem(431);

    let mut conn = service.connect();
    let enough: String = (0..99).map(|i| format!("X-H{i}: v\r\n")).collect();
    conn.send(&format!("GET /healthz HTTP/1.1\r\nHost: t\r\n{enough}\r\n"));
    assert_eq!(conn.response().status, 200, "100 headers are fine");
    assert_still_serving(&mut service);
}

#[test]
fn malformed_requests_get_problems_not_silence() {
    let mut service = Service::start(&[]);
    for (raw, status) in [
        ("HELLO\r\n\r\n", 400),
        ("GET /healthz\r\n\r\n", 400),
        ("GET /healthz HTTP/1.1\r\nno colon here\r\n\r\n", 400),
        ("GET /query?param=\u{e9} HTTP/1.1\r\n\r\n", 400),
        ("GET /healthz HTTP/1.1\r\nX-Name: \u{e9}\r\n\r\n", 400),
        ("GET /healthz HTTP/1.1\r\nExpect: 200-ok\r\n\r\n", 417),
    ] {
        let mut conn = service.connect();
        conn.send(raw);
        let response = conn.response();
        assert_eq!(response.status, status, "{raw:?}");
        assert_eq!(response.header("Content-Type"), "application/problem+json");
        assert_eq!(response.json()["status"], status);
        assert!(conn.is_closed_by_server(), "{raw:?}");
    }
    let mut conn = service.connect();
    conn.send("GET /healthz HTTP/2.0\r\n\r\n");
    assert_eq!(conn.response().json()["status"], 505);
    assert_still_serving(&mut service);
}

#[test]
fn idle_connections_are_closed_quietly_after_the_idle_timeout() {
    let mut service = Service::start(&[("IDLE_TIMEOUT_SECS", "1")]);
    let mut silent = service.connect();
    let mut kept_alive = service.connect();
    kept_alive.send("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(kept_alive.response().status, 200);

    let started = Instant::now();
    // No bytes at all, not even a 408: an idle close is not an error.
    assert!(silent.is_closed_by_server());
    assert!(kept_alive.is_closed_by_server());
    assert!(started.elapsed() < PATIENCE);
    assert_still_serving(&mut service);
}

#[test]
fn a_request_head_that_stalls_gets_408() {
    let mut service = Service::start(&[("IDLE_TIMEOUT_SECS", "1")]);
    let mut conn = service.connect();
    conn.send("GET /healthz HTTP/1.1\r\nHost: t\r\n");
    let response = conn.response();
    response.assert_problem(408);
    assert_eq!(response.header("Connection"), "close");
    assert!(conn.is_closed_by_server());
    assert_still_serving(&mut service);
}

#[test]
fn a_low_descriptor_limit_lowers_the_cap_and_a_flood_waits_its_turn() {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sre-kata"));
    command
        .env_clear()
        .env("HOST", "127.0.0.1")
        .env("PORT", "0")
        .env("LOG_FORMAT", "json");
    // SAFETY: setrlimit is async-signal-safe, as pre_exec requires.
    unsafe {
        command.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: 40,
                rlim_max: 40,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut service = Service::spawn(command);
    // 40 descriptors, 32 kept for the rest: 8 connections, one each.
    let start = service.wait_for_log(|l| l["event"] == "start");
    assert_eq!(start["max_connections"], 8);
    let base = service.open_fds();

    // Far more than the cap, all idle: they wait in the backlog, and the
    // longest-idle open ones make room; descriptors stay within the cap.
    let flood: Vec<TcpStream> = (0..60)
        .map(|_| TcpStream::connect(service.addr).unwrap())
        .collect();
    assert_eq!(service.get("/healthz").status, 200, "a fresh client");
    assert!(
        service.open_fds() <= base + 8,
        "{} descriptors, {base} before the flood",
        service.open_fds()
    );
    drop(flood);
    assert_still_serving(&mut service);
}

#[test]
fn closed_connections_give_their_threads_and_descriptors_back() {
    let mut service = Service::start(&[]);
    assert_eq!(service.get("/healthz").status, 200);
    let fds_before = service.open_fds();
    let conns: Vec<_> = (0..50)
        .map(|_| {
            let mut conn = service.connect();
            conn.send("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
            conn.response();
            conn
        })
        .collect();
    // One descriptor each (the first client's may have closed meanwhile).
    assert!(service.open_fds() >= fds_before + 49);
    drop(conns);
    let deadline = Instant::now() + PATIENCE;
    while service.open_fds() > fds_before && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(50));
    }
    assert!(service.open_fds() <= fds_before, "descriptors leaked");
    assert_still_serving(&mut service);
}

#[test]
fn garbage_bytes_on_many_connections_do_not_hurt() {
    let mut service = Service::start(&[]);
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let mut random_bytes = |n: usize| -> Vec<u8> {
        (0..n)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect()
    };
    let attackers: Vec<_> = (0..40)
        .map(|i| {
            let mut junk = random_bytes(64 + i * 97);
            if i % 2 == 0 {
                // Half of them look like a request head at first.
                junk.splice(0..0, b"GET /query?param=".iter().copied());
            }
            let addr = service.addr;
            thread::spawn(move || {
                let mut stream = TcpStream::connect(addr).unwrap();
                stream.set_read_timeout(Some(PATIENCE)).unwrap();
                let _ = stream.write_all(&junk);
                let _ = stream.shutdown(std::net::Shutdown::Write);
                let mut answer = Vec::new();
                let _ = stream.read_to_end(&mut answer);
                answer
            })
        })
        .collect();
    for attacker in attackers {
        let answer = attacker.join().unwrap();
        // Either silence (the bytes ended before a request did) or an error.
        if !answer.is_empty() {
            let text = String::from_utf8_lossy(&answer);
            assert!(text.starts_with("HTTP/1.1 4"), "{text}");
        }
    }
    assert_still_serving(&mut service);
}
