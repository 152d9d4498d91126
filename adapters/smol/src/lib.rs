//! smol adapter for [steward-core](https://docs.rs/steward-core): runs steward's
//! runtime-neutral lifecycle on smol.
//!
//! [`SmolRuntime`] implements [`steward_core::runtime::Runtime`] on an
//! [`async_executor::Executor`] you pass in, or on smol's global executor,
//! with async-io's timers.
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//! use steward_core::{Reason, Shutdown};
//! use steward_smol::SmolRuntime;
//!
//! let rt = SmolRuntime::global().handle();
//! let shutdown = Shutdown::new();
//! let stop = shutdown.clone();
//! rt.spawn(async move { stop.trigger(Reason::Requested); });
//! smol::block_on(async {
//!     rt.timeout(Duration::from_secs(5), shutdown.triggered()).await.unwrap();
//! });
//! ```

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

pub use app::{App, Smol};
pub use probe_server::ProbeServer;
pub use runtime::SmolRuntime;
pub use tcp_check::{SmolConnector, TcpCheck};
