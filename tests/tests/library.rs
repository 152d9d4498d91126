//! The runtime-neutral library (`steward_examples::batch`) on every runtime:
//! its flush cadence, its retries, its health check, its final flush at
//! shutdown (surviving the cancellation of whoever waits for it, reported
//! when the grace cuts it); and the `library` binary on each adapter.

use std::collections::VecDeque;
use std::error::Error;
use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_channel::{Receiver, Sender};
use steward_core::health::{Check, Health, HealthCheck, Select, Status};
use steward_core::{App, Exit, Reason, RuntimeHandle, Shutdown, StartError, Tasks};
use steward_examples::batch::{Batcher, FlushError, Options, PushError, Sink};
use steward_tests::conformance;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// One write the sink saw: when (since the sink was made), what, accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Attempt {
    at: Duration,
    items: Vec<u32>,
    ok: bool,
}

#[derive(Debug)]
struct Refused;

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("refused")
    }
}

impl Error for Refused {}

/// A sink that records every finished write, and announces it on a channel
/// so that a test waits for writes instead of sleeping.
struct Recorder {
    rt: RuntimeHandle,
    t0: Instant,
    /// How long each next write takes (after these, no time).
    delays: Mutex<VecDeque<Duration>>,
    /// How many next writes fail.
    refuse: AtomicU32,
    log: Mutex<Vec<Attempt>>,
    seen: Sender<Attempt>,
}

impl Recorder {
    fn new(rt: &RuntimeHandle) -> (Arc<Self>, Receiver<Attempt>) {
        let (seen, attempts) = async_channel::unbounded();
        let recorder = Recorder {
            rt: rt.clone(),
            t0: rt.now(),
            delays: Mutex::default(),
            refuse: AtomicU32::new(0),
            log: Mutex::default(),
            seen,
        };
        (Arc::new(recorder), attempts)
    }

    fn delay_next(&self, by: Duration) {
        self.delays.lock().unwrap().push_back(by);
    }

    fn refuse_next(&self, writes: u32) {
        // SeqCst: set before any write that should see it is started.
        self.refuse.store(writes, Ordering::SeqCst);
    }

    fn log(&self) -> Vec<Attempt> {
        self.log.lock().unwrap().clone()
    }

    /// Every accepted item, in the order the sink accepted them.
    fn written(&self) -> Vec<u32> {
        let log = self.log.lock().unwrap();
        log.iter()
            .filter(|a| a.ok)
            .flat_map(|a| a.items.clone())
            .collect()
    }
}

impl Sink for Recorder {
    type Item = u32;
    type Error = Refused;

    async fn write(&self, batch: &[u32]) -> Result<(), Refused> {
        let delay = self.delays.lock().unwrap().pop_front();
        if let Some(delay) = delay {
            self.rt.sleep(delay).await;
        }
        // SeqCst: one counter, decremented by one write at a time.
        let take = self
            .refuse
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        let attempt = Attempt {
            at: self.rt.now() - self.t0,
            items: batch.to_vec(),
            ok: take.is_err(),
        };
        self.log.lock().unwrap().push(attempt.clone());
        let _ = self.seen.try_send(attempt.clone());
        if attempt.ok {
            Ok(())
        } else {
            Err(Refused)
        }
    }
}

/// A batcher named `events` writing to a new recorder, in a new registry.
fn batcher(
    rt: &RuntimeHandle,
    options: Options,
) -> (
    Batcher<Arc<Recorder>>,
    Arc<Recorder>,
    Receiver<Attempt>,
    Tasks,
) {
    let (sink, attempts) = Recorder::new(rt);
    let tasks = Tasks::new(rt.clone(), Shutdown::new());
    let batcher = Batcher::start(rt.clone(), &tasks, sink.clone(), options).unwrap();
    (batcher, sink, attempts, tasks)
}

fn hourly() -> Options {
    Options::new("events").interval(Duration::from_secs(3600))
}

async fn status(batcher: &Batcher<Arc<Recorder>>) -> (Status, Option<String>) {
    let outcome = batcher.check().check().await;
    (outcome.status(), outcome.error().map(str::to_owned))
}

