//! The last resort of [`Lifecycle::run`](super::Lifecycle::run): a thread
//! that ends the process when the shutdown overran its budget.
//!
//! Every phase of the sequence has a deadline, but a deadline is kept by a
//! future that is polled: when the thread that polls the sequence is itself
//! blocked (a task's synchronous call on the thread that drives the timers,
//! a destructor that blocks), nothing in the sequence can act. This thread
//! needs no runtime: armed with the real time of the trigger, it sleeps
//! until `grace + WATCHDOG_AFTER`, and, unless the sequence is done by
//! then, prints what is still running, flushes stderr and exits with 1.
//!
//! # Invariants
//!
//! `state` is `Idle` until the drain starts, `Armed(deadline)` during it,
//! `Done` once the sequence (and the platform's shutdown) returned; it only
//! moves forward, under the mutex, and every move notifies the condvar. The
//! thread checks the state, then waits on the condvar with the lock held: a
//! move cannot slip in between.

use std::io::Write as _;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::duration::Human;
use crate::tasks::Tasks;
use crate::Shutdown;

/// How long after `grace` the watchdog ends the process: the sequence ends
/// by `grace` (plus [`Tasks::ABANDON_AFTER`] at worst), the platform's
/// shutdown by `grace + PLATFORM_AFTER`; this comes after both.
pub(super) const WATCHDOG_AFTER: Duration = Duration::from_millis(750);

/// How long after `grace` the platform may take to shut its runtime down.
pub(super) const PLATFORM_AFTER: Duration = Duration::from_millis(500);

#[derive(Clone, Copy)]
enum State {
    Idle,
    Armed(Instant),
    Done,
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
    /// The phase the sequence is in, for the last words.
    phase: Mutex<&'static str>,
}

/// The watchdog of one run; see the module's docs.
pub(super) struct Watchdog {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    grace: Duration,
}

impl Watchdog {
    /// Starts the thread, idle until [`Watchdog::arm`].
    pub(super) fn spawn(
        grace: Duration,
        tasks: Tasks,
        shutdown: Shutdown,
    ) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::Idle),
            changed: Condvar::new(),
            phase: Mutex::new("starting"),
        });
        let watched = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("steward-watchdog".into())
            .spawn(move || watch(&watched, grace, &tasks, &shutdown))?;
        Ok(Self {
            shared,
            thread: Some(thread),
            grace,
        })
    }

    /// The drain starts now: the process must be gone by `grace` plus the
    /// slack. Returns the deadline of the platform's shutdown.
    pub(super) fn arm(&self) -> Instant {
        let now = Instant::now();
        let mut state = self
            .shared
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if matches!(*state, State::Idle) {
            *state = State::Armed(now + self.grace + WATCHDOG_AFTER);
        }
        drop(state);
        self.shared.changed.notify_all();
        now + self.grace + PLATFORM_AFTER
    }

    /// Names the phase the sequence is in.
    pub(super) fn phase(&self, phase: &'static str) {
        *self
            .shared
            .phase
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = phase;
    }

    /// The run is over: the thread ends (and is joined).
    pub(super) fn done(mut self) {
        self.finish();
    }

    fn finish(&mut self) {
        *self
            .shared
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = State::Done;
        self.shared.changed.notify_all();
        if let Some(thread) = self.thread.take() {
            // It wakes at once and returns: the join does not wait.
            let _ = thread.join();
        }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.finish();
    }
}

fn watch(shared: &Shared, grace: Duration, tasks: &Tasks, shutdown: &Shutdown) {
    let mut state = shared.state.lock().unwrap_or_else(PoisonError::into_inner);
    loop {
        match *state {
            State::Done => return,
            State::Idle => {
                state = shared
                    .changed
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            State::Armed(deadline) => {
                let now = Instant::now();
                if now >= deadline {
                    break;
                }
                state = shared
                    .changed
                    .wait_timeout(state, deadline - now)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
        }
    }
    drop(state);
    let phase = *shared.phase.lock().unwrap_or_else(PoisonError::into_inner);
    let running = tasks.names();
    let holders: Vec<String> = shutdown.holders().iter().map(ToString::to_string).collect();
    let mut words = format!(
        "steward: the shutdown overran its budget ({} + {} slack) while {phase}: exiting now with code 1",
        Human(grace),
        Human(WATCHDOG_AFTER),
    );
    if !running.is_empty() {
        words.push_str(&format!("\n  tasks still running: {}", running.join(", ")));
    }
    let unnamed = tasks.len().saturating_sub(running.len());
    if unnamed > 0 {
        words.push_str(&format!("\n  unnamed tasks still running: {unnamed}"));
    }
    if !holders.is_empty() {
        words.push_str(&format!(
            "\n  guards still held, taken at: {}",
            holders.join(", ")
        ));
    }
    tracing::error!("{words}");
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "{words}");
    let _ = stderr.flush();
    std::process::exit(1);
}
