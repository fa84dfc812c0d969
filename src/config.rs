//! Configuration: read once from the environment at start.
//!
//! Contract: every setting has a default; a value that is set but invalid
//! (empty included) is an error naming the variable, what it held and what
//! was expected. Nothing else in the service reads the environment.

use crate::log::{Format, Level};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroUsize;
use std::time::Duration;

/// The service's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Address to listen on (`HOST`, `PORT`); port 0 picks a free one.
    pub addr: SocketAddr,
    /// Worker threads answering requests (`WORKERS`).
    pub workers: usize,
    /// Longest request target answered; longer gets 414 (`MAX_URL_BYTES`).
    pub max_url_bytes: usize,
    /// How long a connection may sit silent between requests
    /// (`IDLE_TIMEOUT_SECS`).
    pub idle_timeout: Duration,
    /// How long a response may take to reach a client that reads slowly
    /// (`WRITE_TIMEOUT_SECS`).
    pub write_timeout: Duration,
    /// The most connections open at once (`MAX_CONNECTIONS`); the open-file
    /// limit may lower it (see `server::connection_cap`).
    pub max_connections: usize,
    /// Proxies in front that append to `X-Forwarded-For`
    /// (`TRUSTED_PROXIES`); see `server::client_address`.
    pub trusted_proxies: usize,
    /// Longest time from a shutdown signal to exit (`SHUTDOWN_GRACE_SECS`).
    pub shutdown_grace: Duration,
    /// Log line format (`LOG_FORMAT`).
    pub log_format: Format,
    /// Least severe level logged (`LOG_LEVEL`).
    pub log_level: Level,
}

/// One variable per setting: name, default, meaning. `--help` prints this.
pub const VARIABLES: [(&str, &str, &str); 11] = [
    (
        "PORT",
        "8080",
        "TCP port to listen on (0-65535; 0 picks a free one)",
    ),
    (
        "HOST",
        "0.0.0.0",
        "IP address to listen on (:: for IPv6 and IPv4)",
    ),
    (
        "WORKERS",
        "4 per CPU",
        "threads answering requests (1-1024)",
    ),
    (
        "MAX_URL_BYTES",
        "8192",
        "longest request target; longer gets 414 (1-65536)",
    ),
    (
        "IDLE_TIMEOUT_SECS",
        "75",
        "silence allowed on a keep-alive connection between requests (1-3600)",
    ),
    (
        "WRITE_TIMEOUT_SECS",
        "10",
        "time a response may take to reach a slow reader (1-3600)",
    ),
    (
        "MAX_CONNECTIONS",
        "768",
        "connections open at once; more wait, and idle ones are shed (1-65536)",
    ),
    (
        "TRUSTED_PROXIES",
        "1",
        "proxies in front that append to X-Forwarded-For; 0 when clients connect directly (0-16)",
    ),
    (
        "SHUTDOWN_GRACE_SECS",
        "10",
        "longest drain after SIGTERM or SIGINT (0-3600)",
    ),
    ("LOG_FORMAT", "json", "json or text"),
    ("LOG_LEVEL", "info", "error, warn, info or debug"),
];

/// The default cap on open connections. At the measured cost of a used
/// connection in the shipped build (docs/operations.md, Capacity), it keeps
/// the process under 64 MiB (53 MiB measured at the cap), a small share of
/// the smallest task either target runs (0.5 GB).
pub const DEFAULT_MAX_CONNECTIONS: usize = 768;

