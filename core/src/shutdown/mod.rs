//! The shutdown scope: [`Shutdown`], its guards and the futures that wait on it.
//!
//! # Invariants
//!
//! Each scope (`Inner`) packs its state into one `AtomicUsize`:
//! bit 0 is *triggered* (set once, never cleared), bit 1 is *waited* (some
//! [`Drained`] waiter once listened on the scope; set once, never cleared),
//! bit 2 is *settled* (see below; set once, under the scope's lock, or with
//! the flag), bit 3 is *node* (see below; set once, under the lock), the
//! rest count *holds*: its live [`ShutdownGuard`]s plus its children whose own
//! count is non-zero. A scope is drained exactly when it is triggered and
//! holds nothing. A count going 0 → 1 takes one hold on the parent, 1 → 0
//! gives it back, so a parent is drained only once every child is. Holds
//! move up the tree in a loop, never by recursion.
//!
//! - A scope's flag is set under its `node` lock, in the same critical
//!   section that stores its own reason (if it was triggered on its own) and
//!   collects the children and the waiters' wakers; or, for a scope that
//!   inherits its parent's reason and never had a child nor a parked waiter,
//!   by one compare-and-swap without the lock from a state without the
//!   *node* bit. Whoever stores a child or a waker in a scope first sets that
//!   bit under the scope's lock (a load, and a `fetch_or` only when the load
//!   does not show it) and then reads the flag: the two read-modify-writes
//!   are ordered, so either the swap came first and the reader sees the flag,
//!   or the swap fails and the trigger takes the lock, after the reader's
//!   critical section. Once the bit is set the flag changes only under the
//!   lock, so a flag read under the lock after setting the bit is final.
//! - A triggered scope without a reason of its own inherited its parent's
//!   (the parent's walk triggered it, or it was created under a triggered
//!   parent), and its parent was triggered before it: its reason and the
//!   trigger's instant are read up the chain of parents, one lock at a
//!   time, to the nearest scope triggered on its own (a root always is). A
//!   scope's own reason is stored only by the call whose write set the flag,
//!   so the first trigger to reach a scope gives it its reason.
//! - A scope keeps its own list of the wakers of its parked
//!   [`Triggered`]/[`TriggeredOwned`] futures, under its `node` lock: the
//!   first inline in the `Node` (a scope with one waiter allocates nothing
//!   for it), the others in a slab in the `Lists`. A waiter that does not
//!   see the flag with its (lock-free) load takes the lock, checks the flag
//!   again and stores or updates its waker there; the trigger sets the flag
//!   and takes every waker out in one critical section, and wakes them once
//!   the lock is released. So a waiter either sees the flag under the lock
//!   or has its waker taken by the trigger: no lost wake-up. Nobody
//!   registers once the flag is set, so a waiter that finds the flag set
//!   (at its drop, say) has no entry left to remove, and takes no lock. A
//!   waiter's future holds its key into the list (16 bytes with the
//!   handle); a re-poll replaces the stored waker only when it would not
//!   wake the same task; a dropped waiter removes its entry. A waker is
//!   never woken nor dropped under the lock (dropping one may drop a task).
//! - No lost wake-up of a [`Drained`] waiter, and no event notified that
//!   nobody listens to (event-listener allocates an event's shared state on
//!   its first `notify`, which made triggering a wide tree allocate twice a
//!   scope). A drained waiter checks its condition, makes sure the *waited*
//!   bit is set (a load, and a `fetch_or` only when the load does not show
//!   it), listens, and checks again. A notifier (the trigger's `fetch_or`,
//!   the last release's `fetch_sub`) makes the condition true with one
//!   read-modify-write and notifies only when the state it replaced had the
//!   bit. Read-modify-writes of one atomic are totally ordered, each reading
//!   the one before it, so for a waiter and a notifier:
//!   - the bit was set (by this waiter or an earlier one) before the
//!     notifier's write: the notifier sees it and notifies after its write,
//!     and event-listener guarantees that a listener registered before that
//!     `notify` is woken, and that a check made after `listen()` when the
//!     `notify` came first sees the write that preceded it;
//!   - the bit was set after the notifier's write: then the waiter read
//!     (with its `fetch_or`, or its load that saw the bit) a value later
//!     than that write, and by coherence its second check, later in its
//!     program, reads that write or a later value, and sees the condition.
//! - A child registers with its parent under the parent's `node` lock
//!   (setting its *node* bit) and reads the parent's flag there; a trigger
//!   of a scope with children sets the flag and collects the children under
//!   that lock. Either the trigger sees the new child or the child sees the
//!   flag (and triggers itself, inheriting the reason, before `child()`
//!   returns).
//! - A trigger walks the subtree with an explicit stack, in pre-order to
//!   trigger and in post-order to mark each scope *settled*: that scope and
//!   every descendant it had are triggered. The walk enters every scope that
//!   is not settled, even one another trigger reached first, so when
//!   `trigger` returns (won or lost) the whole subtree reads triggered, even
//!   while an overlapping trigger is still running. Settled scopes are
//!   skipped, so repeated triggers do not walk a tree again. Each scope keeps
//!   the first reason to reach it: its own trigger's, or its parent's
//!   (inherited: the walk carries no reason down).
//! - [`Shutdown::try_guard`] checks and takes its hold with one
//!   compare-and-swap on the state, so it is ordered with the last release
//!   and the trigger's `fetch_or`: it either holds a scope that is not yet
//!   drained or sees the drain. Above the scope it takes holds as `guard`
//!   does.
//! - Dropping a deep chain unlinks it in a loop (`Inner::drop`), never by
//!   recursion; a scope's child and guard lists give their memory back
//!   once empty.
//! - A scope pays for children and guards only once it has some: their
//!   lists live in a `Lists` allocated on first use, so a leaf scope (a
//!   task's, a request's) is its `Arc<Inner>` and 8 bytes in its parent.
//!
//! # Caveats
//!
//! A guard taken on a child at the moment the child's last hold is released
//! is counted on the parent a moment after the release is: the parent may
//! read drained in between, as if the new guard had been taken just after
//! the drain. A guard whose `guard()` call has returned always holds its
//! ancestors.
//!
//! # Lock order
//!
//! One lock a scope (`node`). Two scopes' locks are never held at once, nor
//! any lock while notifying, waking or dropping a waker or an `Inner`.

