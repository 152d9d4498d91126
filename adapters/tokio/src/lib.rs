//! tokio adapter for [steward-core](https://docs.rs/steward-core): runs steward's
//! runtime-neutral lifecycle on tokio, and is the one dependency a tokio
//! service needs.
//!
//! # Which crate to depend on
//!
//! - **A service on tokio** depends on `steward-tokio` alone: [`App`] runs it
//!   from `main`, and the types its body uses ([`Shutdown`], [`Tasks`],
//!   [`Lifespan`], [`health`], ...) are re-exported here. The rest of the
//!   core is [`steward_tokio::core`](crate::core).
//! - **A library** that must not choose its users' runtime depends on
//!   `steward-core` alone and takes a [`RuntimeHandle`], a [`Shutdown`] or a
//!   [`Tasks`] from its caller (see the guide
//!   [`steward_core::guide::library`]).
//! - `steward-smol` is the same for smol; `steward-hyper` serves the probe
//!   endpoints from your own hyper server, and this crate's `axum` feature
//!   mounts them in an axum app.
//!
//! ```toml
//! [dependencies]
//! steward-tokio = "0.1"
//! ```
//!
//! # Examples
//!
//! A whole service: a worker task, a health check, the probes on port
//! 8080; SIGTERM or Ctrl-C drains it and `main` returns its exit code.
//! [`App::run`] builds the tokio runtime itself: no `#[tokio::main]`.
//!
//! ```no_run
//! # // no_run: it waits for SIGTERM.
//! use std::process::ExitCode;
//! use std::time::Duration;
//! use steward_tokio::health::{Check, Status};
//! use steward_tokio::App;
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
//! The pieces on their own: [`TokioRuntime`] implements steward's runtime
//! contract ([`core::runtime::Runtime`]) on a tokio
//! [`Handle`](tokio::runtime::Handle), with `tokio::time`.
//!
//! ```
//! use std::time::Duration;
//! use steward_tokio::{Reason, Shutdown, TokioRuntime};
//!
//! #[tokio::main(flavor = "current_thread")]
//! async fn main() {
//!     let rt = TokioRuntime::current().handle();
//!     let shutdown = Shutdown::new();
//!     let stop = shutdown.clone();
//!     rt.spawn(async move { stop.trigger(Reason::Requested); });
//!     rt.timeout(Duration::from_secs(5), shutdown.triggered()).await.unwrap();
//! }
//! ```
//!
//! # Features
//!
//! - `axum`: [`axum::router`], the probe endpoints as an axum `Router`.
//! - `test-util`: turns on `steward-core`'s, so that
//!   `steward_tokio::core::testing` (the virtual-time runtime) is there for
//!   a service's tests (add it in `[dev-dependencies]`).

#![cfg_attr(docsrs, feature(doc_cfg))]
// Where other crates' docs link to this one's items when its own pages are
// not beside theirs (rustdoc otherwise prints such a link as plain text).
#![doc(html_root_url = "https://docs.rs/steward-tokio/0.1")]
#![forbid(unsafe_code)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    rust_2018_idioms,
    unreachable_pub
)]

mod app;
#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub mod axum;
mod probe_server;
mod runtime;
pub mod signal;
mod tcp_check;

mod service;

pub use app::Tokio;
pub use probe_server::ProbeServer;
pub use runtime::TokioRuntime;
pub use service::App;
pub use tcp_check::{TcpCheck, TokioConnector};

/// All of `steward-core`, for what the re-exports below leave out:
/// `steward_tokio::core::testing`, `core::runtime`, `core::signal`, ...
///
/// Named `core` after the package it is (`steward-core`): a tokio service
/// then names one crate only. Inside a crate that depends on
/// `steward-tokio`, `core::` still means the language's core library;
/// this is `steward_tokio::core`.
///
/// # Examples
///
/// ```
/// use steward_tokio::core::runtime::Runtime;
/// use steward_tokio::TokioRuntime;
///
/// fn takes_any_runtime(_: &impl Runtime) {}
/// let rt = tokio::runtime::Runtime::new().unwrap();
/// takes_any_runtime(&TokioRuntime::new(rt.handle().clone()));
/// ```
pub use steward_core as core;

// What a service's body uses, so that `steward-tokio` is its one dependency
// (the list is the core's, the same in both adapters).
steward_core::__adapter_reexports!();

/// The crate's README.md, whose examples run as doc tests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
