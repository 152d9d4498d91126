//! Stress: thousands of rounds of racing triggers, waits, guards, spawns,
//! closes and shutdowns, on every runtime, from the runtime's own tasks and
//! from threads outside it.
//!
//! Each round builds fresh state, sets every participant racing, and waits
//! until each one has reported that it finished. A lost wake-up leaves a
//! participant parked for ever: the harness's watchdog turns that hang into a
//! failure, and a stall reporter prints the round and the participants still
//! missing. What each participant does, and where (a task, an outside thread,
//! the scenario itself), is drawn per round from a generator seeded with the
//! round's number, so that every run covers the same mix of shapes while the
//! threads race differently.
//!
//! `STEWARD_STRESS_ITERS` sets the rounds of each scenario (default 10,000),
//! `STEWARD_STRESS_SEED` the shapes they draw (default 0). A failure names
//! its round; rerun with the same seed to get the same shapes (the threads
//! will still race differently). `.ci/soak` runs this file in release with
//! debug assertions on, pass after pass with new seeds, and under
//! ThreadSanitizer where the toolchain allows.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex, OnceLock, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use futures_lite::future::{block_on, yield_now};
use smol::channel::{unbounded, Receiver, Sender};
use steward_core::{Exit, Reason, Report, Shutdown, StartError, Tasks};
use steward_tests::{conformance, Kind};

/// Rounds per scenario: `STEWARD_STRESS_ITERS`, or 10,000.
fn rounds() -> usize {
    match std::env::var("STEWARD_STRESS_ITERS") {
        Ok(text) => text
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("STEWARD_STRESS_ITERS={text:?} is not a count")),
        Err(_) => 10_000,
    }
}

/// `STEWARD_STRESS_SEED`, or 0: a soak's passes each draw other shapes.
fn seed() -> u64 {
    static SEED: OnceLock<u64> = OnceLock::new();
    *SEED.get_or_init(|| match std::env::var("STEWARD_STRESS_SEED") {
        Ok(text) => text
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("STEWARD_STRESS_SEED={text:?} is not a number")),
        Err(_) => 0,
    })
}

/// splitmix64: the shape of one round, reproducible from its number and
/// the seed.
struct Rng(u64);

