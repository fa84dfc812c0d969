//! sre-kata patch: the open connections, under a cap, shed under overload
//! the way Envoy's overload manager does it.
//!
//! Upstream accepted every connection and gave each a thread, so a flood of
//! idle connections took memory, threads and descriptors until the process
//! ran out. Here:
//! - at most `max` connections are open. The accept loop takes a
//!   [`Seat`] before it accepts; while none is free it does not accept, and
//!   new connections wait in the kernel's backlog;
//! - at the cap, the connections idle the longest (or whose request head is
//!   past its deadline) are closed to make room, as many as wait in the
//!   backlog (up to [`MAX_LEAVING`] at a time), so a flood of idle
//!   connections cannot lock new clients out;
//! - from [`OVERLOAD_PERCENT`] of the cap on, connections idle for
//!   [`OVERLOAD_IDLE`] are closed, instead of at the idle timeout;
//! - a connection with part of a head counts as active within
//!   [`HEAD_TIMEOUT`] of its first byte, and as idle after.
//!
//! A connection busy with a request is never shed.

use crate::util::conn::{Conn, Phase, Seen};
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

/// The most connections shed at once to admit those waiting: each leaves
/// when its thread sees the end, so shedding several at once lets a flood's
/// backlog drain that much faster.
pub const MAX_LEAVING: usize = 64;

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
    /// Times overload began, since start: an episode shorter than the
    /// application's look at `overloaded` still shows here.
    pub(crate) episodes: AtomicU64,
}

struct Slots {
    entries: Vec<Option<Arc<Conn>>>,
    free: Vec<usize>,
    taken: usize,
    /// Shed connections whose seats are not free yet.
    leaving: usize,
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
                leaving: 0,
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

    /// The registry's clock, for its connections.
    pub(crate) fn epoch(&self) -> Instant {
        self.epoch
    }

    fn lock(&self) -> MutexGuard<'_, Slots> {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits for a free place for one of the `waiting` connections in the
    /// backlog. While there is none, sheds the longest-idle connections, as
    /// many as wait (up to [`MAX_LEAVING`] leaving at once); `None` once
    /// `closing` is set. Never spins: with nothing to shed it waits for a
    /// connection to end.
    pub(crate) fn take_seat(
        self: &Arc<Self>,
        closing: &AtomicBool,
        waiting: usize,
    ) -> Option<Seat> {
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
            // Full: make room for those waiting, counting those already
            // on their way out.
            let wanted = waiting.clamp(1, MAX_LEAVING);
            if slots.leaving < wanted {
                let now = self.now_ms();
                let shed = self.shed_longest_idle(&slots, now, wanted - slots.leaving);
                slots.leaving += shed;
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
        let mut slots = self.lock();
        let now = self.now_ms();
        let idle_ms = OVERLOAD_IDLE.as_millis() as u64;
        let mut shed = 0;
        for conn in slots.entries.iter().flatten() {
            if let Some((_, seen, why)) = sheddable(conn, now, idle_ms) {
                if conn.shed(seen) {
                    self.count(why);
                    shed += 1;
                }
            }
        }
        slots.leaving += shed;
    }

    /// Sheds up to `count` of the connections idle the longest; returns how
    /// many it shed.
    fn shed_longest_idle(&self, slots: &Slots, now_ms: u64, count: usize) -> usize {
        let mut candidates: Vec<(u64, &Conn, Seen, Shed)> = slots
            .entries
            .iter()
            .flatten()
            .filter_map(|conn| {
                let (since, seen, why) = sheddable(conn, now_ms, 0)?;
                Some((since, &**conn, seen, why))
            })
            .collect();
        if candidates.len() > count {
            candidates.select_nth_unstable_by_key(count, |(since, ..)| *since);
            candidates.truncate(count);
        }
        let mut shed = 0;
        for (_, conn, seen, why) in candidates {
            if conn.shed(seen) {
                self.count(why);
                shed += 1;
            }
        }
        shed
    }

    /// How many connections have part of a request head (requests on
    /// their way in), and how many are sending the end of an answer (on
    /// their way out): what a draining server waits for.
    pub(crate) fn in_transit(&self) -> (usize, usize) {
        let slots = self.lock();
        let mut reading = 0;
        let mut sending = 0;
        for conn in slots.entries.iter().flatten() {
            match conn.phase() {
                Phase::Head { .. } => reading += 1,
                Phase::Sending { .. } => sending += 1,
                _ => {}
            }
        }
        (reading, sending)
    }

    /// Ends every open connection: the server is going away.
    pub(crate) fn end_all(&self) {
        for conn in self.lock().entries.iter().flatten() {
            conn.end();
        }
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
            if !self.load.overloaded.swap(true, Ordering::Relaxed) {
                self.load.episodes.fetch_add(1, Ordering::Relaxed);
            }
        } else if open < self.calm_below {
            self.load.overloaded.store(false, Ordering::Relaxed);
        }
    }
}

