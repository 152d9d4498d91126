//! smol adapter for [steward-core](https://docs.rs/steward-core): runs steward's
//! runtime-neutral lifecycle on smol, and is the one dependency a smol
//! service needs.
//!
//! # Which crate to depend on
//!
//! - **A service on smol** depends on `steward-smol` alone: [`App`] runs it
//!   from `main`, and the types its body uses ([`Shutdown`], [`Tasks`],
//!   [`Lifespan`], [`health`], ...) are re-exported here. The rest of the
//!   core is [`steward_smol::core`](crate::core).
//! - **A library** that must not choose its users' runtime depends on
//!   `steward-core` alone and takes a [`RuntimeHandle`], a [`Shutdown`] or a
//!   [`Tasks`] from its caller (see the guide
//!   [`steward_core::guide::library`]).
//! - `steward-tokio` is the same for tokio; `steward-hyper` serves the probe
//!   endpoints from your own hyper server.
//!
//! ```toml
//! [dependencies]
//! steward-smol = "0.1"
//! ```
//!
//! # Examples
//!
//! A whole service: a worker task, a health check, the probes on port
//! 8080; SIGTERM or Ctrl-C drains it and `main` returns its exit code.
//!
//! ```no_run
//! # // no_run: it waits for SIGTERM.
//! use std::process::ExitCode;
//! use std::time::Duration;
//! use steward_smol::health::{Check, Status};
//! use steward_smol::{App, StartError};
//!
//! fn main() -> ExitCode {
//!     App::new()
//!         .grace(Duration::from_secs(25))
//!         .probe_addr(([127, 0, 0, 1], 8080).into())
//!         .run(|cx| async move {
//!             cx.health().register(Check::new("disk", || async { Status::Healthy }).ready())?;
//!             cx.tasks().start("worker", |stop| async move {
//!                 stop.triggered().await; // work until asked to stop
//!             })?;
//!             Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
//!         })
//! }
//! ```
//!
//! The pieces on their own: [`SmolRuntime`] implements steward's runtime
//! contract ([`core::runtime::Runtime`]) on an [`async_executor::Executor`]
//! you pass in, or on smol's global executor, with async-io's timers.
//!
//! ```
//! use std::time::Duration;
//! use steward_smol::{Reason, Shutdown, SmolRuntime};
//!
//! let rt = SmolRuntime::global().handle();
//! let shutdown = Shutdown::new();
//! let stop = shutdown.clone();
//! rt.spawn(async move { stop.trigger(Reason::Requested); });
//! smol::block_on(async {
//!     rt.timeout(Duration::from_secs(5), shutdown.triggered()).await.unwrap();
//! });
//! ```
//!
//! # Features
//!
//! - `test-util`: turns on `steward-core`'s, so that
//!   `steward_smol::core::testing` (the virtual-time runtime) is there for
//!   a service's tests (add it in `[dev-dependencies]`).

#![cfg_attr(docsrs, feature(doc_cfg))]
// Where other crates' docs link to this one's items when its own pages are
// not beside theirs (rustdoc otherwise prints such a link as plain text).
#![doc(html_root_url = "https://docs.rs/steward-smol/0.1")]
#![forbid(unsafe_code)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    rust_2018_idioms,
    unreachable_pub
)]

mod app;
mod probe_server;
mod runtime;
pub mod signal;
mod tcp_check;

mod service;

pub use app::Smol;
pub use probe_server::ProbeServer;
pub use runtime::SmolRuntime;
pub use service::App;
pub use tcp_check::{SmolConnector, TcpCheck};

/// All of `steward-core`, for what the re-exports below leave out:
/// `steward_smol::core::testing`, `core::runtime`, `core::signal`, ...
///
/// Named `core` after the package it is (`steward-core`): a smol service
/// then names one crate only. Inside a crate that depends on
/// `steward-smol`, `core::` still means the language's core library;
/// this is `steward_smol::core`.
///
/// # Examples
///
/// ```
/// use steward_smol::core::runtime::Runtime;
/// use steward_smol::SmolRuntime;
///
/// fn takes_any_runtime(_: &impl Runtime) {}
/// takes_any_runtime(&SmolRuntime::global());
/// ```
pub use steward_core as core;

// What a service's body uses, so that `steward-smol` is its one dependency
// (the list is the core's, the same in both adapters).
steward_core::__adapter_reexports!();

/// The crate's README.md, whose examples run as doc tests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
