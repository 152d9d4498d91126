//! A small durable job processor, runtime-neutral: the logic behind the
//! `service` (smol) and `service-tokio` examples, which only add their
//! runtime's TCP listener.
//!
//! # The protocol
//!
//! A client connects over TCP and sends one job a line (its payload, any
//! text; bytes that are not UTF-8 become U+FFFD, a CRLF ending counts as a
//! newline). The service answers `ok <id>` once the job is durably in the
//! journal (written and fsynced), in the order the lines came. A last line
//! without its newline is not a job. Before it closes a connection the
//! service says why, on a line of its own: `err line longer than 65536
//! bytes` ([`MAX_LINE`], not counting the line's ending), `err journal
//! unavailable` (a write failed: the line was not taken; a later try may
//! be), `err no line for 30s; closing` ([`Options::idle`]), `err connection
//! limit reached; closing the longest idle` ([`Options::max_connections`]).
//!
//! # Limits
//!
//! - At most [`Options::queue`] jobs are acknowledged and not yet done. A
//!   line waits for room before it is journaled, and meanwhile its
//!   connection reads nothing more: TCP pushes back on the client. The
//!   readiness check `queue` fails once the queue is full and passes again
//!   at half of it.
//! - At most [`Options::max_connections`] clients at once (by default at
//!   most half the process's file descriptors); each holds at most one
//!   line being read, [`MAX_LINE`] bytes. When all are taken, the client
//!   idle the longest is closed to make room; a client that sends no whole
//!   line for [`Options::idle`] is closed.
//!
//! # The files
//!
//! In the data directory, locked by the process that serves it (a second
//! one fails at once, naming the directory and the first one's pid):
//! `journal.log`, one line `<id> <payload>` a job accepted, and `done.log`,
//! one line `<id> <payload>` a job completed. The jobs in the first and not
//! in the second are pending: on start they are queued again. So each
//! acknowledged job ends up exactly once in the done logs, whatever moment
//! the service was stopped at, even by SIGKILL (then a job's work may run
//! twice: once cut short before its line was written, once after the
//! restart; its line is written once).
//!
//! Once [`Options::compact_after`] jobs were completed and they make half
//! the journal, the journal is rewritten with only the pending jobs and
//! `done.log` is archived as `done-NNNNNN.log`, in an order that a crash
//! at any moment cannot harm; so a start reads only the pending jobs and
//! the few completed since ([`Journal::open`]).
//!
//! # Faults
//!
//! A failed write (a full disk) fails only its requests: the client gets
//! `err journal unavailable`, a worker retries its done line with backoff.
//! Readiness fails at once (the check `journal`), the journal tries a
//! probe write every second, and the service is ready again at the first
//! that succeeds. Writes failing for [`Options::stuck`] fail liveness (the
//! check `journal-progress`), for the platform to restart the service.
//!
//! # The lifecycle
//!
//! Startup, in order: the journal (a lifespan step: opened, pending jobs
//! resumed into the queue; closed and fsynced at teardown) → the workers
//! (tasks that take jobs from the queue) → the job listener (last, so that
//! no client is accepted before all behind it runs). On the stop signal the
//! listener stops accepting and the connections stop reading; each worker
//! finishes the job in hand and leaves the rest queued in the journal; then
//! the lifespan closes the journal.
//!
//! # Examples
//!
//! The service without its listener, on smol's global executor (the
//! examples' binaries add a TCP listener with [`Jobs::serve`]):
//!
//! ```
//! use std::time::Duration;
//! use steward_core::{App, Reason};
//! use steward_examples::jobs::{Jobs, Options, JOURNAL_FILE};
//!
//! let dir = std::env::temp_dir().join(format!("jobs-doc-{}", std::process::id()));
//! # let _ = std::fs::remove_dir_all(&dir);
//! let options = Options { data: dir.clone(), ..Options::default() };
//! let rt = steward_smol::SmolRuntime::global().handle();
//! let report = futures_lite::future::block_on(App::new().serve(rt, |cx| async move {
//!     steward_examples::jobs::register_watchdog(&cx)?;
//!     let jobs = Jobs::open(&cx, &options).await?;
//!     jobs.register_checks(&cx)?;
//!     jobs.start_workers(2, Duration::from_millis(5))?;
//!     jobs.log_throughput(Duration::from_secs(10))?;
//!     let ids = jobs.submit(vec!["resize photo 1".into(), "resize photo 2".into()]).await?;
//!     assert_eq!(ids, [1, 2]); // in the journal, fsynced: a client may be told
//!     assert_eq!(jobs.stats().accepted, 2);
//!     assert_eq!(jobs.journal().syncs(), 1); // both in one fsync
//!     cx.shutdown().trigger(Reason::Requested);
//!     Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
//! }));
//! assert_eq!(report.exit_code(), 0, "{report}");
//! let journal = std::fs::read_to_string(dir.join(JOURNAL_FILE))?;
//! assert_eq!(journal, "1 resize photo 1\n2 resize photo 2\n");
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod connection;
mod files;
mod journal;
mod options;
mod queue;
#[cfg(test)]
mod tests;

