use std::cmp::Reverse;
use std::fmt;
use std::panic::Location;
use std::time::{Duration, Instant};

use super::Shutdown;

impl Shutdown {
    /// Who holds this scope (or any of its descendants) open: the live guards
    /// grouped by where they were taken, with how long each has held up the
    /// drain.
    ///
    /// The answer to "what is my shutdown waiting for?", with a [`Display`]
    /// for a log line when a drain overruns its budget. A guard has held up
    /// the drain since its scope was triggered, or since it was taken if that
    /// came later; a guard of a scope not triggered has not held anything up
    /// yet and has no such time. Times are real (monotonic) time, also on a
    /// virtual-time runtime. The groups come longest-held first, then most
    /// guards first. [`Shutdown::holders`] gives the bare locations.
    ///
    /// # Caveats
    ///
    /// Only the time past the trigger is kept: knowing when each guard was
    /// taken would cost a clock read on every [`Shutdown::guard`], so the
    /// clock is read only by a guard taken after the trigger, and by a
    /// trigger that finds the scope held. A guard taken at the very moment
    /// of a trigger that found the scope holding nothing has no time (it is
    /// counted, and [`HolderGroup::held`] has no entry for it).
    ///
    /// [`Display`]: fmt::Display
    ///
    /// # Examples
    ///
    /// ```
    /// use steward_core::{Reason, Shutdown};
    ///
    /// let shutdown = Shutdown::new();
    /// let child = shutdown.child();
    /// let guards: Vec<_> = (0..3).map(|_| child.guard()).collect();
    /// let _other = shutdown.guard();
    /// shutdown.trigger(Reason::Requested);
    ///
    /// let report = shutdown.holders_report();
    /// assert_eq!(report.len(), 4);
    /// assert_eq!(report.groups().len(), 2);
    /// assert_eq!(report.groups()[0].held().len(), report.groups()[0].count());
    /// let text = report.to_string();
    /// assert!(text.starts_with("4 guards hold the scope open"), "{text}");
    /// assert!(text.contains(&format!("{}:", file!())), "{text}");
    /// # drop(guards);
    /// ```
    #[must_use]
    pub fn holders_report(&self) -> Holders {
        let now = Instant::now();
        let mut groups: Vec<HolderGroup> = Vec::new();
        self.inner.for_each_holder(|holder, at| {
            let group = match groups.iter().position(|g| g.location == holder.location) {
                Some(i) => &mut groups[i],
                None => {
                    groups.push(HolderGroup {
                        location: holder.location,
                        count: 0,
                        held: Vec::new(),
                    });
                    groups.last_mut().expect("just pushed")
                }
            };
            group.count += 1;
            group.held.extend(holder.held(at, now));
        });
        for group in &mut groups {
            group.held.sort_unstable_by_key(|held| Reverse(*held));
        }
        groups.sort_by_key(|group| (Reverse(group.longest()), Reverse(group.count)));
        Holders { groups }
    }
}

/// The live guards of a scope, by source location; from
/// [`Shutdown::holders_report`].
///
/// # Examples
///
/// ```
/// let shutdown = steward_core::Shutdown::new();
/// let _guard = shutdown.guard();
/// let report = shutdown.holders_report();
/// assert_eq!(report.groups()[0].location().line(), line!() - 2);
/// assert_eq!(report.groups()[0].count(), 1);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holders {
    groups: Vec<HolderGroup>,
}

impl Holders {
    /// The groups, longest-held first.
    ///
    /// # Examples
    ///
    /// ```
    /// let shutdown = steward_core::Shutdown::new();
    /// assert!(shutdown.holders_report().groups().is_empty());
    /// ```
    #[must_use]
    pub fn groups(&self) -> &[HolderGroup] {
        &self.groups
    }

    /// How many guards in all.
    ///
    /// # Examples
    ///
    /// ```
    /// let shutdown = steward_core::Shutdown::new();
    /// let _guards = (shutdown.guard(), shutdown.guard());
    /// assert_eq!(shutdown.holders_report().len(), 2);
    /// ```
    #[must_use]
    pub fn len(&self) -> usize {
        self.groups.iter().map(|group| group.count).sum()
    }

