//! # Writing a runtime-neutral library
//!
//! A library that spawns background work, sleeps, or has a health of its
//! own should not choose its users' runtime. Written against
//! `steward-core` alone, it runs on smol, on tokio, and in its tests on the
//! virtual-time runtime, and the application's shutdown stops it like any
//! of the application's own tasks.
//!
//! ```toml
//! [dependencies]
//! steward-core = "0.1"
//!
//! [dev-dependencies]
//! steward-core = { version = "0.1", features = ["test-util"] }
//! ```
//!
//! ## What it takes from its caller
//!
//! Never a runtime of its own: one of these three, from the application
//! (inside `App::run`'s body, they are all on the [`Context`](crate::Context)):
//!
//! | it needs to | it takes | and uses |
//! |---|---|---|
//! | read the clock, sleep, time out, spawn detached work | [`RuntimeHandle`](crate::RuntimeHandle) (`cx.runtime()`) | [`sleep`](crate::RuntimeHandle::sleep), [`timeout`](crate::RuntimeHandle::timeout), [`now`](crate::RuntimeHandle::now) |
//! | know when to stop, and hold the drain until its work is safe | [`Shutdown`](crate::Shutdown) (`cx.shutdown()`, or a [`child`](crate::Shutdown::child) of it) | [`triggered`](crate::Shutdown::triggered), [`run_until_triggered`](crate::Shutdown::run_until_triggered), [`guard`](crate::Shutdown::guard) |
//! | run background tasks that the shutdown stops, waits for and reports | [`Tasks`](crate::Tasks) (`cx.tasks()`) | [`start`](crate::Tasks::start), [`periodic`](crate::Tasks::periodic), [`supervise`](crate::Tasks::supervise), [`shield`](crate::Tasks::shield) |
//! | report its health on `/readyz` and `/livez` | [`Health`](crate::health::Health) (`cx.health()`) | [`register`](crate::health::Health::register) a [`Check`](crate::health::Check) |
//!
//! Prefer [`Tasks`](crate::Tasks) to [`RuntimeHandle::spawn`](crate::RuntimeHandle::spawn):
//! a task of the registry gets its own stop signal when the service stops
//! (after the pre-stop delay), is waited for within the grace, aborted past
//! it, and shows by name in the report. A detached spawn is none of these.
//!
//! ## How it spawns, sleeps and checks
//!
//! A cache that refreshes a remote value every `every` for as long as the
//! service runs, with a timeout on each fetch and a readiness check that
//! fails until the first refresh succeeded:
//!
//! ```
//! use std::sync::atomic::{AtomicU64, Ordering};
//! use std::sync::Arc;
//! use std::time::Duration;
//! use steward_core::health::{Check, Health};
//! use steward_core::{Periodic, RuntimeHandle, Tasks};
//!
//! /// A cache of a remote value. It names no runtime.
//! #[derive(Clone)]
//! pub struct Cache {
//!     version: Arc<AtomicU64>,
//! }
//!
//! impl Cache {
//!     /// Starts the refresh as the task `cache-refresh` of `tasks`, and
//!     /// registers the check `cache` (readiness) on `health`.
//!     pub fn start(
//!         rt: RuntimeHandle,
//!         tasks: &Tasks,
//!         health: &Health,
//!         every: Duration,
//!     ) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
//!         let cache = Cache { version: Arc::new(AtomicU64::new(0)) };
//!         let version = cache.version.clone();
//!         // A run in progress finishes when the service stops; the sleep
//!         // between runs is cut at once.
//!         tasks.periodic("cache-refresh", Periodic::new(every), move || {
//!             let (rt, version) = (rt.clone(), version.clone());
//!             async move {
//!                 let fetch = rt.sleep(Duration::from_millis(50)); // the round trip
//!                 rt.timeout(Duration::from_secs(2), fetch).await?;
//!                 version.fetch_add(1, Ordering::Relaxed);
//!                 Ok::<(), steward_core::runtime::Elapsed>(())
//!             }
//!         })?;
//!         let seen = cache.version.clone();
//!         let check = move || {
//!             let fresh = seen.load(Ordering::Relaxed) > 0;
//!             async move { if fresh { Ok(()) } else { Err("never refreshed") } }
//!         };
//!         health.register(Check::new("cache", check).ready())?;
//!         Ok(cache)
//!     }
//!
//!     /// How many refreshes succeeded.
//!     pub fn version(&self) -> u64 {
//!         self.version.load(Ordering::Relaxed)
//!     }
//! }
//! # #[cfg(feature = "test-util")] {
//! # use steward_core::{Reason, Shutdown};
//! # let rt = steward_core::testing::TestRuntime::new();
//! # let service = Shutdown::new();
//! # let tasks = Tasks::new(rt.handle(), service.clone());
//! # let health = Health::new(rt.handle());
//! # let cache = Cache::start(rt.handle(), &tasks, &health, Duration::from_secs(30)).unwrap();
//! # rt.advance(Duration::from_secs(61));
//! # assert_eq!(cache.version(), 3);
//! # service.trigger(Reason::Requested);
//! # assert!(rt.block_on(tasks.shutdown(Duration::from_secs(5))).is_clean());
//! # }
//! ```
//!
//! The application passes what it has, on whichever runtime it chose:
//!
//! ```text
//! steward_smol::App::new().run(|cx| async move {      // or steward_tokio::App
//!     let every = Duration::from_secs(30);
//!     let cache = Cache::start(cx.runtime().clone(), cx.tasks(), cx.health(), every)?;
//!     ...
//! })
//! ```
//!
//! ## How its tests run on virtual time
//!
//! `steward_core::testing::TestRuntime` ([feature `test-util`](crate#features)) runs
//! everything on the test's thread and moves its clock only when told, or
//! when every task is idle: an hour of refreshes takes microseconds, and
//! the same test gives the same interleaving every run. The test builds
//! what an application would pass, then drives the clock:
//!
//! ```
//! # #[cfg(feature = "test-util")] {
//! # use std::sync::atomic::{AtomicU64, Ordering};
//! # use std::sync::Arc;
//! # use std::time::Duration;
//! # use steward_core::health::{Check, Health};
//! # use steward_core::{Periodic, RuntimeHandle, Tasks};
//! # #[derive(Clone)]
//! # pub struct Cache { version: Arc<AtomicU64> }
//! # impl Cache {
//! #     pub fn start(rt: RuntimeHandle, tasks: &Tasks, health: &Health, every: Duration)
//! #         -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
//! #         let cache = Cache { version: Arc::new(AtomicU64::new(0)) };
//! #         let version = cache.version.clone();
//! #         tasks.periodic("cache-refresh", Periodic::new(every), move || {
//! #             let (rt, version) = (rt.clone(), version.clone());
//! #             async move {
//! #                 rt.timeout(Duration::from_secs(2), rt.sleep(Duration::from_millis(50))).await?;
//! #                 version.fetch_add(1, Ordering::Relaxed);
//! #                 Ok::<(), steward_core::runtime::Elapsed>(())
//! #             }
//! #         })?;
//! #         let seen = cache.version.clone();
//! #         let check = move || { let fresh = seen.load(Ordering::Relaxed) > 0;
//! #             async move { if fresh { Ok(()) } else { Err("never refreshed") } } };
//! #         health.register(Check::new("cache", check).ready())?;
//! #         Ok(cache)
//! #     }
//! #     pub fn version(&self) -> u64 { self.version.load(Ordering::Relaxed) }
//! # }
//! use steward_core::health::Status;
//! use steward_core::testing::TestRuntime;
//! use steward_core::{Reason, Shutdown};
//!
//! let rt = TestRuntime::new();
//! let service = Shutdown::new();
//! let tasks = Tasks::new(rt.handle(), service.clone());
//! let health = Health::new(rt.handle());
//! let cache = Cache::start(rt.handle(), &tasks, &health, Duration::from_secs(30)).unwrap();
//!
//! assert_eq!(rt.block_on(health.refresh()).status(), Status::Unhealthy); // not yet
//! rt.advance(Duration::from_secs(61)); // runs at 0 s, 30 s and 60 s
//! assert_eq!(cache.version(), 3);
//! assert_eq!(rt.block_on(health.refresh()).status(), Status::Healthy);
//!
//! // The service stops: the refresh task ends within the grace, by name.
//! service.trigger(Reason::Signal(15));
//! let report = rt.block_on(tasks.shutdown(Duration::from_secs(5)));
//! assert!(report.is_clean(), "{report}");
//! assert!(report.get("cache-refresh").is_some());
//! # }
//! ```
//!
//! [`App::serve`](crate::Lifecycle::serve) runs the whole sequence
//! (startup, ready, trigger, drain, report) on the virtual-time runtime the
//! same way, for a test of the library inside a service.
//!
//! ## The `library` example, explained
//!
//! `examples/src/batch` in steward's repository is a batching writer as a
//! library author would ship it, and `examples/src/bin/library.rs` drives
//! it on either runtime (`cargo run -p steward-examples --bin library --
//! --runtime tokio`). `Batcher::start(rt, tasks, sink, options)` takes the
//! application's [`RuntimeHandle`](crate::RuntimeHandle) (its clock, its
//! write timeouts) and [`Tasks`](crate::Tasks), and starts two tasks there:
//!
//! - `<name>-flush`, a [`Periodic`](crate::Periodic) job writing one batch
//!   every interval; a write in progress finishes when the service stops;
//! - `<name>`, which waits for its stop signal, then closes the batcher and
//!   writes what it holds; that final flush is
//!   [shielded](crate::Tasks::shield), so it runs to its end (within the
//!   grace) even if whoever waits for it goes away.
//!
//! Its health check (registered by the application, `Check::new("journal",
//! batcher.check()).ready()`) fails while writes fail; a full buffer makes
//! `push` wait (backpressure). The program pushes numbered events, and on
//! SIGTERM prints what reached the journal: every event, once, in order, on
//! both runtimes. Its doc tests run on the virtual-time runtime.
