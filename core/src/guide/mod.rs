//! Guides: how the pieces fit, with runnable examples.
//!
//! - [`library`]: writing a runtime-neutral library on `steward-core`
//!   alone, and testing it on the virtual-time runtime.
//! - [`serving`]: serving your own server (an accept loop, its
//!   connections, a long-lived stream) so that connections keep being
//!   served during the pre-stop delay and finish within the grace.
//!
//! The sequence they both rely on (startup, ready, trigger, pre-stop
//! delay, tasks stopped, teardown, report) is drawn in [`crate::app`].
//!
//! # Examples
//!
//! Each guide's examples run as tests of this crate
//! (`cargo test -p steward-core --all-features --doc guide`).
//!
//! ```
//! // This module holds documentation only.
//! use steward_core::guide as _;
//! ```

pub mod library;
pub mod serving;