/// A variable that is set to something unusable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The variable's name.
    pub var: &'static str,
    /// What it held.
    pub value: String,
    /// What it should hold.
    pub expected: &'static str,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid {}={:?}: expected {}",
            self.var, self.value, self.expected
        )
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        let cpus = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
        Self::from_lookup(
            |var| std::env::var_os(var).map(|v| v.to_string_lossy().into_owned()),
            cpus,
        )
    }

    /// Reads the configuration through `lookup`, for a machine with `cpus` CPUs.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
        cpus: usize,
    ) -> Result<Self, ConfigError> {
        let setting = |var: &'static str| lookup(var).map(|value| (var, value));
        let port: u16 = match setting("PORT") {
            Some(s) => integer(s, 0, 65_535, "an integer from 0 to 65535")?,
            None => 8080,
        };
        let host = match setting("HOST") {
            Some((var, value)) => value.parse::<IpAddr>().map_err(|_| ConfigError {
                var,
                value,
                expected: "an IP address such as 0.0.0.0, 127.0.0.1 or ::",
            })?,
            None => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        };
        let workers = match setting("WORKERS") {
            Some(s) => integer(s, 1, 1024, "an integer from 1 to 1024")?,
            None => (4 * cpus).clamp(4, 1024),
        };
        let max_url_bytes = match setting("MAX_URL_BYTES") {
            Some(s) => integer(s, 1, 65_536, "an integer from 1 to 65536")?,
            None => 8192,
        };
        let idle_timeout = match setting("IDLE_TIMEOUT_SECS") {
            Some(s) => integer(s, 1, 3600, "a number of seconds from 1 to 3600")?,
            None => 75,
        };
        let write_timeout = match setting("WRITE_TIMEOUT_SECS") {
            Some(s) => integer(s, 1, 3600, "a number of seconds from 1 to 3600")?,
            None => 10,
        };
        let max_connections = match setting("MAX_CONNECTIONS") {
            Some(s) => integer(s, 1, 65_536, "an integer from 1 to 65536")?,
            None => DEFAULT_MAX_CONNECTIONS,
        };
        let trusted_proxies = match setting("TRUSTED_PROXIES") {
            Some(s) => integer(s, 0, 16, "an integer from 0 to 16")?,
            None => 1,
        };
        let shutdown_grace = match setting("SHUTDOWN_GRACE_SECS") {
            Some(s) => integer(s, 0, 3600, "a number of seconds from 0 to 3600")?,
            None => 10,
        };
        let log_format = match setting("LOG_FORMAT") {
            Some((var, value)) => match value.as_str() {
                "json" => Format::Json,
                "text" => Format::Text,
                _ => {
                    return Err(ConfigError {
                        var,
                        value,
                        expected: "json or text",
                    })
                }
            },
            None => Format::Json,
        };
        let log_level = match setting("LOG_LEVEL") {
            Some((var, value)) => value.parse().map_err(|()| ConfigError {
                var,
                value,
                expected: "error, warn, info or debug",
            })?,
            None => Level::Info,
        };
        Ok(Config {
            addr: SocketAddr::new(host, port),
            workers,
            max_url_bytes,
            idle_timeout: Duration::from_secs(idle_timeout),
            write_timeout: Duration::from_secs(write_timeout),
            max_connections,
            trusted_proxies,
            shutdown_grace: Duration::from_secs(shutdown_grace),
            log_format,
            log_level,
        })
    }
}

