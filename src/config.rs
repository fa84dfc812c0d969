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

/// A setting's variable: its name, its default and what it means, as
/// `--help` prints them, and what it may hold. This table is the one place
/// each of them is written: `--help` and [`Config::from_lookup`] read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Variable {
    pub name: &'static str,
    /// The default, as `--help` shows it.
    pub default: &'static str,
    pub meaning: &'static str,
    pub kind: Kind,
}

/// What a variable may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A plain decimal integer from `min` to `max`, of `unit`s.
    Integer {
        min: u64,
        max: u64,
        unit: &'static str,
    },
    /// An IP address.
    Ip,
    /// One of these words.
    Word(&'static [&'static str]),
}

impl Kind {
    /// What a value must be, for an error message and `--help`.
    pub fn expected(self) -> String {
        match self {
            Kind::Integer { min, max, unit } => format!("{unit} from {min} to {max}"),
            Kind::Ip => "an IP address such as 0.0.0.0, 127.0.0.1 or ::".to_owned(),
            Kind::Word(words) => match words {
                [] => String::new(),
                [only] => (*only).to_owned(),
                [init @ .., last] => format!("{} or {last}", init.join(", ")),
            },
        }
    }
}

/// The longest `MAX_URL_BYTES`: a request head may take
/// [`tiny_http::MAX_HEAD_BYTES`] (64 KiB), and a target this long leaves 4
/// KiB for the request line's other parts and the header fields a client
/// and the proxies in front add.
pub const MAX_URL_BYTES_LIMIT: u64 = 61_440;

/// The default cap on open connections. At the measured cost of a used
/// connection in the shipped build (docs/operations.md, Capacity), it keeps
/// the process under 64 MiB (53 MiB measured at the cap), a small share of
/// the smallest task either target runs (0.5 GB).
pub const DEFAULT_MAX_CONNECTIONS: usize = 768;

const INTEGER: &str = "an integer";
const SECONDS: &str = "a number of seconds";

pub const PORT: Variable = Variable {
    name: "PORT",
    default: "8080",
    meaning: "TCP port to listen on (0 picks a free one)",
    kind: Kind::Integer {
        min: 0,
        max: 65_535,
        unit: INTEGER,
    },
};
pub const HOST: Variable = Variable {
    name: "HOST",
    default: "0.0.0.0",
    meaning: "IP address to listen on (:: for IPv6 and IPv4)",
    kind: Kind::Ip,
};
pub const WORKERS: Variable = Variable {
    name: "WORKERS",
    default: "4 per CPU",
    meaning: "threads answering requests",
    kind: Kind::Integer {
        min: 1,
        max: 1024,
        unit: INTEGER,
    },
};
pub const MAX_URL_BYTES: Variable = Variable {
    name: "MAX_URL_BYTES",
    default: "8192",
    meaning: "longest request target; longer gets 414",
    kind: Kind::Integer {
        min: 1,
        max: MAX_URL_BYTES_LIMIT,
        unit: INTEGER,
    },
};
pub const IDLE_TIMEOUT_SECS: Variable = Variable {
    name: "IDLE_TIMEOUT_SECS",
    default: "75",
    meaning: "silence allowed on a keep-alive connection between requests",
    kind: Kind::Integer {
        min: 1,
        max: 3600,
        unit: SECONDS,
    },
};
pub const WRITE_TIMEOUT_SECS: Variable = Variable {
    name: "WRITE_TIMEOUT_SECS",
    default: "10",
    meaning: "time a response may take to reach a slow reader",
    kind: Kind::Integer {
        min: 1,
        max: 3600,
        unit: SECONDS,
    },
};
pub const MAX_CONNECTIONS: Variable = Variable {
    name: "MAX_CONNECTIONS",
    // DEFAULT_MAX_CONNECTIONS; a unit test holds the two together.
    default: "768",
    meaning: "connections open at once; more wait their turn in the backlog",
    kind: Kind::Integer {
        min: 1,
        max: 65_536,
        unit: INTEGER,
    },
};
pub const TRUSTED_PROXIES: Variable = Variable {
    name: "TRUSTED_PROXIES",
    default: "1",
    meaning: "proxies in front that append to X-Forwarded-For; 0 when clients connect directly",
    kind: Kind::Integer {
        min: 0,
        max: 16,
        unit: INTEGER,
    },
};
pub const SHUTDOWN_GRACE_SECS: Variable = Variable {
    name: "SHUTDOWN_GRACE_SECS",
    default: "10",
    meaning: "longest drain after SIGTERM or SIGINT",
    kind: Kind::Integer {
        min: 0,
        max: 3600,
        unit: SECONDS,
    },
};
pub const LOG_FORMAT: Variable = Variable {
    name: "LOG_FORMAT",
    default: "json",
    meaning: "the format of log lines",
    kind: Kind::Word(&["json", "text"]),
};
pub const LOG_LEVEL: Variable = Variable {
    name: "LOG_LEVEL",
    default: "info",
    meaning: "the least severe level logged",
    kind: Kind::Word(&["error", "warn", "info", "debug"]),
};

/// Every variable, in the order `--help` lists them.
pub const VARIABLES: [Variable; 11] = [
    PORT,
    HOST,
    WORKERS,
    MAX_URL_BYTES,
    IDLE_TIMEOUT_SECS,
    WRITE_TIMEOUT_SECS,
    MAX_CONNECTIONS,
    TRUSTED_PROXIES,
    SHUTDOWN_GRACE_SECS,
    LOG_FORMAT,
    LOG_LEVEL,
];

