//! Isolation: no client holds up another, and the process stays within its
//! memory bound, with the binary's production defaults (no `WORKERS`,
//! `MAX_CONNECTIONS` or timeout set: a test with one worker can hide what
//! the default pool does).
//!
//! Two bounds here are times, because they are the contract itself: a
//! polite client's p99 under 100 ms while others attack, and a fresh client
//! answered within a second of a flood. Unloaded, the first measures about
//! 2 ms and the second about 0.2 s; the failures they catch took 15 s to
//! 75 s. The tests run one at a time (each loads the machine on its own).

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};
use support::{Client, Service, PATIENCE};

/// The documented bound on the process's memory (docs/operations.md).
const RSS_BOUND_KIB: u64 = 64 * 1024;

/// One test at a time: each is a load of its own.
fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A connection whose receive buffer is 4 KiB from the start (set before
/// `connect`, so the window it offers stays small): the server's answers
/// back up after a few dozen.
fn small_window(addr: std::net::SocketAddr) -> Option<TcpStream> {
    use std::os::fd::FromRawFd;
    let std::net::SocketAddr::V4(v4) = addr else {
        panic!("the service listens on 127.0.0.1")
    };
    let size: libc::c_int = 4096;
    let sockaddr = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: v4.port().to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(*v4.ip()).to_be(),
        },
        sin_zero: [0; 8],
    };
    // SAFETY: a new socket, options and an address from live values of the
    // sizes given; the descriptor goes to one TcpStream, which closes it.
    let stream = unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
        let stream = TcpStream::from_raw_fd(fd);
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            std::ptr::from_ref(&size).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
        let connected = libc::connect(
            fd,
            std::ptr::from_ref(&sockaddr).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        );
        if connected != 0 {
            return None;
        }
        stream
    };
    stream.set_write_timeout(Some(BLOCKED)).ok()?;
    Some(stream)
}

/// The 99th percentile of `samples`.
fn p99(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[(samples.len() * 99).div_ceil(100) - 1]
}

/// How long an attacker's write must block to show that the server has
/// stopped reading from it: its answers fill the socket buffers (about
/// 2.7 MB on loopback), and before the fix, workers were stuck writing them.
const BLOCKED: Duration = Duration::from_secs(2);

#[test]
fn clients_that_pipeline_and_never_read_hold_up_nobody() {
    let _serial = serial();
    let mut service = Service::start(&[]);
    let workers = service.wait_for_log(|l| l["event"] == "start")["workers"]
        .as_u64()
        .unwrap() as usize;
    let addr = service.addr;
    let stop = Arc::new(AtomicBool::new(false));
    let saturated = Arc::new(AtomicU64::new(0));
    // Twice as many attackers as workers: before the fix, each one whose
    // answers filled the socket buffers pinned a worker in a blocked write,
    // and after a few the pool was gone.
    let attackers: Vec<_> = (0..2 * workers)
        .map(|_| {
            let stop = Arc::clone(&stop);
            let saturated = Arc::clone(&saturated);
            thread::spawn(move || {
                let batch = "GET /query?param=abcabc HTTP/1.1\r\nHost: t\r\n\r\n".repeat(500);
                let mut counted = false;
                // Held open, as a hostile client would.
                let mut held = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let Some(mut stream) = small_window(addr) else {
                        continue;
                    };
                    // Pipelines and never reads, until the server stops
                    // reading or ends the connection; then comes back.
                    while !stop.load(Ordering::Relaxed)
                        && stream.write_all(batch.as_bytes()).is_ok()
                    {}
                    if !counted {
                        counted = true;
                        saturated.fetch_add(1, Ordering::SeqCst);
                    }
                    held.push(stream);
                }
            })
        })
        .collect();

    // Measure once the server has stopped reading from every attacker.
    let deadline = Instant::now() + PATIENCE;
    while saturated.load(Ordering::SeqCst) < 2 * workers as u64 {
        assert!(Instant::now() < deadline, "the attackers never got going");
        thread::sleep(Duration::from_millis(10));
    }
    let started = Instant::now();
    let mut latencies = Vec::new();
    while started.elapsed() < Duration::from_secs(10) {
        let asked = Instant::now();
        let mut conn = Client::open(addr);
        conn.send("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
        assert_eq!(conn.response().status, 200);
        latencies.push(asked.elapsed());
        thread::sleep(Duration::from_millis(10));
    }
    stop.store(true, Ordering::Relaxed);
    for attacker in attackers {
        attacker.join().unwrap();
    }
    let p99 = p99(latencies);
    assert!(
        p99 < Duration::from_millis(100),
        "/healthz p99 was {p99:?} while clients pipelined without reading"
    );
    assert!(service.is_running());
}