use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_channel::{Receiver, Sender};
use futures_lite::{AsyncRead, AsyncWrite};
use steward_core::health::{Check, CheckOutcome, RegisterError, StallWatchdog};
use steward_core::probes::Phase;
use steward_core::runtime::RuntimeHandle;
use steward_core::{
    Context, FirstRun, LifespanError, Periodic, Restart, Shutdown, StartError, Tasks,
};

use queue::{Connections, QueueCheck, Slot, Slots};

pub use connection::{MAX_LINE, WRITE_TIMEOUT};
pub use files::{done_archive, DONE_FILE, JOURNAL_FILE, LOCK_FILE};
pub use journal::{Journal, JournalError};
pub use options::{Options, UsageError};

/// One job: the id it was acknowledged with, and what the client sent.
///
/// # Examples
///
/// See [`Journal`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// Its id, unique in the data directory.
    pub id: u64,
    /// Its line, without the newline.
    pub payload: String,
}

/// The job service: the journal, the queue, the workers' shared state. A
/// cheap handle.
///
/// # Examples
///
/// See [the module](self).
#[derive(Clone)]
pub struct Jobs {
    inner: Arc<Inner>,
}

struct Inner {
    journal: Journal,
    queue: Sender<Queued>,
    next: Receiver<Queued>,
    /// The queue's bound: a job holds a slot from before it is journaled
    /// until it is done.
    slots: Arc<Slots>,
    connections: Arc<Connections>,
    options: Options,
    counts: Counts,
    tasks: Tasks,
    rt: RuntimeHandle,
}

/// A job in the queue and its slot (`None` for a job resumed past the
/// capacity).
struct Queued {
    job: Job,
    _slot: Option<Slot>,
}

#[derive(Default)]
struct Counts {
    resumed: AtomicU64,
    accepted: AtomicU64,
    done: AtomicU64,
}