/// A variable that is set to something unusable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The variable's name.
    pub var: &'static str,
    /// What it held.
    pub value: String,
    /// What it should hold.
    pub expected: String,
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
        let read = Reader { lookup: &lookup };
        let host = match read.value(HOST) {
            Some(value) => value.parse::<IpAddr>().map_err(|_| HOST.error(value))?,
            None => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        };
        let seconds =
            |variable| Ok::<_, ConfigError>(Duration::from_secs(read.or_default(variable)?));
        let log_format = match read.word(LOG_FORMAT)?.unwrap_or(LOG_FORMAT.default) {
            "text" => Format::Text,
            _ => Format::Json,
        };
        let log_level = read
            .word(LOG_LEVEL)?
            .unwrap_or(LOG_LEVEL.default)
            .parse()
            .unwrap_or(Level::Info);
        Ok(Config {
            addr: SocketAddr::new(host, read.or_default(PORT)? as u16),
            // The one default that is not a number: 4 per CPU.
            workers: read
                .integer(WORKERS)?
                .map_or((4 * cpus).clamp(4, 1024), |n| n as usize),
            max_url_bytes: read.or_default(MAX_URL_BYTES)? as usize,
            idle_timeout: seconds(IDLE_TIMEOUT_SECS)?,
            write_timeout: seconds(WRITE_TIMEOUT_SECS)?,
            max_connections: read.or_default(MAX_CONNECTIONS)? as usize,
            trusted_proxies: read.or_default(TRUSTED_PROXIES)? as usize,
            shutdown_grace: seconds(SHUTDOWN_GRACE_SECS)?,
            log_format,
            log_level,
        })
    }
}

impl Variable {
    fn error(self, value: String) -> ConfigError {
        ConfigError {
            var: self.name,
            value,
            expected: self.kind.expected(),
        }
    }
}

/// Reads variables, each checked against its [`Kind`].
struct Reader<'a, F: Fn(&str) -> Option<String>> {
    lookup: &'a F,
}

impl<F: Fn(&str) -> Option<String>> Reader<'_, F> {
    fn value(&self, variable: Variable) -> Option<String> {
        (self.lookup)(variable.name)
    }

    /// A plain decimal integer within the variable's range: digits only,
    /// no sign, no spaces, so that `PORT=" 80"` is an error instead of a
    /// guess. `None` when unset.
    fn integer(&self, variable: Variable) -> Result<Option<u64>, ConfigError> {
        let Kind::Integer { min, max, .. } = variable.kind else {
            unreachable!("{} is not an integer setting", variable.name)
        };
        let Some(value) = self.value(variable) else {
            return Ok(None);
        };
        let parsed = if value.bytes().all(|b| b.is_ascii_digit()) {
            value.parse::<u64>().ok()
        } else {
            None
        };
        match parsed.filter(|n| (min..=max).contains(n)) {
            Some(n) => Ok(Some(n)),
            None => Err(variable.error(value)),
        }
    }

    /// The variable's value, or its default (the table's text, a number
    /// for every integer setting but `WORKERS`).
    fn or_default(&self, variable: Variable) -> Result<u64, ConfigError> {
        match self.integer(variable)? {
            Some(n) => Ok(n),
            None => Ok(variable.default.parse().unwrap_or_else(|_| {
                unreachable!(
                    "{}'s default is a number (a unit test says so)",
                    variable.name
                )
            })),
        }
    }

    /// One of the variable's words, exactly. `None` when unset.
    fn word(&self, variable: Variable) -> Result<Option<&'static str>, ConfigError> {
        let Kind::Word(words) = variable.kind else {
            unreachable!("{} is not a word setting", variable.name)
        };
        let Some(value) = self.value(variable) else {
            return Ok(None);
        };
        match words.iter().find(|w| **w == value) {
            Some(word) => Ok(Some(word)),
            None => Err(variable.error(value)),
        }
    }
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
    fn every_default_is_a_value_its_variable_takes() {
        for variable in VARIABLES {
            if variable.name == "WORKERS" {
                continue; // 4 per CPU, computed
            }
            assert!(
                config(&[(variable.name, variable.default)]).is_ok(),
                "{}'s default {:?} is refused",
                variable.name,
                variable.default
            );
        }
        assert_eq!(
            MAX_CONNECTIONS.default.parse::<usize>().unwrap(),
            DEFAULT_MAX_CONNECTIONS
        );
        // And the defaults are what an unset variable gives.
        let spelled: Vec<(&str, &str)> = VARIABLES
            .iter()
            .filter(|v| v.name != "WORKERS")
            .map(|v| (v.name, v.default))
            .collect();
        assert_eq!(config(&[]).unwrap(), config(&spelled).unwrap());
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
        for Variable { name: var, .. } in VARIABLES {
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
            ("MAX_URL_BYTES", "61441"),
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
        assert!(config(&[("PORT", "65535"), ("MAX_URL_BYTES", "61440")]).is_ok());
        // The message says what was expected, from the one table.
        assert_eq!(
            config(&[("MAX_URL_BYTES", "0")]).unwrap_err().to_string(),
            "invalid MAX_URL_BYTES=\"0\": expected an integer from 1 to 61440"
        );
        assert_eq!(
            config(&[("LOG_LEVEL", "x")]).unwrap_err().expected,
            "error, warn, info or debug"
        );
        assert_eq!(
            config(&[("PORT", "0")]).unwrap().addr.port(),
            0,
            "any free port"
        );
    }
}