mod drop_guard;
mod future;
mod guard;
mod guarded;
mod holders;
mod reason;
mod state;

use std::fmt;
use std::hash::{Hash, Hasher};
use std::panic::Location;
use std::sync::{Arc, Weak};
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use event_listener::Event;
use slab::Slab;

use crate::sync::{lock, AtomicUsize, Mutex, Ordering};

pub use drop_guard::{DropGuard, DropGuardRef, WrapTrigger};
pub use future::{
    Drained, RunUntilTriggered, RunUntilTriggeredOwned, Triggered, TriggeredOwned, TriggeredReason,
    UntilTriggered,
};
pub use guard::ShutdownGuard;
pub use guarded::Guarded;
pub use holders::{HolderGroup, Holders};
pub use reason::Reason;
pub use state::{ScopeState, ShutdownError};

const TRIGGERED: usize = 1;
/// Set before the first drained waiter listens; see the module's invariants.
const WAITED: usize = 2;
/// A trigger's walk has triggered this scope and every descendant it had;
/// read and set only under the scope's `node` lock (a bit of `state` so
/// that the `Node` stays four words).
const SETTLED: usize = 4;
/// The scope has (or had) a child or a parked waiter in its `node`: its
/// flag is then set only under its lock. Set under the lock, before the
/// child or the waker is stored; never cleared. See the module's invariants.
const NODE: usize = 8;
const HOLD: usize = 16;

/// A cloneable handle to one shutdown scope.
///
/// A scope is *triggered* once (with a [`Reason`]; the first wins) and then
/// stays triggered. Work that must finish before the program exits takes a
/// [`ShutdownGuard`]; the scope is *drained* once it is triggered and no
/// guard of it or of any of its children is left. [`Shutdown::child`] makes a
/// scope that is triggered with its parent, or alone.
///
/// All clones share the scope; handles compare (`==`, [`Hash`]) by the
/// scope they share, as [`Shutdown::ptr_eq`].
/// Checking ([`is_triggered`](Shutdown::is_triggered)) is one atomic load.
///
/// # Examples
///
/// ```
/// use steward_core::{Reason, Shutdown};
/// # futures_lite::future::block_on(async {
/// let shutdown = Shutdown::new();
///
/// let worker = shutdown.clone();
/// let guard = shutdown.guard(); // keeps the scope from draining
/// let handle = std::thread::spawn(move || {
///     worker.wait_blocking(); // waits for the trigger
///     drop(guard); // done: lets the scope drain
/// });
///
/// shutdown.trigger(Reason::Requested);
/// shutdown.drained().await;
/// handle.join().unwrap();
/// # });
/// ```
#[derive(Clone)]
pub struct Shutdown {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    /// `TRIGGERED`, `WAITED` and `SETTLED` bits and a `HOLD`-sized count, see the
    /// module's invariants.
    state: AtomicUsize,
    /// Notified (all) whenever the scope may have become drained, if
    /// `WAITED` was set. The trigger's waiters are in the `node`.
    drained: Event,
    /// The reason (the flag is set under this lock, with it), the wakers
    /// of the trigger's parked waiters, the children and the places where
    /// live guards were taken.
    node: Mutex<Node>,
    /// The parent scope, holding it alive while this child lives.
    parent: Option<Arc<Inner>>,
    /// This scope's key in its parent's `children`.
    key: usize,
}

#[derive(Default)]
struct Node {
    /// The scope's own trigger, when it was the first to reach the scope;
    /// `None` while it is not triggered, or when it inherited its parent's
    /// (it was triggered by its parent's walk or created triggered).
    reason: Option<Arc<Fired>>,
    /// Children, guards and parked waiters after the first, allocated when
    /// the first of any comes.
    lists: Option<Box<Lists>>,
    /// The waker of the first parked waiter (key `INLINE`), inline: a scope
    /// with one waiter allocates nothing for it.
    waker: Option<Waker>,
}

#[derive(Default)]
struct Lists {
    children: Children,
    holders: Slab<Holder>,
    /// The wakers of the other parked waiters (key `SLAB + index`).
    wakers: Slab<Waker>,
}

/// A waiter's key: not registered.
const UNREGISTERED: usize = 0;
/// A waiter's key: the `Node`'s inline waker.
const INLINE: usize = 1;
/// A waiter's key: this plus its index in `Lists::wakers`.
const SLAB: usize = 2;

/// One live guard: where it was taken, and when if that was after the
/// trigger (the clock is read only then, off the hot path).
#[derive(Clone, Copy)]
struct Holder {
    location: &'static Location<'static>,
    after_trigger: Option<Instant>,
}

impl Holder {
    /// How long the guard has held up the drain: since the trigger (`at`),
    /// or since it was taken if that came later. `None` before the trigger
    /// (or when neither instant was read, see `holders_report`).
    fn held(&self, at: Option<Instant>, now: Instant) -> Option<Duration> {
        let since = self.after_trigger.or(at)?;
        Some(now.saturating_duration_since(since))
    }
}

/// One trigger: its reason and, if a guard held the triggered scope then,
/// when it came; shared by every scope it reached.
struct Fired {
    reason: Reason,
    at: Option<Instant>,
}

/// The children of a scope, 8 bytes a child (a slab entry takes 16).
#[derive(Default)]
struct Children {
    slots: Vec<Option<Weak<Inner>>>,
    /// Keys of empty slots, reused first.
    free: Vec<usize>,
    /// Occupied slots.
    len: usize,
}

impl Children {
    /// The key the next `insert` stores its child under.
    fn next_key(&self) -> usize {
        self.free.last().copied().unwrap_or(self.slots.len())
    }

    fn insert(&mut self, child: Weak<Inner>) {
        match self.free.pop() {
            Some(key) => self.slots[key] = Some(child),
            None => self.slots.push(Some(child)),
        }
        self.len += 1;
    }

    fn remove(&mut self, key: usize) {
        if let Some(slot) = self.slots.get_mut(key) {
            if slot.take().is_some() {
                self.free.push(key);
                self.len -= 1;
            }
        }
    }

    /// The children still alive.
    fn live(&self) -> impl Iterator<Item = Arc<Inner>> + '_ {
        self.slots
            .iter()
            .filter_map(|slot| slot.as_ref()?.upgrade())
    }
}

/// Lists with up to this many slots keep their memory when they empty.
const SLAB_KEEP: usize = 64;

