use std::fmt;
use std::panic::Location;
use std::time::{Duration, Instant};

use super::Shutdown;

impl Shutdown {
    /// Who holds this scope (or any of its descendants) open: the live guards
    /// grouped by where they were taken, with how long each has been held.
    ///
    /// The answer to "what is my shutdown waiting for?", with a [`Display`]
    /// for a log line when a drain overruns its budget. Each guard's age is
    /// real (monotonic) time since `guard()` returned, also on a virtual-time
    /// runtime. The groups come oldest holder first. [`Shutdown::holders`]
    /// gives the bare locations.
    ///
    /// [`Display`]: fmt::Display
    ///
    /// # Examples
    ///
    /// ```
    /// let shutdown = steward_core::Shutdown::new();
    /// let child = shutdown.child();
    /// let guards: Vec<_> = (0..3).map(|_| child.guard()).collect();
    /// let _other = shutdown.guard();
    ///
    /// let report = shutdown.holders_report();
    /// assert_eq!(report.len(), 4);
    /// assert_eq!(report.groups().len(), 2);
    /// let line = report.to_string();
    /// assert!(line.starts_with("4 guards hold the scope open"), "{line}");
    /// assert!(line.contains(&format!("{}:", file!())), "{line}");
    /// # drop(guards);
    /// ```
    #[must_use]
    pub fn holders_report(&self) -> Holders {
        let now = Instant::now();
        let mut groups: Vec<HolderGroup> = Vec::new();
        self.inner.for_each_holder(|holder| {
            let age = now.saturating_duration_since(holder.since);
            match groups.iter_mut().find(|g| g.location == holder.location) {
                Some(group) => group.ages.push(age),
                None => groups.push(HolderGroup {
                    location: holder.location,
                    ages: vec![age],
                }),
            }
        });
        for group in &mut groups {
            group
                .ages
                .sort_unstable_by_key(|age| std::cmp::Reverse(*age));
        }
        groups.sort_by_key(|group| std::cmp::Reverse(group.oldest()));
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
    /// The groups, oldest holder first.
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
        self.groups.iter().map(HolderGroup::count).sum()
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
/// let report = shutdown.holders_report();
/// let group = &report.groups()[0];
/// assert_eq!((group.count(), group.ages().len()), (2, 2));
/// assert!(group.oldest() >= group.ages()[1]);
/// # drop(guards);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HolderGroup {
    location: &'static Location<'static>,
    /// Oldest first; never empty.
    ages: Vec<Duration>,
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
        self.ages.len()
    }

    /// How long each has been held, oldest first.
    ///
    /// # Examples
    ///
    /// ```
    /// let shutdown = steward_core::Shutdown::new();
    /// let _guard = shutdown.guard();
    /// let report = shutdown.holders_report();
    /// assert!(report.groups()[0].ages()[0] < std::time::Duration::from_secs(60));
    /// ```
    #[must_use]
    pub fn ages(&self) -> &[Duration] {
        &self.ages
    }

    /// How long the oldest has been held.
    ///
    /// # Examples
    ///
    /// ```
    /// let shutdown = steward_core::Shutdown::new();
    /// let _guard = shutdown.guard();
    /// let report = shutdown.holders_report();
    /// assert_eq!(report.groups()[0].oldest(), report.groups()[0].ages()[0]);
    /// ```
    #[must_use]
    pub fn oldest(&self) -> Duration {
        self.ages.first().copied().unwrap_or_default()
    }
}

impl fmt::Display for HolderGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.count() {
            1 => write!(f, "{}: 1 guard, held", self.location)?,
            n => write!(f, "{}: {n} guards, held", self.location)?,
        }
        for (i, age) in self.ages.iter().enumerate() {
            let sep = if i == 0 { " " } else { ", " };
            write!(f, "{sep}{age:.3?}")?;
        }
        Ok(())
    }
}
