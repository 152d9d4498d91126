//! steward's probe endpoints over HTTP/1 with hyper 1, on any runtime.
//!
//! - [`ProbeService`]: a hyper [`Service`](hyper::service::Service) over
//!   [`steward_core::http::Endpoints`], for a service that runs its own hyper
//!   server.
//! - [`Server`]: the accept loop around it with the listener's limits on
//!   (header-read timeout, header size, connection count) and a graceful
//!   close when the service's shutdown is drained. It spawns its
//!   connections through steward's [`RuntimeHandle`](steward_core::RuntimeHandle)
//!   and times them with [`RuntimeTimer`], so it names no runtime: the
//!   adapters (`steward-smol`, `steward-tokio`) give it a TCP [`Listener`].
//!
//! Most services do not depend on this crate: `steward-smol` and
//! `steward-tokio` serve the probes with it when `App::probe_addr` is set.
//! Depend on it to serve them from a hyper server of your own.
//!
//! # Examples
//!
//! Serving one in-memory connection (a real service uses an adapter's
//! `ProbeServer` instead):
//!
//! ```
//! use http_body_util::{BodyExt, Empty};
//! use hyper::service::Service;
//! use steward_core::health::{Check, Health, Status};
//! use steward_core::http::Endpoints;
//! use steward_core::probes::Probes;
//! use steward_hyper::ProbeService;
//!
//! let rt = steward_core::testing::TestRuntime::new();
//! let health = Health::new(rt.handle());
//! health.register(Check::new("db", || async { Status::Healthy }).ready()).unwrap();
//! let probes = Probes::new(health.clone(), steward_core::Shutdown::new());
//! probes.set_running();
//! rt.block_on(health.refresh());
//!
//! let service = ProbeService::new(Endpoints::new(probes));
//! let request = hyper::Request::get("/readyz?verbose").body(Empty::<bytes::Bytes>::new()).unwrap();
//! let response = rt.block_on(service.call(request)).unwrap();
//! assert_eq!(response.status(), 200);
//! let body = rt.block_on(response.into_body().collect()).unwrap().to_bytes();
//! assert_eq!(body, "[+]startup ok\n[+]shutdown ok\n[+]db ok\nreadyz check passed\n");
//! ```

// Where other crates' docs link to this one's items when its own pages are
// not beside theirs (rustdoc otherwise prints such a link as plain text).
#![doc(html_root_url = "https://docs.rs/steward-hyper/0.1")]
#![forbid(unsafe_code)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    rust_2018_idioms,
    unreachable_pub
)]

mod bind;
mod deadline;
mod linger;
mod server;
mod service;
mod table;
mod timer;
mod tracked;

pub use bind::{bind_tcp, DEFAULT_BACKLOG};
pub use server::{Listener, Serve, Server};
pub use service::{ProbeService, ResponseFuture};
pub use timer::RuntimeTimer;

/// The crate's README.md, whose examples run as doc tests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
