//! The threads connections run on (sre-kata patch: rewritten).
//!
//! Each connection needs a thread of its own for as long as it is open. A
//! thread whose connection ended waits a while for another, so that a busy
//! server does not start a thread per connection.
//!
//! Upstream queued a connection whenever any thread was waiting, but a
//! woken thread counted itself busy only once it ran again: a burst of
//! connections (a load balancer opening its pool, a backlog after a pause)
//! queued several for one waiting thread, and the rest waited, with their
//! requests sent, until some other connection ended, which a load
//! balancer's pool never does. Here, under one lock, a connection is queued
//! only if a waiting thread is left for it after those already queued
//! (`idle > queue.len()`); otherwise it gets a new thread. A thread counts
//! as idle from the moment it waits until it has looked at the queue again,
//! so every queued connection has a thread on its way.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::Duration;

/// What a thread runs: one connection, to its end.
pub(crate) type Task = Box<dyn FnOnce() + Send>;

/// Threads kept waiting however long the server is quiet.
const MIN_THREADS: usize = 4;

/// How long a thread beyond [`MIN_THREADS`] waits for a connection before
/// it ends.
const IDLE_THREAD_LIFE: Duration = if cfg!(test) {
    // The unit tests watch threads retire, without waiting seconds.
    Duration::from_millis(200)
} else {
    Duration::from_secs(5)
};

/// The stack of a connection's thread (sre-kata patch). It reads request
/// heads into heap buffers and calls nothing deep, so a small stack holds;
/// upstream took std's 2 MiB default, most of it never touched but all of it
/// mapped.
pub(crate) const STACK_BYTES: usize = 64 * 1024;

pub(crate) struct TaskPool {
    shared: Arc<Threads>,
}

struct Threads {
    state: Mutex<State>,
    /// Signalled once per connection queued, and when the pool closes.
    queued: Condvar,
}

struct State {
    queue: VecDeque<Task>,
    /// Threads waiting for a connection, or woken and not yet back at the
    /// queue: each takes one queued connection, if any, when it is.
    idle: usize,
    /// Threads alive.
    threads: usize,
    closed: bool,
}

impl Threads {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl TaskPool {
    pub(crate) fn new() -> TaskPool {
        let pool = TaskPool {
            shared: Arc::new(Threads {
                state: Mutex::new(State {
                    queue: VecDeque::new(),
                    idle: 0,
                    threads: 0,
                    closed: false,
                }),
                queued: Condvar::new(),
            }),
        };
        for _ in 0..MIN_THREADS {
            // Threads that cannot start now start on demand.
            let _ = pool.start_thread(None);
        }
        pool
    }

    /// Runs `task` on a waiting thread, or on a new one if none is left
    /// for it. If no thread can be started (thread or memory limits), the
    /// task is dropped unrun and the error returned (upstream panicked
    /// while holding the queue's lock, and so poisoned the whole pool).
    pub(crate) fn spawn(&self, task: Task) -> std::io::Result<()> {
        let mut state = self.shared.lock();
        if state.idle > state.queue.len() {
            state.queue.push_back(task);
            drop(state);
            self.shared.queued.notify_one();
            return Ok(());
        }
        drop(state);
        self.start_thread(Some(task))
    }

    fn start_thread(&self, first: Option<Task>) -> std::io::Result<()> {
        self.shared.lock().threads += 1;
        let shared = Arc::clone(&self.shared);
        let started = thread::Builder::new()
            .name("connection".into())
            .stack_size(STACK_BYTES)
            .spawn(move || {
                let mut alive = Alive {
                    shared: Arc::clone(&shared),
                    counted: true,
                };
                if let Some(task) = first {
                    task();
                }
                while let Some(task) = alive.next_task() {
                    task();
                }
            });
        if let Err(error) = started {
            self.shared.lock().threads -= 1;
            return Err(error);
        }
        Ok(())
    }
}

/// A pool thread's place in the count: it leaves it however the thread
/// ends, a panic in its connection included.
struct Alive {
    shared: Arc<Threads>,
    /// Still in the count: a thread that decides to end leaves it under the
    /// same lock as it decided, so that threads ending together cannot all
    /// see the others still counted and take the pool below
    /// [`MIN_THREADS`].
    counted: bool,
}

impl Alive {
    /// The next connection to run; `None` when this thread should end (the
    /// pool closed, or it waited [`IDLE_THREAD_LIFE`] in vain while more
    /// than [`MIN_THREADS`] are alive).
    fn next_task(&mut self) -> Option<Task> {
        let shared = &self.shared;
        let mut state = shared.lock();
        loop {
            if let Some(task) = state.queue.pop_front() {
                return Some(task);
            }
            if state.closed {
                return leave(&mut self.counted, &mut state);
            }
            let spare = state.threads > MIN_THREADS;
            state.idle += 1;
            let timed_out = if spare {
                let (next, waited) = shared
                    .queued
                    .wait_timeout(state, IDLE_THREAD_LIFE)
                    .unwrap_or_else(PoisonError::into_inner);
                state = next;
                waited.timed_out()
            } else {
                state = shared
                    .queued
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
                false
            };
            state.idle -= 1;
            if timed_out && state.queue.is_empty() && state.threads > MIN_THREADS {
                return leave(&mut self.counted, &mut state);
            }
        }
    }
}

/// A thread leaves the count, under the lock the caller holds: no next
/// task for it.
fn leave(counted: &mut bool, state: &mut State) -> Option<Task> {
    state.threads -= 1;
    *counted = false;
    None
}

impl Drop for Alive {
    fn drop(&mut self) {
        if self.counted {
            self.shared.lock().threads -= 1;
        }
    }
}

impl Drop for TaskPool {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.queued.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    const PATIENCE: Duration = Duration::from_secs(20);