impl Node {
    /// The lists, allocated on first use.
    fn lists(&mut self) -> &mut Lists {
        self.lists.get_or_insert_with(Box::default)
    }

    /// Removes a child, giving back the memory of a list that empties: a
    /// list never shrinks by itself, so a scope that once had 100,000
    /// children would otherwise keep their room.
    fn remove_child(&mut self, key: usize) {
        if let Some(lists) = &mut self.lists {
            let children = &mut lists.children;
            children.remove(key);
            if children.len == 0 && children.slots.capacity() > SLAB_KEEP {
                *children = Children::default();
            }
        }
    }

    /// Removes a guard's entry, as `remove_child` a child, and returns it.
    fn remove_holder(&mut self, key: usize) -> Option<Holder> {
        let lists = self.lists.as_mut()?;
        let holders = &mut lists.holders;
        let holder = holders.try_remove(key);
        if holders.is_empty() && holders.capacity() > SLAB_KEEP {
            *holders = Slab::new();
        }
        holder
    }
}

impl Node {
    /// Stores `waker` for the waiter whose key is `key` (registering it if
    /// it has no entry), and returns the waker it replaces, to be dropped
    /// once the lock is released. An entry keeps its waker when `waker`
    /// would wake the same task.
    fn register(&mut self, key: &mut usize, waker: &Waker) -> Option<Waker> {
        let slot = match *key {
            UNREGISTERED => None,
            INLINE => self.waker.as_mut(),
            k => self
                .lists
                .as_mut()
                .and_then(|lists| lists.wakers.get_mut(k - SLAB)),
        };
        if let Some(slot) = slot {
            if slot.will_wake(waker) {
                return None;
            }
            return Some(std::mem::replace(slot, waker.clone()));
        }
        if self.waker.is_none() {
            self.waker = Some(waker.clone());
            *key = INLINE;
        } else {
            *key = SLAB + self.lists().wakers.insert(waker.clone());
        }
        None
    }

    /// Removes the entry of a waiter (its key set back to unregistered),
    /// returning its waker to be dropped once the lock is released; a list
    /// that empties gives its memory back.
    fn unregister(&mut self, key: &mut usize) -> Option<Waker> {
        match std::mem::replace(key, UNREGISTERED) {
            UNREGISTERED => None,
            INLINE => self.waker.take(),
            k => {
                let wakers = &mut self.lists.as_mut()?.wakers;
                let waker = wakers.try_remove(k - SLAB);
                if wakers.is_empty() && wakers.capacity() > SLAB_KEEP {
                    *wakers = Slab::new();
                }
                waker
            }
        }
    }
}

/// The wakers a trigger took out of a scope, woken after its lock is released.
struct Wakers {
    first: Option<Waker>,
    rest: Slab<Waker>,
}

impl Wakers {
    /// Takes every parked waiter's waker out of a scope's `waker` and
    /// `lists`, to be woken once the lock is released (the trigger's
    /// critical section).
    fn take(waker: &mut Option<Waker>, lists: &mut Option<Box<Lists>>) -> Wakers {
        Wakers {
            first: waker.take(),
            rest: lists
                .as_mut()
                .map(|lists| std::mem::take(&mut lists.wakers))
                .unwrap_or_default(),
        }
    }

    fn wake(self) {
        if let Some(waker) = self.first {
            waker.wake();
        }
        for (_, waker) in self.rest {
            waker.wake();
        }
    }
}

/// One step of a trigger's walk.
enum Step {
    /// Trigger this scope (inheriting its parent's reason, unless it has a
    /// reason) and push its children.
    Enter(Arc<Inner>),
    /// Every descendant of this scope has been entered: mark it settled.
    Leave(Arc<Inner>),
}

impl Shutdown {
    /// Creates a new, untriggered root scope.
    ///
    /// # Examples
    ///
    /// ```
    /// let shutdown = steward_core::Shutdown::new();
    /// assert!(!shutdown.is_triggered());
    /// ```
    #[must_use]
    pub fn new() -> Self {
        Self {
            inner: Arc::new(Inner::new(None, 0)),
        }
    }

    /// Triggers the scope and all its descendants with `reason`.
    ///
    /// Returns `true` when this call triggered the scope, `false` when it was
    /// triggered already (the first reason is kept). Either way, when it
    /// returns, the scope and every descendant read triggered, even while
    /// another trigger of the same tree is still running. Never blocks on a
    /// waiter: it sets flags and notifies. A tree of any depth or width is
    /// triggered with an explicit stack, not by recursion, and a tree already
    /// triggered is not walked again.
    ///
    /// # Examples
    ///
    /// ```
    /// use steward_core::{Reason, Shutdown};
    ///
    /// let shutdown = Shutdown::new();
    /// assert!(shutdown.trigger(Reason::Signal(15)));
    /// assert!(!shutdown.trigger(Reason::Requested));
    /// assert_eq!(shutdown.reason(), Some(Reason::Signal(15)));
    /// ```
    pub fn trigger(&self, reason: Reason) -> bool {
        // The clock is read only when a guard holds the scope (or a
        // descendant): its holders' report measures from this instant.
        // Relaxed: a hint; a guard taken meanwhile has no time (see
        // `holders_report`).
        let held = self.inner.state.load(Ordering::Relaxed) / HOLD != 0;
        self.inner.trigger_tree(Some(Arc::new(Fired {
            reason,
            at: held.then(Instant::now),
        })))
    }

    /// Whether the scope has been triggered: one atomic load.
    ///
    /// # Examples
    ///
    /// ```
    /// let shutdown = steward_core::Shutdown::new();
    /// shutdown.trigger(steward_core::Reason::Requested);
    /// assert!(shutdown.is_triggered());
    /// ```
    #[must_use]
    #[inline]
    pub fn is_triggered(&self) -> bool {
        self.inner.is_triggered()
    }

    /// Why the scope was triggered, or `None` while it is not.
    ///
    /// # Examples
    ///
    /// ```
    /// use steward_core::{Reason, Shutdown};
    ///
    /// let shutdown = Shutdown::new();
    /// assert_eq!(shutdown.reason(), None);
    /// shutdown.trigger(Reason::Fatal("disk full".into()));
    /// assert_eq!(shutdown.reason(), Some(Reason::Fatal("disk full".into())));
    /// ```
    #[must_use]
    pub fn reason(&self) -> Option<Reason> {
        if !self.is_triggered() {
            return None;
        }
        self.inner.fired(|fired| fired.reason.clone())
    }

