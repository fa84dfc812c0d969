//! Runs the real binary on an ephemeral port and speaks raw HTTP/1.1 to it.
//!
//! Each integration test file includes this module; not every file uses
//! every helper.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// Longest wait for anything the service should do promptly. Generous, so
/// that a loaded CI machine does not fail tests; never a performance bound.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// The binary under test, running.
pub struct Service {
    child: Child,
    pub addr: SocketAddr,
    logs: Arc<(Mutex<Vec<String>>, Condvar)>,
    stderr: Arc<Mutex<String>>,
}

impl Service {
    /// Starts the service on 127.0.0.1 and a free port, with JSON logs and
    /// `env` on top, and waits for its `start` log line.
    pub fn start(env: &[(&str, &str)]) -> Service {
        let mut command = Command::new(env!("CARGO_BIN_EXE_sre-kata"));
        command
            .env_clear()
            .env("HOST", "127.0.0.1")
            .env("PORT", "0")
            .env("LOG_FORMAT", "json")
            .envs(env.iter().copied());
        Self::spawn(command)
    }

    /// Starts a prepared command; it must not set stdio.
    pub fn spawn(mut command: Command) -> Service {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary starts");
        let logs = Arc::new((Mutex::new(Vec::new()), Condvar::new()));
        let stdout = child.stdout.take().expect("stdout is piped");
        let sink = Arc::clone(&logs);
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let (lines, changed) = &*sink;
                lines.lock().unwrap().push(line);
                changed.notify_all();
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut child_stderr = child.stderr.take().expect("stderr is piped");
        let stderr_sink = Arc::clone(&stderr);
        thread::spawn(move || {
            let mut text = String::new();
            let _ = child_stderr.read_to_string(&mut text);
            stderr_sink.lock().unwrap().push_str(&text);
        });
        let mut service = Service {
            child,
            addr: "127.0.0.1:0".parse().unwrap(),
            logs,
            stderr,
        };
        let start = service.wait_for_log(|line| line["event"] == "start");
        service.addr = start["addr"].as_str().unwrap().parse().unwrap();
        service
    }

    /// The process id.
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Every log line so far, parsed; panics on a line that is not JSON.
    pub fn logs(&self) -> Vec<serde_json::Value> {
        let (lines, _) = &*self.logs;
        lines
            .lock()
            .unwrap()
            .iter()
            .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
            .collect()
    }

    /// Waits for a log line matching `pred` and returns it.
    pub fn wait_for_log(&self, pred: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
        let deadline = Instant::now() + PATIENCE;
        let (lines, changed) = &*self.logs;
        let mut guard = lines.lock().unwrap();
        loop {
            if let Some(found) = guard
                .iter()
                .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
                .find(|line| pred(line))
            {
                return found;
            }
            let now = Instant::now();
            assert!(
                now < deadline,
                "no matching log line; logs: {guard:#?}; stderr: {}",
                self.stderr.lock().unwrap()
            );
            guard = changed.wait_timeout(guard, deadline - now).unwrap().0;
        }
    }

    /// Opens a connection with read and write timeouts of [`PATIENCE`].
    pub fn connect(&self) -> Client {
        Client::open(self.addr)
    }

    /// Waits until a fresh connection gets an answer to `/healthz`: after a
    /// pause the server recovers from (a descriptor flood, say), a new
    /// client may be refused until the server has noticed the old ones go.
    pub fn serves_again(&self) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let answered = Client::try_open(self.addr)
                .and_then(|mut conn| {
                    conn.try_exchange("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
                        .ok()
                })
                .is_some_and(|response| response.status == 200);
            if answered {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the server did not recover within {PATIENCE:?}"
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends one GET on a fresh connection and reads the response.
    pub fn get(&self, target: &str) -> Response {
        let mut conn = self.connect();
        conn.send(&format!("GET {target} HTTP/1.1\r\nHost: test\r\n\r\n"));
        conn.response()
    }

    /// Sends a signal to the process.
    pub fn signal(&self, signal: i32) {
        // SAFETY: kill only sends a signal to our own child.
        assert_eq!(unsafe { libc::kill(self.pid(), signal) }, 0);
    }

    /// Waits for the process to exit, up to `limit`; panics if it does not.
    pub fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "still running after {limit:?}");
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// True while the process runs.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// A line of /proc/PID/status, such as `Threads` or `VmRSS`, as a number.
    pub fn proc_status(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        status
            .lines()
            .find_map(|line| line.strip_prefix(&format!("{field}:")))
            .and_then(|value| value.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no {field} in /proc status"))
    }

    /// Open file descriptors of the process.
    pub fn open_fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid()))
            .unwrap()
            .count()
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One client connection.
pub struct Client {
    pub stream: TcpStream,
    reader: BufReader<TcpStream>,
}

/// A parsed response.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The value of the only header called `name`; panics if absent or repeated.
    pub fn header(&self, name: &str) -> &str {
        let values: Vec<&str> = self.headers_named(name);
        assert_eq!(values.len(), 1, "header {name} in {:?}", self.headers);
        values[0]
    }

    /// Every value of headers called `name`.
    pub fn headers_named(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The body as text.
    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap()
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.text()))
    }

    /// Asserts an RFC 9457 problem with this status and returns its body.
    pub fn assert_problem(&self, status: u16) -> serde_json::Value {
        assert_eq!(self.status, status, "{}", self.text());
        assert_eq!(self.header("Content-Type"), "application/problem+json");
        assert_eq!(self.header("Cache-Control"), "no-store");
        assert_eq!(self.header("X-Content-Type-Options"), "nosniff");
        let body = self.json();
        assert_eq!(body["status"], status);
        for field in ["type", "title", "detail"] {
            assert!(body[field].is_string(), "{field} in {body}");
        }
        body
    }
}

