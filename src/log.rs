//! Logging: structured lines on stdout, JSON by default.
//!
//! Contract: one event is one line, and lines from different threads never
//! interleave. Every line starts with `time` (RFC 3339, UTC), `level` and
//! `event`; the rest are the caller's fields in order. In JSON every value is
//! escaped; in text, values that could be misread are quoted.
//!
//! Logging never stalls the caller. Lines go into a bounded queue, and a
//! writer thread of its own writes them out, so a stuck stdout (a full pipe
//! nobody reads) blocks that thread alone. When the queue is full
//! ([`QUEUE_BYTES`]), lines are dropped and counted, and the next write that
//! gets through starts with a `log_dropped` line saying how many. Access-log
//! lines may not use the last [`RESERVE_BYTES`], so that lifecycle lines
//! (`shutdown`, `overload`, errors) still fit when requests have filled the
//! rest; the process's last line always fits.
//!
//! The writer wakes for every line from [`Line::emit`], but for access-log
//! lines ([`Line::emit_batched`]) only once they fill [`BATCH_BYTES`], when a
//! worker runs out of work ([`Logger::flush`]), or after [`BATCH_WAIT`]: one
//! write per request cost about a tenth of the throughput (docs/benchmarks).
//! [`Line::emit_final`] writes the process's last line: nothing logged after
//! it is written. [`Logger::finish`] waits for the queue to be written, and
//! every exit path of `main` calls it.

use crate::json;
use crate::timestamp::push_rfc3339;
use std::fmt::Write as _;
use std::io::Write as _;
use std::str::FromStr;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

/// Line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One JSON object per line, for log pipelines.
    Json,
    /// `time LEVEL event key=value ...`, for people.
    Text,
}

/// Severity, least verbose first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Something failed and needs attention.
    Error,
    /// Something odd that the service handled.
    Warn,
    /// Lifecycle events and one line per request.
    Info,
    /// Detail for debugging.
    Debug,
}

impl Level {
    fn name(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warn => "warn",
            Level::Info => "info",
            Level::Debug => "debug",
        }
    }
}

impl FromStr for Level {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "error" => Ok(Level::Error),
            "warn" => Ok(Level::Warn),
            "info" => Ok(Level::Info),
            "debug" => Ok(Level::Debug),
            _ => Err(()),
        }
    }
}

/// How many bytes of access-log lines wake the writer.
pub const BATCH_BYTES: usize = 16 * 1024;

/// The longest an access-log line waits for the writer.
pub const BATCH_WAIT: Duration = Duration::from_millis(200);

/// How many bytes of lines may wait to be written; beyond, lines are dropped
/// and counted.
pub const QUEUE_BYTES: usize = 1024 * 1024;

/// The part of the queue that access-log lines may not use.
pub const RESERVE_BYTES: usize = 64 * 1024;

/// Where written lines go.
enum Target {
    Stdout,
    Memory(Arc<Mutex<Vec<u8>>>),
}

impl Target {
    fn write(&self, bytes: &[u8]) {
        match self {
            // A broken stdout loses lines, never the caller's request.
            Target::Stdout => {
                let _ = std::io::stdout().lock().write_all(bytes);
            }
            Target::Memory(buffer) => buffer
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .extend_from_slice(bytes),
        }
    }
}

/// Lines waiting for the writer thread.
#[derive(Default)]
struct Queue {
    pending: Vec<u8>,
    /// Lines dropped since the last write that got through.
    dropped: u64,
    /// No line is taken any more (after [`Line::emit_final`] or
    /// [`Logger::finish`]).
    closed: bool,
    /// The writer is writing a batch.
    writing: bool,
    /// The writer has written everything and ended.
    finished: bool,
}

struct Channel {
    queue: Mutex<Queue>,
    /// Wakes the writer.
    work: Condvar,
    /// The writer finished a batch.
    written: Condvar,
    format: Format,
    target: Target,
}

