//! The adapter contract: the only place where a runtime is named, in the abstract.
//!
//! steward's core needs three things from an async runtime: to spawn a
//! detached `Send + 'static` future, to sleep for a [`Duration`], and to read a
//! monotonic clock; a fourth, to run a synchronous closure where it may
//! block, has a default (a thread of its own). [`Runtime`] is that contract. `steward-smol` and
//! `steward-tokio` implement it, and so does the virtual-time runtime of
//! `steward_core::testing` (feature `test-util`).
//!
//! Everything else — cancellation, abort, panics, timeouts — is built in core
//! on top of these three, so it behaves the same on every runtime. Spawning
//! returns nothing: core aborts a task by dropping its future itself, and
//! catches its panics itself, so no runtime's `JoinHandle` semantics leak in.
//!
//! [`RuntimeHandle`] is the cloneable, type-erased handle that the rest of
//! steward (and a runtime-neutral library) holds.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use pin_project_lite::pin_project;

/// A boxed, sendable future, as spawned and slept on through the contract.
///
/// # Examples
///
/// ```
/// let task: steward_core::runtime::BoxFuture<u8> = Box::pin(async { 1 });
/// assert_eq!(futures_lite::future::block_on(task), 1);
/// ```
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// A boxed, sendable closure, as run through [`Runtime::spawn_blocking`].
///
/// # Examples
///
/// ```
/// let job: steward_core::runtime::BoxBlocking = Box::new(|| println!("blocking"));
/// job();
/// ```
pub type BoxBlocking = Box<dyn FnOnce() + Send + 'static>;

/// What an async runtime must provide to run steward.
///
/// Implementations must be cheap to call from any thread. `sleep` must be
/// woken by the runtime's timer (not by busy polling), and `now` must be
/// monotonic and agree with `sleep`: after `sleep(d)` completes,
/// `now()` has advanced by at least `d`.
///
/// # Examples
///
/// A runtime that spawns every task on a thread of its own (fine for a test,
/// wasteful in production):
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use std::task::{Poll, Waker};
/// use std::time::{Duration, Instant};
/// use steward_core::runtime::{BoxFuture, Runtime, RuntimeHandle};
///
/// #[derive(Debug)]
/// struct Threads;
///
/// impl Runtime for Threads {
///     fn spawn(&self, task: BoxFuture<()>) {
///         std::thread::spawn(move || futures_lite::future::block_on(task));
///     }
///     fn sleep(&self, duration: Duration) -> BoxFuture<()> {
///         // A real runtime arms a timer; here a thread wakes the sleeper.
///         let deadline = Instant::now() + duration;
///         let waker = Arc::new(Mutex::new(None::<Waker>));
///         let timer = Arc::clone(&waker);
///         std::thread::spawn(move || {
///             std::thread::sleep(duration);
///             if let Some(w) = timer.lock().unwrap().take() {
///                 w.wake();
///             }
///         });
///         Box::pin(futures_lite::future::poll_fn(move |cx| {
///             *waker.lock().unwrap() = Some(cx.waker().clone());
///             if Instant::now() >= deadline { Poll::Ready(()) } else { Poll::Pending }
///         }))
///     }
///     fn now(&self) -> Instant {
///         Instant::now()
///     }
/// }
///
/// let rt = RuntimeHandle::new(Threads);
/// let start = rt.now();
/// futures_lite::future::block_on(rt.sleep(Duration::from_millis(1)));
/// assert!(rt.now() - start >= Duration::from_millis(1));
/// ```
pub trait Runtime: Send + Sync + 'static {
    /// Runs `task` to completion in the background, detached.
    ///
    /// The runtime must poll the task until it completes or the runtime shuts
    /// down. It must not need the task's output or a handle to it.
    fn spawn(&self, task: BoxFuture<()>);

    /// A future that completes once `duration` has passed on this runtime's clock.
    fn sleep(&self, duration: Duration) -> BoxFuture<()>;

    /// The runtime's monotonic clock.
    fn now(&self) -> Instant;

    /// Runs `job` on a thread where it may block (a synchronous call, a
    /// file write, a long computation), detached: the runtime's blocking
    /// pool.
    ///
    /// The runtime must run `job` to its end, off the threads that poll
    /// futures, or drop it without running it (when it is shutting down):
    /// steward's jobs record their end in a destructor, so a dropped job is
    /// still reported. steward's own jobs catch their panics.
    ///
    /// The default runs `job` on a new thread of its own (named
    /// `steward-blocking`), which needs nothing from the runtime; it drops
    /// `job` when the thread cannot be spawned. `steward-smol` overrides it
    /// with smol's blocking pool (`blocking::unblock`), `steward-tokio` with
    /// `tokio::task::spawn_blocking`.
    ///
    /// # Examples
    ///
    /// The default, on a runtime that does not override it:
    ///
    /// ```
    /// # #[cfg(feature = "test-util")] {
    /// use std::sync::mpsc;
    /// use steward_core::runtime::Runtime;
    ///
    /// let rt = steward_core::testing::TestRuntime::new().handle();
    /// let (tx, rx) = mpsc::channel();
    /// rt.spawn_blocking(Box::new(move || tx.send(std::thread::current().name().map(String::from)).unwrap()));
    /// assert_eq!(rx.recv().unwrap().as_deref(), Some("steward-blocking"));
    /// # }
    /// ```
    fn spawn_blocking(&self, job: BoxBlocking) {
        let spawned = std::thread::Builder::new()
            .name("steward-blocking".to_owned())
            .spawn(job);
        if let Err(e) = spawned {
            // The job was moved into the failed spawn and is dropped with it.
            tracing::error!(error = %e, "could not spawn a thread for blocking work");
        }
    }
}

