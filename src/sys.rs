//! The operating-system calls std does not offer: every `unsafe` block of the
//! service lives here, each behind a safe function.
//!
//! Contract: these functions never panic; failures come back as
//! `io::Error` and the caller decides how much they matter.

#![allow(unsafe_code)] // the crate denies it everywhere else

use std::io;
use std::mem::{size_of, MaybeUninit};
use std::os::fd::AsRawFd;
use std::time::Duration;

/// Maps a libc return value to `io::Result`, reading `errno` on -1.
fn check(ret: libc::c_int) -> io::Result<()> {
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn set_option<T>(
    socket: &impl AsRawFd,
    level: libc::c_int,
    name: libc::c_int,
    value: &T,
) -> io::Result<()> {
    // SAFETY: `value` points to a live `T` of exactly the length passed.
    check(unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            level,
            name,
            std::ptr::from_ref(value).cast(),
            size_of::<T>() as libc::socklen_t,
        )
    })
}

fn timeval(timeout: Duration) -> libc::timeval {
    // Field types are inferred: naming time_t is deprecated on musl.
    libc::timeval {
        tv_sec: timeout.as_secs().try_into().unwrap_or(i32::MAX.into()),
        tv_usec: timeout.subsec_micros().into(),
    }
}

/// Sets a socket's receive and send timeouts (`SO_RCVTIMEO`, `SO_SNDTIMEO`)
/// and turns off Nagle's algorithm (`TCP_NODELAY`). On Linux, sockets
/// accepted from a listening socket inherit all three.
pub fn set_timeouts_and_nodelay(
    socket: &impl AsRawFd,
    read: Duration,
    write: Duration,
) -> io::Result<()> {
    set_option(socket, libc::SOL_SOCKET, libc::SO_RCVTIMEO, &timeval(read))?;
    set_option(socket, libc::SOL_SOCKET, libc::SO_SNDTIMEO, &timeval(write))?;
    set_option(
        socket,
        libc::IPPROTO_TCP,
        libc::TCP_NODELAY,
        &(1 as libc::c_int),
    )
}

/// Sets how many connections a listening socket queues for `accept`: std
/// asks for 128. Connections above the server's cap wait there; the kernel
/// caps the value at `net.core.somaxconn` (4096 on current Linux).
pub fn set_backlog(listener: &impl AsRawFd, backlog: u32) -> io::Result<()> {
    let backlog = libc::c_int::try_from(backlog).unwrap_or(libc::c_int::MAX);
    // SAFETY: listen on a descriptor the caller keeps open; calling it again
    // on a listening socket only changes the queue's length.
    check(unsafe { libc::listen(listener.as_raw_fd(), backlog) })
}

/// Raises the soft limit on open files to the hard limit, since every
/// connection holds descriptors, and returns the new soft limit.
pub fn raise_open_files_limit() -> io::Result<u64> {
    let mut limit = MaybeUninit::<libc::rlimit>::uninit();
    // SAFETY: getrlimit fills the struct it is given a pointer to.
    check(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, limit.as_mut_ptr()) })?;
    // SAFETY: getrlimit succeeded, so the struct is initialised.
    let mut limit = unsafe { limit.assume_init() };
    if limit.rlim_cur < limit.rlim_max {
        limit.rlim_cur = limit.rlim_max;
        // SAFETY: passes a pointer to a live, initialised rlimit.
        check(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) })?;
    }
    Ok(limit.rlim_cur)
}

/// The shutdown signals, SIGTERM and SIGINT, blocked for delivery so that
/// one thread can take them with [`ShutdownSignals::wait`].
pub struct ShutdownSignals {
    set: libc::sigset_t,
}

// SAFETY: a sigset_t is plain data; sigwait only reads it.
unsafe impl Send for ShutdownSignals {}

