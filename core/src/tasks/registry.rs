//! The registry's shared state: the named table, the per-task controls, and
//! how a task's end is recorded, reported and escalated.
//!
//! # Invariants
//!
//! - The table keeps each name's latest [`Control`]; the task is running
//!   while its `end` is empty. The table holds memory for each distinct
//!   name, never for each run: unnamed work belongs in `spawn`.
//! - A named task is registered (table entry, tracker count +1) under the
//!   `named` lock, and the tracker is closed under the same lock: `shutdown`
//!   sees every named task that will ever run, and none starts after it
//!   looked.
//! - A task's end is recorded (its `Control::end`, any escalation) *before*
//!   the tracker count drops, so whoever sees the tracker idle finds every
//!   report in place.
//! - A `Control` is freed by the table (when its name is reused, or with the
//!   registry), never by the task's own thread: whoever frees it has taken
//!   the `named` lock after the task recorded its end.
//! - [`Finish`] records the end in its `Drop`, so a task dropped by the
//!   runtime itself (a runtime shutting down) is still recorded, as aborted,
//!   and nobody waiting on it hangs.
//!
//! # Lock order
//!
//! `named` → `Control::end`. `named` may also be held while a child scope is
//! made (`Shutdown::child` takes the scope's own locks, which never call
//! back). Every other lock here is a leaf: taken alone, never held while
//! triggering, logging or calling the failure hook, and never held while
//! notifying but in one place: an aborted unnamed task gives its count back
//! under `aborted_unnamed` ([`Token::finish`]), whose release may notify the
//! tracker's waiters (wakers only, none of which takes a lock here).

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe, Location};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use event_listener::{Event, EventListener};
use tracing::Instrument;

use super::catch::{panic_message, AbortCell, CatchUnwind};
use super::report::{Exit, TaskReport};
use super::tracker::Tracker;
use super::{StartError, TaskOutput};
use crate::runtime::RuntimeHandle;
use crate::sync::{lock, AtomicUsize, Mutex, Ordering};
use crate::{Reason, Shutdown};

/// The failure hook: called with a task's name and how it failed.
pub(crate) type Hook = Arc<dyn Fn(&str, &Exit) + Send + Sync + 'static>;

// In declaration order (`repr(C)`), for the cache: the tracker's count, which
// every task's start and end writes, comes first, on the line of the `Arc`'s
// own counts, which every task also writes (one line moves between threads,
// not two); the abort switch, which every task reads at each poll and only a
// shutdown writes, comes last, more than 128 bytes away from both.
#[repr(C)]
pub(crate) struct Inner {
    pub(crate) tracker: Tracker,
    pub(crate) rt: RuntimeHandle,
    /// The service's scope: escalations trigger it; no restart once it is.
    pub(crate) service: Shutdown,
    /// The parent of every named task's scope; triggered by `shutdown`.
    pub(crate) stopping: Shutdown,
    named: Mutex<Named>,
    hook: Mutex<Option<Hook>>,
    /// Unnamed tasks that failed or panicked, ever.
    unnamed_failures: AtomicUsize,
    /// Unnamed tasks aborted by a shutdown.
    aborted_unnamed: Mutex<Vec<TaskReport>>,
    /// Names of the tasks whose end triggered the service's shutdown.
    escalated: Mutex<Vec<String>>,
    /// When the first `shutdown` began.
    shutdown_at: Mutex<Option<Instant>>,
    /// Drops every unnamed task (spawned or shielded) when set.
    pub(crate) abort: AbortCell,
}

#[derive(Default)]
struct Named {
    next_seq: u64,
    tasks: HashMap<String, Entry>,
}

struct Entry {
    /// Order of first start, for the report.
    seq: u64,
    /// The latest run's control.
    control: Arc<Control>,
}

/// One named task: its scope, its abort switch and, once ended, its report.
pub(crate) struct Control {
    pub(crate) name: String,
    /// The task's own stop scope, a child of `Inner::stopping`.
    pub(crate) stop: Shutdown,
    pub(crate) abort: AbortCell,
    critical: bool,
    started: Instant,
    /// When a stop was first asked for, and the end of the grace it was
    /// given: a task that returns after that is reported as overran.
    stop_asked: Mutex<Option<(Instant, Instant)>>,
    restarts: AtomicUsize,
    /// The report, once the task ended; set before `ended` is notified.
    end: Mutex<Option<TaskReport>>,
    ended: Event,
}

impl Inner {
    pub(crate) fn new(rt: RuntimeHandle, service: Shutdown) -> Self {
        Self {
            rt,
            service,
            stopping: Shutdown::new(),
            tracker: Tracker::new(),
            abort: AbortCell::new(),
            named: Mutex::new(Named::default()),
            hook: Mutex::new(None),
            unnamed_failures: AtomicUsize::new(0),
            aborted_unnamed: Mutex::new(Vec::new()),
            escalated: Mutex::new(Vec::new()),
            shutdown_at: Mutex::new(None),
        }
    }

