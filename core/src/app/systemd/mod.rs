//! systemd's service notifications (`sd_notify(3)`), without libsystemd.
//!
//! When `NOTIFY_SOCKET` is set (systemd sets it for a `Type=notify` unit),
//! [`Lifecycle::run`](super::Lifecycle::run) tells systemd where the service
//! is, following the [`Probes`] phase:
//!
//! | when | datagram |
//! |---|---|
//! | the runtime is up | `STATUS=starting` |
//! | a [`Lifespan`] step begins while starting | `STATUS=starting (<step>)` |
//! | startup done ([`Phase::Running`]) | `READY=1`, `STATUS=running` |
//! | the trigger ([`Phase::Draining`]) | `STOPPING=1`, `STATUS=draining (<reason>), <n> s of <budget> s left`, `EXTEND_TIMEOUT_USEC=<left + 5 s>` |
//! | every 5 s of the drain | `STATUS=draining ...`, `EXTEND_TIMEOUT_USEC=<left + 5 s>` |
//! | every `WATCHDOG_USEC / 2`, while the live checks pass | `WATCHDOG=1` |
//!
//! `EXTEND_TIMEOUT_USEC` asks systemd not to kill the service before the end
//! of the App's budget plus [`EXTEND_MARGIN`] (more than the App's own [`EXIT_SLACK`](super::EXIT_SLACK)), even when the unit's
//! `TimeoutStopSec=` is shorter (systemd never shortens a timeout for it).
//! The process does not know `TimeoutStopSec=`, so it sends it through the
//! whole drain. `WATCHDOG=1` stops when a check tagged live fails (or the
//! runtime stalls): systemd then restarts the service, as a failed liveness
//! probe restarts a pod. `WATCHDOG_PID`, when set to another process, turns
//! the watchdog off, as `sd_watchdog_enabled(3)` does.
//!
//! # Where the socket lives
//!
//! Platform code belongs in the adapters. The socket here is the
//! exception, in one small std-only file ([`unix`]): a Unix datagram socket
//! of std, written once, needs no runtime, and would otherwise be the same
//! code twice (in `steward-smol` and `steward-tokio`): code the two adapters
//! would share belongs in the core. On other systems the notifier is off. The protocol (what to
//! send when) is this file, runtime-neutral and tested on virtual time.

#[cfg(unix)]
mod unix;

use std::error::Error;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::health::{Select, Status};
use crate::lifespan::Lifespan;
use crate::probes::{Phase, Probe, Probes};
use crate::runtime::RuntimeHandle;
use crate::Shutdown;

use super::Context;

/// Time beyond the App's budget that `EXTEND_TIMEOUT_USEC` leaves for the
/// report and the exit.
pub(crate) const EXTEND_MARGIN: Duration = Duration::from_secs(5);

/// How often the drain's `STATUS` and `EXTEND_TIMEOUT_USEC` are sent again.
pub(crate) const DRAIN_EVERY: Duration = Duration::from_secs(5);

/// Where notifications go: the socket, or a recorder in the tests.
pub(crate) type Sink = Arc<dyn Fn(&str) + Send + Sync>;

/// What `NOTIFY_SOCKET` or `WATCHDOG_USEC` held that cannot be used.
#[derive(Debug)]
pub(crate) enum NotifyError {
    /// `NOTIFY_SOCKET` is neither an absolute path nor `@` and an abstract
    /// name (on Linux), e.g. `vsock:`.
    Address(String),
    /// The socket could not be created or connected (only unix has one to
    /// connect: elsewhere the notifier is off and never builds this).
    #[cfg_attr(not(unix), allow(dead_code))]
    Connect(std::io::Error),
    /// `WATCHDOG_USEC` is not a positive number of microseconds.
    WatchdogUsec(String),
}

impl fmt::Display for NotifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotifyError::Address(a) => write!(f, "NOTIFY_SOCKET={a:?}: unsupported address"),
            NotifyError::Connect(e) => write!(f, "NOTIFY_SOCKET: {e}"),
            NotifyError::WatchdogUsec(v) => {
                write!(
                    f,
                    "WATCHDOG_USEC={v:?}: not a positive number of microseconds"
                )
            }
        }
    }
}

impl Error for NotifyError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            NotifyError::Connect(e) => Some(e),
            _ => None,
        }
    }
}

/// The watchdog interval systemd asked for, if any, from the values of
/// `WATCHDOG_USEC` and `WATCHDOG_PID`.
pub(crate) fn watchdog_interval(
    usec: Option<&str>,
    pid: Option<&str>,
    own_pid: u32,
) -> Result<Option<Duration>, NotifyError> {
    let Some(usec) = usec else { return Ok(None) };
    if pid.is_some_and(|p| p.trim().parse::<u32>().ok() != Some(own_pid)) {
        return Ok(None); // meant for another process
    }
    match usec.trim().parse::<u64>() {
        Ok(n) if n > 0 => Ok(Some(Duration::from_micros(n))),
        _ => Err(NotifyError::WatchdogUsec(usec.to_owned())),
    }
}