/// Parses a plain decimal integer within `min..=max`: digits only, no sign,
/// no spaces, so that `PORT=" 80"` is an error instead of a guess.
fn integer<T: TryFrom<u64>>(
    (var, value): (&'static str, String),
    min: u64,
    max: u64,
    expected: &'static str,
) -> Result<T, ConfigError> {
    let parsed = if value.bytes().all(|b| b.is_ascii_digit()) {
        value.parse::<u64>().ok()
    } else {
        None
    };
    parsed
        .filter(|n| (min..=max).contains(n))
        .and_then(|n| T::try_from(n).ok())
        .ok_or(ConfigError {
            var,
            value,
            expected,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_lookup(
            |name| {
                vars.iter()
                    .find(|(var, _)| *var == name)
                    .map(|(_, value)| (*value).to_owned())
            },
            2,
        )
    }

    #[test]
    fn defaults() {
        let c = config(&[]).unwrap();
        assert_eq!(c.addr, "0.0.0.0:8080".parse().unwrap());
        assert_eq!(c.workers, 8);
        assert_eq!(c.max_url_bytes, 8192);
        assert_eq!(c.idle_timeout, Duration::from_secs(75));
        assert_eq!(c.write_timeout, Duration::from_secs(10));
        assert_eq!(c.max_connections, DEFAULT_MAX_CONNECTIONS);
        assert_eq!(c.trusted_proxies, 1);
        assert_eq!(c.shutdown_grace, Duration::from_secs(10));
        assert_eq!(c.log_format, Format::Json);
        assert_eq!(c.log_level, Level::Info);
    }

    #[test]
    fn worker_default_scales_with_cpus_within_bounds() {
        let with_cpus = |cpus| Config::from_lookup(|_| None, cpus).unwrap().workers;
        assert_eq!(with_cpus(1), 4);
        assert_eq!(with_cpus(3), 12);
        assert_eq!(with_cpus(1000), 1024);
    }

    #[test]
    fn every_variable_is_read() {
        let c = config(&[
            ("PORT", "9000"),
            ("HOST", "::1"),
            ("WORKERS", "3"),
            ("MAX_URL_BYTES", "100"),
            ("IDLE_TIMEOUT_SECS", "5"),
            ("WRITE_TIMEOUT_SECS", "7"),
            ("MAX_CONNECTIONS", "99"),
            ("TRUSTED_PROXIES", "0"),
            ("SHUTDOWN_GRACE_SECS", "0"),
            ("LOG_FORMAT", "text"),
            ("LOG_LEVEL", "debug"),
        ])
        .unwrap();
        assert_eq!(c.addr, "[::1]:9000".parse().unwrap());
        assert_eq!(c.workers, 3);
        assert_eq!(c.max_url_bytes, 100);
        assert_eq!(c.idle_timeout, Duration::from_secs(5));
        assert_eq!(c.write_timeout, Duration::from_secs(7));
        assert_eq!(c.max_connections, 99);
        assert_eq!(c.trusted_proxies, 0);
        assert_eq!(c.shutdown_grace, Duration::ZERO);
        assert_eq!(c.log_format, Format::Text);
        assert_eq!(c.log_level, Level::Debug);
    }

    #[test]
    fn every_documented_variable_is_rejected_when_bad() {
        for (var, _, _) in VARIABLES {
            for bad in ["", "nope", "-1", " 1", "99999999999999999999999"] {
                let error = config(&[(var, bad)]).unwrap_err();
                assert_eq!(error.var, var);
                assert_eq!(error.value, bad);
                let line = error.to_string();
                assert!(line.starts_with(&format!("invalid {var}=")), "{line}");
                assert!(line.contains("expected"), "{line}");
            }
        }
    }

    #[test]
    fn ranges_are_enforced() {
        for (var, bad) in [
            ("PORT", "65536"),
            ("WORKERS", "0"),
            ("WORKERS", "1025"),
            ("MAX_URL_BYTES", "0"),
            ("MAX_URL_BYTES", "65537"),
            ("IDLE_TIMEOUT_SECS", "0"),
            ("IDLE_TIMEOUT_SECS", "3601"),
            ("SHUTDOWN_GRACE_SECS", "3601"),
            ("WRITE_TIMEOUT_SECS", "0"),
            ("MAX_CONNECTIONS", "0"),
            ("MAX_CONNECTIONS", "65537"),
            ("TRUSTED_PROXIES", "17"),
            ("PORT", "+80"),
            ("HOST", "localhost"),
            ("LOG_FORMAT", "JSON"),
            ("LOG_LEVEL", "trace"),
        ] {
            assert_eq!(config(&[(var, bad)]).unwrap_err().var, var, "{var}={bad}");
        }
        assert!(config(&[("PORT", "65535"), ("MAX_URL_BYTES", "65536")]).is_ok());
        assert_eq!(
            config(&[("PORT", "0")]).unwrap().addr.port(),
            0,
            "any free port"
        );
    }
}