/// A cloneable, type-erased handle to a [`Runtime`].
///
/// This is what steward's types hold, so that a library written against
/// `steward-core` alone never names a runtime.
///
/// # Examples
///
/// ```
/// # #[cfg(feature = "test-util")] {
/// use std::time::Duration;
/// use steward_core::testing::TestRuntime;
///
/// let rt = TestRuntime::new();
/// let handle = rt.handle();
/// rt.block_on(async move {
///     let start = handle.now();
///     handle.sleep(Duration::from_secs(30)).await; // virtual: takes no real time
///     assert_eq!(handle.now() - start, Duration::from_secs(30));
/// });
/// # }
/// ```
#[derive(Clone)]
pub struct RuntimeHandle {
    rt: Arc<dyn Runtime>,
}

impl RuntimeHandle {
    /// Wraps a runtime.
    ///
    /// # Examples
    ///
    /// See [`Runtime`], whose example wraps a runtime of threads.
    #[must_use]
    pub fn new<R: Runtime>(runtime: R) -> Self {
        Self {
            rt: Arc::new(runtime),
        }
    }

    /// Wraps a runtime that is already shared.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "test-util")] {
    /// use std::sync::Arc;
    /// use steward_core::runtime::{Runtime, RuntimeHandle};
    ///
    /// let rt = steward_core::testing::TestRuntime::new();
    /// let shared: Arc<dyn Runtime> = Arc::new(rt.handle());
    /// let a = RuntimeHandle::from_arc(shared.clone());
    /// let b = RuntimeHandle::from_arc(shared);
    /// assert!(a.ptr_eq(&b));
    /// # }
    /// ```
    #[must_use]
    pub fn from_arc(runtime: Arc<dyn Runtime>) -> Self {
        Self { rt: runtime }
    }

    /// Spawns a detached future.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "test-util")] {
    /// let rt = steward_core::testing::TestRuntime::new();
    /// let handle = rt.handle();
    /// let shutdown = steward_core::Shutdown::new();
    /// let stop = shutdown.clone();
    /// handle.spawn(async move { stop.trigger(steward_core::Reason::Requested); });
    /// rt.block_on(shutdown.triggered());
    /// # }
    /// ```
    pub fn spawn<F>(&self, future: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.rt.spawn(Box::pin(future));
    }

    /// Runs the synchronous `job` on the runtime's blocking pool, detached
    /// (see [`Runtime::spawn_blocking`]).
    ///
    /// Nothing tracks it: [`Tasks::spawn_blocking`](crate::Tasks::spawn_blocking)
    /// and [`Tasks::start_blocking`](crate::Tasks::start_blocking) count it,
    /// catch its panics and report it.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "test-util")] {
    /// let rt = steward_core::testing::TestRuntime::new();
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// rt.handle().spawn_blocking(move || tx.send(6 * 7).unwrap());
    /// assert_eq!(rx.recv().unwrap(), 42);
    /// # }
    /// ```
    pub fn spawn_blocking<F>(&self, job: F)
    where
        F: FnOnce() + Send + 'static,
    {
        self.rt.spawn_blocking(Box::new(job));
    }

    /// Sleeps for `duration` on the runtime's clock.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping the future cancels the timer and nothing else.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "test-util")] {
    /// let rt = steward_core::testing::TestRuntime::new();
    /// let handle = rt.handle();
    /// rt.block_on(handle.sleep(std::time::Duration::from_secs(60)));
    /// assert_eq!(rt.elapsed().as_secs(), 60); // virtual: no real minute passed
    /// # }
    /// ```
    pub fn sleep(&self, duration: Duration) -> Sleep {
        Sleep {
            inner: self.rt.sleep(duration),
        }
    }