impl Channel {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits for the writer until `done` holds or `deadline` passes; gives
    /// the queue back, and whether `done` held.
    fn wait_written<'q>(
        &self,
        mut queue: MutexGuard<'q, Queue>,
        deadline: Instant,
        done: impl Fn(&Queue) -> bool,
    ) -> (MutexGuard<'q, Queue>, bool) {
        while !done(&queue) {
            let now = Instant::now();
            if now >= deadline {
                return (queue, false);
            }
            queue = self
                .written
                .wait_timeout(queue, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        (queue, true)
    }

    /// The writer thread: takes whatever waits, writes it, and again.
    fn write_until_closed(&self) {
        let mut spare = Vec::with_capacity(BATCH_BYTES);
        loop {
            let dropped = {
                let mut queue = self.lock();
                queue.writing = false;
                self.written.notify_all();
                while queue.pending.is_empty() && !queue.closed {
                    queue = self
                        .work
                        .wait_timeout(queue, BATCH_WAIT)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                }
                if queue.pending.is_empty() {
                    queue.finished = true;
                    self.written.notify_all();
                    return;
                }
                queue.writing = true;
                std::mem::swap(&mut queue.pending, &mut spare);
                std::mem::take(&mut queue.dropped)
            };
            if dropped > 0 {
                self.target
                    .write(dropped_line(self.format, dropped).as_bytes());
            }
            self.target.write(&spare);
            spare.clear();
        }
    }
}

/// The line that reports lines lost to a stuck stdout.
fn dropped_line(format: Format, dropped: u64) -> String {
    let mut line = Line {
        format,
        buf: Some(start_line(format, Level::Warn, "log_dropped")),
        logger: None,
    }
    .uint("lines", dropped);
    line.finish_text()
}

fn start_line(format: Format, level: Level, event: &str) -> String {
    let mut buf = String::with_capacity(256);
    match format {
        Format::Json => {
            buf.push_str("{\"time\":\"");
            push_rfc3339(&mut buf, SystemTime::now());
            buf.push_str("\",\"level\":\"");
            buf.push_str(level.name());
            buf.push_str("\",\"event\":");
            json::push_str(&mut buf, event);
        }
        Format::Text => {
            push_rfc3339(&mut buf, SystemTime::now());
            let _ = write!(buf, " {:<5} ", level.name().to_uppercase());
            push_text_value(&mut buf, event);
        }
    }
    buf
}

/// How a line is handed to the writer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Urgency {
    /// Wake the writer now.
    Now,
    /// An access-log line: wake it once a batch is full.
    Batched,
    /// The process's last line: close the queue after it.
    Final,
}

/// Writes log lines of at least a given level in a given format.
#[derive(Clone)]
pub struct Logger {
    format: Format,
    level: Level,
    shared: Arc<Channel>,
}

impl Logger {
    /// A logger writing to stdout.
    pub fn stdout(format: Format, level: Level) -> Self {
        Self::to(format, level, Target::Stdout)
    }

    /// A logger writing into memory, and the buffer it writes to; for tests.
    pub fn memory(format: Format, level: Level) -> (Self, Arc<Mutex<Vec<u8>>>) {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let logger = Self::to(format, level, Target::Memory(Arc::clone(&buffer)));
        (logger, buffer)
    }

    fn to(format: Format, level: Level, target: Target) -> Self {
        let shared = Arc::new(Channel {
            queue: Mutex::new(Queue {
                pending: Vec::with_capacity(BATCH_BYTES),
                ..Queue::default()
            }),
            work: Condvar::new(),
            written: Condvar::new(),
            format,
            target,
        });
        let writer = Arc::clone(&shared);
        let spawned = thread::Builder::new()
            .name("log".into())
            .spawn(move || writer.write_until_closed());
        if spawned.is_err() {
            // Without a writer nothing would ever be written: say so where
            // it can still be read, and drop every line instead of queueing.
            eprintln!("sre-kata: cannot start the log writer thread; logging is off");
            let mut queue = shared.lock();
            queue.closed = true;
            queue.finished = true;
        }
        Logger {
            format,
            level,
            shared,
        }
    }

    /// True if lines at `level` are written.
    pub fn enabled(&self, level: Level) -> bool {
        level <= self.level
    }

