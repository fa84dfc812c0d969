pub(crate) use self::connection::{Connection, Phase};
pub(crate) use self::messages_queue::MessagesQueue;
pub(crate) use self::registry::{Registry, Seat};
pub use self::registry::{FULL_GRACE, HEAD_TIMEOUT, OVERLOAD_IDLE, OVERLOAD_PERCENT};
pub(crate) use self::sys::{accept_queue_len, wait_readable};
pub(crate) use self::task_pool::TaskPool;
pub(crate) use self::ticket::{Counters, Ticket};

use std::str::FromStr;

mod connection;
mod messages_queue;
mod registry;
mod sys;
mod task_pool;
mod ticket;

/// Parses a the value of a header.
/// Suitable for `Accept-*`, `TE`, etc.
///
/// For example with `text/plain, image/png; q=1.5` this function would
/// return `[ ("text/plain", 1.0), ("image/png", 1.5) ]`
pub fn parse_header_value(input: &str) -> Vec<(&str, f32)> {
    input
        .split(',')
        .filter_map(|elem| {
            let mut params = elem.split(';');

            let t = params.next()?;

            let mut value = 1.0_f32;

            for p in params {
                if p.trim_start().starts_with("q=") {
                    if let Ok(val) = f32::from_str(p.trim_start()[2..].trim()) {
                        value = val;
                        break;
                    }
                }
            }

            Some((t.trim(), value))
        })
        .collect()
}

#[cfg(test)]
mod test {
    #[test]
    #[allow(clippy::float_cmp)]
    fn test_parse_header() {
        let result = super::parse_header_value("text/html, text/plain; q=1.5 , image/png ; q=2.0");

        assert_eq!(result.len(), 3);
        assert_eq!(result[0].0, "text/html");
        assert_eq!(result[0].1, 1.0);
        assert_eq!(result[1].0, "text/plain");
        assert_eq!(result[1].1, 1.5);
        assert_eq!(result[2].0, "image/png");
        assert_eq!(result[2].1, 2.0);
    }
}

/// What the accept loop does about an error from `accept()` (sre-kata patch).
pub(crate) enum AcceptErrorKind {
    /// The connection died before it was accepted: go on accepting.
    PeerGone,
    /// Out of file descriptors, memory or buffers: wait, then go on. Descriptors
    /// come back as idle connections time out.
    OutOfResources,
    /// The listening socket itself is broken: stop.
    Fatal,
}

/// Sorts an `accept()` error. Linux also passes errors pending on the new
/// connection up through `accept()` (see accept(2)), and those are the peer's.
pub(crate) fn accept_error_kind(err: &std::io::Error) -> AcceptErrorKind {
    use std::io::ErrorKind;
    match err.kind() {
        ErrorKind::ConnectionAborted
        | ErrorKind::ConnectionReset
        | ErrorKind::Interrupted
        | ErrorKind::WouldBlock => return AcceptErrorKind::PeerGone,
        ErrorKind::OutOfMemory => return AcceptErrorKind::OutOfResources,
        _ => {}
    }
    #[cfg(unix)]
    {
        match err.raw_os_error() {
            Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM) => {
                AcceptErrorKind::OutOfResources
            }
            Some(
                libc::EPROTO
                | libc::ENOPROTOOPT
                | libc::ENETDOWN
                | libc::EHOSTDOWN
                | libc::EHOSTUNREACH
                | libc::ENETUNREACH
                | libc::EOPNOTSUPP
                | libc::EPERM
                | libc::ETIMEDOUT,
            ) => AcceptErrorKind::PeerGone,
            #[cfg(target_os = "linux")]
            Some(libc::ENONET) => AcceptErrorKind::PeerGone,
            _ => AcceptErrorKind::Fatal,
        }
    }
    #[cfg(not(unix))]
    AcceptErrorKind::Fatal
}

/// Exponential wait between accept attempts while resources are exhausted,
/// from 5 ms up to 1 s, so that the loop neither spins nor sleeps long.
#[derive(Default)]
pub(crate) struct AcceptBackoff {
    delay: Option<std::time::Duration>,
}

impl AcceptBackoff {
    pub(crate) fn wait(&mut self) {
        use std::time::Duration;
        let delay = self.delay.map_or(Duration::from_millis(5), |d| {
            (d * 2).min(Duration::from_secs(1))
        });
        self.delay = Some(delay);
        std::thread::sleep(delay);
    }

    pub(crate) fn reset(&mut self) {
        self.delay = None;
    }
}