conformance!(flushes_every_interval_in_order, |env| async move {
    let options = Options::new("events").interval(ms(100)).max_batch(2);
    let (batcher, sink, attempts, tasks) = batcher(&env.rt, options);
    for n in 1..=3 {
        batcher.push(n).await.unwrap();
    }
    let (first, second) = (
        attempts.recv().await.unwrap(),
        attempts.recv().await.unwrap(),
    );
    assert_eq!(
        (&first.items[..], &second.items[..]),
        (&[1, 2][..], &[3][..])
    );
    assert!(first.at >= ms(100), "{first:?}");
    batcher.push(4).await.unwrap();
    let third = attempts.recv().await.unwrap();
    assert_eq!(third.items, [4]);
    assert!(third.at >= ms(200), "{third:?}");
    if env.is_virtual() {
        assert_eq!([first.at, second.at, third.at], [ms(100), ms(100), ms(200)]);
    }

    let report = tasks.shutdown(Duration::from_secs(1)).await;
    assert!(report.is_clean(), "{report}");
    for name in ["events", "events-flush"] {
        assert!(
            matches!(report.get(name).unwrap().exit(), Exit::Stopped),
            "{report}"
        );
    }
    assert_eq!(sink.written(), [1, 2, 3, 4]);
    let stats = batcher.stats();
    assert_eq!((stats.written, stats.batches, stats.buffered), (4, 3, 0));
});

conformance!(final_flush_when_the_app_stops, |env| async move {
    let (sink, _) = Recorder::new(&env.rt);
    sink.delay_next(ms(30));
    let kept = Arc::new(Mutex::new(None));
    let (recorder, keep) = (sink.clone(), kept.clone());
    let report = App::new()
        .serve(env.rt.clone(), move |cx| async move {
            let events = Batcher::start(cx.runtime().clone(), cx.tasks(), recorder, hourly())?;
            cx.health()
                .register(Check::new("events", events.check()).ready())?;
            for n in 1..=5 {
                events.push(n).await?;
            }
            *keep.lock().unwrap() = Some(events);
            let service = cx.shutdown().clone();
            cx.runtime().spawn(async move {
                service.trigger(Reason::Signal(15));
            });
            Ok::<_, Box<dyn Error + Send + Sync>>(())
        })
        .await;
    assert_eq!(report.exit_code(), 0, "{report}");
    let stop = report.tasks().get("events").unwrap();
    assert!(matches!(stop.exit(), Exit::Stopped), "{report}");
    let log = sink.log();
    assert_eq!(log.len(), 1, "one final batch: {log:?}");
    assert_eq!((&log[0].items[..], log[0].ok), (&[1, 2, 3, 4, 5][..], true));
    // On real time the batcher's flush may begin before the App reads its
    // trigger instant (another worker wakes first), so `took` can be a
    // little under the flush's 30 ms: the order is proven by the flush being
    // in the log when `serve` returns, the time exactly on virtual time.
    if env.is_virtual() {
        assert_eq!((log[0].at, report.took()), (ms(30), ms(30)));
    }

    let events = kept.lock().unwrap().take().unwrap();
    assert!(events.is_closed());
    assert_eq!(events.push(6).await, Err(PushError::Closed(6)));
    let (health, error) = status(&events).await;
    assert_eq!(health, Status::Unhealthy);
    assert!(error.unwrap().starts_with("closed"));
});

conformance!(final_flush_survives_the_cancelled_wait, |env| async move {
    let (batcher, sink, _, tasks) = batcher(&env.rt, hourly());
    sink.delay_next(ms(500));
    for n in 1..=3 {
        batcher.push(n).await.unwrap();
    }
    let t0 = env.rt.now();
    let cut = env.rt.timeout(ms(10), batcher.close()).await;
    assert!(cut.is_err(), "the wait is dropped after 10 ms");
    assert!(sink.log().is_empty());
    assert_eq!(batcher.try_push(4), Err(PushError::Closed(4)));

    // The registry's shutdown waits for the shielded flush, which goes on.
    let report = tasks.shutdown(Duration::from_secs(5)).await;
    assert!(report.is_clean(), "{report}");
    let log = sink.log();
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!((&log[0].items[..], log[0].ok), (&[1, 2, 3][..], true));
    assert!(env.rt.now() - t0 >= ms(500));
    if env.is_virtual() {
        assert_eq!((log[0].at, report.took()), (ms(500), ms(490)));
    }
    assert_eq!(batcher.stats().buffered, 0);
});

conformance!(final_flush_past_the_grace_is_reported, |env| async move {
    let (batcher, sink, _, tasks) = batcher(&env.rt, hourly());
    sink.delay_next(Duration::from_secs(3600)); // a sink that hangs
    for n in 1..=3 {
        batcher.push(n).await.unwrap();
    }
    let report = tasks.shutdown(ms(500)).await;
    assert!(!report.is_clean(), "{report}");
    let aborted: Vec<_> = report.aborted().map(|t| t.name().to_owned()).collect();
    assert!(
        aborted.iter().any(|n| n.starts_with("shield at")),
        "{report}"
    );
    // The closer waiting for the flush is aborted too, or first sees the
    // flush aborted and fails with `FlushError::Cut`: a failure either way.
    assert!(
        report.get("events").unwrap().exit().is_failure(),
        "{report}"
    );
    assert!(report.took() >= ms(500));
    if env.is_virtual() {
        assert_eq!(report.took(), ms(500));
    }
    // Nothing written, nothing silently lost: the cut batch is still counted.
    assert!(sink.log().is_empty());
    assert_eq!(batcher.stats().buffered, 3);
});