    /// Starts a line for `event` at `level`; it is written by [`Line::emit`].
    pub fn line(&self, level: Level, event: &str) -> Line<'_> {
        Line {
            format: self.format,
            buf: self
                .enabled(level)
                .then(|| start_line(self.format, level, event)),
            logger: Some(self),
        }
    }

    /// Starts an `error` line.
    pub fn error(&self, event: &str) -> Line<'_> {
        self.line(Level::Error, event)
    }

    /// Starts a `warn` line.
    pub fn warn(&self, event: &str) -> Line<'_> {
        self.line(Level::Warn, event)
    }

    /// Starts an `info` line.
    pub fn info(&self, event: &str) -> Line<'_> {
        self.line(Level::Info, event)
    }

    /// Has the access-log lines still waiting written soon; a worker with
    /// nothing left to do calls it. Never waits.
    pub fn flush(&self) {
        if !self.shared.lock().pending.is_empty() {
            self.shared.work.notify_one();
        }
    }

    /// Takes no more lines, and waits up to `timeout` for those queued to be
    /// written. Returns false if they were not (stdout is stuck).
    pub fn finish(&self, timeout: Duration) -> bool {
        let mut queue = self.shared.lock();
        queue.closed = true;
        self.shared.work.notify_one();
        self.shared
            .wait_written(queue, Instant::now() + timeout, |q| q.finished)
            .1
    }

    /// Waits up to `timeout` until every line queued so far is written;
    /// for tests that read the memory buffer.
    pub fn sync(&self, timeout: Duration) -> bool {
        let queue = self.shared.lock();
        self.shared.work.notify_one();
        let (queue, _) = self
            .shared
            .wait_written(queue, Instant::now() + timeout, |q| {
                (q.pending.is_empty() && !q.writing) || q.finished
            });
        queue.pending.is_empty()
    }

    fn write(&self, line: &[u8], urgency: Urgency) {
        let mut queue = self.shared.lock();
        if queue.closed {
            return;
        }
        let room = match urgency {
            Urgency::Batched => QUEUE_BYTES - RESERVE_BYTES,
            Urgency::Now => QUEUE_BYTES,
            // The last line is never the one dropped.
            Urgency::Final => usize::MAX,
        };
        if queue.pending.len() + line.len() > room {
            queue.dropped += 1;
            return;
        }
        queue.pending.extend_from_slice(line);
        let wake = match urgency {
            Urgency::Now => true,
            Urgency::Batched => queue.pending.len() >= BATCH_BYTES,
            Urgency::Final => {
                queue.closed = true;
                true
            }
        };
        drop(queue);
        if wake {
            self.shared.work.notify_one();
        }
    }
}

/// Carries the `log` crate's records, which is how tiny_http reports trouble
/// (accept errors, backing off when out of file descriptors), into this
/// logger as `library` events.
impl log::Log for Logger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        self.enabled(Level::from(metadata.level()))
    }

    fn log(&self, record: &log::Record<'_>) {
        self.line(Level::from(record.level()), "library")
            .str("target", record.target())
            .str("message", &record.args().to_string())
            .emit();
    }

    fn flush(&self) {}
}

impl From<log::Level> for Level {
    fn from(level: log::Level) -> Self {
        match level {
            log::Level::Error => Level::Error,
            log::Level::Warn => Level::Warn,
            log::Level::Info => Level::Info,
            log::Level::Debug | log::Level::Trace => Level::Debug,
        }
    }
}

/// Makes `logger` the destination of the `log` crate's records, process-wide.
pub fn capture_library_logs(logger: Logger) {
    let max = match logger.level {
        Level::Error => log::LevelFilter::Error,
        Level::Warn => log::LevelFilter::Warn,
        Level::Info => log::LevelFilter::Info,
        Level::Debug => log::LevelFilter::Debug,
    };
    if log::set_logger(Box::leak(Box::new(logger))).is_ok() {
        log::set_max_level(max);
    }
}

/// A log line being built. Fields on a disabled line cost nothing.
#[must_use = "a line is written only by emit()"]
pub struct Line<'a> {
    format: Format,
    buf: Option<String>,
    /// Where it goes; `None` for the writer's own `log_dropped` line.
    logger: Option<&'a Logger>,
}