    /// Creates a child scope.
    ///
    /// The child is triggered when this scope is (at once, if this scope is
    /// triggered already), or on its own without touching this scope. This
    /// scope is not drained while any guard of the child lives. Dropping every
    /// handle and guard of a child detaches it.
    ///
    /// # Examples
    ///
    /// ```
    /// use steward_core::{Reason, Shutdown};
    ///
    /// let root = Shutdown::new();
    /// let child = root.child();
    /// child.trigger(Reason::Requested);
    /// assert!(!root.is_triggered());
    ///
    /// let other = root.child();
    /// root.trigger(Reason::Signal(2));
    /// assert_eq!(other.reason(), Some(Reason::Signal(2)));
    /// assert!(root.child().is_triggered());
    /// ```
    #[must_use]
    pub fn child(&self) -> Shutdown {
        let parent = &self.inner;
        let (child, triggered) = {
            let mut node = lock(&parent.node);
            // Read under the lock, after `NODE` is set: final (see the
            // module's invariants).
            let triggered = parent.mark_node() & TRIGGERED != 0;
            let children = &mut node.lists().children;
            let child = Arc::new(Inner::new(Some(Arc::clone(parent)), children.next_key()));
            children.insert(Arc::downgrade(&child));
            (child, triggered)
        };
        // The parent's lock is released before the child is triggered (see
        // the lock order); it inherits the parent's reason.
        if triggered {
            child.trigger_tree(None);
        }
        Shutdown { inner: child }
    }

    /// Takes a guard: the scope (and its ancestors) will not be drained while it lives.
    ///
    /// Taking a guard is an atomic increment plus recording where it was
    /// taken (see [`Shutdown::holders`]), and, only once the scope is
    /// triggered, when (see [`Shutdown::holders_report`]). A guard taken
    /// after the scope drained makes it undrained again until it is dropped,
    /// but does not call back a [`Drained`] that already completed; to
    /// refuse instead, [`Shutdown::try_guard`].
    ///
    /// # Examples
    ///
    /// ```
    /// use steward_core::{Reason, Shutdown};
    /// # futures_lite::future::block_on(async {
    /// let shutdown = Shutdown::new();
    /// let guard = shutdown.guard();
    /// shutdown.trigger(Reason::Requested);
    /// assert!(!shutdown.is_drained());
    /// drop(guard);
    /// shutdown.drained().await;
    /// # });
    /// ```
    #[track_caller]
    pub fn guard(&self) -> ShutdownGuard {
        ShutdownGuard::new(Arc::clone(&self.inner), Location::caller())
    }

    /// Whether the scope is triggered and no guard of it or its children lives.
    ///
    /// # Examples
    ///
    /// ```
    /// let shutdown = steward_core::Shutdown::new();
    /// assert!(!shutdown.is_drained());
    /// shutdown.trigger(steward_core::Reason::Requested);
    /// assert!(shutdown.is_drained());
    /// ```
    #[must_use]
    pub fn is_drained(&self) -> bool {
        self.inner.is_drained()
    }

    /// Where the guards that still hold this scope or any of its children open
    /// were taken: the answer to "what is my shutdown waiting for?".
    ///
    /// # Examples
    ///
    /// ```
    /// let shutdown = steward_core::Shutdown::new();
    /// let _guard = shutdown.child().guard();
    /// let holders = shutdown.holders();
    /// assert_eq!(holders.len(), 1);
    /// assert_eq!(holders[0].file(), file!());
    /// ```
    #[must_use]
    pub fn holders(&self) -> Vec<&'static Location<'static>> {
        let mut out = Vec::new();
        self.inner
            .for_each_holder(|holder, _| out.push(holder.location));
        out
    }

    /// How many guards of this scope and its descendants live.
    ///
    /// Unlike `holders().len()` it allocates nothing for a scope without
    /// children (a stack of the scopes still to visit otherwise). For a
    /// yes-or-no answer, [`Shutdown::state`] is one atomic load.
    ///
    /// # Examples
    ///
    /// ```
    /// let shutdown = steward_core::Shutdown::new();
    /// let child = shutdown.child();
    /// let _guards = (shutdown.guard(), child.guard(), child.guard());
    /// assert_eq!(shutdown.guard_count(), 3);
    /// assert_eq!(child.guard_count(), 2);
    /// ```
    #[must_use]
    pub fn guard_count(&self) -> usize {
        let mut count = 0;
        self.inner.for_each_holder(|_, _| count += 1);
        count
    }

    /// Takes a guard unless the scope has drained.
    ///
    /// Like [`Shutdown::guard`] before the scope is drained (triggered or
    /// not); once it is triggered and no guard of it or its children lives,
    /// it refuses instead of making the scope undrained again: the
    /// admission check of a server that must not start work after its
    /// drain. The check and the hold are one atomic step, so a `try_guard`
    /// racing the last guard's drop either holds the scope open or fails.
    ///
    /// # Errors
    ///
    /// [`ShutdownError::Drained`] once the scope is drained.
    ///
    /// # Caveats
    ///
    /// The check is on this scope. While a trigger is still walking down
    /// the tree, an ancestor may read drained before this scope reads
    /// triggered; a guard taken on this scope then holds the ancestor again,
    /// as [`Shutdown::guard`] would. Call `try_guard` on the scope whose
    /// drain you wait for.
    ///
    /// # Examples
    ///
    /// ```
    /// use steward_core::{Reason, Shutdown, ShutdownError};
    ///
    /// let shutdown = Shutdown::new();
    /// let guard = shutdown.try_guard().unwrap(); // running: granted
    /// shutdown.trigger(Reason::Requested);
    /// let late = shutdown.try_guard().unwrap(); // draining: granted
    /// drop((guard, late));
    /// assert!(shutdown.is_drained());
    /// assert_eq!(shutdown.try_guard().unwrap_err(), ShutdownError::Drained);
    /// ```
    #[track_caller]
    pub fn try_guard(&self) -> Result<ShutdownGuard, ShutdownError> {
        match self.inner.try_acquire() {
            Some(triggered) => Ok(ShutdownGuard::held(
                Arc::clone(&self.inner),
                Location::caller(),
                triggered,
            )),
            None => Err(ShutdownError::Drained),
        }
    }

