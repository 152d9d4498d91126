//! [`App`]: the adapter's own type over [`Lifecycle<Tokio>`](steward_core::app::Lifecycle), so that its page
//! lists every method (a type alias of a generic type would show none).
//! The type is written once in the core (`steward_core::__adapter_app!`)
//! for both adapters: every builder method of the lifecycle is forwarded.

use crate::Tokio;

steward_core::__adapter_app! {
    platform: Tokio,
    krate: "steward_tokio",
    runtime: "tokio",
    builds: "the tokio runtime (multi-thread)",
    setup: "the runtime",
}
