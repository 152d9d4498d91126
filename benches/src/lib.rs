//! Shared pieces of steward's benchmarks: the two runtimes, the shutdown
//! signals under comparison, and a latch the bench thread blocks on.
//!
//! Every benchmark in `benches/` measures steward side by side with its
//! peers in the same run; `BENCHMARKS.md` at the repository root has the
//! command, the results and what limits each figure.

use std::ffi::OsString;
use std::fmt;
use std::future::Future;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use async_executor::Executor;
use event_listener::Event;
use steward_core::{Reason, Shutdown};
use tokio_util::sync::CancellationToken;

/// Worker threads of each runtime: the machine has two cores.
pub const THREADS: usize = 2;

/// glibc malloc settings under which the benchmarks run: never give the top
/// of the heap back to the kernel, and serve every block below 32 MiB from
/// the heap.
///
/// With glibc's defaults, freeing 100,000 small blocks at the end of one
/// iteration trims the heap, and the next iteration faults every page back
/// in: one page fault per 4 KiB, costing more than the code under test and
/// varying fourfold from run to run with the heap's layout. Fixed settings
/// make each figure measure the scope, not the kernel. Every contender runs
/// under the same settings.
pub const GLIBC_TUNABLES: &str =
    "glibc.malloc.trim_threshold=4294967296:glibc.malloc.mmap_threshold=33554432";

/// Re-runs this benchmark binary under [`GLIBC_TUNABLES`] unless it already
/// runs under some `GLIBC_TUNABLES` (the user's own settings are kept).
///
/// Call first thing in `main`. Returns in the process that should measure;
/// the parent waits for it and exits with its status.
///
/// # Panics
///
/// If the benchmark binary cannot be re-run.
pub fn stable_heap() {
    if std::env::var_os("GLIBC_TUNABLES").is_some() || !cfg!(target_env = "gnu") {
        return;
    }
    let exe = std::env::current_exe().expect("the benchmark's own path");
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let status = Command::new(exe)
        .args(args)
        .env("GLIBC_TUNABLES", GLIBC_TUNABLES)
        .status()
        .expect("re-running the benchmark");
    std::process::exit(status.code().unwrap_or(1));
}

/// A runtime the benchmarks spawn detached tasks on.
pub trait BenchRuntime {
    /// The name shown in benchmark ids.
    const NAME: &'static str;
    /// Spawns a detached task.
    fn spawn<F: Future<Output = ()> + Send + 'static>(&self, future: F);
    /// A handle that spawns on this runtime from inside its tasks.
    fn spawner(&self) -> Spawner;
}

/// A cloneable handle that spawns on one of the two runtimes, from anywhere.
#[derive(Clone)]
pub enum Spawner {
    /// tokio's runtime handle.
    Tokio(tokio::runtime::Handle),
    /// The executor.
    Smol(Arc<Executor<'static>>),
}

impl Spawner {
    /// Spawns a detached task.
    pub fn spawn<F: Future<Output = ()> + Send + 'static>(&self, future: F) {
        match self {
            Spawner::Tokio(handle) => drop(handle.spawn(future)),
            Spawner::Smol(executor) => executor.spawn(future).detach(),
        }
    }

    /// Spawns a task and returns the runtime's own handle to await its end.
    pub fn spawn_join<F: Future<Output = ()> + Send + 'static>(&self, future: F) -> Join {
        match self {
            Spawner::Tokio(handle) => Join::Tokio(handle.spawn(future)),
            Spawner::Smol(executor) => Join::Smol(executor.spawn(future)),
        }
    }

    /// steward's runtime handle (through the adapter) for this runtime.
    #[must_use]
    pub fn steward(&self) -> steward_core::RuntimeHandle {
        match self {
            Spawner::Tokio(handle) => steward_tokio::TokioRuntime::new(handle.clone()).handle(),
            Spawner::Smol(executor) => {
                steward_smol::SmolRuntime::new(Arc::clone(executor)).handle()
            }
        }
    }
}

impl fmt::Debug for Spawner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Spawner::Tokio(_) => "Spawner::Tokio",
            Spawner::Smol(_) => "Spawner::Smol",
        })
    }
}

/// A runtime's own join handle: tokio's `JoinHandle` or async-executor's `Task`.
#[derive(Debug)]
pub enum Join {
    /// tokio's.
    Tokio(tokio::task::JoinHandle<()>),
    /// async-executor's.
    Smol(async_executor::Task<()>),
}