conformance!(
    failed_writes_are_retried_first_and_seen_by_health,
    |env| async move {
        let (batcher, sink, _, tasks) = batcher(&env.rt, hourly().unhealthy_after(3));
        let health = Health::new(env.rt.clone());
        health
            .register(Check::new("events", batcher.check()).ready())
            .unwrap();
        let ready = |health: Health| async move {
            health.refresh().await;
            let report = health.report(&Select::tagged("ready")).await;
            let check = report.get("events").unwrap();
            (check.status(), check.error().unwrap_or_default().to_owned())
        };
        assert_eq!(ready(health.clone()).await.0, Status::Healthy);

        sink.refuse_next(3);
        batcher.push(1).await.unwrap();
        batcher.push(2).await.unwrap();
        assert!(matches!(
            batcher.flush().await,
            Err(FlushError::Write(Refused))
        ));
        let (status, error) = ready(health.clone()).await;
        assert_eq!(
            (status, &error[..]),
            (
                Status::Degraded,
                "the last flush failed: the sink refused a batch: refused"
            )
        );
        batcher.push(3).await.unwrap();
        assert!(batcher.flush().await.is_err());
        assert_eq!(ready(health.clone()).await.0, Status::Degraded);
        assert!(batcher.flush().await.is_err());
        let (status, error) = ready(health.clone()).await;
        assert_eq!(status, Status::Unhealthy);
        assert!(error.starts_with("the last 3 flushes failed"), "{error}");

        let stats = batcher.flush().await.unwrap();
        assert_eq!(
            (stats.written, stats.batches, stats.failures, stats.failing),
            (3, 2, 3, 0)
        );
        assert_eq!(ready(health.clone()).await.0, Status::Healthy);
        let tries: Vec<_> = sink.log().into_iter().map(|a| (a.items, a.ok)).collect();
        let failed = (vec![1, 2], false);
        assert_eq!(
            tries,
            [
                failed.clone(),
                failed.clone(),
                failed,
                (vec![1, 2], true),
                (vec![3], true)
            ]
        );
        assert!(tasks.shutdown(Duration::from_secs(1)).await.is_clean());
    }
);

conformance!(
    a_failed_periodic_flush_is_reported_then_retried,
    |env| async move {
        let (batcher, sink, attempts, tasks) =
            batcher(&env.rt, Options::new("events").interval(ms(100)));
        let (failed, failures) = async_channel::unbounded();
        tasks.on_failure(move |name, exit| {
            let _ = failed.try_send(format!("{name}: {exit}"));
        });
        sink.refuse_next(1);
        batcher.push(1).await.unwrap();
        let first = attempts.recv().await.unwrap();
        assert_eq!(
            failures.recv().await.unwrap(),
            "events-flush: failed: the sink refused a batch: refused"
        );
        let second = attempts.recv().await.unwrap();
        assert_eq!(
            (first.ok, second.ok, &second.items[..]),
            (false, true, &[1][..])
        );
        if env.is_virtual() {
            assert_eq!((first.at, second.at), (ms(100), ms(200)));
        }
        let report = tasks.shutdown(Duration::from_secs(1)).await;
        assert!(
            report.is_clean(),
            "a failed run does not end the job: {report}"
        );
    }
);

conformance!(a_hung_write_times_out_and_is_retried, |env| async move {
    let options = hourly().write_timeout(Duration::from_secs(1));
    let (batcher, sink, _, tasks) = batcher(&env.rt, options);
    sink.delay_next(Duration::from_secs(3600));
    batcher.push(1).await.unwrap();
    let t0 = env.rt.now();
    let timed_out = batcher.flush().await;
    assert!(
        matches!(timed_out, Err(FlushError::TimedOut(limit)) if limit == Duration::from_secs(1))
    );
    if env.is_virtual() {
        assert_eq!(env.rt.now() - t0, Duration::from_secs(1));
    }
    assert_eq!(batcher.stats().buffered, 1);
    assert_eq!(batcher.flush().await.unwrap().written, 1);
    assert_eq!(sink.written(), [1]);
    assert!(tasks.shutdown(Duration::from_secs(1)).await.is_clean());
});

