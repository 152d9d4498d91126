//! Both adapters' signal listeners installed in one process, for
//! `tests/tests/signals_two_adapters.rs`: a library on tokio inside a smol
//! service (or the reverse) must not start a second listener, or every
//! signal would be delivered twice (and the second delivery forces the
//! exit with 143).
//!
//! `two_adapters --first smol|tokio [--hold]`
//!
//! It installs the `--first` adapter's signals, then the other's, on one
//! [`Shutdown`], and prints (stdout), in order:
//! - `ready`, once both are installed;
//! - `stopping: REASON`, once the first signal triggered the shutdown;
//! - `routed: HANDLER`, the `Debug` of the handler the signals go to, once
//!   a second delivery had [`SECOND_DELIVERY`] to come (it would have ended
//!   the process with 143 instead);
//!
//! and exits 0. With `--hold`, it waits for a second signal instead (which
//! ends it with `128 + n`) and prints no `routed` line.

use std::time::Duration;

use futures_lite::FutureExt;
use steward_core::signal::SignalHandler;
use steward_core::Shutdown;

/// How long a second delivery of the same signal has to show up. Two
/// listeners are woken by the same signal at once (in practice the second
/// delivery ends the process before `stopping` is even printed); this only
/// bounds how long a passing run waits.
const SECOND_DELIVERY: Duration = Duration::from_millis(500);

fn main() {
    let mut args = std::env::args().skip(1);
    let first = match (args.next().as_deref(), args.next()) {
        (Some("--first"), Some(first)) => first,
        _ => panic!("usage: two_adapters --first smol|tokio [--hold]"),
    };
    let hold = args.next().as_deref() == Some("--hold");
    let shutdown = Shutdown::new();
    let install = |adapter: &str| -> SignalHandler {
        match adapter {
            "smol" => steward_smol::signal::install(&shutdown),
            "tokio" => steward_tokio::signal::install(&shutdown),
            other => panic!("--first smol|tokio, not {other:?}"),
        }
        .expect("install the signal handlers")
    };
    let second = if first == "smol" { "tokio" } else { "smol" };
    let _first = install(&first);
    let routed = install(second);
    println!("ready");

    futures_lite::future::block_on(shutdown.triggered());
    println!("stopping: {}", shutdown.reason().expect("triggered"));
    if hold {
        // The listener's delivery of the second signal exits the process.
        futures_lite::future::block_on(routed.forced());
        futures_lite::future::block_on(futures_lite::future::pending::<()>());
    }
    let forced = smol::block_on(async { Some(routed.forced().await) }.or(async {
        smol::Timer::after(SECOND_DELIVERY).await;
        None
    }));
    assert_eq!(forced, None, "forced by a second delivery");
    println!("routed: {routed:?}");
}