impl Future for Join {
    type Output = ();

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        match self.get_mut() {
            Join::Tokio(handle) => std::pin::Pin::new(handle)
                .poll(cx)
                .map(|r| r.expect("task")),
            Join::Smol(task) => std::pin::Pin::new(task).poll(cx),
        }
    }
}

/// tokio's multi-thread runtime with [`THREADS`] workers.
#[derive(Debug)]
pub struct Tokio {
    rt: tokio::runtime::Runtime,
}

impl Tokio {
    /// Builds the runtime.
    ///
    /// # Panics
    ///
    /// If the runtime cannot be built.
    #[must_use]
    pub fn new() -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(THREADS)
            .enable_all()
            .build()
            .expect("tokio runtime");
        Self { rt }
    }

    /// The runtime, for what the [`BenchRuntime`] trait does not cover.
    #[must_use]
    pub fn runtime(&self) -> &tokio::runtime::Runtime {
        &self.rt
    }
}

impl Default for Tokio {
    fn default() -> Self {
        Self::new()
    }
}

impl BenchRuntime for Tokio {
    const NAME: &'static str = "tokio";

    fn spawn<F: Future<Output = ()> + Send + 'static>(&self, future: F) {
        drop(self.rt.spawn(future));
    }

    fn spawner(&self) -> Spawner {
        Spawner::Tokio(self.rt.handle().clone())
    }
}

/// An `async-executor` run by [`THREADS`] threads (what smol's global
/// executor does, with a fixed thread count).
pub struct Smol {
    executor: Arc<Executor<'static>>,
    stop: Arc<StopFlag>,
    threads: Vec<thread::JoinHandle<()>>,
}

/// The flag and event that end the executor threads.
#[derive(Default)]
struct StopFlag {
    stopped: AtomicBool,
    event: Event,
}

impl StopFlag {
    async fn wait(&self) {
        loop {
            // Acquire/Release: plain flag, nothing else is published with it.
            if self.stopped.load(Ordering::Acquire) {
                return;
            }
            let listener = self.event.listen();
            if self.stopped.load(Ordering::Acquire) {
                return;
            }
            listener.await;
        }
    }
}

impl Smol {
    /// Starts the executor threads.
    #[must_use]
    pub fn new() -> Self {
        let executor = Arc::new(Executor::new());
        let stop = Arc::new(StopFlag::default());
        let threads = (0..THREADS)
            .map(|i| {
                let executor = Arc::clone(&executor);
                let stop = Arc::clone(&stop);
                thread::Builder::new()
                    .name(format!("smol-{i}"))
                    .spawn(move || futures_lite::future::block_on(executor.run(stop.wait())))
                    .expect("executor thread")
            })
            .collect();
        Self {
            executor,
            stop,
            threads,
        }
    }

    /// The executor, for what the [`BenchRuntime`] trait does not cover.
    #[must_use]
    pub fn executor(&self) -> &Arc<Executor<'static>> {
        &self.executor
    }
}

impl Default for Smol {
    fn default() -> Self {
        Self::new()
    }
}

impl BenchRuntime for Smol {
    const NAME: &'static str = "smol";

    fn spawn<F: Future<Output = ()> + Send + 'static>(&self, future: F) {
        self.executor.spawn(future).detach();
    }

    fn spawner(&self) -> Spawner {
        Spawner::Smol(Arc::clone(&self.executor))
    }
}

impl Drop for Smol {
    fn drop(&mut self) {
        self.stop.stopped.store(true, Ordering::Release);
        self.stop.event.notify(usize::MAX);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

impl fmt::Debug for Smol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Smol")
            .field("threads", &self.threads.len())
            .finish_non_exhaustive()
    }
}

/// A one-shot broadcast "stop" signal: steward's scope or one of its peers.
pub trait Signal: Send + Sync + 'static {
    /// The name shown in benchmark ids.
    const NAME: &'static str;
    /// A fresh, untriggered signal.
    fn new() -> Self;
    /// A `'static` future that is ready once the signal is triggered.
    fn waiter(&self) -> impl Future<Output = ()> + Send + 'static;
    /// Triggers the signal, waking every waiter.
    fn trigger(&self);
}

/// steward's [`Shutdown`], waited on with [`Shutdown::triggered_owned`].
#[derive(Debug)]
pub struct Steward(pub Shutdown);

impl Signal for Steward {
    const NAME: &'static str = "steward";
    fn new() -> Self {
        Self(Shutdown::new())
    }
    fn waiter(&self) -> impl Future<Output = ()> + Send + 'static {
        self.0.clone().triggered_owned()
    }
    fn trigger(&self) {
        self.0.trigger(Reason::Requested);
    }
}