/// Whether `conn` may be shed now, since when, and why: idle for at least
/// `idle_ms`, or with a head older than [`HEAD_TIMEOUT`]. Never while a
/// request is out or an answer is on its way.
fn sheddable(conn: &Conn, now_ms: u64, idle_ms: u64) -> Option<(u64, Seen, Shed)> {
    let (phase, seen) = conn.seen();
    match phase {
        Phase::Idle { since_ms } if now_ms.saturating_sub(since_ms) >= idle_ms => {
            Some((since_ms, seen, Shed::Idle))
        }
        Phase::Head { since_ms }
            if now_ms.saturating_sub(since_ms) >= HEAD_TIMEOUT.as_millis() as u64 =>
        {
            Some((since_ms, seen, Shed::Head))
        }
        _ => None,
    }
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
        let left = slots.entries[self.index].take();
        if left.is_some_and(|conn| conn.phase() == Phase::Shed) {
            slots.leaving = slots.leaving.saturating_sub(1);
        }
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
            Arc::new(Conn::for_current_thread(server.into(), registry.epoch())),
            client,
        )
    }

    fn is_shed(conn: &Conn) -> bool {
        conn.phase() == Phase::Shed
    }

    #[test]
    fn at_the_cap_the_longest_idle_connection_makes_room() {
        let registry = Arc::new(Registry::new(2));
        let closing = AtomicBool::new(false);
        let first = registry.take_seat(&closing, 1).unwrap();
        let (old, _c1) = conn(&registry);
        first.attach(Arc::clone(&old));
        let second = registry.take_seat(&closing, 1).unwrap();
        let (busy, _c2) = conn(&registry);
        assert!(busy.hand_out());
        second.attach(Arc::clone(&busy));
        assert!(registry.load.overloaded.load(Ordering::Relaxed));

        // Full: the idle one is shed, never the busy one; its seat frees
        // when its thread ends.
        let waiter = {
            let registry = Arc::clone(&registry);
            std::thread::spawn(move || registry.take_seat(&AtomicBool::new(false), 1).is_some())
        };
        while !is_shed(&old) {
            std::thread::yield_now();
        }
        assert!(!busy.is_ending());
        drop(first);
        assert!(waiter.join().unwrap());
        assert_eq!(registry.load.shed_idle.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn a_full_registry_sheds_as_many_as_wait_oldest_first() {
        let registry = Arc::new(Registry::new(4));
        let closing = AtomicBool::new(false);
        let mut held = Vec::new();
        for since_ms in [40, 10, 30, 20] {
            let seat = registry.take_seat(&closing, 1).unwrap();
            let (conn, client) = conn(&registry);
            conn.set_phase(Phase::Idle { since_ms });
            seat.attach(Arc::clone(&conn));
            held.push((seat, conn, client));
        }
        let waiter = {
            let registry = Arc::clone(&registry);
            std::thread::spawn(move || registry.take_seat(&AtomicBool::new(false), 2).is_some())
        };
        while registry.load.shed_idle.load(Ordering::Relaxed) < 2 {
            std::thread::yield_now();
        }
        let shed: Vec<bool> = held.iter().map(|(_, c, _)| is_shed(c)).collect();
        assert_eq!(shed, [false, true, false, true], "the two idle longest");
        held.remove(1);
        assert!(waiter.join().unwrap());
        assert_eq!(
            registry.load.shed_idle.load(Ordering::Relaxed),
            2,
            "no more than asked"
        );
    }

    #[test]
    fn a_head_counts_as_active_until_its_deadline_and_sending_never_idles() {
        let registry = Registry::new(4);
        let (conn, _client) = conn(&registry);
        conn.set_phase(Phase::Head { since_ms: 1_000 });
        let deadline = 1_000 + HEAD_TIMEOUT.as_millis() as u64;
        assert_eq!(sheddable(&conn, deadline - 1, 0), None);
        assert!(matches!(
            sheddable(&conn, deadline, 0),
            Some((1_000, _, Shed::Head))
        ));
        conn.set_phase(Phase::Sending { since_ms: 0 });
        assert_eq!(sheddable(&conn, u64::MAX / 2, 0), None);
        conn.set_phase(Phase::Busy);
        assert_eq!(sheddable(&conn, u64::MAX / 2, 0), None);
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
        assert!(overloaded(9));
        assert!(overloaded(6), "hysteresis");
        assert!(!overloaded(5));
        assert!(overloaded(8));
        assert_eq!(registry.load.episodes.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn a_closing_server_stops_waiting() {
        let registry = Arc::new(Registry::new(1));
        let _seat = registry.take_seat(&AtomicBool::new(false), 1).unwrap();
        assert!(registry.take_seat(&AtomicBool::new(true), 1).is_none());
    }
}
