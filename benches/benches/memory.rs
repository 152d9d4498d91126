//! Memory: bytes per parked waiter and per child scope, counted by a
//! global allocator that tallies every byte requested and freed.
//!
//! A parked waiter costs its future (wherever the task stores it) plus what
//! registering allocates. Each waiter future is boxed, polled once with a
//! no-op waker (which registers it) and kept: the net heap growth over
//! `N` waiters, divided by `N`, is the future's size plus its registration,
//! including each peer's shared structures (a waker list's amortised
//! growth). The vector that keeps the boxes is allocated before counting.
//!
//! Not a criterion benchmark: the figures are exact counts, the same on
//! every run. Prints a Markdown table.

use std::future::Future;
use std::hint::black_box;
use std::pin::Pin;
use std::task::{Context, Waker};

use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use std::sync::Arc;

use async_executor::Executor;
use steward_benches::{AsyncShutdown, Raw, Signal, Steward, Stopper, Token};
use steward_core::{Shutdown, Tasks};
use steward_smol::SmolRuntime;
use steward_tokio::TokioRuntime;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

#[global_allocator]
static GLOBAL: &StatsAlloc<std::alloc::System> = &INSTRUMENTED_SYSTEM;

const N: usize = 100_000;

/// Net heap bytes that `f` leaves allocated (allocated minus freed).
fn net_heap<T>(f: impl FnOnce() -> T) -> (usize, T) {
    let ((bytes, _), out) = net_heap_allocs(f);
    (bytes, out)
}

/// Net heap bytes and net live allocations that `f` leaves (allocated minus
/// freed; a reallocation counts as neither).
fn net_heap_allocs<T>(f: impl FnOnce() -> T) -> ((usize, usize), T) {
    let region = Region::new(GLOBAL);
    let out = f();
    let change = region.change();
    (
        (
            change.bytes_allocated - change.bytes_deallocated,
            change.allocations - change.deallocations,
        ),
        out,
    )
}

/// A waiter with a child scope of its own, parked: net heap bytes and
/// allocations per waiter, the child handle and the boxed future included
/// (the vectors that keep them are allocated before counting). The shape
/// of a server with a child scope per connection.
fn child_waiter<T, C>(
    root: &T,
    child: impl Fn(&T) -> C,
    waiter: impl Fn(&C) -> Pin<Box<dyn Future<Output = ()> + Send>>,
) -> (f64, f64) {
    let mut cx = Context::from_waker(Waker::noop());
    let mut kept = Vec::with_capacity(N);
    let mut parked = Vec::with_capacity(N);
    let ((bytes, allocs), ()) = net_heap_allocs(|| {
        for _ in 0..N {
            let c = child(root);
            let mut w = waiter(&c);
            assert!(w.as_mut().poll(&mut cx).is_pending());
            kept.push(c);
            parked.push(w);
        }
    });
    drop(black_box(parked));
    drop(black_box(kept));
    (
        bytes as f64 / N as f64 + std::mem::size_of::<C>() as f64,
        allocs as f64 / N as f64,
    )
}

/// Bytes per parked waiter of signal `S`: (size of the future, heap per
/// waiter, allocations per waiter: the boxed future's and registration's).
fn waiter<S: Signal>() -> (usize, usize, f64) {
    let signal = S::new();
    let size = std::mem::size_of_val(&signal.waiter());
    let mut cx = Context::from_waker(Waker::noop());
    let mut parked: Vec<Pin<Box<dyn Future<Output = ()> + Send>>> = Vec::with_capacity(N);
    let ((bytes, allocs), ()) = net_heap_allocs(|| {
        for _ in 0..N {
            let mut waiter = Box::pin(signal.waiter());
            assert!(waiter.as_mut().poll(&mut cx).is_pending());
            parked.push(waiter);
        }
    });
    signal.trigger();
    for waiter in &mut parked {
        assert!(waiter.as_mut().poll(&mut cx).is_ready());
    }
    drop(black_box(parked));
    (size, bytes.div_ceil(N), allocs as f64 / N as f64)
}

/// Heap bytes per child scope of one root, children kept alive.
fn children<T, C>(root: T, child: impl Fn(&T) -> C) -> (usize, usize) {
    let mut kept = Vec::with_capacity(N);
    let (bytes, ()) = net_heap(|| {
        for _ in 0..N {
            kept.push(child(&root));
        }
    });
    drop(black_box(kept));
    (std::mem::size_of::<C>(), bytes.div_ceil(N))
}

/// Heap bytes per task spawned on a runtime that does not run it (so that
/// every task is still alive when counted).
fn spawned(spawn: impl Fn()) -> usize {
    let (bytes, ()) = net_heap(|| {
        for _ in 0..N {
            spawn();
        }
    });
    bytes.div_ceil(N)
}