/// The raw baseline: an `AtomicBool` beside an event-listener `Event`.
#[derive(Debug, Clone, Default)]
pub struct Raw(Arc<RawInner>);

/// The state of [`Raw`].
#[derive(Debug, Default)]
pub struct RawInner {
    flag: AtomicBool,
    event: Event,
}

impl RawInner {
    fn is_set(&self) -> bool {
        // Acquire: pairs with the SeqCst swap in `Raw::trigger`.
        self.flag.load(Ordering::Acquire)
    }
}

impl Signal for Raw {
    const NAME: &'static str = "raw-event-listener";
    fn new() -> Self {
        Self::default()
    }
    fn waiter(&self) -> impl Future<Output = ()> + Send + 'static {
        let inner = Arc::clone(&self.0);
        async move {
            // Check, listen, check again, wait: no lost wake-up.
            while !inner.is_set() {
                let listener = inner.event.listen();
                if inner.is_set() {
                    return;
                }
                listener.await;
            }
        }
    }
    fn trigger(&self) {
        // SeqCst: the flag is set before the notification.
        if !self.0.flag.swap(true, Ordering::SeqCst) {
            self.0.event.notify(usize::MAX);
        }
    }
}

/// tokio-util's `CancellationToken`, waited on with `cancelled_owned`.
#[derive(Debug)]
pub struct Token(pub CancellationToken);

impl Signal for Token {
    const NAME: &'static str = "tokio-util";
    fn new() -> Self {
        Self(CancellationToken::new())
    }
    fn waiter(&self) -> impl Future<Output = ()> + Send + 'static {
        self.0.clone().cancelled_owned()
    }
    fn trigger(&self) {
        self.0.cancel();
    }
}

/// async-shutdown's `ShutdownManager`, waited on with `wait_shutdown_triggered`.
pub struct AsyncShutdown(pub async_shutdown::ShutdownManager<()>);

impl fmt::Debug for AsyncShutdown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncShutdown")
            .field("triggered", &self.0.is_shutdown_triggered())
            .finish()
    }
}

impl Signal for AsyncShutdown {
    const NAME: &'static str = "async-shutdown";
    fn new() -> Self {
        Self(async_shutdown::ShutdownManager::new())
    }
    fn waiter(&self) -> impl Future<Output = ()> + Send + 'static {
        self.0.wait_shutdown_triggered()
    }
    fn trigger(&self) {
        let _ = self.0.trigger_shutdown(());
    }
}

/// stopper's `Stopper`, awaited directly (its `Stopped` future).
#[derive(Debug)]
pub struct Stopper(pub stopper::Stopper);

impl Signal for Stopper {
    const NAME: &'static str = "stopper";
    fn new() -> Self {
        Self(stopper::Stopper::new())
    }
    fn waiter(&self) -> impl Future<Output = ()> + Send + 'static {
        std::future::IntoFuture::into_future(self.0.clone())
    }
    fn trigger(&self) {
        self.0.stop();
    }
}

/// A count-down latch: the bench thread blocks until `n` arrivals.
///
/// The last arrival records the instant it arrived, so that the time
/// measured ends when the last task ran, not when the bench thread woke.
#[derive(Debug)]
pub struct Latch {
    n: usize,
    count: AtomicUsize,
    done: Mutex<Option<Instant>>,
    cv: Condvar,
}

impl Latch {
    /// A latch that opens after `n` arrivals.
    #[must_use]
    pub fn new(n: usize) -> Self {
        Self {
            n,
            count: AtomicUsize::new(0),
            done: Mutex::new(None),
            cv: Condvar::new(),
        }
    }

    /// Counts one arrival; the `n`-th opens the latch.
    ///
    /// # Panics
    ///
    /// If the latch's lock is poisoned.
    pub fn arrive(&self) {
        // AcqRel: the last arrival sees every earlier one's writes.
        if self.count.fetch_add(1, Ordering::AcqRel) + 1 == self.n {
            let now = Instant::now();
            *self.done.lock().unwrap() = Some(now);
            self.cv.notify_all();
        }
    }

    /// Blocks until the latch is open; returns the instant of the last arrival.
    ///
    /// # Panics
    ///
    /// If the latch's lock is poisoned.
    pub fn wait(&self) -> Instant {
        let mut done = self.done.lock().unwrap();
        loop {
            if let Some(at) = *done {
                return at;
            }
            done = self.cv.wait(done).unwrap();
        }
    }
}