conformance!(
    a_full_buffer_makes_push_wait_for_a_flush,
    |env| async move {
        let t0 = env.rt.now();
        let options = Options::new("events").interval(ms(100)).capacity(2);
        let (batcher, _sink, attempts, tasks) = batcher(&env.rt, options);
        batcher.try_push(1).unwrap();
        batcher.try_push(2).unwrap();
        assert_eq!(batcher.try_push(3), Err(PushError::Full(3)));
        let (health, error) = status(&batcher).await;
        assert_eq!(
            (health, error.as_deref()),
            (
                Status::Degraded,
                Some("2 of 2 buffered: pushes are about to wait")
            )
        );
        batcher.push(3).await.unwrap(); // room once the first flush took 1 and 2
        assert!(env.rt.now() - t0 >= ms(100));
        if env.is_virtual() {
            assert_eq!(env.rt.now() - t0, ms(100));
        }
        assert_eq!(attempts.recv().await.unwrap().items, [1, 2]);
        assert!(tasks.shutdown(Duration::from_secs(1)).await.is_clean());
    }
);

conformance!(
    a_taken_name_is_refused_and_leaves_nothing_behind,
    |env| async move {
        let (first, _sink, _, tasks) = batcher(&env.rt, hourly());
        let (sink, _) = Recorder::new(&env.rt);
        let twice = Batcher::start(env.rt.clone(), &tasks, sink.clone(), hourly());
        assert_eq!(
            twice.unwrap_err(),
            StartError::AlreadyRunning("events-flush".into())
        );

        // `audit` is a task of the user's: the batcher's flush job starts, its
        // closer cannot, and the flush job is stopped again at once.
        tasks
            .start("audit", |stop| async move { stop.triggered().await })
            .unwrap();
        let clash = Batcher::start(env.rt.clone(), &tasks, sink, Options::new("audit"));
        assert_eq!(
            clash.unwrap_err(),
            StartError::AlreadyRunning("audit".into())
        );
        env.rt.sleep(Duration::from_secs(1)).await;
        let report = tasks.shutdown(Duration::from_secs(1)).await;
        let undone = report.get("audit-flush").unwrap();
        assert!(matches!(undone.exit(), Exit::Stopped), "{report}");
        assert!(undone.ran().unwrap() < Duration::from_secs(1), "{report}");
        if env.is_virtual() {
            assert_eq!(undone.ran(), Some(Duration::ZERO));
        }
        assert!(first.stats().failures == 0 && report.is_clean(), "{report}");
    }
);

/// The `library` binary: SIGTERM → the producer stops, the final flush
/// writes what was buffered, every event produced is in the journal once,
/// in order, and the exit code is 0.
#[cfg(unix)]
mod binary {
    use std::process::Command;

    use steward_tests::process::{cargo_bin, Process};

    fn sigterm_flushes_everything_and_exits_0(runtime: &str) {
        let mut library = Process::start(
            Command::new(cargo_bin("steward-examples", "library")).args([
                "--runtime",
                runtime,
                "--every-ms",
                "1",
                "--flush-ms",
                "50",
                "--write-ms",
                "10",
            ]),
        );
        library.expect_line("ready");
        let first = library.wait_for_line("wrote ");
        library.signal("TERM");
        let exit = library.wait_exit();
        assert_eq!(exit.status.code(), Some(0), "{exit:?}");
        let wrote = |line: &str| -> u64 {
            let n = line
                .strip_prefix("wrote ")
                .and_then(|rest| rest.split(' ').next());
            n.and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("{line}"))
        };
        let batches = exit
            .stdout
            .iter()
            .filter(|l| l.starts_with("wrote "))
            .map(|l| wrote(l));
        let total = wrote(&first) + batches.sum::<u64>();
        assert!(
            exit.stdout.iter().any(|l| l.starts_with("final flush: ")),
            "{exit:?}"
        );
        let last = exit.stdout.last().expect("a last line");
        assert_eq!(
            last,
            &format!(
                "produced {total} events; the journal holds {total} in {} batches, in order",
                1 + exit
                    .stdout
                    .iter()
                    .filter(|l| l.starts_with("wrote "))
                    .count()
            ),
            "{exit:?}"
        );
        let report = exit.stderr.join("\n");
        assert!(
            report.contains("stopped after signal 15 (SIGTERM)"),
            "{report}"
        );
        assert!(report.contains("journal: stopped"), "{report}");
    }

    #[test]
    fn smol() {
        sigterm_flushes_everything_and_exits_0("smol");
    }

    #[test]
    fn tokio() {
        sigterm_flushes_everything_and_exits_0("tokio");
    }
}
