//! Command line: the binary takes no arguments to serve.
//!
//! Contract: `--help`/`-h` and `--version`/`-V` print and exit 0;
//! `healthcheck` probes a running server's `/healthz` and exits 0 or 1;
//! anything else is a usage error (exit code 2). Settings come from the
//! environment, listed by `--help`.

use crate::config::VARIABLES;
use std::ffi::OsString;
use std::fmt::{self, Write};

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Run the service.
    Serve,
    /// Print usage.
    Help,
    /// Print the version.
    Version,
    /// Probe the server configured by the environment; exit 0 if healthy.
    Healthcheck,
}

/// A command line that asks for nothing the binary does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UsageError {
    /// The first argument is not a command.
    Unknown(OsString),
    /// A command was followed by more.
    Unexpected(OsString),
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UsageError::Unknown(arg) => write!(f, "unknown argument {arg:?}; try --help"),
            UsageError::Unexpected(arg) => write!(f, "unexpected argument {arg:?}; try --help"),
        }
    }
}

impl std::error::Error for UsageError {}

/// Reads the arguments after the program name.
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Command, UsageError> {
    let mut args = args.into_iter();
    let command = match args.next() {
        None => return Ok(Command::Serve),
        Some(arg) => match arg.to_str() {
            Some("-h" | "--help" | "help") => Command::Help,
            Some("-V" | "--version") => Command::Version,
            Some("healthcheck") => Command::Healthcheck,
            _ => return Err(UsageError::Unknown(arg)),
        },
    };
    match args.next() {
        None => Ok(command),
        Some(extra) => Err(UsageError::Unexpected(extra)),
    }
}

/// The `--version` line.
pub fn version() -> String {
    format!("{} {}", env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
}

/// The `--help` text.
pub fn usage() -> String {
    let mut out = format!(
        "{}\n{}\n\nUsage: sre-kata [--help | --version | healthcheck]\n\n\
         Serves GET /query?param=STRING -> {{\"count\":N}}, the number of distinct\n\
         characters that appear at least twice in STRING, and GET /healthz.\n\
         SIGTERM or SIGINT drains and exits; logs are JSON lines on stdout.\n\
         `healthcheck` asks the server at HOST:PORT for /healthz and exits 0 if\n\
         it answers 200, else 1: a container health check, without curl.\n\n\
         Environment:\n",
        version(),
        env!("CARGO_PKG_DESCRIPTION"),
    );
    for variable in VARIABLES {
        // Infallible: writing to a String cannot fail.
        let _ = writeln!(
            out,
            "  {:<20} {} ({}) [default: {}]",
            variable.name,
            variable.meaning,
            variable.kind.expected(),
            variable.default
        );
    }
    out.push_str("\nExit codes: 0 after a shutdown signal, 1 if the listener fails, 2 on bad usage or configuration.\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_strs(args: &[&str]) -> Result<Command, UsageError> {
        parse(args.iter().map(OsString::from))
    }

    #[test]
    fn commands() {
        assert_eq!(parse_strs(&[]), Ok(Command::Serve));
        assert_eq!(parse_strs(&["--help"]), Ok(Command::Help));
        assert_eq!(parse_strs(&["-h"]), Ok(Command::Help));
        assert_eq!(parse_strs(&["--version"]), Ok(Command::Version));
        assert_eq!(parse_strs(&["-V"]), Ok(Command::Version));
        assert_eq!(parse_strs(&["healthcheck"]), Ok(Command::Healthcheck));
    }

    #[test]
    fn unknown_or_extra_arguments_are_errors_that_point_to_help() {
        for args in [
            &["--port"][..],
            &["serve"],
            &["--help", "x"],
            &["healthcheck", "now"],
        ] {
            let error = parse_strs(args).unwrap_err().to_string();
            assert!(error.ends_with("try --help"), "{error}");
        }
    }

    #[test]
    fn usage_lists_every_variable() {
        let text = usage();
        for variable in VARIABLES {
            assert!(text.contains(variable.name), "{}", variable.name);
            assert!(
                text.contains(&format!(
                    "({}) [default: {}]",
                    variable.kind.expected(),
                    variable.default
                )),
                "{}",
                variable.name
            );
        }
    }
}