    /// Tasks that run until released, as connections kept open do.
    fn held(pool: &TaskPool, count: usize) -> (mpsc::Receiver<usize>, Vec<mpsc::Sender<()>>) {
        let (started, running) = mpsc::channel();
        let mut releases = Vec::new();
        for n in 0..count {
            let (release, hold) = mpsc::channel::<()>();
            releases.push(release);
            let started = started.clone();
            pool.spawn(Box::new(move || {
                started.send(n).unwrap();
                let _ = hold.recv();
            }))
            .unwrap();
        }
        (running, releases)
    }

    #[test]
    fn a_burst_of_long_tasks_all_run_at_once() {
        // More at once than threads wait, all held: upstream queued several
        // for each waiting thread, and the rest never ran.
        let pool = TaskPool::new();
        let (running, releases) = held(&pool, 64);
        for _ in 0..64 {
            running
                .recv_timeout(PATIENCE)
                .expect("every task runs while the others hold their threads");
        }
        drop(releases);
    }

    #[test]
    fn threads_freed_by_ended_tasks_run_the_next_burst() {
        let pool = TaskPool::new();
        let (running, releases) = held(&pool, 16);
        for _ in 0..16 {
            running.recv_timeout(PATIENCE).unwrap();
        }
        // Sixteen threads come back idle, then a burst larger than that.
        drop(releases);
        let (running, releases) = held(&pool, 40);
        for _ in 0..40 {
            running.recv_timeout(PATIENCE).expect("runs");
        }
        drop(releases);
    }

    /// Waits until `done` holds of the pool's state, or fails.
    fn until(pool: &TaskPool, done: impl Fn(&State) -> bool) {
        let deadline = std::time::Instant::now() + PATIENCE;
        while !done(&pool.shared.lock()) {
            assert!(
                std::time::Instant::now() < deadline,
                "never happened: {} threads, {} idle",
                pool.shared.lock().threads,
                pool.shared.lock().idle
            );
            thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn a_quiet_pool_runs_tasks_on_its_waiting_threads() {
        let pool = TaskPool::new();
        until(&pool, |s| s.idle == MIN_THREADS);
        // One after another, each on a thread that was waiting: no new one.
        for _ in 0..3 * MIN_THREADS {
            let (done, finished) = mpsc::channel();
            pool.spawn(Box::new(move || done.send(()).unwrap()))
                .unwrap();
            finished.recv_timeout(PATIENCE).unwrap();
            until(&pool, |s| s.idle == MIN_THREADS);
            assert_eq!(pool.shared.lock().threads, MIN_THREADS);
        }
    }

    #[test]
    fn threads_beyond_the_minimum_end_after_waiting_in_vain() {
        let pool = TaskPool::new();
        let count = 3 * MIN_THREADS;
        let (running, releases) = held(&pool, count);
        for _ in 0..count {
            running.recv_timeout(PATIENCE).unwrap();
        }
        assert!(pool.shared.lock().threads >= count);
        drop(releases);
        until(&pool, |s| s.threads == MIN_THREADS);
        // And no fewer: those stay, waiting, for as long as it is quiet.
        thread::sleep(3 * IDLE_THREAD_LIFE);
        let state = pool.shared.lock();
        assert_eq!((state.threads, state.idle), (MIN_THREADS, MIN_THREADS));
    }

    #[test]
    fn dropping_the_pool_ends_its_threads() {
        let pool = TaskPool::new();
        until(&pool, |s| s.idle == MIN_THREADS);
        let shared = Arc::clone(&pool.shared);
        drop(pool);
        let deadline = std::time::Instant::now() + PATIENCE;
        while shared.lock().threads > 0 {
            assert!(std::time::Instant::now() < deadline, "threads left");
            thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn a_connection_thread_has_a_64_kib_stack() {
        // A task that needs 48 KiB of it: on a smaller stack it would
        // overflow and abort the process.
        const NEEDS: usize = 48 * 1024;
        let pool = TaskPool::new();
        let (done, finished) = mpsc::channel();
        pool.spawn(Box::new(move || {
            let buffer = [7u8; NEEDS];
            let sum = std::hint::black_box(&buffer)
                .iter()
                .map(|&b| usize::from(b))
                .sum::<usize>();
            done.send(sum).unwrap();
        }))
        .unwrap();
        assert_eq!(finished.recv_timeout(PATIENCE).unwrap(), 7 * NEEDS);
    }

    #[test]
    fn a_task_that_panics_leaves_the_pool_working() {
        let pool = TaskPool::new();
        until(&pool, |s| s.idle == MIN_THREADS);
        pool.spawn(Box::new(|| panic!("a connection's panic")))
            .unwrap();
        // Its thread ended, and left the count as it did.
        until(&pool, |s| {
            s.threads == MIN_THREADS - 1 && s.idle == MIN_THREADS - 1
        });
        let (running, releases) = held(&pool, 8);
        for _ in 0..8 {
            running.recv_timeout(PATIENCE).unwrap();
        }
        drop(releases);
    }
}
