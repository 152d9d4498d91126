//! tokio adapter for [steward-core](https://docs.rs/steward-core): runs steward's
//! runtime-neutral lifecycle on tokio.
//!
//! [`TokioRuntime`] implements [`steward_core::runtime::Runtime`] on a tokio
//! [`Handle`](tokio::runtime::Handle), with `tokio::time`.
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//! use steward_core::{Reason, Shutdown};
//! use steward_tokio::TokioRuntime;
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

#![forbid(unsafe_code)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    rust_2018_idioms,
    unreachable_pub
)]

mod app;
#[cfg(feature = "axum")]
pub mod axum;
mod probe_server;
mod runtime;
pub mod signal;
mod tcp_check;

pub use app::{App, Tokio};
pub use probe_server::ProbeServer;
pub use runtime::TokioRuntime;
pub use tcp_check::{TcpCheck, TokioConnector};
