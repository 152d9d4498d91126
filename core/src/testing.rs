//! A deterministic runtime with virtual time, for tests (feature `test-util`).
//!
//! [`TestRuntime`] runs every spawned task on the thread that calls
//! [`TestRuntime::block_on`], one at a time, in the order they were woken. Its
//! clock only moves when the test moves it ([`TestRuntime::advance`]) or when
//! every task is idle inside `block_on`: then it jumps straight to the next
//! armed timer. A 30 s grace period is tested in microseconds, and the same
//! test gives the same interleaving every run.
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//! use steward_core::testing::TestRuntime;
//! use steward_core::{Reason, Shutdown};
//!
//! let rt = TestRuntime::new();
//! let handle = rt.handle();
//! let shutdown = Shutdown::new();
//!
//! let stop = shutdown.clone();
//! let timer = handle.clone();
//! handle.spawn(async move {
//!     timer.sleep(Duration::from_secs(30)).await;
//!     stop.trigger(Reason::Requested);
//! });
//!
//! rt.block_on(shutdown.triggered());
//! assert_eq!(rt.elapsed(), Duration::from_secs(30)); // and no real time passed
//! ```
//!
//! # Caveats
//!
//! Virtual time jumps whenever the runtime's own tasks are all idle, even if a
//! thread outside it is about to wake one of them: keep the work a test
//! measures inside the runtime. A panic in a spawned task propagates out of
//! `block_on` (steward's task registry catches its tasks' panics itself).
//!
//! Blocking work ([`Runtime::spawn_blocking`], so
//! [`Tasks::spawn_blocking`](crate::Tasks::spawn_blocking) and
//! [`Tasks::start_blocking`](crate::Tasks::start_blocking)) runs on a thread
//! of its own, and takes no virtual time: while a blocking job runs,
//! `block_on` does not move the clock (it waits for the job, in real time, as
//! tokio's paused clock does for `spawn_blocking`), so a closure that returns
//! on its stop signal is seen to stop within any grace, every run. Only
//! [`TestRuntime::advance`] moves the clock past a running job: that is how a
//! test shows a closure that overruns its grace (see `advance`'s example).

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, Weak};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use crate::runtime::{BoxBlocking, BoxFuture, Runtime, RuntimeHandle};

/// How long `block_on` waits, in real time, for a wake-up from outside the
/// runtime when it has nothing to run and no timer to jump to, before it
/// declares the test deadlocked.
const DEADLOCK_AFTER: Duration = Duration::from_secs(60);

/// A deterministic single-threaded runtime with a virtual clock.
///
/// See the [module docs](self).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use steward_core::testing::TestRuntime;
///
/// let rt = TestRuntime::new();
/// let handle = rt.handle();
/// let out = rt.block_on(async move {
///     handle.timeout(Duration::from_secs(5), futures_lite::future::pending::<()>()).await
/// });
/// assert!(out.is_err());
/// assert_eq!(rt.elapsed(), Duration::from_secs(5));
/// ```
pub struct TestRuntime {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
    base: Instant,
}

#[derive(Default)]
struct State {
    /// Virtual time since `base`.
    now: Duration,
    ready: VecDeque<Arc<Task>>,
    /// Armed timers by (deadline, id); the waker of the sleep that armed it.
    timers: BTreeMap<(Duration, u64), Waker>,
    next_id: u64,
    /// The `block_on` future was woken.
    main_woken: bool,
    /// Blocking jobs still running: `block_on` holds the clock while any is.
    blocking: usize,
}

struct Task {
    future: Mutex<Option<BoxFuture<()>>>,
    queued: AtomicBool,
    shared: Weak<Shared>,
}

impl TestRuntime {
    /// A new runtime whose virtual clock reads zero.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = steward_core::testing::TestRuntime::new();
    /// assert_eq!(rt.elapsed(), std::time::Duration::ZERO);
    /// ```
    #[must_use]
    pub fn new() -> Self {
        Self {
            shared: Arc::new(Shared {
                state: Mutex::new(State::default()),
                wake: Condvar::new(),
                base: Instant::now(),
            }),
        }
    }

    /// The handle that steward's types take.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = steward_core::testing::TestRuntime::new();
    /// let tasks_runtime: steward_core::RuntimeHandle = rt.handle();
    /// # drop(tasks_runtime);
    /// ```
    #[must_use]
    pub fn handle(&self) -> RuntimeHandle {
        RuntimeHandle::new(Handle(Arc::clone(&self.shared)))
    }

    /// Virtual time elapsed since the runtime was created.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = steward_core::testing::TestRuntime::new();
    /// rt.advance(std::time::Duration::from_millis(250));
    /// assert_eq!(rt.elapsed().as_millis(), 250);
    /// ```
    #[must_use]
    pub fn elapsed(&self) -> Duration {
        self.shared.lock().now
    }