impl ShutdownSignals {
    /// Blocks SIGTERM and SIGINT in the calling thread and every thread it
    /// spawns afterwards. Call it first thing in `main`. Blocked signals stay
    /// pending until taken, even for PID 1, which the kernel otherwise spares
    /// from signals it has no handler for.
    pub fn block() -> io::Result<Self> {
        let mut set = MaybeUninit::<libc::sigset_t>::uninit();
        // SAFETY: sigemptyset initialises the set; sigaddset and
        // pthread_sigmask take pointers to it and only read or fill it.
        unsafe {
            check(libc::sigemptyset(set.as_mut_ptr()))?;
            let mut set = set.assume_init();
            check(libc::sigaddset(&mut set, libc::SIGTERM))?;
            check(libc::sigaddset(&mut set, libc::SIGINT))?;
            let ret = libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
            if ret != 0 {
                return Err(io::Error::from_raw_os_error(ret));
            }
            Ok(ShutdownSignals { set })
        }
    }

    /// Unblocks SIGTERM and SIGINT in the calling thread: they take their
    /// default action (the process ends) when they reach it.
    pub fn unblock_here(&self) {
        // SAFETY: the set is live and initialised.
        unsafe { libc::pthread_sigmask(libc::SIG_UNBLOCK, &self.set, std::ptr::null_mut()) };
    }

    /// Waits for the next SIGTERM or SIGINT and returns its name.
    ///
    /// `sigwaitinfo`, not `sigwait`: glibc's `sigwait` returns the error
    /// number, musl's (the shipped build) returns -1 and sets `errno`, so
    /// code written for one misreads the other. `sigwaitinfo` returns the
    /// signal, or -1 and `errno`, on both; an interrupted wait waits again.
    pub fn wait(&self) -> io::Result<&'static str> {
        loop {
            // SAFETY: the set is live and initialised; a null info is allowed.
            let signal = unsafe { libc::sigwaitinfo(&self.set, std::ptr::null_mut()) };
            match signal {
                libc::SIGTERM => return Ok("SIGTERM"),
                libc::SIGINT => return Ok("SIGINT"),
                -1 => {
                    let error = io::Error::last_os_error();
                    if error.kind() != io::ErrorKind::Interrupted {
                        return Err(error);
                    }
                }
                // Only the set's signals are waited for.
                other => return Err(io::Error::other(format!("unexpected signal {other}"))),
            }
        }
    }
}

/// 64 random bits from the kernel, or `None` if it has none to give.
pub fn random_u64() -> Option<u64> {
    let mut bytes = [0u8; 8];
    // SAFETY: getrandom writes at most `bytes.len()` bytes into `bytes`.
    let got = unsafe { libc::getrandom(bytes.as_mut_ptr().cast(), bytes.len(), 0) };
    (got == 8).then(|| u64::from_ne_bytes(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};

    #[test]
    fn accepted_sockets_inherit_timeouts_and_nodelay() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        set_timeouts_and_nodelay(
            &listener,
            Duration::from_millis(1500),
            Duration::from_millis(2500),
        )
        .unwrap();
        set_backlog(&listener, 4096).unwrap();
        let _client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (accepted, _) = listener.accept().unwrap();
        assert_eq!(
            accepted.read_timeout().unwrap(),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            accepted.write_timeout().unwrap(),
            Some(Duration::from_millis(2500))
        );
        assert!(accepted.nodelay().unwrap());
    }

    #[test]
    fn open_files_limit_ends_at_the_hard_limit() {
        let soft = raise_open_files_limit().unwrap();
        let mut limit = MaybeUninit::<libc::rlimit>::uninit();
        // SAFETY: as in raise_open_files_limit.
        let limit = unsafe {
            assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, limit.as_mut_ptr()), 0);
            limit.assume_init()
        };
        assert_eq!(soft, limit.rlim_cur);
        assert_eq!(limit.rlim_cur, limit.rlim_max);
    }

    #[test]
    fn a_blocked_signal_is_taken_by_name() {
        // On a thread of its own: the mask is per thread, and the signal is
        // sent to that thread alone.
        std::thread::spawn(|| {
            let signals = ShutdownSignals::block().unwrap();
            for (signal, name) in [(libc::SIGTERM, "SIGTERM"), (libc::SIGINT, "SIGINT")] {
                // SAFETY: a blocked signal to this very thread stays pending.
                assert_eq!(
                    unsafe { libc::pthread_kill(libc::pthread_self(), signal) },
                    0
                );
                assert_eq!(signals.wait().unwrap(), name);
            }
        })
        .join()
        .unwrap();
    }

    #[test]
    fn random_bits_differ() {
        assert_ne!(random_u64(), random_u64());
    }
}
