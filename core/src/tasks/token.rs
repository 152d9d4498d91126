//! Counts without a future: [`Tasks::token`] and [`TaskToken`]; and
//! [`Tasks::reopen`].

use std::fmt;
use std::sync::Arc;

use super::registry::Token;
use super::Tasks;

impl Tasks {
    /// Takes a count in the registry for work that is not a future: a
    /// thread, a callback, a request handled elsewhere.
    ///
    /// [`wait`](Tasks::wait) and [`shutdown`](Tasks::shutdown) wait for
    /// every token to be dropped, as for a task, and [`len`](Tasks::len)
    /// counts it. Like tokio-util's `TaskTracker::token`, and like
    /// [`shield`](Tasks::shield), it works on a closed registry too: work
    /// already under way may still need to register its last step.
    ///
    /// # Caveats
    ///
    /// A token is not a task: nothing can abort it when a shutdown's grace
    /// runs out, so a token that is never dropped keeps
    /// [`shutdown`](Tasks::shutdown) waiting after its abort, as a task
    /// blocking its thread does. Bound the shutdown with
    /// [`RuntimeHandle::timeout`](crate::RuntimeHandle::timeout) when that
    /// matters.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "test-util")] {
    /// use steward_core::{testing::TestRuntime, Shutdown, Tasks};
    ///
    /// let rt = TestRuntime::new();
    /// let tasks = Tasks::new(rt.handle(), Shutdown::new());
    /// let token = tasks.token();
    /// let worker = std::thread::spawn(move || {
    ///     let _token = token; // counted until the thread is done
    /// });
    /// tasks.close();
    /// worker.join().unwrap();
    /// rt.block_on(tasks.wait());
    /// assert_eq!(tasks.len(), 0);
    /// # }
    /// ```
    #[must_use = "the count is released as soon as the token is dropped"]
    pub fn token(&self) -> TaskToken {
        self.inner.tracker.add();
        TaskToken {
            token: Token(Arc::clone(&self.inner)),
        }
    }

    /// Reopens a closed registry: tasks can be spawned and started again.
    ///
    /// Returns whether this call reopened it: `false` when it was open, or
    /// once [`shutdown`](Tasks::shutdown) has been called (a shutdown is
    /// final: the named tasks' stop signals stay given). A
    /// [`wait`](Tasks::wait) that has already seen the registry closed and
    /// empty completes anyway; one begun after the reopen waits for the
    /// next [`close`](Tasks::close).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "test-util")] {
    /// use std::time::Duration;
    /// use steward_core::{testing::TestRuntime, Shutdown, StartError, Tasks};
    ///
    /// let rt = TestRuntime::new();
    /// let tasks = Tasks::new(rt.handle(), Shutdown::new());
    /// tasks.close();
    /// assert_eq!(tasks.spawn(async {}), Err(StartError::Closed));
    /// assert!(tasks.reopen());
    /// assert!(!tasks.reopen());
    /// tasks.spawn(async {})?;
    ///
    /// let _report = rt.block_on(tasks.shutdown(Duration::from_secs(1)));
    /// assert!(!tasks.reopen(), "a shutdown is final");
    /// assert!(tasks.is_closed());
    /// # }
    /// # Ok::<(), steward_core::StartError>(())
    /// ```
    pub fn reopen(&self) -> bool {
        self.inner.tracker.reopen()
    }
}

/// A count in a [`Tasks`] registry, held by any value; returned by
/// [`Tasks::token`].
///
/// Cloning takes another count; dropping gives it back.
///
/// # Examples
///
/// ```
/// # #[cfg(feature = "test-util")] {
/// let rt = steward_core::testing::TestRuntime::new();
/// let tasks = steward_core::Tasks::new(rt.handle(), steward_core::Shutdown::new());
/// let token = tasks.token();
/// let again = token.clone();
/// assert_eq!(tasks.len(), 2);
/// assert!(token.tasks().ptr_eq(&tasks));
/// drop((token, again));
/// assert!(tasks.is_empty());
/// # }
/// ```
#[must_use = "the count is released as soon as the token is dropped"]
pub struct TaskToken {
    token: Token,
}

impl TaskToken {
    /// The registry this token counts in.
    ///
    /// # Examples
    ///
    /// See [`TaskToken`].
    #[must_use]
    pub fn tasks(&self) -> Tasks {
        Tasks {
            inner: Arc::clone(&self.token.0),
        }
    }
}

impl Clone for TaskToken {
    fn clone(&self) -> Self {
        self.tasks().token()
    }
}

impl fmt::Debug for TaskToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskToken")
            .field("len", &self.token.0.tracker.len())
            .finish_non_exhaustive()
    }
}
