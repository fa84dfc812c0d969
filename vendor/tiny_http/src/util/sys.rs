//! sre-kata patch: the system calls std does not offer. Every `unsafe`
//! block of the library lives here, each behind a safe function.
#![allow(unsafe_code)]

use std::convert::TryFrom;
use std::io;
use std::os::fd::AsRawFd;
use std::time::Duration;

/// Sends what the socket's buffer takes now, and returns how much that was:
/// possibly less than `bytes`, and 0 when the buffer is full. A connection's
/// socket stays in blocking mode for its own thread (the mode belongs to the
/// socket, which every handle shares), so workers ask per call instead, with
/// `MSG_DONTWAIT`.
pub(crate) fn send_now(socket: &impl AsRawFd, bytes: &[u8]) -> io::Result<usize> {
    loop {
        // SAFETY: the pointer and length describe a live slice, and the
        // descriptor stays open while `socket` is borrowed. MSG_NOSIGNAL turns
        // a closed peer into EPIPE instead of a signal.
        let sent = unsafe {
            libc::send(
                socket.as_raw_fd(),
                bytes.as_ptr().cast(),
                bytes.len(),
                libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
            )
        };
        if let Ok(sent) = usize::try_from(sent) {
            return Ok(sent);
        }
        let error = io::Error::last_os_error();
        match error.kind() {
            io::ErrorKind::WouldBlock => return Ok(0),
            io::ErrorKind::Interrupted => continue,
            _ => return Err(error),
        }
    }
}

/// Waits until `socket` is readable (for a listener: a connection is
/// waiting to be accepted), for at most `timeout`. Returns false on timeout.
pub(crate) fn wait_readable(socket: &impl AsRawFd, timeout: Duration) -> io::Result<bool> {
    let mut poll = libc::pollfd {
        fd: socket.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let millis = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
    loop {
        // SAFETY: one live pollfd, and the count says one.
        let ready = unsafe { libc::poll(&mut poll, 1, millis) };
        match ready {
            0 => return Ok(false),
            1.. => return Ok(true),
            _ => {
                let error = io::Error::last_os_error();
                if error.kind() != io::ErrorKind::Interrupted {
                    return Err(error);
                }
            }
        }
    }
}
