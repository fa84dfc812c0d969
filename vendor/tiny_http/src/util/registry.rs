//! sre-kata patch: the open connections, under a cap, shed under overload
//! the way Envoy's overload manager does it.
//!
//! Upstream accepted every connection and gave each a thread, so a flood of
//! idle connections took memory, threads and descriptors until the process
//! ran out. Here:
//! - at most `max` connections are open. The accept loop takes a
//!   [`Seat`] before it accepts; while none is free it does not accept, and
//!   new connections wait in the kernel's backlog;
//! - at the cap, the connection idle the longest (or whose request head is
//!   past its deadline) is closed to make room, so a flood of idle
//!   connections cannot lock new clients out;
//! - from [`OVERLOAD_PERCENT`] of the cap on, connections idle for
//!   [`OVERLOAD_IDLE`] are closed, instead of at the idle timeout;
//! - a connection with part of a head counts as active within
//!   [`HEAD_TIMEOUT`] of its first byte, and as idle after.
//!
//! A connection busy with a request is never shed.

use crate::util::conn::{Conn, Phase};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// From this share of the cap on, the server is overloaded.
pub const OVERLOAD_PERCENT: usize = 80;

/// Below this share of the cap, it is not overloaded any more.
pub const CALM_PERCENT: usize = 60;

/// How long a keep-alive connection may idle while the server is overloaded.
pub const OVERLOAD_IDLE: Duration = Duration::from_secs(1);

/// How long a request head may take to arrive, from its first byte.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(10);

/// How often a full registry looks again for a connection to shed.
const RECHECK: Duration = Duration::from_millis(100);

/// Why a connection was shed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shed {
    Idle,
    Head,
}

/// The registry's figures, for [`crate::Stats`].
#[derive(Debug, Default)]
pub(crate) struct Load {
    pub(crate) open: AtomicUsize,
    pub(crate) overloaded: AtomicBool,
    pub(crate) shed_idle: AtomicU64,
    pub(crate) shed_heads: AtomicU64,
}

struct Slots {
    entries: Vec<Option<Arc<Conn>>>,
    free: Vec<usize>,
    taken: usize,
}

pub(crate) struct Registry {
    slots: Mutex<Slots>,
    freed: Condvar,
    max: usize,
    overload_at: usize,
    calm_below: usize,
    epoch: Instant,
    pub(crate) load: Load,
}

/// A place among the open connections, held from before `accept` to the
/// end of the connection's thread; dropping it frees the place.
pub(crate) struct Seat {
    registry: Arc<Registry>,
    index: usize,
}

impl Registry {
    /// A registry for at most `max` connections (at least 1).
    pub(crate) fn new(max: usize) -> Registry {
        let max = max.max(1);
        Registry {
            slots: Mutex::new(Slots {
                entries: Vec::new(),
                free: Vec::new(),
                taken: 0,
            }),
            freed: Condvar::new(),
            max,
            overload_at: (max * OVERLOAD_PERCENT).div_ceil(100),
            calm_below: (max * CALM_PERCENT).div_ceil(100),
            epoch: Instant::now(),
            load: Load::default(),
        }
    }

    pub(crate) fn max(&self) -> usize {
        self.max
    }

