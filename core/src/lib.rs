//! The production lifecycle of an async Rust service, on any runtime.
//!
//! steward gives a service graceful shutdown on SIGTERM/SIGINT, tracked and
//! supervised background tasks, resources started in order and torn down in
//! reverse, health checks, Kubernetes liveness/readiness/startup probes,
//! periodic jobs and cleanup that cannot be cut short. This crate depends on
//! no async runtime: thin adapters (`steward-smol`, `steward-tokio`) give it
//! one, and a library written against `steward-core` alone runs on both.
//!
//! # Which crate to depend on
//!
//! - **A library** that must not choose its users' runtime: `steward-core`
//!   (this crate) alone. It takes a [`RuntimeHandle`], a [`Shutdown`] or a
//!   [`Tasks`] from its caller, and tests on the virtual-time runtime
//!   (feature `test-util`): the guide [`guide::library`] shows how.
//! - **A service**: one adapter, `steward-smol` or `steward-tokio`. It
//!   re-exports what a service's body uses and this whole crate (as
//!   `steward_smol::core`), so it is the service's one steward dependency;
//!   its `App` runs the whole sequence ([`app`]) from `main`.
//!
//! Guides: [`guide::library`] (a runtime-neutral library) and
//! [`guide::serving`] (serving your own server through the drain).
//!
//! # Examples
//!
//! A whole graceful-shutdown program, runtime-neutral: a worker finishes
//! what it holds when shutdown is triggered, and `main` waits for it to drain.
//!
//! ```
//! use steward_core::{Reason, Shutdown};
//! # futures_lite::future::block_on(async {
//! let shutdown = Shutdown::new();
//!
//! let worker = {
//!     let stop = shutdown.child();
//!     let guard = stop.guard(); // the scope is not drained while this lives
//!     std::thread::spawn(move || {
//!         stop.wait_blocking(); // until the trigger
//!         let flushed = "journal flushed"; // finish the item in hand
//!         drop(guard); // now the scope may drain
//!         flushed
//!     })
//! };
//!
//! shutdown.trigger(Reason::Signal(15)); // what a SIGTERM handler does
//! shutdown.drained().await;
//! assert_eq!(worker.join().unwrap(), "journal flushed");
//! # });
//! ```
//!
//! A service's `main` is one call on an adapter (here smol; `steward_tokio::App`
//! is the same):
//!
//! ```text
//! fn main() -> std::process::ExitCode {
//!     steward_smol::App::new()
//!         .probe_addr(([127, 0, 0, 1], 8080).into())
//!         .run(|cx| async move {
//!             let db = cx.lifespan().start("db", connect(), |db| db.close()).await?;
//!             cx.tasks().start("consumer", move |stop| consume(db, stop))?;
//!             Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
//!         })
//! }
//! ```
//!
//! The same sequence runs on any [`RuntimeHandle`] with [`App::serve`], as
//! on the virtual-time runtime of [`testing`](#features) in a test.
//!
//! # The pieces
//!
//! | concept | types |
//! |---|---|
//! | a shutdown scope: trigger, wait, guards, children | [`Shutdown`], [`ShutdownGuard`], [`Reason`] |
//! | the runtime contract (spawn, sleep, now) | [`runtime::Runtime`], [`RuntimeHandle`] |
//! | background tasks, supervision, periodic jobs, shield | [`Tasks`], [`Restart`], [`Periodic`], [`Shielded`] |
//! | resources started in order, torn down in reverse | [`Lifespan`] |
//! | health checks and their aggregation | [`health::Health`], [`HealthCheck`], [`health::Check`] |
//! | liveness, readiness, startup | [`probes::Probes`] |
//! | the probe endpoints, without an HTTP library | [`http::Endpoints`] |
//! | SIGTERM/SIGINT: first drains, second exits | [`signal::SignalHandler`] |
//! | the whole sequence and its report | [`App`], [`Lifecycle`], [`AppReport`] |
//!
//! # Background tasks, coming from Python's asyncio
//!
//! [`Tasks`] is the registry of a service's background work. Each pattern
//! an asyncio service writes by hand has one name here:
//!
//! | asyncio | steward |
//! |---|---|
//! | `GracefulShutdown`: a signal handler sets an `Event`, then `task.cancel()` on `all_tasks()` | [`Shutdown`] + [`Tasks::shutdown`] |
//! | `BackgroundTaskManager`: a `set` of tasks, `add_done_callback(set.discard)` | [`Tasks::spawn`], [`Tasks::start`], [`Tasks::supervise`] |
//! | `periodic_task`: `while True: await job(); await asyncio.sleep(n)` | [`Tasks::every`], [`Periodic`] |
//! | `asyncio.shield(cleanup())` | [`Tasks::shield`] |
//!
//! How each is better:
//!
//! - **Graceful shutdown.** `cancel()` throws `CancelledError` into whatever
//!   `await` a task is at, mid-write included; a task that swallows it hangs
//!   the exit, and nothing reports what happened. Here a task first gets its
//!   own stop signal and finishes the item in hand; at the grace deadline it
//!   is dropped (its destructors run); [`Tasks::shutdown`] returns a
//!   [`Report`] of how every task ended and how long it took.
//! - **Task manager.** asyncio keeps only weak references to tasks (one
//!   nobody holds can vanish mid-run) and reports a fire-and-forget failure
//!   as "exception was never retrieved", whenever the collector runs. Here
//!   every task is counted until it ends and freed as soon as it does; a
//!   panic or error is logged at once with the task's name; a running name
//!   cannot be started twice; a failing task is restarted with backoff and,
//!   past its budget, escalates to the service's shutdown.
//! - **Periodic jobs.** The `while True` loop drifts by the job's own run
//!   time, dies silently on the first exception, and is cut mid-run by
//!   cancellation. A [`Periodic`] keeps its schedule (missed ticks delayed,
//!   skipped or burst), jitters and times out runs on request, reports a
//!   failed run and goes on, and on shutdown wakes its sleep at once but
//!   lets a run in progress finish.
//! - **Shield.** A shielded asyncio task is still cancelled by `asyncio.run`
//!   on exit and must be kept referenced by hand. A [`Shielded`] future's
//!   work is tracked: the shutdown waits for it within the grace and
//!   reports it if it overruns, and a panic reaches the waiter as an error.
//!
//! ```
//! # #[cfg(feature = "test-util")] {
//! use std::time::Duration;
//! use steward_core::{testing::TestRuntime, Periodic, Restart, Shutdown, Tasks};
//!
//! let rt = TestRuntime::new(); // virtual time; a service passes its adapter's handle
//! let service = Shutdown::new();
//! let tasks = Tasks::new(rt.handle(), service.clone());
//!
//! tasks.spawn(async { /* fire and forget, but counted */ })?;
//! tasks.supervise("consumer", Restart::on_failure(), |stop| async move {
//!     stop.triggered().await; // consume until asked to stop
//!     Ok::<(), std::io::Error>(())
//! })?;
//! tasks.periodic("metrics", Periodic::new(Duration::from_secs(15)), || async {})?;
//! let cleanup = tasks.shield(async { /* release the lease */ });
//! drop(cleanup); // the cleanup runs anyway
//!
//! service.trigger(steward_core::Reason::Signal(15));
//! let report = rt.block_on(tasks.shutdown(Duration::from_secs(25)));
//! assert!(report.is_clean(), "{report}");
//! # }
//! # Ok::<(), steward_core::StartError>(())
//! ```
//!
//! # Observability
//!
//! Every run of a named task, every run of a health check and every start and
//! stop of a lifespan step is polled inside a `tracing` span, named `task`,
//! `check` and `lifespan_step` (with a `phase` field, `start` or `stop`), each
//! with a `name` field: the user's own log lines inside carry the name of the
//! work they belong to. Unnamed work ([`Tasks::spawn`], [`Tasks::track`])
//! gets no span of its own. steward's own lines (failures, restarts, health
//! transitions, the report at exit) are unchanged.
//!
//! # Features
//!
//! - `metrics`: task, health-check, probe and lifecycle metrics through the
//!   `metrics` facade; the names are in [`observe`]. Runtime-neutral.
//! - `test-util`: `steward_core::testing`, a deterministic runtime with virtual
//!   time, so that timeouts, periodic work and shutdown sequences are tested
//!   in microseconds without sleeping.
//!
//! # Runtime adapters
//!
//! - `steward-smol`: smol's executor, async-io timers, signals through
//!   async-signal, the probe server on async-io, `steward_smol::App`.
//! - `steward-tokio`: a tokio runtime, `tokio::time`, `tokio::signal`, the
//!   probe server on hyper-util, an axum router, `steward_tokio::App`.
//! - `steward-hyper`: the probe endpoints as a runtime-neutral hyper 1 service.
//! - `steward-tonic`: `grpc.health.v1` served from the probes, on tokio.
//!
//! Each implements [`runtime::Runtime`], the three-method contract (spawn,
//! sleep, now) that is all steward asks of a runtime, and
//! [`app::Platform`], which adds signals and the probe server.

