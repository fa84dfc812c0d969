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

/// Reads what has arrived, without waiting: 0 at the end of the stream or
/// when nothing is there.
pub(crate) fn recv_now(socket: &impl AsRawFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: the pointer and length describe a live, writable slice.
    let got = unsafe {
        libc::recv(
            socket.as_raw_fd(),
            buf.as_mut_ptr().cast(),
            buf.len(),
            libc::MSG_DONTWAIT,
        )
    };
    match usize::try_from(got) {
        Ok(got) => Ok(got),
        Err(_) => {
            let error = io::Error::last_os_error();
            if error.kind() == io::ErrorKind::WouldBlock {
                Ok(0)
            } else {
                Err(error)
            }
        }
    }
}

/// Bytes sent on a TCP socket that the peer has not acknowledged yet, plus
/// those not sent yet (`SIOCOUTQ`): 0 once the client has everything.
pub(crate) fn unacknowledged(socket: &impl AsRawFd) -> io::Result<usize> {
    let mut queued: libc::c_int = 0;
    // SAFETY: TIOCOUTQ (SIOCOUTQ for sockets) writes one c_int.
    let ret = unsafe { libc::ioctl(socket.as_raw_fd(), libc::TIOCOUTQ, &mut queued) };
    if ret != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(usize::try_from(queued).unwrap_or(0))
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

/// The kernel's `TCP_INFO` for a TCP socket.
fn tcp_info(socket: &impl AsRawFd) -> io::Result<libc::tcp_info> {
    let mut info = std::mem::MaybeUninit::<libc::tcp_info>::zeroed();
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes into `info`, which is
    // zeroed, so every field is initialised whatever the kernel fills in.
    let ret = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            info.as_mut_ptr().cast(),
            &mut len,
        )
    };
    if ret != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: zero-initialised, then (partly) filled by the kernel.
    Ok(unsafe { info.assume_init() })
}

/// How many connections wait in a listening TCP socket's accept queue
/// (Linux reports it as `tcpi_unacked` in `TCP_INFO` for a listener). An
/// error for other sockets.
pub(crate) fn accept_queue_len(listener: &impl AsRawFd) -> io::Result<usize> {
    Ok(tcp_info(listener)?.tcpi_unacked as usize)
}

/// True once the connection is closed for good on the kernel's side: the
/// peer reset it, or it timed out (`TCP_CLOSE`). Nothing sent on it can
/// reach the peer any more, whatever `SIOCOUTQ` still counts.
pub(crate) fn is_closed(socket: &impl AsRawFd) -> bool {
    /// `TCP_CLOSE` in the kernel's TCP states (include/net/tcp_states.h).
    const TCP_CLOSE: u8 = 7;
    tcp_info(socket).map_or(true, |info| info.tcpi_state == TCP_CLOSE)
}

/// Bytes that have arrived on a socket and are not read yet (`FIONREAD`).
pub(crate) fn unread(socket: &impl AsRawFd) -> io::Result<usize> {
    let mut waiting: libc::c_int = 0;
    // SAFETY: FIONREAD writes one c_int.
    let ret = unsafe { libc::ioctl(socket.as_raw_fd(), libc::FIONREAD, &mut waiting) };
    if ret != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(usize::try_from(waiting).unwrap_or(0))
}

/// `SO_LINGER` with a zero timeout: closing `socket` resets the
/// connection, as a client that gives up does (tests).
#[cfg(test)]
pub(crate) fn reset_on_close(socket: &impl AsRawFd) -> io::Result<()> {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: setsockopt reads one live linger struct of the size given.
    let ret = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            std::ptr::from_ref(&linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    if ret != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};

    #[test]
    fn a_reset_connection_is_closed_and_unread_bytes_are_counted() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        assert!(!is_closed(&server));
        std::io::Write::write_all(&mut client, b"abc").unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while unread(&server).unwrap() < 3 {
            assert!(std::time::Instant::now() < deadline);
            std::thread::yield_now();
        }
        // SO_LINGER 0: the client's close resets the connection.
        reset_on_close(&client).expect("a reset, as a client that gives up does");
        drop(client);
        while !is_closed(&server) {
            assert!(
                std::time::Instant::now() < deadline,
                "the reset never showed"
            );
            std::thread::yield_now();
        }
    }

    #[test]
    fn the_accept_queue_is_counted() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        assert_eq!(accept_queue_len(&listener).unwrap(), 0);
        let _waiting: Vec<TcpStream> = (0..3)
            .map(|_| TcpStream::connect(listener.local_addr().unwrap()).unwrap())
            .collect();
        assert_eq!(accept_queue_len(&listener).unwrap(), 3);
        let _ = listener.accept().unwrap();
        assert_eq!(accept_queue_len(&listener).unwrap(), 2);
    }
}
