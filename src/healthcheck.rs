//! Health probe: `sre-kata healthcheck`, for a container engine's health
//! check (`scripts/dev.sh --container` gives it to podman), since a scratch
//! image has no curl.
//!
//! Contract: [`probe`] succeeds only if `GET /healthz` at the address answers
//! 200 within the timeout. A draining server answers 503, so it fails.

use std::fmt;
use std::io::{self, BufRead, BufReader, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::time::Duration;

/// Why a server is not healthy.
#[derive(Debug)]
pub enum Unhealthy {
    /// It could not be reached or did not answer in time.
    Io(SocketAddr, io::Error),
    /// It answered with another status (503 while draining).
    Status(SocketAddr, String),
    /// It answered something that is not HTTP.
    NotHttp(SocketAddr),
}

impl fmt::Display for Unhealthy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unhealthy::Io(addr, error) => write!(f, "{addr}: {error}"),
            Unhealthy::Status(addr, status) => write!(f, "{addr}: /healthz answered {status}"),
            Unhealthy::NotHttp(addr) => write!(f, "{addr}: no HTTP answer"),
        }
    }
}

impl std::error::Error for Unhealthy {}

/// Where to probe a server configured to listen on `listen`: the loopback
/// address when it listens on all addresses.
pub fn target(listen: SocketAddr) -> SocketAddr {
    let ip = match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, listen.port())
}

/// Asks `addr` for `/healthz`; the error says why it is not healthy.
pub fn probe(addr: SocketAddr, timeout: Duration) -> Result<(), Unhealthy> {
    let fail = |e: io::Error| Unhealthy::Io(addr, e);
    let mut stream = TcpStream::connect_timeout(&addr, timeout).map_err(fail)?;
    stream.set_read_timeout(Some(timeout)).map_err(fail)?;
    stream.set_write_timeout(Some(timeout)).map_err(fail)?;
    stream
        .write_all(
            b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
              X-Request-Id: healthcheck\r\n\r\n",
        )
        .map_err(fail)?;
    let mut status_line = String::new();
    BufReader::new(stream)
        .read_line(&mut status_line)
        .map_err(fail)?;
    match status_line.split(' ').nth(1) {
        Some("200") => Ok(()),
        Some(status) => Err(Unhealthy::Status(addr, status.to_owned())),
        None => Err(Unhealthy::NotHttp(addr)),
    }
}

#[cfg(test)]
mod tests {
    use super::target;

    #[test]
    fn unspecified_addresses_are_probed_on_loopback() {
        assert_eq!(
            target("0.0.0.0:8080".parse().unwrap()),
            "127.0.0.1:8080".parse().unwrap()
        );
        assert_eq!(
            target("[::]:81".parse().unwrap()),
            "[::1]:81".parse().unwrap()
        );
        assert_eq!(
            target("10.1.2.3:82".parse().unwrap()),
            "10.1.2.3:82".parse().unwrap()
        );
    }
}