impl Rng {
    fn new(round: usize) -> Self {
        Self(seed().wrapping_mul(0xA076_1D64_78BD_642F) ^ round as u64)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n`.
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn coin(&mut self) -> bool {
        self.next() & 1 == 1
    }
}

async fn yields(n: usize) {
    for _ in 0..n {
        yield_now().await;
    }
}

/// Two parties that take their next step at the same moment, one of them a
/// few spins later: how a round lands one action inside another's window
/// (a trigger inside a last guard's release, a close inside a last task's
/// end), which a scheduler alone hits rarely.
///
/// Both parties always run on different threads (an outside thread and a
/// task, or two outside threads), and both are sent out in the same round,
/// so the spin always ends.
#[derive(Clone)]
struct Meet(Arc<AtomicUsize>);

impl Meet {
    fn new() -> Self {
        Self(Arc::new(AtomicUsize::new(0)))
    }

    /// Arrives, waits for the other party, then spins `delay` times.
    fn meet(&self, delay: usize) {
        // SeqCst: a plain two-party count.
        self.0.fetch_add(1, Ordering::SeqCst);
        let mut spins = 0_u32;
        while self.0.load(Ordering::SeqCst) < 2 {
            spins = spins.wrapping_add(1);
            if spins.is_multiple_of(1024) {
                // Two cores, many threads: let the other party run.
                std::thread::yield_now();
            } else {
                std::hint::spin_loop();
            }
        }
        for _ in 0..delay {
            std::hint::spin_loop();
        }
    }
}

/// Spins for the two sides of a [`Meet`]: none on one side, and on the other
/// a count spread evenly over the scales from 1 to `MAX_DELAY` (a window may
/// sit 10 ns or 5 µs after the meeting), so that the rounds sweep it from
/// both ends.
const MAX_DELAY: usize = 1 << 10;

fn delays(rng: &mut Rng) -> (usize, usize) {
    let scale = 1 << rng.below(MAX_DELAY.trailing_zeros() as usize + 1);
    let delay = rng.below(scale);
    if rng.coin() {
        (delay, 0)
    } else {
        (0, delay)
    }
}

/// Whether a round meets: half of them.
fn meets(rng: &mut Rng) -> bool {
    rng.coin()
}

/// Threads outside the runtime, each running the jobs it is sent in order.
///
/// A job that panics is caught (the panic hook prints it) so the thread lives
/// on; the ticket the job held is dropped unsent, and the round fails.
struct Outside {
    lanes: Vec<(mpsc::Sender<Job>, JoinHandle<()>)>,
}

type Job = Box<dyn FnOnce() + Send>;

impl Outside {
    fn new(name: &str, threads: usize) -> Self {
        let lanes = (0..threads)
            .map(|i| {
                let (tx, rx) = mpsc::channel::<Job>();
                let thread = std::thread::Builder::new()
                    .name(format!("{name}-{i}"))
                    .spawn(move || {
                        for job in rx {
                            let _ = catch_unwind(AssertUnwindSafe(job));
                        }
                    })
                    .expect("spawn an outside thread");
                (tx, thread)
            })
            .collect();
        Self { lanes }
    }

    fn run(&self, lane: usize, job: impl FnOnce() + Send + 'static) {
        let (tx, _) = &self.lanes[lane % self.lanes.len()];
        tx.send(Box::new(job)).expect("outside thread alive");
    }

    fn join(self) {
        for (tx, thread) in self.lanes {
            drop(tx);
            thread.join().expect("outside thread");
        }
    }
}

/// What the stall reporter reads: the round and who has not reported yet.
#[derive(Default)]
struct Shared {
    round: AtomicUsize,
    pending: Mutex<Vec<&'static str>>,
}

impl Shared {
    fn pending(&self) -> std::sync::MutexGuard<'_, Vec<&'static str>> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A round without progress for this long is reported (once) on stderr.
const STALL: Duration = Duration::from_secs(20);

/// Watches a scenario's rounds and prints which one stalls, and on whom.
///
/// Diagnostics only: the harness's watchdog fails a hung scenario; this says
/// where it hung. It waits on a channel with a timeout to poll the round
/// counter, and decides nothing.
struct Progress {
    shared: Arc<Shared>,
    stop: Option<mpsc::Sender<()>>,
    monitor: Option<JoinHandle<()>>,
}

impl Progress {
    fn watch(scenario: &'static str, kind: Kind) -> Self {
        let shared = Arc::new(Shared::default());
        let (stop, stopped) = mpsc::channel::<()>();
        let monitor = std::thread::spawn({
            let shared = Arc::clone(&shared);
            move || {
                let tick = Duration::from_secs(1);
                let (mut last, mut still, mut told) = (usize::MAX, Duration::ZERO, false);
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(tick) {
                    // Relaxed: a snapshot for a message.
                    let round = shared.round.load(Ordering::Relaxed);
                    if round != last {
                        (last, still, told) = (round, Duration::ZERO, false);
                        continue;
                    }
                    still += tick;
                    if still >= STALL && !told {
                        told = true;
                        eprintln!(
                            "stress {scenario} on {kind:?}: round {round} (seed {}) made no \
                             progress for {still:?}; still waiting for {:?}",
                            seed(),
                            shared.pending()
                        );
                    }
                }
            }
        });
        Self {
            shared,
            stop: Some(stop),
            monitor: Some(monitor),
        }
    }

    fn round(&self, round: usize) -> Round {
        // Relaxed: read only by the stall reporter.
        self.shared.round.store(round, Ordering::Relaxed);
        self.shared.pending().clear();
        let (tx, rx) = unbounded();
        Round {
            number: round,
            tx: Some(tx),
            rx,
            expected: 0,
            shared: Arc::clone(&self.shared),
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(monitor) = self.monitor.take() {
            let _ = monitor.join();
        }
    }
}

/// The participants of one round, and their reports.
struct Round {
    number: usize,
    tx: Option<Sender<()>>,
    rx: Receiver<()>,
    expected: usize,
    shared: Arc<Shared>,
}

impl Round {
    /// One more participant, which calls [`Ticket::done`] when it finished.
    fn ticket(&mut self, label: &'static str) -> Ticket {
        self.expected += 1;
        self.shared.pending().push(label);
        Ticket {
            tx: self.tx.clone().expect("round open"),
            label,
            shared: Arc::clone(&self.shared),
        }
    }

    /// Waits until every participant reported.
    ///
    /// Hangs while one is parked (the watchdog ends that); fails at once when
    /// one dropped its ticket unsent (it panicked, and the hook printed why).
    async fn finish(mut self) {
        drop(self.tx.take());
        for _ in 0..self.expected {
            if self.rx.recv().await.is_err() {
                panic!(
                    "round {} (seed {}): participants ended without reporting: {:?}",
                    self.number,
                    seed(),
                    self.shared.pending()
                );
            }
        }
    }
}

struct Ticket {
    tx: Sender<()>,
    label: &'static str,
    shared: Arc<Shared>,
}

impl Ticket {
    fn done(self) {
        {
            let mut pending = self.shared.pending();
            if let Some(at) = pending.iter().position(|l| *l == self.label) {
                pending.swap_remove(at);
            }
        }
        self.tx
            .try_send(())
            .expect("the round waits for its reports");
    }
}

// Scope: trigger vs triggered() / drained() vs guards taken and dropped.

conformance!(scope_trigger_waiters_and_guards_race, |env| async move {
    let actors = Outside::new("actor", 2);
    let waiters = Outside::new("waiter", 2);
    let progress = Progress::watch("scope", env.kind);
    for number in 0..rounds() {
        let mut rng = Rng::new(number);
        let mut round = progress.round(number);
        let root = Shutdown::new();
        let child = root.child();

        // Guards that hold the drain: one dropped by a task (once the child is
        // triggered, or after a few yields), one by an outside thread: when it
        // gets to it, or (half of the rounds) at the very moment the root
        // is triggered.
        let task_guard = child.guard();
        let thread_guard = root.guard();
        let meet = meets(&mut rng).then(|| (Meet::new(), delays(&mut rng)));

        // Waiters in the runtime, on both scopes.
        for scope in [root.clone(), child.clone()] {
            let ticket = round.ticket("task: triggered()");
            let waiter = scope.clone();
            env.rt.spawn(async move {
                waiter.triggered().await;
                assert!(waiter.reason().is_some(), "triggered without a reason");
                ticket.done();
            });
            let ticket = round.ticket("task: drained()");
            env.rt.spawn(async move {
                scope.drained().await;
                assert!(scope.is_triggered(), "drained before the trigger");
                ticket.done();
            });
        }
        // Waiters on threads outside it.
        let ticket = round.ticket("thread: child.wait_blocking()");
        let waiter = child.clone();
        waiters.run(0, move || {
            waiter.wait_blocking();
            assert!(waiter.is_triggered());
            ticket.done();
        });
        let ticket = round.ticket("thread: root.drained_blocking()");
        let waiter = root.clone();
        waiters.run(1, move || {
            waiter.drained_blocking();
            assert!(waiter.is_triggered());
            ticket.done();
        });

        // The guards' releases.
        let (ticket, scope) = (round.ticket("task: drop a guard"), child.clone());
        let (after_trigger, n) = (rng.coin(), rng.below(3));
        env.rt.spawn(async move {
            if after_trigger {
                scope.triggered().await;
            } else {
                yields(n).await;
            }
            drop(task_guard);
            ticket.done();
        });
        let ticket = round.ticket("thread: drop a guard");
        let (lane, releaser) = match &meet {
            Some((meet, (_, delay))) => (1, Some((meet.clone(), *delay))),
            None => (rng.below(2), None),
        };
        actors.run(lane, move || {
            if let Some((meet, delay)) = releaser {
                meet.meet(delay);
            }
            drop(thread_guard);
            ticket.done();
        });

        // Guards taken and dropped while the race runs, on both sides.
        let (n, scope) = (rng.below(4), child.clone());
        let ticket = round.ticket("task: guard churn");
        env.rt.spawn(async move {
            for _ in 0..n {
                let guard = scope.guard();
                yield_now().await;
                drop(guard);
            }
            ticket.done();
        });
        let (n, scope) = (rng.below(4), root.clone());
        let ticket = round.ticket("thread: guard churn");
        actors.run(rng.below(2), move || {
            for _ in 0..n {
                drop(scope.guard());
            }
            ticket.done();
        });

        // The trigger of the root, and sometimes a second one racing it: on
        // the root too, or on the child alone.
        let root_wins = Arc::new(AtomicUsize::new(0));
        let second = rng.below(3); // 0: none, 1: root, 2: child
        let mut inline = Vec::new();
        for (i, target) in [Some(&root), [None, Some(&root), Some(&child)][second]]
            .into_iter()
            .enumerate()
        {
            let Some(target) = target else { continue };
            let (target, is_root) = (target.clone(), target.ptr_eq(&root));
            let (reason, wins) = (Reason::Signal([15, 2][i]), Arc::clone(&root_wins));
            let subtree = target.child();
            // The first trigger meets the guard's release, in meeting rounds.
            let meeting = match &meet {
                Some((meet, (delay, _))) if i == 0 => Some((meet.clone(), *delay)),
                _ => None,
            };
            let fire = move || {
                if let Some((meet, delay)) = meeting {
                    meet.meet(delay);
                }
                if target.trigger(reason) && is_root {
                    wins.fetch_add(1, Ordering::SeqCst);
                }
                // Won or lost, the subtree reads triggered once it returns.
                assert!(target.is_triggered() && subtree.is_triggered());
            };
            // A meeting trigger runs on lane 0 or in a task: never where the
            // release (lane 1) or the scenario itself waits for it.
            let place = match (&meet, i) {
                (Some(_), 0) => rng.below(2),
                _ => rng.below(3),
            };
            match place {
                0 => {
                    let ticket = round.ticket("thread: trigger");
                    let lane = if meet.is_some() { 0 } else { rng.below(2) };
                    actors.run(lane, move || {
                        fire();
                        ticket.done();
                    });
                }
                1 => {
                    let (ticket, n) = (round.ticket("task: trigger"), rng.below(3));
                    env.rt.spawn(async move {
                        yields(n).await;
                        fire();
                        ticket.done();
                    });
                }
                _ => inline.push(fire),
            }
        }
        yields(rng.below(3)).await;
        for fire in inline {
            fire();
        }
        if rng.coin() {
            child.drained().await;
        }
        round.finish().await;

        assert!(root.is_drained() && child.is_drained(), "round {number}");
        assert!(root.holders().is_empty(), "round {number}");
        assert_eq!(root_wins.load(Ordering::SeqCst), 1, "round {number}");
        let (root_reason, child_reason) = (root.reason(), child.reason());
        let either = [Some(Reason::Signal(15)), Some(Reason::Signal(2))];
        match second {
            // A second trigger of the root: either wins, the child follows it.
            1 => {
                assert!(either.contains(&root_reason), "{root_reason:?}");
                assert_eq!(child_reason, root_reason, "round {number}");
            }
            // The child triggered alone: it keeps whichever reached it first.
            2 => {
                assert_eq!(root_reason, Some(Reason::Signal(15)), "round {number}");
                assert!(either.contains(&child_reason), "{child_reason:?}");
            }
            _ => {
                assert_eq!(root_reason, Some(Reason::Signal(15)), "round {number}");
                assert_eq!(child_reason, root_reason, "round {number}");
            }
        }
    }
    drop(progress);
    actors.join();
    waiters.join();
});

// Tasks: count / close / wait, with tasks spawned and ending meanwhile.

#[derive(Default)]
struct Counts {
    accepted: AtomicUsize,
    refused: AtomicUsize,
    ran: AtomicUsize,
    /// `ran` as each `wait()` found it when it returned.
    at_wait: Mutex<Vec<usize>>,
}

impl Counts {
    // SeqCst throughout: plain counters read once the round is over.
    fn load(counter: &AtomicUsize) -> usize {
        counter.load(Ordering::SeqCst)
    }

    /// What a `wait()` that returned must find.
    fn check_after_wait(&self, tasks: &Tasks) {
        assert!(tasks.is_closed(), "wait() returned on an open registry");
        assert_eq!(tasks.len(), 0, "wait() returned with tasks running");
        let ran = Counts::load(&self.ran);
        self.at_wait
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(ran);
    }
}

/// Spawns one counted task of shape `shape`: it ends at once, after a few
/// yields, when `gate` opens, or after spawning another task itself.
fn spawn_counted(tasks: &Tasks, counts: &Arc<Counts>, gate: &Shutdown, shape: usize) {
    let (inner, counted, gate) = (tasks.clone(), Arc::clone(counts), gate.clone());
    let spawned = tasks.spawn(async move {
        match shape {
            0 => {}
            1 => yields(3).await,
            2 => gate.triggered().await,
            _ => {
                spawn_counted(&inner, &counted, &gate, 1);
                yield_now().await;
            }
        }
        counted.ran.fetch_add(1, Ordering::SeqCst);
    });
    match spawned {
        Ok(()) => counts.accepted.fetch_add(1, Ordering::SeqCst),
        Err(StartError::Closed) => counts.refused.fetch_add(1, Ordering::SeqCst),
        Err(other) => panic!("unexpected {other}"),
    };
}

conformance!(tasks_spawn_close_and_wait_race, |env| async move {
    let actors = Outside::new("actor", 2);
    let waiters = Outside::new("waiter", 1);
    let progress = Progress::watch("tasks", env.kind);
    for number in 0..rounds() {
        let mut rng = Rng::new(number);
        let mut round = progress.round(number);
        let tasks = Tasks::new(env.rt.clone(), Shutdown::new());
        let counts = Arc::new(Counts::default());
        let gate = Shutdown::new();

        // Accepted for sure: nothing closes the registry yet.
        let first = 1 + rng.below(3);
        for _ in 0..first {
            spawn_counted(&tasks, &counts, &gate, rng.below(4));
        }
        assert!(
            Counts::load(&counts.accepted) >= first,
            "refused while open"
        );
        // In half of the rounds, one more task ends at the very moment an
        // outside thread closes the registry.
        let meet = meets(&mut rng).then(|| (Meet::new(), delays(&mut rng)));
        if let Some((meet, (delay, _))) = &meet {
            let (meet, delay, c) = (meet.clone(), *delay, Arc::clone(&counts));
            tasks
                .spawn(async move {
                    c.ran.fetch_add(1, Ordering::SeqCst);
                    meet.meet(delay); // then return: the end races the close
                })
                .expect("the registry is open");
            counts.accepted.fetch_add(1, Ordering::SeqCst);
        }

        // More spawns, racing the close: from a task and from a thread.
        let (shapes, t, c, g) = (
            [rng.below(4), rng.below(4)],
            tasks.clone(),
            Arc::clone(&counts),
            gate.clone(),
        );
        let (ticket, n) = (round.ticket("task: spawn"), rng.below(3));
        env.rt.spawn(async move {
            yields(n).await;
            for shape in shapes {
                spawn_counted(&t, &c, &g, shape);
            }
            ticket.done();
        });
        let (shapes, t, c, g) = (
            [rng.below(4), rng.below(4)],
            tasks.clone(),
            Arc::clone(&counts),
            gate.clone(),
        );
        let ticket = round.ticket("thread: spawn");
        actors.run(rng.below(2), move || {
            for shape in shapes {
                spawn_counted(&t, &c, &g, shape);
            }
            ticket.done();
        });

        // The gate some tasks wait on opens from a task or a thread.
        let opener = gate.clone();
        if rng.coin() {
            let ticket = round.ticket("thread: open the gate");
            actors.run(rng.below(2), move || {
                opener.trigger(Reason::Requested);
                ticket.done();
            });
        } else {
            let (ticket, n) = (round.ticket("task: open the gate"), rng.below(3));
            env.rt.spawn(async move {
                yields(n).await;
                opener.trigger(Reason::Requested);
                ticket.done();
            });
        }

        // `wait()` from a task and from a thread, before or after the close.
        let (t, c) = (tasks.clone(), Arc::clone(&counts));
        let ticket = round.ticket("task: wait()");
        env.rt.spawn(async move {
            t.wait().await;
            c.check_after_wait(&t);
            ticket.done();
        });
        let (t, c) = (tasks.clone(), Arc::clone(&counts));
        let ticket = round.ticket("thread: wait()");
        waiters.run(0, move || {
            block_on(t.wait());
            c.check_after_wait(&t);
            ticket.done();
        });

        // The close: from a thread (meeting the task above, in meeting
        // rounds), a task, or right here.
        let closer = tasks.clone();
        match meet.as_ref().map_or(rng.below(3), |_| 0) {
            0 => {
                let ticket = round.ticket("thread: close()");
                let meeting = meet.map(|(meet, (_, delay))| (meet, delay));
                actors.run(rng.below(2), move || {
                    if let Some((meet, delay)) = meeting {
                        meet.meet(delay);
                    }
                    closer.close();
                    ticket.done();
                });
            }
            1 => {
                let (ticket, n) = (round.ticket("task: close()"), rng.below(3));
                env.rt.spawn(async move {
                    yields(n).await;
                    closer.close();
                    ticket.done();
                });
            }
            _ => {
                yields(rng.below(3)).await;
                closer.close();
            }
        }

        tasks.wait().await;
        counts.check_after_wait(&tasks);
        round.finish().await;

        // No task ran after a `wait()` returned, and every accepted one ran.
        let ran = Counts::load(&counts.ran);
        assert_eq!(ran, Counts::load(&counts.accepted), "round {number}");
        let at_wait = counts
            .at_wait
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        assert_eq!(*at_wait, [ran; 3], "round {number}");
        assert!(tasks.is_closed() && tasks.is_empty());
        assert_eq!(tasks.spawn(async {}), Err(StartError::Closed));
    }
    drop(progress);
    actors.join();
    waiters.join();
});

// Tasks::shutdown vs tasks that end on their own.

const NAMES: [&str; 3] = ["alpha", "beta", "gamma"];

conformance!(shutdown_races_tasks_ending_alone, |env| async move {
    // Long enough never to run out unless a wake-up is lost: the failure then
    // reads as an aborted task rather than as a hang.
    let grace = Duration::from_secs(if env.is_virtual() { 3600 } else { 60 });
    let actors = Outside::new("actor", 2);
    let waiters = Outside::new("waiter", 1);
    let progress = Progress::watch("shutdown", env.kind);
    for number in 0..rounds() {
        let mut rng = Rng::new(number);
        let mut round = progress.round(number);
        let tasks = Tasks::new(env.rt.clone(), Shutdown::new());
        let gate = Shutdown::new();
        let finished = Arc::new(AtomicUsize::new(0));
        let unnamed_ran = Arc::new(AtomicUsize::new(0));

        // On a real clock, in half of the rounds, the first task ends at
        // the very moment an outside thread's shutdown begins.
        let meet = (!env.is_virtual() && meets(&mut rng)).then(|| (Meet::new(), delays(&mut rng)));

        // Named tasks that end alone, on the gate, on their stop signal, or on
        // whichever comes first.
        let mut saw_stop = Vec::new();
        for (i, name) in NAMES.into_iter().enumerate() {
            let saw = Arc::new(AtomicBool::new(false));
            saw_stop.push(Arc::clone(&saw));
            let (shape, n) = (rng.below(4), rng.below(4));
            let meeting = match &meet {
                Some((meet, (delay, _))) if i == 0 => Some((meet.clone(), *delay)),
                _ => None,
            };
            let (gate, finished) = (gate.clone(), Arc::clone(&finished));
            tasks
                .start(name, move |stop| async move {
                    if let Some((meet, delay)) = meeting {
                        finished.fetch_add(1, Ordering::SeqCst);
                        meet.meet(delay); // then return: the end races the close
                        return;
                    }
                    match shape {
                        0 => yields(n).await,
                        1 => gate.triggered().await,
                        2 => {
                            stop.triggered().await;
                            saw.store(true, Ordering::SeqCst);
                        }
                        _ => {
                            if stop.run_until_triggered(gate.triggered()).await.is_none() {
                                saw.store(true, Ordering::SeqCst);
                            }
                        }
                    }
                    finished.fetch_add(1, Ordering::SeqCst);
                })
                .expect("the registry is open");
        }
        let unnamed = rng.below(3);
        for _ in 0..unnamed {
            let (gate, ran, alone) = (gate.clone(), Arc::clone(&unnamed_ran), rng.coin());
            tasks
                .spawn(async move {
                    if alone {
                        yield_now().await;
                    } else {
                        gate.triggered().await;
                    }
                    ran.fetch_add(1, Ordering::SeqCst);
                })
                .expect("the registry is open");
        }

        // The gate opens from a task, or (on a real clock) from a thread: on
        // virtual time a wait on an outside thread would let the clock jump
        // to the grace's end.
        let opener = gate.clone();
        if !env.is_virtual() && rng.coin() {
            let ticket = round.ticket("thread: open the gate");
            actors.run(rng.below(2), move || {
                opener.trigger(Reason::Requested);
                ticket.done();
            });
        } else {
            let (ticket, n) = (round.ticket("task: open the gate"), rng.below(4));
            env.rt.spawn(async move {
                yields(n).await;
                opener.trigger(Reason::Requested);
                ticket.done();
            });
        }

        // Sometimes a second shutdown races the first, from a task or (on a
        // real clock) from a thread.
        let other: Arc<Mutex<Option<Report>>> = Arc::default();
        let (t, slot) = (tasks.clone(), Arc::clone(&other));
        let meeting = meet.map(|(meet, (_, delay))| (meet, delay));
        let first_outside = meeting.is_some();
        match meeting.as_ref().map_or(rng.below(3), |_| 1) {
            0 => {}
            1 if !env.is_virtual() => {
                let ticket = round.ticket("thread: shutdown()");
                waiters.run(0, move || {
                    if let Some((meet, delay)) = meeting {
                        meet.meet(delay);
                    }
                    let report = block_on(t.shutdown(grace));
                    *slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(report);
                    ticket.done();
                });
            }
            _ => {
                let (ticket, n) = (round.ticket("task: shutdown()"), rng.below(3));
                env.rt.spawn(async move {
                    yields(n).await;
                    let report = t.shutdown(grace).await;
                    *slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(report);
                    ticket.done();
                });
            }
        }

        yields(rng.below(4)).await;
        // In meeting rounds the outside thread's shutdown closes first.
        while first_outside && !tasks.is_closed() {
            yield_now().await;
        }
        let report = tasks.shutdown(grace).await;
        // Every task ended before the report was made.
        assert_eq!(finished.load(Ordering::SeqCst), NAMES.len(), "{report}");
        assert_eq!(unnamed_ran.load(Ordering::SeqCst), unnamed, "{report}");
        assert_eq!(tasks.len(), 0);
        round.finish().await;

        let other = other.lock().unwrap_or_else(PoisonError::into_inner).take();
        for report in std::iter::once(report).chain(other) {
            assert!(report.is_clean(), "round {number}: {report}");
            assert_eq!(report.aborted().count(), 0, "round {number}: {report}");
            assert_eq!(report.tasks().len(), NAMES.len(), "{report}");
            for (name, saw) in NAMES.iter().zip(&saw_stop) {
                let exit = report.get(name).expect("every task reported").exit();
                if saw.load(Ordering::SeqCst) {
                    assert!(matches!(exit, Exit::Stopped), "{name}: {exit}");
                } else {
                    assert!(
                        matches!(exit, Exit::Completed | Exit::Stopped),
                        "{name}: {exit}"
                    );
                }
            }
        }
        assert!(tasks.is_closed() && tasks.is_empty());
        assert_eq!(tasks.start("late", |_| async {}), Err(StartError::Closed));
    }
    drop(progress);
    actors.join();
    waiters.join();
});