    /// Whether no guard holds the scope.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(steward_core::Shutdown::new().holders_report().is_empty());
    /// ```
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }
}

impl fmt::Display for Holders {
    /// One line a location, under a heading:
    ///
    /// ```text
    /// 3 guards hold the scope open
    ///   src/jobs.rs:40:17: 2 guards, held 1.204s, 512.000ms
    ///   src/main.rs:12:9: 1 guard, held 3.001ms
    /// ```
    ///
    /// Before the trigger the lines end after the count.
    ///
    /// ```text
    /// 1 guard holds the scope open
    ///   src/main.rs:12:9: 1 guard
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.len() {
            0 => return f.write_str("no guard holds the scope open"),
            1 => f.write_str("1 guard holds the scope open")?,
            n => write!(f, "{n} guards hold the scope open")?,
        }
        for group in &self.groups {
            write!(f, "\n  {group}")?;
        }
        Ok(())
    }
}

/// The guards taken at one source location; part of [`Holders`].
///
/// # Examples
///
/// ```
/// let shutdown = steward_core::Shutdown::new();
/// let guards: Vec<_> = (0..2).map(|_| shutdown.guard()).collect();
/// assert!(shutdown.holders_report().groups()[0].held().is_empty()); // not triggered
/// shutdown.trigger(steward_core::Reason::Requested);
/// let report = shutdown.holders_report();
/// let group = &report.groups()[0];
/// assert_eq!((group.count(), group.held().len()), (2, 2));
/// assert_eq!(group.longest(), Some(group.held()[0]));
/// # drop(guards);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HolderGroup {
    location: &'static Location<'static>,
    count: usize,
    /// Longest first; one entry a guard whose scope is triggered.
    held: Vec<Duration>,
}

impl HolderGroup {
    /// Where the guards were taken.
    ///
    /// # Examples
    ///
    /// ```
    /// let shutdown = steward_core::Shutdown::new();
    /// let _guard = shutdown.guard();
    /// assert_eq!(shutdown.holders_report().groups()[0].location().file(), file!());
    /// ```
    #[must_use]
    pub fn location(&self) -> &'static Location<'static> {
        self.location
    }

    /// How many live guards were taken there.
    ///
    /// # Examples
    ///
    /// ```
    /// let shutdown = steward_core::Shutdown::new();
    /// let _guard = shutdown.guard();
    /// assert_eq!(shutdown.holders_report().groups()[0].count(), 1);
    /// ```
    #[must_use]
    pub fn count(&self) -> usize {
        self.count
    }

    /// How long each guard has held up the drain, longest first: one entry
    /// a guard whose scope is triggered (see [`Shutdown::holders_report`]).
    ///
    /// # Examples
    ///
    /// ```
    /// let shutdown = steward_core::Shutdown::new();
    /// let _guard = shutdown.guard();
    /// shutdown.trigger(steward_core::Reason::Requested);
    /// let report = shutdown.holders_report();
    /// assert!(report.groups()[0].held()[0] < std::time::Duration::from_secs(60));
    /// ```
    #[must_use]
    pub fn held(&self) -> &[Duration] {
        &self.held
    }

    /// The longest [`held`](HolderGroup::held) time, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// let shutdown = steward_core::Shutdown::new();
    /// let _guard = shutdown.guard();
    /// assert_eq!(shutdown.holders_report().groups()[0].longest(), None);
    /// ```
    #[must_use]
    pub fn longest(&self) -> Option<Duration> {
        self.held.first().copied()
    }
}

impl fmt::Display for HolderGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.count {
            1 => write!(f, "{}: 1 guard", self.location)?,
            n => write!(f, "{}: {n} guards", self.location)?,
        }
        for (i, held) in self.held.iter().enumerate() {
            let sep = if i == 0 { ", held " } else { ", " };
            write!(f, "{sep}{held:.3?}")?;
        }
        Ok(())
    }
}