    /// Where the scope is in its life: running, draining or drained. One atomic load.
    ///
    /// # Examples
    ///
    /// ```
    /// use steward_core::{Reason, ScopeState, Shutdown};
    ///
    /// let shutdown = Shutdown::new();
    /// assert_eq!(shutdown.state(), ScopeState::Running);
    /// let guard = shutdown.guard();
    /// shutdown.trigger(Reason::Requested);
    /// assert_eq!(shutdown.state(), ScopeState::Draining);
    /// drop(guard);
    /// assert_eq!(shutdown.state(), ScopeState::Drained);
    /// ```
    #[must_use]
    pub fn state(&self) -> ScopeState {
        // Acquire: as `is_drained`, whoever reads drained sees the writes
        // the guard holders made.
        let state = self.inner.state.load(Ordering::Acquire);
        if state & TRIGGERED == 0 {
            ScopeState::Running
        } else if state / HOLD != 0 {
            ScopeState::Draining
        } else {
            ScopeState::Drained
        }
    }

    /// Whether two handles refer to the same scope.
    ///
    /// # Examples
    ///
    /// ```
    /// let a = steward_core::Shutdown::new();
    /// assert!(a.ptr_eq(&a.clone()));
    /// assert!(!a.ptr_eq(&a.child()));
    /// ```
    #[must_use]
    pub fn ptr_eq(&self, other: &Shutdown) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// Blocks the current thread until the scope is triggered.
    ///
    /// For threads outside any runtime; never call it on an async executor's
    /// thread.
    ///
    /// # Examples
    ///
    /// ```
    /// let shutdown = steward_core::Shutdown::new();
    /// let s = shutdown.clone();
    /// std::thread::spawn(move || s.trigger(steward_core::Reason::Requested));
    /// shutdown.wait_blocking();
    /// ```
    pub fn wait_blocking(&self) {
        futures_lite::future::block_on(self.triggered());
    }

    /// Blocks the current thread until the scope is drained.
    ///
    /// # Examples
    ///
    /// ```
    /// let shutdown = steward_core::Shutdown::new();
    /// shutdown.trigger(steward_core::Reason::Requested);
    /// shutdown.drained_blocking();
    /// ```
    pub fn drained_blocking(&self) {
        futures_lite::future::block_on(self.drained());
    }
}

impl Default for Shutdown {
    fn default() -> Self {
        Self::new()
    }
}

/// Handles are equal when they share a scope, as [`Shutdown::ptr_eq`]:
/// a scope can key a map or a set.
///
/// Clippy's `mutable_key_type` lint flags such a map, because a scope has
/// interior state; the hash and the equality are the scope's address, which
/// that state never changes, so the lint may be allowed there.
///
/// # Examples
///
/// ```
/// use std::collections::HashSet;
/// let a = steward_core::Shutdown::new();
/// let set: HashSet<_> = [a.clone(), a.clone(), a.child()].into_iter().collect();
/// assert_eq!(set.len(), 2);
/// assert!(a == a.clone() && a != a.child());
/// ```
impl PartialEq for Shutdown {
    fn eq(&self, other: &Self) -> bool {
        self.ptr_eq(other)
    }
}

impl Eq for Shutdown {}

impl Hash for Shutdown {
    fn hash<H: Hasher>(&self, state: &mut H) {
        Arc::as_ptr(&self.inner).hash(state);
    }
}

impl fmt::Debug for Shutdown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Relaxed: a snapshot for display, ordering nothing.
        let state = self.inner.state.load(Ordering::Relaxed);
        f.debug_struct("Shutdown")
            .field("triggered", &(state & TRIGGERED != 0))
            .field("holds", &(state / HOLD))
            .finish_non_exhaustive()
    }
}

impl Inner {
    fn new(parent: Option<Arc<Inner>>, key: usize) -> Self {
        Self {
            state: AtomicUsize::new(0),
            drained: Event::new(),
            node: Mutex::new(Node::default()),
            parent,
            key,
        }
    }

    #[inline]
    pub(crate) fn is_triggered(&self) -> bool {
        // Acquire: pairs with the Release `fetch_or` in `enter`, so a caller
        // who sees the flag sees what the triggering thread wrote before it.
        self.state.load(Ordering::Acquire) & TRIGGERED != 0
    }

    pub(crate) fn is_drained(&self) -> bool {
        // Acquire: pairs with the AcqRel `fetch_sub` in `release`, so whoever
        // sees the scope drained sees every write the guard holders made.
        let state = self.state.load(Ordering::Acquire);
        state & TRIGGERED != 0 && state / HOLD == 0
    }

    /// Calls `f` on every live guard of this scope and its descendants, with
    /// when its scope was triggered, one scope's lock at a time (a stack,
    /// allocated only for children).
    ///
    /// A scope that inherited its reason reports its parent's instant as the
    /// walk read it there: a child triggered after the walk read its untriggered
    /// parent reports none, as a scope read before its trigger.
    fn for_each_holder(self: &Arc<Self>, mut f: impl FnMut(&Holder, Option<Instant>)) {
        let mut stack = Vec::new();
        // The instant this scope inherits if it inherited its reason.
        let mut inherited = match &self.parent {
            Some(parent) if self.is_triggered() => parent.fired(|fired| fired.at).flatten(),
            _ => None,
        };
        let mut scope = Arc::clone(self);
        loop {
            let node = lock(&scope.node);
            if let Some(lists) = &node.lists {
                let at = match &node.reason {
                    Some(fired) => fired.at,
                    None if scope.is_triggered() => inherited,
                    None => None,
                };
                lists.holders.iter().for_each(|(_, holder)| f(holder, at));
                stack.extend(lists.children.live().map(|child| (child, at)));
            }
            drop(node);
            match stack.pop() {
                Some((next, at)) => (scope, inherited) = (next, at),
                None => return,
            }
        }
    }

    /// Calls `f` on the trigger whose reason this scope has: its own, or the
    /// one it inherited from the nearest ancestor triggered on its own. One
    /// lock at a time, up the chain of parents. Call it on a triggered scope;
    /// `None` only on a scope that is not.
    fn fired<R>(&self, f: impl FnOnce(&Fired) -> R) -> Option<R> {
        let mut scope = self;
        loop {
            if let Some(fired) = lock(&scope.node).reason.as_deref() {
                return Some(f(fired));
            }
            // A scope without a reason of its own that is triggered has a
            // parent, triggered before it (see the module's invariants).
            scope = scope.parent.as_deref()?;
        }
    }