/// One contender of a [`paired`] comparison: a name and one timed iteration.
pub type Contender<'a> = (&'static str, Box<dyn FnMut() -> Duration + 'a>);

/// The figures of one contender in a [`paired`] comparison.
#[derive(Debug, Clone)]
pub struct Figure {
    /// The comparison's name, such as `fanout/tokio/100000`.
    pub group: String,
    /// The contender's name.
    pub name: &'static str,
    /// Median time of one iteration.
    pub median: Duration,
    /// Elements per iteration (waiters, children): the time per element is
    /// `median / elements`.
    pub elements: u64,
    /// Median, first and third quartile over the rounds of steward's time
    /// divided by this contender's time in the same round.
    pub ratio: [f64; 3],
}

/// Measures contenders side by side in rounds: each round runs every
/// contender once, starting with a different one each round, and the ratio
/// of steward (the first contender) to each other contender is taken within
/// the round, then its median over the rounds.
///
/// On a shared, noisy machine, a ratio of two figures measured minutes apart
/// carries the drift of everything else the machine did in between; a
/// ratio within one round does not. Each contender's median time is printed
/// as well.
///
/// `filter`: only comparisons whose name contains it run (the first
/// free argument given to the benchmark binary, as criterion's filter).
///
/// # Panics
///
/// If `contenders` is empty or `rounds` is zero.
pub fn paired(
    group: &str,
    elements: u64,
    rounds: usize,
    contenders: &mut [Contender<'_>],
) -> Vec<Figure> {
    assert!(!contenders.is_empty() && rounds > 0);
    let k = contenders.len();
    // One warm-up round, not recorded.
    for (_, run) in contenders.iter_mut() {
        run();
    }
    let mut times = vec![Vec::with_capacity(rounds); k];
    for round in 0..rounds {
        for i in 0..k {
            let c = (round + i) % k;
            times[c].push((contenders[c].1)());
        }
    }
    let median = |v: &[Duration]| {
        let mut v = v.to_vec();
        v.sort();
        v[v.len() / 2]
    };
    let quartiles = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
        [at(0.5), at(0.25), at(0.75)]
    };
    (0..k)
        .map(|c| {
            let ratios = (0..rounds)
                .map(|r| times[0][r].as_secs_f64() / times[c][r].as_secs_f64())
                .collect();
            Figure {
                group: group.to_owned(),
                name: contenders[c].0,
                median: median(&times[c]),
                elements,
                ratio: quartiles(ratios),
            }
        })
        .collect()
}

/// The benchmark filter: the first argument that is not a flag.
#[must_use]
pub fn filter() -> Option<String> {
    std::env::args().skip(1).find(|a| !a.starts_with('-'))
}

/// Prints figures as a Markdown table and writes them, tab-separated, to
/// `<target>/steward-benches/<group>.tsv` for `benches/report.py`.
///
/// # Panics
///
/// If the results file cannot be written.
pub fn report(figures: &[Figure]) {
    use std::io::Write as _;
    let Some(first) = figures.first() else {
        return;
    };
    println!(
        "\n{} (median of rounds; steward / contender within each round)\n",
        first.group
    );
    println!("| contender | per iteration | per element | steward / this: median (q1–q3) |");
    println!("|---|---:|---:|---:|");
    for f in figures {
        let per = f.median.as_secs_f64() * 1e9 / f.elements as f64;
        let ratio = if f.name == first.name {
            String::new()
        } else {
            format!("{:.2} ({:.2}–{:.2})", f.ratio[0], f.ratio[1], f.ratio[2])
        };
        let per = if per < 10.0 {
            format!("{per:.2}")
        } else {
            format!("{per:.1}")
        };
        println!("| {} | {:?} | {per} ns | {ratio} |", f.name, f.median);
    }
    // The target folder: the benchmark runs as `<target>/<profile>/deps/<name>`.
    let exe = std::env::current_exe().expect("the benchmark's own path");
    let dir = exe
        .ancestors()
        .nth(3)
        .expect("a benchmark inside cargo's target folder")
        .join("steward-benches");
    std::fs::create_dir_all(&dir).expect("results folder");
    let file = dir.join(format!("{}.tsv", first.group.replace('/', "_")));
    let mut out = std::fs::File::create(file).expect("results file");
    for f in figures {
        writeln!(
            out,
            "{}/{}\t{}\t{}\t{}\t{}\t{}",
            f.group,
            f.name,
            f.median.as_secs_f64() * 1e9,
            f.elements,
            f.ratio[0],
            f.ratio[1],
            f.ratio[2]
        )
        .expect("results file");
    }
}