    /// Registers a named task: refuses a running name or a closed registry.
    pub(crate) fn register(
        &self,
        name: String,
        critical: bool,
    ) -> Result<Arc<Control>, StartError> {
        let started = self.rt.now();
        let mut named = lock(&self.named);
        let seq = match named.tasks.get(&name) {
            Some(entry) if entry.control.is_running() => {
                return Err(StartError::AlreadyRunning(name))
            }
            Some(entry) => entry.seq,
            None => {
                named.next_seq += 1;
                named.next_seq
            }
        };
        if !self.tracker.try_add() {
            return Err(StartError::Closed);
        }
        let control = Arc::new(Control {
            name: name.clone(),
            stop: self.stopping.child(),
            abort: AbortCell::new(),
            critical,
            started,
            stop_asked: Mutex::new(None),
            restarts: AtomicUsize::new(0),
            end: Mutex::new(None),
            ended: Event::new(),
        });
        let previous = named.tasks.insert(
            name,
            Entry {
                seq,
                control: Arc::clone(&control),
            },
        );
        drop(named);
        drop(previous);
        crate::observe::task_started(&control.name);
        Ok(control)
    }

    /// The named task `name`, if it is running.
    pub(crate) fn running(&self, name: &str) -> Option<Arc<Control>> {
        lock(&self.named)
            .tasks
            .get(name)
            .filter(|e| e.control.is_running())
            .map(|e| Arc::clone(&e.control))
    }

    pub(crate) fn names(&self) -> Vec<String> {
        let named = lock(&self.named);
        let mut running: Vec<_> = named
            .tasks
            .iter()
            .filter(|(_, e)| e.control.is_running())
            .map(|(name, e)| (e.seq, name.clone()))
            .collect();
        drop(named);
        running.sort_unstable();
        running.into_iter().map(|(_, name)| name).collect()
    }

    /// Closes the registry and returns the named tasks running at that moment.
    pub(crate) fn close_and_list(&self) -> Vec<Arc<Control>> {
        let named = lock(&self.named);
        self.tracker.close();
        named
            .tasks
            .values()
            .filter(|e| e.control.is_running())
            .map(|e| Arc::clone(&e.control))
            .collect()
    }

    /// Every named task's last report in start order, then the aborted
    /// unnamed tasks (the first `listed` of them, when given: those aborted
    /// after are reported abandoned). With `abandoned_at`, a named task still
    /// running is reported as [`Exit::Abandoned`] at that time; without, it
    /// is left out.
    pub(crate) fn reports(
        &self,
        abandoned_at: Option<Instant>,
        listed: Option<usize>,
    ) -> Vec<TaskReport> {
        let mut ended: Vec<_> = lock(&self.named)
            .tasks
            .values()
            .filter_map(|e| {
                let report = lock(&e.control.end).clone();
                match (report, abandoned_at) {
                    (Some(report), _) => Some((e.seq, report)),
                    (None, Some(now)) => Some((e.seq, e.control.abandoned(now))),
                    (None, None) => None,
                }
            })
            .collect();
        ended.sort_unstable_by_key(|(seq, _)| *seq);
        let mut out: Vec<_> = ended.into_iter().map(|(_, r)| r).collect();
        let unnamed = lock(&self.aborted_unnamed);
        out.extend(unnamed.iter().take(listed.unwrap_or(usize::MAX)).cloned());
        drop(unnamed);
        out
    }

    pub(crate) fn unnamed_failures(&self) -> usize {
        // Relaxed: a statistic.
        self.unnamed_failures.load(Ordering::Relaxed)
    }

    pub(crate) fn set_hook(&self, hook: Hook) {
        *lock(&self.hook) = Some(hook);
    }

    pub(crate) fn escalated(&self) -> Vec<String> {
        lock(&self.escalated).clone()
    }

    /// Records when the shutdown began (the first call wins).
    pub(crate) fn mark_shutdown(&self, at: Instant) {
        lock(&self.shutdown_at).get_or_insert(at);
    }