    /// When the trigger whose reason this scope has came, if a guard held
    /// it then: `own` is the scope's own trigger's (`Some`, read under its
    /// lock), else its parent's is read, if the scope is triggered. Call it
    /// without the lock.
    pub(crate) fn trigger_at(&self, own: Option<Option<Instant>>) -> Option<Instant> {
        match own {
            Some(at) => at,
            None if self.is_triggered() => self.parent.as_ref()?.fired(|fired| fired.at)?,
            None => None,
        }
    }

    /// Sets `NODE` unless a load shows it set, and returns the state as read
    /// after: call under the `node` lock, before storing a child or a waker.
    /// The returned flag is final while the lock is held.
    fn mark_node(&self) -> usize {
        // Acquire: a flag set by a lock-free trigger (`enter`'s Release
        // exchange) read here publishes what the triggering thread wrote. Once
        // `NODE` is set nobody sets the flag without the lock (see the
        // module's invariants).
        let state = self.state.load(Ordering::Acquire);
        if state & NODE != 0 {
            return state;
        }
        self.state.fetch_or(NODE, Ordering::Acquire) | NODE
    }

    /// Takes one hold as [`Inner::acquire`] does, unless this scope is
    /// triggered and holds nothing (drained): one compare-and-swap, so the
    /// check and the hold cannot be split by a release or a trigger.
    /// `None` when refused, else whether the scope read triggered.
    fn try_acquire(&self) -> Option<bool> {
        // Acquire (the load and a failed exchange): a caller refused because
        // the scope drained sees what the guard holders wrote, as one that
        // reads `is_drained`. Relaxed on success: taking a hold publishes
        // nothing, as in `acquire`.
        let mut state = self.state.load(Ordering::Acquire);
        loop {
            if state & TRIGGERED != 0 && state / HOLD == 0 {
                return None;
            }
            match self.state.compare_exchange_weak(
                state,
                state + HOLD,
                Ordering::Relaxed,
                Ordering::Acquire,
            ) {
                Ok(_) => break,
                Err(now) => state = now,
            }
        }
        if state / HOLD == 0 {
            if let Some(parent) = &self.parent {
                parent.acquire_up();
            }
        }
        Some(state & TRIGGERED != 0)
    }

    /// Polls for the trigger on behalf of the waiter whose key is `key`:
    /// ready once the flag is set; else stores (or updates) `waker` in the
    /// scope's waiter list, under the lock the flag is set under (see the
    /// module's invariants).
    pub(crate) fn poll_triggered(&self, key: &mut usize, waker: &Waker) -> Poll<()> {
        if self.is_triggered() {
            // The trigger took the entry, if any, with the flag.
            *key = UNREGISTERED;
            return Poll::Ready(());
        }
        let mut node = lock(&self.node);
        // Read under the lock once `NODE` is set: it is final.
        if self.mark_node() & TRIGGERED != 0 {
            drop(node);
            *key = UNREGISTERED;
            return Poll::Ready(());
        }
        let replaced = node.register(key, waker);
        drop(node);
        drop(replaced);
        Poll::Pending
    }

    /// Removes the entry of a waiter being dropped, unless it has none or
    /// the scope is triggered (the trigger took every entry).
    pub(crate) fn unregister(&self, key: &mut usize) {
        if *key == UNREGISTERED || self.is_triggered() {
            return;
        }
        let mut node = lock(&self.node);
        let removed = if self.is_triggered() {
            None
        } else {
            node.unregister(key)
        };
        drop(node);
        drop(removed);
    }

    /// Sets the `WAITED` bit unless a load shows it set already: called by
    /// every drained waiter before it listens, see the module's invariants.
    pub(crate) fn mark_waited(&self) {
        // Relaxed (both): the no-lost-wake-up argument uses only this one
        // word's modification order and coherence, no other memory; the
        // waiter's own Acquire check after `listen()` orders what it reads
        // next. A load that shows the bit read a value at least as late as
        // the `fetch_or` that set it, which is all the argument needs.
        if self.state.load(Ordering::Relaxed) & WAITED == 0 {
            self.state.fetch_or(WAITED, Ordering::Relaxed);
        }
    }

    /// Whether a trigger's walk settled this scope; call under its `node` lock.
    fn is_settled(&self) -> bool {
        // Relaxed: set and read under the lock, which orders them.
        self.state.load(Ordering::Relaxed) & SETTLED != 0
    }

    /// Marks the scope settled; call under its `node` lock.
    fn settle(&self) {
        // Relaxed: as `is_settled`.
        self.state.fetch_or(SETTLED, Ordering::Relaxed);
    }

    /// Triggers this scope and every descendant, without recursion.
    ///
    /// Returns whether this call triggered this scope. Whatever it returns,
    /// this scope and every descendant are triggered when it does.
    /// `reason` is `None` for a scope that inherits its parent's (its
    /// parent is triggered).
    fn trigger_tree(self: &Arc<Self>, reason: Option<Arc<Fired>>) -> bool {
        let mut stack = Vec::new();
        let won = self.enter(reason, &mut stack);
        while let Some(step) = stack.pop() {
            match step {
                Step::Enter(scope) => {
                    scope.enter(None, &mut stack);
                }
                Step::Leave(scope) => {
                    let node = lock(&scope.node);
                    scope.settle();
                    drop(node);
                }
            }
        }
        won
    }

