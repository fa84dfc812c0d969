//! sre-kata patch: the open connections, under a cap, and what gives way
//! under pressure, the way Envoy's overload manager does it.
//!
//! Upstream accepted every connection and gave each a thread, so a flood of
//! idle connections took memory, threads and descriptors until the process
//! ran out. Here at most `max` connections are open. The accept loop takes
//! a [`Seat`] before it accepts; while none is free it does not accept, and
//! new connections wait in the kernel's backlog until one is.
//!
//! What may give way, and when, is one function of a connection's
//! [`Phase`] and the server's [`Pressure`]: [`verdict`].
//!
//! | Phase | Overloaded (from [`OVERLOAD_PERCENT`] of the cap) | Full (at the cap, with connections waiting) |
//! |---|---|---|
//! | `Waiting` (idle) | shed once idle [`OVERLOAD_IDLE`] | shed once idle [`FULL_GRACE`], else released |
//! | `Reading` (part of a head) | kept ([`HEAD_TIMEOUT`] answers it 408) | shed once its head is [`FULL_GRACE`] old (oldest first), else released |
//! | `Ready`, `Out` before its answer (nothing read ahead) | kept | released |
//! | `Out` answering, `Closing` | kept | kept |
//!
//! Below [`OVERLOAD_PERCENT`] nothing is judged: the idle timeout and
//! [`HEAD_TIMEOUT`] end what must end.
//!
//! To *shed* is to close now, and only a connection with no request read
//! is shed. To *release* is to answer what the connection has with
//! `Connection: close` and end it then: nothing is dropped, and busy
//! clients above the cap take turns instead of being cut off. At the cap,
//! as many make room as connections wait in the backlog (up to
//! [`MAX_LEAVING`] on their way out at once), those to shed first, then
//! those to release, the longest-seated first.

use crate::util::connection::{Ahead, Connection, Phase, Seen};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// From this share of the cap on, the server is overloaded.
pub const OVERLOAD_PERCENT: usize = 80;

/// Below this share of the cap, it is not overloaded any more.
pub const CALM_PERCENT: usize = 60;

/// How long a keep-alive connection may idle while the server is
/// overloaded.
pub const OVERLOAD_IDLE: Duration = Duration::from_secs(1);

/// How long a request head may take to arrive, from its first byte.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(10);

/// At the cap, with connections waiting: how long a connection may idle,
/// or take over its head, before it is closed to make room. A client's
/// head arrives in one round trip; behind a load balancer, in one packet.
pub const FULL_GRACE: Duration = Duration::from_millis(250);

/// How often a full registry looks again for connections to make room.
const RECHECK: Duration = Duration::from_millis(50);

/// The most connections on their way out at once to admit those waiting:
/// each leaves when its thread sees the end, so several at once let a
/// backlog drain that much faster.
pub const MAX_LEAVING: usize = 64;

/// How hard the server is pressed, when it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pressure {
    /// From [`OVERLOAD_PERCENT`] of the cap, until below [`CALM_PERCENT`].
    Overloaded,
    /// At the cap, with connections waiting in the backlog.
    Full,
}

/// Why a connection was shed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shed {
    Idle,
    Head,
}

/// What a connection must do to make room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Keep,
    /// Close now; `since_ms` orders who goes first (oldest first).
    Shed {
        why: Shed,
        since_ms: u64,
    },
    /// Answer what it has, and close then.
    Release,
}

/// What `phase` must do at `now_ms` under `pressure`: the module's table.
pub(crate) fn verdict(phase: Phase, now_ms: u64, pressure: Pressure) -> Verdict {
    let age = |since_ms: u64| Duration::from_millis(now_ms.saturating_sub(since_ms));
    match (phase, pressure) {
        (Phase::Waiting { since_ms, .. }, Pressure::Overloaded)
            if age(since_ms) >= OVERLOAD_IDLE =>
        {
            Verdict::Shed {
                why: Shed::Idle,
                since_ms,
            }
        }
        (Phase::Waiting { since_ms, .. }, Pressure::Full) if age(since_ms) >= FULL_GRACE => {
            Verdict::Shed {
                why: Shed::Idle,
                since_ms,
            }
        }
        (Phase::Reading { since_ms, .. }, Pressure::Full) if age(since_ms) >= FULL_GRACE => {
            Verdict::Shed {
                why: Shed::Head,
                since_ms,
            }
        }
        (
            Phase::Waiting { last: false, .. }
            | Phase::Reading { last: false, .. }
            | Phase::Ready { last: false }
            | Phase::Out {
                ahead: Ahead::None,
                answering: false,
                last: false,
            },
            Pressure::Full,
        ) => Verdict::Release,
        _ => Verdict::Keep,
    }
}