/// Starts the notifier when `NOTIFY_SOCKET` is set: tasks on the service's
/// runtime that follow its phase until `stop` is triggered. A bad variable
/// is logged (the service runs on without notifying), never a silent default.
pub(crate) fn start(cx: &Context, grace: Duration, stop: &Shutdown) {
    let Some(address) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let sink = match connect(&address.to_string_lossy()) {
        Ok(sink) => sink,
        Err(error) => {
            tracing::warn!(%error, "systemd notifications off");
            return;
        }
    };
    let usec = std::env::var("WATCHDOG_USEC").ok();
    let pid = std::env::var("WATCHDOG_PID").ok();
    let watchdog = match watchdog_interval(usec.as_deref(), pid.as_deref(), std::process::id()) {
        Ok(interval) => interval,
        Err(error) => {
            tracing::warn!(%error, "systemd watchdog off");
            None
        }
    };
    tracing::info!(?watchdog, "notifying systemd");
    let service = (cx.probes(), cx.shutdown());
    steps(cx.lifespan(), cx.probes(), Arc::clone(&sink));
    spawn(cx.runtime(), service, grace, watchdog, stop, sink);
}

/// `STATUS=starting (<step>)` as each step of `lifespan` begins while the
/// service is starting: what `systemctl status` shows a slow start waiting
/// on. A step begun once running changes nothing.
pub(crate) fn steps(lifespan: &Lifespan, probes: &Probes, sink: Sink) {
    let probes = probes.clone();
    lifespan.on_start(Arc::new(move |step: &str| {
        if probes.phase() == Phase::Starting {
            send(&sink, &format!("STATUS=starting ({step})"));
        }
    }));
}

#[cfg(unix)]
fn connect(address: &str) -> Result<Sink, NotifyError> {
    unix::connect(address)
}

#[cfg(not(unix))]
fn connect(address: &str) -> Result<Sink, NotifyError> {
    Err(NotifyError::Address(address.to_owned()))
}

/// Spawns the phase follower and, with an interval, the watchdog.
pub(crate) fn spawn(
    rt: &RuntimeHandle,
    (probes, shutdown): (&Probes, &Shutdown),
    grace: Duration,
    watchdog: Option<Duration>,
    stop: &Shutdown,
    sink: Sink,
) {
    send(&sink, "STATUS=starting");
    let service = (probes.clone(), shutdown.clone());
    let follow = follow(rt.clone(), service, grace, Arc::clone(&sink));
    let until = stop.clone();
    rt.spawn(async move {
        until.run_until_triggered(follow).await;
    });
    if let Some(interval) = watchdog {
        let beat = watchdog_loop(rt.clone(), probes.clone(), interval, sink);
        let until = stop.clone();
        rt.spawn(async move {
            until.run_until_triggered(beat).await;
        });
    }
}

fn send(sink: &Sink, message: &str) {
    tracing::debug!(message, "systemd notification");
    sink(message);
}

/// `READY=1` when running, `STOPPING=1` at the trigger, then the drain's
/// status and timeout extension until the budget is spent.
async fn follow(
    rt: RuntimeHandle,
    (probes, shutdown): (Probes, Shutdown),
    grace: Duration,
    sink: Sink,
) {
    let mut phase = Phase::Starting;
    while phase < Phase::Draining {
        phase = probes.phase_changed(phase).await;
        if phase == Phase::Running {
            send(&sink, "READY=1\nSTATUS=running");
        }
    }
    let deadline = rt.now() + grace;
    let reason = shutdown
        .reason()
        .map_or_else(|| "requested".to_owned(), |r| r.to_string());
    send(&sink, "STOPPING=1");
    loop {
        let left = deadline.saturating_duration_since(rt.now());
        send(
            &sink,
            &format!(
                "STATUS=draining ({reason}), {} s of {} s left\nEXTEND_TIMEOUT_USEC={}",
                left.as_secs(),
                grace.as_secs(),
                (left + EXTEND_MARGIN).as_micros()
            ),
        );
        if left.is_zero() {
            return;
        }
        rt.sleep(DRAIN_EVERY.min(left)).await;
    }
}

/// `WATCHDOG=1` every half interval while the live checks pass.
async fn watchdog_loop(rt: RuntimeHandle, probes: Probes, interval: Duration, sink: Sink) {
    let every = interval / 2;
    let select = Select::all();
    loop {
        let live = probes.report(Probe::Live, &select).await;
        if live.status() == Status::Unhealthy {
            let failing: Vec<_> = live
                .checks()
                .iter()
                .filter(|c| c.status() == Status::Unhealthy)
                .map(|c| c.name().to_owned())
                .collect();
            tracing::warn!(?failing, "live checks fail: no systemd watchdog ping");
        } else {
            send(&sink, "WATCHDOG=1");
        }
        rt.sleep(every).await;
    }
}

#[cfg(all(test, feature = "test-util"))]
mod tests;