    /// Triggers this one scope unless it is triggered already, with
    /// `reason` (`None`: it inherits its parent's), and pushes its children
    /// below a step that marks it settled, unless it is settled already: one
    /// critical section, or one exchange without the lock for an inheriting
    /// scope that never had a child or a waiter. Returns whether this call
    /// triggered the scope.
    fn enter(self: &Arc<Self>, reason: Option<Arc<Fired>>, stack: &mut Vec<Step>) -> bool {
        if reason.is_none() {
            // Relaxed (the load and a failed exchange): a `NODE` read here
            // was set under the lock taken below, before its holder stored
            // anything, so that lock is ordered after the holder's critical
            // section (reading a value written later in the lock's order
            // would break coherence). Release on success: as the `fetch_or`
            // below.
            let mut state = self.state.load(Ordering::Relaxed);
            while state & NODE == 0 {
                if state & TRIGGERED != 0 {
                    // Triggered, and nothing below it: nothing to do.
                    return false;
                }
                match self.state.compare_exchange_weak(
                    state,
                    state | TRIGGERED | SETTLED,
                    Ordering::Release,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        if state & WAITED != 0 && state / HOLD == 0 {
                            self.drained.notify(usize::MAX);
                        }
                        return true;
                    }
                    Err(now) => state = now,
                }
            }
        }
        let (prev, wakers) = {
            let mut node = lock(&self.node);
            let node = &mut *node;
            let leaf = node
                .lists
                .as_deref()
                .is_none_or(|lists| lists.children.len == 0);
            // Release: pairs with the Acquire loads of the flag, so whoever
            // sees the scope triggered sees what the triggering thread wrote
            // before `trigger`. Waiters cannot miss the flag: see the module's
            // invariants. A leaf is settled by the same write (we hold its
            // lock). Set unconditionally: without `NODE` a lock-free trigger
            // may set the flag meanwhile, and the previous state says who won.
            let bits = if leaf { TRIGGERED | SETTLED } else { TRIGGERED };
            let prev = self.state.fetch_or(bits, Ordering::Release);
            let won = prev & TRIGGERED == 0;
            if won {
                // The reason is read under the lock it is written under.
                node.reason = reason;
            }
            // Taken with the flag: nobody registers once it is set.
            let wakers = won.then(|| Wakers::take(&mut node.waker, &mut node.lists));
            if !self.is_settled() {
                match node.lists.as_deref().map(|lists| &lists.children) {
                    Some(children) if children.len != 0 => {
                        stack.reserve(children.len + 1);
                        stack.push(Step::Leave(Arc::clone(self)));
                        stack.extend(children.live().map(Step::Enter));
                    }
                    _ => self.settle(),
                }
            }
            (prev, wakers)
        };
        // Woken and notified after the lock is released; nobody listens to
        // `drained` unless `WAITED` was set before this scope's `fetch_or`.
        let Some(wakers) = wakers else {
            return false;
        };
        wakers.wake();
        if prev & WAITED != 0 && prev / HOLD == 0 {
            self.drained.notify(usize::MAX);
        }
        true
    }

    /// Takes one hold on this scope, and on its ancestors as counts leave zero.
    /// Returns whether this scope read triggered when its hold was taken.
    fn acquire(&self) -> bool {
        // Relaxed: taking a hold publishes nothing; only its release must.
        let prev = self.state.fetch_add(HOLD, Ordering::Relaxed);
        if prev / HOLD == 0 {
            if let Some(parent) = &self.parent {
                parent.acquire_up();
            }
        }
        prev & TRIGGERED != 0
    }

    /// `acquire`'s walk up the ancestors, in a loop.
    fn acquire_up(&self) {
        let mut scope = self;
        loop {
            // Relaxed: as in `acquire`.
            let prev = scope.state.fetch_add(HOLD, Ordering::Relaxed);
            if prev / HOLD != 0 {
                return;
            }
            match &scope.parent {
                Some(parent) => scope = parent,
                None => return,
            }
        }
    }

    /// Gives one hold back, and the ancestors' as counts reach zero.
    /// Returns whether this scope was triggered when its hold was given back.
    fn release(&self) -> bool {
        let mut scope = self;
        let mut first = None;
        loop {
            // AcqRel: publishes the holder's writes to whoever sees the drain.
            let prev = scope.state.fetch_sub(HOLD, Ordering::AcqRel);
            let was_triggered = *first.get_or_insert(prev & TRIGGERED != 0);
            if prev / HOLD != 1 {
                return was_triggered;
            }
            if prev & TRIGGERED != 0 && prev & WAITED != 0 {
                scope.drained.notify(usize::MAX);
            }
            match &scope.parent {
                Some(parent) => scope = parent,
                None => return was_triggered,
            }
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Unlink from the parent, then walk up the chain of parents that this
        // was the last reference to, dropping each without recursing.
        let mut next = self.parent.take().map(|p| (p, self.key));
        while let Some((parent, key)) = next {
            lock(&parent.node).remove_child(key);
            next = Arc::into_inner(parent).and_then(|mut p| {
                let key = p.key;
                p.parent.take().map(|pp| (pp, key))
            });
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn slots(shutdown: &Shutdown) -> (usize, usize, usize, usize) {
        let node = lock(&shutdown.inner.node);
        let Some(lists) = &node.lists else {
            return (0, 0, 0, 0);
        };
        (
            lists.children.len,
            lists.children.slots.capacity(),
            lists.holders.len(),
            lists.holders.capacity(),
        )
    }

    #[test]
    fn dropped_children_and_guards_give_their_memory_back() {
        let root = Shutdown::new();
        let children: Vec<Shutdown> = (0..100_000).map(|_| root.child()).collect();
        let guards: Vec<ShutdownGuard> = (0..100_000).map(|_| root.guard()).collect();
        let (children_len, children_cap, holders_len, holders_cap) = slots(&root);
        assert_eq!((children_len, holders_len), (100_000, 100_000));
        assert!(children_cap >= 100_000 && holders_cap >= 100_000);

        drop(children);
        drop(guards);
        let (children_len, children_cap, holders_len, holders_cap) = slots(&root);
        assert_eq!((children_len, holders_len), (0, 0));
        assert!(
            children_cap <= SLAB_KEEP,
            "children slab kept {children_cap} slots"
        );
        assert!(
            holders_cap <= SLAB_KEEP,
            "holders slab kept {holders_cap} slots"
        );
    }

    /// A waker that counts its wakes.
    struct Count(std::sync::atomic::AtomicUsize);

    impl std::task::Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }

    fn counting() -> (Arc<Count>, Waker) {
        let count = Arc::new(Count(std::sync::atomic::AtomicUsize::new(0)));
        (Arc::clone(&count), Waker::from(count))
    }

    fn wakes(count: &Count) -> usize {
        count.0.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// (inline waker stored, wakers in the slab, slab capacity)
    fn waiters(shutdown: &Shutdown) -> (bool, usize, usize) {
        let node = lock(&shutdown.inner.node);
        let (len, cap) = node
            .lists
            .as_ref()
            .map_or((0, 0), |l| (l.wakers.len(), l.wakers.capacity()));
        (node.waker.is_some(), len, cap)
    }

    #[test]
    fn waiters_park_inline_then_in_the_slab_and_dropped_ones_leave_nothing() {
        use std::future::Future;
        use std::task::Context;
        let shutdown = Shutdown::new();
        let mut cx = Context::from_waker(Waker::noop());
        let mut first = Box::pin(shutdown.triggered());
        assert!(first.as_mut().poll(&mut cx).is_pending());
        assert_eq!(waiters(&shutdown), (true, 0, 0));
        assert!(
            lock(&shutdown.inner.node).lists.is_none(),
            "one waiter allocates nothing"
        );
        let mut many: Vec<_> = (0..100_000)
            .map(|_| Box::pin(shutdown.clone().triggered_owned()))
            .collect();
        for waiter in &mut many {
            assert!(waiter.as_mut().poll(&mut cx).is_pending());
        }
        assert_eq!(waiters(&shutdown).1, 100_000);
        drop(many);
        drop(first);
        let (inline, len, cap) = waiters(&shutdown);
        assert!(!inline && len == 0);
        assert!(cap <= SLAB_KEEP, "waker slab kept {cap} slots");
    }

    #[test]
    fn a_repoll_with_a_new_waker_is_the_one_woken() {
        use std::future::Future;
        use std::task::Context;
        let shutdown = Shutdown::new();
        let (old, old_waker) = counting();
        let (new, new_waker) = counting();
        let (other, other_waker) = counting();
        let mut inline = Box::pin(shutdown.triggered());
        let mut slab = Box::pin(shutdown.clone().triggered_owned());
        let mut gone = Box::pin(shutdown.clone().triggered_owned());
        assert!(inline
            .as_mut()
            .poll(&mut Context::from_waker(&old_waker))
            .is_pending());
        assert!(slab
            .as_mut()
            .poll(&mut Context::from_waker(&old_waker))
            .is_pending());
        assert!(gone
            .as_mut()
            .poll(&mut Context::from_waker(&other_waker))
            .is_pending());
        assert!(inline
            .as_mut()
            .poll(&mut Context::from_waker(&new_waker))
            .is_pending());
        assert!(slab
            .as_mut()
            .poll(&mut Context::from_waker(&new_waker))
            .is_pending());
        drop(gone);
        let (inline_stored, in_slab, _) = waiters(&shutdown);
        assert!(inline_stored);
        assert_eq!(in_slab, 1, "the dropped waiter removed its entry");
        shutdown.trigger(Reason::Requested);
        assert_eq!((wakes(&old), wakes(&new), wakes(&other)), (0, 2, 0));
        assert_eq!(waiters(&shutdown), (false, 0, 0));
        assert!(inline
            .as_mut()
            .poll(&mut Context::from_waker(&old_waker))
            .is_ready());
        assert!(slab
            .as_mut()
            .poll(&mut Context::from_waker(&old_waker))
            .is_ready());
    }

    #[test]
    fn a_dropped_child_frees_its_scope() {
        let root = Shutdown::new();
        let child = root.child();
        let grandchild = child.child();
        let scope = Arc::downgrade(&child.inner);
        drop(child);
        assert!(scope.upgrade().is_some(), "the grandchild holds its parent");
        drop(grandchild);
        assert!(scope.upgrade().is_none());
        assert_eq!(slots(&root).0, 0);
    }

    #[test]
    fn a_leaf_is_triggered_without_its_lock_and_inherits_its_reason() {
        let root = Shutdown::new();
        let mid = root.child();
        let leaf = mid.child();
        let own = root.child();
        assert!(own.trigger(Reason::Signal(2)));
        let _guard = leaf.guard();
        assert!(root.trigger(Reason::Signal(15)));
        let state = leaf.inner.state.load(Ordering::Relaxed);
        assert_eq!(state & (TRIGGERED | SETTLED | NODE), TRIGGERED | SETTLED);
        assert!(
            lock(&leaf.inner.node).reason.is_none(),
            "inherited, not stored"
        );
        assert!(
            lock(&mid.inner.node).reason.is_none(),
            "inherited, not stored"
        );
        assert_eq!(leaf.reason(), Some(Reason::Signal(15)));
        assert_eq!(mid.reason(), Some(Reason::Signal(15)));
        assert_eq!(
            own.reason(),
            Some(Reason::Signal(2)),
            "the first reason kept"
        );
        assert_eq!(own.child().reason(), Some(Reason::Signal(2)));
        // The root's trigger read the clock (the leaf's guard held it): the
        // leaf's guard reports its held time from below and from above.
        for scope in [&leaf, &mid, &root] {
            let report = scope.holders_report();
            assert_eq!(report.groups().len(), 1);
            assert_eq!(report.groups()[0].held().len(), 1, "an inherited `at`");
        }
        assert!(leaf.inner.trigger_at(None).is_some());
    }

    #[test]
    fn a_scope_with_a_waiter_or_a_child_is_triggered_under_its_lock() {
        use std::future::Future;
        use std::task::Context;
        let root = Shutdown::new();
        let waited = root.child();
        let parent = root.child();
        let _grandchild = parent.child();
        let mut cx = Context::from_waker(Waker::noop());
        let mut waiter = Box::pin(waited.triggered());
        assert!(waiter.as_mut().poll(&mut cx).is_pending());
        for scope in [&waited, &parent] {
            assert_ne!(scope.inner.state.load(Ordering::Relaxed) & NODE, 0);
        }
        assert!(root.trigger(Reason::Requested));
        assert_eq!(
            waiters(&waited),
            (false, 0, 0),
            "the trigger took the waker"
        );
        assert!(waiter.as_mut().poll(&mut cx).is_ready());
    }

    #[test]
    fn a_trigger_settles_the_tree_and_a_second_stops_at_the_root() {
        let root = Shutdown::new();
        let children: Vec<Shutdown> = (0..3).map(|_| root.child()).collect();
        let grandchild = children[0].child();
        assert!(root.trigger(Reason::Requested));
        for scope in children.iter().chain([&root, &grandchild]) {
            let _node = lock(&scope.inner.node);
            assert!(scope.inner.is_settled());
        }
        let mut stack = Vec::new();
        let again = Arc::new(Fired {
            reason: Reason::Requested,
            at: None,
        });
        assert!(!root.inner.enter(Some(again), &mut stack));
        assert!(stack.is_empty(), "a settled scope is not walked again");
    }
}