    /// Logs a failed run of a task and calls the failure hook.
    pub(crate) fn report_failure(&self, name: &str, exit: &Exit) {
        match exit {
            Exit::Failed(e) => tracing::error!(task = name, error = %e, "task failed"),
            Exit::Panicked(msg) => tracing::error!(task = name, panic = %msg, "task panicked"),
            Exit::Aborted => {
                tracing::warn!(
                    task = name,
                    "task aborted: still running when its grace ran out"
                );
            }
            Exit::Overran => {
                tracing::warn!(task = name, "task ended only after its grace ran out");
            }
            Exit::Abandoned => {
                tracing::warn!(task = name, "task abandoned: still running after its grace");
            }
            Exit::Completed | Exit::Stopped => return,
        }
        let hook = lock(&self.hook).clone();
        if let Some(hook) = hook {
            if let Err(p) = catch_unwind(AssertUnwindSafe(|| hook(name, exit))) {
                tracing::error!(task = name, panic = %panic_message(&*p), "the failure hook panicked");
            }
        }
    }

    /// Triggers the service's shutdown because of task `name`; `why` becomes
    /// the error of [`Reason::TaskFailed`]. A task escalates once: a critical
    /// supervised task past its budget is not escalated again when it ends.
    pub(crate) fn escalate(&self, name: &str, why: String) {
        {
            let mut escalated = lock(&self.escalated);
            if escalated.iter().any(|n| n == name) {
                return;
            }
            escalated.push(name.to_owned());
        }
        tracing::error!(task = name, why = %why, "task escalated: triggering the service's shutdown");
        self.service.trigger(Reason::TaskFailed {
            task: name.to_owned(),
            error: why,
        });
    }

    /// Whether a supervisor may still restart: nobody asked for a stop.
    pub(crate) fn may_restart(&self, control: &Control) -> bool {
        !control.stop.is_triggered() && !self.service.is_triggered() && !self.tracker.is_closed()
    }

    /// Records the failure of an unnamed task: counted, logged, hooked.
    /// Other exits record nothing here; an abort goes through
    /// [`Token::finish`], which lists it for the report.
    pub(crate) fn finish_unnamed(&self, kind: &str, at: &'static Location<'static>, exit: Exit) {
        if matches!(exit, Exit::Failed(_) | Exit::Panicked(_)) {
            // Relaxed: a statistic, read after the tracker drained.
            self.unnamed_failures.fetch_add(1, Ordering::Relaxed);
            self.report_failure(&format!("{kind} at {at}"), &exit);
        }
    }

    /// How many aborted unnamed tasks are listed, and how many tasks are
    /// counted, read together under the list's lock: an unnamed task that is
    /// aborted lists itself and gives its count back under that lock
    /// ([`Token::finish`]), so it is in exactly one of the two.
    pub(crate) fn unnamed_left(&self) -> (usize, usize) {
        let listed = lock(&self.aborted_unnamed);
        (listed.len(), self.tracker.len())
    }

    /// Records the end of a named task: its report, the table, escalation.
    fn finish_named(&self, control: &Arc<Control>, exit: Exit) {
        let now = self.rt.now();
        let stop_asked = *lock(&control.stop_asked);
        // A task that returns after its grace ran out (a blocking call kept
        // the abort from dropping it) did not stop in time: say so.
        let exit = match (exit, stop_asked) {
            (Exit::Stopped, Some((_, deadline))) if now > deadline => Exit::Overran,
            (exit, _) => exit,
        };
        if matches!(exit, Exit::Aborted | Exit::Overran) {
            self.report_failure(&control.name, &exit);
        }
        // Once the service is stopping, a critical task's end is no new cause.
        if control.critical && !control.stop.is_triggered() && !self.service.is_triggered() {
            self.escalate(&control.name, format!("critical task ended: {exit}"));
        }
        let report = TaskReport {
            name: control.name.clone(),
            exit,
            ran: Some(now.saturating_duration_since(control.started)),
            stop_took: stop_asked.map(|(t, _)| now.saturating_duration_since(t)),
            // Relaxed: written by this task's own supervisor, read here on
            // the same task.
            restarts: u32::try_from(control.restarts.load(Ordering::Relaxed)).unwrap_or(u32::MAX),
        };
        crate::observe::task_ended(&control.name, &report.exit);
        *lock(&control.end) = Some(report);
        control.ended.notify(usize::MAX);
    }
}

impl Control {
    /// Whether the task has not ended yet.
    pub(crate) fn is_running(&self) -> bool {
        lock(&self.end).is_none()
    }

    /// Notes that a stop was asked for at `at`, with a grace until
    /// `deadline` (the first time counts).
    pub(crate) fn ask_stop(&self, at: Instant, deadline: Instant) {
        lock(&self.stop_asked).get_or_insert((at, deadline));
    }

    /// The report of this task, still running at `now` when the stop gave
    /// up on it.
    pub(crate) fn abandoned(&self, now: Instant) -> TaskReport {
        let stop_asked = *lock(&self.stop_asked);
        TaskReport {
            name: self.name.clone(),
            exit: Exit::Abandoned,
            ran: Some(now.saturating_duration_since(self.started)),
            stop_took: stop_asked.map(|(t, _)| now.saturating_duration_since(t)),
            // Relaxed: a statistic.
            restarts: u32::try_from(self.restarts.load(Ordering::Relaxed)).unwrap_or(u32::MAX),
        }
    }

