//! Start, configuration, shutdown and exit codes of the real binary.

mod support;

use sre_kata::lifecycle;
use std::process::Command;
use std::time::{Duration, Instant};
use support::{Client, Service, PATIENCE};

fn run(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_sre-kata"))
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

#[test]
fn help_and_version() {
    let help = run(&["--help"], &[]);
    assert!(help.status.success());
    let text = String::from_utf8(help.stdout).unwrap();
    for var in [
        "PORT",
        "HOST",
        "WORKERS",
        "MAX_URL_BYTES",
        "IDLE_TIMEOUT_SECS",
        "WRITE_TIMEOUT_SECS",
        "MAX_CONNECTIONS",
        "SHUTDOWN_GRACE_SECS",
        "LOG_FORMAT",
        "LOG_LEVEL",
    ] {
        assert!(text.contains(var), "{var} missing from --help");
    }
    let version = run(&["--version"], &[]);
    assert!(version.status.success());
    assert_eq!(
        String::from_utf8(version.stdout).unwrap(),
        format!("sre-kata {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn unknown_arguments_exit_2_with_one_line() {
    let output = run(&["--port", "80"], &[]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("--help"), "{stderr}");
}

#[test]
fn a_bad_setting_stops_the_start_with_the_variable_named() {
    for (var, value) in [
        ("PORT", "http"),
        ("HOST", "example.com"),
        ("WORKERS", "0"),
        ("MAX_URL_BYTES", "-5"),
        ("IDLE_TIMEOUT_SECS", ""),
        ("WRITE_TIMEOUT_SECS", "0"),
        ("MAX_CONNECTIONS", "many"),
        ("SHUTDOWN_GRACE_SECS", "1h"),
        ("LOG_FORMAT", "xml"),
        ("LOG_LEVEL", "verbose"),
    ] {
        let output = run(&[], &[(var, value)]);
        assert_eq!(output.status.code(), Some(2), "{var}={value}");
        assert!(output.stdout.is_empty(), "{var}: nothing is logged");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.starts_with(&format!("sre-kata: invalid {var}=")),
            "{stderr}"
        );
        assert!(stderr.contains("expected"), "{stderr}");
    }
}

#[test]
fn a_port_in_use_fails_the_start_with_code_1() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let output = run(&[], &[("HOST", "127.0.0.1"), ("PORT", &port)]);
    assert_eq!(output.status.code(), Some(1));
    let line: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(line["event"], "startup_failed");
    assert_eq!(line["stage"], "bind");
}

#[test]
fn text_logs_are_for_people() {
    use std::io::{BufRead, BufReader};
    let mut child = Command::new(env!("CARGO_BIN_EXE_sre-kata"))
        .env_clear()
        .envs([("HOST", "127.0.0.1"), ("PORT", "0"), ("LOG_FORMAT", "text")])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let start = lines.next().unwrap().unwrap();
    let (time, rest) = start.split_once(' ').unwrap();
    assert!(humantime::parse_rfc3339(time).is_ok(), "{start}");
    assert!(rest.starts_with("INFO  start version="), "{start}");
    let addr = rest
        .split(' ')
        .find_map(|field| field.strip_prefix("addr="))
        .unwrap()
        .parse()
        .unwrap();
    let mut conn = Client::open(addr);
    conn.send("GET /query?param=a%20b HTTP/1.1\r\nHost: t\r\nX-Request-Id: r1\r\n\r\n");
    assert_eq!(conn.response().status, 200);
    let request = lines.next().unwrap().unwrap();
    assert!(
        request.contains(" INFO  request method=GET path=/query status=200 "),
        "{request}"
    );
    assert!(
        request.contains(" request_id=r1 client=127.0.0.1 param_bytes=3"),
        "{request}"
    );
    let _ = child.kill();
    let _ = child.wait();
}

/// A request on its way: a connection with half a request head. A drain
/// waits for it (the server counts heads being read), so a test can take
/// its time after a signal; [`Holder::finish`] completes the request.
struct Holder {
    conn: Client,
}

impl Holder {
    fn start(service: &Service) -> Holder {
        let mut conn = service.connect();
        conn.send("GET /query?param=held HTTP/1.1\r\n");
        Holder { conn }
    }

    /// Sends the rest of the head; the answer comes, and the drain may end.
    fn finish(mut self) {
        self.conn.send("Host: t\r\n\r\n");
        assert_eq!(self.conn.response().status, 200);
    }
}

#[test]
fn sigterm_drains_then_exits_0() {
    let mut service = Service::start(&[("SHUTDOWN_GRACE_SECS", "30")]);
    let mut open = service.connect();
    open.send("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(open.response().status, 200);
    let holder = Holder::start(&service);

    service.signal(libc::SIGTERM);
    let shutdown = service.wait_for_log(|l| l["event"] == "shutdown");
    assert_eq!(shutdown["signal"], "SIGTERM");
    assert_eq!(shutdown["grace_ms"], 30_000);

    // On a connection opened before the signal: health fails, and the
    // connection is closed after the answer.
    open.send("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    let health = open.response();
    health.assert_problem(503);
    assert_eq!(health.header("Connection"), "close");
    assert!(open.is_closed_by_server());

    // Queries are still answered, on new connections too.
    let query = service.get("/query?param=caiopa");
    assert_eq!(query.json()["count"], 1);
    assert_eq!(query.header("Connection"), "close");
    assert!(service.is_running());

    holder.finish();
    let status = service.wait_exit(PATIENCE);
    assert_eq!(status.code(), Some(0));
    let exit = service.wait_for_log(|l| l["event"] == "exit");
    assert_eq!(exit["code"], 0);
    assert_eq!(exit["drain_end"], "quiet");
    assert_eq!(exit["pending"], 0);
}

#[test]
fn a_request_in_flight_at_sigterm_is_answered() {
    let mut service = Service::start(&[("SHUTDOWN_GRACE_SECS", "30")]);
    // Half a head when the signal comes: the drain waits for the rest, with
    // nothing else to keep it busy.
    let mut conn = service.connect();
    conn.send("GET /query?param=acx333x HTTP/1.1\r\nHost: t\r\n");

    service.signal(libc::SIGTERM);
    service.wait_for_log(|l| l["event"] == "shutdown");
    // Longer than a quiet drain takes: only the half head keeps it going.
    std::thread::sleep(lifecycle::QUIET * 3);
    assert!(
        service.is_running(),
        "the drain ended on a request on its way"
    );
    conn.send("X-Request-Id: late\r\n\r\n");
    let response = conn.response();
    assert_eq!(response.status, 200);
    assert_eq!(response.json()["count"], 2);
    assert_eq!(response.header("X-Request-Id"), "late");
    assert_eq!(service.wait_exit(PATIENCE).code(), Some(0));
    assert_eq!(
        service.wait_for_log(|l| l["event"] == "exit")["drain_end"],
        "quiet"
    );
}

#[test]
fn an_idle_server_exits_at_once_on_sigint() {
    let mut service = Service::start(&[("SHUTDOWN_GRACE_SECS", "30")]);
    let started = Instant::now();
    service.signal(libc::SIGINT);
    assert_eq!(service.wait_exit(PATIENCE).code(), Some(0));
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "waited for the whole grace"
    );
    let shutdown = service.wait_for_log(|l| l["event"] == "shutdown");
    assert_eq!(shutdown["signal"], "SIGINT");
    assert_eq!(
        service.wait_for_log(|l| l["event"] == "exit")["drain_end"],
        "quiet"
    );
}

#[test]
fn a_busy_server_exits_0_when_the_grace_period_ends() {
    let mut service = Service::start(&[("SHUTDOWN_GRACE_SECS", "2")]);
    let holder = Holder::start(&service);
    service.signal(libc::SIGTERM);
    assert_eq!(service.wait_exit(PATIENCE).code(), Some(0));
    let exit = service.wait_for_log(|l| l["event"] == "exit");
    assert_eq!(exit["drain_end"], "grace_expired");
    assert_eq!(exit["level"], "warn");
    assert!(exit["drain_ms"].as_u64().unwrap() >= 2000);
    drop(holder);
}

#[test]
fn a_second_signal_cuts_the_drain_short() {
    let mut service = Service::start(&[("SHUTDOWN_GRACE_SECS", "60")]);
    let holder = Holder::start(&service);
    service.signal(libc::SIGTERM);
    service.wait_for_log(|l| l["event"] == "shutdown");
    service.signal(libc::SIGINT);
    assert_eq!(service.wait_exit(PATIENCE).code(), Some(0));
    assert_eq!(
        service.wait_for_log(|l| l["event"] == "exit")["drain_end"],
        "second_signal"
    );
    drop(holder);
}

#[test]
fn a_dead_listener_makes_the_process_exit_1() {
    let mut service = Service::start(&[]);
    assert_eq!(service.get("/healthz").status, 200);
    // Shut the listening socket down from outside, through a duplicate of
    // the service's own descriptor: its accept() then fails for good.
    let listener = support::steal_listening_socket(&service);
    // SAFETY: shuts down a socket descriptor we own.
    assert_eq!(unsafe { libc::shutdown(listener, libc::SHUT_RDWR) }, 0);

    assert_eq!(service.wait_exit(PATIENCE).code(), Some(1));
    let failure = service.wait_for_log(|l| l["event"] == "listener_failed");
    assert_eq!(failure["level"], "error");
    assert_eq!(service.wait_for_log(|l| l["event"] == "exit")["code"], 1);
}

#[test]
fn healthcheck_exits_0_for_a_healthy_server_and_1_otherwise() {
    let mut service = Service::start(&[("SHUTDOWN_GRACE_SECS", "30")]);
    let port = service.addr.port().to_string();
    let probe = |port: &str| run(&["healthcheck"], &[("HOST", "127.0.0.1"), ("PORT", port)]);

    let healthy = probe(&port);
    assert_eq!(healthy.status.code(), Some(0));
    assert_eq!(String::from_utf8(healthy.stdout).unwrap(), "healthy\n");
    let logged = service.wait_for_log(|l| l["request_id"] == "healthcheck");
    assert_eq!(logged["path"], "/healthz");

    // Draining: /healthz answers 503, so the probe fails.
    let holder = Holder::start(&service);
    service.signal(libc::SIGTERM);
    service.wait_for_log(|l| l["event"] == "shutdown");
    let draining = probe(&port);
    assert_eq!(draining.status.code(), Some(1));
    assert!(String::from_utf8(draining.stdout)
        .unwrap()
        .contains("answered 503"));
    holder.finish();
    assert_eq!(service.wait_exit(PATIENCE).code(), Some(0));

    // Nothing listening any more.
    let gone = probe(&port);
    assert_eq!(gone.status.code(), Some(1));
    assert!(String::from_utf8(gone.stdout)
        .unwrap()
        .starts_with("unhealthy: "));

    // A bad setting is unhealthy too, not a usage error.
    assert_eq!(probe("nope").status.code(), Some(1));
}