#[test]
fn a_flood_of_idle_connections_cannot_lock_new_clients_out() {
    let _serial = serial();
    let own_limit = support::raise_own_file_limit();
    let mut service = Service::start(&[]);
    let cap = service.wait_for_log(|l| l["event"] == "start")["max_connections"]
        .as_u64()
        .unwrap() as usize;
    assert!(
        own_limit as usize > 3 * cap + 100,
        "this test needs {} sockets",
        3 * cap
    );
    let base_fds = service.open_fds();

    // Three times the cap, all idle: those past the cap wait in the
    // backlog, and each one let in sheds the longest-idle open one.
    let flood: Vec<TcpStream> = (0..3 * cap)
        .map(|_| TcpStream::connect(service.addr).unwrap())
        .collect();

    let asked = Instant::now();
    let mut conn = Client::open(service.addr);
    conn.send("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(conn.response().status, 200);
    // Answered at all: the client's reads give up at PATIENCE, and before,
    // a fresh client waited for an idle connection's timeout (75 s).
    let waited = asked.elapsed();
    assert!(
        waited < PATIENCE,
        "a fresh client waited {waited:?} behind {} idle connections",
        3 * cap
    );

    let fds = service.open_fds();
    assert!(
        fds <= base_fds + cap + 1,
        "{fds} descriptors open: more connections than the cap of {cap}"
    );
    let rss = service.proc_status("VmRSS");
    assert!(
        rss < RSS_BOUND_KIB,
        "RSS {rss} KiB with {} connections offered",
        3 * cap
    );
    let overload = service.wait_for_log(|l| l["event"] == "overload");
    assert_eq!(overload["state"], "start");
    assert_eq!(overload["max_connections"], cap as u64);
    drop(flood);
    assert!(service.is_running());
}

#[test]
fn sigterm_under_load_loses_nothing() {
    let _serial = serial();
    let mut service = Service::start(&[]);
    let addr = service.addr;
    let received = Arc::new(AtomicU64::new(0));
    let clients: Vec<_> = (0..16)
        .map(|i| {
            let received = Arc::clone(&received);
            thread::spawn(move || {
                // One request at a time on a keep-alive connection, until
                // the draining server says it is closing.
                let mut answered = 0u64;
                let mut conn = Client::open(addr);
                loop {
                    let request =
                        format!("GET /query?param=c{i}x{answered} HTTP/1.1\r\nHost: t\r\n\r\n");
                    let response = conn
                        .try_exchange(&request)
                        .expect("an answer to every request");
                    assert_eq!(response.status, 200);
                    answered += 1;
                    received.fetch_add(1, Ordering::SeqCst);
                    if response.headers_named("Connection") == ["close"] {
                        break;
                    }
                }
                answered
            })
        })
        .collect();
    while received.load(Ordering::SeqCst) < 2000 {
        thread::sleep(Duration::from_millis(5));
    }
    service.signal(libc::SIGTERM);
    let answered: u64 = clients.into_iter().map(|c| c.join().unwrap()).sum();
    assert_eq!(service.wait_exit(PATIENCE).code(), Some(0));

    let exit = service.wait_for_log(|l| l["event"] == "exit");
    let logs = service.logs();
    let requests = logs.iter().filter(|l| l["event"] == "request").count() as u64;
    assert_eq!(exit["drain_end"], "quiet");
    assert_eq!(exit["pending"], 0);
    assert_eq!(exit["answered"], answered, "every answer counted");
    assert_eq!(requests, answered, "every answer logged");
    assert_eq!(
        logs.last().unwrap()["event"],
        "exit",
        "the exit line is last"
    );
}

#[test]
fn a_stuck_stdout_does_not_stop_the_service() {
    let _serial = serial();
    let mut child = Command::new(env!("CARGO_BIN_EXE_sre-kata"))
        .env_clear()
        .envs([("HOST", "127.0.0.1"), ("PORT", "0"), ("LOG_FORMAT", "json")])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    // Read up to the start line, then stop reading: the pipe (64 KiB)
    // fills, and stays full.
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\n") {
        stdout.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    let start: serde_json::Value = serde_json::from_slice(&head).unwrap();
    let addr: std::net::SocketAddr = start["addr"].as_str().unwrap().parse().unwrap();

    // Far more log than the pipe and the log queue (1 MiB) hold.
    let mut conn = Client::open(addr);
    let padding = "p".repeat(200);
    for i in 0..8000 {
        conn.send(&format!(
            "GET /query?param={i} HTTP/1.1\r\nHost: t\r\nX-Request-Id: {padding}\r\n\r\n"
        ));
        assert_eq!(conn.response().status, 200);
    }
    let mut fresh = Client::open(addr);
    fresh.send("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(fresh.response().status, 200);

    // Still stuck when the drain ends and the exit line is queued (the queue
    // is full by then); unstuck within the 2 s the process gives its log.
    // SAFETY: kill only sends a signal to our own child.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    thread::sleep(sre_kata::lifecycle::QUIET * 2);
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert!(child.wait().unwrap().success());
    let lines: Vec<serde_json::Value> = rest
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let dropped: u64 = lines
        .iter()
        .filter(|l| l["event"] == "log_dropped")
        .map(|l| l["lines"].as_u64().unwrap())
        .sum();
    assert!(dropped > 0, "the log queue is bounded");
    assert_eq!(lines.last().unwrap()["event"], "exit");
}

/// Parses `bytes` as back-to-back HTTP responses with `Content-Length`, and
/// returns how many there are; panics if the last one is cut short.
fn complete_responses(bytes: &[u8]) -> usize {
    let mut rest = bytes;
    let mut count = 0;
    while !rest.is_empty() {
        let head_end = rest
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap_or_else(|| panic!("a response head cut short after {count} responses"));
        let head = std::str::from_utf8(&rest[..head_end]).unwrap();
        assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .unwrap()
            .parse()
            .unwrap();
        let end = head_end + 4 + length;
        assert!(
            end <= rest.len(),
            "a body cut short after {count} responses"
        );
        rest = &rest[end..];
        count += 1;
    }
    count
}

#[test]
fn a_slow_reader_gets_every_answer_it_was_sent() {
    let _serial = serial();
    let service = Service::start(&[]);
    let mut stream = small_window(service.addr).unwrap();
    // Pipelines far more than the socket buffers hold, and does not read,
    // until the server stops reading from it.
    let batch = "GET /query?param=abcabc HTTP/1.1\r\nHost: t\r\n\r\n".repeat(500);
    while stream.write_all(batch.as_bytes()).is_ok() {}
    // Reads only now, well within WRITE_TIMEOUT_SECS (10 s): every answer
    // sent must arrive whole, not cut off by a reset.
    thread::sleep(Duration::from_secs(3));
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut answers = Vec::new();
    stream
        .read_to_end(&mut answers)
        .expect("the connection ends cleanly, not with a reset");
    let count = complete_responses(&answers);
    assert!(count > 100, "only {count} answers");
}

#[test]
fn at_the_cap_nobody_is_shed_while_nobody_waits() {
    let _serial = serial();
    let service = Service::start(&[("MAX_CONNECTIONS", "2")]);
    let mut first = Client::open(service.addr);
    let mut second = Client::open(service.addr);
    for conn in [&mut first, &mut second] {
        conn.send("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
        assert_eq!(conn.response().status, 200);
    }
    // Longer than a full server takes to shed when someone waits (a few
    // milliseconds), shorter than the 1 s idle allowed in overload (a full
    // server is overloaded): here nobody waits, so nobody goes.
    thread::sleep(Duration::from_millis(300));
    for conn in [&mut first, &mut second] {
        conn.send("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
        assert_eq!(conn.response().status, 200, "a connection was shed");
    }
    // A third client is let in, and the one idle longest makes room.
    let mut third = Client::open(service.addr);
    third.send("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(third.response().status, 200);
    assert!(first.is_closed_by_server());
}
