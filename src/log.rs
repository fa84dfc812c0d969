//! Logging: structured lines on stdout, JSON by default.
//!
//! Contract: one event is one line, and lines from different threads never
//! interleave. Every line starts with `time` (RFC 3339, UTC), `level` and
//! `event`; the rest are the caller's fields in order. In JSON every value is
//! escaped; in text, values that could be misread are quoted. Logging never
//! fails the caller: a broken stdout loses lines, not requests.
//!
//! Lines go out at once ([`Line::emit`]), except access-log lines
//! ([`Line::emit_batched`]): those wait in a buffer until it holds
//! [`BATCH_BYTES`], a line goes out at once, or [`Logger::flush`] (a worker
//! with nothing left to do calls it). One write per request cost about a
//! tenth of the throughput (docs/benchmarks). An abort loses at most the
//! batch.

use crate::json;
use crate::timestamp::push_rfc3339;
use std::fmt::Write as _;
use std::io::Write as _;
use std::str::FromStr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

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

/// How many bytes of access-log lines may wait before they are written.
pub const BATCH_BYTES: usize = 16 * 1024;

/// Where finished lines go.
enum Target {
    Stdout,
    Memory(Arc<Mutex<Vec<u8>>>),
}

/// Lines not yet written, and where they go.
struct Sink {
    pending: Vec<u8>,
    target: Target,
}

impl Sink {
    fn write_pending(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        match &self.target {
            Target::Stdout => {
                let _ = std::io::stdout().lock().write_all(&self.pending);
            }
            Target::Memory(buffer) => buffer
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .extend_from_slice(&self.pending),
        }
        self.pending.clear();
    }
}

/// Writes log lines of at least a given level in a given format.
#[derive(Clone)]
pub struct Logger {
    format: Format,
    level: Level,
    sink: Arc<Mutex<Sink>>,
}

impl Logger {
    /// A logger writing to stdout.
    pub fn stdout(format: Format, level: Level) -> Self {
        Self::to(format, level, Target::Stdout)
    }

    fn to(format: Format, level: Level, target: Target) -> Self {
        Logger {
            format,
            level,
            sink: Arc::new(Mutex::new(Sink {
                pending: Vec::with_capacity(BATCH_BYTES),
                target,
            })),
        }
    }

    /// A logger writing into memory, and the buffer it writes to; for tests.
    pub fn memory(format: Format, level: Level) -> (Self, Arc<Mutex<Vec<u8>>>) {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let logger = Self::to(format, level, Target::Memory(Arc::clone(&buffer)));
        (logger, buffer)
    }

    /// True if lines at `level` are written.
    pub fn enabled(&self, level: Level) -> bool {
        level <= self.level
    }

    /// Starts a line for `event` at `level`; it is written by [`Line::emit`].
    pub fn line(&self, level: Level, event: &str) -> Line<'_> {
        if !self.enabled(level) {
            return Line {
                logger: self,
                buf: None,
            };
        }
        let mut buf = String::with_capacity(256);
        match self.format {
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
        Line {
            logger: self,
            buf: Some(buf),
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

    /// Writes the access-log lines still waiting.
    pub fn flush(&self) {
        self.sink().write_pending();
    }

    fn sink(&self) -> std::sync::MutexGuard<'_, Sink> {
        self.sink.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self, line: &[u8], batched: bool) {
        let mut sink = self.sink();
        sink.pending.extend_from_slice(line);
        if !batched || sink.pending.len() >= BATCH_BYTES {
            sink.write_pending();
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
    logger: &'a Logger,
    buf: Option<String>,
}

impl Line<'_> {
    /// Adds a string field.
    pub fn str(mut self, key: &'static str, value: &str) -> Self {
        let format = self.logger.format;
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
        let format = self.logger.format;
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

    /// Writes the line now, after any batched lines before it.
    pub fn emit(self) {
        self.finish(false);
    }

    /// Writes the line with the next batch (access-log lines).
    pub fn emit_batched(self) {
        self.finish(true);
    }

    fn finish(self, batched: bool) {
        if let Some(mut buf) = self.buf {
            if self.logger.format == Format::Json {
                buf.push('}');
            }
            buf.push('\n');
            self.logger.write(buf.as_bytes(), batched);
        }
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

    fn lines(buffer: &Arc<Mutex<Vec<u8>>>) -> Vec<String> {
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
        let lines = lines(&buffer);
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
        let line = &lines(&buffer)[0];
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
        assert_eq!(lines(&buffer).len(), 2);
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
        let lines = lines(&buffer);
        assert_eq!(lines.len(), 1, "debug is below warn");
        let line: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(line["event"], "library");
        assert_eq!(line["level"], "warn");
        assert_eq!(line["target"], "tiny_http");
        assert_eq!(line["message"], "Error accepting new client: EMFILE");
    }

    #[test]
    fn batched_lines_wait_for_a_flush_or_an_immediate_line_and_keep_their_order() {
        let (log, buffer) = Logger::memory(Format::Json, Level::Info);
        log.info("request").uint("n", 1).emit_batched();
        log.info("request").uint("n", 2).emit_batched();
        assert!(lines(&buffer).is_empty(), "batched");
        log.flush();
        assert_eq!(lines(&buffer).len(), 2);

        log.info("request").uint("n", 3).emit_batched();
        log.warn("shutdown").emit();
        let all = lines(&buffer);
        assert_eq!(all.len(), 4, "an immediate line takes the batch along");
        assert!(
            all[2].contains("\"n\":3") && all[3].contains("shutdown"),
            "{all:?}"
        );
    }

    #[test]
    fn a_full_batch_is_written_without_a_flush() {
        let (log, buffer) = Logger::memory(Format::Json, Level::Info);
        let value = "x".repeat(1000);
        for _ in 0..(BATCH_BYTES / 1000 + 1) {
            log.info("request").str("v", &value).emit_batched();
        }
        assert!(!lines(&buffer).is_empty());
    }

    #[test]
    fn level_names_round_trip() {
        for level in [Level::Error, Level::Warn, Level::Info, Level::Debug] {
            assert_eq!(level.name().parse(), Ok(level));
        }
        assert!("INFO".parse::<Level>().is_err());
    }
}
