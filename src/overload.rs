//! Overload reports: the server's overload state, as log lines.
//!
//! Contract: while connections are near the cap, tiny_http sheds idle ones
//! (vendor/tiny_http/PATCHES.md). [`Watch::observe`] turns that state into
//! `overload` lines: `state` `start` when it begins and `stop` when it ends,
//! each with the open connections, the cap, and since the previous line the
//! connections shed and the overload episodes begun. An episode that began
//! and ended between two looks still shows, as a `stop` line with its count.
//! Lines are at least [`MIN_GAP`] apart, so a server at the edge cannot
//! flood its own log; a change within the gap is reported when the gap is
//! over, if it still holds, and [`Watch::finish`] reports what is left
//! before the process exits, gap or not.

use crate::log::Logger;
use crate::server::Activity;
use std::time::{Duration, Instant};

/// The least time between two `overload` lines.
pub const MIN_GAP: Duration = Duration::from_secs(10);

/// What an `overload` line says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    /// True when overload starts, false when it stops.
    pub overloaded: bool,
    /// Connections open.
    pub connections: usize,
    /// The cap.
    pub max_connections: usize,
    /// Idle connections shed since the previous line.
    pub shed_idle: u64,
    /// Slow heads shed since the previous line.
    pub shed_heads: u64,
    /// Connections released since the previous line: ended after their
    /// answer, so that others could get in.
    pub released: u64,
    /// Overload episodes begun since the previous line.
    pub episodes: u64,
}

/// The reported state, and when it was last reported.
#[derive(Debug, Default)]
pub struct Watch {
    overloaded: bool,
    last_line: Option<Instant>,
    shed_idle: u64,
    shed_heads: u64,
    released: u64,
    episodes: u64,
}

impl Watch {
    /// Looks at the server at `now`: a report if its overload state changed
    /// (or an episode came and went) and the last line is at least
    /// [`MIN_GAP`] old.
    pub fn observe(&mut self, now: Instant, activity: &Activity) -> Option<Report> {
        if self
            .last_line
            .is_some_and(|last| now.duration_since(last) < MIN_GAP)
        {
            return None;
        }
        let report = self.pending(activity)?;
        self.last_line = Some(now);
        Some(report)
    }

    /// The report still owed at exit, whatever the gap.
    pub fn last_report(&mut self, activity: &Activity) -> Option<Report> {
        self.pending(activity)
    }

    /// A report of what changed since the last one, if anything did, and
    /// takes it as reported.
    fn pending(&mut self, activity: &Activity) -> Option<Report> {
        let missed = activity.overload_episodes > self.episodes && !self.overloaded;
        if activity.overloaded == self.overloaded && !missed {
            return None;
        }
        let report = Report {
            overloaded: activity.overloaded,
            connections: activity.connections,
            max_connections: activity.max_connections,
            shed_idle: activity.shed_idle - self.shed_idle,
            shed_heads: activity.shed_heads - self.shed_heads,
            released: activity.released - self.released,
            episodes: activity.overload_episodes - self.episodes,
        };
        self.overloaded = activity.overloaded;
        self.shed_idle = activity.shed_idle;
        self.shed_heads = activity.shed_heads;
        self.released = activity.released;
        self.episodes = activity.overload_episodes;
        Some(report)
    }

    /// Observes, and logs the report if there is one.
    pub fn log(&mut self, now: Instant, activity: &Activity, logger: &Logger) {
        if let Some(report) = self.observe(now, activity) {
            write(&report, logger);
        }
    }

    /// Logs what is still owed before the process exits: a `stop` for an
    /// overload whose end fell within the gap, or episodes not yet told.
    pub fn finish(&mut self, activity: &Activity, logger: &Logger) {
        let calm = Activity {
            overloaded: false,
            ..*activity
        };
        if let Some(report) = self.last_report(&calm) {
            write(&report, logger);
        }
    }
}

fn write(report: &Report, logger: &Logger) {
    let line = if report.overloaded {
        logger.warn("overload").str("state", "start")
    } else {
        logger.info("overload").str("state", "stop")
    };
    line.uint("connections", report.connections as u64)
        .uint("max_connections", report.max_connections as u64)
        .uint("shed_idle", report.shed_idle)
        .uint("shed_heads", report.shed_heads)
        .uint("released", report.released)
        .uint("episodes", report.episodes)
        .emit();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn activity(overloaded: bool, shed_idle: u64, episodes: u64) -> Activity {
        Activity {
            connections: if overloaded { 900 } else { 100 },
            max_connections: 1000,
            overloaded,
            shed_idle,
            overload_episodes: episodes,
            ..Activity::default()
        }
    }

    #[test]
    fn start_and_stop_are_reported_once_each_with_what_was_shed() {
        let t0 = Instant::now();
        let mut watch = Watch::default();
        assert_eq!(watch.observe(t0, &activity(false, 0, 0)), None);
        let start = watch.observe(t0, &activity(true, 3, 1)).unwrap();
        assert!(start.overloaded);
        assert_eq!(
            (start.connections, start.shed_idle, start.episodes),
            (900, 3, 1)
        );
        assert_eq!(
            watch.observe(t0 + MIN_GAP * 2, &activity(true, 50, 1)),
            None
        );
        let stop = watch
            .observe(t0 + MIN_GAP * 3, &activity(false, 70, 1))
            .unwrap();
        assert!(!stop.overloaded);
        assert_eq!(
            (stop.shed_idle, stop.episodes),
            (67, 0),
            "since the start line"
        );
    }

    #[test]
    fn lines_are_at_least_the_gap_apart() {
        let t0 = Instant::now();
        let mut watch = Watch::default();
        assert!(watch.observe(t0, &activity(true, 0, 1)).is_some());
        let soon = t0 + MIN_GAP / 2;
        assert_eq!(
            watch.observe(soon, &activity(false, 0, 1)),
            None,
            "too soon"
        );
        assert_eq!(
            watch.observe(soon, &activity(true, 0, 1)),
            None,
            "no change"
        );
        let later = t0 + MIN_GAP;
        assert!(watch.observe(later, &activity(false, 0, 1)).is_some());
    }

    #[test]
    fn an_episode_between_two_looks_is_reported() {
        let t0 = Instant::now();
        let mut watch = Watch::default();
        // Began and ended between looks: calm both times, one episode more.
        let brief = watch.observe(t0, &activity(false, 12, 1)).unwrap();
        assert!(!brief.overloaded);
        assert_eq!((brief.episodes, brief.shed_idle), (1, 12));
        assert_eq!(watch.observe(t0 + MIN_GAP, &activity(false, 12, 1)), None);
    }

    #[test]
    fn what_is_owed_at_exit_is_reported_whatever_the_gap() {
        let t0 = Instant::now();
        let mut watch = Watch::default();
        assert!(watch.observe(t0, &activity(true, 0, 1)).is_some());
        // Overload ends within the gap; the process exits before it is over.
        assert_eq!(watch.observe(t0, &activity(false, 5, 1)), None);
        let last = watch.last_report(&activity(false, 5, 1)).unwrap();
        assert!(!last.overloaded);
        assert_eq!(last.shed_idle, 5);
        assert_eq!(watch.last_report(&activity(false, 5, 1)), None, "once");
    }
}