    /// Runs `future` to completion, with every spawned task, on this thread.
    ///
    /// Whenever nothing is ready to run, the clock jumps to the next armed
    /// timer, unless a blocking job is running: then it waits for the job
    /// (or a wake-up) first. If no timer is armed either, it waits for a
    /// wake-up from another thread.
    ///
    /// # Panics
    ///
    /// When a spawned task panics (the panic is propagated), or when nothing
    /// can make progress for 60 s of real time (a deadlock in the test): no
    /// task ready, and no timer armed or a blocking job holding the clock,
    /// and no outside wake-up.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = steward_core::testing::TestRuntime::new();
    /// assert_eq!(rt.block_on(async { 1 + 1 }), 2);
    /// ```
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        let mut future = pin!(future);
        let main = Arc::new(MainWaker(Arc::downgrade(&self.shared)));
        let waker = Waker::from(main);
        let mut cx = Context::from_waker(&waker);
        self.shared.lock().main_woken = true;
        loop {
            if std::mem::take(&mut self.shared.lock().main_woken) {
                if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
                    return out;
                }
            }
            if self.run_ready() {
                continue;
            }
            let mut state = self.shared.lock();
            if state.main_woken || !state.ready.is_empty() {
                continue;
            }
            if state.blocking == 0 {
                if let Some((&(deadline, _), _)) = state.timers.first_key_value() {
                    state.now = state.now.max(deadline);
                    let due = take_due(&mut state);
                    drop(state);
                    due.into_iter().for_each(Waker::wake);
                    continue;
                }
            }
            // Nothing to run, and the clock may not move: wait for a wake-up,
            // or for the last blocking job to end when a timer is armed.
            let (state, timeout) = self
                .shared
                .wake
                .wait_timeout_while(state, DEADLOCK_AFTER, |s| {
                    !s.main_woken && s.ready.is_empty() && (s.timers.is_empty() || s.blocking > 0)
                })
                .unwrap_or_else(PoisonError::into_inner);
            assert!(
                !timeout.timed_out(),
                "TestRuntime deadlock: the block_on future is pending, no task is ready, \
                 no timer can fire ({} blocking jobs hold the clock) and nothing woke it \
                 for {DEADLOCK_AFTER:?}",
                state.blocking
            );
            drop(state);
        }
    }

    /// Moves the clock forward by `duration`, firing every timer due by then
    /// and running the tasks they wake until all are idle.
    ///
    /// It moves the clock even while a blocking job runs (which `block_on`
    /// does not): the test says that this much time passed during the job.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use std::sync::Arc;
    /// use std::time::Duration;
    ///
    /// let rt = steward_core::testing::TestRuntime::new();
    /// let handle = rt.handle();
    /// let fired = Arc::new(AtomicBool::new(false));
    /// let flag = fired.clone();
    /// let timer = handle.clone();
    /// handle.spawn(async move {
    ///     timer.sleep(Duration::from_secs(10)).await;
    ///     flag.store(true, Ordering::SeqCst);
    /// });
    /// rt.advance(Duration::from_secs(9));
    /// assert!(!fired.load(Ordering::SeqCst));
    /// rt.advance(Duration::from_secs(1));
    /// assert!(fired.load(Ordering::SeqCst));
    /// ```
    ///
    /// A blocking closure that overruns its grace: `advance` moves the clock
    /// while it runs.
    ///
    /// ```
    /// use std::sync::mpsc;
    /// use std::time::Duration;
    /// use steward_core::{testing::TestRuntime, Exit, Shutdown, Tasks};
    ///
    /// let rt = TestRuntime::new();
    /// let tasks = Tasks::new(rt.handle(), Shutdown::new());
    /// let (release, blocked) = mpsc::channel::<()>();
    /// tasks.start_blocking("flush", move |_stop| blocked.recv().unwrap())?;
    ///
    /// let (tx, reports) = mpsc::channel();
    /// let all = tasks.clone();
    /// rt.handle().spawn(async move { tx.send(all.shutdown(Duration::from_secs(2)).await).unwrap() });
    /// rt.advance(Duration::from_secs(2) + Tasks::ABANDON_AFTER);
    /// let report = reports.try_recv().unwrap();
    /// assert!(matches!(report.get("flush").unwrap().exit(), Exit::Abandoned));
    /// release.send(()).unwrap(); // the thread was left running until now
    /// # Ok::<(), steward_core::StartError>(())
    /// ```
    pub fn advance(&self, duration: Duration) {
        let target = self.shared.lock().now + duration;
        loop {
            self.run_ready();
            let mut state = self.shared.lock();
            match state.timers.first_key_value() {
                Some((&(deadline, _), _)) if deadline <= target => {
                    state.now = state.now.max(deadline);
                    let due = take_due(&mut state);
                    drop(state);
                    due.into_iter().for_each(Waker::wake);
                }
                _ => {
                    state.now = target;
                    return;
                }
            }
        }
    }

    /// Runs every task that is ready until none is, without moving the clock.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use std::sync::Arc;
    ///
    /// let rt = steward_core::testing::TestRuntime::new();
    /// let ran = Arc::new(AtomicBool::new(false));
    /// let flag = ran.clone();
    /// rt.handle().spawn(async move { flag.store(true, Ordering::SeqCst) });
    /// rt.run_until_idle();
    /// assert!(ran.load(Ordering::SeqCst));
    /// ```
    pub fn run_until_idle(&self) {
        while self.run_ready() {}
    }

    /// Polls the tasks that are ready now; returns whether any ran.
    fn run_ready(&self) -> bool {
        let mut ran = false;
        loop {
            let Some(task) = self.shared.lock().ready.pop_front() else {
                return ran;
            };
            ran = true;
            task.queued.store(false, Ordering::SeqCst);
            let waker = Waker::from(Arc::clone(&task));
            let mut cx = Context::from_waker(&waker);
            let mut slot = task.future.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(fut) = slot.as_mut() {
                if fut.as_mut().poll(&mut cx).is_ready() {
                    *slot = None;
                }
            }
        }
    }
}

