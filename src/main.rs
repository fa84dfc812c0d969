//! Wires the modules together: arguments, configuration, logging, signals,
//! the server, and the exit code. Nothing here is worth testing alone; the
//! integration tests run this binary.

use sre_kata::cli::{self, Command};
use sre_kata::config::Config;
use sre_kata::lifecycle;
use sre_kata::log::{self, Logger};
use sre_kata::route::route;
use sre_kata::server::{self, Server};
use sre_kata::sys::{self, ShutdownSignals};
use std::process::ExitCode;
use std::sync::mpsc;

fn main() -> ExitCode {
    sre_kata::alloc::tune();
    match cli::parse(std::env::args_os().skip(1)) {
        Ok(Command::Serve) => {}
        Ok(Command::Help) => {
            print!("{}", cli::usage());
            return ExitCode::SUCCESS;
        }
        Ok(Command::Version) => {
            println!("{}", cli::version());
            return ExitCode::SUCCESS;
        }
        Ok(Command::Healthcheck) => return healthcheck(),
        Err(message) => {
            eprintln!("sre-kata: {message}");
            return ExitCode::from(2);
        }
    }
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("sre-kata: {error}");
            return ExitCode::from(2);
        }
    };
    // Before any thread starts (the log writer is the first), so that every
    // thread inherits the mask and only the signal thread takes them.
    let signals = ShutdownSignals::block();
    let logger = Logger::stdout(config.log_format, config.log_level);
    // On every way out of main, panics included: the queued lines are
    // written (for as long as stdout takes them) before the process ends.
    let _finish = FinishLog(logger.clone());
    log::capture_library_logs(logger.clone());
    install_panic_logger(logger.clone());
    let signals = match signals {
        Ok(signals) => signals,
        Err(error) => return fail(&logger, "signals", &error),
    };
    let open_files = match sys::raise_open_files_limit() {
        Ok(limit) => limit,
        Err(error) => {
            logger
                .warn("open_files_limit")
                .str("error", &error.to_string())
                .emit();
            0
        }
    };
    let listener = match server::bind(config.addr, config.idle_timeout, config.write_timeout) {
        Ok(listener) => listener,
        Err(error) => return fail(&logger, "bind", &error),
    };
    let (events, incoming) = mpsc::channel();
    if let Err(error) = lifecycle::forward_signals(signals, events.clone()) {
        return fail(&logger, "signals", &error);
    }
    let max_url_bytes = config.max_url_bytes;
    let handler: Box<server::Handler> =
        Box::new(move |head, health| route(head, health, max_url_bytes));
    let settings = server::Settings {
        workers: config.workers,
        max_connections: server::connection_cap(config.max_connections, open_files),
        idle_timeout: config.idle_timeout,
        write_timeout: config.write_timeout,
        trusted_proxies: config.trusted_proxies,
    };
    let server = match Server::start(listener, settings, logger.clone(), handler, events) {
        Ok(server) => server,
        Err(error) => return fail(&logger, "start", &error),
    };

    logger
        .info("start")
        .str("version", env!("CARGO_PKG_VERSION"))
        .str("addr", &server.local_addr().to_string())
        .uint("workers", config.workers as u64)
        .uint("max_url_bytes", config.max_url_bytes as u64)
        .uint("idle_timeout_secs", config.idle_timeout.as_secs())
        .uint("write_timeout_secs", config.write_timeout.as_secs())
        .uint("max_connections", settings.max_connections as u64)
        .uint("trusted_proxies", config.trusted_proxies as u64)
        .uint("shutdown_grace_secs", config.shutdown_grace.as_secs())
        .uint("open_files_limit", open_files)
        .uint("pid", u64::from(std::process::id()))
        .emit();

    ExitCode::from(lifecycle::run(
        &server,
        &incoming,
        config.shutdown_grace,
        &logger,
    ))
}

/// Probes the server the environment configures. Exit codes follow the
/// container health-check convention: 0 healthy, 1 not, for any reason.
fn healthcheck() -> ExitCode {
    let unhealthy = match Config::from_env() {
        Err(error) => error.to_string(),
        Ok(config) => match sre_kata::healthcheck::probe(
            sre_kata::healthcheck::target(config.addr),
            std::time::Duration::from_secs(2),
        ) {
            Ok(()) => {
                println!("healthy");
                return ExitCode::SUCCESS;
            }
            Err(reason) => reason.to_string(),
        },
    };
    println!("unhealthy: {unhealthy}");
    ExitCode::FAILURE
}

/// How long the last log lines may take to be written at exit.
const LOG_FINISH: std::time::Duration = std::time::Duration::from_secs(2);

/// Writes the queued log lines when main ends, however it ends.
struct FinishLog(Logger);

impl Drop for FinishLog {
    fn drop(&mut self) {
        self.0.finish(LOG_FINISH);
    }
}

/// Logs a start-up failure and returns exit code 1.
fn fail(logger: &Logger, stage: &str, error: &std::io::Error) -> ExitCode {
    logger
        .error("startup_failed")
        .str("stage", stage)
        .str("error", &error.to_string())
        .emit();
    ExitCode::FAILURE
}

/// Sends panics from any thread to the log as one `panic` line, instead of
/// free text on stderr.
fn install_panic_logger(logger: Logger) {
    std::panic::set_hook(Box::new(move |info| {
        let message = server::panic_message(info.payload());
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        logger
            .error("panic")
            .str("thread", std::thread::current().name().unwrap_or("unnamed"))
            .str("message", message)
            .str("location", &location)
            .emit();
    }));
}