    /// Sleeps until `deadline` on the runtime's clock (at once if it has passed).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, as [`RuntimeHandle::sleep`].
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "test-util")] {
    /// let rt = steward_core::testing::TestRuntime::new();
    /// let handle = rt.handle();
    /// let deadline = handle.now() + std::time::Duration::from_secs(5);
    /// rt.block_on(handle.sleep_until(deadline));
    /// assert_eq!(handle.now(), deadline);
    /// # }
    /// ```
    pub fn sleep_until(&self, deadline: Instant) -> Sleep {
        self.sleep(deadline.saturating_duration_since(self.now()))
    }

    /// Reads the runtime's monotonic clock.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "test-util")] {
    /// let rt = steward_core::testing::TestRuntime::new();
    /// let handle = rt.handle();
    /// let start = handle.now();
    /// rt.advance(std::time::Duration::from_millis(7));
    /// assert_eq!(handle.now() - start, std::time::Duration::from_millis(7));
    /// # }
    /// ```
    #[must_use]
    pub fn now(&self) -> Instant {
        self.rt.now()
    }

    /// Runs `future` for at most `duration`; on time out the future is dropped.
    ///
    /// # Errors
    ///
    /// The returned future resolves to [`Elapsed`] when `duration` ran out
    /// first.
    ///
    /// # Cancel safety
    ///
    /// As cancel-safe as `future` itself: dropping the [`Timeout`] drops it.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "test-util")] {
    /// let rt = steward_core::testing::TestRuntime::new();
    /// let handle = rt.handle();
    /// use std::time::Duration;
    /// let quick = rt.block_on(handle.timeout(Duration::from_secs(1), async { 5 }));
    /// assert_eq!(quick, Ok(5));
    /// let hung = futures_lite::future::pending::<()>();
    /// let late = rt.block_on(handle.timeout(Duration::from_secs(1), hung));
    /// assert!(late.is_err());
    /// # }
    /// ```
    pub fn timeout<F: Future>(&self, duration: Duration, future: F) -> Timeout<F> {
        Timeout {
            future,
            sleep: self.sleep(duration),
        }
    }

    /// Whether two handles wrap the same runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "test-util")] {
    /// let rt = steward_core::testing::TestRuntime::new();
    /// let handle = rt.handle();
    /// assert!(handle.ptr_eq(&handle.clone()));
    /// assert!(!handle.ptr_eq(&rt.handle()));
    /// # }
    /// ```
    #[must_use]
    pub fn ptr_eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.rt, &other.rt)
    }
}

/// A handle is itself a runtime: wrappers (a runtime that counts its spawns,
/// say) can take either.
impl Runtime for RuntimeHandle {
    fn spawn(&self, task: BoxFuture<()>) {
        self.rt.spawn(task);
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<()> {
        self.rt.sleep(duration)
    }

    fn now(&self) -> Instant {
        self.rt.now()
    }

    fn spawn_blocking(&self, job: BoxBlocking) {
        self.rt.spawn_blocking(job);
    }
}

impl fmt::Debug for RuntimeHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuntimeHandle").finish_non_exhaustive()
    }
}

/// Future returned by [`RuntimeHandle::sleep`] and [`RuntimeHandle::sleep_until`].
///
/// Dropping it cancels the timer.
///
/// # Examples
///
/// See [`RuntimeHandle::sleep`].
#[must_use = "futures do nothing unless you .await or poll them"]
pub struct Sleep {
    inner: BoxFuture<()>,
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.inner.as_mut().poll(cx)
    }
}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep").finish_non_exhaustive()
    }
}

pin_project! {
    /// Future returned by [`RuntimeHandle::timeout`].
    ///
    /// Dropping it drops the future it runs and cancels the timer.
    ///
    /// # Examples
    ///
    /// See [`RuntimeHandle::timeout`].
    #[must_use = "futures do nothing unless you .await or poll them"]
    pub struct Timeout<F> {
        #[pin]
        future: F,
        sleep: Sleep,
    }
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(out) = this.future.poll(cx) {
            return Poll::Ready(Ok(out));
        }
        match Pin::new(this.sleep).poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(Elapsed(()))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<F> fmt::Debug for Timeout<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timeout").finish_non_exhaustive()
    }
}

/// The error of a [`Timeout`]: the time ran out before the future completed.
///
/// # Examples
///
/// See [`RuntimeHandle::timeout`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed(());

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("timed out")
    }
}

impl std::error::Error for Elapsed {}