impl Client {
    /// Opens a connection with read and write timeouts of [`PATIENCE`].
    pub fn open(addr: SocketAddr) -> Client {
        Client::try_open(addr).expect("connects")
    }

    /// Like [`Client::open`], but `None` if nothing listens.
    pub fn try_open(addr: SocketAddr) -> Option<Client> {
        let stream = TcpStream::connect(addr).ok()?;
        stream.set_read_timeout(Some(PATIENCE)).ok()?;
        stream.set_write_timeout(Some(PATIENCE)).ok()?;
        Some(Client {
            reader: BufReader::new(stream.try_clone().ok()?),
            stream,
        })
    }

    /// The server's address.
    pub fn peer(&self) -> SocketAddr {
        self.stream.peer_addr().unwrap()
    }

    /// Writes raw bytes.
    pub fn send(&mut self, raw: &str) {
        self.send_bytes(raw.as_bytes());
    }

    /// Writes raw bytes.
    pub fn send_bytes(&mut self, raw: &[u8]) {
        self.stream.write_all(raw).expect("request written");
    }

    /// Reads one response to a request that was not HEAD.
    pub fn response(&mut self) -> Response {
        self.try_response(true).expect("a response")
    }

    /// Reads one response to a HEAD request: headers only.
    pub fn head_response(&mut self) -> Response {
        self.try_response(false).expect("a response")
    }

    /// Sends a request and reads its response, or says why it could not.
    pub fn try_exchange(&mut self, raw: &str) -> std::io::Result<Response> {
        self.stream.write_all(raw.as_bytes())?;
        self.try_response(true)
    }

    fn try_response(&mut self, with_body: bool) -> std::io::Result<Response> {
        let mut status_line = String::new();
        if self.reader.read_line(&mut status_line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        // The highest version the server conforms to, whatever the
        // request's (RFC 9110, 2.5).
        assert!(
            status_line.starts_with("HTTP/1.1 "),
            "status line {status_line:?}"
        );
        let status = status_line[9..12].parse().expect("status code");
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            self.reader.read_line(&mut line)?;
            let line = line.trim_end_matches("\r\n");
            if line.is_empty() {
                break;
            }
            let (name, value) = line.split_once(": ").expect("name: value");
            headers.push((name.to_owned(), value.to_owned()));
        }
        let mut response = Response {
            status,
            headers,
            body: Vec::new(),
        };
        if with_body {
            let length: usize = response.header("Content-Length").parse().unwrap();
            response.body = vec![0; length];
            self.reader.read_exact(&mut response.body)?;
        }
        Ok(response)
    }

    /// True if the server closed the connection: reading gives EOF or a reset.
    pub fn is_closed_by_server(&mut self) -> bool {
        let mut byte = [0u8; 1];
        match self.reader.read(&mut byte) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => matches!(
                e.kind(),
                std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted
            ),
        }
    }

    /// Closes our sending side, as a client that is done.
    pub fn finish_sending(&self) {
        let _ = self.stream.shutdown(Shutdown::Write);
    }
}

/// Returns a duplicate, in this process, of the service's listening socket,
/// taken with pidfd_getfd(2) (Linux 5.6+; the test runner is the parent, so
/// it may). Shutting it down breaks the service's listener from outside.
pub fn steal_listening_socket(service: &Service) -> i32 {
    let port = format!(":{:04X} ", service.addr.port());
    let inode = ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|table| std::fs::read_to_string(table).ok())
        .flat_map(|table| table.lines().map(str::to_owned).collect::<Vec<_>>())
        .find_map(|row| {
            let fields: Vec<&str> = row.split_whitespace().collect();
            let listening = fields.get(3) == Some(&"0A");
            let ours = fields
                .get(1)
                .is_some_and(|local| format!("{local} ").contains(&port));
            (listening && ours).then(|| fields[9].to_owned())
        })
        .expect("the listening socket is in /proc/net/tcp");
    let target = format!("socket:[{inode}]");
    let fd: i32 = std::fs::read_dir(format!("/proc/{}/fd", service.pid()))
        .unwrap()
        .filter_map(Result::ok)
        .find(|entry| {
            std::fs::read_link(entry.path()).is_ok_and(|link| link.to_string_lossy() == target)
        })
        .and_then(|entry| entry.file_name().to_string_lossy().parse().ok())
        .expect("the service holds its listening socket");
    // SAFETY: plain syscalls on integers; failures are checked below.
    unsafe {
        let pidfd = libc::syscall(libc::SYS_pidfd_open, service.pid(), 0);
        assert!(
            pidfd >= 0,
            "pidfd_open: {}",
            std::io::Error::last_os_error()
        );
        let stolen = libc::syscall(libc::SYS_pidfd_getfd, pidfd, fd, 0);
        assert!(
            stolen >= 0,
            "pidfd_getfd: {}",
            std::io::Error::last_os_error()
        );
        libc::close(pidfd as i32);
        stolen as i32
    }
}

/// Runs git in `dir` as a throwaway identity that signs nothing, asserts
/// success, and returns its output, trimmed.
#[allow(dead_code)] // not every test binary that uses support runs git
pub fn git(dir: &std::path::Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(output.status.success(), "git {args:?}: {output:?}");
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

/// Raises this test process's open-file limit to its hard limit: the flood
/// needs thousands of sockets.
#[allow(dead_code)] // for the flood tests only
pub fn raise_own_file_limit() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: both calls take a pointer to a live rlimit.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        limit.rlim_cur = limit.rlim_max;
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), 0);
    }
    limit.rlim_cur
}