    pub(crate) fn count_restart(&self) {
        // Relaxed: read by the same task when it ends.
        self.restarts.fetch_add(1, Ordering::Relaxed);
        crate::observe::task_restarted(&self.name);
    }

    /// Waits for the task's report.
    pub(crate) fn ended(&self) -> Ended<'_> {
        Ended {
            control: self,
            listener: None,
        }
    }
}

/// Waits until a named task has ended: check → listen → check → wait.
pub(crate) struct Ended<'a> {
    control: &'a Control,
    listener: Option<EventListener>,
}

impl Future for Ended<'_> {
    type Output = TaskReport;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<TaskReport> {
        let this = self.get_mut();
        loop {
            if let Some(report) = lock(&this.control.end).clone() {
                return Poll::Ready(report);
            }
            match &mut this.listener {
                None => this.listener = Some(this.control.ended.listen()),
                Some(l) => {
                    if Pin::new(l).poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                    this.listener = None;
                }
            }
        }
    }
}

/// Records a named task's end when dropped, then uncounts it.
///
/// Dropped with no exit set means the runtime dropped the task: it counts as
/// aborted.
pub(crate) struct Finish {
    pub(crate) inner: Arc<Inner>,
    pub(crate) control: Arc<Control>,
    pub(crate) exit: Option<Exit>,
}

impl Finish {
    /// Sets how the task ended, recorded when this is dropped.
    pub(crate) fn set(&mut self, exit: Exit) {
        self.exit = Some(exit);
    }
}

impl Drop for Finish {
    fn drop(&mut self) {
        let exit = self.exit.take().unwrap_or(Exit::Aborted);
        self.inner.finish_named(&self.control, exit);
        self.inner.tracker.remove();
    }
}

/// Uncounts an unnamed task when dropped.
pub(crate) struct Token(pub(crate) Arc<Inner>);

impl Token {
    /// Records how an unnamed task ended, then gives its count back.
    ///
    /// An aborted task is listed for the report and uncounted in one
    /// critical section of the list's lock, so that a shutdown giving up on
    /// the unnamed tasks ([`Inner::unnamed_left`]) finds it either listed
    /// aborted or counted abandoned, never both and never neither. (The
    /// count's release may notify the tracker's waiters under that leaf
    /// lock: a notification only calls wakers, which never take it.)
    pub(crate) fn finish(self, kind: &str, at: &'static Location<'static>, exit: Exit) {
        if !matches!(exit, Exit::Aborted) {
            self.0.finish_unnamed(kind, at, exit);
            return; // `self` dropped: uncounted
        }
        let inner = Arc::clone(&self.0);
        let now = inner.rt.now();
        let stop_took = lock(&inner.shutdown_at).map(|t| now.saturating_duration_since(t));
        let name = format!("{kind} at {at}");
        inner.report_failure(&name, &exit);
        let mut listed = lock(&inner.aborted_unnamed);
        listed.push(TaskReport {
            name,
            exit,
            ran: None,
            stop_took,
            restarts: 0,
        });
        drop(self);
        drop(listed);
    }
}

impl Drop for Token {
    fn drop(&mut self) {
        self.0.tracker.remove();
    }
}

/// Runs one attempt of a named task: the user's future, inside a `task`
/// span with a `name` field, with its panics caught, classified as an
/// [`Exit`] and reported when it failed.
pub(crate) async fn attempt<Fut>(inner: &Inner, control: &Control, future: Fut) -> Exit
where
    Fut: Future,
    Fut::Output: TaskOutput,
{
    // The user's log lines inside the task carry its name (the crate docs'
    // `# Observability`).
    let span = tracing::info_span!("task", name = %control.name);
    let exit = match CatchUnwind::new(future).instrument(span).await {
        Ok(out) => match out.into_result() {
            Ok(()) if control.stop.is_triggered() => Exit::Stopped,
            Ok(()) => Exit::Completed,
            Err(e) => Exit::Failed(Arc::from(e)),
        },
        Err(msg) => Exit::Panicked(msg),
    };
    inner.report_failure(&control.name, &exit);
    exit
}

impl fmt::Debug for Control {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Control")
            .field("name", &self.name)
            .field("critical", &self.critical)
            .finish_non_exhaustive()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn the_abort_switch_is_lines_away_from_the_count() {
        let count = std::mem::offset_of!(Inner, tracker);
        let abort = std::mem::offset_of!(Inner, abort);
        assert_eq!(count, 0, "first, beside the Arc's counts");
        assert!(abort - count >= 128, "{abort} - {count}");
    }
}
