//! A connection's TCP socket (sre-kata patch: upstream's `Connection`
//! wrapped TCP and Unix sockets alike; only TCP is served here).
//!
//! One descriptor, shared by the connection's own thread, which reads, and
//! the worker answering it, which sends: upstream duplicated it for each
//! side.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

#[derive(Debug)]
pub(crate) struct Socket(TcpStream);

impl Socket {
    /// Reads what has arrived, waiting at most the read timeout.
    pub(crate) fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        (&self.0).read(buf)
    }

    /// One blocking write, waiting at most the send timeout.
    pub(crate) fn write_blocking(&self, bytes: &[u8]) -> io::Result<usize> {
        (&self.0).write(bytes)
    }

    pub(crate) fn set_write_timeout(&self, timeout: Duration) -> io::Result<()> {
        self.0.set_write_timeout(Some(timeout))
    }

    pub(crate) fn set_read_timeout(&self, timeout: Duration) -> io::Result<()> {
        self.0.set_read_timeout(Some(timeout))
    }

    pub(crate) fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.0.peer_addr()
    }

    pub(crate) fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.0.shutdown(how)
    }
}

impl From<TcpStream> for Socket {
    fn from(stream: TcpStream) -> Self {
        Socket(stream)
    }
}

impl AsRawFd for Socket {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }
}
