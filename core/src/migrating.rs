//! Coming from tokio-util, async-shutdown or swansong: each peer's names and
//! steward's.
//!
//! One table per peer. Where a name has no counterpart yet, the table says
//! so. Below the tables, the places where steward chose differently on
//! purpose.
//!
//! # tokio-util: `CancellationToken`
//!
//! | tokio-util | steward |
//! |---|---|
//! | `CancellationToken::new`, `Default` | [`Shutdown::new`], [`Default`](crate::Shutdown#impl-Default-for-Shutdown) |
//! | `clone` (shares the token) | `clone` (shares the scope) |
//! | `child_token` | [`Shutdown::child`] |
//! | `cancel` | [`Shutdown::trigger`] (takes a [`Reason`]; returns whether this call triggered) |
//! | `is_cancelled` | [`Shutdown::is_triggered`] |
//! | `cancelled` / `WaitForCancellationFuture` | [`Shutdown::triggered`] / [`Triggered`] |
//! | `cancelled_owned` / `WaitForCancellationFutureOwned` | [`Shutdown::triggered_owned`] / [`TriggeredOwned`] |
//! | `run_until_cancelled` | [`Shutdown::run_until_triggered`] / [`RunUntilTriggered`] |
//! | `run_until_cancelled_owned` | [`Shutdown::run_until_triggered_owned`] / [`RunUntilTriggeredOwned`] |
//! | `drop_guard` / `DropGuard` | [`Shutdown::drop_guard`] / [`DropGuard`] |
//! | `drop_guard_ref` / `DropGuardRef` | [`Shutdown::drop_guard_ref`] / [`DropGuardRef`] |
//! | `DropGuard::disarm` | [`DropGuard::disarm`], [`DropGuardRef::disarm`] |
//! | `Hash`, `Eq` (by identity) | [`Hash`](crate::Shutdown#impl-Hash-for-Shutdown), [`Eq`](crate::Shutdown#impl-PartialEq-for-Shutdown), [`Shutdown::ptr_eq`] |
//! | — | [`Shutdown::guard`], [`Shutdown::drained`]: waiting for work to finish, which tokio-util leaves to a `TaskTracker` |
//!
//! # tokio-util: `TaskTracker`
//!
//! | tokio-util | steward |
//! |---|---|
//! | `TaskTracker::new` | [`Tasks::new`] (takes the [`RuntimeHandle`](crate::RuntimeHandle) it spawns on and the [`Shutdown`] its tasks stop with) |
//! | `spawn` | [`Tasks::spawn`] (named: [`Tasks::start`], [`Tasks::supervise`]) |
//! | `spawn_on`, `spawn_local` | not built: [`Tasks::track`] wraps a future for any executor |
//! | `track_future` / `TrackedFuture` | [`Tasks::track_output`] / [`TrackedOutput`] (resolves to `Some(output)`, `None` if it panicked or was aborted); [`Tasks::track`] / [`Tracked`] resolves to `()` and logs an error output |
//! | `close` | [`Tasks::close`] (also refuses new tasks, see below) |
//! | `reopen` | [`Tasks::reopen`] (refused once [`Tasks::shutdown`] is called) |
//! | `is_closed` | [`Tasks::is_closed`] |
//! | `len`, `is_empty` | [`Tasks::len`], [`Tasks::is_empty`] |
//! | `wait` | [`Tasks::wait`] / [`Wait`] (as tokio-util's, a waiter that saw the registry closed and empty completes even if a token or a reopen follows) |
//! | `token` / `TaskTrackerToken` | [`Tasks::token`] / [`TaskToken`] (usable after close, as tokio-util's); for cleanup that is a future, [`Tasks::shield`] |
//! | `spawn_blocking` | [`Tasks::spawn_blocking`] (returns no `JoinHandle`: send the value on a channel); named: [`Tasks::start_blocking`], [`TaskBuilder::start_blocking`]. A closure past its grace cannot be aborted: it is reported [`Exit::Abandoned`](crate::Exit::Abandoned) (or [`Exit::Overran`](crate::Exit::Overran)) by name |
//! | `ptr_eq` | [`Tasks::ptr_eq`] |
//! | — | [`Tasks::shutdown`]: stop signal, grace, abort and a [`Report`](crate::Report) in one call |
//!
//! # async-shutdown: `ShutdownManager`
//!
//! | async-shutdown | steward |
//! |---|---|
//! | `ShutdownManager::new` | [`Shutdown::new`] |
//! | `trigger_shutdown(reason)`, `ShutdownAlreadyStarted` | [`Shutdown::trigger`] returning `false` |
//! | `is_shutdown_triggered` | [`Shutdown::is_triggered`] |
//! | `is_shutdown_completed` | [`Shutdown::is_drained`], [`Shutdown::state`] |
//! | `shutdown_reason` | [`Shutdown::reason`] |
//! | `wait_shutdown_triggered` / `ShutdownSignal` (resolves to the reason) | [`Shutdown::triggered_reason`] / [`TriggeredReason`]; [`Shutdown::triggered`] resolves to `()` |
//! | `wait_shutdown_complete` / `ShutdownComplete` | [`Shutdown::drained`] / [`Drained`] (resolves to `()`; then [`Shutdown::reason`]) |
//! | `wrap_cancel` / `WrapCancel` (`Err(reason)` when cancelled) | [`Shutdown::run_until_triggered`] (`None` when cut) |
//! | `wrap_trigger_shutdown` / `WrapTriggerShutdown` | [`Shutdown::wrap_trigger`] / [`WrapTrigger`] |
//! | `trigger_shutdown_token` / `TriggerShutdownToken` | [`Shutdown::drop_guard`] + [`DropGuard::with_reason`] / [`DropGuard`] |
//! | `TriggerShutdownToken::forget` | [`DropGuard::disarm`] |
//! | `delay_shutdown_token` / `DelayShutdownToken`, `ShutdownAlreadyCompleted` | [`Shutdown::try_guard`] / [`ShutdownGuard`], [`ShutdownError::Drained`]; [`Shutdown::guard`] never fails |
//! | `wrap_delay_shutdown` / `WrapDelayShutdown`, `DelayShutdownToken::wrap_future` | [`Shutdown::try_guard`] then [`ShutdownGuard::wrap`] / [`Guarded`]; or [`Shutdown::guarded`], which never fails |
//! | — | [`Shutdown::child`]: scopes triggered with their parent or alone |
//!
//! # swansong: `Swansong`
//!
//! | swansong | steward |
//! |---|---|
//! | `Swansong::new` | [`Shutdown::new`] |
//! | `shut_down` / `ShutdownCompletion` (triggers; awaited, waits for the guards) | [`Shutdown::trigger`], then [`Shutdown::drained`] |
//! | `ShutdownCompletion::block`, `block_on_shutdown_completion` | [`Shutdown::drained_blocking`] |
//! | `shutting_down` / `ShuttingDown` | [`Shutdown::triggered`] / [`Triggered`] |
//! | `state` / `ShutdownState` | [`Shutdown::state`] / [`ScopeState`] (`Running`, `Draining`, `Drained`) |
//! | `guard` / `Guard` | [`Shutdown::guard`] / [`ShutdownGuard`] |
//! | `guarded` / `Guarded` (`into_inner`, `Deref`) | [`Shutdown::guarded`] / [`Guarded`] ([`Guarded::into_inner`], `Deref`, `DerefMut`) |
//! | `interrupt` / `Interrupt` on a future | [`Shutdown::run_until_triggered`] / [`RunUntilTriggered`] |
//! | `interrupt` / `Interrupt` on a stream, `AsyncRead`, `AsyncBufRead`, `AsyncWrite`, iterator | [`Shutdown::until_triggered`] / [`UntilTriggered`] |
//! | `Interrupt::guarded` | [`Shutdown::guarded`] around [`Shutdown::until_triggered`] |
//! | `guard_count` | [`Shutdown::guard_count`] |
//! | `guard_report` / `GuardReport` | [`Shutdown::holders_report`] / [`Holders`], [`HolderGroup`] (grouped by location; each guard's time holding up the drain rather than its age, so that `guard()` reads no clock); bare locations: [`Shutdown::holders`] |
//! | `child` | [`Shutdown::child`] |
//! | `Eq` (clones are equal) | [`Eq`](crate::Shutdown#impl-PartialEq-for-Shutdown), [`Hash`](crate::Shutdown#impl-Hash-for-Shutdown) |
//! | — | a `tracing` debug event for each guard released after the trigger (see [`ShutdownGuard`]) |
//!
//! # Where steward chose differently
//!
//! - **A dropped root does not trigger.** As in tokio-util, and unlike
//!   swansong, dropping the last handle of a scope triggers nothing: a
//!   scope is triggered only by [`Shutdown::trigger`], a parent, or a
//!   [`DropGuard`] you chose to keep. A handle dropped by accident then
//!   cannot stop a service.
//! - **Reasons are a fixed enum.** async-shutdown takes any `T: Clone`;
//!   steward's [`Reason`] is one `#[non_exhaustive]` enum
//!   ([`Reason::Fatal`] carries a message), because the
//!   [`App`](crate::App) reads it for its exit code and its report, and a
//!   library's scope must mean the same to the application that triggers it.
//! - **`close` refuses new tasks.** tokio-util's `close` only lets `wait`
//!   complete, and spawning still works after it; [`Tasks::close`] makes
//!   [`Tasks::spawn`] and [`Tasks::start`] return
//!   [`StartError::Closed`](crate::StartError::Closed), so that work cannot
//!   start once the shutdown has begun ([`Tasks::shield`] still runs:
//!   cleanup is never refused).
//! - **Cut futures resolve to `None`, not to an error.**
//!   [`Shutdown::run_until_triggered`] gives `Option<T>`; the reason is one
//!   call away ([`Shutdown::reason`]).
//!
//! # Examples
//!
//! async-shutdown's delay and trigger tokens, in steward's words:
//!
//! ```
//! use steward_core::{Reason, Shutdown, ShutdownError};
//! # futures_lite::future::block_on(async {
//! let shutdown = Shutdown::new();
//! // `trigger_shutdown_token(reason)`: the scope is triggered when it goes.
//! let critical = shutdown.clone().drop_guard().with_reason(Reason::Fatal("db lost".into()));
//! // `wrap_delay_shutdown(fut)`: refused once drained.
//! let flush = shutdown.try_guard()?.wrap(async { "flushed" });
//!
//! drop(critical);
//! assert_eq!(shutdown.triggered_reason().await, Reason::Fatal("db lost".into()));
//! assert_eq!(flush.await, "flushed");
//! shutdown.drained().await;
//! assert_eq!(shutdown.try_guard().unwrap_err(), ShutdownError::Drained);
//! # Ok::<(), ShutdownError>(())
//! # }).unwrap();
//! ```

#[allow(unused_imports)] // the names the tables link to
use crate::{
    Drained, DropGuard, DropGuardRef, Guarded, HolderGroup, Holders, Reason, RunUntilTriggered,
    RunUntilTriggeredOwned, ScopeState, Shutdown, ShutdownError, ShutdownGuard, TaskBuilder,
    TaskToken, Tasks, Tracked, TrackedOutput, Triggered, TriggeredOwned, TriggeredReason,
    UntilTriggered, Wait, WrapTrigger,
};