impl Jobs {
    /// Opens the journal in `options.data` as the lifespan step `journal`
    /// (closed and fsynced at teardown), and queues the pending jobs it holds.
    ///
    /// Also starts the periodic task `journal-retry`: while journal writes
    /// fail, it tries a write every second, so that the journal recovers
    /// once the disk takes writes again even when no client or worker
    /// writes; the first that succeeds runs every health check again.
    ///
    /// # Errors
    ///
    /// The step's error: the directory is locked by another instance (the
    /// message names it and that process's pid), or the directory or the
    /// files could not be opened (the message names the path).
    ///
    /// # Cancel safety
    ///
    /// As [`Lifespan::start`](steward_core::Lifespan::start).
    ///
    /// # Examples
    ///
    /// See [the module](self).
    pub async fn open(cx: &Context, options: &Options) -> Result<Jobs, LifespanError> {
        let (queue, next) = async_channel::unbounded();
        let slots = Slots::new(options.queue);
        let (resume, dir, resume_slots) = (queue.clone(), options.data.clone(), slots.clone());
        let compact_after = options.compact_after;
        let open = async move {
            let (journal, pending) = Journal::open(dir.clone(), compact_after).await?;
            tracing::info!(dir = %dir.display(), pending = pending.len(), "journal open");
            for job in pending {
                let _slot = resume_slots.try_acquire();
                // Unbounded, and a receiver is held: never full nor closed.
                let _ = resume.try_send(Queued { job, _slot });
            }
            Ok::<_, io::Error>(journal)
        };
        let journal = cx.lifespan().start("journal", open, Journal::close).await?;
        let jobs = Jobs {
            inner: Arc::new(Inner {
                counts: Counts {
                    resumed: AtomicU64::new(next.len() as u64),
                    ..Counts::default()
                },
                journal,
                queue,
                next,
                slots,
                connections: Connections::new(options.max_connections),
                options: options.clone(),
                tasks: cx.tasks().clone(),
                rt: cx.runtime().clone(),
            }),
        };
        let (journal, health) = (jobs.inner.journal.clone(), cx.health().clone());
        let retry = Periodic::new(Duration::from_secs(1));
        let retried = cx.tasks().periodic("journal-retry", retry, move || {
            let (journal, health) = (journal.clone(), health.clone());
            async move {
                // A failure is logged by the journal. On success the checks
                // run again at once: `journal-disk` would otherwise show its
                // last failure until its next refresh.
                if journal.failing_since().is_some() && journal.probe().await.is_ok() {
                    health.refresh().await;
                }
            }
        });
        if let Err(e) = retried {
            tracing::debug!(error = %e, "journal-retry not started: the service is stopping");
        }
        Ok(jobs)
    }

    /// Starts `count` workers, the tasks `worker-1` … `worker-N`: each takes
    /// a job from the queue, works on it for `work`, and records it done.
    ///
    /// On its stop signal a worker finishes the job in hand and returns; the
    /// jobs still queued stay pending in the journal. A worker that fails (the
    /// journal failed) is restarted with backoff; past its restart budget it
    /// brings the service down.
    ///
    /// # Errors
    ///
    /// When the task registry is closed (the service is stopping).
    ///
    /// # Examples
    ///
    /// See [the module](self).
    pub fn start_workers(&self, count: usize, work: Duration) -> Result<(), StartError> {
        for n in 1..=count {
            let jobs = self.clone();
            let name = format!("worker-{n}");
            self.inner
                .tasks
                .supervise(name, Restart::on_failure(), move |stop| {
                    let jobs = jobs.clone();
                    async move { jobs.work(stop, work).await }
                })?;
        }
        Ok(())
    }