#![cfg_attr(docsrs, feature(doc_cfg))]
// Where other crates' docs link to this one's items when its own pages are
// not beside theirs (rustdoc otherwise prints such a link as plain text).
#![doc(html_root_url = "https://docs.rs/steward-core/0.1")]
#![forbid(unsafe_code)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    rust_2018_idioms,
    unreachable_pub
)]

pub mod app;
mod duration;
pub mod guide;
pub mod health;
pub mod http;
mod lifespan;
pub mod migrating;
pub mod observe;
mod periodic;
pub mod probes;
pub mod runtime;
mod shield;
mod shutdown;
pub mod signal;
mod sync;
mod tasks;
#[cfg(feature = "test-util")]
#[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
pub mod testing;

pub use app::{App, AppReport, Context, Lifecycle, Serve};
pub use health::{Health, HealthCheck};
pub use lifespan::{
    Lifespan, LifespanError, LifespanReport, LifespanRun, Start, StepOutcome, StepPhase,
    StepReport, StopOutput, Teardown,
};
pub use periodic::{FirstRun, MissedTick, Periodic};
pub use probes::Probes;
pub use runtime::RuntimeHandle;
pub use shield::{ShieldError, Shielded};
pub use shutdown::{
    Drained, DropGuard, DropGuardRef, Guarded, HolderGroup, Holders, Reason, RunUntilTriggered,
    RunUntilTriggeredOwned, ScopeState, Shutdown, ShutdownError, ShutdownGuard, Triggered,
    TriggeredOwned, TriggeredReason, UntilTriggered, WrapTrigger,
};
pub use signal::{SignalAction, SignalHandler};
pub use tasks::{
    Exit, Report, Restart, StartError, Stop, StopAll, TaskBuilder, TaskError, TaskOutput,
    TaskReport, TaskToken, Tasks, Tracked, TrackedOutput, Wait,
};

/// The crate's README.md, whose examples run as doc tests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