fn take_due(state: &mut State) -> Vec<Waker> {
    let later = state.timers.split_off(&(state.now, u64::MAX));
    std::mem::replace(&mut state.timers, later)
        .into_values()
        .collect()
}

impl Default for TestRuntime {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TestRuntime {
    fn drop(&mut self) {
        // Break the cycles (task → handle → runtime → queue → task) and run
        // the destructors of the tasks still pending, outside the lock.
        let (ready, timers) = {
            let mut state = self.shared.lock();
            (
                std::mem::take(&mut state.ready),
                std::mem::take(&mut state.timers),
            )
        };
        for task in &ready {
            let fut = task
                .future
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            drop(fut);
        }
        drop(timers);
    }
}

impl fmt::Debug for TestRuntime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestRuntime").finish_non_exhaustive()
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Wake for Task {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // SeqCst: a plain flag between wakers and the runner; the queue's
        // lock orders the rest.
        if self.queued.swap(true, Ordering::SeqCst) {
            return;
        }
        if let Some(shared) = self.shared.upgrade() {
            shared.lock().ready.push_back(Arc::clone(self));
            shared.wake.notify_all();
        }
    }
}

struct MainWaker(Weak<Shared>);

impl Wake for MainWaker {
    fn wake(self: Arc<Self>) {
        if let Some(shared) = self.0.upgrade() {
            shared.lock().main_woken = true;
            shared.wake.notify_all();
        }
    }
}

/// The [`Runtime`] face of a [`TestRuntime`].
struct Handle(Arc<Shared>);

impl Runtime for Handle {
    fn spawn(&self, task: BoxFuture<()>) {
        let task = Arc::new(Task {
            future: Mutex::new(Some(task)),
            queued: AtomicBool::new(false),
            shared: Arc::downgrade(&self.0),
        });
        task.wake_by_ref();
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<()> {
        let deadline = self.0.lock().now.saturating_add(duration);
        Box::pin(VirtualSleep {
            shared: Arc::downgrade(&self.0),
            deadline,
            id: None,
        })
    }

    fn now(&self) -> Instant {
        self.0.base + self.0.lock().now
    }

    fn spawn_blocking(&self, job: BoxBlocking) {
        self.0.lock().blocking += 1;
        let running = Running(Arc::downgrade(&self.0));
        let spawned = std::thread::Builder::new()
            .name("steward-blocking".to_owned())
            .spawn(move || {
                let _running = running; // released after the job, even if it panics
                job();
            });
        // On failure the closure, `running` with it, was dropped: released.
        if let Err(e) = spawned {
            tracing::error!(error = %e, "could not spawn a thread for blocking work");
        }
    }
}

/// One running blocking job: holds the virtual clock until dropped.
struct Running(Weak<Shared>);

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(shared) = self.0.upgrade() {
            shared.lock().blocking -= 1;
            shared.wake.notify_all();
        }
    }
}

/// A sleep on the virtual clock: armed on first poll, disarmed on drop.
struct VirtualSleep {
    shared: Weak<Shared>,
    deadline: Duration,
    id: Option<u64>,
}

impl Future for VirtualSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let Some(shared) = self.shared.upgrade() else {
            return Poll::Pending; // the runtime is gone; nothing will ever run this
        };
        let mut state = shared.lock();
        if state.now >= self.deadline {
            if let Some(id) = self.id.take() {
                state.timers.remove(&(self.deadline, id));
            }
            return Poll::Ready(());
        }
        let id = *self.id.get_or_insert_with(|| {
            state.next_id += 1;
            state.next_id
        });
        state.timers.insert((self.deadline, id), cx.waker().clone());
        Poll::Pending
    }
}

impl Drop for VirtualSleep {
    fn drop(&mut self) {
        if let (Some(id), Some(shared)) = (self.id, self.shared.upgrade()) {
            let waker = shared.lock().timers.remove(&(self.deadline, id));
            drop(waker);
        }
    }
}