impl Line<'_> {
    /// Adds a string field.
    pub fn str(mut self, key: &'static str, value: &str) -> Self {
        let format = self.format;
        if let Some(buf) = self.field(key) {
            match format {
                Format::Json => json::push_str(buf, value),
                Format::Text => push_text_value(buf, value),
            }
        }
        self
    }

    /// Adds an unsigned integer field.
    pub fn uint(mut self, key: &'static str, value: u64) -> Self {
        if let Some(buf) = self.field(key) {
            json::push_u64(buf, value);
        }
        self
    }

    /// Writes a field's key and returns the buffer for its value, or `None`
    /// if the line is disabled. Keys are the service's own plain
    /// identifiers, written as they are.
    fn field(&mut self, key: &'static str) -> Option<&mut String> {
        debug_assert!(key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
        let format = self.format;
        let buf = self.buf.as_mut()?;
        match format {
            Format::Json => {
                buf.push_str(",\"");
                buf.push_str(key);
                buf.push_str("\":");
            }
            Format::Text => {
                buf.push(' ');
                buf.push_str(key);
                buf.push('=');
            }
        }
        Some(buf)
    }

    /// Writes the line soon, after any lines before it.
    pub fn emit(self) {
        self.finish(Urgency::Now);
    }

    /// Writes the line with the next batch (access-log lines).
    pub fn emit_batched(self) {
        self.finish(Urgency::Batched);
    }

    /// Writes the line as the process's last: lines logged after it are
    /// not written.
    pub fn emit_final(self) {
        self.finish(Urgency::Final);
    }

    fn finish(mut self, urgency: Urgency) {
        let Some(logger) = self.logger.take() else {
            return;
        };
        if self.buf.is_some() {
            let text = self.finish_text();
            logger.write(text.as_bytes(), urgency);
        } else if urgency == Urgency::Final {
            // A final line below the level still closes the log.
            logger.write(b"", urgency);
        }
    }

    /// The finished text of the line, newline included.
    fn finish_text(&mut self) -> String {
        let mut buf = self.buf.take().unwrap_or_default();
        if self.format == Format::Json {
            buf.push('}');
        }
        buf.push('\n');
        buf
    }
}