/// Bytes per tracked task on tokio (current-thread, never driven) and on an
/// executor that no thread runs: detached, through steward's `Tasks`,
/// through tokio-util's `TaskTracker`.
fn tracked_tasks() {
    println!();
    println!("## Bytes per spawned task, alive (N = {N}, a trivial `async {{}}` task)");
    println!();
    println!("| runtime | detached | steward `Tasks::spawn` | tokio-util `TaskTracker` | steward − detached |");
    println!("|---|---:|---:|---:|---:|");
    {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let detached = spawned(|| drop(rt.spawn(async {})));
        let tasks = Tasks::new(
            TokioRuntime::new(rt.handle().clone()).handle(),
            Shutdown::new(),
        );
        let steward = spawned(|| tasks.spawn(async {}).expect("open"));
        let tracker = TaskTracker::new();
        let tokio_util = spawned(|| drop(rt.spawn(tracker.track_future(async {}))));
        println!(
            "| tokio | {detached} | {steward} | {tokio_util} | {} |",
            steward.saturating_sub(detached)
        );
    }
    {
        let ex = Arc::new(Executor::new());
        let detached = spawned(|| ex.spawn(async {}).detach());
        let tasks = Tasks::new(SmolRuntime::new(Arc::clone(&ex)).handle(), Shutdown::new());
        let steward = spawned(|| tasks.spawn(async {}).expect("open"));
        let tracker = TaskTracker::new();
        let tokio_util = spawned(|| ex.spawn(tracker.track_future(async {})).detach());
        println!(
            "| smol | {detached} | {steward} | {tokio_util} | {} |",
            steward.saturating_sub(detached)
        );
    }
}

fn main() {
    println!("## Bytes per parked waiter (N = {N})");
    println!();
    println!(
        "| signal | future (B) | registration heap (B) | total (B) | allocations at first poll | note |"
    );
    println!("|---|---:|---:|---:|---:|---|");
    let rows: [(&str, (usize, usize, f64), &str); 5] = [
        (
            Steward::NAME,
            waiter::<Steward>(),
            "`Shutdown::triggered_owned`",
        ),
        (
            Raw::NAME,
            waiter::<Raw>(),
            "`AtomicBool` + `Event`, async block",
        ),
        (
            Token::NAME,
            waiter::<Token>(),
            "`CancellationToken::cancelled_owned`",
        ),
        (
            AsyncShutdown::NAME,
            waiter::<AsyncShutdown>(),
            "`wait_shutdown_triggered`",
        ),
        (Stopper::NAME, waiter::<Stopper>(), "`Stopped`"),
    ];
    for (name, (size, heap, allocs), note) in rows {
        // `heap` includes the boxed future itself; split it back out, and
        // its box from the allocations.
        let registration = heap - size;
        let polled = allocs - 1.0;
        println!("| {name} | {size} | {registration} | {heap} | {polled:.2} | {note} |");
    }
    println!();
    println!("## Bytes and allocations per parked waiter with a child scope each (N = {N})");
    println!();
    println!("| scope | bytes (B) | allocations | note |");
    println!("|---|---:|---:|---|");
    let root = Shutdown::new();
    let (bytes, allocs) = child_waiter(&root, Shutdown::child, |c| {
        Box::pin(c.clone().triggered_owned())
    });
    println!(
        "| steward | {bytes:.0} | {:.2} | `child()` + `triggered_owned()`, polled once |",
        allocs - 1.0
    );
    let token = CancellationToken::new();
    let (bytes, allocs) = child_waiter(&token, CancellationToken::child_token, |c| {
        Box::pin(c.clone().cancelled_owned())
    });
    println!(
        "| tokio-util | {bytes:.0} | {:.2} | `child_token()` + `cancelled_owned()`, polled once |",
        allocs - 1.0
    );
    println!();
    println!("(bytes: the handle, the future and the heap they hold, the boxed future included; allocations: not counting the box.)");
    println!();
    println!("## Bytes per child scope (N = {N}, kept alive)");
    println!();
    println!("| scope | handle (B) | heap (B) | total (B) | note |");
    println!("|---|---:|---:|---:|---|");
    let (size, heap) = children(Shutdown::new(), Shutdown::child);
    println!(
        "| steward | {size} | {heap} | {} | `Shutdown::child` |",
        size + heap
    );
    let (size, heap) = children(CancellationToken::new(), CancellationToken::child_token);
    println!(
        "| tokio-util | {size} | {heap} | {} | `CancellationToken::child_token` |",
        size + heap
    );
    tracked_tasks();
}
