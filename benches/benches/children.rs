//! Child scopes: create 100,000 children of one root, trigger the root,
//! drop the children; each phase timed on its own, steward's
//! `Shutdown::child` against tokio-util's `CancellationToken::child_token`.
//! A fourth phase, `trigger-parked`, triggers the root while every child
//! has one parked waiter (`triggered_owned` / `cancelled_owned`, boxed and
//! polled once before the clock starts): the shape of a server with a
//! child scope per connection, each connection task waiting on its scope.
//!
//! Every iteration runs all three phases on a fresh root (the handles are
//! kept in a vector allocated before the clock starts) and reports the time
//! of the phase the comparison is named after. The two contenders run in
//! paired rounds (see `steward_benches::paired`).

use std::future::Future;
use std::hint::black_box;
use std::pin::Pin;
use std::task::{Context, Waker};
use std::time::{Duration, Instant};

use steward_benches::{paired, report, Contender};
use steward_core::{Reason, Shutdown};
use tokio_util::sync::CancellationToken;

const N: usize = 100_000;

#[derive(Clone, Copy)]
enum Phase {
    Create,
    Trigger,
    Drop,
    TriggerParked,
}

impl Phase {
    const ALL: [Phase; 4] = [
        Phase::Create,
        Phase::Trigger,
        Phase::Drop,
        Phase::TriggerParked,
    ];

    fn name(self) -> &'static str {
        match self {
            Phase::Create => "create",
            Phase::Trigger => "trigger",
            Phase::Drop => "drop",
            Phase::TriggerParked => "trigger-parked",
        }
    }

    fn pick(self, [create, trigger, drop]: [Duration; 3]) -> Duration {
        match self {
            Phase::Create => create,
            Phase::Trigger | Phase::TriggerParked => trigger,
            Phase::Drop => drop,
        }
    }
}

/// One create / trigger / drop cycle of `N` children; the three phase times.
fn cycle<T, C: FnMut(&T) -> C2, C2>(
    root: T,
    mut child: C,
    trigger: impl FnOnce(&T),
) -> [Duration; 3] {
    let mut children = Vec::with_capacity(N);
    let t0 = Instant::now();
    for _ in 0..N {
        children.push(child(black_box(&root)));
    }
    let t1 = Instant::now();
    trigger(black_box(&root));
    let t2 = Instant::now();
    drop(children);
    let t3 = Instant::now();
    drop(root);
    [t1 - t0, t2 - t1, t3 - t2]
}

type Parked = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Creates `N` children of `root`, each with one parked waiter (boxed and
/// polled once with a no-op waker), then times the trigger of the root
/// alone; every waiter must then be ready.
fn parked_cycle<T, C>(
    root: T,
    child: impl Fn(&T) -> C,
    waiter: impl Fn(&C) -> Parked,
    trigger: impl FnOnce(&T),
) -> Duration {
    let mut cx = Context::from_waker(Waker::noop());
    let mut children = Vec::with_capacity(N);
    let mut waiters = Vec::with_capacity(N);
    for _ in 0..N {
        let c = child(&root);
        let mut w = waiter(&c);
        assert!(w.as_mut().poll(&mut cx).is_pending());
        children.push(c);
        waiters.push(w);
    }
    let t0 = Instant::now();
    trigger(black_box(&root));
    let elapsed = t0.elapsed();
    for w in &mut waiters {
        assert!(w.as_mut().poll(&mut cx).is_ready());
    }
    drop(waiters);
    drop(children);
    elapsed
}

fn steward_cycle(phase: Phase) -> [Duration; 3] {
    if let Phase::TriggerParked = phase {
        let trigger = parked_cycle(
            Shutdown::new(),
            Shutdown::child,
            |c| Box::pin(c.clone().triggered_owned()),
            |root| {
                root.trigger(Reason::Requested);
            },
        );
        return [Duration::ZERO, trigger, Duration::ZERO];
    }
    cycle(Shutdown::new(), Shutdown::child, |root| {
        root.trigger(Reason::Requested);
    })
}

fn tokio_util_cycle(phase: Phase) -> [Duration; 3] {
    if let Phase::TriggerParked = phase {
        let trigger = parked_cycle(
            CancellationToken::new(),
            CancellationToken::child_token,
            |c| Box::pin(c.clone().cancelled_owned()),
            CancellationToken::cancel,
        );
        return [Duration::ZERO, trigger, Duration::ZERO];
    }
    cycle(
        CancellationToken::new(),
        CancellationToken::child_token,
        CancellationToken::cancel,
    )
}

fn main() {
    steward_benches::stable_heap();
    let filter = steward_benches::filter();
    for phase in Phase::ALL {
        let group = format!("children/{}", phase.name());
        if filter.as_deref().is_some_and(|f| !group.contains(f)) {
            continue;
        }
        let mut contenders: [Contender<'_>; 2] = [
            (
                "steward",
                Box::new(move || phase.pick(steward_cycle(phase))),
            ),
            (
                "tokio-util",
                Box::new(move || phase.pick(tokio_util_cycle(phase))),
            ),
        ];
        report(&paired(&group, N as u64, 60, &mut contenders));
    }
}