    async fn work(&self, stop: Shutdown, work: Duration) -> Result<(), JournalError> {
        while let Some(Ok(queued)) = stop.run_until_triggered(self.inner.next.recv()).await {
            // The job in hand is finished even when the stop comes meanwhile.
            self.inner.rt.sleep(work).await;
            if !self.record_done(&stop, queued.job).await? {
                return Ok(()); // stopped while the journal failed: still pending
            }
            // Relaxed: a statistic; nothing is published through it.
            self.inner.counts.done.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Records `job` done, retrying while journal writes fail (a full disk
    /// may get room again), with a backoff from 100 ms to 2 s. Returns
    /// `false` when `stop` came first: then the job stays pending and is
    /// done again after the restart.
    async fn record_done(&self, stop: &Shutdown, job: Job) -> Result<bool, JournalError> {
        let mut backoff = Duration::from_millis(100);
        loop {
            match self.inner.journal.complete(job.clone()).await {
                Ok(()) => return Ok(true),
                Err(JournalError::Closed) => return Err(JournalError::Closed),
                Err(e) => {
                    tracing::warn!(id = job.id, error = %e, "recording a job done failed; retrying in {backoff:?}");
                    let pause = self.inner.rt.sleep(backoff);
                    if stop.run_until_triggered(pause).await.is_none() {
                        return Ok(false);
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                }
            }
        }
    }

    /// Starts the periodic task `throughput`, which logs every `every` how
    /// many jobs came and were done since its last run.
    ///
    /// # Errors
    ///
    /// When the task registry is closed.
    ///
    /// # Examples
    ///
    /// See [the module](self).
    pub fn log_throughput(&self, every: Duration) -> Result<(), StartError> {
        let jobs = self.clone();
        let mut last = self.stats();
        let schedule = Periodic::new(every).first_run(FirstRun::AfterInterval);
        self.inner.tasks.periodic("throughput", schedule, move || {
            let now = jobs.stats();
            let done = now.done - last.done;
            tracing::info!(
                accepted = now.accepted - last.accepted,
                fsyncs = now.syncs - last.syncs,
                done,
                per_second = done as f64 / every.as_secs_f64(),
                queued = now.queued,
                "throughput over the last {every:?}"
            );
            last = now;
            async {}
        })
    }

    /// Accepts clients until `stop` is triggered, serving each as its own
    /// task of the registry. `accept` is the runtime's listener's accept
    /// (`|| listener.accept()`): the one runtime-specific piece.
    ///
    /// At most [`Options::max_connections`] clients are served at once.
    /// With all slots taken, the client idle the longest (waiting for its
    /// next line) is closed to make room for the next; when none is idle,
    /// nothing is accepted until a client leaves (the kernel's backlog
    /// holds the new ones). A client that sends no whole line within
    /// [`Options::idle`] is closed.
    ///
    /// An accept error (out of file descriptors, say) is logged and retried
    /// after a pause rather than ending the listener.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future stops accepting; the connections already accepted
    /// go on until `stop` is triggered.
    ///
    /// # Examples
    ///
    /// The `service` example's listener (`examples/src/bin/service.rs`):
    ///
    /// ```no_run
    /// # // no_run: it binds a port and waits for clients.
    /// # async fn listener(cx: steward_core::Context, jobs: steward_examples::jobs::Jobs) -> std::io::Result<()> {
    /// let listener = smol::net::TcpListener::bind("127.0.0.1:7070").await?;
    /// cx.tasks().start("listener", move |stop| async move {
    ///     jobs.serve(stop, || listener.accept()).await;
    /// }).map_err(std::io::Error::other)?;
    /// # Ok(()) }
    /// ```
    pub async fn serve<A, Fut, S>(&self, stop: Shutdown, mut accept: A)
    where
        A: FnMut() -> Fut,
        Fut: Future<Output = io::Result<(S, SocketAddr)>>,
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let connections = &self.inner.connections;
        loop {
            let next = async { (connections.slot().await, accept().await) };
            let Some((permit, accepted)) = stop.run_until_triggered(next).await else {
                return;
            };
            match accepted {
                Ok((stream, peer)) => {
                    let evict = stop.child();
                    let slot = connections.register(permit, evict.clone());
                    let jobs = self.clone();
                    let serve = connection::serve(jobs, stream, peer, (stop.clone(), evict), slot);
                    if self.inner.tasks.spawn(serve).is_err() {
                        return; // the registry closed: the service is stopping
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed; retrying in 100 ms");
                    let pause = self.inner.rt.sleep(Duration::from_millis(100));
                    stop.run_until_triggered(pause).await;
                }
            }
        }
    }

    /// Records new jobs in the journal, queues them, and returns their ids.
    ///
    /// Each job first waits for a slot in the bounded queue
    /// ([`Options::queue`]); jobs are journaled in groups of at most the
    /// queue's capacity.
    ///
    /// # Errors
    ///
    /// When the journal could not record a group: none of it is queued
    /// (the groups before it are).
    ///
    /// # Cancel safety
    ///
    /// Dropping the future may leave the jobs recorded and not queued: they
    /// are resumed at the next start.
    ///
    /// # Examples
    ///
    /// See [the module](self).
    pub async fn submit(&self, payloads: Vec<String>) -> Result<Vec<u64>, JournalError> {
        let mut ids = Vec::with_capacity(payloads.len());
        let mut payloads = payloads.into_iter().peekable();
        while payloads.peek().is_some() {
            let group: Vec<String> = payloads.by_ref().take(self.inner.options.queue).collect();
            let mut slots = Vec::with_capacity(group.len());
            for _ in &group {
                slots.push(self.inner.slots.acquire().await);
            }
            ids.extend(self.submit_with(group, slots).await?);
        }
        Ok(ids)
    }

    /// Records jobs that hold their queue slots already.
    async fn submit_with(
        &self,
        payloads: Vec<String>,
        slots: Vec<Slot>,
    ) -> Result<Vec<u64>, JournalError> {
        let jobs = self.inner.journal.accept(payloads).await?;
        // Relaxed: a statistic.
        let n = jobs.len() as u64;
        self.inner.counts.accepted.fetch_add(n, Ordering::Relaxed);
        let ids = jobs.iter().map(|job| job.id).collect();
        for (job, slot) in jobs.into_iter().zip(slots) {
            let queued = Queued {
                job,
                _slot: Some(slot),
            };
            let _ = self.inner.queue.try_send(queued); // unbounded, never closed
        }
        Ok(ids)
    }

    /// Registers the job service's health checks:
    ///
    /// - `journal-disk` (ready, every 10 s): a probe file can be written
    ///   and fsynced in the data directory;
    /// - `journal` (ready, run at each probe): journal writes succeed; it
    ///   fails at the first failed write and passes again at the first
    ///   write that succeeds;
    /// - `journal-progress` (live, run at each probe): journal writes have
    ///   not been failing for [`Options::stuck`] or longer; past that the
    ///   platform should restart the service;
    /// - `queue` (ready, run at each probe): fails once the queue is full,
    ///   passes again once at most half of it is taken.
    ///
    /// # Errors
    ///
    /// When a check of one of these names is registered already.
    ///
    /// # Examples
    ///
    /// See [the module](self).
    pub fn register_checks(&self, cx: &Context) -> Result<(), RegisterError> {
        let health = cx.health();
        let journal = self.inner.journal.clone();
        health.register(Check::new("journal-disk", journal.clone()).ready())?;
        let writes = journal.clone();
        let check = move || {
            let failing = writes.failing_since();
            async move {
                match failing {
                    None => CheckOutcome::healthy(),
                    Some((since, e)) => CheckOutcome::unhealthy(format!(
                        "failing for {:.1} s: {e}",
                        since.elapsed().as_secs_f64()
                    )),
                }
            }
        };
        health.register(Check::new("journal", check).ready().inline(Duration::ZERO))?;
        let stuck = self.inner.options.stuck;
        let check = move || {
            let failing = journal.failing_since();
            async move { progress(failing, stuck) }
        };
        health.register(
            Check::new("journal-progress", check)
                .live()
                .inline(Duration::ZERO),
        )?;
        let queue = QueueCheck(self.inner.slots.clone());
        health.register(Check::new("queue", queue).ready().inline(Duration::ZERO))
    }

    /// The counts since this process started, and the queue's length now.
    ///
    /// # Examples
    ///
    /// See [the module](self).
    #[must_use]
    pub fn stats(&self) -> Stats {
        let counts = &self.inner.counts;
        // Relaxed: statistics, each read on its own.
        Stats {
            resumed: counts.resumed.load(Ordering::Relaxed),
            accepted: counts.accepted.load(Ordering::Relaxed),
            done: counts.done.load(Ordering::Relaxed),
            queued: self.inner.next.len() as u64,
            syncs: self.inner.journal.syncs(),
            connections: self.inner.connections.len() as u64,
        }
    }

    /// The journal.
    ///
    /// # Examples
    ///
    /// See [the module](self).
    #[must_use]
    pub fn journal(&self) -> &Journal {
        &self.inner.journal
    }

    pub(crate) fn runtime(&self) -> &RuntimeHandle {
        &self.inner.rt
    }

    pub(crate) fn options(&self) -> &Options {
        &self.inner.options
    }

    fn slots(&self) -> &Arc<Slots> {
        &self.inner.slots
    }
}

impl fmt::Debug for Jobs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Jobs")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// What [`Jobs::stats`] reads.
///
/// # Examples
///
/// ```
/// use steward_examples::jobs::Stats;
///
/// let stats = Stats { resumed: 2, accepted: 10, done: 9, queued: 3, syncs: 4, connections: 1 };
/// assert_eq!(
///     stats.to_json(),
///     r#"{"resumed":2,"accepted":10,"done":9,"queued":3,"journal_fsyncs":4,"connections":1}"#
/// );
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// Jobs found pending in the journal at start.
    pub resumed: u64,
    /// Jobs accepted since the start.
    pub accepted: u64,
    /// Jobs done since the start.
    pub done: u64,
    /// Jobs waiting for a worker now.
    pub queued: u64,
    /// The fsyncs that recorded the accepted jobs ([`Journal::syncs`]).
    pub syncs: u64,
    /// Job clients connected now.
    pub connections: u64,
}

impl Stats {
    /// As a JSON object.
    ///
    /// # Examples
    ///
    /// See [`Stats`].
    #[must_use]
    pub fn to_json(&self) -> String {
        format!(
            r#"{{"resumed":{},"accepted":{},"done":{},"queued":{},"journal_fsyncs":{},"connections":{}}}"#,
            self.resumed, self.accepted, self.done, self.queued, self.syncs, self.connections
        )
    }
}

/// How many connections the kernel completes for the job listener before
/// it accepts them. Its default (128 in Rust's standard library) fills in
/// milliseconds when many clients connect at once; a client that finds it
/// full waits a second for its SYN to be sent again.
pub const BACKLOG: i32 = 1024;

/// Binds the job listener on `addr` with a backlog of [`BACKLOG`],
/// non-blocking, for the runtime to adopt (`TryFrom` on smol,
/// `from_std` on tokio). Errors name the address.
///
/// # Errors
///
/// When the socket cannot be created or bound (the address is taken, say).
///
/// # Examples
///
/// ```
/// let listener = steward_examples::jobs::bind("127.0.0.1:0".parse()?)?;
/// let listener = smol::net::TcpListener::try_from(listener)?;
/// assert_ne!(listener.local_addr()?.port(), 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn bind(addr: SocketAddr) -> io::Result<std::net::TcpListener> {
    use socket2::{Domain, Socket, Type};
    let named = |e: io::Error| io::Error::new(e.kind(), format!("{addr}: {e}"));
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None).map_err(named)?;
    socket.set_reuse_address(true).map_err(named)?;
    socket.bind(&addr.into()).map_err(named)?;
    socket.listen(BACKLOG).map_err(named)?;
    socket.set_nonblocking(true).map_err(named)?;
    Ok(socket.into())
}

/// The liveness of the journal: unhealthy once writes have failed for
/// `stuck` or longer.
fn progress(failing: Option<(Instant, String)>, stuck: Duration) -> CheckOutcome {
    match failing {
        Some((since, e)) if since.elapsed() >= stuck => CheckOutcome::unhealthy(format!(
            "no journal write has succeeded for {:.1} s (limit {stuck:?}): {e}",
            since.elapsed().as_secs_f64()
        )),
        _ => CheckOutcome::healthy(),
    }
}

/// Registers `runtime`, the stall watchdog, as a liveness check: it fails
/// when the executor stops scheduling tasks on time. (The App registers
/// `tasks` itself, which fails once a supervised task escalated.)
///
/// # Errors
///
/// When a check named `runtime` is registered already.
///
/// # Examples
///
/// See [the module](self).
pub fn register_watchdog(cx: &Context) -> Result<(), RegisterError> {
    let watchdog = StallWatchdog::new(cx.runtime());
    cx.health().register(Check::new("runtime", watchdog).live())
}

/// Prints `listening on <addr>` on stdout once the service is running (its
/// startup returned and readiness follows its checks), so that a script
/// knows when to send jobs.
///
/// # Examples
///
/// ```no_run
/// # // no_run: it binds ports and waits for a signal.
/// # fn main() -> std::process::ExitCode {
/// steward_smol::App::new().run(|cx| async move {
///     let addr = "127.0.0.1:7070".parse().unwrap(); // once the listener is bound
///     steward_examples::jobs::announce(&cx, addr);
///     Ok::<_, std::io::Error>(())
/// })
/// # }
/// ```
pub fn announce(cx: &Context, addr: SocketAddr) {
    let probes = cx.probes().clone();
    cx.runtime().spawn(async move {
        // The App marks the service running as soon as the startup returns;
        // a failed or interrupted startup moves it to draining instead, and
        // then nothing is announced.
        if probes.phase_changed(Phase::Starting).await == Phase::Running {
            println!("listening on {addr}");
        }
    });
}