    /// Milliseconds since the registry started: the clock of [`Phase`].
    pub(crate) fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    fn lock(&self) -> MutexGuard<'_, Slots> {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits for a free place, shedding the longest-idle connection while
    /// there is none; `None` once `closing` is set. Never spins: with
    /// nothing to shed it waits for a connection to end.
    pub(crate) fn take_seat(self: &Arc<Self>, closing: &AtomicBool) -> Option<Seat> {
        let mut slots = self.lock();
        loop {
            if closing.load(Ordering::Relaxed) {
                return None;
            }
            if slots.taken < self.max {
                let index = match slots.free.pop() {
                    Some(index) => index,
                    None => {
                        slots.entries.push(None);
                        slots.entries.len() - 1
                    }
                };
                slots.taken += 1;
                self.note_open(slots.taken);
                return Some(Seat {
                    registry: Arc::clone(self),
                    index,
                });
            }
            // Full. One connection leaving at a time is enough to admit one.
            let leaving = slots
                .entries
                .iter()
                .flatten()
                .any(|conn| conn.phase() == Phase::Shed);
            if !leaving {
                let now = self.now_ms();
                if let Some((conn, seen, why)) = longest_idle(&slots, now, 0) {
                    if conn.shed(seen) {
                        self.count(why);
                    }
                }
            }
            slots = self
                .freed
                .wait_timeout(slots, RECHECK)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// While overloaded, closes every connection idle for
    /// [`OVERLOAD_IDLE`] and every head past [`HEAD_TIMEOUT`].
    pub(crate) fn sweep_if_overloaded(&self) {
        if !self.load.overloaded.load(Ordering::Relaxed) {
            return;
        }
        let slots = self.lock();
        let now = self.now_ms();
        let idle_ms = OVERLOAD_IDLE.as_millis() as u64;
        for conn in slots.entries.iter().flatten() {
            if let Some((seen, why)) = sheddable(conn, now, idle_ms) {
                if conn.shed(seen) {
                    self.count(why);
                }
            }
        }
    }

    /// How many connections have part of a request head: requests on
    /// their way, which a draining server waits for.
    pub(crate) fn reading_heads(&self) -> usize {
        self.lock()
            .entries
            .iter()
            .flatten()
            .filter(|conn| matches!(conn.phase(), Phase::Head { .. }) && !conn.is_busy())
            .count()
    }

    fn count(&self, why: Shed) {
        let counter = match why {
            Shed::Idle => &self.load.shed_idle,
            Shed::Head => &self.load.shed_heads,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn note_open(&self, open: usize) {
        self.load.open.store(open, Ordering::Relaxed);
        if open >= self.overload_at {
            self.load.overloaded.store(true, Ordering::Relaxed);
        } else if open < self.calm_below {
            self.load.overloaded.store(false, Ordering::Relaxed);
        }
    }
}

/// Whether `conn` may be shed now, and why: idle for at least `idle_ms`, or
/// with a head older than [`HEAD_TIMEOUT`]; never while busy.
fn sheddable(conn: &Conn, now_ms: u64, idle_ms: u64) -> Option<(Phase, Shed)> {
    if conn.is_busy() {
        return None;
    }
    match conn.phase() {
        seen @ Phase::Idle { since_ms } if now_ms.saturating_sub(since_ms) >= idle_ms => {
            Some((seen, Shed::Idle))
        }
        seen @ Phase::Head { since_ms }
            if now_ms.saturating_sub(since_ms) >= HEAD_TIMEOUT.as_millis() as u64 =>
        {
            Some((seen, Shed::Head))
        }
        _ => None,
    }
}

/// The sheddable connection that has waited longest.
fn longest_idle(slots: &Slots, now_ms: u64, idle_ms: u64) -> Option<(&Conn, Phase, Shed)> {
    slots
        .entries
        .iter()
        .flatten()
        .filter_map(|conn| sheddable(conn, now_ms, idle_ms).map(|(seen, why)| (&**conn, seen, why)))
        .min_by_key(|(_, seen, _)| match seen {
            Phase::Idle { since_ms } | Phase::Head { since_ms } => *since_ms,
            Phase::Shed => u64::MAX,
        })
}

impl Seat {
    /// Makes the connection visible to shedding.
    pub(crate) fn attach(&self, conn: Arc<Conn>) {
        self.registry.lock().entries[self.index] = Some(conn);
    }

    pub(crate) fn registry(&self) -> &Registry {
        &self.registry
    }
}

impl Drop for Seat {
    fn drop(&mut self) {
        let mut slots = self.registry.lock();
        slots.entries[self.index] = None;
        slots.free.push(self.index);
        slots.taken -= 1;
        self.registry.note_open(slots.taken);
        drop(slots);
        self.registry.freed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};

    fn conn(registry: &Registry) -> (Arc<Conn>, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        (
            Arc::new(Conn::for_current_thread(server.into(), registry.now_ms())),
            client,
        )
    }

    #[test]
    fn at_the_cap_the_longest_idle_connection_makes_room() {
        let registry = Arc::new(Registry::new(2));
        let closing = AtomicBool::new(false);
        let first = registry.take_seat(&closing).unwrap();
        let (old, _c1) = conn(&registry);
        old.idle(0);
        first.attach(Arc::clone(&old));
        let second = registry.take_seat(&closing).unwrap();
        let (busy, _c2) = conn(&registry);
        busy.hand_out();
        second.attach(Arc::clone(&busy));
        assert!(registry.load.overloaded.load(Ordering::Relaxed));

        // Full: the idle one is shed, never the busy one; its seat frees
        // when its thread ends.
        let waiter = {
            let registry = Arc::clone(&registry);
            std::thread::spawn(move || registry.take_seat(&AtomicBool::new(false)).is_some())
        };
        while old.phase() != Phase::Shed {
            std::thread::yield_now();
        }
        assert!(!busy.is_ending());
        drop(first);
        assert!(waiter.join().unwrap());
        assert_eq!(registry.load.shed_idle.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn a_head_counts_as_active_until_its_deadline() {
        let registry = Registry::new(4);
        let (conn, _client) = conn(&registry);
        assert!(conn.head_started(1_000));
        let deadline = 1_000 + HEAD_TIMEOUT.as_millis() as u64;
        assert_eq!(sheddable(&conn, deadline - 1, 0), None);
        assert_eq!(
            sheddable(&conn, deadline, 0),
            Some((Phase::Head { since_ms: 1_000 }, Shed::Head))
        );
    }

    #[test]
    fn overload_starts_at_its_share_of_the_cap_and_ends_below_the_calm_share() {
        let registry = Registry::new(10);
        let overloaded = |open| {
            registry.note_open(open);
            registry.load.overloaded.load(Ordering::Relaxed)
        };
        assert!(!overloaded(7));
        assert!(overloaded(8));
        assert!(overloaded(6), "hysteresis");
        assert!(!overloaded(5));
    }

    #[test]
    fn a_closing_server_stops_waiting() {
        let registry = Arc::new(Registry::new(1));
        let _seat = registry.take_seat(&AtomicBool::new(false)).unwrap();
        assert!(registry.take_seat(&AtomicBool::new(true)).is_none());
    }
}