/// The registry's figures, for [`crate::Stats`].
#[derive(Debug, Default)]
pub(crate) struct Load {
    pub(crate) open: AtomicUsize,
    pub(crate) overloaded: AtomicBool,
    pub(crate) shed_idle: AtomicU64,
    pub(crate) shed_heads: AtomicU64,
    pub(crate) released: AtomicU64,
    /// Times overload began, since start: an episode shorter than the
    /// application's look at `overloaded` still shows here.
    pub(crate) episodes: AtomicU64,
}

/// How a connection is on its way out, as the registry made it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Leaving {
    Shed,
    Released,
}

/// A taken place: its connection, once attached, and whether the registry
/// has sent it on its way out. The registry alone changes this.
struct Place {
    conn: Option<Arc<Connection>>,
    seated_ms: u64,
    leaving: Option<Leaving>,
}

struct Places {
    taken: Vec<Option<Place>>,
    free: Vec<usize>,
    count: usize,
}

pub(crate) struct Registry {
    places: Mutex<Places>,
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
        Registry::with_epoch(max, Instant::now())
    }

    /// A registry whose clock started at `epoch` (tests start it an hour
    /// ago, to place phases in the past).
    fn with_epoch(max: usize, epoch: Instant) -> Registry {
        let max = max.max(1);
        Registry {
            places: Mutex::new(Places {
                taken: Vec::new(),
                free: Vec::new(),
                count: 0,
            }),
            freed: Condvar::new(),
            max,
            overload_at: (max * OVERLOAD_PERCENT).div_ceil(100),
            calm_below: (max * CALM_PERCENT).div_ceil(100),
            epoch,
            load: Load::default(),
        }
    }

    pub(crate) fn max(&self) -> usize {
        self.max
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// The registry's clock, for its connections.
    pub(crate) fn epoch(&self) -> Instant {
        self.epoch
    }

    fn lock(&self) -> MutexGuard<'_, Places> {
        self.places.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits for a free place for one of the `waiting` connections in the
    /// backlog. While there is none, makes room for as many as wait;
    /// `None` once `closing` is set. Never spins: with nothing to do it
    /// waits for a connection to end.
    pub(crate) fn take_seat(
        self: &Arc<Self>,
        closing: &AtomicBool,
        waiting: usize,
    ) -> Option<Seat> {
        let mut places = self.lock();
        loop {
            if closing.load(Ordering::Relaxed) {
                return None;
            }
            if places.count < self.max {
                let index = match places.free.pop() {
                    Some(index) => index,
                    None => {
                        places.taken.push(None);
                        places.taken.len() - 1
                    }
                };
                places.taken[index] = Some(Place {
                    conn: None,
                    seated_ms: self.now_ms(),
                    leaving: None,
                });
                places.count += 1;
                self.note_open(places.count);
                return Some(Seat {
                    registry: Arc::clone(self),
                    index,
                });
            }
            self.make_room(&mut places, waiting.clamp(1, MAX_LEAVING));
            places = self
                .freed
                .wait_timeout(places, RECHECK)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// At the cap: sends connections on their way out until `wanted` are,
    /// those to shed first (the oldest first), then those to release (the
    /// longest-seated first); and sheds the released ones that turn out
    /// idle or slow, rather than wait for them.
    fn make_room(&self, places: &mut Places, wanted: usize) {
        let now = self.now_ms();
        let mut sheddable = Vec::new();
        let mut releasable = Vec::new();
        // Shed ones leave at once; released ones after an answer, which
        // may take a while: they count against what is released, never
        // against what is shed, so that a slow one cannot keep an idle
        // connection in its seat.
        let (mut shed, mut leaving) = (0, 0);
        for (index, place) in places.taken.iter_mut().enumerate() {
            let Some(Place {
                conn: Some(conn),
                seated_ms,
                leaving: on_its_way,
            }) = place
            else {
                continue;
            };
            let (phase, seen) = conn.seen();
            match (verdict(phase, now, Pressure::Full), *on_its_way) {
                // Released, and idle or slow since: no point waiting.
                (Verdict::Shed { why, .. }, Some(Leaving::Released))
                    if self.shed(conn, seen, why) =>
                {
                    *on_its_way = Some(Leaving::Shed);
                }
                (Verdict::Shed { why, since_ms }, None) => sheddable.push((since_ms, why, index)),
                (Verdict::Release, None) => releasable.push((*seated_ms, index)),
                _ => {}
            }
            shed += usize::from(*on_its_way == Some(Leaving::Shed));
            leaving += usize::from(on_its_way.is_some());
        }
        sheddable.sort_by_key(|(since_ms, ..)| *since_ms);
        for (_, why, index) in sheddable {
            if shed >= wanted {
                break;
            }
            if let Some(Place {
                conn: Some(conn),
                leaving: on_its_way,
                ..
            }) = &mut places.taken[index]
            {
                let (phase, seen) = conn.seen();
                if !matches!(verdict(phase, now, Pressure::Full), Verdict::Shed { .. }) {
                    continue;
                }
                if self.shed(conn, seen, why) {
                    *on_its_way = Some(Leaving::Shed);
                    shed += 1;
                    leaving += 1;
                } else if conn.unread() > 0 && conn.release(seen) {
                    // Its request arrived, unread: answered, then closed.
                    self.load.released.fetch_add(1, Ordering::Relaxed);
                    *on_its_way = Some(Leaving::Released);
                    leaving += 1;
                }
            }
        }
        releasable.sort_by_key(|(seated_ms, _)| *seated_ms);
        for (_, index) in releasable {
            if leaving >= wanted {
                return;
            }
            if let Some(Place {
                conn: Some(conn),
                leaving: on_its_way,
                ..
            }) = &mut places.taken[index]
            {
                let (_, seen) = conn.seen();
                if conn.release(seen) {
                    self.load.released.fetch_add(1, Ordering::Relaxed);
                    *on_its_way = Some(Leaving::Released);
                    leaving += 1;
                }
            }
        }
    }

    /// Sheds `conn` if it is still as seen and has no request unread in its
    /// socket: a request that has arrived, even unread, is answered.
    fn shed(&self, conn: &Connection, seen: Seen, why: Shed) -> bool {
        if conn.unread() > 0 || !conn.shed(seen) {
            return false;
        }
        let counter = match why {
            Shed::Idle => &self.load.shed_idle,
            Shed::Head => &self.load.shed_heads,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// While overloaded, sheds every connection idle for [`OVERLOAD_IDLE`].
    pub(crate) fn sweep_if_overloaded(&self) {
        if !self.load.overloaded.load(Ordering::Relaxed) {
            return;
        }
        let mut places = self.lock();
        let now = self.now_ms();
        for place in places.taken.iter_mut().flatten() {
            let Place {
                conn: Some(conn),
                leaving: on_its_way,
                ..
            } = place
            else {
                continue;
            };
            if *on_its_way == Some(Leaving::Shed) {
                continue;
            }
            let (phase, seen) = conn.seen();
            if let Verdict::Shed { why, .. } = verdict(phase, now, Pressure::Overloaded) {
                if self.shed(conn, seen, why) {
                    *on_its_way = Some(Leaving::Shed);
                }
            }
        }
    }

    /// How many connections have part of a request head (requests on
    /// their way in), and how many are closing after an answer (answers on
    /// their way out): what a draining server waits for.
    pub(crate) fn in_transit(&self) -> (usize, usize) {
        let places = self.lock();
        let mut reading = 0;
        let mut closing = 0;
        for conn in places
            .taken
            .iter()
            .flatten()
            .filter_map(|p| p.conn.as_ref())
        {
            match conn.phase() {
                Phase::Reading { .. } | Phase::Ready { .. } => reading += 1,
                Phase::Out {
                    ahead: Ahead::Started { .. } | Ahead::Complete,
                    ..
                } => reading += 1,
                Phase::Closing { .. } => closing += 1,
                _ => {}
            }
        }
        (reading, closing)
    }

    /// Ends every open connection: the server is going away.
    pub(crate) fn end_all(&self) {
        for conn in self
            .lock()
            .taken
            .iter()
            .flatten()
            .filter_map(|p| p.conn.as_ref())
        {
            conn.end();
        }
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

impl Seat {
    /// Makes the connection visible to the registry.
    pub(crate) fn attach(&self, conn: Arc<Connection>) {
        if let Some(place) = self.registry.lock().taken[self.index].as_mut() {
            place.conn = Some(conn);
        }
    }

    pub(crate) fn registry(&self) -> &Registry {
        &self.registry
    }
}

impl Drop for Seat {
    fn drop(&mut self) {
        let mut places = self.registry.lock();
        places.taken[self.index] = None;
        places.free.push(self.index);
        places.count -= 1;
        self.registry.note_open(places.count);
        drop(places);
        self.registry.freed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::connection::Ahead;
    use std::net::{TcpListener, TcpStream};

    /// A registry whose clock has run an hour: phases set at small times
    /// are long past.
    fn registry(max: usize) -> Arc<Registry> {
        let hour_ago = Instant::now()
            .checked_sub(Duration::from_secs(3600))
            .expect("an hour since boot");
        Arc::new(Registry::with_epoch(max, hour_ago))
    }

    /// Waits for `done`, or fails after a while: a regression fails the
    /// test instead of hanging it.
    fn until(done: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !done() {
            assert!(Instant::now() < deadline, "never happened");
            std::thread::yield_now();
        }
    }

    fn conn(registry: &Registry) -> (Arc<Connection>, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        (
            Arc::new(Connection::for_current_thread(
                server.into(),
                registry.epoch(),
            )),
            client,
        )
    }

    #[test]
    fn the_verdict_is_the_table() {
        use Pressure::{Full, Overloaded};
        let now = 100_000;
        let ms = |d: Duration| d.as_millis() as u64;
        let waiting = |age: Duration| Phase::Waiting {
            since_ms: now - ms(age),
            last: false,
        };
        let reading = |age: Duration| Phase::Reading {
            since_ms: now - ms(age),
            last: false,
        };
        let out = |answering| Phase::Out {
            ahead: Ahead::None,
            answering,
            last: false,
        };
        let shed = |why, age: Duration| Verdict::Shed {
            why,
            since_ms: now - ms(age),
        };
        let long = Duration::from_secs(60);
        let short = Duration::from_millis(1);
        // Overloaded: the idle go after OVERLOAD_IDLE; heads are kept (the
        // reader answers a late one 408).
        assert_eq!(
            verdict(waiting(OVERLOAD_IDLE), now, Overloaded),
            shed(Shed::Idle, OVERLOAD_IDLE)
        );
        assert_eq!(verdict(waiting(short), now, Overloaded), Verdict::Keep);
        assert_eq!(verdict(reading(long), now, Overloaded), Verdict::Keep);
        // Full: idle or slow past the grace go; the rest take turns.
        assert_eq!(
            verdict(waiting(FULL_GRACE), now, Full),
            shed(Shed::Idle, FULL_GRACE)
        );
        assert_eq!(
            verdict(reading(FULL_GRACE), now, Full),
            shed(Shed::Head, FULL_GRACE)
        );
        assert_eq!(verdict(waiting(short), now, Full), Verdict::Release);
        assert_eq!(verdict(reading(short), now, Full), Verdict::Release);
        assert_eq!(
            verdict(Phase::Ready { last: false }, now, Full),
            Verdict::Release
        );
        assert_eq!(verdict(out(false), now, Full), Verdict::Release);
        // What cannot change any more, or is on its way out already; and a
        // request out with the next read ahead, which a release would drop.
        assert_eq!(verdict(out(true), now, Full), Verdict::Keep);
        for ahead in [Ahead::Started { since_ms: 0 }, Ahead::Complete] {
            let phase = Phase::Out {
                ahead,
                answering: false,
                last: false,
            };
            assert_eq!(verdict(phase, now, Full), Verdict::Keep, "{phase:?}");
        }
        assert_eq!(
            verdict(Phase::Closing { since_ms: 0 }, now, Full),
            Verdict::Keep
        );
        assert_eq!(
            verdict(Phase::Ready { last: true }, now, Full),
            Verdict::Keep,
            "released already"
        );
    }

    #[test]
    fn at_the_cap_an_idle_connection_makes_room_and_a_busy_one_is_released() {
        let registry = registry(2);
        let closing = AtomicBool::new(false);
        let first = registry.take_seat(&closing, 1).unwrap();
        let (idle, _c1) = conn(&registry);
        idle.set_phase(Phase::Waiting {
            since_ms: 0,
            last: false,
        });
        first.attach(Arc::clone(&idle));
        let second = registry.take_seat(&closing, 1).unwrap();
        let (busy, _c2) = conn(&registry);
        busy.hand_out(false).unwrap();
        second.attach(Arc::clone(&busy));
        assert!(registry.load.overloaded.load(Ordering::Relaxed));

        // Full, one waiting: the idle one is shed, the busy one kept.
        let waiter = {
            let registry = Arc::clone(&registry);
            std::thread::spawn(move || registry.take_seat(&AtomicBool::new(false), 1).is_some())
        };
        until(|| !(idle.phase() != Phase::Shed));
        assert!(matches!(busy.phase(), Phase::Out { last: false, .. }));
        drop(first);
        assert!(waiter.join().unwrap());
        assert_eq!(registry.load.shed_idle.load(Ordering::Relaxed), 1);

        // Full again, with two busy connections and two waiting, nobody
        // idle: the busy ones answer and leave; no request is dropped.
        let third = registry.take_seat(&closing, 1).unwrap();
        let (also_busy, _c3) = conn(&registry);
        also_busy.hand_out(false).unwrap();
        third.attach(Arc::clone(&also_busy));
        let waiter = {
            let registry = Arc::clone(&registry);
            std::thread::spawn(move || registry.take_seat(&AtomicBool::new(false), 2).is_some())
        };
        until(|| registry.load.released.load(Ordering::Relaxed) >= 2);
        for conn in [&busy, &also_busy] {
            assert!(matches!(conn.phase(), Phase::Out { last: true, .. }));
        }
        drop(second);
        assert!(waiter.join().unwrap());
    }

    #[test]
    fn a_full_registry_sheds_the_oldest_heads_first_and_no_more_than_wait() {
        let registry = registry(4);
        let closing = AtomicBool::new(false);
        let mut held = Vec::new();
        for since_ms in [40, 10, 30, 20] {
            let seat = registry.take_seat(&closing, 1).unwrap();
            let (conn, client) = conn(&registry);
            conn.set_phase(Phase::Reading {
                since_ms,
                last: false,
            });
            seat.attach(Arc::clone(&conn));
            held.push((seat, conn, client));
        }
        let waiter = {
            let registry = Arc::clone(&registry);
            std::thread::spawn(move || registry.take_seat(&AtomicBool::new(false), 2).is_some())
        };
        until(|| registry.load.shed_heads.load(Ordering::Relaxed) >= 2);
        let shed: Vec<bool> = held
            .iter()
            .map(|(_, c, _)| c.phase() == Phase::Shed)
            .collect();
        assert_eq!(shed, [false, true, false, true], "the two oldest heads");
        held.remove(1);
        assert!(waiter.join().unwrap());
        assert_eq!(
            registry.load.shed_heads.load(Ordering::Relaxed),
            2,
            "no more than asked"
        );
    }

    #[test]
    fn a_slow_released_connection_does_not_keep_an_idle_one_in_its_seat() {
        let registry = registry(2);
        let closing = AtomicBool::new(false);
        let first = registry.take_seat(&closing, 1).unwrap();
        let (busy, _c1) = conn(&registry);
        busy.hand_out(false).unwrap();
        first.attach(Arc::clone(&busy));
        let second = registry.take_seat(&closing, 1).unwrap();
        // Released, with a handler that takes its time.
        registry.make_room(&mut registry.lock(), 1);
        assert!(matches!(busy.phase(), Phase::Out { last: true, .. }));
        // Meanwhile a connection idles in the other seat: one waiting
        // client is let in by shedding it, not kept waiting for the slow.
        let (idle, _c2) = conn(&registry);
        idle.set_phase(Phase::Waiting {
            since_ms: 0,
            last: false,
        });
        second.attach(Arc::clone(&idle));
        registry.make_room(&mut registry.lock(), 1);
        assert_eq!(idle.phase(), Phase::Shed);
    }

    #[test]
    fn a_request_that_arrived_unread_is_never_shed() {
        let registry = registry(1);
        let closing = AtomicBool::new(false);
        let seat = registry.take_seat(&closing, 1).unwrap();
        let (conn, mut client) = conn(&registry);
        conn.set_phase(Phase::Waiting {
            since_ms: 0,
            last: false,
        });
        seat.attach(Arc::clone(&conn));
        // Its request is in the socket; its thread has not read it yet.
        std::io::Write::write_all(&mut client, b"GET / HTTP/1.1\r\n").unwrap();
        until(|| conn.unread() > 0);
        let mut places = registry.lock();
        registry.make_room(&mut places, 1);
        drop(places);
        assert!(
            matches!(conn.phase(), Phase::Waiting { last: true, .. }),
            "released, not shed"
        );
        assert_eq!(registry.load.shed_idle.load(Ordering::Relaxed), 0);
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

    /// Seats a connection in `phase`, as its reader would have.
    fn seated(registry: &Arc<Registry>, phase: Phase) -> (Seat, Arc<Connection>, TcpStream) {
        let seat = registry.take_seat(&AtomicBool::new(false), 1).unwrap();
        let (conn, client) = conn(registry);
        conn.set_phase(phase);
        seat.attach(Arc::clone(&conn));
        (seat, conn, client)
    }

    fn out(ahead: Ahead) -> Phase {
        Phase::Out {
            ahead,
            answering: false,
            last: false,
        }
    }

    const IDLE_LONG: Phase = Phase::Waiting {
        since_ms: 0,
        last: false,
    };

    #[test]
    fn in_transit_counts_heads_coming_in_and_answers_going_out() {
        let registry = registry(16);
        let phases = [
            (IDLE_LONG, (0, 0)),
            (
                Phase::Reading {
                    since_ms: 0,
                    last: false,
                },
                (1, 0),
            ),
            (Phase::Ready { last: true }, (1, 0)),
            (out(Ahead::None), (0, 0)),
            (out(Ahead::Started { since_ms: 0 }), (1, 0)),
            (out(Ahead::Complete), (1, 0)),
            (Phase::Closing { since_ms: 0 }, (0, 1)),
            (Phase::Shed, (0, 0)),
        ];
        let mut held = Vec::new();
        let mut expected = (0, 0);
        for (phase, (reading, closing)) in phases {
            held.push(seated(&registry, phase));
            expected = (expected.0 + reading, expected.1 + closing);
            assert_eq!(registry.in_transit(), expected, "after {:?}", phase);
        }
        // Twice over: each counts one.
        held.push(seated(&registry, Phase::Ready { last: false }));
        held.push(seated(&registry, Phase::Closing { since_ms: 0 }));
        assert_eq!(registry.in_transit(), (expected.0 + 1, expected.1 + 1));
    }

    #[test]
    fn ending_all_ends_every_connection_open() {
        let registry = registry(4);
        let held: Vec<_> = (0..3).map(|_| seated(&registry, IDLE_LONG)).collect();
        registry.end_all();
        for (_, _, client) in held {
            // The client sees the end, though it sent nothing.
            let mut client = client;
            client
                .set_read_timeout(Some(Duration::from_secs(20)))
                .unwrap();
            let mut byte = [0u8; 1];
            assert_eq!(std::io::Read::read(&mut client, &mut byte).unwrap(), 0);
        }
    }

    #[test]
    fn the_cap_it_reports_is_the_one_it_keeps() {
        let registry = registry(3);
        assert_eq!(registry.max(), 3);
        let _held: Vec<_> = (0..3).map(|_| seated(&registry, IDLE_LONG)).collect();
        assert!(registry.take_seat(&AtomicBool::new(true), 1).is_none());
    }

    #[test]
    fn an_overloaded_server_sweeps_out_long_idle_connections_and_only_then() {
        // 6 of 10 is below the overload share: nobody is swept.
        let registry = registry(10);
        let mut held: Vec<_> = (0..5)
            .map(|_| seated(&registry, out(Ahead::None)))
            .collect();
        let idle = seated(&registry, IDLE_LONG);
        assert!(!registry.load.overloaded.load(Ordering::Relaxed));
        registry.sweep_if_overloaded();
        assert_eq!(idle.1.phase(), IDLE_LONG, "not overloaded: kept");
        // 8 of 10 is: the one idle long goes.
        held.extend((0..2).map(|_| seated(&registry, out(Ahead::None))));
        assert!(registry.load.overloaded.load(Ordering::Relaxed));
        registry.sweep_if_overloaded();
        assert_eq!(idle.1.phase(), Phase::Shed);
        assert_eq!(registry.load.shed_idle.load(Ordering::Relaxed), 1);
        for (_, conn, _) in &held {
            assert!(matches!(conn.phase(), Phase::Out { .. }), "busy ones stay");
        }
    }

    #[test]
    fn making_room_counts_who_is_already_leaving() {
        // Two idle long: one shed per place wanted, even when asked again
        // before the first has left its seat.
        let idle = registry(2);
        let a = seated(&idle, IDLE_LONG);
        let b = seated(&idle, IDLE_LONG);
        idle.make_room(&mut idle.lock(), 1);
        idle.make_room(&mut idle.lock(), 1);
        let shed = [&a, &b]
            .iter()
            .filter(|h| h.1.phase() == Phase::Shed)
            .count();
        assert_eq!(shed, 1);

        // Two busy: one released per place wanted, asked twice.
        let busy = registry(2);
        let a = seated(&busy, out(Ahead::None));
        let b = seated(&busy, out(Ahead::None));
        busy.make_room(&mut busy.lock(), 1);
        busy.make_room(&mut busy.lock(), 1);
        let released = [&a, &b]
            .iter()
            .filter(|h| matches!(h.1.phase(), Phase::Out { last: true, .. }))
            .count();
        assert_eq!(released, 1);
        assert_eq!(busy.load.released.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn a_request_released_unread_counts_as_leaving() {
        // One idle long with its request unread (released, not shed) and
        // one busy: one place wanted, so the busy one goes on as it was.
        let registry = registry(2);
        let (_s1, unread, mut client) = seated(&registry, IDLE_LONG);
        std::io::Write::write_all(&mut client, b"GET / HTTP/1.1\r\n").unwrap();
        until(|| unread.unread() > 0);
        let (_s2, busy, _c2) = seated(&registry, out(Ahead::None));
        registry.make_room(&mut registry.lock(), 1);
        assert!(matches!(unread.phase(), Phase::Waiting { last: true, .. }));
        assert_eq!(busy.phase(), out(Ahead::None));
    }

    #[test]
    fn a_released_connection_that_turns_slow_is_shed() {
        // A head long in progress, with a byte unread: released, not shed.
        let registry = registry(1);
        let (_seat, conn, mut client) = seated(
            &registry,
            Phase::Reading {
                since_ms: 0,
                last: false,
            },
        );
        std::io::Write::write_all(&mut client, b"G").unwrap();
        until(|| conn.unread() > 0);
        registry.make_room(&mut registry.lock(), 1);
        assert!(matches!(conn.phase(), Phase::Reading { last: true, .. }));
        // Its reader takes the byte, and the head goes no further: it is
        // shed rather than waited for.
        let mut byte = [0u8; 1];
        assert_eq!(conn.socket().read(&mut byte).unwrap(), 1);
        registry.make_room(&mut registry.lock(), 1);
        assert_eq!(conn.phase(), Phase::Shed);
        assert_eq!(registry.load.shed_heads.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn a_closing_server_stops_waiting() {
        let registry = Arc::new(Registry::new(1));
        let _seat = registry.take_seat(&AtomicBool::new(false), 1).unwrap();
        assert!(registry.take_seat(&AtomicBool::new(true), 1).is_none());
    }
}
