//! Health aggregation: 100 checks that each take 1 ms (a sleep on the
//! runtime's timer), run at once by `Health::refresh`, on tokio (2 workers)
//! and async-executor (2 threads, async-io timers). The bar: the report is
//! ready in about 1 ms, not 100.
//!
//! Contenders, in paired rounds (see `steward_benches::paired`), each timed
//! from inside a task:
//!
//! - steward: `Health::refresh` of the 100 checks (registered `Inline`
//!   with no cache, so every refresh runs each check once);
//! - one sleep: a single 1 ms sleep on the same timer, the floor any
//!   aggregation of 1 ms checks sits on.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use steward_benches::{paired, report, BenchRuntime, Contender, Latch, Smol, Spawner, Tokio};
use steward_core::health::{Check, Health, Refresh, Status};
use steward_core::RuntimeHandle;

const CHECKS: usize = 100;
const CHECK_TIME: Duration = Duration::from_millis(1);

/// Runs `work` as a task on `spawner` and returns how long it took.
fn timed<Fut>(spawner: &Spawner, work: Fut) -> Duration
where
    Fut: Future<Output = ()> + Send + 'static,
{
    let done = Arc::new(Latch::new(1));
    let latch = Arc::clone(&done);
    let start = Arc::new(Mutex::new(None::<Instant>));
    let started = Arc::clone(&start);
    spawner.spawn(async move {
        *started.lock().unwrap() = Some(Instant::now());
        work.await;
        latch.arrive();
    });
    let end = done.wait();
    let start = start.lock().unwrap().expect("the task ran");
    end - start
}

fn registry(rt: &RuntimeHandle) -> Health {
    let health = Health::new(rt.clone());
    for i in 0..CHECKS {
        let clock = rt.clone();
        let check = Check::new(format!("check-{i}"), move || {
            let sleep = clock.sleep(CHECK_TIME);
            async move {
                sleep.await;
                Status::Healthy
            }
        })
        .refresh(Refresh::Inline {
            cache: Duration::ZERO,
        });
        health.register(check).expect("a valid check");
    }
    health
}

fn refresh(spawner: &Spawner, health: &Health) -> Duration {
    let health = health.clone();
    timed(spawner, async move {
        let report = health.refresh().await;
        assert_eq!(report.checks().len(), CHECKS);
        assert_eq!(report.status(), Status::Healthy);
    })
}

fn one_sleep(spawner: &Spawner, rt: &RuntimeHandle) -> Duration {
    let sleep = rt.sleep(CHECK_TIME);
    timed(spawner, sleep)
}

fn bench_runtime<R: BenchRuntime>(rt: &R, filter: Option<&str>) {
    let group = format!("health/{}/{CHECKS}x1ms", R::NAME);
    if filter.is_some_and(|f| !group.contains(f)) {
        return;
    }
    let spawner = rt.spawner();
    let handle = spawner.steward();
    let health = registry(&handle);
    let (s, h, rh) = (&spawner, &health, &handle);
    let mut contenders: [Contender<'_>; 2] = [
        ("steward", Box::new(move || refresh(s, h))),
        ("one-sleep", Box::new(move || one_sleep(s, rh))),
    ];
    report(&paired(&group, 1, 300, &mut contenders));
}

fn main() {
    steward_benches::stable_heap();
    let filter = steward_benches::filter();
    let filter = filter.as_deref();
    bench_runtime(&Tokio::new(), filter);
    bench_runtime(&Smol::new(), filter);
}
