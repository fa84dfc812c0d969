//! Serving under the load production creates: a load balancer opening
//! hundreds of connections at once and keeping them alive, a backlog that
//! built up while the process could not run, more busy clients than the
//! connection cap, clients that reset after their answer, and slow heads
//! above the cap. Every accepted connection is answered; busy clients above
//! the cap wait, and are never dropped.
//!
//! Production defaults throughout (`WORKERS`, `MAX_CONNECTIONS`), except
//! where a smaller cap is the point. The bounds in seconds are the
//! contract, and far from what a working server takes: each failure they
//! catch held a request for the idle timeout (75 s) or for ever.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Barrier, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};
use support::{Service, PATIENCE};

/// One test at a time: each is a load of its own.
fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
}

const HEALTHZ: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n";

/// Reads one response to its end (its Content-Length), or fails.
fn read_response(stream: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&got[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if got.len() >= end + 4 + length {
                return Ok(got);
            }
        }
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        got.extend_from_slice(&buf[..n]);
    }
}

/// `count` clients connect at once, each sends `/healthz` and keeps its
/// connection open after the answer, as a load balancer's pool does.
/// Returns how many were answered within `within`.
fn burst_held_open(addr: SocketAddr, count: usize, within: Duration) -> usize {
    let barrier = Arc::new(Barrier::new(count));
    let done = Arc::new(Barrier::new(count + 1));
    let clients: Vec<_> = (0..count)
        .map(|_| {
            let barrier = Arc::clone(&barrier);
            let done = Arc::clone(&done);
            thread::spawn(move || {
                barrier.wait();
                let answered = TcpStream::connect(addr).ok().and_then(|mut stream| {
                    stream.set_read_timeout(Some(within)).ok()?;
                    stream.write_all(HEALTHZ).ok()?;
                    let response = read_response(&mut stream).ok()?;
                    Some((stream, response.starts_with(b"HTTP/1.1 200")))
                });
                // Held open until every client is done.
                done.wait();
                answered.is_some_and(|(_, ok)| ok)
            })
        })
        .collect();
    done.wait();
    clients
        .into_iter()
        .map(|c| c.join().unwrap())
        .filter(|ok| *ok)
        .count()
}

#[test]
fn a_burst_of_connections_held_open_is_answered_at_once() {
    let _serial = serial();
    support::raise_own_file_limit();
    let service = Service::start(&[]);
    // A load balancer's pool: 300 at once, each kept after its answer.
    let answered = burst_held_open(service.addr, 300, Duration::from_secs(5));
    assert_eq!(answered, 300, "{answered} of 300 answered within 5 s");
}

#[test]
fn a_backlog_built_while_the_process_was_stopped_is_all_answered() {
    let _serial = serial();
    support::raise_own_file_limit();
    let service = Service::start(&[]);
    // The process cannot run (SIGSTOP: a long GC pause elsewhere, a
    // throttled container); clients keep connecting and sending.
    service.signal(libc::SIGSTOP);
    let mut clients: Vec<TcpStream> = (0..200)
        .map(|_| {
            let mut stream = TcpStream::connect(service.addr).unwrap();
            stream.write_all(HEALTHZ).unwrap();
            stream
        })
        .collect();
    service.signal(libc::SIGCONT);
    // Each answered within 10 s of the resume, and each kept open, so none
    // frees a thread for another.
    let started = Instant::now();
    let deadline = started + Duration::from_secs(10);
    let answered = clients
        .iter_mut()
        .map(|stream| {
            let left = deadline.saturating_duration_since(Instant::now());
            stream
                .set_read_timeout(Some(left.max(Duration::from_millis(1))))
                .unwrap();
            read_response(stream).is_ok_and(|r| r.starts_with(b"HTTP/1.1 200"))
        })
        .filter(|ok| *ok)
        .count();
    assert_eq!(
        answered,
        200,
        "{answered} of 200 answered in {:?}",
        started.elapsed()
    );
    assert!(started.elapsed() < PATIENCE);
}
