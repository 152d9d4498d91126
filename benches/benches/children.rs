//! Child scopes: create 100,000 children of one root, trigger the root,
//! drop the children; each phase timed on its own, steward's
//! `Shutdown::child` against tokio-util's `CancellationToken::child_token`.
//!
//! Every iteration runs all three phases on a fresh root (the handles are
//! kept in a vector allocated before the clock starts) and reports the time
//! of the phase the comparison is named after. The two contenders run in
//! paired rounds (see `steward_benches::paired`).

use std::hint::black_box;
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
}

impl Phase {
    const ALL: [Phase; 3] = [Phase::Create, Phase::Trigger, Phase::Drop];

    fn name(self) -> &'static str {
        match self {
            Phase::Create => "create",
            Phase::Trigger => "trigger",
            Phase::Drop => "drop",
        }
    }

    fn pick(self, [create, trigger, drop]: [Duration; 3]) -> Duration {
        match self {
            Phase::Create => create,
            Phase::Trigger => trigger,
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

fn steward_cycle() -> [Duration; 3] {
    cycle(Shutdown::new(), Shutdown::child, |root| {
        root.trigger(Reason::Requested);
    })
}

fn tokio_util_cycle() -> [Duration; 3] {
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
            ("steward", Box::new(move || phase.pick(steward_cycle()))),
            (
                "tokio-util",
                Box::new(move || phase.pick(tokio_util_cycle())),
            ),
        ];
        report(&paired(&group, N as u64, 60, &mut contenders));
    }
}
