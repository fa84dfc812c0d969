//! Lifecycle: from serving to exit.
//!
//! Contract: [`run`] waits for the first [`Event`], logging overload as it
//! comes and goes ([`crate::overload`]). Then the server drains: `/healthz`
//! answers 503 so load balancers stop sending, and everything else, on open
//! or new connections, is still answered. The drain ends when no request
//! has been pending (read and not yet answered), arriving (part of its head
//! read) or answered, and no answer has been on its way out (the end of one
//! a slow client has not taken yet), for [`QUIET`],
//! when the grace period runs out, or at a second signal. The `exit` line
//! is the last line logged. The exit code is 0 after a signal, and 1 after a
//! listener failure, so the orchestrator restarts it.

use crate::log::Logger;
use crate::overload;
use crate::server::{Activity, Event, Server};
use crate::sys::ShutdownSignals;
use std::io;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::thread;
use std::time::{Duration, Instant};

/// How long the server must be idle before a drain counts as done. Long
/// enough for a request already on its way over an open connection to land.
pub const QUIET: Duration = Duration::from_millis(500);

/// How often a drain looks at the server's activity.
const TICK: Duration = Duration::from_millis(50);

/// How often a serving server's overload state is looked at.
const WATCH: Duration = Duration::from_secs(1);

/// Why a drain ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DrainEnd {
    /// Nothing pending, arriving, sending or answered for [`QUIET`].
    Quiet,
    /// The grace period ran out first.
    GraceExpired,
    /// A second shutdown signal cut it short.
    Interrupted,
}

impl DrainEnd {
    fn name(self) -> &'static str {
        match self {
            DrainEnd::Quiet => "quiet",
            DrainEnd::GraceExpired => "grace_expired",
            DrainEnd::Interrupted => "second_signal",
        }
    }
}

/// Tracks a drain: when it began and since when the server has been quiet.
#[derive(Debug)]
pub struct Drain {
    started: Instant,
    quiet_since: Instant,
    last: Activity,
}

impl Drain {
    /// A drain starting at `now`, with the server's activity at that moment.
    pub fn new(now: Instant, activity: Activity) -> Self {
        Drain {
            started: now,
            quiet_since: now,
            last: activity,
        }
    }

    /// Looks at the server's activity at `now` and says whether the drain is over.
    pub fn observe(
        &mut self,
        now: Instant,
        activity: Activity,
        grace: Duration,
    ) -> Option<DrainEnd> {
        let busy = activity.pending > 0 || activity.reading > 0 || activity.sending > 0;
        if busy || activity.answered != self.last.answered {
            self.quiet_since = now;
            self.last = activity;
        }
        if now.duration_since(self.quiet_since) >= QUIET {
            Some(DrainEnd::Quiet)
        } else if now.duration_since(self.started) >= grace {
            Some(DrainEnd::GraceExpired)
        } else {
            None
        }
    }
}

/// Turns shutdown signals into [`Event::Signal`]s, on a thread of their own.
pub fn forward_signals(signals: ShutdownSignals, events: Sender<Event>) -> io::Result<()> {
    thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            while let Ok(signal) = signals.wait() {
                if events.send(Event::Signal(signal)).is_err() {
                    return;
                }
            }
            // Waiting failed (nothing documented makes it): let the
            // signals reach this thread, which lives on, so that SIGTERM
            // still stops the process, if not gracefully.
            signals.unblock_here();
            loop {
                thread::park();
            }
        })
        .map(drop)
}

