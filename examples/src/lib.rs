//! Code shared by steward's example programs.
//!
//! The binaries under `src/bin/` are the examples proper; this library holds
//! what more than one of them, or their tests, use.
//!
//! - [`batch`]: a batching writer written against `steward-core` alone, as a
//!   runtime-neutral library would be (the `library` binary drives it).
//! - [`checks`]: health checks of real dependencies, Redis (`PING`) and
//!   PostgreSQL (`SELECT 1`), on tokio.
//! - [`jobs`]: the durable job processor behind `service` and
//!   `service-tokio`, runtime-neutral.

#![forbid(unsafe_code)]

pub mod batch;
pub mod checks;
pub mod jobs;