/// Appends a text-format value: bare if it is plainly one token, else
/// JSON-quoted, so that spaces, `=`, quotes and controls cannot forge fields.
fn push_text_value(buf: &mut String, value: &str) {
    let plain = !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'=' && b != b'\\');
    if plain {
        buf.push_str(value);
    } else {
        json::push_str(buf, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lines written so far, once the writer has caught up.
    fn written(log: &Logger, buffer: &Arc<Mutex<Vec<u8>>>) -> Vec<String> {
        assert!(log.sync(Duration::from_secs(10)), "the writer caught up");
        let bytes = buffer.lock().unwrap().clone();
        String::from_utf8(bytes)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn json_lines_are_objects_with_time_level_event_first() {
        let (log, buffer) = Logger::memory(Format::Json, Level::Info);
        log.info("request")
            .str("path", "/query\n\"x\"")
            .uint("status", 200)
            .emit();
        let lines = written(&log, &buffer);
        assert_eq!(lines.len(), 1);
        let line: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(line["level"], "info");
        assert_eq!(line["event"], "request");
        assert_eq!(line["path"], "/query\n\"x\"");
        assert_eq!(line["status"], 200);
        let time = line["time"].as_str().unwrap();
        assert!(humantime::parse_rfc3339(time).is_ok(), "{time}");
        assert!(lines[0].starts_with("{\"time\":"), "{}", lines[0]);
        let keys: Vec<&String> = line.as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), 5);
    }

    #[test]
    fn text_lines_quote_what_could_forge_fields() {
        let (log, buffer) = Logger::memory(Format::Text, Level::Info);
        log.warn("odd")
            .str("plain", "abc")
            .str("spaced", "a b=c")
            .str("empty", "")
            .uint("n", 7)
            .emit();
        let line = &written(&log, &buffer)[0];
        assert!(
            line.ends_with(r#" WARN  odd plain=abc spaced="a b=c" empty="" n=7"#),
            "{line}"
        );
    }

    #[test]
    fn levels_below_the_threshold_are_dropped() {
        let (log, buffer) = Logger::memory(Format::Json, Level::Warn);
        log.info("hidden").str("k", "v").emit();
        log.line(Level::Debug, "hidden").emit();
        log.warn("shown").emit();
        log.error("shown").emit();
        assert_eq!(written(&log, &buffer).len(), 2);
        assert!(!log.enabled(Level::Info));
        assert!(log.enabled(Level::Error));
    }

    #[test]
    fn library_records_become_library_events() {
        let (log, buffer) = Logger::memory(Format::Json, Level::Warn);
        let record = |level| {
            log::Log::log(
                &log,
                &log::Record::builder()
                    .level(level)
                    .target("tiny_http")
                    .args(format_args!("Error accepting new client: {}", "EMFILE"))
                    .build(),
            );
        };
        record(log::Level::Warn);
        record(log::Level::Debug);
        let lines = written(&log, &buffer);
        assert_eq!(lines.len(), 1, "debug is below warn");
        let line: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(line["event"], "library");
        assert_eq!(line["level"], "warn");
        assert_eq!(line["target"], "tiny_http");
        assert_eq!(line["message"], "Error accepting new client: EMFILE");
    }

    #[test]
    fn batched_lines_are_written_in_order_with_the_others() {
        let (log, buffer) = Logger::memory(Format::Json, Level::Info);
        log.info("request").uint("n", 1).emit_batched();
        log.info("request").uint("n", 2).emit_batched();
        log.warn("shutdown").emit();
        log.info("request").uint("n", 3).emit_batched();
        log.flush();
        let all = written(&log, &buffer);
        assert_eq!(all.len(), 4);
        for (line, wanted) in all
            .iter()
            .zip(["\"n\":1", "\"n\":2", "shutdown", "\"n\":3"])
        {
            assert!(line.contains(wanted), "{all:?}");
        }
    }

    #[test]
    fn a_stuck_output_drops_and_counts_lines_and_never_blocks_the_caller() {
        let (log, buffer) = Logger::memory(Format::Json, Level::Info);
        // The output is stuck while the test holds it.
        let stuck = buffer.lock().unwrap();
        let value = "x".repeat(1000);
        let offered = 3 * QUEUE_BYTES / 1000;
        for _ in 0..offered {
            log.info("request").str("v", &value).emit_batched();
        }
        drop(stuck);
        log.info("after").emit();
        let all = written(&log, &buffer);
        let dropped: u64 = all
            .iter()
            .filter(|l| l.contains("\"log_dropped\""))
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["lines"]
                    .as_u64()
                    .unwrap()
            })
            .sum();
        let requests = all.iter().filter(|l| l.contains("\"request\"")).count() as u64;
        assert!(dropped > 0, "the queue is bounded");
        assert_eq!(
            requests + dropped,
            offered as u64,
            "every line written or counted"
        );
        assert!(all.last().unwrap().contains("\"after\""));
    }

    #[test]
    fn the_final_line_is_the_last_one_written() {
        let (log, buffer) = Logger::memory(Format::Json, Level::Info);
        log.info("request").emit_batched();
        log.info("exit").emit_final();
        log.info("request").emit_batched();
        log.error("late").emit();
        assert!(log.finish(Duration::from_secs(10)));
        let all = written(&log, &buffer);
        assert_eq!(all.len(), 2, "{all:?}");
        assert!(all[1].contains("\"exit\""));
    }

    #[test]
    fn with_the_queue_full_lifecycle_lines_and_the_last_line_still_fit() {
        let (log, buffer) = Logger::memory(Format::Json, Level::Info);
        let stuck = buffer.lock().unwrap();
        let value = "x".repeat(1000);
        for _ in 0..(2 * QUEUE_BYTES / 1000) {
            log.info("request").str("v", &value).emit_batched();
        }
        log.warn("shutdown").emit();
        // Immediate lines fill the reserve too; the last line still goes.
        for _ in 0..(RESERVE_BYTES / 1000 + 10) {
            log.error("noisy").str("v", &value).emit();
        }
        log.info("exit").emit_final();
        log.info("request").emit_batched();
        drop(stuck);
        assert!(log.finish(Duration::from_secs(10)));
        let all = written(&log, &buffer);
        assert!(
            all.iter().any(|l| l.contains("\"shutdown\"")),
            "reserved room"
        );
        assert!(all.last().unwrap().contains("\"exit\""), "{:?}", all.last());
    }

    #[test]
    fn finish_gives_up_on_a_stuck_output() {
        let (log, buffer) = Logger::memory(Format::Json, Level::Info);
        let stuck = buffer.lock().unwrap();
        log.info("one").emit();
        assert!(!log.finish(Duration::from_millis(50)));
        drop(stuck);
        assert!(log.finish(Duration::from_secs(10)));
    }

    #[test]
    fn level_names_round_trip() {
        for level in [Level::Error, Level::Warn, Level::Info, Level::Debug] {
            assert_eq!(level.name().parse(), Ok(level));
        }
        assert!("INFO".parse::<Level>().is_err());
    }
}