/// Serves until a shutdown signal or a listener failure, drains, and returns
/// the process exit code.
pub fn run(server: &Server, events: &Receiver<Event>, grace: Duration, logger: &Logger) -> u8 {
    let mut overload = overload::Watch::default();
    let first = loop {
        match events.recv_timeout(WATCH) {
            Ok(event) => break Ok(event),
            Err(RecvTimeoutError::Timeout) => {
                overload.log(Instant::now(), &server.activity(), logger);
            }
            Err(RecvTimeoutError::Disconnected) => break Err(()),
        }
    };
    // Draining first, so that once the `shutdown` line is out, /healthz
    // already fails: whoever reads the log (an operator, a test) sees the
    // service as it is.
    server.start_draining();
    let code = match first {
        Ok(Event::Signal(signal)) => {
            logger
                .info("shutdown")
                .str("signal", signal)
                .uint("grace_ms", grace.as_millis() as u64)
                .emit();
            0
        }
        Ok(Event::ListenerFailed(error)) => {
            logger
                .error("listener_failed")
                .str("error", &error.to_string())
                .str("action", "draining, then exiting with code 1 so that the orchestrator restarts the service")
                .emit();
            1
        }
        // Unreachable while the signal thread lives; treat it as a failure.
        Err(_) => 1,
    };

    let mut drain = Drain::new(Instant::now(), server.activity());
    let end = loop {
        let activity = server.activity();
        overload.log(Instant::now(), &activity, logger);
        if let Some(end) = drain.observe(Instant::now(), activity, grace) {
            break end;
        }
        match events.recv_timeout(TICK) {
            Ok(Event::Signal(_)) => break DrainEnd::Interrupted,
            Ok(Event::ListenerFailed(_)) | Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => thread::sleep(TICK),
        }
    };

    let activity = server.activity();
    overload.finish(&activity, logger);
    let line = if end == DrainEnd::Quiet {
        logger.info("exit")
    } else {
        logger.warn("exit")
    };
    line.uint("code", u64::from(code))
        .str("drain_end", end.name())
        .uint("drain_ms", drain.started.elapsed().as_millis() as u64)
        .uint("pending", activity.pending as u64)
        .uint("answered", activity.answered)
        .uint("dropped", activity.dropped)
        .emit_final();
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    fn activity(pending: usize, answered: u64) -> Activity {
        Activity {
            pending,
            answered,
            ..Activity::default()
        }
    }

    const GRACE: Duration = Duration::from_secs(10);

    #[test]
    fn an_idle_server_drains_after_the_quiet_period() {
        let t0 = Instant::now();
        let mut drain = Drain::new(t0, activity(0, 5));
        assert_eq!(drain.observe(t0, activity(0, 5), GRACE), None);
        assert_eq!(drain.observe(t0 + QUIET / 2, activity(0, 5), GRACE), None);
        assert_eq!(
            drain.observe(t0 + QUIET, activity(0, 5), GRACE),
            Some(DrainEnd::Quiet)
        );
    }

    #[test]
    fn requests_in_flight_or_answered_restart_the_quiet_period() {
        let t0 = Instant::now();
        let mut drain = Drain::new(t0, activity(0, 5));
        let t1 = t0 + QUIET / 2;
        assert_eq!(drain.observe(t1, activity(1, 5), GRACE), None);
        assert_eq!(
            drain.observe(t0 + QUIET, activity(0, 5), GRACE),
            None,
            "busy at t1"
        );
        let t2 = t1 + QUIET / 2;
        assert_eq!(
            drain.observe(t2, activity(0, 6), GRACE),
            None,
            "answered one more"
        );
        assert_eq!(
            drain.observe(t2 + QUIET, activity(0, 6), GRACE),
            Some(DrainEnd::Quiet)
        );
    }

    #[test]
    fn a_request_head_on_its_way_holds_the_drain() {
        let t0 = Instant::now();
        let mut drain = Drain::new(t0, activity(0, 0));
        let arriving = Activity {
            reading: 1,
            ..activity(0, 0)
        };
        assert_eq!(drain.observe(t0 + QUIET, arriving, GRACE), None);
        assert_eq!(drain.observe(t0 + QUIET * 2, arriving, GRACE), None);
        assert_eq!(
            drain.observe(t0 + QUIET * 4, activity(0, 0), GRACE),
            Some(DrainEnd::Quiet)
        );
    }

    #[test]
    fn a_busy_server_drains_when_the_grace_period_ends() {
        let t0 = Instant::now();
        let mut drain = Drain::new(t0, activity(0, 0));
        for tenth in 1..100 {
            let now = t0 + GRACE * tenth / 100;
            assert_eq!(drain.observe(now, activity(1, 0), GRACE), None);
        }
        assert_eq!(
            drain.observe(t0 + GRACE, activity(1, 0), GRACE),
            Some(DrainEnd::GraceExpired)
        );
    }

    #[test]
    fn zero_grace_ends_at_once() {
        let t0 = Instant::now();
        let mut drain = Drain::new(t0, activity(0, 0));
        assert_eq!(
            drain.observe(t0, activity(0, 0), Duration::ZERO),
            Some(DrainEnd::GraceExpired)
        );
    }
}
